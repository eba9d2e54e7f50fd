// Exact operators on logits whose energies are worked out by hand here (float64).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lace/energy/energy.hpp"
#include "lace/energy/operators.hpp"
#include "lace/energy/terms.hpp"

using namespace lace::energy;

namespace lace_test {
std::vector<lace::model::Attribute> attributes();
}

namespace {

// Columns: smile, glasses, hair black, hair blonde, hair red, age.
torch::Tensor row(double smile, double glasses, double black, double blonde, double red, double age,
                  torch::Dtype dtype = torch::kFloat64) {
  return torch::tensor({smile, glasses, black, blonde, red, age}, torch::kFloat64).reshape({1, 6}).to(dtype);
}

double energy(const std::string& text, const torch::Tensor& logits, Operators ops = Operators::Exact) {
  const auto e = compile(text, lace_test::attributes(), ops)(logits);
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{logits.size(0)}));
  return e.to(torch::kFloat64)[0].item<double>();
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

constexpr double kTol = 1e-12;

}  // namespace

TEST(Exact, BinaryTerms) {
  EXPECT_NEAR(energy("smile", row(0, 0, 0, 0, 0, 0)), std::log(2.0), kTol);
  EXPECT_NEAR(energy("smile", row(2, 0, 0, 0, 0, 0)), std::log(1 + std::exp(-2.0)), kTol);
  EXPECT_NEAR(energy("smile=1", row(-3, 0, 0, 0, 0, 0)), std::log(1 + std::exp(3.0)), kTol);
  EXPECT_NEAR(energy("smile=true", row(-3, 0, 0, 0, 0, 0)), std::log(1 + std::exp(3.0)), kTol);
  EXPECT_NEAR(energy("smile=0", row(2, 0, 0, 0, 0, 0)), std::log(1 + std::exp(2.0)), kTol);
  EXPECT_NEAR(energy("smile=false", row(2, 0, 0, 0, 0, 0)), std::log(1 + std::exp(2.0)), kTol);
  EXPECT_NEAR(energy("glasses", row(5, -1, 0, 0, 0, 0)), std::log(1 + std::exp(1.0)), kTol);
  // Past softplus's usual cut-off (x > 20 -> x) the tail log1p(e^-25) ~ 1.4e-11 is still there.
  EXPECT_NEAR(energy("smile", row(-25, 0, 0, 0, 0, 0)) - 25.0, std::log1p(std::exp(-25.0)), 1e-14);
}

TEST(Exact, CategoricalTerm) {
  const auto logits = row(0, 0, 1, 2, 3, 0);
  const double log_z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(energy("hair=black", logits), log_z - 1.0, kTol);
  EXPECT_NEAR(energy("hair=blonde", logits), log_z - 2.0, kTol);
  EXPECT_NEAR(energy("hair=red", logits), log_z - 3.0, kTol);
  // Equal logits: p = 1/3.
  EXPECT_NEAR(energy("hair=red", row(0, 0, 4, 4, 4, 0)), std::log(3.0), kTol);
}

TEST(Exact, BinaryTermPerEntry) {
  // Each entry its own class: present -> log(1 + e^-l), absent -> log(1 + e^l).
  const auto logits = torch::tensor({2.0, -1.0, 0.5, 3.0}, torch::kFloat64).reshape({2, 2});
  const auto present = torch::tensor({true, false, false, true}).reshape({2, 2});
  const auto e = binary_energy(logits, present);
  ASSERT_EQ(e.sizes(), logits.sizes());
  EXPECT_NEAR(e[0][0].item<double>(), std::log(1 + std::exp(-2.0)), kTol);
  EXPECT_NEAR(e[0][1].item<double>(), std::log(1 + std::exp(-1.0)), kTol);
  EXPECT_NEAR(e[1][0].item<double>(), std::log(1 + std::exp(0.5)), kTol);
  EXPECT_NEAR(e[1][1].item<double>(), std::log(1 + std::exp(-3.0)), kTol);
}

