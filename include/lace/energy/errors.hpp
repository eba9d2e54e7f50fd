#pragma once
// The two ways an expression can be wrong: it does not parse (ParseError, with the column), or it
// parses but does not fit the bundle's attributes (ExpressionError, listing what is known).

#include <stdexcept>
#include <string>

namespace lace::energy {

class ParseError : public std::runtime_error {
 public:
  // what() is "column <column>: <message>", one line.
  ParseError(int column, const std::string& message)
      : std::runtime_error("column " + std::to_string(column) + ": " + message), column(column) {}
  int column;  // 1-based position in the expression text (length + 1 for "at the end")
};

class ExpressionError : public std::runtime_error {
 public:
  // column: where the offending term starts (1-based), 0 when not tied to one place.
  explicit ExpressionError(const std::string& message, int column = 0)
      : std::runtime_error(message), column(column) {}
  int column;
};

}  // namespace lace::energy
