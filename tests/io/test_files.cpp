// ensure_writable_dir and write_file_atomic: errors a user can read, never an overwrite,
// never a partial or temp file left behind.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lace/io/error.hpp"
#include "lace/io/files.hpp"

using namespace lace::io;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards (write bits restored first).
class Scratch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("lace-io-files-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    std::error_code ec;
    for (auto& entry : fs::recursive_directory_iterator(dir, ec)) {
      fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir, ec);
  }
  std::vector<std::string> names() const {  // every entry, hidden ones included
    std::vector<std::string> out;
    for (auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const OutputError& e) {
    return e.what();
  }
  return "";
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

using EnsureWritableDir = Scratch;
using WriteFileAtomic = Scratch;

TEST_F(EnsureWritableDir, CreatesMissingParentsAndLeavesNoProbe) {
  const fs::path out = dir / "a" / "b" / "c";
  ensure_writable_dir(out);
  EXPECT_TRUE(fs::is_directory(out));
  EXPECT_TRUE(fs::is_empty(out));
  ensure_writable_dir(out);  // existing folder is fine
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(EnsureWritableDir, PathThatIsAFile) {
  const fs::path file = dir / "somefile";
  std::ofstream(file) << "x";
  EXPECT_EQ(error_of([&] { ensure_writable_dir(file); }),
            "cannot write to output folder '" + file.string() + "': Not a directory");
  EXPECT_EQ(error_of([&] { ensure_writable_dir(file / "sub"); }),
            "cannot write to output folder '" + (file / "sub").string() + "': Not a directory");
  EXPECT_EQ(contents(file), "x");
}

TEST_F(EnsureWritableDir, ReadOnlyFolder) {
  const fs::path locked = dir / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms(0555), fs::perm_options::replace);
  if (::geteuid() == 0) {
    // Root writes through permission bits; a folder that cannot exist must fail instead.
    const fs::path file = dir / "somefile";
    std::ofstream(file) << "x";
    EXPECT_NE(error_of([&] { ensure_writable_dir(file / "sub"); }).find("Not a directory"), std::string::npos);
    ensure_writable_dir(locked);  // and the probe must leave nothing behind
    EXPECT_TRUE(fs::is_empty(locked));
  } else {
    EXPECT_EQ(error_of([&] { ensure_writable_dir(locked); }),
              "cannot write to output folder '" + locked.string() + "': Permission denied");
    EXPECT_NE(error_of([&] { ensure_writable_dir(locked / "sub"); }).find("Permission denied"), std::string::npos);
  }
}

TEST_F(WriteFileAtomic, WritesExactBytesAndNothingElse) {
  const fs::path path = dir / "00001-0000.png";
  const std::vector<uint8_t> data = {0, 1, 2, 255, '\n', 0};
  write_file_atomic(path, data);
  EXPECT_EQ(bytes(contents(path)), data);
  write_file_atomic(dir / "empty", {});
  EXPECT_EQ(fs::file_size(dir / "empty"), 0u);
  EXPECT_EQ(names(), (std::vector<std::string>{"00001-0000.png", "empty"}));
}

TEST_F(WriteFileAtomic, NeverReplacesAnExistingFile) {
  const fs::path path = dir / "keep.png";
  write_file_atomic(path, bytes("first"));
  EXPECT_EQ(error_of([&] { write_file_atomic(path, bytes("second")); }),
            "cannot write '" + path.string() + "': it already exists");
  EXPECT_EQ(contents(path), "first");
  EXPECT_THROW(write_file_atomic(path, bytes("third")), OutputExists);

  // Nor a dangling symlink (writing through it would create a file elsewhere).
  fs::create_symlink(dir / "nowhere", dir / "link");
  EXPECT_NE(error_of([&] { write_file_atomic(dir / "link", bytes("x")); }).find("already exists"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "nowhere"));
  EXPECT_EQ(names(), (std::vector<std::string>{"keep.png", "link"}));
}

TEST_F(WriteFileAtomic, ExactlyOneOfManyConcurrentWritersWins) {
  const fs::path path = dir / "race.png";
  std::atomic<int> wins{0}, exists{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      try {
        write_file_atomic(path, std::vector<uint8_t>(1000, uint8_t('a' + t)));
        ++wins;
      } catch (const OutputExists&) {
        ++exists;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins, 1);
  EXPECT_EQ(exists, 7);
  const std::string text = contents(path);
  EXPECT_EQ(text, std::string(1000, text[0]));  // one writer's bytes, whole
  EXPECT_EQ(names(), std::vector<std::string>{"race.png"});
}

TEST_F(WriteFileAtomic, FailureMidWriteLeavesNothing) {
  // Cap this process's file size so that write() fails with EFBIG halfway through.
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error = error_of([&] { write_file_atomic(dir / "big.png", std::vector<uint8_t>(100000, 7)); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(error, "cannot write '" + (dir / "big.png").string() + "': File too large");
  EXPECT_TRUE(names().empty());
}

TEST_F(WriteFileAtomic, MissingFolderFailsCleanly) {
  const fs::path path = dir / "gone" / "x.png";
  EXPECT_EQ(error_of([&] { write_file_atomic(path, bytes("x")); }),
            "cannot write '" + path.string() + "': No such file or directory");
  EXPECT_TRUE(names().empty());
}
