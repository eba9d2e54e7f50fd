// The classical Runge-Kutta method: four evaluations per step, order 4.
#include "lace/ode/tableau.hpp"

namespace lace::ode {

const Tableau& rk4() {
  static const Tableau tableau = [] {
    Tableau t;
    t.name = "rk4";
    t.order = 4;
    t.c = {0.0, 0.5, 0.5, 1.0};
    t.a = {{}, {0.5}, {0.0, 0.5}, {0.0, 0.0, 1.0}};
    t.b = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
    return t;
  }();
  return tableau;
}

}  // namespace lace::ode
