#pragma once
// The logical operators on energies (E = -log p, shape [B]), in two families:
//   Exact: the probabilistic forms (AND = product, OR = equal-weight mixture, NOT = complement);
//   Lace:  the heuristics of the authors' code (NVlabs/LACE), kept for comparison.

#include <string>
#include <vector>

#include <torch/types.h>

namespace lace::energy {

enum class Operators { Exact, Lace };

const char* to_string(Operators ops);                    // "exact" | "lace"
Operators operators_from_string(const std::string& name);  // "exact" | "lace" (any case), else std::invalid_argument

// log(1 - exp(-x)) for x > 0, accurate at both ends (Maechler's log1mexp).
torch::Tensor log1mexp(const torch::Tensor& x);

// Both families: AND multiplies probabilities, so energies add.
torch::Tensor and_energy(const std::vector<torch::Tensor>& energies);

// Exact OR of n operands: -log((1/n) sum_i exp(-E_i)). The 1/n keeps E >= 0, so NOT still applies.
torch::Tensor exact_or_energy(const std::vector<torch::Tensor>& energies);
// Exact NOT of any energy: -log(1 - exp(-E)), with E clamped below at 1e-6 so the result stays
// finite (at most about 13.8) when the operand is certainly true.
torch::Tensor exact_not_energy(const torch::Tensor& energy);

// Lace OR, with e = -E: log(20 exp(e_a) + exp(e_b)), folded from the left for n operands.
torch::Tensor lace_or_energy(const std::vector<torch::Tensor>& energies);
// Lace NOT: the log-prob -alpha * e with alpha = clamp(0.1 / |e|, 0, 1) on a detached e.
torch::Tensor lace_not_energy(const torch::Tensor& energy);

}  // namespace lace::energy
