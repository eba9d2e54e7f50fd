// The energy of one editing step on the tiny bundle (smile, glasses binary; hair categorical; age
// continuous): each term against a hand-computed value, and its gradient against finite differences.
#include <filesystem>
#include <random>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lace/energy/energy.hpp"
#include "lace/energy/terms.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/edit_energy.hpp"
#include "lace/sampling/seeds.hpp"
#include "support/test_verifier.hpp"

using namespace lace;

namespace {

const model::Bundle& tiny() {
  static const model::Bundle bundle = model::Bundle::load(LACE_TINY_BUNDLE, torch::kCPU);
  return bundle;
}

std::vector<energy::Energy> conditions(const std::vector<std::string>& exprs) {
  std::vector<energy::Energy> out;
  for (const auto& e : exprs) out.push_back(energy::compile(e, tiny().manifest().attributes));
  return out;
}

torch::Tensor logits_at(const torch::Tensor& z, double psi) {
  torch::NoGradGuard no_grad;
  return tiny().classify(tiny().truncate(tiny().mapping(z), psi));
}

// Three rows of a step that reads the image: the anchor, z near it, and the previous image's w+ (the generator
// is the tiny bundle's in every copy of it).
struct ImageStep {
  torch::Tensor anchor, z, ws_previous;
};
ImageStep image_step(double psi) {
  torch::NoGradGuard no_grad;
  const auto anchor = sampling::initial_latents(5, 0, 3, 8);
  const auto w = tiny().truncate(tiny().mapping(sampling::initial_latents(7, 0, 3, 8)), psi);
  return {anchor, anchor + 0.6 * sampling::initial_latents(6, 0, 3, 8), tiny().broadcast_ws(w)};
}

// log(1 + exp(x)), in double for the reference values.
torch::Tensor log1p_exp(const torch::Tensor& x) { return torch::log1p(torch::exp(x.to(torch::kDouble))); }

TEST(EditEnergy, EachTermIsWhatTheRecipeSays) {
  const double psi = 0.8;
  const auto anchor = sampling::initial_latents(5, 0, 4, 8);
  const auto z = anchor + 0.7 * sampling::initial_latents(6, 0, 4, 8);  // somewhere else
  const auto la = logits_at(anchor, psi), lz = logits_at(z, psi);
  // glasses was edited earlier, the newest step sets age: smile (column 0) and hair (2..4) are kept.
  const auto conds = conditions({"glasses", "age=0.8"});
  sampling::EditWeights only;
  const auto energy_with = [&](sampling::EditWeights w) {
    return sampling::EditEnergy(tiny(), psi, conds, anchor, w).energy(z).to(torch::kDouble);
  };
  only = {0, 0, 0, 0, 0, 0};
  const auto base = energy_with(only);
  EXPECT_TRUE(torch::allclose(base, torch::zeros_like(base)));

  // The conditions: previous * E_glasses + newest_continuous * E_age.
  only = {2, 0, 3, 0, 0, 0};
  const auto lzd = lz.to(torch::kDouble);
  const auto e_glasses = log1p_exp(-lzd.select(1, 1));
  const double sigma = tiny().manifest().find("age")->sigma;
  const auto e_age = (lzd.select(1, 5) - 0.8).square() / (2 * sigma * sigma);
  EXPECT_TRUE(torch::allclose(energy_with(only), 2 * e_glasses + 3 * e_age, 1e-4, 1e-5));

  // reg_logits: the kept columns 0, 2, 3, 4 against the anchor's.
  only = {0, 0, 0, 0, 0.5, 0};
  const auto kept = torch::tensor(std::vector<int64_t>{0, 2, 3, 4});
  const auto reg = (lz.index_select(1, kept) - la.index_select(1, kept)).square().sum(1).to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(energy_with(only), 0.5 * reg, 1e-4, 1e-5));

