#pragma once
// Hairer's automatic choice of the first step size (Hairer, Norsett, Wanner, Solving ODEs I, II.4).

#include <torch/types.h>

#include "lace/ode/error_norm.hpp"
#include "lace/ode/tableau.hpp"
#include "lace/ode/vector_field.hpp"

namespace lace::ode {

// With ||.|| the RMS norm scaled by atol + rtol |y0| (per row, or over the batch):
//   d0 = ||y0||, d1 = ||f0||, h0 = 0.01 d0/d1 (1e-6 if either < 1e-5),
//   one explicit Euler probe y0 + h0 f0, d2 = ||f(t0 + h0, y0 + h0 f0) - f0|| / h0,
//   h1 = (0.01 / max(d1, d2))^(1/(order+1))  (max(1e-6, h0 1e-3) when max(d1, d2) <= 1e-15),
//   h = min(100 h0, h1, |t1 - t0|), signed towards t1.
// f0 = f(t0, y0). Calls f once (the probe). Returns [b] float64 CPU.
torch::Tensor initial_step(const VectorField& f, const Tableau& tableau, double t0, double t1, const torch::Tensor& y0,
                           const torch::Tensor& f0, const torch::Tensor& rows, double atol, double rtol,
                           ErrorNorm norm);

}  // namespace lace::ode
