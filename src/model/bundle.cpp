#include "lace/model/bundle.hpp"

#include <sstream>

#include <torch/script.h>

namespace lace::model {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string shape_of(std::initializer_list<int64_t> dims) {
  std::ostringstream s;
  s << c10::IntArrayRef(dims);
  return s.str();
}

// TorchScript errors carry a Python-style traceback; users need only its last line.
std::string last_line(const std::string& text) {
  std::string line, last;
  std::istringstream in(text);
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
  return last;
}

std::unique_ptr<torch::jit::Module> load_module(const std::filesystem::path& path, torch::Device device) {
  if (!std::filesystem::is_regular_file(path)) throw BundleError(path.string() + ": file not found");
  try {
    auto m = std::make_unique<torch::jit::Module>(torch::jit::load(path.string(), device));
    m->eval();
    // lace differentiates with respect to z only: no gradients for the weights.
    for (auto p : m->parameters()) p.set_requires_grad(false);
    return m;
  } catch (const c10::Error& e) {
    throw BundleError(path.string() + ": not a loadable TorchScript module (" +
                      last_line(e.what_without_backtrace()) + ")");
  }
}

// Runs a TorchScript method and turns a failure inside it into a BundleError naming the file.
torch::Tensor call(torch::jit::Module& m, const std::string& file, const std::string& method,
                   const torch::Tensor& input) {
  try {
    auto out = m.get_method(method)({input});
    if (!out.isTensor()) throw BundleError(file + ": " + method + "() must return one tensor");
    return out.toTensor();
  } catch (const BundleError&) {
    throw;
  } catch (const c10::Error& e) {
    throw BundleError(file + ": " + method + "() failed on input of shape " + shape_of(input) + ": " +
                      last_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {  // the TorchScript interpreter throws its own exception types
    throw BundleError(file + ": " + method + "() failed on input of shape " + shape_of(input) + ": " +
                      last_line(e.what()));
  }
}

void expect_shape(const torch::Tensor& out, std::initializer_list<int64_t> want, const std::string& file,
                  const std::string& what) {
  if (out.sizes() != c10::IntArrayRef(want))
    throw BundleError(file + ": " + what + " returned shape " + shape_of(out) + ", the manifest implies " +
                      shape_of(want));
  if (!out.is_floating_point()) throw BundleError(file + ": " + what + " must return floating-point values");
}

// Loads an image classifier the manifest names and probes it with a batch of one image.
std::unique_ptr<torch::jit::Module> load_verifier(const std::filesystem::path& dir, const Manifest& manifest,
                                                  const VerifierSpec& v, torch::Device device) {
  const auto& g = manifest.generator;
  const auto file = (dir / v.file).string();
  auto module = load_module(dir / v.file, device);
  torch::NoGradGuard no_grad;
  const auto images = torch::zeros({1, g.channels, g.resolution, g.resolution}, torch::TensorOptions().device(device));
  const auto out = call(*module, file, "forward", images);
  if (v.judges == 1)
    expect_shape(out, {1, v.num_logits}, file, "forward(images)");
  else
    expect_shape(out, {1, v.judges, v.num_logits}, file, "forward(images) (\"judges\": " + std::to_string(v.judges) + ")");
  return module;
}

}  // namespace

void Bundle::check_edit_verifier() const {
  if (manifest_.edit_verifier) load_verifier(dir_, manifest_, *manifest_.edit_verifier, device_);
}

Bundle::Bundle(Bundle&&) noexcept = default;
Bundle& Bundle::operator=(Bundle&&) noexcept = default;
Bundle::~Bundle() = default;

Bundle Bundle::load(const std::filesystem::path& dir, torch::Device device, BundleUse use) {
  Bundle b;
  b.dir_ = dir;
  b.device_ = device;
  b.manifest_ = read_manifest(dir);
  const auto& g = b.manifest_.generator;
  const auto gen_file = (dir / g.file).string();
  const auto clf_file = (dir / b.manifest_.classifier.file).string();
  b.generator_ = load_module(dir / g.file, device);
  b.classifier_ = load_module(dir / b.manifest_.classifier.file, device);
  for (const char* method : {"mapping", "synthesis"})
    if (!b.generator_->find_method(method))
      throw BundleError(gen_file + ": has no method " + method + "() (export it with @torch.jit.export)");

  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().device(device);
  const torch::Tensor w = call(*b.generator_, gen_file, "mapping", torch::zeros({1, g.z_dim}, opts));
  expect_shape(w, {1, g.w_dim}, gen_file, "mapping(z)");
  const torch::Tensor logits = call(*b.classifier_, clf_file, "forward", torch::zeros({1, g.w_dim}, opts));
  expect_shape(logits, {1, b.manifest_.classifier.num_logits}, clf_file, "forward(w)");
  const bool edit_verifier = use == BundleUse::Edit && b.manifest_.edit_verifier;
  if (const auto& v = edit_verifier ? b.manifest_.edit_verifier : b.manifest_.verifier) {
    b.verifier_file_ = v->file;
    b.verifier_ = load_verifier(dir, b.manifest_, *v, device);
    b.verifier_judges_ = v->judges;
  }

  if (b.manifest_.w_avg.source == WAvgSpec::Source::Buffer) {
    const auto& name = b.manifest_.w_avg.name;
    if (!b.generator_->hasattr(name)) throw BundleError(gen_file + ": has no attribute '" + name + "' for the mean w");
    const auto value = b.generator_->attr(name);
    if (!value.isTensor()) throw BundleError(gen_file + ": attribute '" + name + "' is not a tensor");
    b.w_avg_ = value.toTensor().detach().to(device, torch::kFloat).reshape(-1);
    if (b.w_avg_.numel() != g.w_dim)
      throw BundleError(gen_file + ": '" + name + "' has " + std::to_string(b.w_avg_.numel()) +
                        " values, the manifest's w_dim is " + std::to_string(g.w_dim));
  } else {
    // Mean of mapping(z) over a fixed set of z, in chunks so memory stays small.
    auto gen = at::detail::createCPUGenerator(b.manifest_.w_avg.seed);
    torch::Tensor sum = torch::zeros({g.w_dim}, torch::kDouble);
    for (int64_t done = 0; done < b.manifest_.w_avg.samples;) {
      const int64_t n = std::min<int64_t>(4096, b.manifest_.w_avg.samples - done);
      const auto z = torch::randn({n, g.z_dim}, gen).to(device);
      sum += b.mapping(z).sum(0).to(torch::kCPU, torch::kDouble);
      done += n;
    }
    b.w_avg_ = (sum / static_cast<double>(b.manifest_.w_avg.samples)).to(device, torch::kFloat);
  }
  return b;
}

torch::Tensor Bundle::verify_each(const torch::Tensor& images) const {
  if (!verifier_) throw BundleError(dir_.string() + ": the bundle has no verifier");
  const auto out = call(*verifier_, (dir_ / verifier_file_).string(), "forward", images);
  return verifier_judges_ == 1 ? out.unsqueeze(0) : out.transpose(0, 1);
}

torch::Tensor Bundle::verify(const torch::Tensor& images) const {
  return verify_each(images).mean(0);
}

torch::Tensor Bundle::mapping(const torch::Tensor& z) const {
  return call(*generator_, (dir_ / manifest_.generator.file).string(), "mapping", z);
}

torch::Tensor Bundle::truncate(const torch::Tensor& w, double psi) const {
  if (psi == 1.0) return w;
  return w_avg_ + psi * (w - w_avg_);
}

torch::Tensor Bundle::broadcast_ws(const torch::Tensor& w) const {
  return w.unsqueeze(1).expand({w.size(0), manifest_.generator.num_ws, w.size(1)}).contiguous();
}

torch::Tensor Bundle::synthesis(const torch::Tensor& ws) const {
  const auto& g = manifest_.generator;
  const auto file = (dir_ / g.file).string();
  auto img = call(*generator_, file, "synthesis", ws);
  expect_shape(img, {ws.size(0), g.channels, g.resolution, g.resolution}, file, "synthesis(ws)");
  return img;
}

torch::Tensor Bundle::classify(const torch::Tensor& w) const {
  return call(*classifier_, (dir_ / manifest_.classifier.file).string(), "forward", w);
}

std::vector<std::filesystem::path> Bundle::files() const {
  std::vector<std::filesystem::path> out{dir_ / "lace.json", dir_ / manifest_.generator.file,
                                         dir_ / manifest_.classifier.file};
  if (manifest_.verifier) out.push_back(dir_ / manifest_.verifier->file);
  if (manifest_.edit_verifier && !(manifest_.verifier && manifest_.verifier->file == manifest_.edit_verifier->file))
    out.push_back(dir_ / manifest_.edit_verifier->file);
  return out;
}

}  // namespace lace::model
