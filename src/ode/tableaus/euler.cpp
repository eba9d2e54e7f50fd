// Explicit Euler: one evaluation per step, order 1.
#include "lace/ode/tableau.hpp"

namespace lace::ode {

const Tableau& euler() {
  static const Tableau tableau = [] {
    Tableau t;
    t.name = "euler";
    t.order = 1;
    t.c = {0.0};
    t.a = {{}};
    t.b = {1.0};
    return t;
  }();
  return tableau;
}

}  // namespace lace::ode