TEST(Exact, CategoricalTermPerRow) {
  // Row 0 asks for class 2 of (1, 2, 3), row 1 for class 0 of (0, 0, ln 2): p = 1/4.
  const auto logits = torch::tensor({1.0, 2.0, 3.0, 0.0, 0.0, std::log(2.0)}, torch::kFloat64).reshape({2, 3});
  const auto e = categorical_energy(logits, torch::tensor({2, 0}, torch::kLong));
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2}));
  EXPECT_NEAR(e[0].item<double>(), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, kTol);
  EXPECT_NEAR(e[1].item<double>(), std::log(4.0), kTol);
  // An int32 class tensor (what a reader might hand in) means the same.
  EXPECT_TRUE(torch::allclose(e, categorical_energy(logits, torch::tensor({2, 0}, torch::kInt))));
}

TEST(Exact, ContinuousTerm) {
  // (0.5 - 0.7)^2 / (2 * 0.1^2) = 0.04 / 0.02 = 2.
  EXPECT_NEAR(energy("age=0.7", row(0, 0, 0, 0, 0, 0.5)), 2.0, kTol);
  EXPECT_NEAR(energy("age=0", row(0, 0, 0, 0, 0, 0.1)), 0.5, kTol);
  EXPECT_NEAR(energy("age=0.3", row(0, 0, 0, 0, 0, 0.3)), 0.0, kTol);
}

TEST(Exact, AndIsSum) {
  const auto logits = row(1, -1, 1, 2, 3, 0.5);
  const double e_smile = std::log(1 + std::exp(-1.0)), e_glasses = std::log(1 + std::exp(1.0));
  const double e_red = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  EXPECT_NEAR(energy("smile AND glasses", logits), e_smile + e_glasses, kTol);
  EXPECT_NEAR(energy("smile AND glasses AND hair=red AND age=0.7", logits), e_smile + e_glasses + e_red + 2.0, kTol);
  EXPECT_NEAR(energy("(smile AND glasses) AND hair=red", logits), e_smile + e_glasses + e_red, kTol);
}

TEST(Exact, OrIsEqualMixture) {
  // sigmoid(1) + sigmoid(-1) = 1, so the mixture's probability is 1/2.
  EXPECT_NEAR(energy("smile OR glasses", row(1, -1, 0, 0, 0, 0)), std::log(2.0), kTol);
  const auto logits = row(0.3, 2, 1, 2, 3, 0.5);
  const double pa = sigmoid(0.3), pb = sigmoid(2.0);
  EXPECT_NEAR(energy("smile OR glasses", logits), -std::log((pa + pb) / 2), kTol);
  // Three operands: E = -log((e^-Ea + e^-Eb + e^-Ec) / 3).
  const double pc = std::exp(-2.0);  // age=0.7 at 0.5
  EXPECT_NEAR(energy("smile OR glasses OR age=0.7", logits), -std::log((pa + pb + pc) / 3), kTol);
  // Nesting changes the mixture: (a OR b) OR c = -log((pa + pb)/4 + pc/2).
  EXPECT_NEAR(energy("(smile OR glasses) OR age=0.7", logits), -std::log((pa + pb) / 4 + pc / 2), kTol);
  // The same operand twice gives back its own energy (log n keeps E a probability).
  EXPECT_NEAR(energy("smile OR smile", logits), -std::log(pa), kTol);
}

TEST(Exact, NotOfDiscreteTerms) {
  EXPECT_NEAR(energy("NOT smile", row(0, 0, 0, 0, 0, 0)), std::log(2.0), kTol);
  EXPECT_NEAR(energy("NOT smile", row(2, 0, 0, 0, 0, 0)), std::log(1 + std::exp(2.0)), kTol);
  EXPECT_NEAR(energy("NOT smile=0", row(2, 0, 0, 0, 0, 0)), std::log(1 + std::exp(-2.0)), kTol);
  const auto logits = row(0, 0, 1, 2, 3, 0);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(energy("NOT hair=red", logits), -std::log(1 - std::exp(3.0) / z), kTol);
  EXPECT_NEAR(energy("NOT hair=black", logits), -std::log(1 - std::exp(1.0) / z), kTol);
}

