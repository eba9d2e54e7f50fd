// Fixed-step methods show their order of accuracy, count their evaluations exactly, and work
// backwards in time.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "lace/ode/integrate.hpp"

using namespace lace::ode;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

// y' = -t y (non-autonomous, so stage times matter): y(t) = y(t0) exp(-(t^2 - t0^2) / 2).
torch::Tensor gaussian(const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor&) {
  return -t.unsqueeze(1) * y;
}

double error_with(const Tableau& tableau, int64_t steps, double t0, double t1) {
  const auto sol = integrate_fixed(gaussian, tableau, t0, t1, torch::ones({1, 1}, kF64), steps);
  return std::abs(sol.y.item<double>() - std::exp(-(t1 * t1 - t0 * t0) / 2));
}

}  // namespace

TEST(Fixed, MethodsShowTheirOrder) {
  for (const Tableau* tableau : {&euler(), &heun(), &rk4(), &dopri5()}) {
    for (auto [t0, t1] : {std::pair{0.0, 2.0}, std::pair{2.0, 0.5}}) {
      SCOPED_TRACE(tableau->name + " from " + std::to_string(t0));
      const double e1 = error_with(*tableau, 16, t0, t1), e2 = error_with(*tableau, 32, t0, t1),
                   e3 = error_with(*tableau, 64, t0, t1);
      EXPECT_NEAR(std::log2(e1 / e2), tableau->order, 0.3) << e1 << " " << e2;
      EXPECT_NEAR(std::log2(e2 / e3), tableau->order, 0.3) << e2 << " " << e3;
    }
  }
}

TEST(Fixed, EvaluationCounts) {
  const int64_t n = 10;
  for (auto [tableau, expected] :
       {std::pair{&euler(), n}, std::pair{&heun(), 2 * n}, std::pair{&rk4(), 4 * n}, std::pair{&dopri5(), 1 + 6 * n}}) {
    SCOPED_TRACE(tableau->name);
    const auto sol = integrate_fixed(gaussian, *tableau, 1.0, 1e-3, torch::ones({2, 3}, kF64), n);
    EXPECT_TRUE(torch::equal(sol.stats.nfe, torch::full({2}, expected, torch::kLong)));
    EXPECT_TRUE(torch::equal(sol.stats.accepted_steps, torch::full({2}, n, torch::kLong)));
    EXPECT_TRUE(torch::equal(sol.stats.rejected_steps, torch::zeros({2}, torch::kLong)));
    EXPECT_EQ(sol.stats.calls, expected);
    EXPECT_EQ(sol.stats.accepted, n);
    EXPECT_EQ(sol.stats.rejected, 0);
  }
}

TEST(Fixed, EulerStepsByHand) {
  // Two Euler steps of y' = -t y from t = 1 to 0 with h = -0.5: y1 = 1 + 0.5 * 1 = 1.5,
  // y2 = 1.5 + 0.5 * (0.5 * 1.5) = 1.875.
  const auto sol = integrate_fixed(gaussian, euler(), 1.0, 0.0, torch::ones({1, 1}, kF64), 2);
  EXPECT_DOUBLE_EQ(sol.y.item<double>(), 1.875);
}

TEST(Fixed, RejectsBadArguments) {
  EXPECT_THROW(integrate_fixed(gaussian, rk4(), 0.0, 1.0, torch::ones({1, 1}, kF64), 0), std::invalid_argument);
  EXPECT_THROW(integrate_fixed(gaussian, rk4(), 0.0, 1.0, torch::ones({1, 1}, kF64), -3), std::invalid_argument);
  // Adaptive integration needs an embedded error estimate.
  EXPECT_THROW(integrate_adaptive(gaussian, rk4(), 0.0, 1.0, torch::ones({1, 1}, kF64), AdaptiveOptions{}),
               std::invalid_argument);
  EXPECT_THROW(integrate_adaptive(gaussian, euler(), 0.0, 1.0, torch::ones({1, 1}, kF64), AdaptiveOptions{}),
               std::invalid_argument);
}
