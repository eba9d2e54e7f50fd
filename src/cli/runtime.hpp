#pragma once
// Process-wide settings every subcommand shares: device choice and thread pools.

#include <string>

#include <torch/types.h>

namespace lace::cli {

class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "cpu", "cuda", "cuda:N" or "auto" (cuda when available, else cpu). Throws DeviceError when cuda is
// asked for and absent, std::invalid_argument for anything else.
torch::Device resolve_device(const std::string& name);

// n > 0: use n threads. 0: the measured default (docs/benchmarks.md). Sets LibTorch's intra-op pool
// and, where the BLAS is OpenBLAS, its pool too, so the two do not fight over the cores.
void configure_threads(int n);

}  // namespace lace::cli