TEST(Exact, NotOfCompounds) {
  const auto logits = row(0.5, -1.5, 1, 2, 3, 0.5);
  const double pa = sigmoid(0.5), pb = sigmoid(-1.5);
  EXPECT_NEAR(energy("NOT (smile AND glasses)", logits), -std::log(1 - pa * pb), kTol);
  EXPECT_NEAR(energy("NOT (smile OR glasses)", logits), -std::log(1 - (pa + pb) / 2), kTol);
  // A continuous term: p = exp(-E) = exp(-2).
  EXPECT_NEAR(energy("NOT age=0.7", logits), -std::log(1 - std::exp(-2.0)), kTol);
  // A weighted operand: p^w.
  EXPECT_NEAR(energy("NOT 2*smile", logits), -std::log(1 - pa * pa), kTol);
  // NOT NOT is the operand itself.
  EXPECT_NEAR(energy("NOT NOT (smile AND glasses)", logits), -std::log(pa * pb), kTol);
  EXPECT_NEAR(energy("NOT NOT hair=red", logits), energy("hair=red", logits), kTol);
  // De Morgan: NOT (NOT a AND NOT b) = a OR b in the "independent" sense: 1 - (1-pa)(1-pb).
  EXPECT_NEAR(energy("NOT (NOT smile AND NOT glasses)", logits), -std::log(1 - (1 - pa) * (1 - pb)), kTol);
}

TEST(Exact, Weights) {
  const auto logits = row(0.5, -1.5, 1, 2, 3, 0.5);
  const double pa = sigmoid(0.5), pb = sigmoid(-1.5);
  EXPECT_NEAR(energy("2*smile", logits), -2 * std::log(pa), kTol);
  EXPECT_NEAR(energy("0.5*(smile OR glasses)", logits), -0.5 * std::log((pa + pb) / 2), kTol);
  EXPECT_NEAR(energy("0*smile AND glasses", logits), -std::log(pb), kTol);
  EXPECT_NEAR(energy("2*3*smile", logits), -6 * std::log(pa), kTol);
}

TEST(Exact, RowsAreIndependent) {
  const auto logits = torch::cat({row(0, 0, 0, 0, 0, 0), row(2, 0, 0, 0, 0, 0), row(-3, 0, 0, 0, 0, 0)}, 0);
  const auto e = compile("smile", lace_test::attributes())(logits);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{3}));
  EXPECT_NEAR(e[0].item<double>(), std::log(2.0), kTol);
  EXPECT_NEAR(e[1].item<double>(), std::log(1 + std::exp(-2.0)), kTol);
  EXPECT_NEAR(e[2].item<double>(), std::log(1 + std::exp(3.0)), kTol);
}

TEST(Exact, EnergiesAreNonNegative) {
  torch::manual_seed(0);
  const auto logits = 4 * torch::randn({256, 6}, torch::kFloat64);
  for (const auto& text : {"smile OR glasses OR hair=red", "NOT (smile AND age=0.5)", "NOT (smile OR hair=blonde)",
                           "(smile OR NOT glasses) AND NOT (hair=red OR age=0.9)"}) {
    EXPECT_GE(compile(text, lace_test::attributes())(logits).min().item<double>(), 0.0) << text;
  }
}

