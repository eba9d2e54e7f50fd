#pragma once
// The one exception the output module throws for file-system trouble. Its message is a single
// line a user can act on: what failed, on which path, and the system's reason (strerror text).

#include <stdexcept>

namespace lace::io {

class OutputError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The file to be written is already there. Its own type so that a caller can take the next
// free run (OutputNamer::bump) on this error alone, without parsing messages.
class OutputExists : public OutputError {
  using OutputError::OutputError;
};

}  // namespace lace::io
