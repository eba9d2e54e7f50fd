#pragma once
// A correction of the generator's prior toward the data's mix of the discrete attributes.
//
// A generator draws its own joint of the attributes (the face bundle's ties beards to glasses), so
// p(z | c) ~ p(z) p(c | z)^g inherits that mix for every attribute c does not name. With r(cell) =
// p_data(cell) / p_generator(cell) over the cells of some discrete attributes (smile x glasses x ... x hair),
// the tilted prior p(z) r(cell(z)) draws the data's mix; the latent classifier reads the cell softly, so
//   E_prior(z) = -log sum_cell q(cell | logits) r(cell),   q = product of each attribute's probabilities.
// The ratio does not depend on the condition (p(cell | c) ratios differ from r by a constant), so one table
// serves every expression; the bundle stores log r (lace.json "prior", docs/bundle-format.md).

#include <string>
#include <vector>

#include <torch/types.h>

#include "lace/model/attribute.hpp"

namespace lace::energy {

class AttributePrior {
 public:
  // names: discrete attributes of `attributes`, in the table's order (the last varies fastest);
  // log_ratio: one log r per cell, prod(values of each attribute) of them. The bundle's manifest
  // validates both (model/manifest.cpp read_prior, with the field's path); here a name that is not a
  // discrete attribute or a table of the wrong size is a programming error (c10::Error).
  AttributePrior(const std::vector<std::string>& names, const std::vector<double>& log_ratio,
                 const std::vector<lace::model::Attribute>& attributes);

  // logits [B, num_logits] -> E_prior [B] (float32 for half inputs), differentiable w.r.t. logits.
  torch::Tensor operator()(const torch::Tensor& logits) const;

 private:
  // One table attribute: a binary's logit column, or a categorical's columns (on the CPU, built once:
  // the energy is read at every vector-field evaluation).
  struct Factor {
    bool binary;
    int64_t column;
    torch::Tensor columns;
  };
  std::vector<Factor> factors_;  // in the table's order
  torch::Tensor log_ratio_;      // [cells] float64 on the CPU
  torch::Tensor log_ratio_f_;    // the same in float32
};

}  // namespace lace::energy
