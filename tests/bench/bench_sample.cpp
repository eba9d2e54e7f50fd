// lace's benchmark (not a test): the latent ODE solve alone and `lace sample` end to end, batch 64,
// median wall time over several runs, with NFE; the thread-pool settings that choose our default; and
// what writing one image costs (PNG encoding with its record, the atomic write) by image size.
//
//   build/tests/lace_bench [--model DIR] [--runs N] [--batch B] [--attrs EXPR]
//
// Prints a Markdown table; docs/benchmarks.md holds the figures measured on the development machine.
#include <dlfcn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "lace/energy/energy.hpp"
#include "lace/io/record.hpp"
#include "lace/io/tensor_image.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/latent_energy.hpp"
#include "lace/sampling/seeds.hpp"
#include "lace/sampling/vp_ode.hpp"

using namespace lace;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double median_seconds(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void set_openblas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_dir = arg(argc, argv, "--model", LACE_TINY_BUNDLE);
  const int runs = std::stoi(arg(argc, argv, "--runs", "5"));
  const int64_t batch = std::stoll(arg(argc, argv, "--batch", "64"));
  const std::string attrs = arg(argc, argv, "--attrs", "smile AND glasses");
  const std::string lace_binary = arg(argc, argv, "--lace", "");

  torch::set_num_threads(1);
  const auto bundle = model::Bundle::load(model_dir, torch::kCPU);
  const auto& m = bundle.manifest();
  const sampling::LatentEnergy energy(bundle, energy::compile(attrs, m.attributes), m.default_truncation);
  const auto z0 = sampling::initial_latents(0, 0, batch, m.generator.z_dim);
  std::printf("model %s (z %lld, w %lld), batch %lld, condition \"%s\", median of %d runs\n\n", m.name.c_str(),
              (long long)m.generator.z_dim, (long long)m.generator.w_dim, (long long)batch, attrs.c_str(), runs);

  // 1. Thread pools: one energy gradient (mapping + classifier, forward and backward).
  std::printf("| LibTorch threads | OpenBLAS threads | one gradient, batch %lld (ms) |\n|---|---|---|\n", (long long)batch);
  for (auto [torch_threads, blas_threads] : std::vector<std::pair<int, int>>{{1, 1}, {1, 2}, {2, 1}, {2, 2}}) {
    torch::set_num_threads(torch_threads);
    set_openblas_threads(blas_threads);
    energy.energy_and_gradient(z0);  // warm-up
    const double s = median_seconds(std::max(runs, 20), [&] { energy.energy_and_gradient(z0); });
    std::printf("| %d | %d | %.2f |\n", torch_threads, blas_threads, s * 1e3);
  }
  torch::set_num_threads(1);
  set_openblas_threads(2);

  // 2. The latent ODE solve alone, per solver and error norm.
  std::printf("\n| solver | error norm | wall (s) | vector-field calls | mean NFE per image |\n|---|---|---|---|---|\n");
  struct Setting {
    std::string method;
    ode::ErrorNorm norm;
    int64_t steps;
  };
  for (const auto& s : std::vector<Setting>{{"dopri5", ode::ErrorNorm::PerSample, 0},
                                            {"dopri5", ode::ErrorNorm::Batch, 0},
                                            {"euler", ode::ErrorNorm::PerSample, 100},
                                            {"heun", ode::ErrorNorm::PerSample, 50},
                                            {"rk4", ode::ErrorNorm::PerSample, 25}}) {
    sampling::VpOdeOptions o;
    o.method = s.method;
    o.adaptive.norm = s.norm;
    o.steps = s.steps;
    sampling::SampleResult last;
    const double sec = median_seconds(runs, [&] { last = sampling::sample_vp_ode(energy, z0, o); });
    std::printf("| %s%s | %s | %.3f | %lld | %.1f |\n", s.method.c_str(),
                s.steps ? (" (" + std::to_string(s.steps) + " steps)").c_str() : "",
                s.steps ? "-" : (s.norm == ode::ErrorNorm::PerSample ? "per-sample" : "batch"), sec,
                (long long)last.stats.calls, last.stats.nfe.to(torch::kDouble).mean().item<double>());
  }

  // 3. Writing one image as lace does: the PNG with a record-sized text chunk and the sidecar
  // (io::encode_image_with_record), then both atomic writes with fsync (io::write_encoded_record).
  // Two contents: a smooth ramp with mild noise, and uniform noise (the worst case for zlib).
  std::printf("\n| image | content | PNG bytes | encode (ms) | encode + write (ms) |\n|---|---|---|---|---|\n");
  const nlohmann::json record = {{"record", std::string(6000, 'r')}};  // a sample's record is 4-8 kB of JSON
  const auto scratch = std::filesystem::temp_directory_path() / "lace_bench_png";
  const auto remove_scratch = [&] {
    std::filesystem::remove(scratch.string() + ".png");
    std::filesystem::remove(scratch.string() + ".json");
  };
  for (int64_t size : {64, 256, 1024}) {
    torch::manual_seed(0);
    const auto ramp = torch::linspace(-1, 1, size);
    const auto smooth = (ramp.view({1, -1, 1}) * ramp.view({1, 1, -1})).expand({3, size, size}) +
                        0.05 * torch::randn({3, size, size});
    const auto noise = torch::rand({3, size, size}) * 2 - 1;
    for (const auto& [name, t] : std::vector<std::pair<std::string, torch::Tensor>>{{"smooth", smooth}, {"noise", noise}}) {
      const io::Image image = io::image_from_tensor(t);
      io::EncodedRecord encoded;
      const double enc = median_seconds(runs, [&] { encoded = io::encode_image_with_record(image, record); });
      const double all = median_seconds(runs, [&] {
        remove_scratch();
        io::write_encoded_record(scratch.string() + ".png", scratch.string() + ".json",
                                 io::encode_image_with_record(image, record));
      });
      std::printf("| %lldx%lld | %s | %zu | %.1f | %.1f |\n", (long long)size, (long long)size, name.c_str(),
                  encoded.png.size(), enc * 1e3, all * 1e3);
    }
  }
  remove_scratch();
  {  // a batch of 16 at 1024x1024: encoded one by one, and on every core (what lace sample does)
    torch::manual_seed(1);
    std::vector<io::Image> images;
    std::vector<nlohmann::json> records;
    for (int i = 0; i < 16; ++i) {
      images.push_back(io::image_from_tensor(torch::rand({3, 1024, 1024}) * 2 - 1));
      records.push_back(record);
    }
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const double one = median_seconds(std::min(runs, 3), [&] { io::encode_images_with_records(images, records, 1); });
    const double all = median_seconds(std::min(runs, 3), [&] { io::encode_images_with_records(images, records, cores); });
    std::printf("\n16 images of 1024x1024 (noise): encoded on 1 thread %.2f s, on %u threads %.2f s\n", one, cores, all);
  }

  // 4. `lace sample` end to end (process start, loading, solve, synthesis, PNG and record writing).
  if (!lace_binary.empty()) {
    const std::string out = "/tmp/lace_bench_out";
    const std::string cmd = "'" + lace_binary + "' -q sample --model '" + model_dir + "' --attrs '" + attrs +
                            "' -n " + std::to_string(batch) + " -b " + std::to_string(batch) + " --out " + out +
                            " >/dev/null";
    const double sec = median_seconds(runs, [&] {
      std::system(("rm -rf " + out).c_str());
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "lace sample failed\n");
    });
    std::printf("\n| command | wall (s) |\n|---|---|\n| lace sample -n %lld -b %lld | %.3f |\n", (long long)batch,
                (long long)batch, sec);
  }
  return 0;
}
