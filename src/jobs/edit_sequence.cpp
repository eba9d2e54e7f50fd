#include "lace/jobs/edit_sequence.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace lace::jobs {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;

// Every message starts with the file and the field: "edits.json: steps[2]: ...".
class Checker {
 public:
  explicit Checker(const fs::path& file) : file_(file.string()) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw InputError(file_ + ": " + (field.empty() ? "" : field + ": ") + what);
  }

  void only_keys(const json& object, const std::string& field, const std::set<std::string>& known) const {
    if (const std::string problem = model::unknown_field(object, known); !problem.empty()) fail(field, problem);
  }

  std::string string(const json& value, const std::string& field) const {
    if (!value.is_string()) fail(field, "must be a string, got " + std::string(value.type_name()));
    return value.get<std::string>();
  }

  double number(const json& value, const std::string& field, double min_value) const {
    if (!value.is_number()) fail(field, "must be a number, got " + std::string(value.type_name()));
    const double x = value.get<double>();
    if (!std::isfinite(x) || x < min_value)
      fail(field, "must be a number >= " + format(min_value) + ", got " + value.dump());
    return x;
  }

  int64_t index(const json& value, const std::string& field) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0)
      fail(field, "must be a whole number >= 0, got " + value.dump());
    return value.get<int64_t>();
  }

  std::vector<float> vector(const json& value, const std::string& field) const {
    if (!value.is_array() || value.empty()) fail(field, "must be a non-empty array of numbers");
    std::vector<float> out;
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_number() || !std::isfinite(value[i].get<double>()))
        fail(field + "[" + std::to_string(i) + "]", "must be a finite number, got " + value[i].dump());
      out.push_back(value[i].get<float>());
    }
    return out;
  }

 private:
  static std::string format(double x) {
    std::ostringstream s;
    s << x;
    return s.str();
  }
  std::string file_;
};

json read_json(const fs::path& file, const Checker& check, const std::string& field) {
  std::ifstream in(file);
  if (!in) check.fail(field, "cannot read '" + file.string() + "'");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    // nlohmann's message holds the byte position: "[json.exception.parse_error.101] parse error at line 3, ..."
    std::string what = e.what();
    const auto at = what.find("] ");
    check.fail(field, "'" + file.string() + "' is not valid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
  }
}

// z_file: a list of z, {"z": list of z}, or one z (a lace record's "z" is one vector).
std::vector<std::vector<float>> latents_from(const json& value, const Checker& check, const std::string& field) {
  const json& list = value.is_object() && value.contains("z") ? value["z"] : value;
  if (list.is_array() && !list.empty() && list[0].is_number()) return {check.vector(list, field)};
  if (!list.is_array() || list.empty()) check.fail(field, "must hold a non-empty list of z vectors");
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < list.size(); ++i) {
    out.push_back(check.vector(list[i], field + "[" + std::to_string(i) + "]"));
    if (out.back().size() != out.front().size())
      check.fail(field + "[" + std::to_string(i) + "]", "has " + std::to_string(out.back().size()) +
                                                           " values, the first z has " + std::to_string(out.front().size()));
  }
  return out;
}

