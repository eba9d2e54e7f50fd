#pragma once
// A Butcher tableau: everything that distinguishes one explicit Runge-Kutta method from another.
// Adding a method means adding one file in src/ode/tableaus/ and one line in the registry.

#include <string>
#include <vector>

namespace lace::ode {

struct Tableau {
  std::string name;
  int order = 0;
  int embedded_order = 0;              // 0 when there is no embedded method
  std::vector<double> c;               // stage times, c[0] = 0
  std::vector<std::vector<double>> a;  // a[i] has i entries: explicit, strictly lower triangular
  std::vector<double> b;               // weights of the solution
  std::vector<double> b_error;         // b - b_hat (empty for fixed-step methods)
  bool fsal = false;                   // last stage equals f(t+h, y_next): reused as the next first stage
  bool adaptive() const { return !b_error.empty(); }
  int stages() const { return static_cast<int>(c.size()); }
};

const Tableau& dopri5();  // Dormand-Prince 5(4), FSAL, 7 stages (6 new evaluations per step)
const Tableau& euler();   // explicit Euler, order 1
const Tableau& heun();    // Heun's method (explicit trapezoid), order 2
const Tableau& rk4();     // the classical Runge-Kutta method, order 4

// Throws std::invalid_argument("unknown solver 'x'; known: dopri5, euler, heun, rk4").
const Tableau& tableau_by_name(const std::string& name);
std::vector<std::string> tableau_names();

// Checks the shape and consistency conditions (rows of a sum to c, b sums to 1, b_error sums to 0,
// FSAL implies a's last row equals b and c ends at 1). Throws std::invalid_argument naming the flaw.
void validate_tableau(const Tableau& tableau);

}  // namespace lace::ode
