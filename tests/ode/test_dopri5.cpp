// dopri5 against closed forms: exponential decay and the harmonic oscillator, both directions of
// time; the error falls with the tolerance; the exact evaluation count of FSAL; Hairer's first step.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "lace/ode/initial_step.hpp"
#include "lace/ode/integrate.hpp"

using namespace lace::ode;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

// y' = -k y.
VectorField decay(double k) {
  return [k](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) { return -k * y; };
}

// x' = v, v' = -w^2 x, state [b, 2].
VectorField oscillator(double w) {
  return [w](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor&) {
    return torch::stack({y.select(1, 1), -w * w * y.select(1, 0)}, 1);
  };
}

std::pair<double, double> oscillator_exact(double x0, double v0, double w, double dt) {
  return {x0 * std::cos(w * dt) + v0 / w * std::sin(w * dt), -x0 * w * std::sin(w * dt) + v0 * std::cos(w * dt)};
}

AdaptiveOptions tolerance(double tol) {
  AdaptiveOptions o;
  o.atol = o.rtol = tol;
  return o;
}

}  // namespace

TEST(Dopri5, ExponentialDecayBothDirections) {
  const double k = 1.5, y0 = 2.0;
  for (auto [t0, t1] : {std::pair{0.0, 2.0}, std::pair{1.0, 1e-3}, std::pair{2.0, -1.0}}) {
    SCOPED_TRACE("t0 = " + std::to_string(t0) + ", t1 = " + std::to_string(t1));
    const auto sol = integrate_adaptive(decay(k), dopri5(), t0, t1, torch::full({1, 1}, y0, kF64), tolerance(1e-8));
    const double exact = y0 * std::exp(-k * (t1 - t0));
    EXPECT_NEAR(sol.y.item<double>(), exact, 1e-7 * std::max(1.0, std::abs(exact)));
    EXPECT_GT(sol.stats.accepted, 3);
  }
}

TEST(Dopri5, HarmonicOscillatorBothDirections) {
  const double w = 2.0, x0 = 1.0, v0 = 0.5;
  for (auto [t0, t1] : {std::pair{0.0, 5.0}, std::pair{5.0, 0.0}}) {
    SCOPED_TRACE("t0 = " + std::to_string(t0));
    const auto y0 = torch::tensor({x0, v0}, kF64).view({1, 2});
    const auto sol = integrate_adaptive(oscillator(w), dopri5(), t0, t1, y0, tolerance(1e-9));
    const auto [x, v] = oscillator_exact(x0, v0, w, t1 - t0);
    EXPECT_NEAR(sol.y[0][0].item<double>(), x, 1e-7);
    EXPECT_NEAR(sol.y[0][1].item<double>(), v, 1e-7);
  }
}

TEST(Dopri5, ErrorFallsWithTheTolerance) {
  const double w = 2.0, x0 = 1.0, v0 = 0.5;
  const auto [x, v] = oscillator_exact(x0, v0, w, -3.0);
  double previous = INFINITY;
  for (double tol : {1e-3, 1e-6, 1e-9}) {
    SCOPED_TRACE("tol = " + std::to_string(tol));
    const auto sol = integrate_adaptive(oscillator(w), dopri5(), 3.0, 0.0, torch::tensor({x0, v0}, kF64).view({1, 2}),
                                        tolerance(tol));
    const double error = std::hypot(sol.y[0][0].item<double>() - x, sol.y[0][1].item<double>() - v);
    EXPECT_LT(error, previous);
    EXPECT_LT(error, 10 * tol);
    previous = error;
  }
  previous = INFINITY;
  for (double tol : {1e-3, 1e-6, 1e-9}) {
    const auto sol = integrate_adaptive(decay(3.0), dopri5(), 0.0, 1.0, torch::ones({1, 1}, kF64), tolerance(tol));
    const double error = std::abs(sol.y.item<double>() - std::exp(-3.0));
    EXPECT_LT(error, previous);
    EXPECT_LT(error, 10 * tol);
    previous = error;
  }
}

TEST(Dopri5, ManyDimensionalRows) {
  // Rows of shape [2, 3]: the norm is taken over each row's 6 elements.
  const auto y0 = torch::arange(1, 25, kF64).view({4, 2, 3});
  const auto sol = integrate_adaptive(decay(0.7), dopri5(), 0.0, 1.0, y0, tolerance(1e-8));
  EXPECT_TRUE(torch::allclose(sol.y, y0 * std::exp(-0.7), 1e-7, 1e-7));
}

