// The `clip` program. The tool itself is cli::run (app.cpp), which `python -m clip_cpp`
// runs too.
#include "commands.h"

int main(int argc, char** argv) { return cli::run(argc, argv); }
