// Seeds, the latent energy's gradient, the VP-ODE and Langevin samplers on the tiny bundle.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lace/energy/energy.hpp"
#include "lace/model/bundle.hpp"
#include "lace/sampling/langevin.hpp"
#include "lace/sampling/latent_energy.hpp"
#include "lace/sampling/seeds.hpp"
#include "lace/sampling/vp_ode.hpp"

using namespace lace;

namespace {

const model::Bundle& tiny() {
  static const model::Bundle bundle = model::Bundle::load(LACE_TINY_BUNDLE, torch::kCPU);
  return bundle;
}

sampling::LatentEnergy latent_energy(const std::string& expr, double psi = 1.0) {
  return sampling::LatentEnergy(tiny(), energy::compile(expr, tiny().manifest().attributes), psi);
}

TEST(Seeds, SplitMix64MatchesTheReferenceStream) {
  // First outputs of Vigna's splitmix64.c seeded with 0.
  sampling::SplitMix64 s(0);
  EXPECT_EQ(s.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(s.next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(s.next(), 0x06C45D188009454FULL);
}

TEST(Seeds, LatentsDependOnlyOnSeedAndIndex) {
  const auto all = sampling::initial_latents(42, 0, 10, 16);
  const auto part = sampling::initial_latents(42, 3, 4, 16);
  EXPECT_TRUE(torch::equal(all.slice(0, 3, 7), part));
  EXPECT_FALSE(torch::equal(sampling::initial_latents(43, 0, 1, 16), all.slice(0, 0, 1)));
}

TEST(Seeds, LatentsAreStandardNormal) {
  const auto z = sampling::initial_latents(1, 0, 2000, 64).to(torch::kDouble);  // 128,000 values
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.01);
  EXPECT_NEAR((z > 1.96).to(torch::kDouble).mean().item<double>(), 0.025, 0.002);
}

TEST(Seeds, RetryLatentsAreNewStandardNormalStarts) {
  // Deterministic, different from every first start and from each other, standard normal.
  EXPECT_TRUE(torch::equal(sampling::retry_latent(42, 3, 1, 16), sampling::retry_latent(42, 3, 1, 16)));
  const auto first = sampling::initial_latents(42, 0, 8, 16);
  for (int64_t i = 0; i < 8; ++i) EXPECT_FALSE(torch::equal(sampling::retry_latent(42, 3, 1, 16), first[i]));
  EXPECT_FALSE(torch::equal(sampling::retry_latent(42, 3, 1, 16), sampling::retry_latent(42, 3, 2, 16)));
  EXPECT_FALSE(torch::equal(sampling::retry_latent(42, 3, 1, 16), sampling::retry_latent(42, 4, 1, 16)));
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < 2000; ++i) rows.push_back(sampling::retry_latent(1, i, 1 + i % 3, 64));
  const auto z = torch::stack(rows).to(torch::kDouble);
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.01);
}

TEST(LatentEnergy, GradientMatchesFiniteDifferences) {
  for (const std::string expr : {"smile", "hair=red AND NOT glasses", "age=0.8 OR smile"}) {
    const auto e = latent_energy(expr, 0.7);
    const auto z = sampling::initial_latents(3, 0, 2, 8);
    const auto g = e.energy_and_gradient(z).gradient;
    // Central differences in float32 with steps of 1e-3: small enough not to cross a LeakyReLU kink
    // at these points, large enough that rounding stays below the tolerance.
    for (int64_t j = 0; j < 8; ++j) {
      auto dz = torch::zeros_like(z);
      dz.select(1, j).fill_(1e-3f);
      const auto fd = (e.energy(z + dz) - e.energy(z - dz)) / 2e-3f;
      EXPECT_TRUE(torch::allclose(fd, g.select(1, j), 1e-2, 2e-3)) << expr << " dim " << j << ": " << fd << " vs " << g.select(1, j);
    }
  }
}

