// run_edit on the tiny bundle: outputs, determinism, that each step moves its target and keeps the rest,
// w+ layer selection, starting from a lace PNG, and failing before writing anything.
#include <algorithm>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lace/io/record.hpp"
#include "lace/jobs/edit_job.hpp"
#include "lace/jobs/sample_job.hpp"
#include "lace/model/bundle.hpp"
#include "lace/ode/integrate.hpp"
#include "stage_checks.hpp"
#include "support/test_verifier.hpp"

namespace fs = std::filesystem;
using namespace lace;
using nlohmann::json;

namespace {

class EditJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lace_edit_job_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    job_.model_dir = LACE_TINY_BUNDLE;
    job_.out_dir = dir_ / "out";
    job_.sequence_file = dir_ / "edits.json";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void sequence(const json& j) { std::ofstream(job_.sequence_file) << j.dump(); }
  jobs::EditReport run() {
    jobs::Progress quiet;
    return jobs::run_edit(job_, quiet);
  }
  static json record(const fs::path& png) { return io::read_record(png); }
  // The mean pixel of the image a record's w+ draws (what the test verifiers read).
  static double image_mean(const model::Bundle& bundle, const json& r) {
    std::vector<torch::Tensor> layers;
    for (const auto& l : r["ws"]) layers.push_back(torch::tensor(l.get<std::vector<double>>(), torch::kFloat));
    torch::NoGradGuard no_grad;
    return bundle.synthesis(torch::stack(layers).unsqueeze(0)).mean().item<double>();
  }
  static std::string bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
  jobs::EditJob job_;
};

TEST_F(EditJobTest, WritesEveryStepAStripPerStartAndASheet) {
  sequence({{"start", {{"seed", 0}, {"count", 3}}}, {"steps", {"glasses", "age=0.8"}}});
  job_.batch_size = 2;
  const auto report = run();
  ASSERT_EQ(report.images.size(), 9u);  // 3 starts x (start + 2 steps)
  EXPECT_EQ(report.images[0].filename(), "00001-0000-step0.png");
  EXPECT_EQ(report.images[2].filename(), "00001-0000-step2.png");  // start 0's steps come first
  EXPECT_EQ(report.images[8].filename(), "00001-0002-step2.png");
  ASSERT_EQ(report.strips.size(), 3u);
  EXPECT_EQ(report.strips[1].filename(), "00001-0001-strip.png");
  EXPECT_EQ(report.sheet.filename(), "00001-sheet.png");
  for (const auto& p : report.images) {
    EXPECT_TRUE(fs::exists(p));
    EXPECT_TRUE(fs::exists(fs::path(p).replace_extension(".json")));
  }
  for (const auto& p : report.strips) EXPECT_TRUE(fs::exists(p));
  EXPECT_TRUE(fs::exists(report.sheet));
  const json r = record(report.images[5]);  // start 1, step 2
  EXPECT_EQ(r["command"], "edit");
  EXPECT_EQ(r["index"], 1);
  EXPECT_EQ(r["step"], 2);
  EXPECT_EQ(r["expression"], "age=0.8");
  EXPECT_EQ(r["start"]["seed"], 0);
  EXPECT_EQ(r["start"]["index"], 1);
  EXPECT_EQ(r["ws"].size(), 4u);  // the tiny bundle's num_ws
  EXPECT_EQ(r["sequence"]["json"]["steps"][1], "age=0.8");
  EXPECT_GT(r["stats"]["nfe"].get<int>(), 0);
  expect_stages_account_for_the_run(report.stages, report.seconds);
}

TEST_F(EditJobTest, TheSameSequenceTwiceGivesIdenticalImages) {
  sequence({{"start", {{"seed", 7}, {"count", 2}}}, {"steps", {"smile", "NOT glasses"}}});
  const auto a = run();
  const auto b = run();
  ASSERT_EQ(a.images.size(), b.images.size());
  for (size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_NE(a.images[i], b.images[i]);  // a new run number
    EXPECT_EQ(bytes(a.images[i]), bytes(b.images[i])) << a.images[i];
  }
}

// Each step raises its target under the latent classifier and an attribute never edited stays close:
// much closer than between two unrelated starts.
TEST_F(EditJobTest, EachStepMovesItsTargetAndKeepsTheRest) {
  const int n = 32;
  sequence({{"start", {{"seed", 1}, {"count", n}}}, {"steps", {"glasses", "hair=red", "NOT glasses"}}});
  job_.batch_size = 32;
  const auto report = run();
  ASSERT_EQ(report.images.size(), size_t(n * 4));
  int glasses_up = 0, red_up = 0, glasses_down = 0;
  double age_moved = 0, age_between_starts = 0;
  for (int i = 0; i < n; ++i) {
    std::vector<json> r;
    for (int k = 0; k <= 3; ++k) r.push_back(record(report.images[i * 4 + k])["attributes"]);
    glasses_up += r[1]["glasses"].get<double>() > std::max(0.5, r[0]["glasses"].get<double>());
    red_up += r[2]["hair"]["red"].get<double>() > std::max(0.5, r[1]["hair"]["red"].get<double>());
    glasses_down += r[3]["glasses"].get<double>() < 0.5;
    age_moved += std::abs(r[3]["age"].get<double>() - r[0]["age"].get<double>());
    const json other = record(report.images[((i + 1) % n) * 4])["attributes"];
    age_between_starts += std::abs(other["age"].get<double>() - r[0]["age"].get<double>());
  }
  EXPECT_GE(glasses_up, n * 9 / 10);
  EXPECT_GE(red_up, n * 9 / 10);
  EXPECT_GE(glasses_down, n * 9 / 10);
  EXPECT_LT(age_moved, 0.5 * age_between_starts) << "age moved " << age_moved / n << " on average";
}

