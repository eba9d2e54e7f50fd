#include "lace/jobs/solver_options.hpp"

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

}  // namespace lace::jobs
