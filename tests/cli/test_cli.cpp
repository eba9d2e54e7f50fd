// The `lace` binary end to end on the tiny bundle: files, determinism, control, and the error contract
// (one line, a documented exit code, nothing half-written).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lace/model/bundle.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
  int code;
  std::string err;  // stderr
  std::string out;  // stdout
};

std::string slurp_and_remove(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(p);
  return ss.str();
}

// Runs the lace binary with the given arguments (a shell fragment).
Run lace(const std::string& args) {
  const auto tag = std::to_string(std::random_device{}());
  const fs::path out_file = fs::temp_directory_path() / ("lace_cli_out_" + tag);
  const fs::path err_file = fs::temp_directory_path() / ("lace_cli_err_" + tag);
  const std::string cmd = std::string("'") + LACE_BINARY + "' " + args + " >'" + out_file.string() + "' 2>'" +
                          err_file.string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp_and_remove(err_file), slurp_and_remove(out_file)};
}

std::vector<fs::path> files_with_extension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Width and height from the PNG's IHDR chunk (bytes 16..23, big-endian).
std::pair<uint32_t, uint32_t> png_size(const fs::path& p) {
  const std::string b = read_bytes(p);
  EXPECT_GE(b.size(), 24u);
  EXPECT_EQ(b.substr(1, 3), "PNG");
  auto be32 = [&](size_t o) {
    return (uint32_t(uint8_t(b[o])) << 24) | (uint32_t(uint8_t(b[o + 1])) << 16) | (uint32_t(uint8_t(b[o + 2])) << 8) |
           uint32_t(uint8_t(b[o + 3]));
  };
  return {be32(16), be32(20)};
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lace_cli_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string model() const { return std::string("--model '") + LACE_TINY_BUNDLE + "'"; }
  fs::path dir_;
};

// Independent check of what the sampler claims: p(attribute) from the bundle's classifier on the z
// stored in each record.
torch::Tensor classifier_probability(const std::vector<fs::path>& records, int64_t column) {
  auto bundle = lace::model::Bundle::load(LACE_TINY_BUNDLE, torch::kCPU);
  std::vector<torch::Tensor> zs;
  for (const auto& r : records) {
    const json record = read_json(r);
    std::vector<float> z;
    for (const auto& x : record["z"]) z.push_back(x.get<float>());
    zs.push_back(torch::tensor(z));
  }
  torch::NoGradGuard no_grad;
  const auto z = torch::stack(zs);
  const auto w = bundle.truncate(bundle.mapping(z), bundle.manifest().default_truncation);
  return torch::sigmoid(bundle.classify(w).select(1, column));
}

