#include "cli/app.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/progress_bar.hpp"
#include "cli/runtime.hpp"
#include "lace/energy/errors.hpp"
#include "lace/io/error.hpp"
#include "lace/jobs/edit_sequence.hpp"
#include "lace/model/manifest.hpp"
#include "lace/ode/integrate.hpp"

#ifndef LACE_VERSION
#define LACE_VERSION "dev"
#endif
#ifndef LACE_DEFAULT_MODEL_DIR
#define LACE_DEFAULT_MODEL_DIR "models/faces"
#endif

namespace lace::cli {

namespace {
CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& value) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(value, x)) return "'" + value + "' is not a number";
        if (!std::isfinite(x)) return "must be a finite number, got " + value;
        if (x < 0 || (!allow_zero && x == 0))
          return "must be " + std::string(allow_zero ? "zero or more" : "greater than zero") + ", got " + value;
        return "";
      },
      allow_zero ? "NUMBER>=0" : "NUMBER>0");
}
}  // namespace

const CLI::Validator kPositive = number_check(false);
const CLI::Validator kNonNegative = number_check(true);

std::string default_model_dir() {
  const char* env = std::getenv("LACE_MODEL");
  return env && *env ? env : LACE_DEFAULT_MODEL_DIR;
}

namespace {

int fail(ExitCode code, const std::string& message) {
  std::cerr << "lace: error: " << message << std::endl;
  return code;
}

// Runs the chosen action and maps each family of failure to its exit code with one line.
int run_action(const Action& action) {
  try {
    action();
    return kOk;
  } catch (const Interrupted& e) {
    return fail(kInterrupted, e.what());
  } catch (const jobs::InputError& e) {
    return fail(kInputError, e.what());
  } catch (const energy::ParseError& e) {
    return fail(kExpressionError, std::string("--attrs: ") + e.what());
  } catch (const energy::ExpressionError& e) {
    return fail(kExpressionError, std::string("--attrs: ") + e.what());
  } catch (const model::BundleError& e) {
    return fail(kModelError, e.what());
  } catch (const io::OutputError& e) {
    return fail(kOutputError, e.what());
  } catch (const ode::SolverError& e) {
    return fail(kSamplingError, e.what());
  } catch (const DeviceError& e) {
    return fail(kDeviceError, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(kUsageError, e.what());
  } catch (const c10::Error& e) {
    // LibTorch failures outside the model checks (out of memory, device faults): first line only.
    std::string msg = e.what_without_backtrace();
    return fail(kInternalError, msg.substr(0, msg.find('\n')));
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return fail(kInternalError, msg.substr(0, msg.find('\n')));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lace: controllable, compositional image generation in the latent space of a pre-trained generator"};
  app.set_version_flag("--version", std::string("lace ") + LACE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also follow the subcommand: `lace sample --device cuda`
  GlobalOptions global;
  app.add_option("--device", global.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--threads", global.threads, "CPU threads (0: measured default)")->check(kNonNegative);
  app.add_flag("-q,--quiet", global.quiet, "only errors on stderr");
  app.add_flag("-v,--verbose", global.verbose, "debug logging");

  const Action sample = add_sample_command(app, global);
  const Action info = add_info_command(app, global);
  const Action edit = add_edit_command(app, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(kUsageError, std::string(e.what()) + " (see lace --help)");
  }

  auto logger = spdlog::stderr_color_mt("lace");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("lace: %v");
  spdlog::set_level(global.quiet ? spdlog::level::err : global.verbose ? spdlog::level::debug : spdlog::level::info);

  install_interrupt_handler();
  return run_action([&] {
    configure_threads(global.threads);
    for (auto* sub : app.get_subcommands()) {
      if (sub->get_name() == "sample") sample();
      if (sub->get_name() == "info") info();
      if (sub->get_name() == "edit") edit();
    }
  });
}

}  // namespace lace::cli
