// run_sample as a library call: outputs, progress events, failure order and leftovers.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "lace/energy/errors.hpp"
#include "lace/io/error.hpp"
#include "lace/jobs/record.hpp"
#include "lace/jobs/sample_job.hpp"
#include "lace/model/bundle.hpp"
#include "stage_checks.hpp"
#include "support/test_verifier.hpp"

namespace fs = std::filesystem;
using namespace lace;

namespace {

class SampleJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lace_job_test_" + std::to_string(std::random_device{}()));
    job_.model_dir = LACE_TINY_BUNDLE;
    job_.out_dir = dir_ / "out";
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A copy of the tiny bundle whose lace.json has this section.
  fs::path bundle_with(const std::string& section, const nlohmann::json& value) {
    const fs::path dir = dir_ / "bundle";
    fs::create_directories(dir_);
    fs::copy(LACE_TINY_BUNDLE, dir, fs::copy_options::recursive);
    nlohmann::json manifest;
    {
      std::ifstream in(dir / "lace.json");
      manifest = nlohmann::json::parse(in);
    }
    manifest[section] = value;
    std::ofstream(dir / "lace.json") << manifest.dump();
    return dir;
  }
  fs::path bundle_with_sampling(const nlohmann::json& sampling) { return bundle_with("sampling", sampling); }
  // A copy of the tiny bundle with a test verifier (support/test_verifier.hpp) reading bias + scale * mean(image).
  fs::path bundle_with_verifier(const std::string& name, const torch::Tensor& bias, const torch::Tensor& scale) {
    return lace_test::tiny_bundle_with_verifier(dir_ / name, bias, scale);
  }
  fs::path dir_;
  jobs::SampleJob job_;
};

struct Recorder : jobs::Progress {
  void begin(int64_t total) override { this->total = total; }
  void batch(int64_t first, int64_t count) override { batches.push_back({first, count}); }
  void on_step(const ode::StepEvent& e) override {
    EXPECT_GE(e.progress, last_progress - 1.0);  // resets only at a new batch
    last_progress = e.progress;
    ++steps;
  }
  void written(const fs::path&) override { ++written_count; }
  void end() override { ended = true; }
  int64_t total = 0, steps = 0, written_count = 0;
  double last_progress = 0;
  bool ended = false;
  std::vector<std::pair<int64_t, int64_t>> batches;
};

TEST_F(SampleJobTest, WritesEveryImageAndReportsProgress) {
  job_.attrs = "NOT smile AND hair=black";
  job_.count = 5;
  job_.batch_size = 2;
  job_.first_index = 10;
  Recorder rec;
  const auto report = jobs::run_sample(job_, rec);
  ASSERT_EQ(report.images.size(), 5u);
  EXPECT_EQ(report.images[0].filename(), "00001-0010.png");
  EXPECT_EQ(rec.batches, (std::vector<std::pair<int64_t, int64_t>>{{10, 2}, {12, 2}, {14, 1}}));
  EXPECT_EQ(rec.written_count, 5);
  EXPECT_GT(rec.steps, 3);
  EXPECT_TRUE(rec.ended);
  EXPECT_GT(report.nfe_total, 0);
  for (const auto& p : report.images) {
    EXPECT_TRUE(fs::exists(p));
    EXPECT_TRUE(fs::exists(fs::path(p).replace_extension(".json")));
  }
  expect_stages_account_for_the_run(report.stages, report.seconds);
}

nlohmann::json read_record(const fs::path& png) {
  std::ifstream in(fs::path(png).replace_extension(".json"));
  return nlohmann::json::parse(in);
}

double mean_log_p(const jobs::SampleReport& report) {
  double sum = 0;
  for (const auto& p : report.images) sum += read_record(p)["log_p"].get<double>();
  return sum / static_cast<double>(report.images.size());
}

