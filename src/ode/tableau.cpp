// The registry of methods by name, and the consistency check every tableau must pass.
#include "lace/ode/tableau.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>

namespace lace::ode {
namespace {

// The one list of known methods: a new tableau file adds a line here.
const std::vector<const Tableau*>& registry() {
  static const std::vector<const Tableau*> all = {&dopri5(), &euler(), &heun(), &rk4()};
  return all;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

const Tableau& tableau_by_name(const std::string& name) {
  for (const Tableau* t : registry())
    if (t->name == name) return *t;
  std::string known;
  for (const auto& n : tableau_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown solver '" + name + "'; known: " + known);
}

std::vector<std::string> tableau_names() {
  std::vector<std::string> names;
  for (const Tableau* t : registry()) names.push_back(t->name);
  return names;
}

void validate_tableau(const Tableau& t) {
  const auto fail = [&](const std::string& what) { throw std::invalid_argument("tableau '" + t.name + "': " + what); };
  const size_t s = t.c.size();
  constexpr double tol = 1e-12;
  if (s == 0) fail("has no stages");
  if (t.order < 1) fail("order must be at least 1");
  if (t.a.size() != s || t.b.size() != s) fail("c, a and b must have one entry per stage");
  if (t.c[0] != 0.0) fail("c[0] must be 0 (the first stage is f(t, y))");
  for (size_t i = 0; i < s; ++i) {
    if (t.a[i].size() != i) fail("row " + std::to_string(i) + " of a must have " + std::to_string(i) + " entries");
    if (std::abs(sum(t.a[i]) - t.c[i]) > tol) fail("row " + std::to_string(i) + " of a does not sum to c");
  }
  if (std::abs(sum(t.b) - 1.0) > tol) fail("b does not sum to 1");
  if (t.adaptive()) {
    if (t.b_error.size() != s) fail("b_error must have one entry per stage");
    if (std::abs(sum(t.b_error)) > tol) fail("b_error does not sum to 0");
    if (t.embedded_order < 1) fail("an embedded method needs embedded_order >= 1");
  }
  if (t.fsal) {
    if (s < 2 || t.c.back() != 1.0 || t.a.back() != std::vector<double>(t.b.begin(), t.b.end() - 1) ||
        t.b.back() != 0.0)
      fail("FSAL needs a last stage at c = 1 whose a row equals b");
  }
}

}  // namespace lace::ode