// What min_p compares: the weakest of each condition's P and each untouched attribute's kept reading.
double weakest(const json& r) {
  double p = 1.0;
  for (const auto& q : r["p_conditions"]) p = std::min(p, q.get<double>());
  for (const auto& [name, q] : r["p_kept"].items()) p = std::min(p, q.get<double>());
  return p;
}

TEST_F(EditJobTest, MinPSolvesWeakStepsAgainHarder) {
  const int n = 12;
  sequence({{"start", {{"seed", 3}, {"count", n}}}, {"steps", {"glasses"}}});
  job_.batch_size = n;
  job_.out_dir = dir_ / "plain";
  const auto plain = run();
  std::vector<double> p;
  for (int i = 0; i < n; ++i) {
    const json r = record(plain.images[i * 2 + 1]);
    p.push_back(weakest(r));
    EXPECT_EQ(r["p_conditions"][0].get<double>(), r["p"].get<double>());  // no verifier: the latent classifier's P
    EXPECT_EQ(r["p_kept"].size(), 3u);  // smile, hair, age: every attribute but glasses
  }
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  const double min_p = 0.5 * (sorted[5] + sorted[6]);  // half the starts pass at once
  job_.overrides.min_p = min_p;
  job_.overrides.tries = 3;
  job_.out_dir = dir_ / "retried";
  const auto retried = run();
  int64_t weak = 0, below = 0, improved = 0;
  for (int i = 0; i < n; ++i) {
    const json r = record(retried.images[i * 2 + 1]), r0 = record(plain.images[i * 2 + 1]);
    const double q = weakest(r);
    EXPECT_EQ(r["min_p"].get<double>(), min_p);
    if (p[i] >= min_p) {  // passed at once: untouched
      EXPECT_EQ(r["tries"], json({{"solved", 1}, {"kept", 0}}));
      EXPECT_EQ(r["z"], r0["z"]);
      continue;
    }
    ++weak;
    EXPECT_GE(r["tries"]["solved"].get<int>(), 2);
    if (r["tries"]["kept"].get<int>() > 0) {  // a later try is kept only when its weakest reading is higher
      EXPECT_GT(q, p[i]);
      ++improved;
    } else {
      EXPECT_EQ(r["z"], r0["z"]);
    }
    if (q < min_p) {
      ++below;
      EXPECT_EQ(r["tries"]["solved"].get<int>(), 3);
    }
    EXPECT_GT(r["stats"]["nfe"].get<int>(), r0["stats"]["nfe"].get<int>());  // every try's cost counted
  }
  EXPECT_EQ(weak, n / 2);
  EXPECT_GT(improved, 0);  // the conditions and the keep term weighing double push further than the first solve
  EXPECT_EQ(retried.retried, n / 2);
  EXPECT_EQ(retried.below_min_p, below);
  EXPECT_NE(record(retried.images[1])["reproduce"].get<std::string>().find(" --min-p "), std::string::npos);

  job_.overrides.min_p = 1.0;
  EXPECT_THROW(run(), std::invalid_argument);
}