TEST_F(SampleJobTest, GuidanceSharpensTheConditionAndIsRecorded) {
  jobs::Progress quiet;
  job_.attrs = "hair=red AND age=0.9";
  job_.count = 16;
  job_.out_dir = dir_ / "g1";
  const auto plain = jobs::run_sample(job_, quiet);
  job_.guidance = 3.0;
  job_.out_dir = dir_ / "g3";
  const auto guided = jobs::run_sample(job_, quiet);
  // Same starts; log p(c | z) is reported unscaled, so the guided samples must satisfy the condition better:
  // hair=red's probability cubed (age's Gaussian target is not scaled) leaves well under 0.6 of the unguided
  // shortfall -log p.
  const double miss_plain = -mean_log_p(plain), miss_guided = -mean_log_p(guided);
  EXPECT_GT(miss_plain, 0.01);
  EXPECT_LT(miss_guided, 0.6 * miss_plain) << miss_guided << " vs " << miss_plain;
  const auto rec = read_record(guided.images[0]);
  EXPECT_EQ(rec["guidance"], 3.0);
  EXPECT_NE(rec["reproduce"].get<std::string>().find(" --guidance 3"), std::string::npos) << rec["reproduce"];
  EXPECT_EQ(read_record(plain.images[0])["guidance"], 1.0);

  // A bundle may set its own default; --guidance still wins.
  job_.model_dir = bundle_with_sampling({{"guidance", 2.5}});
  job_.count = 1;
  job_.guidance.reset();
  job_.out_dir = dir_ / "bundle-default";
  EXPECT_EQ(read_record(jobs::run_sample(job_, quiet).images[0])["guidance"], 2.5);
  job_.guidance = 1.0;
  job_.out_dir = dir_ / "bundle-flag";
  EXPECT_EQ(read_record(jobs::run_sample(job_, quiet).images[0])["guidance"], 1.0);
}

TEST_F(SampleJobTest, MinPSolvesTheUnlikelyImagesAgainAndKeepsTheirMostProbableTry) {
  jobs::Progress quiet;
  job_.attrs = "glasses AND NOT smile AND hair=red";
  job_.count = 12;
  job_.out_dir = dir_ / "plain";
  const auto plain = jobs::run_sample(job_, quiet);
  std::vector<double> plain_p;
  for (const auto& p : plain.images) {
    const auto rec = read_record(p);
    plain_p.push_back(rec["p"].get<double>());
    // Without OR, P(condition) is exp(log p) of the exact energy.
    EXPECT_NEAR(plain_p.back(), std::exp(rec["log_p"].get<double>()), 1e-5);
  }
  // A threshold between the plain run's readings, so some images pass at once and some are retried.
  std::vector<double> sorted = plain_p;
  std::sort(sorted.begin(), sorted.end());
  const double min_p = 0.5 * (sorted[5] + sorted[6]);
  job_.min_p = min_p;
  job_.tries = 3;
  job_.out_dir = dir_ / "retried";
  const auto retried = jobs::run_sample(job_, quiet);
  int64_t retried_count = 0, below = 0;
  for (size_t i = 0; i < retried.images.size(); ++i) {
    const auto rec = read_record(retried.images[i]);
    const auto plain_rec = read_record(plain.images[i]);
    const double p = rec["p"].get<double>();
    const int64_t solved = rec["tries"]["solved"], kept = rec["tries"]["kept"];
    EXPECT_EQ(rec["min_p"].get<double>(), min_p);
    if (plain_p[i] >= min_p) {  // passed at once: the plain run's image, untouched
      EXPECT_EQ(solved, 1);
      EXPECT_EQ(kept, 0);
      EXPECT_EQ(rec["z"], plain_rec["z"]);
      continue;
    }
    ++retried_count;
    EXPECT_GE(solved, 2);
    EXPECT_GE(p, plain_p[i]);  // the kept try is the most probable, the first one included
    if (p < min_p) {
      EXPECT_EQ(solved, 3);  // gave up only after every try
      ++below;
    } else {
      EXPECT_GE(kept, 1);
    }
    if (kept > 0) EXPECT_NE(rec["z0"], plain_rec["z0"]);
    // Its command redoes it alone: the same tries, the same image.
    EXPECT_NE(rec["reproduce"].get<std::string>().find(" --tries 3"), std::string::npos) << rec["reproduce"];
  }
  EXPECT_EQ(retried_count, 6);
  EXPECT_EQ(retried.retried, 6);
  EXPECT_EQ(retried.below_min_p, below);
  EXPECT_GT(retried.nfe_total, plain.nfe_total);


  // A bundle may set both defaults; the flags win, and --min-p 0 turns retries off.
  job_.model_dir = bundle_with_sampling({{"min_p", min_p}, {"tries", 3}});
  job_.min_p.reset();
  job_.tries.reset();
  job_.out_dir = dir_ / "bundle-default";
  const auto by_default = jobs::run_sample(job_, quiet);
  EXPECT_EQ(by_default.retried, 6);
  EXPECT_EQ(by_default.tries, 3);
  for (size_t i = 0; i < by_default.images.size(); ++i)
    EXPECT_EQ(read_record(by_default.images[i])["z"], read_record(retried.images[i])["z"]);
  job_.min_p = 0.0;
  job_.out_dir = dir_ / "bundle-off";
  const auto off = jobs::run_sample(job_, quiet);
  EXPECT_EQ(off.retried, 0);
  const auto off_rec = read_record(off.images[0]);
  EXPECT_FALSE(off_rec.contains("tries"));
  EXPECT_NE(off_rec["reproduce"].get<std::string>().find(" --min-p 0"), std::string::npos) << off_rec["reproduce"];

  job_.min_p = 1.0;
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
  job_.min_p = 0.5;
  job_.tries = 0;
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
}

