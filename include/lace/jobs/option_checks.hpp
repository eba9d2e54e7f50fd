#pragma once
// The checks `lace sample` and `lace edit` both make on their flags before any model is loaded.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lace/model/manifest.hpp"
#include "lace/sampling/vp_ode.hpp"

namespace lace::jobs {

// `solver` is one of `known`, --atol and --rtol are positive, --steps is at least 1.
// Throws std::invalid_argument naming the flag.
void check_solver_options(const std::string& solver, const std::vector<std::string>& known,
                          const sampling::VpOdeOptions& ode);

// --verify asks for the bundle's image verifier: the manifest must name one (editing: "verifier" or
// "editing.verifier"). Throws std::invalid_argument.
void check_verifier(const std::optional<bool>& verify, const model::Manifest& manifest, bool editing,
                    const std::filesystem::path& model_dir);

}  // namespace lace::jobs
