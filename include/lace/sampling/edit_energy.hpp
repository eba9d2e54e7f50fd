#pragma once
// The energy of one step of sequential editing (LACE's recipe; docs/edit.md). From the previous step's
// latent z_a, the VP-ODE follows
//   E(z) = sum_k weight_k E_k(f(w(z)))                             every condition set so far
//        + reg_z (||w(z) - w(z_a)||^2 + ||z - z_a||^2)               stay close to the previous step
//        + reg_logits sum_{j kept} (f_j(w(z)) - f_j(w(z_a)))^2       attributes not yet edited keep their logits
//        + keep sum_{j kept, discrete} -log p_j(y_j | w(z))           ... and their class y_j at z_a
//        + keep sum_{j kept, continuous} max(0, |f_j(w(z)) - v_j| - 2 s_j)^2 / (2 s_j^2)  ... and their value v_j
// (s_j: weights.keep_sigma, or where that is 0 the attribute's own sigma)
// with f the latent classifier and w(z) the truncated mapping. Earlier conditions weigh `previous`, the
// newest `newest`, or `newest_continuous` when it sets a continuous attribute. The keep term is lace's,
// not the authors' (0 = their recipe): unlike the squared logits its pull fades once the class is safe,
// so it holds a class firmly without stiffening the ODE. y_j is the class the latent classifier reads at
// z_a, or, given held_logits (an image verifier's reading of the previous step's image), the class the
// image shows: where the two disagree, holding the latent classifier's class would change what is seen.
// A continuous attribute is held at v_j, given in held_values (lace edit: the latent classifier's value at
// the first image, or when a step last named the attribute; else its value at z_a), within two s_j free of
// pull: holding the previous step's value would let small drifts add up over the
// steps (the face bundle's glasses and beard edits each aged faces by 0.02-0.07).
// Given reading_shift s, the conditions and the keep term read f - s instead of f (the distance regularizers
// and reg_logits still read f): a `--min-p` retry's correction for where the latent classifier and an image
// verifier disagree, s = f - v on its best try so far (v the verifier's logits on that try's image). Where
// the image reads yaw 0.2 more than the latent classifier, yaw=0 aims the latent classifier at -0.2; where
// the latent classifier reads a smile logit of -4 and the image -1, NOT smile keeps pushing past -4; and a
// held class or value is held as the image shows it (then pass the verifier's values as held_values).

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "lace/energy/energy.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/energy_function.hpp"

namespace lace::sampling {

using model::EditWeights;  // the weights, with the authors' defaults, live beside the settings that set them

class EditEnergy : public EnergyFunction {
 public:
  // conditions: oldest first, the newest last (at least one). z_anchor: [B, z_dim], the previous step.
  // held_logits: [B, num_logits] whose classes the keep term holds (default: the latent classifier's at z_a).
  // held_values: [B, num_logits] whose continuous values it holds (default: the latent classifier's at z_a).
  // reading_shift: [B, num_logits] subtracted from the logits the conditions and the keep term read (default: none).
  EditEnergy(const model::Bundle& bundle, double truncation, std::vector<energy::Energy> conditions,
             torch::Tensor z_anchor, const EditWeights& weights, const torch::Tensor& held_logits = {},
             const torch::Tensor& held_values = {}, const torch::Tensor& reading_shift = {});

  // Read the image instead of w (lace edit's polish): the conditions and the keep term read the verifier's
  // logits on the step's image, drawn from ws_previous [B, num_ws, w_dim] with `layers` set to w(z) (step_ws),
  // and reg_logits holds those logits at the held ones; the gradient runs through the generator. Needs the
  // bundle's verifier and no reading_shift (the image is what the shift stood in for). A verifier of several
  // judges: the conditions' energy is the sum of each judge's, the keep term and reg_logits read their mean.
  void read_images(const torch::Tensor& ws_previous, std::vector<int64_t> layers);

  EnergyAndGradient energy_and_gradient(const torch::Tensor& z, const torch::Tensor& rows = {}) const override;
  torch::Tensor energy(const torch::Tensor& z) const;  // [B] for the whole batch, no gradient

  const std::vector<double>& condition_weights() const { return condition_weights_; }
  const std::vector<int64_t>& kept_columns() const { return kept_columns_; }

