#pragma once
// LACE's sampler: the probability-flow ODE of the variance-preserving diffusion in latent space,
//   dz/dt = -1/2 beta(t) grad_z log p(c | z) = 1/2 beta(t) grad_z E(c | z),
// integrated from t = t_start (1) down to t_end (1e-3), starting from z ~ N(0, I).
// Going down in t, z descends the energy; the prior's part of the score cancels the drift.

#include <string>

#include "lace/ode/integrate.hpp"
#include "lace/sampling/energy_function.hpp"
#include "lace/sampling/sample_result.hpp"

namespace lace::sampling {

struct VpSchedule {
  double beta_min = 0.1;
  double beta_max = 20.0;
  double t_start = 1.0;
  double t_end = 1e-3;
  double beta(double t) const { return beta_min + t * (beta_max - beta_min); }
};

struct VpOdeOptions {
  std::string method = "dopri5";   // any tableau name: dopri5 (adaptive), euler, heun, rk4 (fixed)
  ode::AdaptiveOptions adaptive;   // tolerances and controller, for adaptive methods
  int64_t steps = 100;             // for fixed-step methods
  VpSchedule schedule;
};

// The vector field above, as the ODE library takes it.
ode::VectorField vp_ode_field(const EnergyFunction& energy, const VpSchedule& schedule);

SampleResult sample_vp_ode(const EnergyFunction& energy, const torch::Tensor& z0, const VpOdeOptions& options,
                           ode::Observer* observer = nullptr);

}  // namespace lace::sampling
