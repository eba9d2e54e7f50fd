#pragma once
// How an embedded error estimate becomes one number per row that the controller can compare with 1.

#include <string>

#include <torch/types.h>

namespace lace::ode {

// PerSample: each row its own RMS norm, hence its own step size and trajectory.
// Batch: one RMS norm over the whole batch; all rows share every step.
enum class ErrorNorm { PerSample, Batch };

// "per-sample" / "batch"; error_norm_by_name throws std::invalid_argument for anything else.
std::string error_norm_name(ErrorNorm norm);
ErrorNorm error_norm_by_name(const std::string& name);

// x / (atol + rtol * max(|a|, |b|)), elementwise: x measured against the tolerances at a and b.
torch::Tensor scale_by_tolerance(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, double atol,
                                 double rtol);

// RMS of each row of x ([b, ...]) as a [b] float64 CPU tensor; in Batch mode the RMS over all of x,
// repeated for every row.
torch::Tensor rms_norm(const torch::Tensor& x, ErrorNorm norm);

}  // namespace lace::ode
