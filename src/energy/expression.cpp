// Building, printing and comparing syntax trees.
#include "lace/energy/expression.hpp"

#include <charconv>
#include <stdexcept>

namespace lace::energy {
namespace {

std::shared_ptr<Expr> make(ExprKind kind, std::vector<ExprPtr> children, int column) {
  for (const auto& c : children)
    if (!c) throw std::invalid_argument("expression operand is null");
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  e->children = std::move(children);
  e->column = column;
  return e;
}

bool is_nary(const Expr& e) { return e.kind == ExprKind::And || e.kind == ExprKind::Or; }

// Operands that are themselves AND/OR get parentheses: always needed to keep the nesting of an
// OR inside an AND or of a parenthesised group, and clearer for an AND inside an OR.
std::string operand(const Expr& e) { return is_nary(e) ? "(" + to_string(e) + ")" : to_string(e); }

}  // namespace

ExprPtr make_term(Term term, int column) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::Term;
  e->term = std::move(term);
  e->column = column;
  return e;
}

ExprPtr make_not(ExprPtr child, int column) { return make(ExprKind::Not, {std::move(child)}, column); }

ExprPtr make_weighted(double weight, ExprPtr child, int column) {
  if (!(weight >= 0)) throw std::invalid_argument("a weight must be non-negative");
  auto e = make(ExprKind::Weighted, {std::move(child)}, column);
  e->weight = weight + 0.0;  // -0 becomes 0
  return e;
}

ExprPtr make_and(std::vector<ExprPtr> children, int column) {
  if (children.size() < 2) throw std::invalid_argument("AND needs at least two operands");
  return make(ExprKind::And, std::move(children), column);
}

ExprPtr make_or(std::vector<ExprPtr> children, int column) {
  if (children.size() < 2) throw std::invalid_argument("OR needs at least two operands");
  return make(ExprKind::Or, std::move(children), column);
}

std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round-trip form
  return std::string(buffer, result.ptr);
}

std::string to_string(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Term: {
      if (!e.term.has_value) return e.term.name;
      return e.term.name + "=" + (e.term.numeric ? format_number(e.term.number) : e.term.value);
    }
    case ExprKind::Not: return "NOT " + operand(*e.children[0]);
    case ExprKind::Weighted: return format_number(e.weight) + "*" + operand(*e.children[0]);
    case ExprKind::And:
    case ExprKind::Or: {
      const char* op = e.kind == ExprKind::And ? " AND " : " OR ";
      std::string out;
      for (size_t i = 0; i < e.children.size(); ++i) out += (i ? op : "") + operand(*e.children[i]);
      return out;
    }
  }
  return "";
}

std::string to_string(const ExprPtr& e) { return e ? to_string(*e) : std::string(); }

bool equal(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.children.size() != b.children.size()) return false;
  if (a.kind == ExprKind::Term) {
    const auto &s = a.term, &t = b.term;
    if (s.name != t.name || s.has_value != t.has_value) return false;
    if (!s.has_value) return true;
    return s.numeric == t.numeric && (s.numeric ? s.number == t.number : s.value == t.value);
  }
  if (a.kind == ExprKind::Weighted && a.weight != b.weight) return false;
  for (size_t i = 0; i < a.children.size(); ++i)
    if (!equal(*a.children[i], *b.children[i])) return false;
  return true;
}

bool equal(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) return !a && !b;
  return equal(*a, *b);
}

}  // namespace lace::energy
