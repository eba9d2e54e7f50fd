#pragma once

namespace lace::cli {

// Parses the command line, runs the subcommand, and turns every failure into one line on stderr
// and an exit code from exit_codes.hpp.
int main(int argc, char** argv);

}  // namespace lace::cli
