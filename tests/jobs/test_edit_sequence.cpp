// edits.json validation: every bad field gets a message naming the file and the field.
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "lace/jobs/edit_sequence.hpp"

namespace fs = std::filesystem;
using lace::jobs::EditStart;
using lace::jobs::InputError;
using nlohmann::json;

namespace {

class EditSequenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lace_edit_seq_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  // The message of the InputError that parsing `j` throws ("" when it does not throw).
  std::string error_of(const json& j) {
    try {
      lace::jobs::parse_edit_sequence(j, dir_ / "edits.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

const json kGood = json::parse(R"({"start": {"seed": 3, "count": 2}, "steps": ["glasses", "age=0.8"]})");

TEST_F(EditSequenceTest, ReadsAGoodFile) {
  const auto seq = lace::jobs::read_edit_sequence(write("edits.json", kGood.dump()));
  EXPECT_EQ(seq.start.source, EditStart::Source::Seed);
  EXPECT_EQ(seq.start.seed, 3u);
  EXPECT_EQ(seq.start.indices, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(seq.steps, (std::vector<std::string>{"glasses", "age=0.8"}));
  // Nothing set: the bundle's editing defaults or the authors' apply (resolve_edit_settings).
  EXPECT_FALSE(seq.settings.truncation.has_value());
  EXPECT_FALSE(seq.settings.previous || seq.settings.newest || seq.settings.newest_continuous ||
               seq.settings.reg_z || seq.settings.reg_logits);
}

TEST_F(EditSequenceTest, TheExampleUnderConfigsIsValid) {
  const auto seq = lace::jobs::read_edit_sequence(fs::path(LACE_SOURCE_DIR) / "configs" / "edits-example.json");
  EXPECT_EQ(seq.steps, (std::vector<std::string>{"glasses", "age=0.8", "yaw=-0.6", "NOT smile", "beard"}));
  EXPECT_EQ(seq.start.indices.size(), 8u);
  EXPECT_FALSE(seq.settings.truncation.has_value());  // the bundle's editing defaults apply
}

TEST_F(EditSequenceTest, SeedWithIndicesOrFirstIndex) {
  auto j = kGood;
  j["start"] = {{"seed", 1}, {"indices", {5, 2}}};
  auto seq = lace::jobs::parse_edit_sequence(j, dir_ / "e.json");
  EXPECT_EQ(seq.start.indices, (std::vector<int64_t>{5, 2}));
  j["start"] = {{"seed", 1}, {"count", 3}, {"first_index", 10}};
  seq = lace::jobs::parse_edit_sequence(j, dir_ / "e.json");
  EXPECT_EQ(seq.start.indices, (std::vector<int64_t>{10, 11, 12}));
}

TEST_F(EditSequenceTest, ZFileIsReadRelativeToTheSequenceFile) {
  write("z.json", R"({"z": [[1, 2, 3], [4, 5, 6]]})");
  auto j = kGood;
  j["start"] = {{"z_file", "z.json"}};
  const auto seq = lace::jobs::read_edit_sequence(write("edits.json", j.dump()));
  ASSERT_EQ(seq.start.z.size(), 2u);
  EXPECT_EQ(seq.start.z[1], (std::vector<float>{4, 5, 6}));
  // One vector alone (a lace record's "z") is one start.
  write("one.json", R"({"z": [0.5, -1]})");
  j["start"] = {{"z_file", "one.json"}};
  EXPECT_EQ(lace::jobs::read_edit_sequence(write("edits.json", j.dump())).start.z.size(), 1u);
}

TEST_F(EditSequenceTest, WeightsAndTruncationAreRead) {
  auto j = kGood;
  j["weights"] = {{"reg_z", 0.5}, {"newest", 2}};
  j["truncation"] = 0.5;
  j["min_p"] = 0.8;
  j["tries"] = 2;
  j["tolerance"] = 0.05;
  j["polish"] = 12;
  const auto seq = lace::jobs::parse_edit_sequence(j, dir_ / "e.json");
  EXPECT_EQ(seq.settings.polish.value(), 12);
  EXPECT_DOUBLE_EQ(seq.settings.tolerance.value(), 0.05);
  EXPECT_DOUBLE_EQ(seq.settings.min_p.value(), 0.8);
  EXPECT_EQ(seq.settings.tries.value(), 2);
  EXPECT_DOUBLE_EQ(seq.settings.reg_z.value(), 0.5);
  EXPECT_DOUBLE_EQ(seq.settings.newest.value(), 2.0);
  EXPECT_FALSE(seq.settings.previous.has_value());
  EXPECT_DOUBLE_EQ(seq.settings.truncation.value(), 0.5);
}

TEST_F(EditSequenceTest, EveryBadFieldIsNamed) {
  const auto with = [](const char* key, json value) {
    auto j = kGood;
    j[key] = std::move(value);
    return j;
  };
  const std::string file = (dir_ / "edits.json").string() + ": ";
  EXPECT_EQ(error_of(json::array()), file + "must hold a JSON object with start and steps (see docs/edit.md)");
  EXPECT_EQ(error_of(json{{"steps", {"smile"}}}), file + "missing field 'start'");
  EXPECT_EQ(error_of(json{{"start", {{"seed", 1}, {"count", 1}}}}), file + "missing field 'steps'");
  EXPECT_EQ(error_of(with("step", "x")),
            file + "unknown field 'step' (known: comment, condition, min_p, polish, start, steps, tolerance, tries, truncation, weights)");
  EXPECT_EQ(error_of(with("steps", json::array())), file + "steps: must be a non-empty array of expressions");
  EXPECT_EQ(error_of(with("steps", {"smile", 3})), file + "steps[1]: must be a string, got number");
  EXPECT_EQ(error_of(with("steps", {"smile", "  "})), file + "steps[1]: is empty");
  EXPECT_EQ(error_of(with("truncation", -1)), file + "truncation: must be a number >= 0, got -1");
  EXPECT_EQ(error_of(with("condition", true)), file + "condition: must be a string, got boolean");
  EXPECT_EQ(error_of(with("min_p", 1)), file + "min_p: must be below 1");
  EXPECT_EQ(error_of(with("min_p", -0.5)), file + "min_p: must be a number >= 0, got -0.5");
  EXPECT_EQ(error_of(with("tolerance", -0.1)), file + "tolerance: must be a number >= 0, got -0.1");
  EXPECT_EQ(error_of(with("polish", 2.5)), file + "polish: must be a whole number");
  EXPECT_EQ(error_of(with("polish", -1)), file + "polish: must be a number >= 0, got -1");
  EXPECT_EQ(error_of(with("tries", 0)), file + "tries: must be a number >= 1, got 0");
  EXPECT_EQ(error_of(with("tries", 2.5)), file + "tries: must be a whole number");
  EXPECT_EQ(error_of(with("weights", {{"reg_z", -0.1}})), file + "weights.reg_z: must be a number >= 0, got -0.1");
  EXPECT_EQ(error_of(with("weights", {{"regz", 1}})),
            file + "weights: unknown field 'regz' (known: keep, keep_sigma, newest, newest_continuous, previous, reg_logits, reg_z)");
  EXPECT_EQ(error_of(with("start", {{"seed", 1}, {"count", 1}, {"z", {{1}}}})),
            file + "start: give exactly one of seed, z, z_file, images");
  EXPECT_EQ(error_of(with("start", {{"seed", 1}})), file + "start: with seed, give either count (and optionally first_index) or indices");
  EXPECT_EQ(error_of(with("start", {{"seed", -1}, {"count", 1}})), file + "start.seed: must be a whole number >= 0, got -1");
  EXPECT_EQ(error_of(with("start", {{"seed", 1}, {"count", 0}})), file + "start.count: must be at least 1");
  EXPECT_EQ(error_of(with("start", {{"seed", 1}, {"indices", {1, -2}}})),
            file + "start.indices[1]: must be a whole number >= 0, got -2");
  EXPECT_EQ(error_of(with("start", {{"z", {{1, 2}, {3}}}})), file + "start.z[1]: has 1 values, the first z has 2");
  EXPECT_EQ(error_of(with("start", {{"z", {{1, "a"}}}})), file + "start.z[0][1]: must be a finite number, got \"a\"");
  EXPECT_EQ(error_of(with("start", {{"images", {"a.png", 2}}})), file + "start.images[1]: must be a string, got number");
  EXPECT_EQ(error_of(with("start", {{"z_file", "missing.json"}})),
            file + "start.z_file: cannot read '" + (dir_ / "missing.json").string() + "'");
}

TEST_F(EditSequenceTest, FileErrors) {
  try {
    lace::jobs::read_edit_sequence(dir_ / "nope.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (dir_ / "nope.json").string() + ": no such file");
  }
  try {
    lace::jobs::read_edit_sequence(write("bad.json", "{\"start\": {\"seed\": 1,}"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json' is not valid JSON: parse error at line 1"), std::string::npos) << e.what();
  }
}

}  // namespace
