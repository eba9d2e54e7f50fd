#pragma once
// The right-hand side of an ODE, as every solver in lace::ode takes it.

#include <functional>

#include <torch/types.h>

namespace lace::ode {

// dy/dt = f(t, y) for a batch of independent rows.
//   y:    [b, ...], float32 or float64, any device;
//   t:    [b] tensor of y's dtype and device, each row's own time;
//   rows: int64 [b] CPU tensor, the indices of these rows in the original batch
//         (rows that have finished are not passed again).
// Returns dy/dt with y's shape.
using VectorField =
    std::function<torch::Tensor(const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows)>;

}  // namespace lace::ode
