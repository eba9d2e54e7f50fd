#pragma once
// The resolved expression tree compile() builds and Energy evaluates (private to the energy module:
// energy.cpp computes energies on it, probability.cpp the probability that it holds).

#include <cstdint>
#include <memory>
#include <vector>

namespace lace::energy::detail {

struct Node {
  enum class Kind { Binary, Categorical, Continuous, Not, Weighted, And, Or };
  Kind kind = Kind::Binary;
  std::vector<int64_t> columns;  // Binary/Continuous: one column; Categorical: one per class
  bool present = true;           // Binary
  int64_t class_index = 0;       // Categorical
  double target = 0.0;           // Continuous
  double sigma = 1.0;            // Continuous
  double tolerance = 0.0;        // Continuous: readings this close to the target count as met (probability)
  double weight = 1.0;           // Weighted
  std::vector<std::shared_ptr<const Node>> children;
};

}  // namespace lace::energy::detail
