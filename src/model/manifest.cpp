#include "lace/model/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace lace::model {
namespace {

using nlohmann::json;

// Field access that reports the JSON path of whatever is missing or of the wrong type.
class Reader {
 public:
  Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw BundleError(file_ + ": " + field + ": " + problem);
  }

  const json& member(const json& obj, const std::string& path, const std::string& key) const {
    if (!obj.contains(key)) fail(join(path, key), "missing");
    return obj.at(key);
  }
  const json& object(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_object()) fail(join(path, key), "must be an object");
    return v;
  }
  std::string string(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_string() || v.get<std::string>().empty()) fail(join(path, key), "must be a non-empty string");
    return v.get<std::string>();
  }
  double number(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_number()) fail(join(path, key), "must be a number");
    return v.get<double>();
  }
  // A probability threshold: 0 (off) up to, not including, 1.
  double below_one(const json& obj, const std::string& path, const std::string& key) const {
    const double v = number(obj, path, key);
    if (!(v >= 0 && v < 1)) fail(join(path, key), "must be in [0, 1)");
    return v;
  }
  int64_t non_negative_int(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0) fail(join(path, key), "must be a whole number >= 0");
    return v.get<int64_t>();
  }
  int64_t positive_int(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail(join(path, key), "must be a positive integer");
    return v.get<int64_t>();
  }
  std::vector<int64_t> int_list(const json& obj, const std::string& path, const std::string& key) const {
    const json& v = member(obj, path, key);
    if (!v.is_array()) fail(join(path, key), "must be a list of integers");
    std::vector<int64_t> out;
    for (const auto& x : v) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0) fail(join(path, key), "must be a list of non-negative integers");
      out.push_back(x.get<int64_t>());
    }
    return out;
  }

  // A typo in an optional section must not pass silently.
  void only_keys(const json& obj, const std::string& path, const std::set<std::string>& known) const {
    if (const std::string problem = unknown_field(obj, known); !problem.empty()) fail(path, problem);
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::string file_;
};

// The bundle's own defaults for lace edit: weights tuned to its classifier (the authors' were tuned to theirs).
EditSettings read_editing(const Reader& r, const json& e) {
  r.only_keys(e, "editing", {"truncation", "weights", "min_p", "tries", "tolerance", "polish", "verifier", "comment"});
  EditSettings s;
  const auto non_negative = [&](const json& obj, const std::string& path, const std::string& key) {
    const double v = r.number(obj, path, key);
    if (!(std::isfinite(v) && v >= 0)) r.fail(Reader::join(path, key), "must be a number >= 0");
    return v;
  };
  if (e.contains("truncation")) s.truncation = non_negative(e, "editing", "truncation");
  if (e.contains("min_p")) s.min_p = r.below_one(e, "editing", "min_p");
  if (e.contains("tries")) s.tries = r.positive_int(e, "editing", "tries");
  if (e.contains("tolerance")) s.tolerance = non_negative(e, "editing", "tolerance");
  if (e.contains("polish")) s.polish = r.non_negative_int(e, "editing", "polish");
  if (e.contains("weights")) {
    const json& w = r.object(e, "editing", "weights");
    r.only_keys(w, "editing.weights", edit_weight_names());
    for (const auto& field : edit_weight_fields())
      if (w.contains(field.name)) s.*field.setting = non_negative(w, "editing.weights", field.name);
  }
  return s;
}

