#include "lace/jobs/record.hpp"

#include <torch/torch.h>

#include "lace/io/sha256.hpp"

namespace lace::jobs {

std::string bundle_hash(const model::Bundle& bundle) {
  std::string listing;
  for (const auto& file : bundle.files())
    listing += file.filename().string() + " " + io::sha256_file(file) + "\n";
  return io::sha256_hex(listing.data(), listing.size());
}

nlohmann::json attribute_readings(const model::Manifest& manifest, const torch::Tensor& logits_row) {
  const auto l = logits_row.detach().to(torch::kCPU, torch::kDouble);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& a : manifest.attributes) {
    switch (a.kind) {
      case model::AttributeKind::Binary:
        out[a.name] = torch::sigmoid(l[a.columns[0]]).item<double>();
        break;
      case model::AttributeKind::Categorical: {
        const auto idx = torch::tensor(a.columns, torch::kLong);
        const auto p = torch::softmax(l.index_select(0, idx), 0);
        nlohmann::json classes = nlohmann::json::object();
        for (size_t k = 0; k < a.classes.size(); ++k) classes[a.classes[k]] = p[static_cast<int64_t>(k)].item<double>();
        out[a.name] = classes;
        break;
      }
      case model::AttributeKind::Continuous:
        out[a.name] = l[a.columns[0]].item<double>();
        break;
    }
  }
  return out;
}

nlohmann::json tensor_to_json(const torch::Tensor& row) {
  const auto v = row.detach().to(torch::kCPU, torch::kFloat).contiguous().reshape(-1);
  nlohmann::json out = nlohmann::json::array();
  const float* p = v.data_ptr<float>();
  for (int64_t i = 0; i < v.numel(); ++i) out.push_back(static_cast<double>(p[i]));
  return out;
}

torch::Tensor tensor_from_json(const nlohmann::json& array) {
  std::vector<float> values;
  for (const auto& x : array) values.push_back(static_cast<float>(x.get<double>()));
  return torch::tensor(values, torch::kFloat);
}

std::filesystem::path write_image_and_record(io::OutputNamer& namer, int64_t index, const io::Image& image,
                                             const nlohmann::json& record) {
  for (int attempt = 0;; ++attempt) {
    if (attempt < 100 && (std::filesystem::exists(namer.image(index)) || std::filesystem::exists(namer.record(index)))) {
      namer.bump();
      continue;
    }
    io::write_image_with_record(namer.image(index), namer.record(index), image, record);
    return namer.image(index);
  }
}

}  // namespace lace::jobs
