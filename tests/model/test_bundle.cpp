// The bundle loader accepts the tiny bundle and rejects each kind of broken bundle with a message
// that names the file and the mismatch.
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lace/model/bundle.hpp"
#include "support/test_verifier.hpp"

namespace fs = std::filesystem;
using lace::model::Bundle;
using lace::model::BundleError;
using nlohmann::json;

namespace {

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lace_bundle_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(LACE_TINY_BUNDLE)) fs::copy(e.path(), dir_ / e.path().filename());
    std::ifstream in(dir_ / "lace.json");
    manifest_ = json::parse(in);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_manifest(const json& j) { std::ofstream(dir_ / "lace.json") << j.dump(2); }

  // Loads the bundle expecting failure; returns the message.
  std::string load_error() {
    try {
      Bundle::load(dir_, torch::kCPU);
    } catch (const BundleError& e) {
      return e.what();
    }
    ADD_FAILURE() << "bundle loaded although it is broken";
    return "";
  }

  fs::path dir_;
  json manifest_;
};

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

TEST_F(BundleTest, LoadsTinyBundleAndRunsEachModule) {
  Bundle b = Bundle::load(dir_, torch::kCPU);
  const auto& m = b.manifest();
  EXPECT_EQ(m.name, "tiny");
  ASSERT_EQ(m.attributes.size(), 4u);
  EXPECT_EQ(m.attributes[2].classes, (std::vector<std::string>{"black", "blonde", "red"}));
  EXPECT_EQ(m.attributes[3].kind, lace::model::AttributeKind::Continuous);
  auto z = torch::randn({5, m.generator.z_dim});
  auto w = b.mapping(z);
  EXPECT_EQ(w.sizes(), (c10::IntArrayRef{5, m.generator.w_dim}));
  EXPECT_EQ(b.classify(w).sizes(), (c10::IntArrayRef{5, m.classifier.num_logits}));
  auto img = b.synthesis(b.broadcast_ws(w));
  EXPECT_EQ(img.sizes(), (c10::IntArrayRef{5, 3, 16, 16}));
  EXPECT_LE(img.abs().max().item<float>(), 1.0f);
  // Truncation: psi = 0 gives w_avg, psi = 1 leaves w alone.
  EXPECT_TRUE(torch::allclose(b.truncate(w, 0.0), b.w_avg().expand_as(w)));
  EXPECT_TRUE(torch::equal(b.truncate(w, 1.0), w));
}

TEST_F(BundleTest, EstimatedMeanMatchesTheStoredBuffer) {
  manifest_["truncation"]["w_avg"] = {{"source", "estimate"}, {"samples", 50000}, {"seed", 3}};
  write_manifest(manifest_);
  Bundle estimated = Bundle::load(dir_, torch::kCPU);
  // The tiny bundle's buffer is the mean over 200k latents: 50k agree to a few hundredths.
  std::ifstream in(fs::path(LACE_TINY_BUNDLE) / "lace.json");
  Bundle stored = Bundle::load(LACE_TINY_BUNDLE, torch::kCPU);
  EXPECT_LT((estimated.w_avg() - stored.w_avg()).abs().max().item<float>(), 0.05f);
}

TEST_F(BundleTest, MissingFolderOrManifest) {
  fs::remove(dir_ / "lace.json");
  EXPECT_HAS(load_error(), "lace.json");
  EXPECT_THROW(Bundle::load(dir_ / "nope", torch::kCPU), BundleError);
}

TEST_F(BundleTest, ManifestNotJson) {
  std::ofstream(dir_ / "lace.json") << "{ \"format\": \"lace-bundle\", ";
  EXPECT_HAS(load_error(), "not valid JSON");
}

