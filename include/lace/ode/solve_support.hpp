#pragma once
// Plumbing shared by integrate_adaptive and integrate_fixed (argument checks, NFE counting,
// failure messages). Not needed by callers of the integrators.

#include <string>

#include <torch/types.h>

#include "lace/ode/integrate.hpp"

namespace lace::ode {

// Throws std::invalid_argument unless y0 is a defined [B, ...] floating tensor and t0, t1 are finite.
void check_problem(const Tableau& tableau, double t0, double t1, const torch::Tensor& y0);

// Stats with per-row counters of zero for a batch of `batch` rows.
SolveStats zero_stats(int64_t batch);

// f, counting every call into stats (calls, and nfe of each row passed) and checking the shape of
// what f returns.
VectorField counted_field(const VectorField& f, const std::string& method, SolveStats& stats);

// "<method>: <reason> at t = <t> for sample <row>" as a SolverError.
SolverError solver_error(const std::string& method, const std::string& reason, double t, int64_t row,
                         const std::string& hint = "");

// Per-row "every element is finite", as a [b] bool CPU tensor.
torch::Tensor finite_rows(const torch::Tensor& y);

// Throws "<method>: state is not finite at t = <t> for sample <row>" for the first row of y (the whole
// batch, in its original order) holding a NaN or an infinity.
void require_finite(const std::string& method, const torch::Tensor& y, double t, const std::string& hint = "");

// Shortest decimal form of a double, for messages.
std::string format_number(double x);

}  // namespace lace::ode
