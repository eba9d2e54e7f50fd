#include "lace/sampling/vp_ode.hpp"

#include <torch/torch.h>

#include "lace/ode/tableau.hpp"

namespace lace::sampling {

ode::VectorField vp_ode_field(const EnergyFunction& energy, const VpSchedule& schedule) {
  return [&energy, schedule](const torch::Tensor& t, const torch::Tensor& z, const torch::Tensor& rows) {
    const auto beta = schedule.beta_min + t * (schedule.beta_max - schedule.beta_min);  // [b]
    return 0.5 * beta.unsqueeze(1) * energy.energy_and_gradient(z, rows).gradient;
  };
}

SampleResult sample_vp_ode(const EnergyFunction& energy, const torch::Tensor& z0, const VpOdeOptions& options,
                           ode::Observer* observer) {
  const ode::Tableau& tableau = ode::tableau_by_name(options.method);
  if (energy.constant()) {
    // Nothing to follow: the field is zero and z(T) is already a sample of the prior.
    ode::SolveStats stats;
    stats.nfe = torch::zeros({z0.size(0)}, torch::kLong);
    stats.accepted_steps = torch::zeros({z0.size(0)}, torch::kLong);
    stats.rejected_steps = torch::zeros({z0.size(0)}, torch::kLong);
    return {z0, stats};
  }
  const auto field = vp_ode_field(energy, options.schedule);
  const auto& s = options.schedule;
  ode::Solution sol = tableau.adaptive()
                          ? ode::integrate_adaptive(field, tableau, s.t_start, s.t_end, z0, options.adaptive, observer)
                          : ode::integrate_fixed(field, tableau, s.t_start, s.t_end, z0, options.steps, observer);
  return {sol.y, sol.stats};
}

}  // namespace lace::sampling
