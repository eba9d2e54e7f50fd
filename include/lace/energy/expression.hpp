#pragma once
// The syntax tree of a condition, independent of any bundle: names are resolved later by compile().
//
//   expr     := or
//   or       := and { OR and }
//   and      := unary { AND unary }
//   unary    := NOT unary | NUMBER '*' unary | primary
//   primary  := term | '(' expr ')'
//   term     := NAME [ '=' ( NAME | NUMBER ) ]

#include <memory>
#include <string>
#include <vector>

namespace lace::energy {

enum class ExprKind { Term, Not, Weighted, And, Or };

// An attribute reference: `smile`, `smile=0`, `hair=blonde`, `age=0.7`.
struct Term {
  std::string name;
  bool has_value = false;
  bool numeric = false;  // the value is a number, held in `number`
  std::string value;     // the value's source text (a class name, true/false, or the number's text)
  double number = 0.0;
};

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;  // immutable, so trees can share subtrees

struct Expr {
  ExprKind kind = ExprKind::Term;
  int column = 1;                 // where it starts in the source, for messages
  Term term;                      // Term
  double weight = 1.0;            // Weighted
  std::vector<ExprPtr> children;  // Not/Weighted: one; And/Or: two or more, in order
};

ExprPtr make_term(Term term, int column = 1);
ExprPtr make_not(ExprPtr child, int column = 1);
ExprPtr make_weighted(double weight, ExprPtr child, int column = 1);
ExprPtr make_and(std::vector<ExprPtr> children, int column = 1);
ExprPtr make_or(std::vector<ExprPtr> children, int column = 1);

// Parses the text; the empty (or all-whitespace) expression gives nullptr, "unconditional".
// Parentheses are kept as nesting: "(a AND b) AND c" is AND(AND(a, b), c), "a AND b AND c" is AND(a, b, c).
// Throws ParseError.
ExprPtr parse(const std::string& text);

// Canonical text: upper-case keywords, single spaces, no redundant parentheses except around an
// AND/OR inside another operator, numbers in their shortest exact form. parse(to_string(e)) equals e.
std::string to_string(const Expr& expr);
std::string to_string(const ExprPtr& expr);  // "" for nullptr

// Structural equality (columns ignored).
bool equal(const Expr& a, const Expr& b);
bool equal(const ExprPtr& a, const ExprPtr& b);

// Shortest text that reads back as the same double ("2", "0.5", "1e-06"); locale-independent.
std::string format_number(double value);

}  // namespace lace::energy
