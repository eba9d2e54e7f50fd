// The adaptive-solver flags `sample` and `edit` share, registered in one place so they read the same.
#include "cli/commands.hpp"

namespace lace::cli {

void add_adaptive_solver_flags(CLI::App* cmd, ode::AdaptiveOptions& options, std::string& error_norm) {
  cmd->add_option("--atol", options.atol, "absolute tolerance (dopri5)")->check(kPositive)->capture_default_str();
  cmd->add_option("--rtol", options.rtol, "relative tolerance (dopri5)")->check(kPositive)->capture_default_str();
  cmd->add_option("--error-norm", error_norm, "per-sample (each image its own step size) or batch")
      ->check(CLI::IsMember({"per-sample", "batch"}))
      ->capture_default_str();
  cmd->add_option("--max-steps", options.max_steps, "step cap for dopri5")->check(kPositive)->capture_default_str();
}

ode::ErrorNorm error_norm_from_flag(const std::string& error_norm) {
  return error_norm == "batch" ? ode::ErrorNorm::Batch : ode::ErrorNorm::PerSample;
}

}  // namespace lace::cli