TEST_F(CliTest, SampleWritesPngsWithRecords) {
  const auto r = lace("sample " + model() + " --attrs 'smile AND glasses' -n 6 -b 4 --seed 7 --grid --out '" +
                      dir_.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto pngs = files_with_extension(dir_, ".png");
  ASSERT_EQ(pngs.size(), 7u);  // 6 images and the grid
  EXPECT_EQ(pngs[0].filename(), "00001-0000.png");
  EXPECT_EQ(pngs.back().filename(), "00001-grid.png");
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(png_size(pngs[i]), (std::pair<uint32_t, uint32_t>{16, 16}));
  const auto records = files_with_extension(dir_, ".json");
  ASSERT_EQ(records.size(), 6u);
  const json rec = read_json(records[3]);
  EXPECT_EQ(rec["condition"]["expression"], "smile AND glasses");
  EXPECT_EQ(rec["seed"], 7);
  EXPECT_EQ(rec["index"], 3);
  EXPECT_EQ(rec["sampler"]["method"], "dopri5");
  EXPECT_EQ(rec["sampler"]["atol"], 1e-3);
  EXPECT_GT(rec["stats"]["nfe"].get<int>(), 0);
  EXPECT_LE(rec["log_p"].get<double>(), 0.0);
  EXPECT_EQ(rec["model"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rec["z"].size(), 8u);
  EXPECT_EQ(rec["z0"].size(), 8u);
  // The PNG carries the same record (iTXt chunk "lace").
  const std::string png = read_bytes(pngs[3]);
  EXPECT_NE(png.find("iTXt"), std::string::npos);
  EXPECT_NE(png.find("\"reproduce\""), std::string::npos);
}

TEST_F(CliTest, SameCommandTwiceGivesIdenticalBytesUnderNewNames) {
  const std::string args = "sample " + model() + " --attrs 'hair=red OR age=0.9' -n 3 --seed 11 --out '" + dir_.string() + "'";
  ASSERT_EQ(lace(args).code, 0);
  ASSERT_EQ(lace(args).code, 0);
  const auto pngs = files_with_extension(dir_, ".png");
  ASSERT_EQ(pngs.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pngs[i].filename().string().substr(0, 6), "00001-");
    EXPECT_EQ(pngs[i + 3].filename().string().substr(0, 6), "00002-");  // the second run never overwrites
    EXPECT_EQ(read_bytes(pngs[i]), read_bytes(pngs[i + 3])) << pngs[i];
  }
}

TEST_F(CliTest, StartIndexRedoesOneImageOfARun) {
  ASSERT_EQ(lace("sample " + model() + " --attrs smile -n 4 --seed 5 --out '" + dir_.string() + "/all'").code, 0);
  ASSERT_EQ(lace("sample " + model() + " --attrs smile -n 1 --seed 5 --start-index 2 --out '" + dir_.string() + "/one'").code, 0);
  const json all = read_json(dir_ / "all" / "00001-0002.json");
  const json one = read_json(dir_ / "one" / "00001-0002.json");
  EXPECT_EQ(all["z0"], one["z0"]);
  // Per-sample step control: the trajectory does not depend on the batch (up to BLAS rounding).
  for (size_t k = 0; k < all["z"].size(); ++k) EXPECT_NEAR(all["z"][k].get<double>(), one["z"][k].get<double>(), 1e-4);
  EXPECT_EQ(all["stats"]["nfe"], one["stats"]["nfe"]);
}

TEST_F(CliTest, ConditioningControlsTheClassifierAndUnconditionalStaysAtTheBaseRate) {
  ASSERT_EQ(lace("sample " + model() + " --attrs smile -n 64 -b 32 --seed 1 --out '" + dir_.string() + "/cond'").code, 0);
  const auto p = classifier_probability(files_with_extension(dir_ / "cond", ".json"), 0);
  EXPECT_GE((p > 0.5).to(torch::kFloat).mean().item<float>(), 0.95f);

  ASSERT_EQ(lace("sample " + model() + " -n 400 -b 200 --seed 2 --out '" + dir_.string() + "/free'").code, 0);
  const auto q = classifier_probability(files_with_extension(dir_ / "free", ".json"), 0);
  const double base = read_json(fs::path(LACE_TINY_BUNDLE) / "base_rates.json")["rates"]["smile"];
  // Binomial sd at n = 400 is about 0.023: allow 4 sd.
  EXPECT_NEAR((q > 0.5).to(torch::kFloat).mean().item<float>(), base, 0.09);
}

TEST_F(CliTest, EverySolverRuns) {
  for (const std::string solver : {"dopri5", "euler", "heun", "rk4", "ld"}) {
    const auto r = lace("sample " + model() + " --attrs glasses -n 2 --steps 20 --solver " + solver + " --out '" +
                        dir_.string() + "/" + solver + "'");
    EXPECT_EQ(r.code, 0) << solver << ": " << r.err;
    EXPECT_EQ(files_with_extension(dir_ / solver, ".png").size(), 2u) << solver;
  }
}

TEST_F(CliTest, InfoListsAttributes) {
  const auto r = lace("info " + model() + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json info = json::parse(r.out);
  EXPECT_EQ(info["generator"]["resolution"], 16);
  std::vector<std::string> names;
  for (const auto& a : info["attributes"]) names.push_back(a["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"smile", "glasses", "hair", "age"}));
  EXPECT_EQ(info["attributes"][2]["classes"], json({"black", "blonde", "red"}));
  EXPECT_EQ(info["guidance"], 1.0);  // the tiny bundle sets none
  EXPECT_EQ(info["min_p"], 0.0);
  EXPECT_EQ(info["tries"], 4);
  EXPECT_TRUE(info["verifier"].is_null());
  const auto text = lace("info " + model());
  EXPECT_NE(text.out.find("verifier    none\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("guidance    1 by default"), std::string::npos) << text.out;
  // No editing section: lace edit would run with the bundle's truncation and the authors' weights.
  EXPECT_NE(text.out.find("editing     truncation 1, previous 0.1, newest 1, newest_continuous 10, reg_z 0.04, "
                          "reg_logits 0.01, keep 0, keep_sigma 0, tolerance 0, min_p 0, tries 3, polish 0\n"), std::string::npos) << text.out;
  EXPECT_EQ(info["editing"]["tolerance"], 0.0);
  EXPECT_EQ(info["editing"]["polish"], 0.0);
  EXPECT_TRUE(info["edit_verifier"].is_null());  // none: lace edit reads with "verifier", here none either
  EXPECT_TRUE(info["verifier_judges"].is_null() && info["edit_verifier_judges"].is_null());
  EXPECT_EQ(info["editing"]["newest_continuous"], 10.0);
  EXPECT_NE(text.out.find("hair=black|blonde|red"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("age=<0..1>  sigma 0.1"), std::string::npos) << text.out;  // numbers as written
  EXPECT_EQ(text.out.find("met within"), std::string::npos) << text.out;  // no tolerance in the tiny bundle
  EXPECT_EQ(info["attributes"][3]["tolerance"], 0.0);
  EXPECT_TRUE(info["prior"].is_null());
  EXPECT_NE(text.out.find("prior       none\n"), std::string::npos) << text.out;
}

// --- the error contract ---------------------------------------------------------------------------

void expect_one_line_error(const Run& r, int code, const std::string& part) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find("lace: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Traceback"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadExpressionShowsTheColumn) {
  const auto r = lace("sample " + model() + " --attrs 'smile AND (glasses' --out '" + dir_.string() + "'");
  expect_one_line_error(r, 3, "column");
  EXPECT_TRUE(files_with_extension(dir_, ".png").empty());
}

TEST_F(CliTest, UnknownAttributeListsTheKnownOnes) {
  const auto r = lace("sample " + model() + " --attrs 'smile AND beard' --out '" + dir_.string() + "'");
  expect_one_line_error(r, 3, "smile, glasses, hair, age");
  const auto c = lace("sample " + model() + " --attrs 'hair=pink' --out '" + dir_.string() + "'");
  expect_one_line_error(c, 3, "black, blonde, red");
}

TEST_F(CliTest, MissingOrBrokenModel) {
  expect_one_line_error(lace("sample --model '" + (dir_ / "nowhere").string() + "' --out '" + dir_.string() + "'"), 4,
                        "nowhere");
  const fs::path broken = dir_ / "broken";
  fs::create_directories(broken);
  for (const auto& e : fs::directory_iterator(LACE_TINY_BUNDLE)) fs::copy(e.path(), broken / e.path().filename());
  std::ofstream(broken / "generator.pt") << "not a model";
  const auto r = lace("sample --model '" + broken.string() + "' --out '" + (dir_ / "o").string() + "'");
  expect_one_line_error(r, 4, "generator.pt");
  EXPECT_TRUE(files_with_extension(dir_ / "o", ".png").empty());
}

TEST_F(CliTest, UnwritableOutputFolder) {
  std::ofstream(dir_ / "a_file") << "x";
  const auto r = lace("sample " + model() + " --out '" + (dir_ / "a_file" / "sub").string() + "'");
  expect_one_line_error(r, 5, "a_file");
}

TEST_F(CliTest, BadFlagsAndDevices) {
  expect_one_line_error(lace("sample " + model() + " --solver rk45"), 2, "rk45");
  expect_one_line_error(lace("sample " + model() + " -n 0"), 2, "");
  expect_one_line_error(lace("sample " + model() + " --frobnicate"), 2, "frobnicate");
  expect_one_line_error(lace("sample " + model() + " --guidance 0"), 2, "guidance");
  expect_one_line_error(lace("sample " + model() + " --guidance nan"), 2, "finite");
  expect_one_line_error(lace("sample " + model() + " --min-p 1"), 2, "--min-p");
  expect_one_line_error(lace("sample " + model() + " --attrs smile --verify"), 2, "has no verifier");
  expect_one_line_error(lace("sample " + model() + " --verify --no-verify"), 2, "--verify excludes --no-verify");
  expect_one_line_error(lace("sample " + model() + " --tries 0"), 2, "--tries");
  expect_one_line_error(lace("sample " + model() + " --prior-weight 1 --out '" + (dir_ / "no-prior").string() + "'"), 2,
                        "has no prior");
  EXPECT_FALSE(fs::exists(dir_ / "no-prior"));  // refused before the output folder is made
  expect_one_line_error(lace("sample " + model() + " --prior-weight -1"), 2, "--prior-weight");
  expect_one_line_error(lace("sample " + model() + " --truncation inf"), 2, "finite");
  if (!torch::cuda::is_available())
    expect_one_line_error(lace("sample " + model() + " --device cuda --out '" + dir_.string() + "'"), 7, "CUDA");
}

}  // namespace

namespace {

TEST_F(CliTest, EditWritesEveryStepAndItsSheet) {
  std::ofstream(dir_ / "edits.json") << R"({"start": {"seed": 4, "count": 2}, "steps": ["glasses", "NOT smile"]})";
  const auto r = lace("edit " + model() + " --sequence '" + (dir_ / "edits.json").string() + "' --out '" +
                      (dir_ / "out").string() + "' --reg-z 0.1 --weight-keep 0.5 --keep-sigma 0.03");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto pngs = files_with_extension(dir_ / "out", ".png");
  ASSERT_EQ(pngs.size(), 2u * 3 + 2 + 1);  // steps 0-2 per start, a strip per start, the sheet
  EXPECT_EQ(png_size(dir_ / "out" / "00001-0001-strip.png"), (std::pair<uint32_t, uint32_t>{3 * 16 + 4 * 2, 16 + 2 * 2}));
  const json rec = read_json(dir_ / "out" / "00001-0001-step2.json");
  EXPECT_EQ(rec["weights"]["reg_z"], 0.1);  // the flag over the default
  EXPECT_EQ(rec["weights"]["reg_logits"], 0.01);
  EXPECT_EQ(rec["weights"]["keep"], 0.5);
  EXPECT_EQ(rec["weights"]["keep_sigma"], 0.03);
  const std::string reproduce = rec["reproduce"];
  EXPECT_NE(reproduce.find("lace edit --sequence"), std::string::npos);
  // Every weight is in the command, so the step can be rerun whatever the bundle's defaults become.
  for (const char* part : {" --weight-previous 0.1", " --weight-newest 1", " --weight-newest-continuous 10", " --reg-z 0.1",
                           " --reg-logits 0.01", " --weight-keep 0.5", " --keep-sigma 0.03"})
    EXPECT_NE(reproduce.find(part), std::string::npos) << part << " missing from " << reproduce;
}

TEST_F(CliTest, EditRejectsABadSequenceWithExitCode8AndOneLine) {
  std::ofstream(dir_ / "edits.json") << R"({"start": {"seed": 4, "count": 2}, "steps": ["glasses", "galsses"]})";
  const auto r = lace("edit " + model() + " --sequence '" + (dir_ / "edits.json").string() + "' --out '" +
                      (dir_ / "out").string() + "'");
  EXPECT_EQ(r.code, 8);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("edits.json: steps[1] 'galsses': unknown attribute 'galsses'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  const auto missing = lace("edit " + model() + " --out '" + (dir_ / "out").string() + "'");
  EXPECT_EQ(missing.code, 2) << missing.err;  // --sequence is required
}

}  // namespace
