#pragma once
// edits.json: where `lace edit` starts and the edits it applies in order. The schema, with an example,
// is in docs/edit.md (example: configs/edits-example.json). Reading checks everything that does not
// need the model; run_edit checks the rest (z sizes, expressions) against the bundle.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lace/model/manifest.hpp"

namespace lace::jobs {

// A missing or invalid input file (exit code 8). The message names the file and the field.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EditStart {
  enum class Source { Seed, Latents, Images };
  Source source = Source::Seed;
  uint64_t seed = 0;                         // Seed: images `indices` of `lace sample --seed S`
  std::vector<int64_t> indices;
  std::vector<std::vector<float>> z;         // Latents: one z per start (from "z" or "z_file")
  std::string z_file;                        //   the file they came from, if any
  std::vector<std::filesystem::path> images; // Images: PNGs written by lace; z comes from their records
};

struct EditSequence {
  std::filesystem::path file;
  EditStart start;
  std::string condition;               // optional: sample the starts with this condition first
  std::vector<std::string> steps;      // expressions, applied in order
  model::EditSettings settings;        // "truncation" and "weights": what the file sets, over the bundle's
  nlohmann::json source;               // the file's JSON, for the records
};

// Reads and checks the file; relative paths in it are taken from the file's folder. Throws InputError.
EditSequence read_edit_sequence(const std::filesystem::path& file);

// The same from JSON already read; `file` names it in messages and anchors relative paths.
EditSequence parse_edit_sequence(const nlohmann::json& json, const std::filesystem::path& file);

}  // namespace lace::jobs
