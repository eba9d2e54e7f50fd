#pragma once
// One attribute of a bundle's latent classifier, as the manifest (lace.json) declares it.
// Shared by the model loader (which fills it) and the energy compiler (which reads it).

#include <cstdint>
#include <string>
#include <vector>

namespace lace::model {

enum class AttributeKind { Binary, Categorical, Continuous };

struct Attribute {
  std::string name;
  AttributeKind kind = AttributeKind::Binary;
  // Columns of the classifier's logits that belong to this attribute:
  //   binary: 1 column, the logit of "present" (p = sigmoid);
  //   categorical: one column per class, in the order of `classes` (p = softmax);
  //   continuous: 1 column, the regression output on the attribute's own scale.
  std::vector<int64_t> columns;
  std::vector<std::string> classes;  // categorical only
  double range_min = 0.0;            // continuous only: values a condition may ask for
  double range_max = 1.0;
  double sigma = 0.1;                // continuous only: E = (f - c)^2 / (2 sigma^2)
  // Continuous only: how far from a target a reading may lie and still count as the target met, in P
  // (what --min-p and the records read). The energy aims at the target itself; 0 = the energy's own P.
  double tolerance = 0.0;
  std::vector<int64_t> layers;       // optional: w+ layers the attribute lives in (editing)
};

const char* to_string(AttributeKind kind);

}  // namespace lace::model
