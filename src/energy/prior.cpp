#include "lace/energy/prior.hpp"

#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

namespace lace::energy {

using lace::model::Attribute;
using lace::model::AttributeKind;

AttributePrior::AttributePrior(const std::vector<std::string>& names, const std::vector<double>& log_ratio,
                               const std::vector<Attribute>& attributes)
    : names_(names), log_ratio_(log_ratio) {
  if (names.empty()) throw std::invalid_argument("lists no attribute");
  int64_t cells = 1;
  for (const auto& name : names) {
    const Attribute* found = nullptr;
    for (const auto& a : attributes)
      if (a.name == name) found = &a;
    if (!found) throw std::invalid_argument("'" + name + "' is not an attribute of the bundle");
    if (found->kind == AttributeKind::Continuous)
      throw std::invalid_argument("'" + name + "' is continuous; the prior's cells take discrete attributes only");
    for (const auto& a : attributes_)
      if (a.name == name) throw std::invalid_argument("'" + name + "' appears twice");
    attributes_.push_back(*found);
    cells *= found->kind == AttributeKind::Binary ? 2 : static_cast<int64_t>(found->columns.size());
  }
  if (static_cast<int64_t>(log_ratio.size()) != cells)
    throw std::invalid_argument("has " + std::to_string(log_ratio.size()) + " log ratios for " +
                                std::to_string(cells) + " cells");
  for (const double v : log_ratio)
    if (!std::isfinite(v)) throw std::invalid_argument("a log ratio is not a finite number");
}

torch::Tensor AttributePrior::operator()(const torch::Tensor& logits) const {
  TORCH_CHECK(logits.dim() == 2, "prior: logits must be [B, num_logits], got ", logits.sizes());
  const auto x = logits.is_floating_point() && logits.element_size() >= 4 ? logits : logits.to(at::kFloat);
  // log q(cell) over the cells, the last attribute varying fastest: [B, cells].
  auto log_q = at::zeros({x.size(0), 1}, x.options());
  for (const auto& a : attributes_) {
    at::Tensor log_p;  // [B, values]: log p of each value (binary: absent, present)
    if (a.kind == AttributeKind::Binary) {
      const auto l = x.select(1, a.columns[0]);
      log_p = at::stack({at::log_sigmoid(-l), at::log_sigmoid(l)}, 1);
    } else {
      log_p = at::log_softmax(x.index_select(1, at::tensor(a.columns, at::kLong).to(x.device())), 1);
    }
    log_q = (log_q.unsqueeze(2) + log_p.unsqueeze(1)).reshape({x.size(0), -1});
  }
  const auto log_r = at::tensor(log_ratio_, x.options().dtype(at::kDouble)).to(x.scalar_type());
  return -at::logsumexp(log_q + log_r.unsqueeze(0), 1);
}

}  // namespace lace::energy
