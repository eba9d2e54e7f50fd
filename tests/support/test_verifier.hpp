#pragma once
// A TorchScript image classifier for tests, written from C++: logits [B, K] = bias + scale * mean(image),
// every column, so a test chooses what the verifier reads (constant, or following the image).
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include <torch/script.h>
#include <torch/torch.h>

namespace lace_test {

inline void write_test_verifier(const std::filesystem::path& path, const torch::Tensor& bias,
                                const torch::Tensor& scale) {
  torch::jit::Module m("TestVerifier");
  m.register_buffer("bias", bias.to(torch::kFloat));
  m.register_buffer("scale", scale.to(torch::kFloat));
  m.define(R"(
def forward(self, x):
    return self.bias.unsqueeze(0) + self.scale.unsqueeze(0) * x.mean(dim=[1, 2, 3]).unsqueeze(1)
)");
  m.save(path.string());
}

// A copy of the tiny bundle in `dir` whose lace.json names verifier.pt as `spec` describes it.
inline std::filesystem::path tiny_bundle_naming_verifier(const std::filesystem::path& dir, const nlohmann::json& spec) {
  std::filesystem::copy(LACE_TINY_BUNDLE, dir, std::filesystem::copy_options::recursive);
  nlohmann::json manifest;
  {
    std::ifstream in(dir / "lace.json");
    manifest = nlohmann::json::parse(in);
  }
  manifest["verifier"] = spec;
  std::ofstream(dir / "lace.json") << manifest.dump();
  return dir;
}

// A copy of the tiny bundle in `dir` whose verifier.pt is a test verifier as above.
inline std::filesystem::path tiny_bundle_with_verifier(const std::filesystem::path& dir, const torch::Tensor& bias,
                                                       const torch::Tensor& scale) {
  tiny_bundle_naming_verifier(dir, {{"file", "verifier.pt"}, {"num_logits", 6}});
  write_test_verifier(dir / "verifier.pt", bias, scale);
  return dir;
}

// Several judges in one module (lace.json "judges": J): logits [B, J, K] = bias[j] + scale[j] * mean(image).
inline void write_test_judges(const std::filesystem::path& path, const torch::Tensor& bias, const torch::Tensor& scale) {
  torch::jit::Module m("TestJudges");
  m.register_buffer("bias", bias.to(torch::kFloat));    // [J, K]
  m.register_buffer("scale", scale.to(torch::kFloat));  // [J, K]
  m.define(R"(
def forward(self, x):
    return self.bias.unsqueeze(0) + self.scale.unsqueeze(0) * x.mean(dim=[1, 2, 3]).view(-1, 1, 1)
)");
  m.save(path.string());
}

// A copy of the tiny bundle in `dir` whose verifier is such a module of bias.size(0) judges.
inline std::filesystem::path tiny_bundle_with_judges(const std::filesystem::path& dir, const torch::Tensor& bias,
                                                     const torch::Tensor& scale) {
  tiny_bundle_naming_verifier(dir, {{"file", "verifier.pt"}, {"num_logits", 6}, {"judges", bias.size(0)}});
  write_test_judges(dir / "verifier.pt", bias, scale);
  return dir;
}

}  // namespace lace_test
