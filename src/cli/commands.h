// commands.h — the subcommands of the `confide` command line; main.cc
// registers them all on one CLI::App.
//
// A command's callback prints its result on stdout. On any error it prints one
// line on stderr and ends with CLI::RuntimeError(exit code) (see cli_util.h),
// which main() turns into the process exit status; no other exception leaves a
// callback.
//
// Thread-safety: main thread only.
#pragma once

#include <CLI/CLI.hpp>

namespace confide::cli {

// confide keygen --out KEY.pem [--force]
void RegisterKeygenCommand(CLI::App& app);
// confide image {measure, sign, verify, inspect}
void RegisterImageCommands(CLI::App& app);
// confide demo
void RegisterDemoCommand(CLI::App& app);
// confide bench reproduce
void RegisterBenchCommands(CLI::App& app);
// confide run --function f.lua --input FILE|- [--policy P] [--stats]
void RegisterRunCommand(CLI::App& app);
// confide chain f1.lua f2.lua ... --mode insitu|transfer --input FILE|- [--stats]
void RegisterChainCommand(CLI::App& app);
// The real half of `confide demo` (cmd_demo_real.cc): Lua functions on KVM,
// pie-cold vs sgx1-cold and a chain in both modes. Skips loudly without KVM.
void RunRealDemo();

// Parts of RegisterImageCommands: add `verify` and `inspect` to the `image`
// subcommand.
void RegisterImageVerifyCommand(CLI::App& image);
void RegisterImageInspectCommand(CLI::App& image);

}  // namespace confide::cli
