// The attribute list every energy test uses: logits [B, 6] =
//   smile (binary, col 0), glasses (binary, col 1), hair (black/blonde/red, cols 2-4), age ([0, 1], sigma 0.1, col 5).
#include <vector>

#include "lace/model/attribute.hpp"

namespace lace_test {

std::vector<lace::model::Attribute> attributes() {
  using lace::model::Attribute;
  using lace::model::AttributeKind;
  Attribute smile;
  smile.name = "smile";
  smile.columns = {0};
  Attribute glasses;
  glasses.name = "glasses";
  glasses.columns = {1};
  Attribute hair;
  hair.name = "hair";
  hair.kind = AttributeKind::Categorical;
  hair.columns = {2, 3, 4};
  hair.classes = {"black", "blonde", "red"};
  Attribute age;
  age.name = "age";
  age.kind = AttributeKind::Continuous;
  age.columns = {5};
  age.range_min = 0.0;
  age.range_max = 1.0;
  age.sigma = 0.1;
  return {smile, glasses, hair, age};
}

}  // namespace lace_test
