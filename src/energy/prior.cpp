#include "lace/energy/prior.hpp"

#include <algorithm>

#include <ATen/ATen.h>

namespace lace::energy {

using lace::model::Attribute;
using lace::model::AttributeKind;

AttributePrior::AttributePrior(const std::vector<std::string>& names, const std::vector<double>& log_ratio,
                               const std::vector<Attribute>& attributes) {
  int64_t cells = 1;
  for (const auto& name : names) {
    const auto a = std::find_if(attributes.begin(), attributes.end(), [&](const Attribute& x) { return x.name == name; });
    TORCH_CHECK(a != attributes.end() && a->kind != AttributeKind::Continuous, "prior: '", name,
                "' is not a discrete attribute of the bundle");
    const bool binary = a->kind == AttributeKind::Binary;
    factors_.push_back({binary, a->columns[0], binary ? torch::Tensor() : at::tensor(a->columns, at::kLong)});
    cells *= binary ? 2 : static_cast<int64_t>(a->columns.size());
  }
  TORCH_CHECK(!names.empty() && static_cast<int64_t>(log_ratio.size()) == cells, "prior: ", log_ratio.size(),
              " log ratios for ", cells, " cells of ", names.size(), " attributes");
  log_ratio_ = at::tensor(log_ratio, at::kDouble);
  log_ratio_f_ = log_ratio_.to(at::kFloat);
}

torch::Tensor AttributePrior::operator()(const torch::Tensor& logits) const {
  TORCH_CHECK(logits.dim() == 2, "prior: logits must be [B, num_logits], got ", logits.sizes());
  const auto x = logits.is_floating_point() && logits.element_size() >= 4 ? logits : logits.to(at::kFloat);
  // log q(cell) over the cells, the last attribute varying fastest: [B, cells].
  auto log_q = at::zeros({x.size(0), 1}, x.options());
  for (const auto& f : factors_) {
    at::Tensor log_p;  // [B, values]: log p of each value (binary: absent, present)
    if (f.binary) {
      const auto l = x.select(1, f.column);
      log_p = at::stack({at::log_sigmoid(-l), at::log_sigmoid(l)}, 1);
    } else {
      log_p = at::log_softmax(x.index_select(1, f.columns.to(x.device())), 1);
    }
    log_q = (log_q.unsqueeze(2) + log_p.unsqueeze(1)).reshape({x.size(0), -1});
  }
  const auto& log_r = x.scalar_type() == at::kDouble ? log_ratio_ : log_ratio_f_;
  return -at::logsumexp(log_q + log_r.to(x.device()).unsqueeze(0), 1);
}

}  // namespace lace::energy
