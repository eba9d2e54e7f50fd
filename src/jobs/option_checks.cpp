#include "lace/jobs/option_checks.hpp"

#include <algorithm>
#include <stdexcept>

namespace lace::jobs {

void check_solver_options(const std::string& solver, const std::vector<std::string>& known,
                          const sampling::VpOdeOptions& ode) {
  if (std::find(known.begin(), known.end(), solver) == known.end()) {
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown solver '" + solver + "'; known: " + list);
  }
  if (!(ode.adaptive.atol > 0) || !(ode.adaptive.rtol > 0)) throw std::invalid_argument("--atol and --rtol must be positive");
  if (ode.steps < 1) throw std::invalid_argument("--steps must be at least 1");
}

void check_verifier(const std::optional<bool>& verify, const model::Manifest& manifest, bool editing,
                    const std::filesystem::path& model_dir) {
  if (verify.value_or(false) && !manifest.verifier && !(editing && manifest.edit_verifier))
    throw std::invalid_argument("--verify: the bundle " + model_dir.string() + " has no verifier (lace.json \"verifier\")");
}

}  // namespace lace::jobs