TEST_F(EditJobTest, TheVerifierReadsEachStepsImage) {
  const int n = 4;
  sequence({{"start", {{"seed", 3}, {"count", n}}}, {"steps", {"glasses", "smile"}}});
  job_.batch_size = n;
  job_.out_dir = dir_ / "plain";
  const auto plain = run();
  EXPECT_FALSE(plain.verified);
  EXPECT_FALSE(record(plain.images[1]).contains("p_image"));
  EXPECT_NEAR(record(plain.images[1])["p"].get<double>(), record(plain.images[1])["attributes"]["glasses"].get<double>(),
              1e-6);  // p: the step's target under the latent classifier

  // Copies of the tiny bundle with a verifier reading bias + scale * mean(image) (support/test_verifier.hpp).
  const auto with_verifier = [&](const std::string& name, const torch::Tensor& bias, const torch::Tensor& scale) {
    return lace_test::tiny_bundle_with_verifier(dir_ / name, bias, scale);
  };
  // It never sees glasses or a smile: with min_p every step takes every try and keeps its first.
  job_.model_dir = with_verifier("doubts", torch::tensor({-30.0, -30.0, 0.0, 0.0, 0.0, 0.0}), torch::zeros({6}));
  job_.overrides.min_p = 0.5;
  job_.overrides.tries = 2;
  job_.out_dir = dir_ / "doubts";
  const auto doubting = run();
  EXPECT_TRUE(doubting.verified);
  EXPECT_EQ(doubting.retried, 2 * n);
  EXPECT_EQ(doubting.below_min_p, 2 * n);
  for (size_t i = 0; i < doubting.images.size(); ++i) {
    const json r = record(doubting.images[i]);
    EXPECT_EQ(r["z"], record(plain.images[i])["z"]);
    EXPECT_EQ(r["verifier"], "verifier.pt");
    if (r["step"] == 0) continue;
    EXPECT_EQ(r["tries"], json({{"solved", 2}, {"kept", 0}}));
    EXPECT_LT(r["p_image"].get<double>(), 1e-12);
  }
  EXPECT_NE(record(doubting.images[1])["reproduce"].get<std::string>().find(" --verify"), std::string::npos);

  // Reading glasses from each image's mean: p_image is the verifier's reading of the step's own w+.
  job_.model_dir = with_verifier("follows", torch::zeros({6}), torch::tensor({0.0, 40.0, 0.0, 0.0, 0.0, 0.0}));
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "follows";
  const auto following = run();
  const auto bundle = model::Bundle::load(job_.model_dir, torch::kCPU);
  for (int i = 0; i < n; ++i) {
    const json r = record(following.images[i * 3 + 1]);  // the glasses step
    const double mean = image_mean(bundle, r);
    EXPECT_NEAR(r["p_image"].get<double>(), 1 / (1 + std::exp(-40 * mean)), 1e-4);
  }

  job_.verify = false;
  job_.out_dir = dir_ / "off";
  EXPECT_FALSE(record(run().images[1]).contains("p_image"));
  job_.model_dir = LACE_TINY_BUNDLE;
  job_.verify = true;
  EXPECT_THROW(run(), std::invalid_argument);
}

// A verifier of two judges that read glasses oppositely from the image's mean (logits +40m and -40m): a step
// counts as met only as far as both read it met, so p_image is the lesser P, sigmoid(-40|m|); their mean
// (logit 0) would read 0.5 whatever the image.
TEST_F(EditJobTest, EveryJudgeMustReadAStepMet) {
  const int n = 3;
  sequence({{"start", {{"seed", 3}, {"count", n}}}, {"steps", {"glasses"}}});
  job_.batch_size = n;
  job_.model_dir = lace_test::tiny_bundle_with_judges(
      dir_ / "m", torch::zeros({2, 6}),
      torch::stack({torch::tensor({0.0, 40.0, 0.0, 0.0, 0.0, 0.0}), torch::tensor({0.0, -40.0, 0.0, 0.0, 0.0, 0.0})}));
  job_.overrides.min_p = 0.0;
  const auto report = run();
  EXPECT_TRUE(report.verified);
  const auto bundle = model::Bundle::load(job_.model_dir, torch::kCPU);
  for (int i = 0; i < n; ++i) {
    const json r = record(report.images[i * 2 + 1]);  // the glasses step
    const double mean = image_mean(bundle, r);
    ASSERT_GT(std::abs(mean), 1e-3) << "the test needs images whose mean is not 0";
    EXPECT_NEAR(r["p_image"].get<double>(), 1 / (1 + std::exp(40 * std::abs(mean))), 1e-4);
  }
}

// min_p reads every condition set so far, not only the newest: a step that meets its own target while an
// earlier one reads broken is solved again. A verifier that reads glasses absent on every image (logit -30)
// and a smile on every image (+30): step 1 (glasses) never passes; step 2 (smile) meets its own target at
// once, yet glasses, still asked for, reads broken, so step 2 takes every try too. Its record gives each
// condition's P as min_p read it.
TEST_F(EditJobTest, MinPRetriesAStepThatLeavesAnEarlierConditionBroken) {
  const int n = 2;
  sequence({{"start", {{"seed", 3}, {"count", n}}}, {"steps", {"glasses", "smile"}}});
  job_.model_dir = lace_test::tiny_bundle_with_verifier(dir_ / "m", torch::tensor({30.0, -30.0, 0.0, 0.0, 0.0, 0.0}),
                                                        torch::zeros({6}));  // columns: smile, glasses, ...
  job_.overrides.min_p = 0.5;
  job_.overrides.tries = 2;
  const auto report = run();
  EXPECT_EQ(report.below_min_p, 2 * n);  // every start, both steps
  EXPECT_EQ(report.retried, 2 * n);
  for (int i = 0; i < n; ++i) {
    const json r = record(report.images[i * 3 + 2]);
    EXPECT_EQ(r["conditions"], json({"glasses", "smile"}));
    EXPECT_GT(r["p_image"].get<double>(), 0.99);  // its own target met...
    ASSERT_EQ(r["p_conditions"].size(), 2u);
    EXPECT_LT(r["p_conditions"][0].get<double>(), 1e-12);  // ...the earlier one not
    EXPECT_GT(r["p_conditions"][1].get<double>(), 0.99);
    EXPECT_EQ(r["tries"]["solved"], 2);
  }
  // Without min_p the same steps are solved once and their records still give every condition's P.
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "once";
  const json once = record(run().images[2]);
  EXPECT_EQ(once["p_conditions"].size(), 2u);
  EXPECT_FALSE(once.contains("tries"));
}

