// The expression language: tokens, accepted and rejected strings with their columns, precedence,
// weights and canonical printing.
#include <gtest/gtest.h>

#include <string>

#include "lace/energy/errors.hpp"
#include "lace/energy/expression.hpp"
#include "lace/energy/lexer.hpp"

using namespace lace::energy;

namespace {

// The column and message of the ParseError the text raises ("" and 0 if it parses).
std::pair<int, std::string> parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const ParseError& e) {
    return {e.column, e.what()};
  }
  return {0, ""};
}

std::string canonical(const std::string& text) { return to_string(parse(text)); }

}  // namespace

TEST(Lexer, KindsTextAndColumns) {
  const auto tokens = tokenize("  NOT(smile=0.5) aNd 2*x_1 Or hair=red");
  const std::vector<TokenKind> kinds = {TokenKind::Not,  TokenKind::LParen, TokenKind::Name,  TokenKind::Equals,
                                        TokenKind::Number, TokenKind::RParen, TokenKind::And, TokenKind::Number,
                                        TokenKind::Star, TokenKind::Name,   TokenKind::Or,    TokenKind::Name,
                                        TokenKind::Equals, TokenKind::Name, TokenKind::End};
  ASSERT_EQ(tokens.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(tokens[i].kind, kinds[i]) << "token " << i;
  EXPECT_EQ(tokens[0].column, 3);
  EXPECT_EQ(tokens[2].text, "smile");
  EXPECT_EQ(tokens[2].column, 7);
  EXPECT_DOUBLE_EQ(tokens[4].number, 0.5);
  EXPECT_EQ(tokens[6].text, "aNd");
  EXPECT_EQ(tokens[9].text, "x_1");
  EXPECT_EQ(tokens.back().column, 39);  // one past the end
}

TEST(Lexer, Numbers) {
  for (const auto& [text, value] : std::vector<std::pair<std::string, double>>{
           {"2", 2.0}, {"0.5", 0.5}, {".25", 0.25}, {"3.", 3.0}, {"1e-3", 1e-3}, {"2E+2", 200.0}, {"-0.2", -0.2}}) {
    const auto tokens = tokenize(text);
    ASSERT_EQ(tokens.size(), 2u) << text;
    EXPECT_EQ(tokens[0].kind, TokenKind::Number) << text;
    EXPECT_DOUBLE_EQ(tokens[0].number, value) << text;
  }
  // "1e" is the number 1 followed by the name e, not a broken exponent.
  const auto t = tokenize("1e");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[1].kind, TokenKind::Name);
  EXPECT_EQ(parse_error("1e999*smile").first, 1);
}

TEST(Parser, EmptyIsUnconditional) {
  EXPECT_EQ(parse(""), nullptr);
  EXPECT_EQ(parse(" \t \n"), nullptr);
  EXPECT_EQ(to_string(parse("")), "");
}

TEST(Parser, AcceptsTerms) {
  auto e = parse("smile");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ExprKind::Term);
  EXPECT_EQ(e->term.name, "smile");
  EXPECT_FALSE(e->term.has_value);

  e = parse("hair = blonde");
  EXPECT_TRUE(e->term.has_value);
  EXPECT_FALSE(e->term.numeric);
  EXPECT_EQ(e->term.value, "blonde");

  e = parse("age=0.7");
  EXPECT_TRUE(e->term.numeric);
  EXPECT_DOUBLE_EQ(e->term.number, 0.7);

  e = parse("yaw=-0.25");
  EXPECT_DOUBLE_EQ(e->term.number, -0.25);
}

TEST(Parser, KeywordsAnyCaseNamesVerbatim) {
  // Keywords ignore case; names are kept exactly as written (the compiler matches them case-sensitively).
  EXPECT_EQ(canonical("sMiLe and not Glasses"), "sMiLe AND NOT Glasses");
  EXPECT_EQ(canonical("smile AnD NoT glasses oR hair=red"), "(smile AND NOT glasses) OR hair=red");
  // A keyword can never be a name.
  EXPECT_EQ(parse_error("not").second, "column 4: unexpected end of expression");
  EXPECT_EQ(parse_error("Or").second, "column 1: unexpected 'Or'");
}

TEST(Parser, RejectsWithColumns) {
  struct Case {
    std::string text;
    int column;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"smile AND", 10, "column 10: unexpected end of expression"},
      {"(smile", 7, "column 7: expected ')' to close '(' at column 1"},
      {"smile AND (glasses OR hair=red", 31, "column 31: expected ')' to close '(' at column 11"},
      {"a AND (b OR c d", 15, "column 15: expected ')' to close '(' at column 7"},
      {"smile glasses", 7, "column 7: unexpected 'glasses'"},
      {"2*", 3, "column 3: unexpected end of expression"},
      {"hair=", 6, "column 6: expected a value after '=' (a class name, true/false or a number), got end of expression"},
      {"hair=AND smile", 6, "column 6: expected a value after '=' (a class name, true/false or a number), got 'AND'"},
      {"smile AND AND glasses", 11, "column 11: unexpected 'AND'"},
      {"AND", 1, "column 1: unexpected 'AND'"},
      {"smile)", 6, "column 6: unexpected ')' without a matching '('"},
      {"(smile))", 8, "column 8: unexpected ')' without a matching '('"},
      {"()", 2, "column 2: unexpected ')'"},
      {"2 smile", 3, "column 3: expected '*' after the weight 2"},
      {"2", 2, "column 2: expected '*' after the weight 2"},
      {"-2*smile", 1, "column 1: a weight must be non-negative, got -2"},
      {"smile & glasses", 7, "column 7: unexpected character '&'"},
      {"smile *", 7, "column 7: unexpected '*'"},
      {"=1", 1, "column 1: unexpected '='"},
      {"NOT", 4, "column 4: unexpected end of expression"},
      {"smile OR", 9, "column 9: unexpected end of expression"},
  };
  for (const auto& c : cases) {
    const auto [column, message] = parse_error(c.text);
    EXPECT_EQ(column, c.column) << c.text;
    EXPECT_EQ(message, c.message) << c.text;
  }
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(5000, '(') + "smile" + std::string(5000, ')');
  EXPECT_NE(parse_error(deep).second.find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  EXPECT_NE(parse_error(nots + "smile").second.find("nested too deeply"), std::string::npos);
  // Moderate nesting is fine.
  EXPECT_TRUE(parse(std::string(50, '(') + "smile" + std::string(50, ')')));
}