Attribute read_attribute(const Reader& r, const json& a, const std::string& path) {
  if (!a.is_object()) r.fail(path, "must be an object");
  Attribute attr;
  attr.name = r.string(a, path, "name");
  const auto& n = attr.name;
  if (!(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_') ||
      !std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
    r.fail(Reader::join(path, "name"), "'" + n + "' is not a valid name (letters, digits, '_'; not starting with a digit)");
  const std::string kind = r.string(a, path, "kind");
  attr.columns = r.int_list(a, path, "columns");
  if (kind == "binary") {
    attr.kind = AttributeKind::Binary;
    if (attr.columns.size() != 1) r.fail(Reader::join(path, "columns"), "a binary attribute has exactly 1 column");
  } else if (kind == "categorical") {
    attr.kind = AttributeKind::Categorical;
    const json& classes = r.member(a, path, "classes");
    if (!classes.is_array() || classes.size() < 2) r.fail(Reader::join(path, "classes"), "must list at least 2 class names");
    for (const auto& c : classes) {
      if (!c.is_string() || c.get<std::string>().empty()) r.fail(Reader::join(path, "classes"), "class names must be non-empty strings");
      attr.classes.push_back(c.get<std::string>());
    }
    if (std::set<std::string>(attr.classes.begin(), attr.classes.end()).size() != attr.classes.size())
      r.fail(Reader::join(path, "classes"), "class names must be unique");
    if (attr.columns.size() != attr.classes.size())
      r.fail(Reader::join(path, "columns"), "needs one column per class (" + std::to_string(attr.classes.size()) +
                                                "), found " + std::to_string(attr.columns.size()));
  } else if (kind == "continuous") {
    attr.kind = AttributeKind::Continuous;
    if (attr.columns.size() != 1) r.fail(Reader::join(path, "columns"), "a continuous attribute has exactly 1 column");
    const json& range = r.member(a, path, "range");
    if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number() ||
        !(range[0].get<double>() < range[1].get<double>()))
      r.fail(Reader::join(path, "range"), "must be [min, max] with min < max");
    attr.range_min = range[0].get<double>();
    attr.range_max = range[1].get<double>();
    attr.sigma = r.number(a, path, "sigma");
    if (!(attr.sigma > 0)) r.fail(Reader::join(path, "sigma"), "must be positive");
    if (a.contains("tolerance")) {
      attr.tolerance = r.number(a, path, "tolerance");
      if (!(attr.tolerance >= 0 && attr.tolerance < attr.range_max - attr.range_min))
        r.fail(Reader::join(path, "tolerance"), "must be >= 0 and less than the range's width");
    }
  } else {
    r.fail(Reader::join(path, "kind"), "'" + kind + "' is not one of binary, categorical, continuous");
  }
  if (a.contains("tolerance") && attr.kind != AttributeKind::Continuous)
    r.fail(Reader::join(path, "tolerance"), "only a continuous attribute has a tolerance");
  if (a.contains("layers")) attr.layers = r.int_list(a, path, "layers");
  return attr;
}

// "prior" (after the attributes, which it names): every named attribute discrete and named once, one finite
// log ratio per cell of their values.
PriorSpec read_prior(const Reader& r, const json& p, const std::vector<Attribute>& attributes) {
  r.only_keys(p, "prior", {"attributes", "log_ratio", "weight", "comment"});
  PriorSpec spec;
  const json& names = r.member(p, "prior", "attributes");
  if (!names.is_array() || names.empty()) r.fail("prior.attributes", "must be a non-empty list of attribute names");
  int64_t cells = 1;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string path = "prior.attributes[" + std::to_string(i) + "]";
    if (!names[i].is_string()) r.fail(path, "must be an attribute name");
    const std::string name = names[i].get<std::string>();
    const auto a = std::find_if(attributes.begin(), attributes.end(), [&](const Attribute& x) { return x.name == name; });
    if (a == attributes.end()) r.fail(path, "'" + name + "' is not in attributes");
    if (a->kind == AttributeKind::Continuous) r.fail(path, "'" + name + "' is continuous; the prior takes discrete attributes");
    if (std::find(spec.attributes.begin(), spec.attributes.end(), name) != spec.attributes.end())
      r.fail(path, "'" + name + "' appears twice");
    spec.attributes.push_back(name);
    cells *= a->kind == AttributeKind::Binary ? 2 : static_cast<int64_t>(a->classes.size());
  }
  const json& ratios = r.member(p, "prior", "log_ratio");
  if (!ratios.is_array()) r.fail("prior.log_ratio", "must be a list of numbers");
  if (static_cast<int64_t>(ratios.size()) != cells)
    r.fail("prior.log_ratio", "has " + std::to_string(ratios.size()) + " numbers; the attributes make " +
                                  std::to_string(cells) + " cells");
  for (const auto& v : ratios) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) r.fail("prior.log_ratio", "must hold finite numbers only");
    spec.log_ratio.push_back(v.get<double>());
  }
  if (p.contains("weight")) {
    spec.weight = r.number(p, "prior", "weight");
    if (!(std::isfinite(spec.weight) && spec.weight >= 0)) r.fail("prior.weight", "must be a number >= 0");
  }
  return spec;
}

}  // namespace

