// Autograd gradients of compiled energies against central finite differences, in float64.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "lace/energy/energy.hpp"

using namespace lace::energy;

namespace lace_test {
std::vector<lace::model::Attribute> attributes();
}

namespace {

void check_gradient(const std::string& text, Operators ops, const torch::Tensor& logits) {
  const auto energy = compile(text, lace_test::attributes(), ops);
  auto x = logits.clone().requires_grad_(true);
  const auto grad = torch::autograd::grad({energy(x).sum()}, {x})[0];
  const double h = 1e-6;
  for (int64_t i = 0; i < logits.size(0); ++i) {
    for (int64_t j = 0; j < logits.size(1); ++j) {
      auto plus = logits.clone(), minus = logits.clone();
      plus[i][j] += h;
      minus[i][j] -= h;
      // Rows are independent, so the difference of the sums is row i's derivative.
      const double fd = (energy(plus).sum().item<double>() - energy(minus).sum().item<double>()) / (2 * h);
      const double g = grad[i][j].item<double>();
      EXPECT_NEAR(g, fd, 1e-6 * std::max(1.0, std::abs(fd))) << text << " [" << i << "," << j << "]";
    }
  }
}

torch::Tensor random_logits() {
  torch::manual_seed(1234);
  auto logits = 2 * torch::randn({5, 6}, torch::kFloat64);
  logits.select(1, 5).uniform_(0.0, 1.0);  // age on its own scale
  return logits;
}

}  // namespace

TEST(Gradients, ExactMatchesFiniteDifferences) {
  const auto logits = random_logits();
  for (const auto& text : {"smile", "smile=0", "hair=blonde", "age=0.3", "smile AND glasses",
                           "smile OR glasses OR hair=red", "(smile OR glasses) OR hair=red", "NOT smile", "NOT smile=0",
                           "NOT hair=red", "NOT (smile AND glasses)", "NOT (smile OR hair=black)", "NOT age=0.6",
                           "NOT 2*glasses", "2*smile AND 0.5*(glasses OR NOT hair=black)",
                           "NOT (smile OR hair=blonde) OR age=0.4 AND NOT glasses"}) {
    check_gradient(text, Operators::Exact, logits);
  }
}

TEST(Gradients, ExactAtLogitZero) {
  // l = 0 is where a threshold or |x| trick in softplus would get the derivative wrong.
  const auto zeros = torch::zeros({1, 6}, torch::kFloat64);
  for (const auto& text : {"smile", "NOT smile", "hair=red", "NOT hair=red", "NOT (smile AND glasses)"})
    check_gradient(text, Operators::Exact, zeros);
  auto x = zeros.clone().requires_grad_(true);
  const auto g = torch::autograd::grad({compile("smile", lace_test::attributes())(x).sum()}, {x})[0];
  EXPECT_DOUBLE_EQ(g[0][0].item<double>(), -0.5);  // d/dl softplus(-l) = -sigmoid(-l)
}

TEST(Gradients, LaceMatchesFiniteDifferences) {
  const auto logits = random_logits();
  // NOT is left out: its alpha is detached on purpose, so it differs from finite differences where |e| > 0.1.
  for (const auto& text : {"smile AND glasses", "smile OR glasses", "smile OR glasses OR hair=red",
                           "2*(hair=blonde OR age=0.5) AND smile=0"}) {
    check_gradient(text, Operators::Lace, logits);
  }
  // Where |e| < 0.1 alpha is 1 and NOT is plain e, so finite differences agree.
  auto sure = torch::full({2, 6}, 6.0, torch::kFloat64);
  check_gradient("NOT smile", Operators::Lace, sure);
}
