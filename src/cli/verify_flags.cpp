// --verify / --no-verify, which `sample` and `edit` share, registered in one place so they read the same.
#include "cli/commands.hpp"

namespace lace::cli {

void add_verify_flags(CLI::App* cmd, std::optional<bool>& verify) {
  auto* on = cmd->add_flag_callback(
      "--verify", [&verify] { verify = true; },
      "read each image with the bundle's image verifier too (records' p_image; --min-p then needs both "
      "classifiers to reach it in sample, the verifier in edit) (default: on when the bundle has one)");
  cmd->add_flag_callback("--no-verify", [&verify] { verify = false; }, "do not read images with the verifier")
      ->excludes(on);
}

}  // namespace lace::cli
