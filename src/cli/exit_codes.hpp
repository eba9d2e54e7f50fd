#pragma once
// lace's exit codes (documented in docs/cli.md): scripts can tell a typo from a broken model.

namespace lace::cli {

enum ExitCode : int {
  kOk = 0,
  kInternalError = 1,   // a bug: please report it
  kUsageError = 2,      // a bad flag or flag value
  kExpressionError = 3, // --attrs does not parse or names an unknown attribute/class
  kModelError = 4,      // the model bundle is missing, malformed or inconsistent
  kOutputError = 5,     // the output folder or a file in it cannot be written
  kSamplingError = 6,   // the solver failed (step underflow, non-finite state, step cap)
  kDeviceError = 7,     // the requested device is not available
  kInputError = 8,      // an input file (edit sequence, latents) is missing or invalid
  kInterrupted = 130,   // stopped by Ctrl-C; images already written are complete
};

}  // namespace lace::cli