  // keep: -log p(the anchor's class) of smile and hair, worked out one row at a time.
  only = {0, 0, 0, 0, 0, 1.5};
  const auto got = energy_with(only);
  for (int64_t i = 0; i < 4; ++i) {
    const double l = lz[i][0].item<double>();
    const double smile = la[i][0].item<double>() > 0 ? std::log1p(std::exp(-l)) : std::log1p(std::exp(l));
    const auto hair_a = la[i].slice(0, 2, 5), hair_z = lz[i].slice(0, 2, 5).to(torch::kDouble);
    const int64_t k = hair_a.argmax().item<int64_t>();
    const double hair = (torch::logsumexp(hair_z, 0) - hair_z[k]).item<double>();
    EXPECT_NEAR(got[i].item<double>(), 1.5 * (smile + hair), 1e-4) << "row " << i;
  }
  // At the anchor each kept class is the most likely one: p >= 1/2 for smile, >= 1/3 of three for hair.
  const auto at_anchor = sampling::EditEnergy(tiny(), psi, conds, anchor, only).energy(anchor);
  EXPECT_TRUE((at_anchor <= 1.5 * (std::log(2.0) + std::log(3.0)) + 1e-5).all().item<bool>()) << at_anchor;
}

TEST(EditEnergy, GradientMatchesFiniteDifferences) {
  const auto anchor = sampling::initial_latents(8, 0, 3, 8);
  const auto z = anchor + 0.5 * sampling::initial_latents(9, 0, 3, 8);
  const sampling::EditEnergy e(tiny(), 0.9, conditions({"smile", "hair=red AND NOT glasses"}), anchor,
                               {0.3, 1.0, 5.0, 0.04, 0.01, 2.0});
  const auto g = e.energy_and_gradient(z).gradient;
  for (int64_t j = 0; j < 8; ++j) {
    auto dz = torch::zeros_like(z);
    dz.select(1, j).fill_(1e-3f);
    const auto fd = (e.energy(z + dz) - e.energy(z - dz)) / 2e-3f;
    EXPECT_TRUE(torch::allclose(fd, g.select(1, j), 1e-2, 2e-3)) << "dim " << j << ": " << fd << " vs " << g.select(1, j);
  }
}

// Reading the image (lace edit's polish): the conditions, the keep term and reg_logits read the verifier's
// logits on the image drawn from the previous w+ with the step's layers set to w(z). The test verifier reads
// bias + scale * mean(image), so each term has a closed form; the gradient runs through the generator.
TEST(EditEnergy, ReadingTheImageAppliesEveryTermToTheVerifiersLogits) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lace_edit_energy_" + std::to_string(std::random_device{}()));
  const auto bias = torch::tensor({0.5, -1.0, 0.2, -0.3, 0.1, 0.4}), scale = torch::tensor({3.0, 40.0, -2.0, 5.0, 1.0, 8.0});
  const auto bundle = model::Bundle::load(lace_test::tiny_bundle_with_verifier(dir, bias, scale), torch::kCPU);
  const double psi = 0.9;
  const ImageStep step = image_step(psi);
  const auto &anchor = step.anchor, &z = step.z, &ws_previous = step.ws_previous;
  torch::Tensor held;
  {
    torch::NoGradGuard no_grad;
    held = bundle.verify(bundle.synthesis(ws_previous));
  }
  const std::vector<int64_t> layers = {0};
  const auto conds = conditions({"glasses", "age=0.8"});
  const sampling::EditWeights w = {2, 0, 3, 0.1, 0.5, 1.5};
  sampling::EditEnergy e(bundle, psi, conds, anchor, w, held, held);
  EXPECT_THROW(e.read_images(ws_previous.slice(0, 0, 2), layers), std::invalid_argument);  // one row per anchor
  e.read_images(ws_previous, layers);

  torch::NoGradGuard no_grad;
  const auto wz = bundle.truncate(bundle.mapping(z), psi), wa = bundle.truncate(bundle.mapping(anchor), psi);
  const auto mean = bundle.synthesis(sampling::step_ws(ws_previous, wz, layers)).mean({1, 2, 3}).to(torch::kDouble);
  const auto l = bias.to(torch::kDouble).unsqueeze(0) + scale.to(torch::kDouble).unsqueeze(0) * mean.unsqueeze(1);
  const auto hd = held.to(torch::kDouble);
  const double sigma = bundle.manifest().find("age")->sigma;
  auto expected = 2 * log1p_exp(-l.select(1, 1)) + 3 * (l.select(1, 5) - 0.8).square() / (2 * sigma * sigma);
  expected += 0.1 * ((wz - wa).square().sum(1) + (z - anchor).square().sum(1)).to(torch::kDouble);
  const auto kept = torch::tensor(std::vector<int64_t>{0, 2, 3, 4});
  expected += 0.5 * (l.index_select(1, kept) - hd.index_select(1, kept)).square().sum(1);  // held as the image read them
  for (int64_t i = 0; i < 3; ++i) {  // keep: smile's and hair's classes as the previous image showed them
    const double s = l[i][0].item<double>();
    double keep = hd[i][0].item<double>() > 0 ? std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
    const auto hair = l[i].slice(0, 2, 5);
    keep += (torch::logsumexp(hair, 0) - hair[hd[i].slice(0, 2, 5).argmax().item<int64_t>()]).item<double>();
    expected[i] += 1.5 * keep;
  }
  EXPECT_TRUE(torch::allclose(e.energy(z).to(torch::kDouble), expected, 1e-4, 1e-4)) << e.energy(z) << expected;

  const auto g = e.energy_and_gradient(z).gradient;
  EXPECT_GT(g.abs().max().item<double>(), 0.0);
  for (int64_t j = 0; j < 8; ++j) {
    auto dz = torch::zeros_like(z);
    dz.select(1, j).fill_(1e-3f);
    const auto fd = (e.energy(z + dz) - e.energy(z - dz)) / 2e-3f;
    EXPECT_TRUE(torch::allclose(fd, g.select(1, j), 2e-2, 5e-3)) << "dim " << j << ": " << fd << " vs " << g.select(1, j);
  }
  fs::remove_all(dir);
}