TEST(Parser, Precedence) {
  EXPECT_TRUE(equal(parse("a OR b AND c"), parse("a OR (b AND c)")));
  EXPECT_FALSE(equal(parse("a OR b AND c"), parse("(a OR b) AND c")));
  EXPECT_TRUE(equal(parse("a AND b OR c AND d"), parse("(a AND b) OR (c AND d)")));
  EXPECT_TRUE(equal(parse("NOT a AND b"), parse("(NOT a) AND b")));
  EXPECT_TRUE(equal(parse("NOT a OR b"), parse("(NOT a) OR b")));
  EXPECT_TRUE(equal(parse("2*a AND b"), parse("(2*a) AND b")));
  EXPECT_TRUE(equal(parse("NOT 2*a"), parse("NOT (2*a)")));
  EXPECT_TRUE(equal(parse("2*NOT a"), parse("2*(NOT a)")));

  const auto e = parse("a OR b AND c");
  ASSERT_EQ(e->kind, ExprKind::Or);
  ASSERT_EQ(e->children.size(), 2u);
  EXPECT_EQ(e->children[1]->kind, ExprKind::And);
}

TEST(Parser, NaryAndParenthesesKeepNesting) {
  const auto flat = parse("a AND b AND c");
  ASSERT_EQ(flat->kind, ExprKind::And);
  EXPECT_EQ(flat->children.size(), 3u);

  const auto nested = parse("(a AND b) AND c");
  ASSERT_EQ(nested->kind, ExprKind::And);
  ASSERT_EQ(nested->children.size(), 2u);
  EXPECT_EQ(nested->children[0]->kind, ExprKind::And);
  EXPECT_FALSE(equal(flat, nested));

  const auto ors = parse("a OR b OR c OR d");
  EXPECT_EQ(ors->children.size(), 4u);
  // Redundant parentheses around one term disappear.
  EXPECT_TRUE(equal(parse("((a))"), parse("a")));
}

TEST(Parser, Weights) {
  auto e = parse("0.5*(glasses OR hat)");
  ASSERT_EQ(e->kind, ExprKind::Weighted);
  EXPECT_DOUBLE_EQ(e->weight, 0.5);
  EXPECT_EQ(e->children[0]->kind, ExprKind::Or);
  e = parse("0*smile");
  EXPECT_EQ(e->weight, 0.0);
  e = parse("2*3*smile");
  EXPECT_EQ(e->weight, 2.0);
  EXPECT_EQ(e->children[0]->weight, 3.0);
}

TEST(Parser, Columns) {
  const auto e = parse("smile AND NOT (glasses OR hair=red)");
  EXPECT_EQ(e->column, 1);
  EXPECT_EQ(e->children[1]->column, 11);                // NOT
  EXPECT_EQ(e->children[1]->children[0]->column, 16);   // the OR's first operand
}

TEST(Canonical, Printing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"smile", "smile"},
      {"  smile   and    glasses ", "smile AND glasses"},
      {"smile=1.0", "smile=1"},
      {"smile=true", "smile=true"},
      {"age=.50", "age=0.5"},
      {"1e-3*smile", "0.001*smile"},
      {"2*smile", "2*smile"},
      {"2*(smile)", "2*smile"},
      {"0.5*(glasses OR hat)", "0.5*(glasses OR hat)"},
      {"a OR b AND c", "a OR (b AND c)"},
      {"(a OR b) AND c", "(a OR b) AND c"},
      {"(smile AND glasses) AND NOT beard", "(smile AND glasses) AND NOT beard"},
      {"a AND b AND c", "a AND b AND c"},
      {"a OR (b OR c)", "a OR (b OR c)"},
      {"not not a", "NOT NOT a"},
      {"NOT (a AND b)", "NOT (a AND b)"},
      {"NOT 2*a", "NOT 2*a"},
      {"2*NOT a", "2*NOT a"},
      {"NOT(hair=red)", "NOT hair=red"},
  };
  for (const auto& [text, expected] : cases) {
    const auto e = parse(text);
    EXPECT_EQ(to_string(e), expected) << text;
    // Round trip: the canonical text parses back to the same tree.
    EXPECT_TRUE(equal(parse(to_string(e)), e)) << text;
  }
}

TEST(Canonical, FormatNumber) {
  EXPECT_EQ(format_number(2.0), "2");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(0.7), "0.7");
  EXPECT_EQ(format_number(-0.25), "-0.25");
  EXPECT_EQ(format_number(1e-6), "1e-06");
  const double third = 1.0 / 3.0;
  EXPECT_EQ(parse(format_number(third) + "*a")->weight, third);
}
