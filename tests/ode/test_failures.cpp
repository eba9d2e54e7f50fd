// Failures are SolverErrors with one line naming the method, the reason, the time and the row.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "lace/ode/integrate.hpp"

using namespace lace::ode;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

VectorField decay(double k) {
  return [k](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) { return -k * y; };
}

// Runs `solve`, expects a SolverError, returns its message.
template <typename F>
std::string solver_error_of(F solve) {
  try {
    solve();
  } catch (const SolverError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no SolverError";
  return "";
}

}  // namespace

TEST(Failures, StepSizeUnderflowNamesTheRow) {
  // Row 1's field is NaN past t = 0.5: its steps are rejected ever smaller until they underflow.
  const VectorField f = [](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows) {
    auto dy = -y;
    for (int64_t i = 0; i < rows.size(0); ++i)
      if (rows[i].item<int64_t>() == 1 && t[i].item<double>() > 0.5) dy[i].fill_(NAN);
    return dy;
  };
  const std::string msg = solver_error_of([&] {
    integrate_adaptive(f, dopri5(), 0.0, 1.0, torch::ones({3, 2}, kF64), AdaptiveOptions{});
  });
  EXPECT_EQ(msg.rfind("dopri5: step size underflow (|h| = ", 0), 0u) << msg;
  EXPECT_NE(msg.find(") at t = 0.5 for sample 1 (the error estimate is not finite)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Failures, NonFiniteInitialState) {
  auto y0 = torch::ones({3, 2}, kF64);
  y0[2][1] = NAN;
  const std::string msg =
      solver_error_of([&] { integrate_adaptive(decay(1.0), dopri5(), 1.0, 0.0, y0, AdaptiveOptions{}); });
  EXPECT_EQ(msg, "dopri5: state is not finite at t = 1 for sample 2");
}

TEST(Failures, NonFiniteStateInFixedSteps) {
  // Euler on y' = y^2 from y = 1e200: the first step overflows to infinity in row 1 only.
  const VectorField f = [](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) { return y * y; };
  const auto y0 = torch::tensor({1.0, 1e200}, kF64).view({2, 1});
  const std::string msg = solver_error_of([&] { integrate_fixed(f, euler(), 0.0, 1.0, y0, 10); });
  EXPECT_EQ(msg, "euler: state is not finite at t = 0.1 for sample 1 (try more steps)");
}

TEST(Failures, MaxStepsIsEnforced) {
  AdaptiveOptions o;
  o.atol = o.rtol = 1e-10;
  o.max_steps = 5;
  const std::string msg = solver_error_of([&] {
    integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, torch::ones({1, 1}, kF64), o);
  });
  EXPECT_EQ(msg.rfind("dopri5: gave up after 5 steps at t = ", 0), 0u) << msg;
  EXPECT_NE(msg.find(" for sample 0 (raise --max-steps or loosen --atol/--rtol)"), std::string::npos) << msg;

  // With enough steps the same problem solves, in more than 5 of them.
  o.max_steps = 10000;
  const auto sol = integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, torch::ones({1, 1}, kF64), o);
  EXPECT_GT(sol.stats.accepted_steps[0].item<int64_t>(), 5);
}

TEST(Failures, ARowAtItsOwnCapStopsWhereItIsAndTheOthersFinish) {
  // Three rows of y' = -3y; row 1 may take 5 steps, the others 10,000.
  AdaptiveOptions o;
  o.atol = o.rtol = 1e-10;
  o.row_max_steps = {10000, 5, 10000};
  const auto y0 = torch::ones({3, 1}, kF64);
  const std::string msg = solver_error_of([&] { integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, y0, o); });
  EXPECT_EQ(msg.rfind("dopri5: gave up after 5 steps at t = ", 0), 0u) << msg;
  EXPECT_NE(msg.find(" for sample 1 "), std::string::npos) << msg;

  o.stop_rows_at_cap = true;
  const auto sol = integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, y0, o);
  EXPECT_TRUE(torch::equal(sol.stats.stopped, torch::tensor({false, true, false})));
  EXPECT_EQ((sol.stats.accepted_steps + sol.stats.rejected_steps)[1].item<int64_t>(), 5);
  // Rows 0 and 2 reach y(1) = exp(-3); row 1 is left part of the way down.
  for (int64_t r : {0, 2}) EXPECT_NEAR(sol.y[r][0].item<double>(), std::exp(-3.0), 1e-8);
  EXPECT_GT(sol.y[1][0].item<double>(), std::exp(-3.0) + 1e-3);
  EXPECT_LT(sol.y[1][0].item<double>(), 1.0);

  o.row_max_steps = {10, 10};
  EXPECT_THROW(integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, y0, o), std::invalid_argument);
  o.row_max_steps = {10, 0, 10};
  EXPECT_THROW(integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, y0, o), std::invalid_argument);
}

TEST(Failures, BlowUpIsReportedNotReturned) {
  // y' = y^2, y(0) = 1 has a pole at t = 1: the solve cannot reach t = 2.
  const VectorField f = [](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) { return y * y; };
  EXPECT_THROW(integrate_adaptive(f, dopri5(), 0.0, 2.0, torch::ones({1, 1}, kF64), AdaptiveOptions{}), SolverError);
}

TEST(Failures, BadOptionsAndFields) {
  const auto y0 = torch::ones({1, 2}, kF64);
  AdaptiveOptions o;
  o.atol = o.rtol = 0.0;
  EXPECT_THROW(integrate_adaptive(decay(1.0), dopri5(), 0.0, 1.0, y0, o), std::invalid_argument);
  o = AdaptiveOptions{};
  o.max_steps = 0;
  EXPECT_THROW(integrate_adaptive(decay(1.0), dopri5(), 0.0, 1.0, y0, o), std::invalid_argument);
  const VectorField wrong_shape = [](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) {
    return y.sum(1);
  };
  EXPECT_THROW(integrate_adaptive(wrong_shape, dopri5(), 0.0, 1.0, y0, AdaptiveOptions{}), std::invalid_argument);
  EXPECT_THROW(integrate_adaptive(decay(1.0), dopri5(), 0.0, NAN, y0, AdaptiveOptions{}), std::invalid_argument);
  EXPECT_THROW(integrate_fixed(decay(1.0), euler(), 0.0, 1.0, torch::ones({2}, torch::kLong), 3),
               std::invalid_argument);
}