 private:
  torch::Tensor total(const torch::Tensor& z, const torch::Tensor& rows) const;
  // The keep term: each untouched discrete attribute's class and continuous attribute's value, row by row.
  void hold(const torch::Tensor& class_logits, const torch::Tensor& values,
            const std::vector<model::Attribute>& attributes);

  const model::Bundle& bundle_;
  double truncation_;
  std::vector<energy::Energy> conditions_;
  std::vector<double> condition_weights_;
  std::vector<int64_t> kept_columns_;
  EditWeights weights_;
  torch::Tensor kept_index_;                         // kept_columns_ as a tensor on the anchor's device
  torch::Tensor z_anchor_, w_anchor_, kept_anchor_;  // [B, z_dim], [B, w_dim], [B, kept]
  torch::Tensor shift_;                              // [B, num_logits] or undefined
  torch::Tensor held_;                               // [B, num_logits]: the held classes' logits
  torch::Tensor ws_previous_;                        // read_images: [B, num_ws, w_dim], else undefined
  std::vector<int64_t> layers_;
  // The keep term's classes at z_a (only when weights.keep > 0): binary attributes' columns [nb] and
  // presence [B, nb]; each categorical one's columns and class [B]; continuous ones' columns [nc], values
  // [B, nc] and sigmas [nc].
  torch::Tensor keep_binary_columns_, keep_binary_present_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> keep_categorical_;
  torch::Tensor keep_continuous_columns_, keep_continuous_values_, keep_continuous_sigmas_;
};

// The conditions a new step keeps from the earlier ones: a later step that names an attribute supersedes
// what earlier steps asked of it (`yaw=-0.6` then `yaw=0` ends at 0, not pulled to -0.3 between them).
// Each earlier condition keeps its AND-terms that name none of the new step's attributes; a term that
// names one inside OR, NOT or a weight goes whole; a condition with nothing left goes. Then the new step.
std::vector<energy::Energy> supersede(const std::vector<energy::Energy>& earlier, const energy::Energy& newest,
                                      const std::vector<model::Attribute>& attributes);

// Logit columns of the attributes that none of the conditions mentions, in column order.
std::vector<int64_t> untouched_columns(const std::vector<energy::Energy>& conditions,
                                       const std::vector<model::Attribute>& attributes);

// For each attribute no condition names (in manifest order, as `names`): how surely `logits` still read
// it as held, row by row. A discrete attribute holds its class in `class_logits` (binary: present when the
// logit is > 0): 1 while that class is still the top one, else its probability (below 1/2 for a binary
// one), so an unsure but unchanged reading is not a failure. A continuous one holds its value in `values`:
// exp(-d^2 / 2 s^2), d the distance beyond the larger of its tolerance and 2 s (where the keep term stops
// pulling), s = keep_sigma or, where that is 0, the attribute's sigma. All [B, num_logits]; the result is [B, names.size()], float64 on the CPU. What lace
// edit's min_p checks besides the conditions: "attributes never edited keep their label" (docs/edit.md).
struct KeptReading {
  std::vector<std::string> names;
  torch::Tensor p;
};
KeptReading kept_probabilities(const torch::Tensor& logits, const torch::Tensor& class_logits,
                               const torch::Tensor& values, const std::vector<energy::Energy>& conditions,
                               const std::vector<model::Attribute>& attributes, double keep_sigma);

// A step's w+: the previous one with `layers` set to the new w [B, w_dim] (StyleFlow's subset selection);
// the other layers keep theirs.
torch::Tensor step_ws(const torch::Tensor& ws_previous, const torch::Tensor& w, const std::vector<int64_t>& layers);

// Does the condition set a continuous attribute (then its step weighs newest_continuous)?
bool sets_continuous(const energy::Energy& condition, const std::vector<model::Attribute>& attributes);

// The w+ layers an edit with this condition changes: the union of its attributes' `layers`, or every
// layer when one of them lists none. Sorted.
std::vector<int64_t> edited_layers(const energy::Energy& condition, const std::vector<model::Attribute>& attributes,
                                   int64_t num_ws);

}  // namespace lace::sampling
