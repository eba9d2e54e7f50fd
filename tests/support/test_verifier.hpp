#pragma once
// A TorchScript image classifier for tests, written from C++: logits [B, K] = bias + scale * mean(image),
// every column, so a test chooses what the verifier reads (constant, or following the image).
#include <filesystem>

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

}  // namespace lace_test
