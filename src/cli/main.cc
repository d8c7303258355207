// main.cc — the `confide` command: one CLI11 app, one subcommand per task
// (commands.h). Exit status 0 on success; a failing command prints one line on
// stderr and exits non-zero; no exception escapes.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"confide: confidential serverless functions on an SGX + PIE enclave model"};
  app.name("confide");
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("confide: ") + e.what() + " (run with --help for usage)\n";
  });
  try {
    confide::cli::RegisterKeygenCommand(app);
    confide::cli::RegisterImageCommands(app);
    confide::cli::RegisterDemoCommand(app);
    confide::cli::RegisterBenchCommands(app);
    confide::cli::RegisterRunCommand(app);
    confide::cli::RegisterChainCommand(app);
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "confide: internal error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
