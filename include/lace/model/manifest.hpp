#pragma once
// The bundle manifest (lace.json): what a model folder holds and the shapes lace expects of it.
// Format documented in docs/bundle-format.md.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lace/model/attribute.hpp"

namespace lace::model {

// Anything wrong with a bundle: a missing file, a bad manifest, a module of the wrong shape.
// The message names the file and the mismatch.
class BundleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kManifestVersion = 1;

struct GeneratorSpec {
  std::string file;  // TorchScript module with methods mapping(z) and synthesis(ws)
  int64_t z_dim = 0;
  int64_t w_dim = 0;
  int64_t num_ws = 0;      // copies of w that synthesis takes, one per layer
  int64_t resolution = 0;  // synthesis returns [B, channels, resolution, resolution]
  int64_t channels = 3;
};

// Where the mean w (the centre of truncation) comes from.
struct WAvgSpec {
  enum class Source { Buffer, Estimate } source = Source::Buffer;
  std::string name = "w_avg";  // Buffer: attribute of the generator module
  int64_t samples = 10000;     // Estimate: mean of mapping(z) over this many z
  uint64_t seed = 0;
};

struct ClassifierSpec {
  std::string file;  // TorchScript module: forward(w [B, w_dim]) -> logits [B, num_logits]
  int64_t num_logits = 0;
};

// Optional "verifier": an image classifier with the latent classifier's columns (the attributes' columns
// index both), forward(images [B, channels, resolution, resolution] in [-1, 1]) -> logits [B, num_logits].
// With --min-p, lace sample also reads each image with it and solves again where it disagrees.
// "judges": J > 1 makes it several classifiers in one module, forward -> [B, J, num_logits]: a condition then
// counts as met only as far as every judge reads it met (the least P), and a polish follows the sum of the
// judges' energies. Why: the mean of two networks' logits meets a continuous target when one reads it too
// high and the other too low, and a polish that follows the mean learns to pull them apart.
struct VerifierSpec {
  std::string file;
  int64_t num_logits = 0;
  int64_t judges = 1;
};

// The weights of an editing step's energy (sampling::EditEnergy, docs/edit.md), set to the authors'
// values (LACE.md); `keep` is lace's own term, off in their recipe. keep_sigma is the keep term's width for
// continuous attributes (free within 2 keep_sigma of the held value, then quadratic at that scale); 0 takes each
// attribute's own sigma. Why its own: the sigma that makes a target easy to reach (wide) is not the band an
// unedited attribute may drift in (narrow).
struct EditWeights {
  double previous = 0.1;
  double newest = 1.0;
  double newest_continuous = 10.0;
  double reg_z = 0.04;
  double reg_logits = 0.01;
  double keep = 0.0;
  double keep_sigma = 0.0;
};

// Settings of `lace edit`. Flags, the sequence file and the bundle's optional "editing" section each set
// what they name, in that order of precedence; whatever none sets keeps EditWeights' default
// (truncation: the bundle's default).
struct EditSettings {
  std::optional<double> truncation;
  std::optional<double> previous, newest, newest_continuous, reg_z, reg_logits, keep, keep_sigma;  // the energy's weights
  // A step where a condition set so far, or an attribute none names, reads below min_p (the verifier reads the
  // image when there is one, else the latent classifier reads w) is solved again from the previous step with
  // every condition's weight and the keep term's doubled per try, up to `tries` solves in all (0: off).
  std::optional<double> min_p;
  std::optional<int64_t> tries;
  // Continuous targets read within this distance count as met in the probability min_p reads (and the
  // records' p), at least each attribute's own tolerance; the energy is unchanged. Only what "met" means:
  // without it, P >= 0.9 asks for a reading within about sigma / 2, finer than an image classifier reads.
  std::optional<double> tolerance;
  // Rows still below min_p after their tries are polished: this many gradient steps on z against the same
  // energy read by the verifier on the step's image (through the generator) instead of by the latent
  // classifier; a row keeps the polished z only where min_p's reading rises (0: off; needs a verifier).
  std::optional<int64_t> polish;
};

// Every weight once: the name lace.json, sequence files and records give it, the lace edit flag that
// sets it, and where it lives in EditSettings and in EditWeights.
struct EditWeightField {
  const char* name;
  const char* flag;
  std::optional<double> EditSettings::*setting;
  double EditWeights::*weight;
};
const std::vector<EditWeightField>& edit_weight_fields();
std::set<std::string> edit_weight_names();

// lace.json and sequence files refuse fields they do not define: for the first key of `object` outside
// `known`, "unknown field 'x' (known: a, b)"; empty when every key is known.
std::string unknown_field(const nlohmann::json& object, const std::set<std::string>& known);

// Optional "prior": the correction of the generator's mix of discrete attributes toward the data's
// (energy::AttributePrior): the attributes whose cells it weighs, log(p_data / p_generator) per cell (the last
// attribute varying fastest; a categorical attribute's cells in the order of its classes, a binary one's
// absent then present) and the weight lace sample gives it by default (--prior-weight; 0 = off).
struct PriorSpec {
  std::vector<std::string> attributes;
  std::vector<double> log_ratio;
  double weight = 1.0;
};

struct Manifest {
  int version = kManifestVersion;
  std::string name;
  std::string description;
  GeneratorSpec generator;
  double default_truncation = 1.0;
  double default_guidance = 1.0;  // optional "sampling": {"guidance": g}: the scale lace sample uses by default
  double default_min_p = 0.0;     // optional "sampling": {"min_p": p, "tries": k}: lace sample's --min-p, --tries
  int64_t default_tries = 4;
  EditSettings editing;           // optional "editing": {"truncation": psi, "weights": {...}}: lace edit's defaults
  WAvgSpec w_avg;
  ClassifierSpec classifier;
  std::optional<VerifierSpec> verifier;
  // Optional "editing": {"verifier": {...}}: the image classifier lace edit reads with in place of `verifier`
  // (the face bundle's: the mean of two classifiers' logits, whose gradient the polish follows).
  std::optional<VerifierSpec> edit_verifier;
  std::vector<Attribute> attributes;
  std::optional<PriorSpec> prior;

  const Attribute* find(const std::string& attribute_name) const;
};

// Reads and validates <dir>/lace.json. Throws BundleError("<path>: <field>: <problem>").
Manifest read_manifest(const std::filesystem::path& dir);

}  // namespace lace::model
