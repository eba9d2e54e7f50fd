// OutputNamer: next free run, unrelated files ignored, name formats, bump().

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "lace/io/naming.hpp"

using namespace lace::io;
namespace fs = std::filesystem;

namespace {

class Naming : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("lace-io-naming-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  void touch(const std::string& name) { std::ofstream(dir / name) << "x"; }
  fs::path dir;
};

}  // namespace

TEST_F(Naming, EmptyOrMissingFolderStartsAtOne) {
  EXPECT_EQ(OutputNamer(dir).run(), 1);
  EXPECT_EQ(OutputNamer(dir / "not-yet").run(), 1);
}

TEST_F(Naming, TakesLargestRunPlusOneAndIgnoresOtherFiles) {
  for (const char* name : {"00003-0000.png", "00007-grid.png", "00002-0001.json", "notes.txt",
                           "1234-0000.png", "00009.png", "00011x-0000.png", ".00050-0000.png.tmp-1-0",
                           "abcde-0000.png", "0000000000099-0000.png"}) {
    touch(name);
  }
  fs::create_directory(dir / "00005-old");  // a folder of ours counts too
  OutputNamer namer(dir);
  EXPECT_EQ(namer.run(), 8);
  EXPECT_EQ(namer.dir(), dir);
  EXPECT_EQ(namer.image(3), dir / "00008-0003.png");
  EXPECT_EQ(namer.record(3), dir / "00008-0003.json");
  EXPECT_EQ(namer.grid(), dir / "00008-grid.png");
  EXPECT_EQ(namer.image(12345), dir / "00008-12345.png");  // widens, never truncates
  EXPECT_THROW(namer.image(-1), std::invalid_argument);
}

TEST_F(Naming, RunsPastFiveDigits) {
  touch("123456-0000.png");
  OutputNamer namer(dir);
  EXPECT_EQ(namer.run(), 123457);
  EXPECT_EQ(namer.image(0), dir / "123457-0000.png");
}

TEST_F(Naming, BumpSkipsRunsTakenMeanwhile) {
  touch("00001-0000.png");
  OutputNamer namer(dir);
  EXPECT_EQ(namer.run(), 2);
  namer.bump();  // nothing new: just the next number
  EXPECT_EQ(namer.run(), 3);
  touch("00009-0000.png");  // another process got ahead
  namer.bump();
  EXPECT_EQ(namer.run(), 10);
  EXPECT_EQ(namer.grid(), dir / "00010-grid.png");
}
