// Per-sample control: rows of different stiffness each take their own steps, finished rows are not
// evaluated again, and a row's trajectory does not depend on which rows share its batch.
// Batch control: one norm, identical steps for every row.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "lace/ode/integrate.hpp"

using namespace lace::ode;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

// y' = -k_row y, with each row's own rate looked up through `rows` (as lace's fields would look up
// anything per sample); counts how often each original row is evaluated.
struct PerRowDecay {
  std::vector<double> rates;
  std::vector<int64_t> evaluations;
  explicit PerRowDecay(std::vector<double> k) : rates(std::move(k)), evaluations(rates.size(), 0) {}
  VectorField field() {
    return [this](const torch::Tensor& t, const torch::Tensor& y, const torch::Tensor& rows) {
      EXPECT_EQ(rows.size(0), y.size(0));
      EXPECT_EQ(t.size(0), y.size(0));
      std::vector<double> k;
      for (int64_t i = 0; i < rows.size(0); ++i) {
        const int64_t r = rows[i].item<int64_t>();
        ++evaluations.at(r);
        k.push_back(rates.at(r));
      }
      return -torch::tensor(k, y.options()).view({-1, 1}) * y;
    };
  }
};

AdaptiveOptions options(ErrorNorm norm) {
  AdaptiveOptions o;
  o.atol = o.rtol = 1e-6;
  o.norm = norm;
  return o;
}

}  // namespace

TEST(PerSample, RowsOfDifferentStiffness) {
  const std::vector<double> k = {0.5, 5.0, 50.0};
  const double t0 = 1.0, t1 = 1e-3;  // lace's direction
  const auto y0 = torch::linspace(0.5, 2.0, 12, kF64).view({3, 4});
  PerRowDecay problem(k);
  const auto sol = integrate_adaptive(problem.field(), dopri5(), t0, t1, y0, options(ErrorNorm::PerSample));

  const auto acc = sol.stats.accepted_steps, rej = sol.stats.rejected_steps;
  for (int r = 0; r < 3; ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    const auto exact = y0[r] * std::exp(-k[r] * (t1 - t0));
    EXPECT_TRUE(torch::allclose(sol.y[r], exact, 1e-5, 1e-6)) << sol.y[r] << exact;
    // Every evaluation of a row is counted, and no other: finished rows cost nothing.
    EXPECT_EQ(problem.evaluations[r], sol.stats.nfe[r].item<int64_t>());
    EXPECT_EQ(sol.stats.nfe[r].item<int64_t>(), 6 * (acc[r].item<int64_t>() + rej[r].item<int64_t>()) + 2);

    // Solving the row alone gives the same steps and the same result.
    PerRowDecay alone({k[r]});
    const auto single =
        integrate_adaptive(alone.field(), dopri5(), t0, t1, y0.slice(0, r, r + 1), options(ErrorNorm::PerSample));
    EXPECT_EQ(single.stats.accepted_steps[0].item<int64_t>(), acc[r].item<int64_t>());
    EXPECT_EQ(single.stats.rejected_steps[0].item<int64_t>(), rej[r].item<int64_t>());
    EXPECT_TRUE(torch::allclose(single.y[0], sol.y[r], 1e-14, 0.0)) << single.y[0] - sol.y[r];
  }
  // The fast rows take more steps than the slow ones.
  EXPECT_LT(acc[0].item<int64_t>(), acc[1].item<int64_t>());
  EXPECT_LT(acc[1].item<int64_t>(), acc[2].item<int64_t>());
  // The loop ran as long as the row with most attempts (one per iteration, 6 calls each);
  // calls cover only the active rows.
  EXPECT_EQ(sol.stats.calls, 6 * (acc + rej).max().item<int64_t>() + 2);
  EXPECT_GE(sol.stats.accepted, acc.max().item<int64_t>());
  EXPECT_LT(sol.stats.nfe.sum().item<int64_t>(), 3 * sol.stats.calls);
}

TEST(PerSample, IndependentOfBatchCompanions) {
  const auto row = torch::linspace(-1.0, 1.0, 6, kF64).view({1, 6});
  PerRowDecay a({5.0, 0.1}), b({80.0, 3.0, 5.0});
  const auto with_slow =
      integrate_adaptive(a.field(), dopri5(), 0.0, 2.0, torch::cat({row, row * 2}), options(ErrorNorm::PerSample));
  const auto with_fast = integrate_adaptive(b.field(), dopri5(), 0.0, 2.0, torch::cat({row * 3, row * 4, row}),
                                            options(ErrorNorm::PerSample));
  // Bit for bit: this is what makes a seed's image independent of the batch size.
  EXPECT_TRUE(torch::equal(with_slow.y[0], with_fast.y[2])) << with_slow.y[0] - with_fast.y[2];
  EXPECT_EQ(with_slow.stats.nfe[0].item<int64_t>(), with_fast.stats.nfe[2].item<int64_t>());
}

TEST(Batch, EveryRowSharesEveryStep) {
  const std::vector<double> k = {0.5, 5.0, 50.0};
  const auto y0 = torch::linspace(0.5, 2.0, 12, kF64).view({3, 4});
  PerRowDecay problem(k);
  const auto sol = integrate_adaptive(problem.field(), dopri5(), 0.0, 1.0, y0, options(ErrorNorm::Batch));
  const auto& s = sol.stats;
  for (int r = 0; r < 3; ++r) {
    EXPECT_TRUE(torch::allclose(sol.y[r], y0[r] * std::exp(-k[r]), 1e-5, 1e-6));
    EXPECT_EQ(s.nfe[r].item<int64_t>(), s.nfe[0].item<int64_t>());
    EXPECT_EQ(problem.evaluations[r], s.nfe[r].item<int64_t>());
  }
  // All rows accept or reject together, so per-row counts equal the iteration counts.
  EXPECT_TRUE(torch::equal(s.accepted_steps, torch::full({3}, s.accepted, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.rejected_steps, torch::full({3}, s.rejected, torch::kLong)));
  EXPECT_EQ(s.calls, 6 * (s.accepted + s.rejected) + 2);
  EXPECT_EQ(s.nfe[0].item<int64_t>(), s.calls);
}
