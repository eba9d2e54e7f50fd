#include "cli/runtime.hpp"

#include <dlfcn.h>

#include <stdexcept>

#include <torch/cuda.h>
#include <torch/utils.h>

namespace lace::cli {

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw DeviceError("--device " + name + ": CUDA is not available (this LibTorch has no CUDA support or no GPU is visible); use --device cpu");
    torch::Device device(torch::kCPU);
    try {
      device = torch::Device(name);
    } catch (const c10::Error&) {
      throw std::invalid_argument("--device " + name + ": not a device (cpu, cuda, cuda:N, auto)");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
      throw DeviceError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    return device;
  }
  throw std::invalid_argument("--device " + name + ": not a device (cpu, cuda, cuda:N, auto)");
}

void configure_threads(int n) {
  using SetThreads = void (*)(int);
  // Found at run time: with another BLAS (or none) this is simply absent.
  auto openblas_set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (n <= 0) {
    // Measured default (docs/benchmarks.md): one LibTorch thread; the BLAS keeps its own pool.
    torch::set_num_threads(1);
    return;
  }
  torch::set_num_threads(n);
  if (openblas_set) openblas_set(n);
}

}  // namespace lace::cli