TEST(LatentEnergy, GuidanceScalesTheEnergyAndItsGradient) {
  const auto e1 = latent_energy("smile AND NOT glasses");
  const sampling::LatentEnergy e3(e1.bundle(), e1.condition(), e1.truncation(), 3.0);
  const auto z = sampling::initial_latents(4, 0, 5, 8);
  const auto a = e1.energy_and_gradient(z), b = e3.energy_and_gradient(z);
  EXPECT_TRUE(torch::allclose(b.energy, 3 * a.energy, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(b.gradient, 3 * a.gradient, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(e3.energy(z), 3 * e1.energy(z), 1e-5, 1e-6));
  EXPECT_GT(a.energy.min().item<float>(), 0.0f);  // a non-trivial check: the energies are not zero
}

TEST(LatentEnergy, GuidanceLeavesContinuousTargetsAlone) {
  // smile AND age=0.7 under guidance 3: 3 E(smile) + E(age), checked against each term alone.
  const auto both = latent_energy("smile AND age=0.7"), smile = latent_energy("smile"), age = latent_energy("age=0.7");
  const sampling::LatentEnergy guided(both.bundle(), both.condition(), both.truncation(), 3.0);
  const sampling::LatentEnergy age3(age.bundle(), age.condition(), age.truncation(), 3.0);
  const auto z = sampling::initial_latents(4, 0, 6, 8);
  EXPECT_TRUE(torch::allclose(guided.energy(z), 3 * smile.energy(z) + age.energy(z), 1e-5, 1e-6));
  const auto g = guided.energy_and_gradient(z).gradient;
  const auto expected = 3 * smile.energy_and_gradient(z).gradient + age.energy_and_gradient(z).gradient;
  EXPECT_TRUE(torch::allclose(g, expected, 1e-4, 1e-6));
  EXPECT_TRUE(torch::allclose(age3.energy(z), age.energy(z)));
  EXPECT_GT(age.energy(z).min().item<float>(), 0.0f);
  // Inside NOT the discrete term is scaled too: NOT hair=red is (1 - p)^3 (OR: Exact.DiscreteScale...).
  const auto n1 = latent_energy("NOT hair=red");
  const sampling::LatentEnergy n3(n1.bundle(), n1.condition(), n1.truncation(), 3.0);
  EXPECT_TRUE(torch::allclose(n3.energy(z), 3 * n1.energy(z), 1e-5, 1e-6));
}

TEST(LatentEnergy, UnconditionalHasZeroGradient) {
  const auto e = latent_energy("");
  const auto z = sampling::initial_latents(3, 0, 4, 8);
  EXPECT_EQ(e.energy_and_gradient(z).gradient.abs().sum().item<float>(), 0.0f);
}

TEST(VpOde, FieldIsHalfBetaTimesTheEnergyGradient) {
  const auto e = latent_energy("glasses");
  sampling::VpSchedule s;
  EXPECT_DOUBLE_EQ(s.beta(1.0), 20.0);
  EXPECT_DOUBLE_EQ(s.beta(0.0), 0.1);
  const auto field = sampling::vp_ode_field(e, s);
  const auto z = sampling::initial_latents(9, 0, 3, 8);
  const auto t = torch::tensor({1.0f, 0.5f, 0.0f});
  const auto f = field(t, z, torch::arange(3));
  const auto g = e.energy_and_gradient(z).gradient;
  EXPECT_TRUE(torch::allclose(f[0], 10.0f * g[0]));
  EXPECT_TRUE(torch::allclose(f[1], 0.5f * 10.05f * g[1]));
  EXPECT_TRUE(torch::allclose(f[2], 0.05f * g[2]));
}

TEST(VpOde, SamplingLowersTheEnergyAndSatisfiesTheCondition) {
  const auto e = latent_energy("smile AND glasses");
  const auto z0 = sampling::initial_latents(5, 0, 64, 8);
  const auto result = sampling::sample_vp_ode(e, z0, {});
  EXPECT_LT(e.energy(result.z).mean().item<float>(), e.energy(z0).mean().item<float>());
  const auto logits = e.logits(result.z);
  const auto both = (logits.select(1, 0) > 0).logical_and(logits.select(1, 1) > 0);
  EXPECT_GE(both.to(torch::kFloat).mean().item<float>(), 0.95f);
  EXPECT_GT(result.stats.nfe.min().item<int64_t>(), 0);
}

TEST(VpOde, PerSampleRowsDoNotDependOnTheirBatch) {
  const auto e = latent_energy("hair=blonde");
  const auto z0 = sampling::initial_latents(6, 0, 8, 8);
  const auto batch = sampling::sample_vp_ode(e, z0, {});
  const auto alone = sampling::sample_vp_ode(e, z0.slice(0, 5, 6), {});
  EXPECT_TRUE(torch::allclose(batch.z[5], alone.z[0], 1e-4, 1e-5));
  EXPECT_EQ(batch.stats.nfe[5].item<int64_t>(), alone.stats.nfe[0].item<int64_t>());
}

TEST(VpOde, FixedStepMethodsConvergeAndDopri5AgreesWithThem) {
  // The tiny networks are piecewise linear (LeakyReLU), so the field jumps where a unit switches:
  // a trajectory that slides along such a kink makes very tight dopri5 tolerances crawl. The
  // reference is therefore a fine fixed-step solve, not dopri5 at 1e-9.
  const auto e = latent_energy("hair=blonde");
  const auto z0 = sampling::initial_latents(8, 0, 4, 8);
  sampling::VpOdeOptions fine;
  fine.method = "rk4";
  fine.steps = 2000;
  const auto ref = sampling::sample_vp_ode(e, z0, fine).z;
  double previous = 1e9;
  for (int64_t steps : {10, 40, 160}) {
    sampling::VpOdeOptions o;
    o.method = "rk4";
    o.steps = steps;
    const double err = (sampling::sample_vp_ode(e, z0, o).z - ref).abs().max().item<double>();
    EXPECT_LT(err, previous) << steps;
    previous = err;
  }
  EXPECT_LT(previous, 3e-2);  // |z| is of order 1
  // dopri5 at the default 1e-3 (a local tolerance) lands within a tenth of the reference.
  const double dopri_err = (sampling::sample_vp_ode(e, z0, {}).z - ref).abs().max().item<double>();
  EXPECT_LT(dopri_err, 0.1);
}

TEST(Langevin, RaisesTheConditionAndIsDeterministic) {
  const auto e = latent_energy("glasses");
  const auto z0 = sampling::initial_latents(4, 0, 64, 8);
  sampling::LangevinOptions o;
  o.steps = 200;
  o.step_size = 0.05;
  const auto a = sampling::sample_langevin(e, z0, o, 4, 0);
  const auto b = sampling::sample_langevin(e, z0, o, 4, 0);
  EXPECT_TRUE(torch::equal(a.z, b.z));
  const auto p0 = torch::sigmoid(e.logits(z0).select(1, 1)).mean().item<float>();
  const auto p1 = torch::sigmoid(e.logits(a.z).select(1, 1)).mean().item<float>();
  EXPECT_GT(p1, p0 + 0.2f);
  EXPECT_EQ(a.stats.nfe[0].item<int64_t>(), 200);
  // Row 10's noise stream is its own: running it alone gives the same result.
  const auto alone = sampling::sample_langevin(e, z0.slice(0, 10, 11), o, 4, 10);
  EXPECT_TRUE(torch::allclose(alone.z[0], a.z[10], 1e-5, 1e-6));
  // Any rows by their image indices: rows 10 and 3, in that order.
  const auto picked = sampling::sample_langevin(e, torch::stack({z0[10], z0[3]}), o, 4, std::vector<int64_t>{10, 3});
  EXPECT_TRUE(torch::allclose(picked.z[0], a.z[10], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(picked.z[1], a.z[3], 1e-5, 1e-6));
  EXPECT_THROW(sampling::sample_langevin(e, z0.slice(0, 0, 2), o, 4, std::vector<int64_t>{1}), std::invalid_argument);
}

TEST(Langevin, WithoutConditionItKeepsThePrior) {
  // z <- (1 - eta) z + s xi has stationary variance s^2 / (1 - (1 - eta)^2); with eta = s = 0.1 that is 0.0526.
  const auto e = latent_energy("");
  sampling::LangevinOptions o;
  o.step_size = 0.1;
  o.noise = 0.1;
  o.steps = 300;
  const auto z = sampling::sample_langevin(e, sampling::initial_latents(1, 0, 500, 8), o, 1, 0).z;
  EXPECT_NEAR(z.var().item<float>(), 0.01 / (1 - 0.81), 0.006);
}

}  // namespace