// --tolerance: a continuous target read within it is met (P 1 in the record), beyond it P falls from its
// edge with the attribute's sigma (tiny bundle: 0.1); the energy, and so the image, is the same.
TEST_F(EditJobTest, ATolerancedTargetIsMetWithinItAndTheImageIsTheSame) {
  sequence({{"start", {{"seed", 3}, {"count", 1}}}, {"steps", {"age=0.9"}}});
  job_.overrides.min_p = 0.0;
  job_.overrides.newest_continuous = 0.2;  // a weak pull, which stops short of the target
  job_.out_dir = dir_ / "plain";
  const json plain = record(run().images[1]);
  const double off = std::abs(plain["attributes"]["age"].get<double>() - 0.9);
  ASSERT_GT(off, 0.01) << "the test needs a reading off the target";
  EXPECT_NEAR(plain["p"].get<double>(), std::exp(-off * off / (2 * 0.1 * 0.1)), 1e-5);
  EXPECT_FALSE(plain.contains("tolerance"));
  const auto with = [&](double tolerance, const std::string& name) {
    job_.overrides.tolerance = tolerance;
    job_.out_dir = dir_ / name;
    return record(run().images[1]);
  };
  const json inside = with(off + 0.01, "inside");
  EXPECT_DOUBLE_EQ(inside["p"].get<double>(), 1.0);
  EXPECT_EQ(inside["z"], plain["z"]);
  EXPECT_EQ(inside["tolerance"].get<double>(), off + 0.01);
  EXPECT_NE(inside["reproduce"].get<std::string>().find(" --tolerance "), std::string::npos);
  const json part = with(off / 2, "part");
  EXPECT_NEAR(part["p_conditions"][0].get<double>(), std::exp(-(off / 2) * (off / 2) / (2 * 0.1 * 0.1)), 1e-5);
  job_.overrides.tolerance = -1.0;
  EXPECT_THROW(run(), std::invalid_argument);
}

// min_p also reads the attributes no step has named. A verifier that reads glasses on every image (+30) and
// age as 1e5 x the image's mean brightness: `glasses` is met at once, yet the edit changes the image, so
// age reads off its first value by more than 2 sigma (the record's p_kept says so). With min_p the step is
// solved again, the keep term weighing double, and the try kept reads better; with age read as a constant
// the same step passes at once.
TEST_F(EditJobTest, MinPRetriesAStepThatChangesAnUntouchedAttribute) {
  sequence({{"start", {{"seed", 3}, {"count", 1}}}, {"steps", {"glasses"}}});
  const auto verifier = [&](const std::string& name, double age_scale) {
    return lace_test::tiny_bundle_with_verifier(dir_ / name, torch::tensor({0.0, 30.0, 5.0, 0.0, 0.0, 0.0}),
                                                torch::tensor({0.0, 0.0, 0.0, 0.0, 0.0, age_scale}));
  };
  job_.model_dir = verifier("follows", 1e5);
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "once";
  const json once = record(run().images[1]);
  EXPECT_GT(once["p_conditions"][0].get<double>(), 0.99);
  ASSERT_LT(once["p_kept"]["age"].get<double>(), 0.6) << "the edit must move the verifier's age for this test";
  EXPECT_EQ(once["p_kept"]["smile"].get<double>(), 1.0);  // logit 0 throughout: the same (absent) class
  EXPECT_EQ(once["p_kept"]["hair"].get<double>(), 1.0);

  job_.overrides.min_p = 0.6;
  job_.overrides.tries = 3;
  job_.out_dir = dir_ / "retried";
  const auto report = run();
  EXPECT_EQ(report.retried, 1);
  const json r = record(report.images[1]);
  EXPECT_GE(r["tries"]["solved"].get<int>(), 2);
  if (r["tries"]["kept"].get<int>() > 0) EXPECT_GT(r["p_kept"]["age"].get<double>(), once["p_kept"]["age"].get<double>());
  EXPECT_EQ(report.below_min_p, r["p_kept"]["age"].get<double>() < 0.6 ? 1 : 0);

  job_.model_dir = verifier("constant", 0.0);
  job_.out_dir = dir_ / "constant";
  const auto steady = run();
  EXPECT_EQ(steady.retried, 0);
  EXPECT_EQ(record(steady.images[1])["p_kept"]["age"].get<double>(), 1.0);
}

