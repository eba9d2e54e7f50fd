// Heun's method (the explicit trapezoidal rule): two evaluations per step, order 2.
#include "lace/ode/tableau.hpp"

namespace lace::ode {

const Tableau& heun() {
  static const Tableau tableau = [] {
    Tableau t;
    t.name = "heun";
    t.order = 2;
    t.c = {0.0, 1.0};
    t.a = {{}, {1.0}};
    t.b = {0.5, 0.5};
    return t;
  }();
  return tableau;
}

}  // namespace lace::ode
