#pragma once
// Energies E = -log p(term | z) of single attribute terms, from the classifier's logits.
// Every function returns shape [B] and is differentiable with respect to its input.

#include <cstdint>

#include <torch/types.h>

namespace lace::energy {

// stable_softplus(x) = log(1 + exp(x)), exact for any x (no threshold cut-off) and with a correct gradient at 0.
torch::Tensor stable_softplus(const torch::Tensor& x);

// Binary attribute with logit l [B]: present -> -log sigmoid(l) = softplus(-l); absent -> softplus(l).
torch::Tensor binary_energy(const torch::Tensor& logit, bool present);
// The same with a value per entry: present is a bool tensor of logit's shape (e.g. [B, n], each row its own).
torch::Tensor binary_energy(const torch::Tensor& logit, const torch::Tensor& present);

// Categorical attribute with class logits [B, K]: -log softmax(logits)[k].
torch::Tensor categorical_energy(const torch::Tensor& class_logits, int64_t k);
// The same with a class per row: k is an integer tensor [B].
torch::Tensor categorical_energy(const torch::Tensor& class_logits, const torch::Tensor& k);
// Its complement, -log(1 - p_k) = logsumexp(all) - logsumexp(all but k), stable for any logits.
torch::Tensor categorical_not_energy(const torch::Tensor& class_logits, int64_t k);

// Continuous attribute with regression output f [B]: (f - target)^2 / (2 sigma^2).
torch::Tensor continuous_energy(const torch::Tensor& value, double target, double sigma);
// The probability that the target is met: exp(-d^2 / (2 sigma^2)) with d the distance beyond `tolerance`,
// max(0, |f - target| - tolerance); with tolerance 0, exp(-continuous_energy).
torch::Tensor continuous_met(const torch::Tensor& value, double target, double sigma, double tolerance);

}  // namespace lace::energy