TEST_F(BundleTest, ManifestFieldsAreChecked) {
  struct Case {
    std::function<void(json&)> edit;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["format"] = "other"; }, "format"},
      {[](json& j) { j["version"] = 99; }, "newer than this lace"},
      {[](json& j) { j["generator"].erase("z_dim"); }, "generator.z_dim: missing"},
      {[](json& j) { j["generator"]["w_dim"] = -3; }, "generator.w_dim: must be a positive integer"},
      {[](json& j) { j["attributes"][0]["kind"] = "ternary"; }, "attributes[0].kind"},
      {[](json& j) { j["attributes"][1]["name"] = "smile"; }, "appears twice"},
      {[](json& j) { j["attributes"][1]["columns"] = {0}; }, "already belongs to 'smile'"},
      {[](json& j) { j["attributes"][2]["classes"] = {"black", "blonde"}; }, "one column per class"},
      {[](json& j) { j["attributes"][3]["columns"] = {6}; }, "past classifier.num_logits"},
      {[](json& j) { j["attributes"][3]["sigma"] = 0; }, "sigma: must be positive"},
      {[](json& j) { j["attributes"][3]["range"] = {1, 0}; }, "min < max"},
      {[](json& j) { j["attributes"][3]["tolerance"] = -0.1; }, "attributes[3].tolerance: must be >= 0 and less than"},
      {[](json& j) { j["attributes"][3]["tolerance"] = 1.0; }, "attributes[3].tolerance: must be >= 0 and less than"},
      {[](json& j) { j["attributes"][3]["tolerance"] = "near"; }, "attributes[3].tolerance: must be a number"},
      {[](json& j) { j["attributes"][0]["tolerance"] = 0.1; }, "attributes[0].tolerance: only a continuous attribute"},
      {[](json& j) { j["attributes"][0]["layers"] = {9}; }, "past generator.num_ws"},
      {[](json& j) { j["attributes"][0]["name"] = "two words"; }, "not a valid name"},
      {[](json& j) { j["truncation"]["w_avg"]["source"] = "magic"; }, "truncation.w_avg.source"},
      {[](json& j) { j["sampling"] = {{"guidance", 0}}; }, "sampling.guidance: must be a positive number"},
      {[](json& j) { j["sampling"] = {{"guidance", "strong"}}; }, "sampling.guidance"},
      {[](json& j) { j["sampling"] = 3; }, "sampling"},
      {[](json& j) { j["sampling"] = {{"min_p", 1}}; }, "sampling.min_p: must be in [0, 1)"},
      {[](json& j) { j["sampling"] = {{"tries", 0}}; }, "sampling.tries: must be a positive integer"},
      {[](json& j) { j["sampling"] = {{"min-p", 0.5}}; }, "sampling: unknown field 'min-p'"},
      {[](json& j) { j["editing"] = {{"min_p", 1.5}}; }, "editing.min_p: must be in [0, 1)"},
      {[](json& j) { j["editing"] = {{"tries", -1}}; }, "editing.tries: must be a positive integer"},
      {[](json& j) { j["editing"] = {{"tolerance", -0.1}}; }, "editing.tolerance: must be a number >= 0"},
      {[](json& j) { j["editing"] = {{"polish", 2.5}}; }, "editing.polish: must be a whole number >= 0"},
      {[](json& j) { j["editing"] = {{"polish", -1}}; }, "editing.polish: must be a whole number >= 0"},
      {[](json& j) { j["editing"] = {{"verifier", {{"file", "v.pt"}, {"num_logits", 5}}}}; },
       "editing.verifier.num_logits: 5 differs from classifier.num_logits (6)"},
      {[](json& j) { j["editing"] = {{"verifier", {{"num_logits", 6}}}}; }, "editing.verifier.file: missing"},
      {[](json& j) { j["editing"] = {{"verifier", "v.pt"}}; }, "editing.verifier: must be an object"},
      {[](json& j) { j["editing"] = {{"weights", {{"newest", -1}}}}; }, "editing.weights.newest: must be a number >= 0"},
      {[](json& j) { j["editing"] = {{"weights", {{"newst", 2}}}}; }, "editing.weights: unknown field 'newst'"},
      {[](json& j) { j["editing"] = {{"trunc", 0.5}}; }, "editing: unknown field 'trunc'"},
      {[](json& j) { j["editing"] = {{"truncation", "half"}}; }, "editing.truncation: must be a number"},
      {[](json& j) { j["verifier"] = {{"file", "v.pt"}, {"num_logits", 7}}; },
       "verifier.num_logits: 7 differs from classifier.num_logits (6)"},
      {[](json& j) { j["verifier"] = {{"file", "v.pt"}, {"num_logits", 6}, {"columns", 6}}; },
       "verifier: unknown field 'columns'"},
      {[](json& j) { j["verifier"] = {{"num_logits", 6}}; }, "verifier.file: missing"},
      // the tiny bundle: smile, glasses (binary), hair (3 classes), age (continuous)
      {[](json& j) { j["prior"] = {{"attributes", {"smile"}}, {"log_ratio", {0, 0, 0}}}; },
       "prior.log_ratio: has 3 numbers; the attributes make 2 cells"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile", "hair"}}, {"log_ratio", std::vector<double>(5, 0.0)}}; },
       "prior.log_ratio: has 5 numbers; the attributes make 6 cells"},
      {[](json& j) { j["prior"] = {{"attributes", {"age"}}, {"log_ratio", {0, 0}}}; },
       "prior.attributes[0]: 'age' is continuous"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile", "beard"}}, {"log_ratio", {0, 0, 0, 0}}}; },
       "prior.attributes[1]: 'beard' is not in attributes"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile", "smile"}}, {"log_ratio", {0, 0, 0, 0}}}; },
       "prior.attributes[1]: 'smile' appears twice"},
      {[](json& j) { j["prior"] = {{"attributes", json::array()}, {"log_ratio", json::array()}}; },
       "prior.attributes: must be a non-empty list"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile"}}, {"log_ratio", {0, "big"}}}; },
       "prior.log_ratio: must hold finite numbers only"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile"}}, {"log_ratio", {0, 0}}, {"weight", -1}}; },
       "prior.weight: must be a number >= 0"},
      {[](json& j) { j["prior"] = {{"attributes", {"smile"}}, {"log_ratio", {0, 0}}, {"weights", 1}}; },
       "prior: unknown field 'weights'"},
      {[](json& j) { j["prior"] = {{"log_ratio", {0, 0}}}; }, "prior.attributes: missing"},
  };
  for (const auto& c : cases) {
    json j = manifest_;
    c.edit(j);
    write_manifest(j);
    const std::string msg = load_error();
    EXPECT_HAS(msg, c.expect);
    EXPECT_HAS(msg, "lace.json");
  }
}

