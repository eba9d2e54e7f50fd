#pragma once
// `lace sample` as a library call: options in, PNGs with records out. The command line only fills
// SampleJob from flags; tests and other front ends call run_sample directly.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lace/energy/energy.hpp"
#include "lace/jobs/progress.hpp"
#include "lace/jobs/stages.hpp"
#include "lace/ode/integrate.hpp"
#include "lace/sampling/langevin.hpp"
#include "lace/sampling/vp_ode.hpp"

namespace lace::jobs {

struct SampleJob {
  std::filesystem::path model_dir;
  std::string attrs;                      // expression; empty = unconditional
  energy::Operators operators = energy::Operators::Exact;
  int64_t count = 1;                      // images
  int64_t batch_size = 16;
  uint64_t seed = 0;
  int64_t first_index = 0;                // index of the first image (to redo one image of a run)
  std::string solver = "dopri5";          // dopri5 | euler | heun | rk4 | ld
  sampling::VpOdeOptions ode;             // method is taken from `solver`
  sampling::LangevinOptions langevin;
  std::optional<double> truncation;       // default: the manifest's
  std::optional<double> guidance;         // scale of the condition's energy; default: the manifest's (else 1)
  // Images whose condition the latent classifier reads below min_p are solved again from fresh starts,
  // up to `tries` solves in all; each image keeps its most probable try. 0: off. Default: the manifest's.
  std::optional<double> min_p;
  std::optional<int64_t> tries;
  // Read every conditional image with the bundle's image verifier too (lace.json "verifier"): records get
  // p_image, and --min-p then needs both classifiers to reach it. Default: on when the bundle has one.
  std::optional<bool> verify;
  // Weight of the bundle's prior (lace.json "prior": the data's mix of the attributes the condition leaves
  // free, energy/prior.hpp); 0 = off. Default: the bundle's; a positive weight needs a bundle with a prior.
  std::optional<double> prior_weight;
  std::filesystem::path out_dir = "outputs";
  bool grid = false;
  torch::Device device = torch::kCPU;
};

struct SampleReport {
  std::vector<std::filesystem::path> images;
  std::filesystem::path grid;             // empty when no grid was asked for
  int64_t nfe_total = 0;                  // vector-field evaluations summed over images and tries
  double min_p = 0;                       // as resolved (flag, else the bundle's)
  int64_t tries = 1;
  int64_t retried = 0;                    // images solved more than once (--min-p)
  int64_t below_min_p = 0;                // images still below --min-p after every try
  bool verified = false;                  // images were read with the bundle's verifier
  double seconds = 0;
  StageSeconds stages;
};

// The names accepted by --solver.
std::vector<std::string> solver_names();

// Throws model::BundleError, energy::ParseError / ExpressionError, io::OutputError, ode::SolverError,
// std::invalid_argument (bad option values).
SampleReport run_sample(const SampleJob& job, Progress& progress);

}  // namespace lace::jobs