// |l| = 80 and 1000, in float64 and float32: finite energies and gradients with the right limits.
TEST(Exact, LargeLogits) {
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const double tol = dtype == torch::kFloat64 ? 1e-9 : 1e-3;
    for (const double l : {80.0, 1000.0}) {
      const auto sure = row(l, l, 0, 0, l, 0, dtype);         // smile, glasses, red certain
      const auto never = row(-l, -l, 0, 0, -l, 0, dtype);     // all absent
      EXPECT_NEAR(energy("smile", sure), 0.0, tol);
      EXPECT_NEAR(energy("smile", never), l, tol * l);
      EXPECT_NEAR(energy("NOT smile", sure), l, tol * l);
      EXPECT_NEAR(energy("NOT smile", never), 0.0, tol);
      EXPECT_NEAR(energy("hair=red", sure), 0.0, tol);
      EXPECT_NEAR(energy("hair=black", sure), l, tol * l);
      EXPECT_NEAR(energy("NOT hair=red", sure), l - std::log(2.0), tol * l);  // p(not red) = 2 e^-l
      EXPECT_NEAR(energy("NOT hair=red", never), 0.0, tol);
      EXPECT_NEAR(energy("smile OR glasses", never), l, tol * l);
      EXPECT_NEAR(energy("smile OR glasses", row(l, -l, 0, 0, 0, 0, dtype)), std::log(2.0), tol);
      EXPECT_NEAR(energy("NOT (smile AND glasses)", never), 0.0, tol);
      // A compound that is certainly true: the operand is clamped at 1e-6, so the energy is -log(1 - e^-1e-6).
      EXPECT_NEAR(energy("NOT (smile AND glasses)", sure), -std::log(-std::expm1(-1e-6)), 1e-3);
      for (const auto& text : {"smile", "NOT smile", "hair=red", "NOT hair=blonde", "smile OR glasses OR hair=black",
                               "NOT (smile AND glasses)", "NOT (smile OR hair=red)", "2*NOT (glasses AND NOT hair=red)"}) {
        for (const auto& logits : {sure, never}) {
          auto x = logits.clone().requires_grad_(true);
          const auto e = compile(text, lace_test::attributes())(x);
          const auto g = torch::autograd::grad({e.sum()}, {x})[0];
          EXPECT_TRUE(torch::isfinite(e).all().item<bool>()) << text << " l=" << l;
          EXPECT_TRUE(torch::isfinite(g).all().item<bool>()) << text << " l=" << l;
        }
      }
    }
  }
}

TEST(Exact, OperatorFunctions) {
  const auto x = torch::tensor({1e-10, 0.1, std::log(2.0), 1.0, 50.0, 800.0}, torch::kFloat64);
  const auto got = log1mexp(x);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const double v = x[i].item<double>();
    const double want = std::log(-std::expm1(-v));  // accurate in double for these
    EXPECT_NEAR(got[i].item<double>(), want, 1e-12 * std::max(1.0, std::abs(want))) << v;
  }
  const auto a = torch::tensor({1.0, 2.0}, torch::kFloat64), b = torch::tensor({3.0, 0.5}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(and_energy({a, b}), a + b));
  EXPECT_NEAR(exact_or_energy({a, b})[0].item<double>(), -std::log((std::exp(-1.0) + std::exp(-3.0)) / 2), kTol);
  EXPECT_NEAR(exact_not_energy(a)[0].item<double>(), -std::log(1 - std::exp(-1.0)), kTol);
  EXPECT_THROW(and_energy({}), std::invalid_argument);
}

TEST(Exact, DiscreteScaleMultipliesDiscreteTermsOnly) {
  // Guidance g: each binary or categorical term's energy times g, a continuous target's unchanged.
  const auto l = row(1.5, -0.5, 0.2, 1.0, -1.0, 0.8);
  const auto scaled = [&](const std::string& text, double g) {
    return compile(text, lace_test::attributes())(l, g)[0].item<double>();
  };
  const double smile = std::log(1 + std::exp(-1.5));
  const double age = std::pow(0.8 - 0.5, 2) / (2 * 0.1 * 0.1);
  EXPECT_NEAR(scaled("smile AND age=0.5", 3.0), 3 * smile + age, kTol);
  EXPECT_NEAR(scaled("age=0.5", 3.0), age, kTol);
  EXPECT_NEAR(scaled("NOT glasses", 2.0), 2 * std::log(1 + std::exp(-0.5)), kTol);
  const double red = -(-1.0 - std::log(std::exp(0.2) + std::exp(1.0) + std::exp(-1.0)));
  EXPECT_NEAR(scaled("hair=red", 2.0), 2 * red, kTol);
  // An OR mixes the scaled terms: -log((p_a^g + p_b^g) / 2), the exact OR of two.
  const double p_smile = sigmoid(1.5), p_glasses = sigmoid(-0.5);
  EXPECT_NEAR(scaled("smile OR glasses", 2.0), -std::log((p_smile * p_smile + p_glasses * p_glasses) / 2), kTol);
  EXPECT_NEAR(scaled("smile AND age=0.5", 1.0), energy("smile AND age=0.5", l), kTol);
}
