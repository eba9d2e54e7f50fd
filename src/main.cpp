#include "cli/app.hpp"

int main(int argc, char** argv) { return lace::cli::main(argc, argv); }
