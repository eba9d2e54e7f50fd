#pragma once
// A compiled condition: maps the latent classifier's logits to E = -log p(condition | z).
// compile() resolves an expression against a bundle's attributes; Energy evaluates it.

#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lace/energy/errors.hpp"
#include "lace/energy/expression.hpp"
#include "lace/energy/operators.hpp"
#include "lace/model/attribute.hpp"

namespace lace::energy {

namespace detail {
struct Node;  // the resolved tree (energy.cpp)
}

class Energy {
 public:
  Energy();  // unconditional

  // logits: [B, num_logits], any floating dtype and device -> energy [B], differentiable w.r.t. logits.
  // Half and bfloat16 are computed, and returned, in float32. Throws std::invalid_argument on a bad shape.
  // discrete_scale g multiplies each binary and categorical term's energy (p^g: the guidance scale) and
  // leaves continuous targets as they are (their sharpness is the bundle's sigma).
  torch::Tensor operator()(const torch::Tensor& logits, double discrete_scale = 1.0) const;

  // The probability that the condition holds, P(c | logits) [B] in float64 on the logits' device, no
  // gradient: attributes independent given the logits (the classifier's factorisation), a categorical
  // attribute's classes exclusive, a continuous target an event of probability exp(-(x - t)^2 / 2 sigma^2),
  // or, where the attribute has a tolerance, exp(-d^2 / 2 sigma^2), d = max(0, |x - t| - tolerance).
  // Without OR, with each attribute named once and no tolerance, this is exp(-E) of the exact energy; OR gives
  // P(at least one holds), where the exact energy's OR is a mixture (the mean of its operands' probabilities). Weights do not change what holds. Exact by
  // enumerating the attributes' values, up to kMaxEnumerated combinations; beyond that, subtrees are
  // taken as independent (AND multiplies, OR is 1 - prod(1 - p)). 1 when unconditional.
  torch::Tensor probability(const torch::Tensor& logits) const;
  // Several readings of the same images, [J, B, num_logits] (a verifier's judges): the least of their P [B],
  // i.e. how surely every reading finds the condition met.
  torch::Tensor least_probability(const torch::Tensor& readings) const;
  static constexpr int64_t kMaxEnumerated = 4096;

  bool unconditional() const;                          // empty expression
  const std::string& canonical() const;                // e.g. "(smile AND glasses) AND NOT beard"
  std::vector<std::string> attribute_names() const;    // attributes mentioned, in order of first use
  Operators operators() const { return ops_; }
  const ExprPtr& expression() const { return expr_; }  // the resolved tree canonical() prints; null if unconditional

 private:
  friend Energy compile(const std::string&, const std::vector<lace::model::Attribute>&, Operators);

  std::shared_ptr<const detail::Node> root_;
  ExprPtr expr_;
  std::string canonical_;
  std::vector<std::string> names_;
  Operators ops_ = Operators::Exact;
  int64_t min_logits_ = 0;  // 1 + the largest column used
};

// Parses and resolves the expression. Terms are normalised (smile=1 and smile=true print as smile,
// smile=false as smile=0) and NOT NOT x becomes x. Throws ParseError or ExpressionError.
Energy compile(const std::string& expression, const std::vector<lace::model::Attribute>& attributes,
               Operators ops = Operators::Exact);

}  // namespace lace::energy
