#pragma once
// Splits an expression into tokens. Columns are 1-based byte positions, used in every error message.

#include <string>
#include <vector>

namespace lace::energy {

enum class TokenKind { Name, Number, And, Or, Not, LParen, RParen, Star, Equals, End };

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;     // the source text ("" for End)
  double number = 0.0;  // Number only
  int column = 1;
};

// Names are [A-Za-z_][A-Za-z0-9_]*; AND, OR, NOT in any case are keywords, never names.
// Numbers: optional '-', digits with an optional fraction and exponent (2, 0.5, .5, 1e-3, -0.2).
// The last token is always End, at column text.size() + 1. Throws ParseError on a stray character.
std::vector<Token> tokenize(const std::string& text);

// How a token is quoted in messages: 'AND', 'glasses', or "end of expression".
std::string describe(const Token& token);

}  // namespace lace::energy