// A verifier of two judges: reading the image, the conditions' energy is the sum of each judge's (every judge
// must read them met), the keep term and reg_logits read the judges' mean. The test judges are linear in the
// image's mean, so their mean is the test verifier with the mean bias and scale.
TEST(EditEnergy, TwoJudgesSumTheirConditionsAndKeepTheirMean) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lace_edit_judges_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const auto a_bias = torch::tensor({0.5, -1.0, 0.2, -0.3, 0.1, 0.4}), a_scale = torch::tensor({3.0, 40.0, -2.0, 5.0, 1.0, 8.0});
  const auto b_bias = torch::tensor({-0.2, 0.7, 0.1, 0.3, -0.4, 0.9}), b_scale = torch::tensor({-1.0, -25.0, 4.0, 2.0, -3.0, -6.0});
  const auto load = [&](const std::string& name, const torch::Tensor& bias, const torch::Tensor& scale) {
    return model::Bundle::load(bias.dim() == 2 ? lace_test::tiny_bundle_with_judges(dir / name, bias, scale)
                                               : lace_test::tiny_bundle_with_verifier(dir / name, bias, scale),
                               torch::kCPU);
  };
  const auto a = load("a", a_bias, a_scale), b = load("b", b_bias, b_scale);
  const auto both = load("both", torch::stack({a_bias, b_bias}), torch::stack({a_scale, b_scale}));
  const auto mean = load("mean", (a_bias + b_bias) / 2, (a_scale + b_scale) / 2);
  const double psi = 0.9;
  const ImageStep step = image_step(psi);
  const auto &anchor = step.anchor, &z = step.z, &ws_previous = step.ws_previous;
  torch::Tensor held;
  {
    torch::NoGradGuard no_grad;
    held = mean.verify(mean.synthesis(ws_previous));
  }
  const auto conds = conditions({"glasses", "age=0.8"});
  const auto energy_of = [&](const model::Bundle& bundle, const sampling::EditWeights& w) {
    sampling::EditEnergy e(bundle, psi, conds, anchor, w, held, held);
    e.read_images(ws_previous, {0});
    return e.energy(z);
  };
  const sampling::EditWeights conditions_only = {2, 0, 3, 0, 0, 0}, the_rest = {0, 0, 0, 0.1, 0.5, 1.5};
  const auto sum = energy_of(a, conditions_only) + energy_of(b, conditions_only);
  EXPECT_TRUE(torch::allclose(energy_of(both, conditions_only), sum, 1e-4, 1e-4));
  EXPECT_FALSE(torch::allclose(energy_of(mean, conditions_only), sum, 1e-2, 1e-2));  // the mean would read otherwise
  EXPECT_TRUE(torch::allclose(energy_of(both, the_rest), energy_of(mean, the_rest), 1e-4, 1e-4));
  fs::remove_all(dir);
}