// With a verifier, the keep term holds the classes the previous image shows to it: one that sees a smile on
// every face pulls the never-edited smile up, one that sees none pulls it down, where without a keep
// term the two runs are the same.
TEST_F(EditJobTest, KeepHoldsWhatTheVerifierSees) {
  const int n = 4;
  sequence({{"start", {{"seed", 5}, {"count", n}}}, {"steps", {"glasses"}}});
  job_.batch_size = n;
  const auto smile_after = [&](const std::string& name, double smile_logit, double keep) {
    job_.model_dir = lace_test::tiny_bundle_with_verifier(dir_ / ("m" + name), torch::tensor({smile_logit, 0.0, 0.0, 0.0, 0.0, 0.0}),
                                                          torch::zeros({6}));
    job_.overrides.keep = keep;
    job_.out_dir = dir_ / name;
    const auto report = run();
    std::vector<double> smile;
    for (int i = 0; i < n; ++i) smile.push_back(record(report.images[i * 2 + 1])["attributes"]["smile"].get<double>());
    return smile;
  };
  const auto sees = smile_after("sees", 30, 5.0), never = smile_after("never", -30, 5.0);
  for (int i = 0; i < n; ++i) EXPECT_GT(sees[i], never[i] + 0.05) << "start " << i;
  EXPECT_EQ(smile_after("sees0", 30, 0.0), smile_after("never0", -30, 0.0));
}

// A continuous attribute no step names is held near its value at the first image (docs/edit.md): within
// two sigmas (0.1 for the tiny bundle's age) and a little over, after three edits that move it by up to 0.9
// without keep.
// The first step names every discrete attribute, so age is all the keep term holds.
TEST_F(EditJobTest, KeepHoldsContinuousAttributesNearTheirFirstValue) {
  const int n = 8;
  sequence({{"start", {{"seed", 3}, {"count", n}}}, {"steps", {"smile AND glasses AND hair=red", "NOT glasses", "NOT smile"}}});
  job_.batch_size = n;
  const auto drift = [&](double keep, double keep_sigma = 0) {
    job_.overrides.keep = keep;
    job_.overrides.keep_sigma = keep_sigma;
    job_.out_dir = dir_ / ("keep" + std::to_string(keep) + "-" + std::to_string(keep_sigma));
    const auto report = run();
    std::vector<double> out;
    for (int i = 0; i < n; ++i)
      out.push_back(std::abs(record(report.images[i * 4 + 3])["attributes"]["age"].get<double>() -
                             record(report.images[i * 4])["attributes"]["age"].get<double>()));
    return out;
  };
  const auto free = drift(0.0), held = drift(20.0);
  const double free_max = *std::max_element(free.begin(), free.end());
  const double held_max = *std::max_element(held.begin(), held.end());
  EXPECT_GT(free_max, 0.3) << "without keep the edits must move age for this test";
  // Held at the previous step's value instead, the drifts add up (measured: 0.39; held at the first: 0.20).
  EXPECT_LT(held_max, 0.25);
  // The band is keep_sigma's where one is given, in place of age's sigma: one wider than every drift (2 x 0.5)
  // never pulls, so age drifts exactly as without the keep term.
  ASSERT_LT(free_max, 1.0);
  const auto wide = drift(20.0, 0.5);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(wide[i], free[i], 1e-6) << "start " << i;
}

// Setting an attribute again replaces the earlier step's target on it (docs/edit.md), and the record lists
// the conditions the step's energy held.
TEST_F(EditJobTest, ALaterStepOnTheSameAttributeReplacesTheEarlierOne) {
  sequence({{"start", {{"seed", 2}, {"count", 2}}}, {"steps", {"smile AND glasses", "hair=red", "NOT smile"}}});
  const auto report = run();
  ASSERT_EQ(report.images.size(), 8u);
  EXPECT_EQ(record(report.images[0])["conditions"], json::array());
  EXPECT_EQ(record(report.images[1])["conditions"], json({"smile AND glasses"}));
  EXPECT_EQ(record(report.images[2])["conditions"], json({"smile AND glasses", "hair=red"}));
  EXPECT_EQ(record(report.images[3])["conditions"], json({"glasses", "hair=red", "NOT smile"}));
  EXPECT_LT(record(report.images[3])["attributes"]["smile"].get<double>(), 0.5);
}