TEST_F(SampleJobTest, VerifierReadsEveryImageAndMinPNeedsBothClassifiers) {
  jobs::Progress quiet;
  job_.attrs = "glasses OR hair=red";
  job_.count = 6;
  job_.out_dir = dir_ / "probe";
  const auto probe = jobs::run_sample(job_, quiet);  // every image's first solve
  std::vector<double> p;
  for (const auto& png : probe.images) p.push_back(read_record(png)["p"].get<double>());
  std::sort(p.begin(), p.end());
  job_.min_p = 0.5 * (p[2] + p[3]);  // half the images pass at once
  job_.tries = 3;
  job_.out_dir = dir_ / "plain";
  const auto plain = jobs::run_sample(job_, quiet);
  EXPECT_FALSE(plain.verified);
  EXPECT_EQ(plain.retried, 3);

  // A verifier that reads every image as glasses: min-p needs only the latent classifier, as without one.
  const torch::Tensor sure = torch::tensor({0.0, 30.0, 0.0, 0.0, 0.0, 0.0}), flat = torch::zeros({6});
  job_.model_dir = bundle_with_verifier("agrees", sure, flat);
  job_.out_dir = dir_ / "agrees";
  const auto agrees = jobs::run_sample(job_, quiet);
  EXPECT_TRUE(agrees.verified);
  EXPECT_EQ(agrees.retried, plain.retried);
  for (size_t i = 0; i < agrees.images.size(); ++i) {
    const auto rec = read_record(agrees.images[i]);
    EXPECT_EQ(rec["z"], read_record(plain.images[i])["z"]);
    EXPECT_NEAR(rec["p_image"].get<double>(), 1.0, 1e-9);
    EXPECT_EQ(rec["verifier"], "verifier.pt");
    EXPECT_NE(rec["reproduce"].get<std::string>().find(" --verify"), std::string::npos) << rec["reproduce"];
  }

  // One that reads no image as glasses, and every one's hair as black: no try passes, each image takes
  // every try and keeps its first (all score the verifier's constant, the smaller reading).
  const torch::Tensor doubts = torch::tensor({0.0, -30.0, 30.0, 0.0, 0.0, 0.0});
  job_.model_dir = bundle_with_verifier("doubts", doubts, flat);
  job_.out_dir = dir_ / "doubts";
  const auto doubting = jobs::run_sample(job_, quiet);
  EXPECT_EQ(doubting.retried, 6);
  EXPECT_EQ(doubting.below_min_p, 6);
  for (size_t i = 0; i < doubting.images.size(); ++i) {
    const auto rec = read_record(doubting.images[i]);
    EXPECT_EQ(rec["tries"]["solved"], 3);
    EXPECT_EQ(rec["tries"]["kept"], 0);
    EXPECT_EQ(rec["z"], read_record(probe.images[i])["z"]);
    EXPECT_LT(rec["p_image"].get<double>(), 1e-12);
  }
  EXPECT_GT(doubting.nfe_total, plain.nfe_total);

  // --no-verify: the plain run's images and records, and a command that says so.
  job_.verify = false;
  job_.out_dir = dir_ / "unverified";
  const auto unverified = jobs::run_sample(job_, quiet);
  EXPECT_FALSE(unverified.verified);
  const auto rec = read_record(unverified.images[0]);
  EXPECT_FALSE(rec.contains("p_image"));
  EXPECT_EQ(rec["z"], read_record(plain.images[0])["z"]);
  EXPECT_NE(rec["reproduce"].get<std::string>().find(" --no-verify"), std::string::npos) << rec["reproduce"];

  // The verifier reads the very images written: glasses' logit follows each image's mean.
  job_.verify.reset();
  job_.min_p = 0.0;
  const torch::Tensor follows = torch::tensor({0.0, 0.0, 0.0, 0.0, 0.0, 0.0});
  const torch::Tensor scale = torch::tensor({0.0, 40.0, 0.0, 0.0, 0.0, 0.0});
  job_.model_dir = bundle_with_verifier("follows", follows, scale);
  job_.attrs = "glasses";
  job_.out_dir = dir_ / "follows";
  const auto following = jobs::run_sample(job_, quiet);
  // The mean pixel of the image a record's z draws (what the test verifiers read).
  const auto image_mean = [](const model::Bundle& bundle, const nlohmann::json& r) {
    const auto z = torch::tensor(r["z"].get<std::vector<double>>(), torch::kFloat).unsqueeze(0);
    torch::NoGradGuard no_grad;
    return bundle.synthesis(bundle.broadcast_ws(bundle.mapping(z))).mean().item<double>();
  };
  const auto bundle = model::Bundle::load(job_.model_dir, torch::kCPU);
  for (const auto& png : following.images) {
    const auto r = read_record(png);
    const double mean = image_mean(bundle, r);
    EXPECT_NEAR(r["p_image"].get<double>(), 1 / (1 + std::exp(-40 * mean)), 1e-4);
  }

  // Two judges reading glasses oppositely ("judges": 2): the lesser P counts, sigmoid(-40|mean|).
  job_.model_dir = lace_test::tiny_bundle_with_judges(dir_ / "judges", torch::zeros({2, 6}), torch::stack({scale, -scale}));
  job_.out_dir = dir_ / "judges";
  const auto judged = jobs::run_sample(job_, quiet);
  const auto judges = model::Bundle::load(job_.model_dir, torch::kCPU);
  for (const auto& png : judged.images) {
    const auto r = read_record(png);
    const double mean = image_mean(judges, r);
    EXPECT_NEAR(r["p_image"].get<double>(), 1 / (1 + std::exp(40 * std::abs(mean))), 1e-4);
  }

  // --verify on a bundle without a verifier is a usage error, before any work.
  job_.model_dir = LACE_TINY_BUNDLE;
  job_.verify = true;
  job_.out_dir = dir_ / "none";
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir_ / "none") && !fs::is_empty(dir_ / "none"));
}

