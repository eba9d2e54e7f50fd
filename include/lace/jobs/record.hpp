#pragma once
// The record that travels with every image: enough to reproduce it exactly and to read what the
// latent classifier saw. Written into the PNG (iTXt "lace") and beside it as JSON.

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "lace/io/image.hpp"
#include "lace/io/files.hpp"
#include "lace/io/naming.hpp"
#include "lace/io/record.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/langevin.hpp"
#include "lace/sampling/vp_ode.hpp"

namespace lace::jobs {

// The sampler's settings as they go into every record (Langevin's are used when solver is "ld").
nlohmann::json sampler_record(const std::string& solver, const sampling::VpOdeOptions& ode,
                              const sampling::LangevinOptions& langevin = {});

// SHA-256 over the bundle's files (manifest, generator, classifier), so a record names the exact model.
std::string bundle_hash(const model::Bundle& bundle);

// The classifier's reading of one row of logits, by attribute: binary -> p(present),
// categorical -> {class: p}, continuous -> value.
nlohmann::json attribute_readings(const model::Manifest& manifest, const torch::Tensor& logits_row);

// A float32 vector as a JSON array; float -> double -> shortest text round-trips exactly.
nlohmann::json tensor_to_json(const torch::Tensor& row);
torch::Tensor tensor_from_json(const nlohmann::json& array);

// Writes image `index` (with an optional name tag, see io::OutputNamer), encoded with its record, under
// the namer's current run and returns the PNG's path. claims_run: this is the run's first image; if
// another process took the name meanwhile, the run moves to the next free number instead of overwriting
// (io::OutputExists otherwise).
std::filesystem::path write_image_and_record(io::OutputNamer& namer, int64_t index, const io::EncodedRecord& encoded,
                                             bool claims_run, const std::string& tag = "");

}  // namespace lace::jobs
