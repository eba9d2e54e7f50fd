#pragma once
// Each subcommand registers its flags on the app and returns the action to run once parsing succeeded.

#include <functional>
#include <optional>

#include <CLI/CLI.hpp>

#include "lace/ode/integrate.hpp"

namespace lace::cli {

struct GlobalOptions {
  std::string device = "cpu";
  int threads = 0;
  bool quiet = false;
  bool verbose = false;
};

using Action = std::function<void()>;

Action add_sample_command(CLI::App& app, const GlobalOptions& global);
Action add_info_command(CLI::App& app, const GlobalOptions& global);
Action add_edit_command(CLI::App& app, const GlobalOptions& global);

// Flag value checks with short messages (CLI11's own print the whole range of a double).
extern const CLI::Validator kPositive;     // > 0
extern const CLI::Validator kNonNegative;  // >= 0

// --atol, --rtol, --error-norm (into `error_norm`, read back with error_norm_from_flag) and --max-steps.
void add_adaptive_solver_flags(CLI::App* cmd, ode::AdaptiveOptions& options, std::string& error_norm);
ode::ErrorNorm error_norm_from_flag(const std::string& error_norm);

// --verify and --no-verify, into `verify` (unset: the job's default).
void add_verify_flags(CLI::App* cmd, std::optional<bool>& verify);

// --model's default: $LACE_MODEL if set, else the bundle this build was configured with.
std::string default_model_dir();

}  // namespace lace::cli