TEST_F(BundleTest, AContinuousAttributesToleranceIsOptionalAndRead) {
  EXPECT_EQ(lace::model::read_manifest(dir_).attributes[3].tolerance, 0.0);  // none: the energy's own P
  json j = manifest_;
  j["attributes"][3]["tolerance"] = 0.1;
  write_manifest(j);
  EXPECT_DOUBLE_EQ(lace::model::read_manifest(dir_).attributes[3].tolerance, 0.1);
}

TEST_F(BundleTest, APriorIsOptionalAndRead) {
  EXPECT_FALSE(lace::model::read_manifest(dir_).prior.has_value());
  json j = manifest_;
  j["prior"] = {{"attributes", {"hair", "glasses"}}, {"log_ratio", {0.5, -0.5, 0, 0, 1, -1}}, {"comment", "made here"}};
  write_manifest(j);
  const auto prior = lace::model::read_manifest(dir_).prior;
  ASSERT_TRUE(prior.has_value());
  EXPECT_EQ(prior->attributes, (std::vector<std::string>{"hair", "glasses"}));
  EXPECT_EQ(prior->log_ratio, (std::vector<double>{0.5, -0.5, 0, 0, 1, -1}));
  EXPECT_DOUBLE_EQ(prior->weight, 1.0);  // the default weight
  j["prior"]["weight"] = 2.5;
  write_manifest(j);
  EXPECT_DOUBLE_EQ(lace::model::read_manifest(dir_).prior->weight, 2.5);
}

TEST_F(BundleTest, EditingDefaultsAreOptionalAndRead) {
  EXPECT_FALSE(lace::model::read_manifest(dir_).editing.newest.has_value());  // none: the authors' weights
  json j = manifest_;
  j["editing"] = {{"truncation", 0.6}, {"weights", {{"newest", 3}, {"reg_z", 0}}}, {"comment", "tuned"}};
  write_manifest(j);
  const auto editing = lace::model::read_manifest(dir_).editing;
  EXPECT_DOUBLE_EQ(editing.truncation.value(), 0.6);
  EXPECT_DOUBLE_EQ(editing.newest.value(), 3.0);
  EXPECT_DOUBLE_EQ(editing.reg_z.value(), 0.0);
  EXPECT_FALSE(editing.previous.has_value());
}

