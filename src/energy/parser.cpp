// Recursive-descent parser for the grammar in expression.hpp (precedence NOT/weight > AND > OR).
#include <string>
#include <vector>

#include "lace/energy/errors.hpp"
#include "lace/energy/expression.hpp"
#include "lace/energy/lexer.hpp"

namespace lace::energy {
namespace {

// Deep enough for any hand-written condition; stops a hostile input from overflowing the stack.
constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  ExprPtr parse_all() {
    if (peek().kind == TokenKind::End) return nullptr;
    auto expr = parse_or();
    const auto& t = peek();
    if (t.kind == TokenKind::RParen) throw ParseError(t.column, "unexpected ')' without a matching '('");
    if (t.kind != TokenKind::End) unexpected(t);
    return expr;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_++]; }

  [[noreturn]] static void unexpected(const Token& t) {
    throw ParseError(t.column, "unexpected " + describe(t));
  }

  ExprPtr parse_or() {
    const int column = peek().column;
    std::vector<ExprPtr> operands{parse_and()};
    while (peek().kind == TokenKind::Or) {
      next();
      operands.push_back(parse_and());
    }
    return operands.size() == 1 ? operands[0] : make_or(std::move(operands), column);
  }

  ExprPtr parse_and() {
    const int column = peek().column;
    std::vector<ExprPtr> operands{parse_unary()};
    while (peek().kind == TokenKind::And) {
      next();
      operands.push_back(parse_unary());
    }
    return operands.size() == 1 ? operands[0] : make_and(std::move(operands), column);
  }

  ExprPtr parse_unary() {
    const Token& t = peek();
    if (++depth_ > kMaxDepth) throw ParseError(t.column, "expression nested too deeply");
    ExprPtr expr;
    if (t.kind == TokenKind::Not) {
      next();
      expr = make_not(parse_unary(), t.column);
    } else if (t.kind == TokenKind::Number) {
      next();
      if (peek().kind != TokenKind::Star)
        throw ParseError(peek().column, "expected '*' after the weight " + t.text);
      next();
      if (t.number < 0) throw ParseError(t.column, "a weight must be non-negative, got " + t.text);
      expr = make_weighted(t.number, parse_unary(), t.column);
    } else {
      expr = parse_primary();
    }
    --depth_;
    return expr;
  }

  ExprPtr parse_primary() {
    const Token& t = next();
    if (t.kind == TokenKind::LParen) {
      auto inner = parse_or();
      if (peek().kind != TokenKind::RParen)
        throw ParseError(peek().column, "expected ')' to close '(' at column " + std::to_string(t.column));
      next();
      return inner;
    }
    if (t.kind != TokenKind::Name) unexpected(t);
    Term term;
    term.name = t.text;
    if (peek().kind == TokenKind::Equals) {
      next();
      const Token& v = next();
      if (v.kind != TokenKind::Name && v.kind != TokenKind::Number)
        throw ParseError(v.column, "expected a value after '=' (a class name, true/false or a number), got " +
                                       describe(v));
      term.has_value = true;
      term.numeric = v.kind == TokenKind::Number;
      term.value = v.text;
      term.number = v.number;
    }
    return make_term(std::move(term), t.column);
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

ExprPtr parse(const std::string& text) { return Parser(tokenize(text)).parse_all(); }

}  // namespace lace::energy