const Attribute* Manifest::find(const std::string& attribute_name) const {
  for (const auto& a : attributes)
    if (a.name == attribute_name) return &a;
  return nullptr;
}

const std::vector<EditWeightField>& edit_weight_fields() {
  static const std::vector<EditWeightField> fields = {
      {"previous", "--weight-previous", &EditSettings::previous, &EditWeights::previous},
      {"newest", "--weight-newest", &EditSettings::newest, &EditWeights::newest},
      {"newest_continuous", "--weight-newest-continuous", &EditSettings::newest_continuous, &EditWeights::newest_continuous},
      {"reg_z", "--reg-z", &EditSettings::reg_z, &EditWeights::reg_z},
      {"reg_logits", "--reg-logits", &EditSettings::reg_logits, &EditWeights::reg_logits},
      {"keep", "--weight-keep", &EditSettings::keep, &EditWeights::keep},
      {"keep_sigma", "--keep-sigma", &EditSettings::keep_sigma, &EditWeights::keep_sigma}};
  return fields;
}

std::set<std::string> edit_weight_names() {
  std::set<std::string> names;
  for (const auto& field : edit_weight_fields()) names.insert(field.name);
  return names;
}

std::string unknown_field(const nlohmann::json& object, const std::set<std::string>& known) {
  for (const auto& item : object.items()) {
    if (known.count(item.key())) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    return "unknown field '" + item.key() + "' (known: " + list + ")";
  }
  return "";
}