TEST_F(BundleTest, ModuleFileMissingOrNotTorchScript) {
  fs::remove(dir_ / "classifier.pt");
  EXPECT_HAS(load_error(), "classifier.pt: file not found");
  std::ofstream(dir_ / "classifier.pt") << "this is not a zip archive";
  EXPECT_HAS(load_error(), "classifier.pt: not a loadable TorchScript module");
}

TEST_F(BundleTest, ShapesAreCheckedAgainstTheManifest) {
  json j = manifest_;
  j["generator"]["w_dim"] = 9;  // the probe with z of 8 gives w of 8
  write_manifest(j);
  EXPECT_HAS(load_error(), "generator.pt: mapping(z) returned shape [1, 8], the manifest implies [1, 9]");

  j = manifest_;
  j["generator"]["z_dim"] = 5;  // the mapping's first Linear wants 8 inputs
  write_manifest(j);
  EXPECT_HAS(load_error(), "generator.pt: mapping() failed on input of shape [1, 5]");

  j = manifest_;
  j["classifier"]["num_logits"] = 7;
  write_manifest(j);
  EXPECT_HAS(load_error(), "classifier.pt: forward(w) returned shape [1, 6], the manifest implies [1, 7]");

  j = manifest_;
  j["generator"]["resolution"] = 32;  // synthesis is checked on every call
  write_manifest(j);
  Bundle b = Bundle::load(dir_, torch::kCPU);
  try {
    b.synthesis(b.broadcast_ws(b.mapping(torch::zeros({2, 8}))));
    ADD_FAILURE() << "wrong resolution not detected";
  } catch (const BundleError& e) {
    EXPECT_HAS(e.what(), "synthesis(ws) returned shape [2, 3, 16, 16], the manifest implies [2, 3, 32, 32]");
  }
}

TEST_F(BundleTest, VerifierIsLoadedProbedAndRun) {
  EXPECT_FALSE(Bundle::load(dir_, torch::kCPU).has_verifier());
  json j = manifest_;
  j["verifier"] = {{"file", "verifier.pt"}, {"num_logits", 6}};
  write_manifest(j);
  EXPECT_HAS(load_error(), "verifier.pt: file not found");

  lace_test::write_test_verifier(dir_ / "verifier.pt", torch::zeros({5}), torch::ones({5}));
  EXPECT_HAS(load_error(), "verifier.pt: forward(images) returned shape [1, 5], the manifest implies [1, 6]");

  const auto bias = torch::arange(6, torch::kFloat), scale = torch::full({6}, 2.0);
  lace_test::write_test_verifier(dir_ / "verifier.pt", bias, scale);
  const Bundle b = Bundle::load(dir_, torch::kCPU);
  ASSERT_TRUE(b.has_verifier());
  const auto images = torch::rand({3, 3, 16, 16}) * 2 - 1;
  const auto expected = bias.unsqueeze(0) + 2 * images.mean({1, 2, 3}).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(b.verify(images), expected, 1e-5, 1e-6));
  EXPECT_EQ(b.files().back(), dir_ / "verifier.pt");  // hashed into the records with the rest
}