// A min_p retry that runs into --max-steps (its doubled weights need more steps) is a failed try for that
// start, not a failed run: the start keeps its first solve and is not tried again, the other goes on, and
// the report says so. On the tiny bundle the first `glasses` solve of seed 3 needs at most about 70 dopri5
// steps per start, the doubled one about 80.
TEST_F(EditJobTest, ARetryTheSolverCannotFinishKeepsTheFirstTry) {
  sequence({{"start", {{"seed", 3}, {"count", 2}}}, {"steps", {"glasses"}}});
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "plain";
  const auto plain = run();
  job_.ode.adaptive.max_steps = 72;
  job_.overrides.min_p = 0.99;
  job_.overrides.tries = 3;
  job_.out_dir = dir_ / "capped";
  const auto capped = run();
  ASSERT_EQ(capped.warnings.size(), 1u);
  EXPECT_EQ(capped.warnings[0].rfind("step 1: 1 start(s)' --min-p retry stopped at its step cap", 0), 0u)
      << capped.warnings[0];
  int stopped = 0;
  for (size_t i : {1u, 3u}) {
    const json r = record(capped.images[i]);
    if (r["tries"]["kept"] == 0) EXPECT_EQ(r["z"], record(plain.images[i])["z"]);
    stopped += r["tries"] == json({{"solved", 2}, {"kept", 0}}) && r["p"].get<double>() < 0.99;  // not tried a third time
  }
  EXPECT_EQ(stopped, 1);
  job_.overrides.min_p = 0.0;  // the first solve itself failing still ends the run, with the solver's message
  job_.ode.adaptive.max_steps = 20;
  job_.out_dir = dir_ / "first";
  EXPECT_THROW(run(), ode::SolverError);
}

// With a verifier, a retry corrects the newest condition by the gap between the latent classifier and the
// verifier (docs/edit.md). On the tiny bundle, start 0 of seed 3, the image's mean brightness grows with the
// latent glasses logit (measured: 0.0029, 0.0044, 0.0056, 0.0068 at logits 1.7, 2.5, 3.3, 3.8), so a
// verifier reading glasses as -5.4 + 1000 * mean sees about -1 after the first solve. Doubled and
// quadrupled weights alone bring the latent p to 0.966 and the verifier's to 0.58 (measured with the
// correction taken out); corrected by the gap of about 3.5, the first retry passes (latent p 0.995).
TEST_F(EditJobTest, ARetryIsCorrectedByWhatTheVerifierRead) {
  sequence({{"start", {{"seed", 3}, {"count", 1}}}, {"steps", {"glasses"}}});
  job_.model_dir = lace_test::tiny_bundle_with_verifier(dir_ / "m", torch::tensor({0.0, -5.4, 0.0, 0.0, 0.0, 0.0}),
                                                        torch::tensor({0.0, 1000.0, 0.0, 0.0, 0.0, 0.0}));
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "once";
  const json once = record(run().images[1]);
  ASSERT_LT(once["p_image"].get<double>(), 0.5) << "the verifier must doubt the first solve for this test";
  job_.overrides.min_p = 0.9;
  job_.overrides.tries = 3;
  job_.out_dir = dir_ / "retried";
  const auto report = run();
  for (const auto& w : report.warnings) ADD_FAILURE() << w;
  const json r = record(report.images[1]);
  EXPECT_EQ(r["tries"], json({{"solved", 2}, {"kept", 1}}));
  EXPECT_GE(r["p_image"].get<double>(), 0.9);
  EXPECT_GT(r["p"].get<double>(), 0.99);  // past where doubled weights alone push it
}

// A step still below min_p after its tries is polished by the verifier's gradient through the generator
// (docs/edit.md). The verifier of the test above reads glasses as -5.4 + 1000 * mean brightness, so the
// single solve leaves it below 0.9; 40 polish steps brighten the image and raise what it reads, and the row
// keeps the polished z. A verifier that reads glasses absent whatever the image shows cannot be raised by a
// polish: nothing is kept and the run is the one without a polish.
TEST_F(EditJobTest, APolishFollowsTheVerifierWhereTheTriesFellShort) {
  sequence({{"start", {{"seed", 3}, {"count", 1}}}, {"steps", {"glasses"}}});
  const auto verifier = [&](const std::string& name, double bias, double scale) {
    return lace_test::tiny_bundle_with_verifier(dir_ / name, torch::tensor({0.0, bias, 0.0, 0.0, 0.0, 0.0}),
                                                torch::tensor({0.0, scale, 0.0, 0.0, 0.0, 0.0}));
  };
  job_.model_dir = verifier("follows", -5.4, 1000.0);
  job_.overrides.min_p = 0.9;
  job_.overrides.tries = 1;
  job_.out_dir = dir_ / "once";
  const auto once = run();
  const json first = record(once.images[1]);
  ASSERT_LT(first["p_image"].get<double>(), 0.5) << "the verifier must doubt the solve for this test";
  EXPECT_EQ(once.below_min_p, 1);
  EXPECT_FALSE(first["tries"].contains("polished"));

  job_.overrides.polish = 40;
  job_.out_dir = dir_ / "polished";
  const auto polished = run();
  const json r = record(polished.images[1]);
  EXPECT_EQ(polished.polished, 1);
  EXPECT_EQ(r["tries"], json({{"solved", 1}, {"kept", 0}, {"polished", true}}));
  EXPECT_EQ(r["polish"], 40);
  EXPECT_GT(r["p_image"].get<double>(), first["p_image"].get<double>() + 0.1);
  EXPECT_NE(r["z"], first["z"]);
  EXPECT_NE(r["reproduce"].get<std::string>().find(" --polish 40"), std::string::npos);

  job_.model_dir = verifier("blind", -30.0, 0.0);
  job_.out_dir = dir_ / "blind";
  const auto blind = run();
  job_.overrides.polish = 0;
  job_.out_dir = dir_ / "blind0";
  const auto blind0 = run();
  EXPECT_EQ(blind.polished, 0);
  EXPECT_EQ(record(blind.images[1])["tries"]["polished"], false);
  EXPECT_EQ(record(blind.images[1])["z"], record(blind0.images[1])["z"]);
  EXPECT_EQ(blind.below_min_p, 1);

  // Without reading images there is no polish, and the records do not claim one.
  job_.model_dir = verifier("unread", -5.4, 1000.0);
  job_.overrides.polish = 40;
  job_.verify = false;
  job_.out_dir = dir_ / "unverified";
  const auto unverified = run();
  const json u = record(unverified.images[1]);
  EXPECT_EQ(unverified.polished, 0);
  EXPECT_EQ(u["tries"], json({{"solved", 1}, {"kept", 0}}));
  EXPECT_FALSE(u.contains("polish"));
  EXPECT_EQ(u["reproduce"].get<std::string>().find("--polish"), std::string::npos);
}

