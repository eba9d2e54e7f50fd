#include "lace/sampling/langevin.hpp"

#include <stdexcept>
#include <vector>

#include <torch/torch.h>

#include "lace/ode/integrate.hpp"
#include "lace/sampling/seeds.hpp"

namespace lace::sampling {
namespace {
constexpr uint64_t kLangevinNoise = 1;  // stream purpose: distinct from the stream that draws z
}

SampleResult sample_langevin(const EnergyFunction& energy, const torch::Tensor& z0, const LangevinOptions& options,
                             uint64_t seed, int64_t first_index, ode::Observer* observer) {
  std::vector<int64_t> indices(static_cast<size_t>(z0.size(0)));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = first_index + static_cast<int64_t>(i);
  return sample_langevin(energy, z0, options, seed, indices, observer);
}

SampleResult sample_langevin(const EnergyFunction& energy, const torch::Tensor& z0, const LangevinOptions& options,
                             uint64_t seed, const std::vector<int64_t>& indices, ode::Observer* observer) {
  if (options.steps < 1) throw std::invalid_argument("Langevin dynamics needs at least 1 step");
  const int64_t batch = z0.size(0), dim = z0.size(1);
  if (static_cast<int64_t>(indices.size()) != batch)
    throw std::invalid_argument("sample_langevin: one image index per row of z0");
  std::vector<SplitMix64> streams;
  for (int64_t i = 0; i < batch; ++i) streams.push_back(image_stream(seed, indices[i], kLangevinNoise));

  ode::SolveStats stats;
  stats.nfe = torch::zeros({batch}, torch::kLong);
  stats.accepted_steps = torch::zeros({batch}, torch::kLong);
  stats.rejected_steps = torch::zeros({batch}, torch::kLong);
  auto t = torch::zeros({batch}, torch::kDouble);
  auto z = z0;
  auto xi = torch::empty({batch, dim}, torch::kFloat);
  for (int64_t step = 0; step < options.steps; ++step) {
    auto acc = xi.accessor<float, 2>();
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t j = 0; j < dim; ++j) acc[i][j] = static_cast<float>(streams[i].normal());
    const auto grad = energy.energy_and_gradient(z).gradient;
    z = z - options.step_size * (grad + z) + options.noise * xi.to(z.device());
    if (!torch::isfinite(z).all().item<bool>())
      throw ode::SolverError("ld: state is not finite after step " + std::to_string(step + 1) +
                               " (lower the step size)");
    stats.calls += 1;
    stats.accepted += 1;
    stats.nfe += 1;
    stats.accepted_steps += 1;
    if (observer) {
      t.fill_(static_cast<double>(step + 1) / options.steps);
      observer->on_step({t, static_cast<double>(step + 1) / options.steps, stats});
    }
  }
  return {z, stats};
}

}  // namespace lace::sampling