// Rows handed to the ODE one at a time (per-sample stepping) see their own anchor and classes.
TEST(EditEnergy, SelectedRowsUseTheirOwnAnchor) {
  const auto anchor = sampling::initial_latents(10, 0, 4, 8);
  const auto z = anchor + 0.5 * sampling::initial_latents(11, 0, 4, 8);
  const sampling::EditEnergy e(tiny(), 1.0, conditions({"glasses"}), anchor, {0.1, 1.0, 10.0, 0.04, 0.01, 1.0});
  const auto all = e.energy_and_gradient(z);
  const auto rows = torch::tensor(std::vector<int64_t>{3, 1});
  const auto some = e.energy_and_gradient(z.index_select(0, rows), rows);
  EXPECT_TRUE(torch::allclose(some.energy, all.energy.index_select(0, rows), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(some.gradient, all.gradient.index_select(0, rows), 1e-5, 1e-6));
}

// Given held logits (a verifier's reading of the previous image), the keep term holds their classes, not
// the latent classifier's at the anchor: rows where the two disagree get the held class's -log p.
TEST(EditEnergy, KeepHoldsTheClassesOfTheHeldLogits) {
  const double psi = 0.8;
  const auto anchor = sampling::initial_latents(5, 0, 4, 8);
  const auto z = anchor + 0.7 * sampling::initial_latents(6, 0, 4, 8);
  const auto la = logits_at(anchor, psi), lz = logits_at(z, psi).to(torch::kDouble);
  const auto conds = conditions({"glasses"});
  const sampling::EditWeights only{0, 0, 0, 0, 0, 1.0};
  // Held: smile flipped against the anchor's reading, hair the class the anchor reads least likely.
  auto held = la.clone();
  held.select(1, 0).neg_();
  const auto hair_held = la.slice(1, 2, 5).argmin(1);
  held.slice(1, 2, 5).copy_(torch::nn::functional::one_hot(hair_held, 3).to(held) * 10);
  // Age (not edited) is held at its value at z, so its part of the keep term is 0 here.
  const auto values = lz.to(torch::kFloat);
  const auto got = sampling::EditEnergy(tiny(), psi, conds, anchor, only, held, values).energy(z).to(torch::kDouble);
  const auto plain = sampling::EditEnergy(tiny(), psi, conds, anchor, only, {}, values).energy(z).to(torch::kDouble);
  for (int64_t i = 0; i < 4; ++i) {
    const double l = lz[i][0].item<double>();
    const double smile = held[i][0].item<double>() > 0 ? std::log1p(std::exp(-l)) : std::log1p(std::exp(l));
    const auto hair_z = lz[i].slice(0, 2, 5);
    const double hair = (torch::logsumexp(hair_z, 0) - hair_z[hair_held[i].item<int64_t>()]).item<double>();
    EXPECT_NEAR(got[i].item<double>(), smile + hair, 1e-4) << "row " << i;
    EXPECT_GT(std::abs(got[i].item<double>() - plain[i].item<double>()), 1e-3) << "row " << i;
  }
  // Rows picked for a retry take their own held classes.
  const auto rows = torch::tensor(std::vector<int64_t>{2, 0});
  const auto some = sampling::EditEnergy(tiny(), psi, conds, anchor.index_select(0, rows), only,
                                         held.index_select(0, rows), values.index_select(0, rows))
                        .energy(z.index_select(0, rows));
  EXPECT_TRUE(torch::allclose(some.to(torch::kDouble), got.index_select(0, rows), 1e-5, 1e-6));
  EXPECT_THROW(sampling::EditEnergy(tiny(), psi, conds, anchor, only, held.slice(0, 0, 3)), std::invalid_argument);
}

// A continuous attribute not yet edited is held at the given value (the sequence's first image), free
// within two sigmas and quadratic beyond: rows set 0, 1.5, 2.5 and 4 sigmas away add 0, 0, 1/8 and 2.
TEST(EditEnergy, KeepHoldsContinuousValuesWithinTwoSigmas) {
  const double psi = 0.8;
  const auto anchor = sampling::initial_latents(5, 0, 4, 8);
  const auto z = anchor + 0.7 * sampling::initial_latents(6, 0, 4, 8);
  const auto la = logits_at(anchor, psi), lz = logits_at(z, psi);
  const auto conds = conditions({"glasses"});
  const sampling::EditWeights only{0, 0, 0, 0, 0, 2.0};
  const double sigma = tiny().manifest().find("age")->sigma;
  auto values = lz.clone();  // age is column 5
  values.select(1, 5).add_(torch::tensor({0.0, 1.5 * sigma, -2.5 * sigma, 4 * sigma}));
  const auto energy = [&](const torch::Tensor& v) {
    return sampling::EditEnergy(tiny(), psi, conds, anchor, only, {}, v).energy(z).to(torch::kDouble);
  };
  const auto added = energy(values) - energy(lz);
  EXPECT_TRUE(torch::allclose(added, 2.0 * torch::tensor({0.0, 0.0, 0.125, 2.0}, torch::kDouble), 1e-4, 1e-5)) << added;
  // Without held values the anchor's own are held; without keep, nothing is.
  EXPECT_TRUE(torch::allclose(energy({}), energy(la), 1e-6, 1e-7));
  const auto none = sampling::EditEnergy(tiny(), psi, conds, anchor, {0, 0, 0, 0, 0, 0}, {}, values).energy(z);
  EXPECT_TRUE(torch::allclose(none, torch::zeros_like(none)));
  EXPECT_THROW(sampling::EditEnergy(tiny(), psi, conds, anchor, only, {}, values.slice(1, 0, 5)), std::invalid_argument);
  // keep_sigma sets the band and the scale in place of age's sigma: at sigma / 2 the same rows are 0, 3, 5 and 8
  // of it away, 0, 1, 3 and 6 beyond the band, adding 0, 1/2, 9/2 and 18.
  sampling::EditWeights narrow = only;
  narrow.keep_sigma = sigma / 2;
  const auto at_narrow = [&](const torch::Tensor& v) {
    return sampling::EditEnergy(tiny(), psi, conds, anchor, narrow, {}, v).energy(z).to(torch::kDouble);
  };
  const auto added_narrow = at_narrow(values) - at_narrow(lz);
  EXPECT_TRUE(torch::allclose(added_narrow, 2.0 * torch::tensor({0.0, 0.5, 4.5, 18.0}, torch::kDouble), 1e-4, 1e-5))
      << added_narrow;
  // Once age is edited, it is the condition's and no longer held.
  const auto edited = sampling::EditEnergy(tiny(), psi, conditions({"age=0.8"}), anchor, only, {}, values).energy(z) -
                      sampling::EditEnergy(tiny(), psi, conditions({"age=0.8"}), anchor, only, {}, lz).energy(z);
  EXPECT_TRUE(torch::allclose(edited, torch::zeros_like(edited), 1e-6, 1e-7));
}

// A reading shift moves what the conditions and the keep term read, and only that: the distance regularizers
// and reg_logits still read the latent classifier's own logits.
TEST(EditEnergy, AShiftMovesWhatTheConditionsAndTheKeepTermRead) {
  const double psi = 0.8;
  const auto anchor = sampling::initial_latents(5, 0, 4, 8);
  const auto z = anchor + 0.7 * sampling::initial_latents(6, 0, 4, 8);
  const auto lz = logits_at(z, psi).to(torch::kDouble);
  const auto held = logits_at(anchor, psi).to(torch::kDouble);  // the keep term's classes by default
  const auto conds = conditions({"glasses", "age=0.8"});
  const auto shift = torch::tensor({{0.0, 1.5, 0.0, 0.0, 0.0, -0.2},
                                    {0.0, -2.0, 0.0, 0.0, 0.0, 0.3},
                                    {9.0, 0.0, 9.0, -9.0, 9.0, 0.0},  // smile and hair: only the keep term reads them
                                    {0.0, 0.5, 0.0, 0.0, 0.0, 0.1}});
  const auto energy = [&](sampling::EditWeights w, const torch::Tensor& s) {
    return sampling::EditEnergy(tiny(), psi, conds, anchor, w, {}, {}, s).energy(z).to(torch::kDouble);
  };
  const double sigma = tiny().manifest().find("age")->sigma;
  const auto read = lz - shift.to(torch::kDouble);
  const auto expected = 2 * log1p_exp(-read.select(1, 1)) + 3 * (read.select(1, 5) - 0.8).square() / (2 * sigma * sigma);
  EXPECT_TRUE(torch::allclose(energy({2, 0, 3, 0, 0, 0}, shift), expected, 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(energy({2, 0, 3, 0, 0, 0}, shift), energy({2, 0, 3, 0, 0, 0}, {}), 1e-2, 1e-2));
  // keep 1.5: smile held at its class at the anchor, hair at its class there, both as read through the shift.
  const auto hair = torch::tensor({2, 3, 4}, torch::kLong);
  const auto keep = 1.5 * (energy::binary_energy(read.select(1, 0), held.select(1, 0).gt(0)) +
                           energy::categorical_energy(read.index_select(1, hair), held.index_select(1, hair).argmax(1)));
  EXPECT_TRUE(torch::allclose(energy({0, 0, 0, 0, 0, 1.5}, shift), keep, 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(energy({0, 0, 0, 0, 0, 1.5}, shift), energy({0, 0, 0, 0, 0, 1.5}, {}), 1e-2, 1e-2));
  for (const sampling::EditWeights regularizers : {sampling::EditWeights{0, 0, 0, 0.5, 0, 0},
                                                   sampling::EditWeights{0, 0, 0, 0, 0.5, 0}})
    EXPECT_TRUE(torch::allclose(energy(regularizers, shift), energy(regularizers, {}), 1e-6, 1e-7));
  EXPECT_THROW(energy({2, 0, 3, 0, 0, 0}, shift.slice(0, 0, 3)), std::invalid_argument);
}

// What min_p checks besides the conditions, by hand on the tiny bundle (smile, glasses, hair of three classes,
// age with sigma 0.1): with `glasses` asked, smile, hair and age are held. Row 0 keeps all three (an unsure
// smile logit of 1 still reads present; age 0.1 off is inside 2 sigma): 1 each. Row 1 loses the smile
// (sigmoid(-1)), the hair class (softmax [3, 0, 0] at class 1: 1 / (e^3 + 2)) and age by 0.15 beyond 2 sigma.
// A keep_sigma of 0.15 widens age's band to 0.3: row 1 is 0.05 beyond it, exp(-0.05^2 / (2 0.15^2)) = exp(-1/18).
TEST(EditEnergy, KeptProbabilitiesReadWhetherUntouchedAttributesHold) {
  const auto& attributes = tiny().manifest().attributes;
  const auto held = torch::tensor({{2.0, 0.0, 0.0, 1.0, 0.0, 0.5}, {2.0, 0.0, 0.0, 1.0, 0.0, 0.5}});
  const auto now = torch::tensor({{1.0, 5.0, 0.0, 2.0, 1.0, 0.6}, {-1.0, 5.0, 3.0, 0.0, 0.0, 0.85}});
  const std::vector<energy::Energy> glasses{energy::compile("glasses", attributes)};
  const auto kept = sampling::kept_probabilities(now, held, held, glasses, attributes, 0.0);
  EXPECT_EQ(kept.names, (std::vector<std::string>{"smile", "hair", "age"}));
  const auto expected = torch::tensor({{1.0, 1.0, 1.0},
                                       {1 / (1 + std::exp(1.0)), 1 / (std::exp(3.0) + 2), std::exp(-1.125)}},
                                      torch::kDouble);
  EXPECT_TRUE(torch::allclose(kept.p, expected, 1e-5, 1e-6)) << kept.p;
  const auto wide = sampling::kept_probabilities(now, held, held, glasses, attributes, 0.15);
  EXPECT_TRUE(torch::allclose(wide.p.select(1, 2), torch::tensor({1.0, std::exp(-1.0 / 18)}, torch::kDouble), 1e-5, 1e-6))
      << wide.p;
  EXPECT_TRUE(torch::allclose(wide.p.slice(1, 0, 2), expected.slice(1, 0, 2)));
  // Every attribute named: nothing to keep.
  const auto none = sampling::kept_probabilities(now, held, held, {energy::compile("glasses AND smile AND age=0.5 AND hair=red", attributes)},
                                                 attributes, 0.0);
  EXPECT_TRUE(none.names.empty());
  EXPECT_EQ(none.p.sizes(), (std::vector<int64_t>{2, 0}));
  EXPECT_THROW(sampling::kept_probabilities(now, held.slice(1, 0, 5), held, {}, attributes, 0.0), std::invalid_argument);
}

// A later step that names an attribute replaces what earlier steps asked of it.
TEST(EditEnergy, ALaterStepSupersedesEarlierTermsOnItsAttributes) {
  const auto& attributes = tiny().manifest().attributes;
  const auto canonical = [&](const std::vector<std::string>& earlier, const std::string& newest) {
    std::vector<std::string> out;
    for (const auto& c : sampling::supersede(conditions(earlier), conditions({newest})[0], attributes))
      out.push_back(c.canonical());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(canonical({"age=0.2", "glasses"}, "age=0.8"), (V{"glasses", "age=0.8"}));
  EXPECT_EQ(canonical({"smile AND (age=0.2 AND glasses)"}, "age=0.8"), (V{"smile AND glasses", "age=0.8"}));
  EXPECT_EQ(canonical({"smile AND age=0.2"}, "NOT smile"), (V{"age=0.2", "NOT smile"}));
  EXPECT_EQ(canonical({"glasses OR smile", "2*hair=red AND smile"}, "smile"), (V{"2*hair=red", "smile"}));
  EXPECT_EQ(canonical({"2*(hair=red AND smile)"}, "smile"), (V{"smile"}));
  EXPECT_EQ(canonical({"2*hair=red AND glasses"}, "hair=blonde"), (V{"glasses", "hair=blonde"}));
  EXPECT_EQ(canonical({"glasses", "hair=red"}, "smile"), (V{"glasses", "hair=red", "smile"}));
  EXPECT_EQ(canonical({}, "smile"), (V{"smile"}));
  // What remains still evaluates as the expression it prints.
  const auto kept = sampling::supersede(conditions({"smile AND NOT glasses AND age=0.3"}), conditions({"age=0.9"})[0],
                                        attributes);
  const auto logits = torch::randn({3, 6});
  EXPECT_TRUE(torch::allclose(kept[0](logits), conditions({"smile AND NOT glasses"})[0](logits)));
}

TEST(EditEnergy, KeptColumnsAreTheAttributesNoConditionMentions) {
  const auto& attributes = tiny().manifest().attributes;
  EXPECT_EQ(sampling::untouched_columns(conditions({"glasses", "age=0.8"}), attributes), (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(sampling::untouched_columns(conditions({"hair=red OR smile"}), attributes), (std::vector<int64_t>{1, 5}));
  EXPECT_TRUE(sampling::sets_continuous(conditions({"age=0.2 AND smile"})[0], attributes));
  EXPECT_FALSE(sampling::sets_continuous(conditions({"NOT glasses"})[0], attributes));
}

}  // namespace
