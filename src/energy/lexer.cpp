#include "lace/energy/lexer.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include "lace/energy/errors.hpp"

namespace lace::energy {
namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Length of the number starting at i (0 if none): -?(digits[.digits*] | .digits)([eE][+-]?digits)?
size_t number_length(const std::string& s, size_t i) {
  size_t j = i;
  if (j < s.size() && s[j] == '-') ++j;
  size_t digits = 0;
  while (j < s.size() && is_digit(s[j])) ++j, ++digits;
  if (j < s.size() && s[j] == '.') {
    ++j;
    while (j < s.size() && is_digit(s[j])) ++j, ++digits;
  }
  if (digits == 0) return 0;
  // An exponent only counts when digits follow, so "1e" is the number 1 and the name e.
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && is_digit(s[k])) {
      while (k < s.size() && is_digit(s[k])) ++k;
      j = k;
    }
  }
  return j - i;
}

}  // namespace

std::vector<Token> tokenize(const std::string& text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const int column = static_cast<int>(i) + 1;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token token;
    token.column = column;
    if (is_name_start(c)) {
      size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) ++j;
      token.text = text.substr(i, j - i);
      const auto word = upper(token.text);
      token.kind = word == "AND" ? TokenKind::And
                   : word == "OR" ? TokenKind::Or
                   : word == "NOT" ? TokenKind::Not
                                   : TokenKind::Name;
      i = j;
    } else if (const size_t n = number_length(text, i); n > 0) {
      token.kind = TokenKind::Number;
      token.text = text.substr(i, n);
      // from_chars ignores the locale, unlike strtod.
      const auto result = std::from_chars(token.text.data(), token.text.data() + n, token.number);
      if (result.ec != std::errc() || !std::isfinite(token.number))
        throw ParseError(column, "number '" + token.text + "' is out of range");
      i += n;
    } else {
      switch (c) {
        case '(': token.kind = TokenKind::LParen; break;
        case ')': token.kind = TokenKind::RParen; break;
        case '*': token.kind = TokenKind::Star; break;
        case '=': token.kind = TokenKind::Equals; break;
        default: throw ParseError(column, std::string("unexpected character '") + c + "'");
      }
      token.text = std::string(1, c);
      ++i;
    }
    tokens.push_back(std::move(token));
  }
  Token end;
  end.kind = TokenKind::End;
  end.column = static_cast<int>(text.size()) + 1;
  tokens.push_back(end);
  return tokens;
}

std::string describe(const Token& token) {
  if (token.kind == TokenKind::End) return "end of expression";
  return "'" + token.text + "'";
}

}  // namespace lace::energy
