// run_sample as a library call: outputs, progress events, failure order and leftovers.
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "lace/energy/errors.hpp"
#include "lace/io/error.hpp"
#include "lace/jobs/record.hpp"
#include "lace/jobs/sample_job.hpp"

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
}

TEST(Record, FloatVectorsRoundTripExactly) {
  const auto v = torch::randn({512});
  EXPECT_TRUE(torch::equal(jobs::tensor_from_json(nlohmann::json::parse(jobs::tensor_to_json(v).dump())), v));
}

}  // namespace