// "judges": J: one module, several readings [B, J, num_logits]; verify_each gives them, verify their mean.
TEST_F(BundleTest, AVerifierOfSeveralJudgesGivesEachReading) {
  json j = manifest_;
  j["verifier"] = {{"file", "verifier.pt"}, {"num_logits", 6}, {"judges", 2}};
  write_manifest(j);
  lace_test::write_test_verifier(dir_ / "verifier.pt", torch::zeros({6}), torch::ones({6}));  // one reading only
  EXPECT_HAS(load_error(), "verifier.pt: forward(images) (\"judges\": 2) returned shape [1, 6], the manifest implies [1, 2, 6]");

  const auto bias = torch::stack({torch::arange(6, torch::kFloat), -torch::arange(6, torch::kFloat)});
  const auto scale = torch::stack({torch::full({6}, 2.0), torch::full({6}, -3.0)});
  lace_test::write_test_judges(dir_ / "verifier.pt", bias, scale);
  const Bundle b = Bundle::load(dir_, torch::kCPU);
  EXPECT_EQ(b.verifier_judges(), 2);
  const auto images = torch::rand({3, 3, 16, 16}) * 2 - 1;
  const auto mean = images.mean({1, 2, 3});
  const auto each = b.verify_each(images);
  ASSERT_EQ(each.sizes(), (std::vector<int64_t>{2, 3, 6}));
  for (int64_t k = 0; k < 2; ++k)
    EXPECT_TRUE(torch::allclose(each[k], bias[k].unsqueeze(0) + scale[k].unsqueeze(0) * mean.unsqueeze(1), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(b.verify(images), (each[0] + each[1]) / 2, 1e-5, 1e-6));

  j["verifier"]["judges"] = 0;
  write_manifest(j);
  EXPECT_HAS(load_error(), "judges: must be a positive integer");
  j["verifier"] = {{"file", "verifier.pt"}, {"num_logits", 6}};  // one judge: verify_each is verify's reading
  write_manifest(j);
  lace_test::write_test_verifier(dir_ / "verifier.pt", torch::zeros({6}), torch::ones({6}));
  const Bundle one = Bundle::load(dir_, torch::kCPU);
  EXPECT_EQ(one.verifier_judges(), 1);
  EXPECT_TRUE(torch::equal(one.verify_each(images)[0], one.verify(images)));
}

// "editing.verifier" is what lace edit reads images with; lace sample keeps "verifier". Both are hashed
// whichever is loaded, so a bundle has one sha256 for both commands.
TEST_F(BundleTest, AnEditVerifierIsLoadedForEditing) {
  json j = manifest_;
  j["verifier"] = {{"file", "verifier.pt"}, {"num_logits", 6}};
  j["editing"] = {{"verifier", {{"file", "edit_verifier.pt"}, {"num_logits", 6}}}, {"polish", 7}};
  write_manifest(j);
  lace_test::write_test_verifier(dir_ / "verifier.pt", torch::zeros({6}), torch::ones({6}));
  const Bundle without = Bundle::load(dir_, torch::kCPU);  // lace sample does not need the edit verifier
  try {
    without.check_edit_verifier();  // lace info checks it alone
    ADD_FAILURE() << "checked an edit verifier that is not there";
  } catch (const BundleError& e) {
    EXPECT_HAS(e.what(), "edit_verifier.pt: file not found");
  }
  try {
    Bundle::load(dir_, torch::kCPU, lace::model::BundleUse::Edit);
    ADD_FAILURE() << "loaded for editing without its edit verifier";
  } catch (const BundleError& e) {
    EXPECT_HAS(e.what(), "edit_verifier.pt: file not found");
  }

  lace_test::write_test_verifier(dir_ / "edit_verifier.pt", torch::full({6}, 3.0), torch::ones({6}));
  const Bundle sample = Bundle::load(dir_, torch::kCPU), edit = Bundle::load(dir_, torch::kCPU, lace::model::BundleUse::Edit);
  EXPECT_EQ(sample.verifier_file(), "verifier.pt");
  EXPECT_EQ(edit.verifier_file(), "edit_verifier.pt");
  const auto images = torch::zeros({2, 3, 16, 16});
  EXPECT_TRUE(torch::allclose(sample.verify(images), torch::zeros({2, 6})));
  EXPECT_TRUE(torch::allclose(edit.verify(images), torch::full({2, 6}, 3.0)));
  EXPECT_EQ(sample.files(), edit.files());
  EXPECT_EQ(edit.files().back(), dir_ / "edit_verifier.pt");
  EXPECT_EQ(edit.manifest().editing.polish.value(), 7);
  EXPECT_NO_THROW(sample.check_edit_verifier());

  lace_test::write_test_verifier(dir_ / "edit_verifier.pt", torch::zeros({5}), torch::ones({5}));
  try {
    sample.check_edit_verifier();
    ADD_FAILURE() << "checked an edit verifier of the wrong width";
  } catch (const BundleError& e) {
    EXPECT_HAS(e.what(), "edit_verifier.pt: forward(images) returned shape [1, 5]");
  }
}

TEST_F(BundleTest, GeneratorWithoutMappingOrMeanIsRejected) {
  json j = manifest_;
  j["generator"]["file"] = "classifier.pt";
  write_manifest(j);
  EXPECT_HAS(load_error(), "classifier.pt: has no method mapping()");

  j = manifest_;
  j["truncation"]["w_avg"]["name"] = "mean_w";
  write_manifest(j);
  EXPECT_HAS(load_error(), "has no attribute 'mean_w'");
}

}  // namespace