EditStart parse_start(const json& j, const fs::path& base, const Checker& check) {
  if (!j.is_object()) check.fail("start", "must be an object: {\"seed\": 0, \"count\": 8}, {\"z_file\": ...} or {\"images\": [...]}");
  check.only_keys(j, "start", {"seed", "count", "first_index", "indices", "z", "z_file", "images"});
  const int sources = int(j.contains("seed")) + int(j.contains("z")) + int(j.contains("z_file")) + int(j.contains("images"));
  if (sources != 1) check.fail("start", "give exactly one of seed, z, z_file, images");
  EditStart s;
  if (j.contains("seed")) {
    s.source = EditStart::Source::Seed;
    if (!j["seed"].is_number_integer() || j["seed"].get<int64_t>() < 0) check.fail("start.seed", "must be a whole number >= 0, got " + j["seed"].dump());
    s.seed = j["seed"].get<uint64_t>();
    if (j.contains("indices") == j.contains("count"))
      check.fail("start", "with seed, give either count (and optionally first_index) or indices");
    if (j.contains("indices")) {
      if (!j["indices"].is_array() || j["indices"].empty()) check.fail("start.indices", "must be a non-empty array");
      for (size_t i = 0; i < j["indices"].size(); ++i)
        s.indices.push_back(check.index(j["indices"][i], "start.indices[" + std::to_string(i) + "]"));
    } else {
      const int64_t count = check.index(j["count"], "start.count");
      if (count < 1) check.fail("start.count", "must be at least 1");
      const int64_t first = j.contains("first_index") ? check.index(j["first_index"], "start.first_index") : 0;
      for (int64_t i = 0; i < count; ++i) s.indices.push_back(first + i);
    }
    return s;
  }
  if (j.contains("count") || j.contains("first_index") || j.contains("indices"))
    check.fail("start", "count, first_index and indices go with seed only");
  if (j.contains("z")) {
    s.source = EditStart::Source::Latents;
    s.z = latents_from(j["z"], check, "start.z");
  } else if (j.contains("z_file")) {
    s.source = EditStart::Source::Latents;
    s.z_file = check.string(j["z_file"], "start.z_file");
    s.z = latents_from(read_json(base / s.z_file, check, "start.z_file"), check, "start.z_file '" + s.z_file + "'");
  } else {
    s.source = EditStart::Source::Images;
    if (!j["images"].is_array() || j["images"].empty()) check.fail("start.images", "must be a non-empty array of PNG paths");
    for (size_t i = 0; i < j["images"].size(); ++i)
      s.images.push_back(base / check.string(j["images"][i], "start.images[" + std::to_string(i) + "]"));
  }
  return s;
}

void parse_weights(const json& j, const Checker& check, model::EditSettings& into) {
  if (!j.is_object()) check.fail("weights", "must be an object");
  check.only_keys(j, "weights", model::edit_weight_names());
  for (const auto& field : model::edit_weight_fields())
    if (j.contains(field.name)) into.*field.setting = check.number(j[field.name], std::string("weights.") + field.name, 0.0);
}

}  // namespace

EditSequence parse_edit_sequence(const json& j, const fs::path& file) {
  const Checker check(file);
  if (!j.is_object()) check.fail("", "must hold a JSON object with start and steps (see docs/edit.md)");
  check.only_keys(j, "", {"start", "condition", "truncation", "steps", "weights", "min_p", "tries", "tolerance",
                      "polish", "comment"});
  EditSequence seq;
  seq.file = file;
  seq.source = j;
  const fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!j.contains("start")) check.fail("", "missing field 'start'");
  seq.start = parse_start(j["start"], base, check);
  if (j.contains("condition")) seq.condition = check.string(j["condition"], "condition");
  if (j.contains("truncation")) seq.settings.truncation = check.number(j["truncation"], "truncation", 0.0);
  if (j.contains("min_p")) {
    seq.settings.min_p = check.number(j["min_p"], "min_p", 0.0);
    if (*seq.settings.min_p >= 1) check.fail("min_p", "must be below 1");
  }
  if (j.contains("tries")) {
    const double tries = check.number(j["tries"], "tries", 1.0);
    if (tries != static_cast<double>(static_cast<int64_t>(tries))) check.fail("tries", "must be a whole number");
    seq.settings.tries = static_cast<int64_t>(tries);
  }
  if (j.contains("tolerance")) seq.settings.tolerance = check.number(j["tolerance"], "tolerance", 0.0);
  if (j.contains("polish")) {
    const double polish = check.number(j["polish"], "polish", 0.0);
    if (polish != static_cast<double>(static_cast<int64_t>(polish))) check.fail("polish", "must be a whole number");
    seq.settings.polish = static_cast<int64_t>(polish);
  }
  if (!j.contains("steps")) check.fail("", "missing field 'steps'");
  if (!j["steps"].is_array() || j["steps"].empty()) check.fail("steps", "must be a non-empty array of expressions");
  for (size_t i = 0; i < j["steps"].size(); ++i) {
    const std::string field = "steps[" + std::to_string(i) + "]";
    const std::string expr = check.string(j["steps"][i], field);
    if (expr.find_first_not_of(" \t") == std::string::npos) check.fail(field, "is empty");
    seq.steps.push_back(expr);
  }
  if (j.contains("weights")) parse_weights(j["weights"], check, seq.settings);
  return seq;
}

EditSequence read_edit_sequence(const fs::path& file) {
  const Checker check(file);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) check.fail("", "no such file");
  return parse_edit_sequence(read_json(file, check, ""), file);
}

}  // namespace lace::jobs