TEST_F(SampleJobTest, ExpressionIsCheckedBeforeTheModelIsLoaded) {
  // A bundle whose generator is broken: a bad expression must still be the error reported.
  const fs::path broken = dir_ / "broken";
  fs::create_directories(broken);
  for (const auto& e : fs::directory_iterator(LACE_TINY_BUNDLE)) fs::copy(e.path(), broken / e.path().filename());
  std::ofstream(broken / "generator.pt") << "garbage";
  job_.model_dir = broken;
  job_.attrs = "smile AND";
  jobs::Progress quiet;
  EXPECT_THROW(jobs::run_sample(job_, quiet), energy::ParseError);
  EXPECT_FALSE(fs::exists(job_.out_dir));
}

// The mean of an attribute's reading over a run's records.
double mean_reading(const jobs::SampleReport& report, const std::string& attribute) {
  double sum = 0;
  for (const auto& path : report.images) sum += read_record(path)["attributes"][attribute].get<double>();
  return sum / static_cast<double>(report.images.size());
}

TEST_F(SampleJobTest, ThePriorPullsTheAttributesTheConditionLeavesFreeAndIsRecorded) {
  jobs::Progress quiet;
  // The "data" smiles e^2 times as often, relative to not smiling, as the generator does.
  job_.model_dir = bundle_with("prior", {{"attributes", {"smile"}}, {"log_ratio", {-1.0, 1.0}}, {"weight", 1.0}});
  job_.attrs = "hair=black";
  job_.count = 24;
  job_.batch_size = 8;
  job_.prior_weight = 0.0;
  job_.out_dir = dir_ / "off";
  const auto off = jobs::run_sample(job_, quiet);
  job_.prior_weight.reset();  // the bundle's weight, 1
  job_.out_dir = dir_ / "on";
  const auto on = jobs::run_sample(job_, quiet);
  const double smile_off = mean_reading(off, "smile"), smile_on = mean_reading(on, "smile");
  EXPECT_GT(smile_on, smile_off + 0.1) << smile_on << " vs " << smile_off;
  EXPECT_GT(mean_log_p(on), mean_log_p(off) - 0.1);  // the condition still holds
  const auto rec = read_record(on.images[0]);
  EXPECT_EQ(rec["prior_weight"], 1.0);
  EXPECT_NE(rec["reproduce"].get<std::string>().find(" --prior-weight 1"), std::string::npos) << rec["reproduce"];
  EXPECT_EQ(read_record(off.images[0])["prior_weight"], 0.0);

  // Off, the run is the plain bundle's, z for z; unconditional sampling follows the prior alone.
  job_.prior_weight = 0.0;
  job_.attrs = "";
  job_.count = 8;
  job_.out_dir = dir_ / "unconditional-off";
  const auto unc_off = jobs::run_sample(job_, quiet);
  job_.model_dir = LACE_TINY_BUNDLE;
  job_.prior_weight.reset();
  job_.out_dir = dir_ / "plain";
  const auto plain = jobs::run_sample(job_, quiet);
  EXPECT_EQ(read_record(plain.images[3])["z"], read_record(unc_off.images[3])["z"]);
  EXPECT_FALSE(read_record(plain.images[3]).contains("prior_weight"));
  job_.model_dir = dir_ / "bundle";
  job_.out_dir = dir_ / "unconditional-on";
  const auto unc_on = jobs::run_sample(job_, quiet);
  EXPECT_GT(mean_reading(unc_on, "smile"), mean_reading(unc_off, "smile") + 0.1);
}

