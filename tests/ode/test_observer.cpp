// The observer sees every iteration, with monotone progress that ends at 1.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "lace/ode/integrate.hpp"

using namespace lace::ode;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

struct Recorder : Observer {
  std::vector<double> progress;
  std::vector<torch::Tensor> times;
  std::vector<int64_t> calls;
  void on_step(const StepEvent& e) override {
    progress.push_back(e.progress);
    times.push_back(e.t.clone());
    calls.push_back(e.stats.calls);
  }
};

VectorField per_row_decay() {
  return [](const torch::Tensor&, const torch::Tensor& y, const torch::Tensor& rows) {
    return -(1.0 + 10.0 * rows.to(y.options())).view({-1, 1}) * y;  // row r decays at 1 + 10 r
  };
}

void expect_monotone_to_one(const Recorder& rec, double t0, double t1) {
  ASSERT_FALSE(rec.progress.empty());
  for (size_t i = 0; i < rec.progress.size(); ++i) {
    EXPECT_GE(rec.progress[i], 0.0);
    EXPECT_LE(rec.progress[i], 1.0);
    if (i > 0) {
      EXPECT_GE(rec.progress[i], rec.progress[i - 1]);
      EXPECT_GE(rec.calls[i], rec.calls[i - 1]);
    }
    // Progress is the slowest row's share of the interval.
    const double slowest = ((rec.times[i] - t0).abs() / std::abs(t1 - t0)).min().item<double>();
    EXPECT_NEAR(rec.progress[i], slowest, 1e-15);
  }
  EXPECT_EQ(rec.progress.back(), 1.0);
  EXPECT_TRUE(torch::equal(rec.times.back(), torch::full_like(rec.times.back(), t1)));
}

}  // namespace

TEST(Observer, AdaptiveProgressBothDirections) {
  for (auto [t0, t1] : {std::pair{1.0, 1e-3}, std::pair{0.0, 3.0}}) {
    SCOPED_TRACE("t0 = " + std::to_string(t0));
    Recorder rec;
    const auto sol =
        integrate_adaptive(per_row_decay(), dopri5(), t0, t1, torch::ones({3, 2}, kF64), AdaptiveOptions{}, &rec);
    expect_monotone_to_one(rec, t0, t1);
    EXPECT_EQ(rec.times.back().scalar_type(), torch::kDouble);
    EXPECT_EQ(rec.times.back().size(0), 3);
    EXPECT_EQ(rec.calls.back(), sol.stats.calls);
    // One event per iteration; an iteration accepts, rejects, or (per sample) both.
    const auto events = static_cast<int64_t>(rec.progress.size());
    EXPECT_GE(events, std::max(sol.stats.accepted, sol.stats.rejected));
    EXPECT_LE(events, sol.stats.accepted + sol.stats.rejected);
    // Every active row attempts one step per iteration; the last row to finish saw them all.
    EXPECT_EQ(events, (sol.stats.accepted_steps + sol.stats.rejected_steps).max().item<int64_t>());
  }
}

TEST(Observer, FixedProgressIsStepsDone) {
  Recorder rec;
  integrate_fixed(per_row_decay(), rk4(), 1.0, 1e-3, torch::ones({2, 2}, kF64), 8, &rec);
  ASSERT_EQ(rec.progress.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(rec.progress[i], (i + 1) / 8.0);
  expect_monotone_to_one(rec, 1.0, 1e-3);
}
