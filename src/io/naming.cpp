#include "lace/io/naming.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include "lace/io/error.hpp"

namespace lace::io {
namespace fs = std::filesystem;
namespace {

// The run number of a name like "00012-0003.png", or -1 if the name is not ours: five or
// more digits, then '-'. Hidden temp files (".00012-...") do not count, nor do absurdly long
// numbers that could not come from us.
long run_of(const std::string& name) {
  size_t digits = 0;
  while (digits < name.size() && std::isdigit(static_cast<unsigned char>(name[digits]))) ++digits;
  if (digits < 5 || digits > 9 || digits >= name.size() || name[digits] != '-') return -1;
  return std::stol(name.substr(0, digits));
}

// "<run:05d>-<index:04d>[-tag]<extension>", e.g. "00012-0003.png", "00012-0003-step2.png".
std::string numbered(int run, int64_t index, const std::string& tag, const char* extension) {
  if (index < 0) throw std::invalid_argument("negative image index");
  char name[64];
  std::snprintf(name, sizeof name, "%05d-%04lld", run, static_cast<long long>(index));
  return name + (tag.empty() ? "" : "-" + tag) + extension;
}

}  // namespace

int largest_run(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  long largest = 0;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    largest = std::max(largest, run_of(it->path().filename().string()));
  }
  if (ec) throw OutputError("cannot list output folder '" + dir.string() + "': " + ec.message());
  return int(largest);
}

OutputNamer::OutputNamer(fs::path dir) : dir_(std::move(dir)), run_(largest_run(dir_) + 1) {}

int OutputNamer::run() const { return run_; }

const fs::path& OutputNamer::dir() const { return dir_; }

fs::path OutputNamer::image(int64_t index, const std::string& tag) const {
  return dir_ / numbered(run_, index, tag, ".png");
}

fs::path OutputNamer::record(int64_t index, const std::string& tag) const {
  return dir_ / numbered(run_, index, tag, ".json");
}

fs::path OutputNamer::grid() const {
  char name[32];
  std::snprintf(name, sizeof name, "%05d-grid.png", run_);
  return dir_ / name;
}

fs::path OutputNamer::run_file(const std::string& name) const {
  char run[32];
  std::snprintf(run, sizeof run, "%05d-", run_);
  return dir_ / (run + name);
}

void OutputNamer::bump() { run_ = std::max(run_ + 1, largest_run(dir_) + 1); }

}  // namespace lace::io