TEST_F(SampleJobTest, UnwritableFolderFailsBeforeAnyWork) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  job_.out_dir = dir_ / "file" / "out";
  jobs::Progress quiet;
  EXPECT_THROW(jobs::run_sample(job_, quiet), io::OutputError);
}

TEST_F(SampleJobTest, BadOptionValuesAreRejected) {
  jobs::Progress quiet;
  job_.count = 0;
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
  job_.count = 1;
  job_.solver = "rk45";
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
  job_.solver = "dopri5";
  for (double g : {0.0, -1.0, std::nan("")}) {
    job_.guidance = g;
    EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument) << g;
  }
  job_.guidance.reset();
  job_.prior_weight = -1.0;
  EXPECT_THROW(jobs::run_sample(job_, quiet), std::invalid_argument);
  job_.prior_weight = 1.0;  // the tiny bundle has no prior
  try {
    jobs::run_sample(job_, quiet);
    ADD_FAILURE() << "a prior weight on a bundle without a prior was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("has no prior"), std::string::npos) << e.what();
  }
  job_.prior_weight = 0.0;  // off: fine without one
  EXPECT_NO_THROW(jobs::run_sample(job_, quiet));
}

TEST(Record, FloatVectorsRoundTripExactly) {
  const auto v = torch::randn({512});
  EXPECT_TRUE(torch::equal(jobs::tensor_from_json(nlohmann::json::parse(jobs::tensor_to_json(v).dump())), v));
}

}  // namespace
