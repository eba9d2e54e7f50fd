// Dormand & Prince (1980), RK5(4)7FM: a 5th-order solution with an embedded 4th-order one.
// Its last stage is evaluated at (t + h, y_next), so it is FSAL: 6 new evaluations per step.
#include "lace/ode/tableau.hpp"

namespace lace::ode {

const Tableau& dopri5() {
  static const Tableau tableau = [] {
    Tableau t;
    t.name = "dopri5";
    t.order = 5;
    t.embedded_order = 4;
    t.c = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
    t.a = {
        {},
        {1.0 / 5},
        {3.0 / 40, 9.0 / 40},
        {44.0 / 45, -56.0 / 15, 32.0 / 9},
        {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
        {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
        {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
    };
    t.b = {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0};
    const std::vector<double> b_hat = {5179.0 / 57600,    0.0,          7571.0 / 16695, 393.0 / 640,
                                       -92097.0 / 339200, 187.0 / 2100, 1.0 / 40};
    for (size_t i = 0; i < t.b.size(); ++i) t.b_error.push_back(t.b[i] - b_hat[i]);
    t.fsal = true;
    return t;
  }();
  return tableau;
}

}  // namespace lace::ode
