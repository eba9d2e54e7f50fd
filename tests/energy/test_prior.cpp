// energy::AttributePrior: E = -log sum_cell q(cell | logits) r(cell), checked against values worked by hand,
// a constant table, finite differences and its refusals.
#include <cmath>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lace/energy/prior.hpp"

namespace lace_test {
std::vector<lace::model::Attribute> attributes();  // attributes.cpp: smile, glasses, hair (3), age
}

namespace {

using lace::energy::AttributePrior;

TEST(AttributePrior, MatchesTheSumWorkedByHand) {
  // smile x hair: 2 x 3 cells, hair varying fastest. Row 0: smile p = 0.5, hair (1/4, 1/2, 1/4);
  // row 1: smile p = sigmoid(ln 3) = 0.75, hair (1/3, 1/3, 1/3).
  const std::vector<double> log_r = {std::log(2.0), 0, std::log(4.0), 0, std::log(0.5), 0};
  const AttributePrior prior({"smile", "hair"}, log_r, lace_test::attributes());
  auto logits = torch::zeros({2, 6}, torch::kDouble);
  logits[0][3] = std::log(2.0);
  logits[1][0] = std::log(3.0);
  const auto e = prior(logits);
  // row 0: 0.5 * (1/4 * 2 + 1/2 * 1 + 1/4 * 4) + 0.5 * (1/4 * 1 + 1/2 * 0.5 + 1/4 * 1) = 0.5 * 2 + 0.5 * 0.75
  EXPECT_NEAR(e[0].item<double>(), -std::log(1.375), 1e-12);
  // row 1: 0.25 * (2 + 1 + 4) / 3 + 0.75 * (1 + 0.5 + 1) / 3
  EXPECT_NEAR(e[1].item<double>(), -std::log(0.25 * 7.0 / 3 + 0.75 * 2.5 / 3), 1e-12);
}

TEST(AttributePrior, AConstantTableIsAConstantEnergy) {
  const AttributePrior prior({"glasses", "smile"}, std::vector<double>(4, 0.7), lace_test::attributes());
  const auto logits = torch::randn({5, 6}, torch::kDouble) * 3;
  EXPECT_TRUE(torch::allclose(prior(logits), torch::full({5}, -0.7, torch::kDouble), 1e-12, 1e-12));
}

TEST(AttributePrior, GradientMatchesFiniteDifferences) {
  std::vector<double> log_r;
  for (int i = 0; i < 12; ++i) log_r.push_back(std::sin(1.7 * i));
  const AttributePrior prior({"hair", "smile", "glasses"}, log_r, lace_test::attributes());
  torch::manual_seed(3);
  auto x = torch::randn({3, 6}, torch::kDouble).requires_grad_(true);
  const auto grad = torch::autograd::grad({prior(x).sum()}, {x})[0];
  const double h = 1e-6;
  for (int64_t col = 0; col < 6; ++col) {
    auto step = torch::zeros({3, 6}, torch::kDouble);
    step.select(1, col).fill_(h);
    const auto fd = (prior(x.detach() + step) - prior(x.detach() - step)) / (2 * h);
    EXPECT_TRUE(torch::allclose(grad.select(1, col), fd, 1e-6, 1e-8)) << "column " << col;
  }
  EXPECT_DOUBLE_EQ(grad.select(1, 5).abs().sum().item<double>(), 0.0);  // age is not in the table
}

TEST(AttributePrior, FloatAndHalfLogitsGiveFloatEnergies) {
  const AttributePrior prior({"smile"}, {0.0, 1.0}, lace_test::attributes());
  const auto x = torch::zeros({2, 6});
  EXPECT_EQ(prior(x).scalar_type(), torch::kFloat);
  EXPECT_EQ(prior(x.to(torch::kHalf)).scalar_type(), torch::kFloat);
  EXPECT_NEAR(prior(x)[0].item<double>(), -std::log(0.5 + 0.5 * std::exp(1.0)), 1e-6);
}

TEST(AttributePrior, RefusesTablesThatDoNotFit) {
  // The manifest validates the bundle's table with the field's path (tests/model); these are the checks
  // left for a caller that skips it.
  const auto attrs = lace_test::attributes();
  EXPECT_THROW(AttributePrior({"age"}, {0, 0}, attrs), c10::Error);
  EXPECT_THROW(AttributePrior({"beard"}, {0, 0}, attrs), c10::Error);
  EXPECT_THROW(AttributePrior({"smile", "hair"}, {0, 0, 0, 0}, attrs), c10::Error);
  EXPECT_THROW(AttributePrior({}, {}, attrs), c10::Error);
}

}  // namespace
