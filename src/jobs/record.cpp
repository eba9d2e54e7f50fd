#include "lace/jobs/record.hpp"

#include <torch/torch.h>

#include "lace/io/error.hpp"
#include "lace/io/sha256.hpp"
#include "lace/ode/tableau.hpp"

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
  return io::float_array(std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel()));
}

torch::Tensor tensor_from_json(const nlohmann::json& array) {
  return torch::tensor(io::floats_from_json(array), torch::kFloat);
}

nlohmann::json sampler_record(const std::string& solver, const sampling::VpOdeOptions& ode,
                              const sampling::LangevinOptions& langevin) {
  nlohmann::json s;
  s["method"] = solver;
  if (solver == "ld") {
    s["step_size"] = langevin.step_size;
    s["noise"] = langevin.noise;
    s["steps"] = langevin.steps;
    return s;
  }
  const auto& sch = ode.schedule;
  s["schedule"] = {{"beta_min", sch.beta_min}, {"beta_max", sch.beta_max}, {"t_start", sch.t_start}, {"t_end", sch.t_end}};
  if (ode::tableau_by_name(solver).adaptive()) {
    s["atol"] = ode.adaptive.atol;
    s["rtol"] = ode.adaptive.rtol;
    s["error_norm"] = ode.adaptive.norm == ode::ErrorNorm::PerSample ? "per-sample" : "batch";
  } else {
    s["steps"] = ode.steps;
  }
  return s;
}

std::filesystem::path write_image_and_record(io::OutputNamer& namer, int64_t index, const io::EncodedRecord& encoded,
                                             bool claims_run, const std::string& tag) {
  // Only the run's first image may move the run: a concurrent process that took this run number
  // first keeps it, and this run moves to the next free one. Later images never move, so one run
  // stays under one number; a collision there is an error rather than an overwrite.
  for (int attempt = 0;; ++attempt) {
    try {
      io::write_encoded_record(namer.image(index, tag), namer.record(index, tag), encoded);
      return namer.image(index, tag);
    } catch (const io::OutputExists&) {
      if (!claims_run || attempt >= 100) throw;
      namer.bump();
    }
  }
}

}  // namespace lace::jobs
