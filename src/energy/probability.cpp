// Energy::probability: P(the condition holds | logits), by enumerating the values of the attributes the
// expression names (see energy.hpp for the model it assumes).
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "lace/energy/energy.hpp"
#include "lace/energy/terms.hpp"
#include "node.hpp"

namespace lace::energy {

using detail::Node;

namespace {

// One random variable of the enumeration: a discrete attribute (binary: values 0/1; categorical: its
// classes) or a continuous target (value 1: the target is met). probs: [B, values], rows sum to 1.
struct Variable {
  torch::Tensor probs;
};

class Enumeration {
 public:
  Enumeration(const Node& root, const torch::Tensor& logits) : logits_(logits) { collect(root); }

  int64_t combinations() const {
    int64_t total = 1;
    for (const auto& v : variables_) {
      total *= v.probs.size(1);
      if (total > Energy::kMaxEnumerated) return total;
    }
    return total;
  }

  // Sum over every combination of values in which the expression holds of the combination's probability.
  torch::Tensor probability(const Node& root) const {
    std::vector<int64_t> values(variables_.size(), 0);
    auto total = at::zeros({logits_.size(0)}, logits_.options());
    while (true) {
      if (holds(root, values)) {
        auto p = at::ones({logits_.size(0)}, logits_.options());
        for (size_t v = 0; v < variables_.size(); ++v) p = p * variables_[v].probs.select(1, values[v]);
        total = total + p;
      }
      size_t v = 0;  // next combination, the first variable fastest
      for (; v < variables_.size(); ++v) {
        if (++values[v] < variables_[v].probs.size(1)) break;
        values[v] = 0;
      }
      if (v == variables_.size()) return total;
    }
  }

 private:
  // A discrete attribute is one variable however often it is named (keyed by its first column); each
  // distinct continuous target (column, target, sigma) is one event.
  void collect(const Node& n) {
    for (const auto& c : n.children) collect(*c);
    const int64_t col = n.columns.empty() ? -1 : n.columns[0];
    switch (n.kind) {
      case Node::Kind::Binary: {
        const auto key = std::make_tuple(col, 0.0, 0.0);
        if (!index_.count(key)) {
          const auto l = logits_.select(1, col);  // sigmoid(-l), not 1 - sigmoid(l): exact near certainty
          add(key, at::stack({at::sigmoid(-l), at::sigmoid(l)}, 1));
        }
        node_variable_[&n] = index_.at(key);
        break;
      }
      case Node::Kind::Categorical: {
        const auto key = std::make_tuple(col, 0.0, 0.0);
        if (!index_.count(key)) {
          const auto index = at::tensor(n.columns, at::TensorOptions().dtype(at::kLong)).to(logits_.device());
          add(key, at::softmax(logits_.index_select(1, index), 1));
        }
        node_variable_[&n] = index_.at(key);
        break;
      }
      case Node::Kind::Continuous: {
        const auto key = std::make_tuple(col, n.target, n.sigma);
        if (!index_.count(key)) {
          const auto q = continuous_met(logits_.select(1, col), n.target, n.sigma, n.tolerance);
          add(key, at::stack({1 - q, q}, 1));
        }
        node_variable_[&n] = index_.at(key);
        break;
      }
      default: break;
    }
  }

  void add(const std::tuple<int64_t, double, double>& key, torch::Tensor probs) {
    index_[key] = variables_.size();
    variables_.push_back({std::move(probs)});
  }

  bool holds(const Node& n, const std::vector<int64_t>& values) const {
    switch (n.kind) {
      case Node::Kind::Binary: return (values[node_variable_.at(&n)] == 1) == n.present;
      case Node::Kind::Categorical: return values[node_variable_.at(&n)] == n.class_index;
      case Node::Kind::Continuous: return values[node_variable_.at(&n)] == 1;
      case Node::Kind::Weighted: return holds(*n.children[0], values);
      case Node::Kind::Not: return !holds(*n.children[0], values);
      case Node::Kind::And:
        for (const auto& c : n.children)
          if (!holds(*c, values)) return false;
        return true;
      case Node::Kind::Or:
        for (const auto& c : n.children)
          if (holds(*c, values)) return true;
        return false;
    }
    throw std::logic_error("unknown node kind");
  }

  torch::Tensor logits_;
  std::vector<Variable> variables_;
  std::map<std::tuple<int64_t, double, double>, size_t> index_;
  std::map<const Node*, size_t> node_variable_;
};

// Past kMaxEnumerated combinations: every subtree taken as independent of its siblings.
torch::Tensor independent_probability(const Node& n, const torch::Tensor& logits) {
  switch (n.kind) {
    case Node::Kind::Binary: {
      const auto l = logits.select(1, n.columns[0]);
      return at::sigmoid(n.present ? l : -l);
    }
    case Node::Kind::Categorical: {
      const auto index = at::tensor(n.columns, at::TensorOptions().dtype(at::kLong)).to(logits.device());
      return at::softmax(logits.index_select(1, index), 1).select(1, n.class_index);
    }
    case Node::Kind::Continuous:
      return continuous_met(logits.select(1, n.columns[0]), n.target, n.sigma, n.tolerance);
    case Node::Kind::Weighted: return independent_probability(*n.children[0], logits);
    case Node::Kind::Not: return 1 - independent_probability(*n.children[0], logits);
    case Node::Kind::And:
    case Node::Kind::Or: {
      const bool is_and = n.kind == Node::Kind::And;
      auto p = at::ones({logits.size(0)}, logits.options());
      for (const auto& c : n.children) {
        const auto q = independent_probability(*c, logits);
        p = p * (is_and ? q : 1 - q);
      }
      return is_and ? p : 1 - p;
    }
  }
  throw std::logic_error("unknown node kind");
}

}  // namespace

torch::Tensor Energy::probability(const torch::Tensor& logits) const {
  if (!logits.defined() || logits.dim() != 2)
    throw std::invalid_argument("probability: logits must be a [B, num_logits] tensor");
  if (!at::isFloatingType(logits.scalar_type()))
    throw std::invalid_argument("probability: logits must be floating point");
  if (!root_) return at::ones({logits.size(0)}, logits.options().dtype(at::kDouble));
  if (logits.size(1) < min_logits_)
    throw std::invalid_argument("probability: '" + canonical_ + "' needs at least " + std::to_string(min_logits_) +
                                " logit columns, got " + std::to_string(logits.size(1)));
  at::NoGradGuard no_grad;
  const auto x = logits.detach().to(at::kDouble);
  const Enumeration enumeration(*root_, x);
  if (enumeration.combinations() > kMaxEnumerated) return independent_probability(*root_, x);
  return enumeration.probability(*root_);
}

torch::Tensor Energy::least_probability(const torch::Tensor& readings) const {
  if (!readings.defined() || readings.dim() != 3)
    throw std::invalid_argument("least_probability: readings must be a [J, B, num_logits] tensor");
  const auto p = probability(readings.flatten(0, 1)).view({readings.size(0), readings.size(1)});
  return std::get<0>(p.min(0));
}

}  // namespace lace::energy
