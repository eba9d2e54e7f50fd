// jobs::check_solver_options: one message per bad flag, naming it.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "lace/jobs/option_checks.hpp"

namespace {

using lace::jobs::check_solver_options;

std::string error_of(const std::string& solver, double atol, double rtol, int steps) {
  lace::sampling::VpOdeOptions ode;
  ode.adaptive.atol = atol;
  ode.adaptive.rtol = rtol;
  ode.steps = steps;
  try {
    check_solver_options(solver, {"dopri5", "euler"}, ode);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(SolverOptions, GoodOptionsPass) { EXPECT_EQ(error_of("euler", 1e-5, 1e-5, 1), ""); }

TEST(SolverOptions, UnknownSolverListsTheKnownOnes) {
  EXPECT_EQ(error_of("rk45", 1e-5, 1e-5, 10), "unknown solver 'rk45'; known: dopri5, euler");
}

TEST(SolverOptions, TolerancesMustBePositive) {
  EXPECT_EQ(error_of("dopri5", 0.0, 1e-5, 10), "--atol and --rtol must be positive");
  EXPECT_EQ(error_of("dopri5", 1e-5, -1.0, 10), "--atol and --rtol must be positive");
  EXPECT_EQ(error_of("dopri5", std::nan(""), 1e-5, 10), "--atol and --rtol must be positive");
}

TEST(SolverOptions, StepsMustBeAtLeastOne) { EXPECT_EQ(error_of("euler", 1e-5, 1e-5, 0), "--steps must be at least 1"); }

}  // namespace