// A start's retry may take four times the steps of its own first solve at most (docs/edit.md). The tiny
// bundle's age target at weight 1 is met at p 0.995 in a few hundred steps; asked for 0.9999, the weights
// double per try (2x, 4x, 8x) and the ODE stiffens with them until a try needs more than four times the
// first solve's steps: that try stops at the cap, is not kept, and no stronger one follows, while the other
// start goes on with its own cap. dopri5 spends six evaluations per step (FSAL) and two to choose the first.
TEST_F(EditJobTest, AStiffRetryStopsAtFourTimesItsOwnFirstSolvesSteps) {
  sequence({{"start", {{"seed", 3}, {"count", 2}}}, {"steps", {"age=0.9"}}});
  job_.overrides.newest_continuous = 1.0;
  job_.overrides.min_p = 0.0;
  job_.out_dir = dir_ / "once";
  const auto once = run();
  job_.overrides.min_p = 0.9999;
  job_.overrides.tries = 4;
  job_.out_dir = dir_ / "retried";
  const auto report = run();
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings[0].rfind("step 1: 2 start(s)' --min-p retry stopped at its step cap (4x the steps of the start's first solve", 0), 0u)
      << report.warnings[0];
  std::vector<int64_t> first_nfe;
  for (size_t i : {1u, 3u}) {
    const json first = record(once.images[i]), r = record(report.images[i]);
    const int64_t solved = r["tries"]["solved"].get<int64_t>(), kept = r["tries"]["kept"].get<int64_t>();
    EXPECT_GE(solved, 2) << r["tries"];
    EXPECT_LT(kept, solved - 1) << "the last try stopped, so it cannot be the one kept: " << r["tries"];
    EXPECT_LT(r["p"].get<double>(), 0.9999);
    const int64_t n1 = first["stats"]["nfe"].get<int64_t>(), retries = r["stats"]["nfe"].get<int64_t>() - n1;
    const int64_t cap = std::max<int64_t>(4 * ((n1 - 2) / 6), 100), at_cap = 6 * cap + 2;
    EXPECT_GE(retries, at_cap) << "one try ran to this start's cap; first solve " << n1 << " evaluations";
    EXPECT_LE(retries, (solved - 1) * at_cap) << "no try ran past it; first solve " << n1 << " evaluations";
    first_nfe.push_back(n1);
  }
  EXPECT_NE(first_nfe[0], first_nfe[1]) << "the starts' first solves must differ for their caps to differ";
  EXPECT_EQ(report.below_min_p, 2);
}

// The tiny bundle lists smile's layers as 2 and 3: an edit of smile keeps layers 0 and 1 of w+.
TEST_F(EditJobTest, AnEditChangesOnlyItsAttributesLayers) {
  sequence({{"start", {{"seed", 2}, {"count", 1}}}, {"steps", {"smile"}}});
  const auto report = run();
  const json before = record(report.images[0]), after = record(report.images[1]);
  EXPECT_EQ(after["layers"], json({2, 3}));
  EXPECT_EQ(before["ws"][0], after["ws"][0]);
  EXPECT_EQ(before["ws"][1], after["ws"][1]);
  EXPECT_NE(before["ws"][2], after["ws"][2]);
  EXPECT_EQ(after["ws"][2], after["ws"][3]);
}

