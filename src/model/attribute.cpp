#include "lace/model/attribute.hpp"

namespace lace::model {

const char* to_string(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::Binary: return "binary";
    case AttributeKind::Categorical: return "categorical";
    case AttributeKind::Continuous: return "continuous";
  }
  return "unknown";
}

}  // namespace lace::model
