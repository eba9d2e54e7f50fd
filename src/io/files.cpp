#include "lace/io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "lace/io/error.hpp"

namespace lace::io {
namespace fs = std::filesystem;
namespace {

// Temp names unique across threads and processes: pid plus a per-process counter.
std::string unique_suffix() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

// Writes all bytes, retrying short writes and interrupted calls. Returns false with errno set.
bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

// Links `from` to `to` without ever replacing `to`. Hard links are the portable way; file
// systems without them (FAT, some network mounts) get the same guarantee from renameat2.
// Returns false with errno set.
bool publish_no_replace(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return true;
  if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS) return false;
  return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0;
}

// Makes a new directory entry durable; best effort, as some file systems refuse fsync on
// folders and the file's own data is already on disk.
void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void ensure_writable_dir(const fs::path& dir) {
  auto fail = [&](int err) {
    throw OutputError("cannot write to output folder " + quoted(dir) + ": " + std::strerror(err));
  };
  std::error_code ec;
  fs::create_directories(dir, ec);  // no error when it already exists as a folder
  if (ec) fail(ec.value());
  if (!fs::is_directory(dir, ec)) fail(ENOTDIR);  // create_directories accepts some non-folders

  // Permission bits lie (root, ACLs, read-only mounts): only a real file proves writability.
  const fs::path probe = dir / (".lace-probe-" + unique_suffix());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) fail(errno);
  ::close(fd);
  if (::unlink(probe.c_str()) != 0) fail(errno);
}

void write_file_atomic(const fs::path& path, const std::vector<uint8_t>& bytes) {
  const fs::path dir = path.parent_path();
  const fs::path temp = dir / ("." + path.filename().string() + ".tmp-" + unique_suffix());
  auto throw_for = [&](int err) {
    if (err == EEXIST) throw OutputExists("cannot write " + quoted(path) + ": it already exists");
    throw OutputError("cannot write " + quoted(path) + ": " + std::strerror(err));
  };
  auto fail = [&](int err) {  // once the temp file exists
    ::unlink(temp.c_str());
    throw_for(err);
  };

  // Refuse early when the name is taken (even by a dangling symlink), so no work is done for
  // nothing; link() below is the real guard against a file that appears in the meantime.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) throw_for(EEXIST);

  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw_for(errno);
  if (!write_all(fd, bytes.data(), bytes.size()) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(err);
  }
  if (::close(fd) != 0) fail(errno);
  if (!publish_no_replace(temp, path)) fail(errno);
  ::unlink(temp.c_str());  // after link() the data lives on under `path`
  sync_dir(dir);
}

}  // namespace lace::io
