// Scaled RMS norms: per row (each sample controls its own steps) or over the whole batch.
#include "lace/ode/error_norm.hpp"

#include <stdexcept>

namespace lace::ode {

std::string error_norm_name(ErrorNorm norm) { return norm == ErrorNorm::PerSample ? "per-sample" : "batch"; }

ErrorNorm error_norm_by_name(const std::string& name) {
  if (name == "per-sample") return ErrorNorm::PerSample;
  if (name == "batch") return ErrorNorm::Batch;
  throw std::invalid_argument("unknown error norm '" + name + "'; known: per-sample, batch");
}

torch::Tensor scale_by_tolerance(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, double atol,
                                 double rtol) {
  return x / (atol + rtol * torch::max(a.abs(), b.abs()));
}

torch::Tensor rms_norm(const torch::Tensor& x, ErrorNorm norm) {
  const int64_t rows = x.size(0);
  const auto cpu = torch::TensorOptions().dtype(torch::kDouble);
  if (rows == 0 || x.numel() == 0) return torch::zeros({rows}, cpu);
  // Reduce in x's dtype on x's device; only the [b] result travels to the CPU as float64.
  if (norm == ErrorNorm::Batch) return x.square().mean().sqrt().to(torch::kCPU, torch::kDouble).expand({rows}).clone();
  return x.reshape({rows, -1}).square().mean(1).sqrt().to(torch::kCPU, torch::kDouble);
}

}  // namespace lace::ode
