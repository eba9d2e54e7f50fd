#include "lace/energy/operators.hpp"

#include <cctype>
#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

namespace lace::energy {
namespace {

// Below this the exact NOT's operand is clamped: -log(1 - exp(-1e-6)) ~ 13.8 instead of +inf.
constexpr double kNotFloor = 1e-6;
// The authors' OR weights its first operand 20 times the second.
constexpr double kLaceOrWeight = 20.0;
// The authors' NOT damps the negated log-prob to at most 0.1 in size.
constexpr double kLaceNotScale = 0.1;

void require_operands(const std::vector<torch::Tensor>& energies) {
  if (energies.empty()) throw std::invalid_argument("a logical operator needs at least one operand");
}

}  // namespace

const char* to_string(Operators ops) {
  switch (ops) {
    case Operators::Exact: return "exact";
    case Operators::Lace: return "lace";
  }
  return "unknown";
}

Operators operators_from_string(const std::string& name) {
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "exact") return Operators::Exact;
  if (lower == "lace") return Operators::Lace;
  throw std::invalid_argument("unknown operators '" + name + "'; expected exact or lace");
}

torch::Tensor log1mexp(const torch::Tensor& x) {
  // Near 0, 1 - exp(-x) cancels: use expm1. Far from 0, exp(-x) is small: use log1p.
  // Both branches are finite for x > 0, so where() passes no NaN into the gradient.
  return at::where(x < std::log(2.0), at::log(-at::expm1(-x)), at::log1p(-at::exp(-x)));
}

torch::Tensor and_energy(const std::vector<torch::Tensor>& energies) {
  require_operands(energies);
  auto sum = energies[0];
  for (size_t i = 1; i < energies.size(); ++i) sum = sum + energies[i];
  return sum;
}

torch::Tensor exact_or_energy(const std::vector<torch::Tensor>& energies) {
  require_operands(energies);
  const auto n = static_cast<double>(energies.size());
  return -at::logsumexp(-at::stack(energies, 0), {0}) + std::log(n);
}

torch::Tensor exact_not_energy(const torch::Tensor& energy) {
  return -log1mexp(energy.clamp_min(kNotFloor));
}

torch::Tensor lace_or_energy(const std::vector<torch::Tensor>& energies) {
  require_operands(energies);
  auto e = -energies[0];
  for (size_t i = 1; i < energies.size(); ++i) e = at::logaddexp(e + std::log(kLaceOrWeight), -energies[i]);
  return -e;
}

torch::Tensor lace_not_energy(const torch::Tensor& energy) {
  const auto e = -energy;
  // 0.1 / 0 = inf clamps to 1, so a certain operand (e = 0) is negated at full strength.
  const auto alpha = (kLaceNotScale / e.detach().abs()).clamp(0.0, 1.0);
  return alpha * e;  // the energy of the log-prob -alpha * e
}

}  // namespace lace::energy