TEST_F(EditJobTest, StartsFromAPngWrittenByLaceSample) {
  jobs::SampleJob sample;
  sample.model_dir = LACE_TINY_BUNDLE;
  sample.out_dir = dir_ / "samples";
  sample.attrs = "smile";
  sample.seed = 5;
  jobs::Progress quiet;
  const auto sampled = jobs::run_sample(sample, quiet);
  sequence({{"start", {{"images", {"samples/" + sampled.images[0].filename().string()}}}}, {"steps", {"glasses"}}});
  const auto report = run();
  const json start = record(report.images[0]);
  EXPECT_EQ(start["z"], record(sampled.images[0])["z"]);
  // Same z, same truncation: the edit's start is the sampled image itself.
  EXPECT_EQ(bytes(fs::path(report.images[0]).replace_extension(".png")).size() > 0, true);
  EXPECT_EQ(start["attributes"], record(sampled.images[0])["attributes"]);
  EXPECT_TRUE(report.warnings.empty());
}

TEST(EditSettings, FlagsOverTheFileOverTheBundleOverTheAuthors) {
  model::Manifest m;
  m.default_truncation = 0.9;
  model::EditSettings file, flags;
  auto c = jobs::resolve_edit_settings(m, file, flags);  // nothing set anywhere: LACE.md's weights
  EXPECT_DOUBLE_EQ(c.truncation, 0.9);
  EXPECT_DOUBLE_EQ(c.weights.previous, 0.1);
  EXPECT_DOUBLE_EQ(c.weights.newest, 1.0);
  EXPECT_DOUBLE_EQ(c.weights.newest_continuous, 10.0);
  EXPECT_DOUBLE_EQ(c.weights.reg_z, 0.04);
  EXPECT_DOUBLE_EQ(c.weights.reg_logits, 0.01);
  EXPECT_DOUBLE_EQ(c.weights.keep, 0.0);  // lace's own term: off in the authors' recipe
  EXPECT_DOUBLE_EQ(c.weights.keep_sigma, 0.0);  // each attribute's own sigma
  EXPECT_DOUBLE_EQ(c.tolerance, 0.0);

  m.editing.truncation = 0.7;
  m.editing.newest = 3;
  m.editing.reg_z = 0.02;
  file.newest = 4;
  file.reg_logits = 0.5;
  flags.newest = 5;
  m.editing.keep = 2;
  flags.keep = 1;
  flags.truncation = 0.5;
  c = jobs::resolve_edit_settings(m, file, flags);
  EXPECT_DOUBLE_EQ(c.truncation, 0.5);          // flag over bundle
  EXPECT_DOUBLE_EQ(c.weights.newest, 5.0);      // flag over file over bundle
  EXPECT_DOUBLE_EQ(c.weights.reg_logits, 0.5);  // file over the authors'
  EXPECT_DOUBLE_EQ(c.weights.reg_z, 0.02);      // bundle over the authors'
  EXPECT_DOUBLE_EQ(c.weights.previous, 0.1);    // nobody: the authors'
  EXPECT_DOUBLE_EQ(c.weights.keep, 1.0);        // flag over bundle
  m.editing.keep_sigma = 0.05;
  EXPECT_DOUBLE_EQ(jobs::resolve_edit_settings(m, file, flags).weights.keep_sigma, 0.05);  // bundle over the default
  file.keep_sigma = 0.02;
  EXPECT_DOUBLE_EQ(jobs::resolve_edit_settings(m, file, flags).weights.keep_sigma, 0.02);  // file over bundle
  m.editing.tolerance = 0.1;
  file.tolerance = 0.05;
  EXPECT_DOUBLE_EQ(jobs::resolve_edit_settings(m, file, flags).tolerance, 0.05);  // file over bundle
  EXPECT_DOUBLE_EQ(jobs::resolve_edit_settings(m, {}, flags).tolerance, 0.1);
}

TEST_F(EditJobTest, BadInputFailsBeforeWritingAnything) {
  const auto expect_input_error = [&](const json& j, const std::string& part) {
    sequence(j);
    try {
      run();
      ADD_FAILURE() << "no error for " << j.dump();
    } catch (const jobs::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(job_.out_dir)) << "something was written for " << j.dump();
  };
  expect_input_error({{"start", {{"seed", 0}, {"count", 1}}}, {"steps", {"smile", "beard"}}},
                     "steps[1] 'beard': unknown attribute 'beard'");
  expect_input_error({{"start", {{"seed", 0}, {"count", 1}}}, {"steps", {"smile AND (glasses"}}}, "steps[0] 'smile AND (glasses'");
  expect_input_error({{"start", {{"seed", 0}, {"count", 1}}}, {"condition", "hair=pink"}, {"steps", {"smile"}}},
                     "condition 'hair=pink'");
  expect_input_error({{"start", {{"z", {{1.0, 2.0}}}}}, {"steps", {"smile"}}},
                     "start.z[0]: z has 2 values, the model's z_dim is 8");
  std::ofstream(dir_ / "plain.png") << "not a png";
  expect_input_error({{"start", {{"images", {"plain.png"}}}}, {"steps", {"smile"}}}, "start.images[0]");
}

}  // namespace
