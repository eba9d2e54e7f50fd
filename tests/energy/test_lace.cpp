// The authors' heuristic operators (Operators::Lace) on hand-computed values.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lace/energy/energy.hpp"

using namespace lace::energy;

namespace lace_test {
std::vector<lace::model::Attribute> attributes();
}

namespace {

torch::Tensor row(double smile, double glasses, double black, double blonde, double red, double age) {
  return torch::tensor({smile, glasses, black, blonde, red, age}, torch::kFloat64).reshape({1, 6});
}

Energy lace_energy(const std::string& text) { return compile(text, lace_test::attributes(), Operators::Lace); }

double energy(const std::string& text, const torch::Tensor& logits) { return lace_energy(text)(logits)[0].item<double>(); }

// dE/dlogits of the single row.
torch::Tensor gradient(const std::string& text, const torch::Tensor& logits) {
  auto x = logits.clone().requires_grad_(true);
  return torch::autograd::grad({lace_energy(text)(x).sum()}, {x})[0][0];
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

constexpr double kTol = 1e-12;

}  // namespace

TEST(Lace, TermsAndAndAsExact) {
  const auto logits = row(0.5, -1.5, 1, 2, 3, 0.5);
  for (const auto& text : {"smile", "smile=0", "hair=blonde", "age=0.7", "smile AND glasses AND hair=red",
                           "2*smile AND 0.5*age=0.2"}) {
    EXPECT_NEAR(energy(text, logits), compile(text, lace_test::attributes())(logits)[0].item<double>(), kTol)
        << text;
  }
}

TEST(Lace, OrWeightsTheFirstOperand20) {
  // e = log(20 p_a + p_b) with p_a = p_b = 1/2.
  EXPECT_NEAR(energy("smile OR glasses", row(0, 0, 0, 0, 0, 0)), -std::log(10.5), kTol);
  const auto logits = row(0.3, 2, 1, 2, 3, 0.5);
  const double pa = sigmoid(0.3), pb = sigmoid(2.0), pc = std::exp(-2.0);
  EXPECT_NEAR(energy("smile OR glasses", logits), -std::log(20 * pa + pb), kTol);
  EXPECT_NEAR(energy("glasses OR smile", logits), -std::log(20 * pb + pa), kTol);  // asymmetric
  // n-ary: folded from the left.
  EXPECT_NEAR(energy("smile OR glasses OR age=0.7", logits), -std::log(20 * (20 * pa + pb) + pc), kTol);
  EXPECT_NEAR(energy("smile OR glasses OR age=0.7", logits), energy("(smile OR glasses) OR age=0.7", logits), kTol);
  EXPECT_NEAR(energy("smile OR (glasses OR age=0.7)", logits), -std::log(20 * pa + 20 * pb + pc), kTol);
  // With large logits it stays finite.
  EXPECT_NEAR(energy("smile OR glasses", row(-1000, -1000, 0, 0, 0, 0)), 1000 - std::log(21.0), 1e-9);
}

TEST(Lace, NotIsDamped) {
  // |e| = log 2 > 0.1: alpha = 0.1 / log 2, the log-prob -alpha e = 0.1, the energy -0.1.
  EXPECT_NEAR(energy("NOT smile", row(0, 0, 0, 0, 0, 0)), -0.1, kTol);
  // |e| = log(1 + e^-5) < 0.1: alpha = 1, the energy is e itself.
  const double e5 = -std::log(1 + std::exp(-5.0));
  EXPECT_NEAR(energy("NOT smile", row(5, 0, 0, 0, 0, 0)), e5, kTol);
  // Far from true: still -0.1, finite.
  EXPECT_NEAR(energy("NOT smile", row(-1000, 0, 0, 0, 0, 0)), -0.1, kTol);
  // Certainly true (e = 0): alpha = 1, energy 0.
  EXPECT_NEAR(energy("NOT smile", row(1000, 0, 0, 0, 0, 0)), 0.0, kTol);
  // Compounds and categorical terms go through the same rule.
  EXPECT_NEAR(energy("NOT (smile AND glasses)", row(0, 0, 0, 0, 0, 0)), -0.1, kTol);
  EXPECT_NEAR(energy("NOT hair=red", row(0, 0, 4, 4, 4, 0)), -0.1, kTol);
  // NOT NOT x is x here too.
  EXPECT_NEAR(energy("NOT NOT smile", row(0.7, 0, 0, 0, 0, 0)), energy("smile", row(0.7, 0, 0, 0, 0, 0)), kTol);
  EXPECT_EQ(lace_energy("NOT NOT smile").canonical(), "smile");
}

TEST(Lace, NotGradientUsesDetachedAlpha) {
  // Energy = alpha * e with alpha a constant: dE/dl = alpha * de/dl, de/dl = sigmoid(-l).
  auto g = gradient("NOT smile", row(0, 0, 0, 0, 0, 0));
  EXPECT_NEAR(g[0].item<double>(), 0.1 / std::log(2.0) * 0.5, kTol);
  g = gradient("NOT smile", row(5, 0, 0, 0, 0, 0));
  EXPECT_NEAR(g[0].item<double>(), sigmoid(-5.0), kTol);
  // NOT (smile AND glasses) at 0: e = -2 log 2, alpha = 0.1 / (2 log 2), de/dl0 = de/dl1 = 1/2.
  g = gradient("NOT (smile AND glasses)", row(0, 0, 0, 0, 0, 0));
  EXPECT_NEAR(g[0].item<double>(), 0.1 / (2 * std::log(2.0)) * 0.5, kTol);
  EXPECT_NEAR(g[1].item<double>(), 0.1 / (2 * std::log(2.0)) * 0.5, kTol);
  EXPECT_EQ(g[2].item<double>(), 0.0);
  // Descending this energy lowers p(smile): the gradient w.r.t. the smile logit is positive.
  EXPECT_GT(gradient("NOT smile", row(-2, 0, 0, 0, 0, 0))[0].item<double>(), 0.0);
  // Finite for huge logits.
  EXPECT_TRUE(torch::isfinite(gradient("NOT (smile OR glasses)", row(1000, -1000, 0, 0, 0, 0))).all().item<bool>());
}
