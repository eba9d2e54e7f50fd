// Energy::probability against probabilities worked out by hand (float64).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "lace/energy/energy.hpp"

using namespace lace::energy;

namespace lace_test {
std::vector<lace::model::Attribute> attributes();
}

namespace {

// Columns: smile, glasses, hair black, hair blonde, hair red, age (sigma 0.1).
torch::Tensor row(double smile, double glasses, double black, double blonde, double red, double age) {
  return torch::tensor({smile, glasses, black, blonde, red, age}, torch::kFloat64).reshape({1, 6});
}

double probability(const std::string& text, const torch::Tensor& logits) {
  const auto p = compile(text, lace_test::attributes()).probability(logits);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{logits.size(0)}));
  EXPECT_EQ(p.scalar_type(), torch::kFloat64);
  return p[0].item<double>();
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

constexpr double kTol = 1e-12;

// smile 0.7 logit, glasses -1.2, hair logits (0.3, 1.1, -0.4), age 0.62.
const torch::Tensor kRow = row(0.7, -1.2, 0.3, 1.1, -0.4, 0.62);
const double kSmile = sigmoid(0.7), kGlasses = sigmoid(-1.2);
const double kZ = std::exp(0.3) + std::exp(1.1) + std::exp(-0.4);
const double kBlack = std::exp(0.3) / kZ, kBlonde = std::exp(1.1) / kZ, kRed = std::exp(-0.4) / kZ;
double age_event(double target) { return std::exp(-std::pow(0.62 - target, 2) / (2 * 0.1 * 0.1)); }

// "age=t0 OR age=t1 OR ..." for k targets from `first` in steps of `step`, and 1 - prod(1 - event(t_i)):
// its probability when the targets are independent events.
std::pair<std::string, double> or_of_age_targets(int k, double first, double step, double (*event)(double)) {
  std::string text;
  double none = 1;
  for (int i = 0; i < k; ++i) {
    const double target = first + step * i;
    text += (i ? " OR age=" : "age=") + std::to_string(target);
    none *= 1 - event(target);
  }
  return {text, 1 - none};
}

}  // namespace

TEST(Probability, SingleTerms) {
  EXPECT_NEAR(probability("smile", kRow), kSmile, kTol);
  EXPECT_NEAR(probability("NOT smile", kRow), 1 - kSmile, kTol);
  EXPECT_NEAR(probability("smile=0", kRow), 1 - kSmile, kTol);
  EXPECT_NEAR(probability("hair=blonde", kRow), kBlonde, kTol);
  EXPECT_NEAR(probability("NOT hair=blonde", kRow), kBlack + kRed, kTol);
  EXPECT_NEAR(probability("age=0.5", kRow), age_event(0.5), kTol);
  EXPECT_NEAR(probability("NOT age=0.5", kRow), 1 - age_event(0.5), kTol);
}

// Several readings of the same images (a verifier's judges): the least P per image.
TEST(Probability, TheLeastOverReadingsIsEachImagesWeakestReading) {
  const auto e = compile("smile AND NOT glasses", lace_test::attributes());
  const auto a = torch::cat({kRow, row(-2.0, 0.5, 0, 0, 0, 0.5)}), b = torch::cat({row(2.0, -3.0, 0, 0, 0, 0.5), kRow});
  const auto least = e.least_probability(torch::stack({a, b}));
  ASSERT_EQ(least.sizes(), (std::vector<int64_t>{2}));
  EXPECT_NEAR(least[0].item<double>(), kSmile * (1 - kGlasses), kTol);             // a's first row is the weaker
  EXPECT_NEAR(least[1].item<double>(), sigmoid(-2.0) * (1 - sigmoid(0.5)), kTol);  // a's second row is the weaker
  EXPECT_TRUE(torch::equal(e.least_probability(a.unsqueeze(0)), e.probability(a)));  // one reading: its own P
  EXPECT_THROW(e.least_probability(a), std::invalid_argument);                     // not [J, B, num_logits]
}

TEST(Probability, AndAndNotAreTheExactEnergysProbability) {
  const auto logits = torch::randn({5, 6}, torch::kFloat64) * 2;
  for (const std::string text : {"smile AND glasses", "smile AND NOT glasses AND hair=red", "NOT (smile AND glasses)",
                                 "glasses AND age=0.3", "NOT hair=black AND NOT (smile AND age=0.8)"}) {
    const auto e = compile(text, lace_test::attributes());
    EXPECT_TRUE(torch::allclose(e.probability(logits), torch::exp(-e(logits)), 1e-9, 1e-12)) << text;
  }
}