Manifest read_manifest(const std::filesystem::path& dir) {
  const auto path = dir / "lace.json";
  const std::string file = path.string();
  if (!std::filesystem::is_directory(dir)) throw BundleError(dir.string() + ": model folder not found");
  std::ifstream in(path);
  if (!in) throw BundleError(file + ": cannot open the manifest (is this a lace model folder?)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    // nlohmann's message holds the line and column of the syntax error.
    std::string what = e.what();
    const auto pos = what.find("parse error");
    throw BundleError(file + ": not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  }
  Reader r(file);
  if (!j.is_object()) r.fail("(top level)", "must be an object");

  Manifest m;
  if (r.string(j, "", "format") != "lace-bundle") r.fail("format", "must be \"lace-bundle\"");
  m.version = static_cast<int>(r.positive_int(j, "", "version"));
  if (m.version > kManifestVersion)
    r.fail("version", std::to_string(m.version) + " is newer than this lace understands (" +
                          std::to_string(kManifestVersion) + "); upgrade lace");
  m.name = r.string(j, "", "name");
  if (j.contains("description") && j["description"].is_string()) m.description = j["description"];

  const json& g = r.object(j, "", "generator");
  m.generator.file = r.string(g, "generator", "file");
  m.generator.z_dim = r.positive_int(g, "generator", "z_dim");
  m.generator.w_dim = r.positive_int(g, "generator", "w_dim");
  m.generator.num_ws = r.positive_int(g, "generator", "num_ws");
  m.generator.resolution = r.positive_int(g, "generator", "resolution");
  if (g.contains("channels")) m.generator.channels = r.positive_int(g, "generator", "channels");
  if (m.generator.channels != 1 && m.generator.channels != 3) r.fail("generator.channels", "must be 1 or 3");

  const json& t = r.object(j, "", "truncation");
  m.default_truncation = r.number(t, "truncation", "default");
  const json& wa = r.object(t, "truncation", "w_avg");
  const std::string source = r.string(wa, "truncation.w_avg", "source");
  if (source == "buffer") {
    m.w_avg.source = WAvgSpec::Source::Buffer;
    m.w_avg.name = r.string(wa, "truncation.w_avg", "name");
  } else if (source == "estimate") {
    m.w_avg.source = WAvgSpec::Source::Estimate;
    m.w_avg.samples = r.positive_int(wa, "truncation.w_avg", "samples");
    if (wa.contains("seed")) m.w_avg.seed = static_cast<uint64_t>(r.number(wa, "truncation.w_avg", "seed"));
  } else {
    r.fail("truncation.w_avg.source", "'" + source + "' is not one of buffer, estimate");
  }

  if (j.contains("sampling")) {
    const json& s = r.object(j, "", "sampling");
    r.only_keys(s, "sampling", {"guidance", "min_p", "tries", "comment"});
    if (s.contains("guidance")) {
      m.default_guidance = r.number(s, "sampling", "guidance");
      if (!(std::isfinite(m.default_guidance) && m.default_guidance > 0))
        r.fail("sampling.guidance", "must be a positive number");
    }
    if (s.contains("min_p")) m.default_min_p = r.below_one(s, "sampling", "min_p");
    if (s.contains("tries")) m.default_tries = r.positive_int(s, "sampling", "tries");
  }

  if (j.contains("editing")) m.editing = read_editing(r, r.object(j, "", "editing"));

  const json& c = r.object(j, "", "classifier");
  m.classifier.file = r.string(c, "classifier", "file");
  m.classifier.num_logits = r.positive_int(c, "classifier", "num_logits");

  // An image classifier with the latent classifier's columns: "verifier", or lace edit's "editing.verifier".
  const auto read_verifier = [&](const json& v, const std::string& path) {
    r.only_keys(v, path, {"file", "num_logits", "judges", "comment"});
    VerifierSpec spec;
    spec.file = r.string(v, path, "file");
    spec.num_logits = r.positive_int(v, path, "num_logits");
    if (v.contains("judges")) spec.judges = r.positive_int(v, path, "judges");
    if (spec.num_logits != m.classifier.num_logits)
      r.fail(Reader::join(path, "num_logits"), std::to_string(spec.num_logits) + " differs from classifier.num_logits (" +
                                                   std::to_string(m.classifier.num_logits) +
                                                   "): the attributes' columns index both");
    return spec;
  };
  if (j.contains("verifier")) m.verifier = read_verifier(r.object(j, "", "verifier"), "verifier");
  if (j.contains("editing") && j["editing"].contains("verifier"))
    m.edit_verifier = read_verifier(r.object(j["editing"], "editing", "verifier"), "editing.verifier");

  const json& attrs = r.member(j, "", "attributes");
  if (!attrs.is_array() || attrs.empty()) r.fail("attributes", "must be a non-empty list");
  std::set<std::string> names;
  std::vector<int> owner(static_cast<size_t>(m.classifier.num_logits), -1);
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string path = "attributes[" + std::to_string(i) + "]";
    Attribute a = read_attribute(r, attrs[i], path);
    if (!names.insert(a.name).second) r.fail(path + ".name", "'" + a.name + "' appears twice");
    for (int64_t col : a.columns) {
      if (col >= m.classifier.num_logits)
        r.fail(path + ".columns", "column " + std::to_string(col) + " is past classifier.num_logits (" +
                                      std::to_string(m.classifier.num_logits) + ")");
      if (owner[col] >= 0)
        r.fail(path + ".columns", "column " + std::to_string(col) + " already belongs to '" +
                                      m.attributes[owner[col]].name + "'");
      owner[col] = static_cast<int>(i);
    }
    for (int64_t layer : a.layers)
      if (layer >= m.generator.num_ws)
        r.fail(path + ".layers", "layer " + std::to_string(layer) + " is past generator.num_ws (" +
                                     std::to_string(m.generator.num_ws) + ")");
    m.attributes.push_back(std::move(a));
  }
  if (j.contains("prior")) m.prior = read_prior(r, r.object(j, "", "prior"), m.attributes);
  return m;
}

}  // namespace lace::model
