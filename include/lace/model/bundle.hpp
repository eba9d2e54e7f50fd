#pragma once
// A loaded model bundle: the manifest plus its TorchScript generator, latent classifier and optional
// image verifier, checked against each other, on one device.

#include <filesystem>
#include <memory>

#include <torch/types.h>

#include "lace/model/manifest.hpp"

namespace torch::jit {
struct Module;
}

namespace lace::model {

// What a bundle is loaded for: lace edit reads images with "editing.verifier" where the manifest names one.
enum class BundleUse { Sample, Edit };

class Bundle {
 public:
  // Loads <dir>/lace.json and the files it names onto `device`, then probes every module with a
  // batch of one and checks the output shapes against the manifest. Throws BundleError.
  static Bundle load(const std::filesystem::path& dir, torch::Device device, BundleUse use = BundleUse::Sample);

  Bundle(Bundle&&) noexcept;
  Bundle& operator=(Bundle&&) noexcept;
  ~Bundle();

  const Manifest& manifest() const { return manifest_; }
  const std::filesystem::path& dir() const { return dir_; }
  torch::Device device() const { return device_; }
  const torch::Tensor& w_avg() const { return w_avg_; }  // [w_dim]

  torch::Tensor mapping(const torch::Tensor& z) const;          // [B, z_dim] -> [B, w_dim]
  torch::Tensor truncate(const torch::Tensor& w, double psi) const;  // w_avg + psi (w - w_avg)
  torch::Tensor broadcast_ws(const torch::Tensor& w) const;     // [B, w_dim] -> [B, num_ws, w_dim]
  torch::Tensor synthesis(const torch::Tensor& ws) const;       // [B, num_ws, w_dim] -> [B, C, R, R] in [-1, 1]
  torch::Tensor classify(const torch::Tensor& w) const;         // [B, w_dim] -> [B, num_logits]
  bool has_verifier() const { return verifier_ != nullptr; }
  const std::filesystem::path& verifier_file() const { return verifier_file_; }  // as lace.json names it
  torch::Tensor verify(const torch::Tensor& images) const;      // [B, C, R, R] in [-1, 1] -> [B, num_logits]
  // Each judge's reading, [judges, B, num_logits] (VerifierSpec::judges; one judge: verify's, unsqueezed);
  // verify() is their mean.
  torch::Tensor verify_each(const torch::Tensor& images) const;
  int64_t verifier_judges() const { return verifier_judges_; }
  // Loads and probes the manifest's "editing.verifier" alone (a no-op without one); throws BundleError.
  // For `lace info`, which checks it without loading the whole bundle a second time.
  void check_edit_verifier() const;

  // The files that make up the bundle (manifest first; both verifiers, whichever is loaded), e.g. for hashing.
  std::vector<std::filesystem::path> files() const;

 private:
  Bundle() = default;
  std::filesystem::path dir_;
  Manifest manifest_;
  torch::Device device_ = torch::kCPU;
  std::unique_ptr<torch::jit::Module> generator_;
  std::unique_ptr<torch::jit::Module> classifier_;
  std::unique_ptr<torch::jit::Module> verifier_;  // optional image classifier (manifest "verifier" or "editing.verifier")
  std::filesystem::path verifier_file_;
  int64_t verifier_judges_ = 1;
  torch::Tensor w_avg_;
};

}  // namespace lace::model
