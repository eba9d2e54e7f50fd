#pragma once
// Output names: each run of lace gets its own run number in the output folder, so runs never
// overwrite each other. Names are
//   <run:05d>-<index:04d>.png   one image        00012-0003.png
//   <run:05d>-<index:04d>.json  its sidecar      00012-0003.json
//   <run:05d>-grid.png          the contact sheet 00012-grid.png
// and, for lace edit, a tag after the index and run-wide files:
//   00012-0003-step2.png, 00012-0003-step2.json, 00012-0003-strip.png, 00012-sheet.png
// (numbers grow past 5 / 4 digits if they must; they are never cut).
//
// Two processes may pick the same run at the same moment. write_file_atomic never replaces a
// file, so write index 0 first: whoever creates it owns the run; the other one gets
// OutputExists, calls bump() and tries again with the next free run. An OutputExists for a
// later index means someone is writing into this run by hand: an error, not a reason to bump.

#include <cstdint>
#include <filesystem>
#include <string>

namespace lace::io {

class OutputNamer {
 public:
  // Scans dir for entries named NNNNN-* (5 to 9 digits, then '-'); run = max + 1, or 1
  // when there are none or dir does not exist yet. Throws OutputError if dir cannot be listed.
  explicit OutputNamer(std::filesystem::path dir);

  int run() const;
  const std::filesystem::path& dir() const;
  std::filesystem::path image(int64_t index, const std::string& tag = "") const;   // dir/00012-0003[-tag].png
  std::filesystem::path record(int64_t index, const std::string& tag = "") const;  // dir/00012-0003[-tag].json
  std::filesystem::path grid() const;                                              // dir/00012-grid.png
  std::filesystem::path run_file(const std::string& name) const;                   // dir/00012-<name>
  // Moves to the next free run: max(run + 1, largest run now in the folder + 1).
  void bump();

 private:
  std::filesystem::path dir_;
  int run_ = 1;
};

// The largest run number among dir's entries, 0 if none (or if dir does not exist).
int largest_run(const std::filesystem::path& dir);

}  // namespace lace::io
