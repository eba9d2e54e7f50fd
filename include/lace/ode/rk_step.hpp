#pragma once
// One explicit Runge-Kutta step of any tableau, for a batch of rows with their own t and h.

#include <torch/types.h>

#include "lace/ode/tableau.hpp"
#include "lace/ode/vector_field.hpp"

namespace lace::ode {

struct RkStep {
  torch::Tensor y1;      // the proposed y(t + h)
  torch::Tensor error;   // h * sum_i b_error_i k_i (undefined for tableaus without an embedded method)
  torch::Tensor k_last;  // f(t + h, y1) when the tableau is FSAL (undefined otherwise)
};

// t, h: [b] float64 CPU (h signed); y, k0 = f(t, y): [b, ...]. The caller supplies k0 so that it can
// be reused: after a rejection (same t, y) and, for FSAL tableaus, from the previous step's k_last.
// Calls f stages() - 1 times, always with `rows`.
RkStep rk_step(const VectorField& f, const Tableau& tableau, const torch::Tensor& t, const torch::Tensor& h,
               const torch::Tensor& y, const torch::Tensor& k0, const torch::Tensor& rows);

}  // namespace lace::ode
