// compile(): resolves a parsed expression against the bundle's attributes into a tree of nodes;
// Energy: evaluates that tree on the classifier's logits with the chosen operator family.
#include "lace/energy/energy.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <ATen/ATen.h>

#include "lace/energy/terms.hpp"
#include "node.hpp"

namespace lace::energy {

using lace::model::Attribute;
using lace::model::AttributeKind;


namespace {

using detail::Node;
using NodePtr = std::shared_ptr<const Node>;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string range_text(const Attribute& a) {
  return "[" + format_number(a.range_min) + ", " + format_number(a.range_max) + "]";
}

// Resolves names against the attributes; collects the resolved tree and the canonical syntax tree.
class Compiler {
 public:
  explicit Compiler(const std::vector<Attribute>& attributes) : attributes_(attributes) {}

  struct Result {
    NodePtr node;
    ExprPtr expr;  // canonical form of the same sub-expression
  };

  Result compile(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Term: return term(e);
      case ExprKind::Not: {
        // NOT NOT x is x: the complement of the complement (and a no-op the sampler need not pay for).
        if (e.children[0]->kind == ExprKind::Not) return compile(*e.children[0]->children[0]);
        auto child = compile(*e.children[0]);
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::Not;
        node->children = {child.node};
        return {node, make_not(child.expr, e.column)};
      }
      case ExprKind::Weighted: {
        auto child = compile(*e.children[0]);
        auto node = std::make_shared<Node>();
        node->kind = Node::Kind::Weighted;
        node->weight = e.weight;
        node->children = {child.node};
        return {node, make_weighted(e.weight, child.expr, e.column)};
      }
      case ExprKind::And:
      case ExprKind::Or: {
        auto node = std::make_shared<Node>();
        node->kind = e.kind == ExprKind::And ? Node::Kind::And : Node::Kind::Or;
        std::vector<ExprPtr> exprs;
        for (const auto& c : e.children) {
          auto child = compile(*c);
          node->children.push_back(child.node);
          exprs.push_back(child.expr);
        }
        return {node, e.kind == ExprKind::And ? make_and(exprs, e.column) : make_or(exprs, e.column)};
      }
    }
    throw std::logic_error("unknown expression kind");
  }

  const std::vector<std::string>& names() const { return names_; }
  int64_t min_logits() const { return max_column_ + 1; }

 private:
  const Attribute& find(const Term& t, int column) const {
    for (const auto& a : attributes_)
      if (a.name == t.name) return a;
    std::vector<std::string> known;
    for (const auto& a : attributes_) known.push_back(a.name);
    throw ExpressionError("unknown attribute '" + t.name + "'; known attributes: " +
                              (known.empty() ? std::string("(none)") : join(known)),
                          column);
  }

  void check_columns(const Attribute& a, size_t expected, int column) {
    if (a.columns.size() != expected)
      throw ExpressionError("attribute '" + a.name + "' declares " + std::to_string(a.columns.size()) +
                                " logit columns, expected " + std::to_string(expected),
                            column);
    for (auto c : a.columns) {
      if (c < 0) throw ExpressionError("attribute '" + a.name + "' has a negative logit column", column);
      max_column_ = std::max(max_column_, c);
    }
  }

  Result term(const Expr& e) {
    const Term& t = e.term;
    const Attribute& a = find(t, e.column);
    if (std::find(names_.begin(), names_.end(), a.name) == names_.end()) names_.push_back(a.name);
    auto node = std::make_shared<Node>();
    Term canon;
    canon.name = a.name;
    const std::string written = t.has_value ? a.name + "=" + t.value : a.name;
    switch (a.kind) {
      case AttributeKind::Binary: {
        check_columns(a, 1, e.column);
        bool present = true;
        if (t.has_value) {
          const std::string word = lower(t.value);  // true/false in any case, like the keywords
          const bool is_true = t.numeric ? t.number == 1.0 : word == "true";
          const bool is_false = t.numeric ? t.number == 0.0 : word == "false";
          if (!is_true && !is_false)
            throw ExpressionError("'" + written + "': binary attribute '" + a.name +
                                      "' takes 1, 0, true or false (or no value, meaning 1)",
                                  e.column);
          present = is_true;
        }
        node->kind = Node::Kind::Binary;
        node->present = present;
        if (!present) {  // canonical: smile for present, smile=0 for absent
          canon.has_value = canon.numeric = true;
          canon.value = "0";
        }
        break;
      }
      case AttributeKind::Categorical: {
        check_columns(a, a.classes.size(), e.column);
        const std::string classes = join(a.classes);
        if (!t.has_value)
          throw ExpressionError("attribute '" + a.name + "' is categorical: write " + a.name + "=<class> (" +
                                    classes + ")",
                                e.column);
        // A class is matched by its name as written (or, for a number, also in its shortest form).
        auto it = std::find(a.classes.begin(), a.classes.end(), t.value);
        if (it == a.classes.end() && t.numeric) it = std::find(a.classes.begin(), a.classes.end(), format_number(t.number));
        if (it == a.classes.end())
          throw ExpressionError("unknown class '" + t.value + "' for attribute '" + a.name + "'; known classes: " +
                                    classes,
                                e.column);
        node->kind = Node::Kind::Categorical;
        node->class_index = it - a.classes.begin();
        canon.has_value = true;
        canon.value = *it;
        break;
      }
      case AttributeKind::Continuous: {
        check_columns(a, 1, e.column);
        if (!t.has_value || !t.numeric)
          throw ExpressionError("attribute '" + a.name + "' is continuous: write " + a.name +
                                    "=<value> with a value in " + range_text(a),
                                e.column);
        if (t.number < a.range_min || t.number > a.range_max)
          throw ExpressionError(a.name + "=" + format_number(t.number) + " is outside its range " + range_text(a),
                                e.column);
        if (!(a.sigma > 0))
          throw ExpressionError("attribute '" + a.name + "' has a non-positive sigma", e.column);
        node->kind = Node::Kind::Continuous;
        node->target = t.number;
        node->sigma = a.sigma;
        node->tolerance = a.tolerance;
        canon.has_value = canon.numeric = true;
        canon.number = t.number;
        canon.value = format_number(t.number);
        break;
      }
    }
    node->columns = a.columns;
    return {node, make_term(canon, e.column)};
  }

