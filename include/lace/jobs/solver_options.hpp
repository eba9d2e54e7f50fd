#pragma once
// The checks `lace sample` and `lace edit` make on the solver flags before any model is loaded.

#include <string>
#include <vector>

#include "lace/sampling/vp_ode.hpp"

namespace lace::jobs {

// `solver` is one of `known`, --atol and --rtol are positive, --steps is at least 1.
// Throws std::invalid_argument naming the flag.
void check_solver_options(const std::string& solver, const std::vector<std::string>& known,
                          const sampling::VpOdeOptions& ode);

}  // namespace lace::jobs
