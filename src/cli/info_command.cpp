// `lace info`: what a bundle holds, as text or JSON.
#include <iostream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "lace/energy/expression.hpp"
#include "lace/jobs/edit_job.hpp"
#include "lace/jobs/record.hpp"
#include "lace/model/bundle.hpp"

namespace lace::cli {
namespace {

// " (J judges: ...)" for a verifier of several networks, else nothing.
std::string judges(const model::VerifierSpec& v) {
  return v.judges > 1 ? " (" + std::to_string(v.judges) + " judges: each must read a condition met)" : "";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string join(const std::vector<int64_t>& parts) {
  std::vector<std::string> s;
  for (auto p : parts) s.push_back(std::to_string(p));
  return join(s, ",");
}

}  // namespace

Action add_info_command(CLI::App& app, const GlobalOptions& global) {
  auto* cmd = app.add_subcommand("info", "describe a model bundle: sizes and attributes");
  auto model = std::make_shared<std::string>(default_model_dir());
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", *model, "model bundle folder")->capture_default_str();
  cmd->add_flag("--json", *as_json, "print JSON instead of text");
  return [model, as_json, &global] {
    // Loading runs every check, so `lace info` doubles as a bundle validator.
    const auto bundle = model::Bundle::load(*model, resolve_device(global.device));
    const auto& m = bundle.manifest();
    bundle.check_edit_verifier();
    const auto hash = jobs::bundle_hash(bundle);
    const auto edit = jobs::resolve_edit_settings(m, {}, {});  // what lace edit runs with, flags and file aside
    std::vector<std::pair<const char*, double>> edit_settings = {{"truncation", edit.truncation}};
    for (const auto& field : model::edit_weight_fields()) edit_settings.emplace_back(field.name, edit.weights.*field.weight);
    edit_settings.emplace_back("tolerance", edit.tolerance);
    edit_settings.emplace_back("min_p", edit.min_p);
    edit_settings.emplace_back("tries", static_cast<double>(edit.tries));
    edit_settings.emplace_back("polish", static_cast<double>(edit.polish));
    if (*as_json) {
      nlohmann::json j;
      j["name"] = m.name;
      j["description"] = m.description;
      j["path"] = *model;
      j["sha256"] = hash;
      j["generator"] = {{"z_dim", m.generator.z_dim}, {"w_dim", m.generator.w_dim}, {"num_ws", m.generator.num_ws},
                        {"resolution", m.generator.resolution}, {"channels", m.generator.channels}};
      j["truncation"] = m.default_truncation;
      j["guidance"] = m.default_guidance;
      j["min_p"] = m.default_min_p;
      j["tries"] = m.default_tries;
      j["verifier"] = m.verifier ? nlohmann::json(m.verifier->file) : nlohmann::json();
      j["edit_verifier"] = m.edit_verifier ? nlohmann::json(m.edit_verifier->file) : j["verifier"];
      j["verifier_judges"] = m.verifier ? nlohmann::json(m.verifier->judges) : nlohmann::json();
      j["edit_verifier_judges"] = m.edit_verifier ? nlohmann::json(m.edit_verifier->judges) : j["verifier_judges"];
      for (const auto& [key, value] : edit_settings) j["editing"][key] = value;
      j["prior"] = m.prior ? nlohmann::json{{"attributes", m.prior->attributes}, {"weight", m.prior->weight}}
                           : nlohmann::json();
      j["attributes"] = nlohmann::json::array();
      for (const auto& a : m.attributes) {
        nlohmann::json x = {{"name", a.name}, {"kind", model::to_string(a.kind)}, {"columns", a.columns}, {"layers", a.layers}};
        if (a.kind == model::AttributeKind::Categorical) x["classes"] = a.classes;
        if (a.kind == model::AttributeKind::Continuous) {
          x["range"] = {a.range_min, a.range_max};
          x["sigma"] = a.sigma;
          x["tolerance"] = a.tolerance;
        }
        j["attributes"].push_back(x);
      }
      std::cout << j.dump(2) << std::endl;
      return;
    }
    std::cout << "model       " << m.name << "  (" << *model << ")\n";
    if (!m.description.empty()) std::cout << "            " << m.description << "\n";
    std::cout << "sha256      " << hash << "\n"
              << "generator   z " << m.generator.z_dim << ", w " << m.generator.w_dim << " x " << m.generator.num_ws
              << " layers, " << m.generator.resolution << "x" << m.generator.resolution << " pixels, "
              << m.generator.channels << " channel(s)\n"
              << "truncation  " << m.default_truncation << " by default\n"
              << "guidance    " << m.default_guidance << " by default\n"
              << "min-p       " << m.default_min_p << " by default (" << m.default_tries << " tries at most)\n"
              << "verifier    " << (m.verifier ? m.verifier->file + " reads every conditional image" + judges(*m.verifier) : "none")
              << "\n";
    if (m.edit_verifier)
      std::cout << "            " << m.edit_verifier->file << " reads lace edit's images" << judges(*m.edit_verifier) << "\n";
    std::cout << "prior       "
              << (m.prior ? "the data's mix of " + join(m.prior->attributes, ", ") + ", weight " +
                                energy::format_number(m.prior->weight) + " by default"
                          : "none")
              << "\n";
    std::cout << "editing     ";
    for (size_t i = 0; i < edit_settings.size(); ++i)
      std::cout << (i ? ", " : "") << edit_settings[i].first << " " << energy::format_number(edit_settings[i].second);
    std::cout << "\n"
              << "attributes  " << m.attributes.size() << "\n";
    for (const auto& a : m.attributes) {
      std::string values;
      switch (a.kind) {
        case model::AttributeKind::Binary: values = a.name + " | NOT " + a.name; break;
        case model::AttributeKind::Categorical: values = a.name + "=" + join(a.classes, "|"); break;
        case model::AttributeKind::Continuous:
          // Numbers as the manifest writes them (0, -1, 0.05), as expressions print them.
          values = a.name + "=<" + energy::format_number(a.range_min) + ".." + energy::format_number(a.range_max) +
                   ">  sigma " + energy::format_number(a.sigma);
          if (a.tolerance > 0) values += ", met within " + energy::format_number(a.tolerance);
          break;
      }
      std::cout << "  " << a.name << std::string(a.name.size() < 12 ? 12 - a.name.size() : 1, ' ')
                << model::to_string(a.kind) << std::string(13 - std::string(model::to_string(a.kind)).size(), ' ')
                << values << (a.layers.empty() ? "" : "   layers " + join(a.layers)) << "\n";
    }
  };
}

}  // namespace lace::cli