  const std::vector<Attribute>& attributes_;
  std::vector<std::string> names_;
  int64_t max_column_ = -1;
};

// The logits of one node's columns: [B] for one column, [B, K] for a categorical attribute.
torch::Tensor column(const torch::Tensor& logits, const Node& n) { return logits.select(1, n.columns[0]); }

torch::Tensor class_logits(const torch::Tensor& logits, const Node& n) {
  const auto index = at::tensor(n.columns, at::TensorOptions().dtype(at::kLong)).to(logits.device());
  return logits.index_select(1, index);
}

// g multiplies every discrete term's energy (its probability to the power g: guidance); a continuous
// target keeps its own sharpness, the bundle's sigma.
torch::Tensor evaluate(const Node& n, const torch::Tensor& logits, Operators ops, double g) {
  switch (n.kind) {
    case Node::Kind::Binary: return g * binary_energy(column(logits, n), n.present);
    case Node::Kind::Categorical: return g * categorical_energy(class_logits(logits, n), n.class_index);
    case Node::Kind::Continuous: return continuous_energy(column(logits, n), n.target, n.sigma);
    case Node::Kind::Weighted: return n.weight * evaluate(*n.children[0], logits, ops, g);
    case Node::Kind::Not: {
      const Node& child = *n.children[0];
      if (ops == Operators::Lace) return lace_not_energy(evaluate(child, logits, ops, g));
      // A discrete term's complement comes straight from the logits: exact, and never clamped.
      if (child.kind == Node::Kind::Binary) return g * binary_energy(column(logits, child), !child.present);
      if (child.kind == Node::Kind::Categorical)
        return g * categorical_not_energy(class_logits(logits, child), child.class_index);
      return exact_not_energy(evaluate(child, logits, ops, g));
    }
    case Node::Kind::And:
    case Node::Kind::Or: {
      std::vector<torch::Tensor> energies;
      for (const auto& c : n.children) energies.push_back(evaluate(*c, logits, ops, g));
      if (n.kind == Node::Kind::And) return and_energy(energies);
      return ops == Operators::Exact ? exact_or_energy(energies) : lace_or_energy(energies);
    }
  }
  throw std::logic_error("unknown node kind");
}

}  // namespace

Energy::Energy() = default;

torch::Tensor Energy::operator()(const torch::Tensor& logits, double discrete_scale) const {
  if (!logits.defined() || logits.dim() != 2)
    throw std::invalid_argument("energy: logits must be a [B, num_logits] tensor");
  if (!at::isFloatingType(logits.scalar_type()))
    throw std::invalid_argument("energy: logits must be floating point");
  // A sum over no columns: zeros of shape [B] that stay connected to the logits' graph.
  if (!root_) return logits.narrow(1, 0, 0).sum(1);
  if (logits.size(1) < min_logits_)
    throw std::invalid_argument("energy: '" + canonical_ + "' needs at least " + std::to_string(min_logits_) +
                                " logit columns, got " + std::to_string(logits.size(1)));
  // Half precision would lose the small probabilities the operators work with.
  const bool low = logits.scalar_type() == at::kHalf || logits.scalar_type() == at::kBFloat16;
  return evaluate(*root_, low ? logits.to(at::kFloat) : logits, ops_, discrete_scale);
}

bool Energy::unconditional() const { return root_ == nullptr; }
const std::string& Energy::canonical() const { return canonical_; }
std::vector<std::string> Energy::attribute_names() const { return names_; }

Energy compile(const std::string& expression, const std::vector<Attribute>& attributes, Operators ops) {
  Energy energy;
  energy.ops_ = ops;
  const auto parsed = parse(expression);
  if (!parsed) return energy;
  Compiler compiler(attributes);
  auto result = compiler.compile(*parsed);
  energy.root_ = result.node;
  energy.expr_ = result.expr;
  energy.canonical_ = to_string(result.expr);
  energy.names_ = compiler.names();
  energy.min_logits_ = compiler.min_logits();
  return energy;
}

}  // namespace lace::energy