TEST(Dopri5, FsalCountsSixEvaluationsPerStep) {
  // Automatic first step: f(t0, y0) + Hairer's probe + 6 per attempted step, accepted or rejected.
  int64_t user_calls = 0;
  const VectorField f = [&](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows) {
    ++user_calls;
    return decay(4.0)(t, y, rows);
  };
  auto sol = integrate_adaptive(f, dopri5(), 0.0, 3.0, torch::ones({1, 3}, kF64), tolerance(1e-6));
  auto steps = sol.stats.accepted_steps + sol.stats.rejected_steps;
  EXPECT_TRUE(torch::equal(sol.stats.nfe, 6 * steps + 2)) << sol.stats.nfe << steps;
  EXPECT_EQ(sol.stats.calls, user_calls);
  EXPECT_EQ(sol.stats.calls, 6 * (sol.stats.accepted + sol.stats.rejected) + 2);

  // A first step far too large forces rejections; the first stage is still not recomputed.
  AdaptiveOptions o = tolerance(1e-6);
  o.first_step = 2.5;
  sol = integrate_adaptive(decay(40.0), dopri5(), 0.0, 3.0, torch::ones({1, 3}, kF64), o);
  steps = sol.stats.accepted_steps + sol.stats.rejected_steps;
  EXPECT_GE(sol.stats.rejected_steps.item<int64_t>(), 2);
  EXPECT_TRUE(torch::equal(sol.stats.nfe, 6 * steps + 1)) << sol.stats.nfe << steps;
}

TEST(Dopri5, HairerFirstStepClosedForm) {
  // y' = -y, y0 = 1, atol = rtol = 1e-3: scale 2e-3, d0 = d1 = 500, h0 = 0.01,
  // d2 = |f(y0 - 0.01) - f0| / scale / h0 = 0.01 / 2e-3 / 0.01 = 500, h1 = (0.01/500)^(1/6).
  std::vector<double> probe_times;
  const VectorField f = [&](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor&) {
    probe_times.push_back(t[0].item<double>());
    return -y;
  };
  const auto y0 = torch::ones({1, 5}, kF64);
  const double expected = std::pow(0.01 / 500.0, 1.0 / 6.0);
  auto h =
      initial_step(f, dopri5(), 0.0, 1.0, y0, -y0, torch::zeros({1}, torch::kLong), 1e-3, 1e-3, ErrorNorm::PerSample);
  EXPECT_NEAR(h.item<double>(), expected, 1e-12);
  ASSERT_EQ(probe_times.size(), 1u);
  EXPECT_NEAR(probe_times[0], 0.01, 1e-15);
  // Backwards in time the step is negative, and y0 + h0 f0 moves the other way: 1 + 0.01.
  h = initial_step(f, dopri5(), 1.0, 0.0, y0, -y0, torch::zeros({1}, torch::kLong), 1e-3, 1e-3, ErrorNorm::PerSample);
  EXPECT_NEAR(h.item<double>(), -expected, 1e-12);
  // Never longer than the interval.
  h = initial_step(f, dopri5(), 0.0, 0.05, y0, -y0, torch::zeros({1}, torch::kLong), 1e-3, 1e-3, ErrorNorm::PerSample);
  EXPECT_NEAR(h.item<double>(), 0.05, 1e-15);
}

TEST(Dopri5, Float32StateGetsFloat32Time) {
  bool checked = false;
  const VectorField f = [&](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows) {
    EXPECT_EQ(t.scalar_type(), torch::kFloat);
    EXPECT_EQ(t.dim(), 1);
    EXPECT_EQ(t.size(0), y.size(0));
    EXPECT_EQ(rows.scalar_type(), torch::kLong);
    EXPECT_TRUE(rows.device().is_cpu());
    checked = true;
    return -y * (1.0 + t.unsqueeze(1));  // y = y0 exp(-(t + t^2/2))
  };
  const auto y0 = torch::ones({2, 8}, torch::kFloat);
  const auto sol = integrate_adaptive(f, dopri5(), 0.0, 1.0, y0, tolerance(1e-5));
  EXPECT_TRUE(checked);
  EXPECT_EQ(sol.y.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(sol.y, torch::full({2, 8}, std::exp(-1.5), torch::kFloat), 1e-4, 1e-4));
}

TEST(Dopri5, EmptyIntervalReturnsTheStart) {
  const auto y0 = torch::ones({3, 2}, kF64);
  const auto sol = integrate_adaptive(decay(1.0), dopri5(), 0.5, 0.5, y0, AdaptiveOptions{});
  EXPECT_TRUE(torch::equal(sol.y, y0));
  EXPECT_EQ(sol.stats.calls, 0);
  EXPECT_EQ(sol.stats.nfe.sum().item<int64_t>(), 0);
}

TEST(ErrorNorm, RmsPerSampleAndBatch) {
  const auto x = torch::tensor({3.0, 4.0, 0.0, 0.0}, kF64).view({2, 2});
  const auto per_sample = rms_norm(x, ErrorNorm::PerSample);
  EXPECT_NEAR(per_sample[0].item<double>(), std::sqrt(12.5), 1e-15);
  EXPECT_EQ(per_sample[1].item<double>(), 0.0);
  const auto batch = rms_norm(x, ErrorNorm::Batch);
  EXPECT_NEAR(batch[0].item<double>(), 2.5, 1e-15);
  EXPECT_NEAR(batch[1].item<double>(), 2.5, 1e-15);
  const auto scaled = scale_by_tolerance(torch::ones({1, 1}, kF64), torch::full({1, 1}, -2.0, kF64),
                                         torch::full({1, 1}, 3.0, kF64), 0.1, 0.5);
  EXPECT_NEAR(scaled.item<double>(), 1.0 / (0.1 + 0.5 * 3.0), 1e-15);
}
