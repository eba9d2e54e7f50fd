#pragma once
// File-system primitives that never lose or half-write a user's output.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace lace::io {

// Creates `dir` (with parents) if missing, then proves it is writable by creating and removing
// a probe file. Throws OutputError("cannot write to output folder 'dir': <reason>"), e.g.
// "Permission denied", "Not a directory" (also when `dir` itself is a file).
void ensure_writable_dir(const std::filesystem::path& dir);

// Writes `bytes` to a hidden temp file in the same folder, fsyncs it, then hard-links it to
// `path`, so `path` appears complete or not at all and an existing file is never replaced.
// (Where the file system has no hard links, renameat2(RENAME_NOREPLACE) does the same job.)
// Throws OutputExists("cannot write 'path': it already exists") if `path` exists, or
// OutputError("cannot write 'path': <reason>") on any other failure; the temp file is always
// removed, so nothing partial is left behind.
void write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);

}  // namespace lace::io