TEST(Probability, AToleranceCountsReadingsNearTheTargetAsMet) {
  auto attrs = lace_test::attributes();
  attrs[3].tolerance = 0.1;  // age: readings within 0.1 of a target meet it
  const auto p = [&](const std::string& text, const torch::Tensor& logits) {
    return compile(text, attrs).probability(logits)[0].item<double>();
  };
  // The row reads age 0.62: within 0.1 of 0.55 and 0.7, 0.05 beyond it from 0.77, 0.22 beyond it from 0.3.
  EXPECT_NEAR(p("age=0.55", kRow), 1.0, kTol);
  EXPECT_NEAR(p("age=0.7", kRow), 1.0, kTol);
  EXPECT_NEAR(p("age=0.77", kRow), std::exp(-0.05 * 0.05 / (2 * 0.1 * 0.1)), 1e-9);
  EXPECT_NEAR(p("age=0.3", kRow), std::exp(-0.22 * 0.22 / (2 * 0.1 * 0.1)), 1e-9);
  EXPECT_NEAR(p("NOT age=0.3", kRow), 1 - std::exp(-0.22 * 0.22 / (2 * 0.1 * 0.1)), 1e-9);
  EXPECT_NEAR(p("smile AND age=0.7", kRow), kSmile, kTol);
  // Enumerated (11 targets) or past the limit (13: independent subtrees), the same events.
  const auto met = [](double target) {
    const double beyond = std::max(0.0, std::abs(0.62 - target) - 0.1);
    return std::exp(-beyond * beyond / (2 * 0.1 * 0.1));
  };
  for (const int k : {11, 13}) {
    const auto [text, expected] = or_of_age_targets(k, 0.3, 0.03, met);
    EXPECT_NEAR(p(text, kRow), expected, 1e-9) << k;
  }
  // The energy is unchanged: it still aims at the target itself.
  const auto logits = torch::randn({4, 6}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(compile("age=0.7", attrs)(logits), compile("age=0.7", lace_test::attributes())(logits)));
}

TEST(Probability, OrIsAtLeastOneNotTheMixture) {
  // Different attributes: independent, so 1 - (1 - a)(1 - b).
  EXPECT_NEAR(probability("smile OR glasses", kRow), 1 - (1 - kSmile) * (1 - kGlasses), kTol);
  EXPECT_NEAR(probability("smile OR glasses OR age=0.5", kRow),
              1 - (1 - kSmile) * (1 - kGlasses) * (1 - age_event(0.5)), kTol);
  // Classes of one attribute exclude each other: the probabilities add.
  EXPECT_NEAR(probability("hair=red OR hair=blonde", kRow), kRed + kBlonde, kTol);
  // The mixture energy reads half of that; probability does not.
  const auto mixture = std::exp(-compile("hair=red OR hair=blonde", lace_test::attributes())(kRow)[0].item<double>());
  EXPECT_NEAR(mixture, (kRed + kBlonde) / 2, kTol);
}

TEST(Probability, OneAttributeNamedTwiceIsOneVariable) {
  EXPECT_NEAR(probability("smile OR NOT smile", kRow), 1.0, kTol);
  EXPECT_NEAR(probability("smile AND NOT smile", kRow), 0.0, kTol);
  EXPECT_NEAR(probability("smile AND smile", kRow), kSmile, kTol);
  EXPECT_NEAR(probability("hair=red AND hair=blonde", kRow), 0.0, kTol);
  EXPECT_NEAR(probability("(smile AND glasses) OR (smile AND NOT glasses)", kRow), kSmile, kTol);
  EXPECT_NEAR(probability("(smile AND hair=red) OR (glasses AND hair=red)", kRow),
              kRed * (1 - (1 - kSmile) * (1 - kGlasses)), kTol);
  // Two targets of one continuous attribute are separate events (a soft reading, not a distribution).
  EXPECT_NEAR(probability("age=0.5 AND age=0.7", kRow), age_event(0.5) * age_event(0.7), kTol);
}

TEST(Probability, WeightsDoNotChangeWhatHolds) {
  EXPECT_NEAR(probability("2*smile AND 0.5*(glasses OR NOT hair=black)", kRow),
              kSmile * (1 - (1 - kGlasses) * kBlack), kTol);
}

TEST(Probability, PastTheEnumerationLimitSubtreesAreIndependent) {
  // An OR of k distinct age targets: independent events, so 1 - prod(1 - q_i) either way. 2^11 = 2048
  // combinations are enumerated, 2^13 are not.
  for (const int k : {11, 13}) {
    const auto [text, expected] = or_of_age_targets(k, 0.4, 0.02, age_event);
    EXPECT_NEAR(probability(text, kRow), expected, 1e-9) << k;
  }
  // Where subtrees share an attribute the fallback is an approximation: smile named in both halves.
  std::string wide = "(smile AND glasses)";
  for (int i = 0; i < 12; ++i) wide += " AND NOT age=" + std::to_string(0.1 + 0.05 * i);
  const double p = probability(wide + " OR smile", kRow);
  EXPECT_GT(p, kSmile);  // the exact answer is kSmile: (smile AND ...) OR smile = smile
  EXPECT_LT(p, 1.0);
}

TEST(Probability, UnconditionalAndBadInput) {
  const auto p = compile("", lace_test::attributes()).probability(torch::zeros({3, 6}));
  EXPECT_TRUE(torch::equal(p, torch::ones({3}, torch::kFloat64)));
  const auto e = compile("hair=red", lace_test::attributes());
  EXPECT_THROW(e.probability(torch::zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(e.probability(torch::zeros({6})), std::invalid_argument);
  EXPECT_THROW(e.probability(torch::zeros({2, 6}, torch::kLong)), std::invalid_argument);
}

TEST(Probability, FloatLogitsAndNoGradient) {
  auto logits = kRow.to(torch::kFloat32).requires_grad_(true);
  const auto p = compile("smile OR glasses", lace_test::attributes()).probability(logits);
  EXPECT_FALSE(p.requires_grad());
  EXPECT_NEAR(p[0].item<double>(), 1 - (1 - kSmile) * (1 - kGlasses), 1e-6);
}
