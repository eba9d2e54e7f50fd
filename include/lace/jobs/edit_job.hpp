#pragma once
// `lace edit` as a library call: a sequence file in, per start a PNG per step (with its record), a strip
// (the start, then each step) and one sheet of all strips out. See docs/edit.md.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lace/jobs/edit_sequence.hpp"
#include "lace/jobs/progress.hpp"
#include "lace/jobs/stages.hpp"
#include "lace/model/manifest.hpp"
#include "lace/sampling/edit_energy.hpp"
#include "lace/sampling/vp_ode.hpp"

namespace lace::jobs {

struct EditJob {
  std::filesystem::path sequence_file;
  std::filesystem::path model_dir;
  std::filesystem::path out_dir = "outputs";
  int64_t batch_size = 16;                // starts edited together
  std::string solver = "dopri5";          // dopri5 | euler | heun | rk4
  sampling::VpOdeOptions ode;
  model::EditSettings overrides;          // the flags: over the sequence file's, over the bundle's
  // Read each step's images with the bundle's image verifier too (records' p_image; min_p then needs both
  // classifiers to reach it). Default: on when the bundle has one.
  std::optional<bool> verify;
  torch::Device device = torch::kCPU;
};

struct EditReport {
  std::vector<std::filesystem::path> images;  // every step of every start, start 0's first
  std::vector<std::filesystem::path> strips;  // one per start
  std::filesystem::path sheet;
  int64_t starts = 0;
  int64_t steps = 0;
  double seconds = 0;
  StageSeconds stages;
  int64_t retried = 0;      // (start, step) pairs solved again for min_p
  int64_t below_min_p = 0;  // ... and still below it after every try (and the polish)
  int64_t polished = 0;     // (start, step) pairs whose polish raised min_p's reading (kept)
  bool verified = false;    // steps were read with the bundle's verifier
  std::vector<std::string> warnings;          // e.g. a start image made with another model
};

// What an edit runs with: the flags over the sequence file over the bundle's "editing" section over the
// authors' weights (model::EditWeights) and the bundle's default truncation.
struct EditChoice {
  double truncation = 1.0;
  model::EditWeights weights;
  double min_p = 0;   // 0: each step solved once
  int64_t tries = 3;
  double tolerance = 0;  // continuous targets met within it (model::EditSettings::tolerance)
  int64_t polish = 0;    // gradient steps for rows still below min_p (model::EditSettings::polish)
};
EditChoice resolve_edit_settings(const model::Manifest& manifest, const model::EditSettings& file,
                                 const model::EditSettings& flags);

// Throws InputError (the sequence file or what it names), model::BundleError, io::OutputError,
// ode::SolverError, std::invalid_argument (bad option values).
EditReport run_edit(const EditJob& job, Progress& progress);

}  // namespace lace::jobs
