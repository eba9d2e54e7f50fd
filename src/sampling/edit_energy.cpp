#include "lace/sampling/edit_energy.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "lace/energy/terms.hpp"

namespace lace::sampling {
namespace {

const model::Attribute* find(const std::vector<model::Attribute>& attributes, const std::string& name) {
  for (const auto& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

// The attributes that none of the conditions mentions, in manifest order.
std::vector<const model::Attribute*> untouched_attributes(const std::vector<energy::Energy>& conditions,
                                                          const std::vector<model::Attribute>& attributes) {
  std::set<std::string> touched;
  for (const auto& c : conditions)
    for (const auto& name : c.attribute_names()) touched.insert(name);
  std::vector<const model::Attribute*> out;
  for (const auto& a : attributes)
    if (!touched.count(a.name)) out.push_back(&a);
  return out;
}

// The attribute names an expression subtree mentions.
void names_in(const energy::Expr& e, std::set<std::string>& out) {
  if (e.kind == energy::ExprKind::Term) out.insert(e.term.name);
  for (const auto& c : e.children) names_in(*c, out);
}

// The terms of a (nested) AND, or the expression itself when it is not one.
void and_terms(const energy::ExprPtr& e, std::vector<energy::ExprPtr>& out) {
  if (e->kind != energy::ExprKind::And) return out.push_back(e);
  for (const auto& c : e->children) and_terms(c, out);
}

// The keep term's sigma for a continuous attribute: keep_sigma, or where it is 0 the attribute's own.
double keep_width(const model::Attribute& a, double keep_sigma) { return keep_sigma > 0 ? keep_sigma : a.sigma; }

}  // namespace

std::vector<energy::Energy> supersede(const std::vector<energy::Energy>& earlier, const energy::Energy& newest,
                                      const std::vector<model::Attribute>& attributes) {
  const auto names = newest.attribute_names();
  const std::set<std::string> reset(names.begin(), names.end());
  std::vector<energy::Energy> out;
  for (const auto& condition : earlier) {
    if (condition.unconditional()) continue;
    std::vector<energy::ExprPtr> terms, kept;
    and_terms(condition.expression(), terms);
    for (const auto& t : terms) {
      std::set<std::string> named;
      names_in(*t, named);
      if (std::none_of(named.begin(), named.end(), [&](const std::string& n) { return reset.count(n) > 0; }))
        kept.push_back(t);
    }
    if (kept.size() == terms.size()) out.push_back(condition);
    else if (!kept.empty())
      out.push_back(energy::compile(energy::to_string(kept.size() == 1 ? kept.front() : energy::make_and(kept)),
                                    attributes, condition.operators()));
  }
  out.push_back(newest);
  return out;
}

std::vector<int64_t> untouched_columns(const std::vector<energy::Energy>& conditions,
                                       const std::vector<model::Attribute>& attributes) {
  std::vector<int64_t> columns;
  for (const auto* a : untouched_attributes(conditions, attributes))
    columns.insert(columns.end(), a->columns.begin(), a->columns.end());
  std::sort(columns.begin(), columns.end());
  return columns;
}

KeptReading kept_probabilities(const torch::Tensor& logits, const torch::Tensor& class_logits,
                               const torch::Tensor& values, const std::vector<energy::Energy>& conditions,
                               const std::vector<model::Attribute>& attributes, double keep_sigma) {
  for (const auto* t : {&class_logits, &values})
    if (!t->sizes().equals(logits.sizes())) throw std::invalid_argument("kept_probabilities: [B, num_logits] each");
  KeptReading out;
  std::vector<torch::Tensor> columns;
  for (const auto* a : untouched_attributes(conditions, attributes)) {
    const int64_t c = a->columns.front();
    torch::Tensor p;
    if (a->kind == model::AttributeKind::Binary) {
      const auto present = class_logits.select(1, c).gt(0);
      p = at::exp(-energy::binary_energy(logits.select(1, c), present));
      p = torch::where(logits.select(1, c).gt(0).eq(present), torch::ones_like(p), p);
    }
    if (a->kind == model::AttributeKind::Categorical) {
      const auto index = torch::tensor(a->columns, torch::kLong).to(logits.device());
      const auto held = class_logits.index_select(1, index).argmax(1);
      const auto now = logits.index_select(1, index);
      p = at::exp(-energy::categorical_energy(now, held));
      p = torch::where(now.argmax(1).eq(held), torch::ones_like(p), p);
    }
    if (a->kind == model::AttributeKind::Continuous) {
      const double s = keep_width(*a, keep_sigma);
      p = energy::continuous_met(logits.select(1, c) - values.select(1, c).to(logits), 0.0, s, std::max(a->tolerance, 2 * s));
    }
    out.names.push_back(a->name);
    columns.push_back(p.to(torch::kCPU, torch::kDouble));
  }
  out.p = columns.empty() ? torch::zeros({logits.size(0), 0}, torch::kDouble) : torch::stack(columns, 1);
  return out;
}

torch::Tensor step_ws(const torch::Tensor& ws_previous, const torch::Tensor& w, const std::vector<int64_t>& layers) {
  const auto index = torch::tensor(layers, torch::kLong).to(ws_previous.device());
  const auto n = static_cast<int64_t>(layers.size());
  return ws_previous.index_copy(1, index, w.unsqueeze(1).expand({w.size(0), n, w.size(1)}).contiguous());
}

bool sets_continuous(const energy::Energy& condition, const std::vector<model::Attribute>& attributes) {
  for (const auto& name : condition.attribute_names()) {
    const auto* a = find(attributes, name);
    if (a && a->kind == model::AttributeKind::Continuous) return true;
  }
  return false;
}

std::vector<int64_t> edited_layers(const energy::Energy& condition, const std::vector<model::Attribute>& attributes,
                                   int64_t num_ws) {
  std::set<int64_t> layers;
  bool all = condition.attribute_names().empty();
  for (const auto& name : condition.attribute_names()) {
    const auto* a = find(attributes, name);
    if (!a || a->layers.empty()) all = true;
    else layers.insert(a->layers.begin(), a->layers.end());
  }
  std::vector<int64_t> out;
  for (int64_t i = 0; i < num_ws; ++i)
    if (all || layers.count(i)) out.push_back(i);
  return out;
}

EditEnergy::EditEnergy(const model::Bundle& bundle, double truncation, std::vector<energy::Energy> conditions,
                       torch::Tensor z_anchor, const EditWeights& weights, const torch::Tensor& held_logits,
                       const torch::Tensor& held_values, const torch::Tensor& reading_shift)
    : bundle_(bundle), truncation_(truncation), conditions_(std::move(conditions)), weights_(weights) {
  if (conditions_.empty()) throw std::invalid_argument("an edit needs at least one condition");
  const auto& attributes = bundle.manifest().attributes;
  for (size_t k = 0; k + 1 < conditions_.size(); ++k) condition_weights_.push_back(weights.previous);
  condition_weights_.push_back(sets_continuous(conditions_.back(), attributes) ? weights.newest_continuous
                                                                               : weights.newest);
  kept_columns_ = untouched_columns(conditions_, attributes);

  torch::NoGradGuard no_grad;
  z_anchor_ = z_anchor.detach();
  w_anchor_ = bundle_.truncate(bundle_.mapping(z_anchor_), truncation_);
  const auto anchor_logits = bundle_.classify(w_anchor_);
  for (const auto& [given, name] : {std::pair{&held_logits, "held logits"}, {&held_values, "held values"},
                                    {&reading_shift, "the reading shift"}})
    if (given->defined() && (given->dim() != 2 || given->size(0) != anchor_logits.size(0) ||
                             given->size(1) != anchor_logits.size(1)))
      throw std::invalid_argument(std::string(name) + " must be [" + std::to_string(anchor_logits.size(0)) + ", " +
                                  std::to_string(anchor_logits.size(1)) + "], one row per anchor");
  if (reading_shift.defined()) shift_ = reading_shift.detach().to(anchor_logits);
  const auto or_anchor = [&](const torch::Tensor& t) { return t.defined() ? t.detach().to(anchor_logits) : anchor_logits; };
  held_ = or_anchor(held_logits);
  if (!kept_columns_.empty()) {
    kept_index_ = torch::tensor(kept_columns_, torch::kLong).to(z_anchor_.device());
    kept_anchor_ = anchor_logits.index_select(1, kept_index_);
    if (weights_.keep > 0) hold(held_, or_anchor(held_values), attributes);
  }
}

void EditEnergy::read_images(const torch::Tensor& ws_previous, std::vector<int64_t> layers) {
  if (!bundle_.has_verifier()) throw std::invalid_argument("reading the image needs the bundle's verifier");
  if (shift_.defined()) throw std::invalid_argument("reading the image takes no reading shift");
  if (ws_previous.dim() != 3 || ws_previous.size(0) != z_anchor_.size(0))
    throw std::invalid_argument("ws_previous must be [B, num_ws, w_dim], one row per anchor");
  ws_previous_ = ws_previous.detach();
  layers_ = std::move(layers);
  if (kept_index_.defined()) kept_anchor_ = held_.index_select(1, kept_index_);  // as the image read them
}

void EditEnergy::hold(const torch::Tensor& class_logits, const torch::Tensor& values,
                      const std::vector<model::Attribute>& attributes) {
  const auto device = z_anchor_.device();
  std::vector<int64_t> binary, continuous;
  std::vector<double> sigmas;
  for (const auto* a : untouched_attributes(conditions_, attributes)) {
    if (a->kind == model::AttributeKind::Binary) binary.push_back(a->columns.front());
    if (a->kind == model::AttributeKind::Categorical) {
      const auto columns = torch::tensor(a->columns, torch::kLong).to(device);
      keep_categorical_.emplace_back(columns, class_logits.index_select(1, columns).argmax(1));
    }
    if (a->kind == model::AttributeKind::Continuous) {
      continuous.push_back(a->columns.front());
      sigmas.push_back(keep_width(*a, weights_.keep_sigma));
    }
  }
  if (!binary.empty()) {
    keep_binary_columns_ = torch::tensor(binary, torch::kLong).to(device);
    keep_binary_present_ = class_logits.index_select(1, keep_binary_columns_).gt(0);
  }
  if (!continuous.empty()) {
    keep_continuous_columns_ = torch::tensor(continuous, torch::kLong).to(device);
    keep_continuous_values_ = values.index_select(1, keep_continuous_columns_);
    keep_continuous_sigmas_ = torch::tensor(sigmas, values.options());
  }
}

torch::Tensor EditEnergy::total(const torch::Tensor& z, const torch::Tensor& rows) const {
  const auto pick = [&](const torch::Tensor& t) {
    return rows.defined() ? t.index_select(0, rows.to(t.device())) : t;
  };
  const auto w = bundle_.truncate(bundle_.mapping(z), truncation_);
  // Reading the image, each judge of the verifier reads the conditions (the sum of their energies: every one
  // must be met, VerifierSpec::judges) and the keep term reads their mean.
  const auto judges = ws_previous_.defined() ? bundle_.verify_each(bundle_.synthesis(step_ws(pick(ws_previous_), w, layers_)))
                                             : bundle_.classify(w).unsqueeze(0);
  const auto logits = judges.mean(0);
  // What the conditions (each reading) and the keep term (their mean) see.
  const auto readings = shift_.defined() ? judges - pick(shift_) : judges;
  const auto read = readings.mean(0);
  auto e = torch::zeros({z.size(0)}, z.options());
  for (int64_t j = 0; j < readings.size(0); ++j)
    for (size_t k = 0; k < conditions_.size(); ++k) e = e + condition_weights_[k] * conditions_[k](readings[j]);
  e = e + weights_.reg_z * ((w - pick(w_anchor_)).square().sum(1) + (z - pick(z_anchor_)).square().sum(1));
  if (!kept_columns_.empty()) {
    e = e + weights_.reg_logits * (logits.index_select(1, kept_index_) - pick(kept_anchor_)).square().sum(1);
  }
  if (weights_.keep > 0) {
    if (keep_binary_columns_.defined())
      e = e + weights_.keep *
                  energy::binary_energy(read.index_select(1, keep_binary_columns_), pick(keep_binary_present_)).sum(1);
    for (const auto& [columns, label] : keep_categorical_)
      e = e + weights_.keep * energy::categorical_energy(read.index_select(1, columns), pick(label));
    if (keep_continuous_columns_.defined()) {
      // Free within two keep sigmas of the held value, then quadratic: no pull while the value is safe.
      const auto off = (read.index_select(1, keep_continuous_columns_) - pick(keep_continuous_values_)).abs();
      const auto beyond = (off - 2 * keep_continuous_sigmas_).clamp_min(0);
      e = e + weights_.keep * (beyond.square() / (2 * keep_continuous_sigmas_.square())).sum(1);
    }
  }
  return e;
}

torch::Tensor EditEnergy::energy(const torch::Tensor& z) const {
  torch::NoGradGuard no_grad;
  return total(z, {});
}

EnergyAndGradient EditEnergy::energy_and_gradient(const torch::Tensor& z, const torch::Tensor& rows) const {
  torch::AutoGradMode grad_mode(true);
  auto zg = z.detach().requires_grad_(true);
  auto e = total(zg, rows);
  // Rows are independent, so the gradient of the sum gives every row its own dE/dz.
  auto grad = torch::autograd::grad({e.sum()}, {zg})[0];
  return {e.detach(), grad.detach()};
}

}  // namespace lace::sampling
