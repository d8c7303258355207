// cmd_run.cc — `confide run`: one confidential function, run for real.
//
//   confide run --function f.lua [--runtime lua] --input FILE|- [--policy pie-cold|sgx1-cold]
//               [--stats] [--heap BYTES] [--timeout MS]
//
// The function's output goes to stdout, byte for byte. A Lua error, a crash
// or a timeout ends the command with exit status 1 and one line on stderr
// naming what happened (the Lua message for a Lua error). What the function
// prints (print, io is not available) goes to stderr, so stdout stays the
// output. --stats adds, on stderr, the real time of each phase and the
// machine model's virtual time by instruction.
#include <unistd.h>

#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "platform/function_worker.h"
#include "runtime/embedded.h"

namespace confide::cli {
namespace {

constexpr std::string_view kCmd = "run";

struct RunCommandOptions {
  std::string function;
  std::string runtime = "lua";
  std::string input;
  std::string policy = "pie-cold";
  bool stats = false;
  uint64_t heap = uint64_t{8} << 20;
  uint64_t timeout_ms = 10000;
};

Bytes ReadInput(const std::string& path) {
  if (path != "-") return ReadFileOrFail(kCmd, path);
  std::string all{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return Bytes(all.begin(), all.end());
}

void PrintStats(const platform::Invocation& inv, platform::FunctionWorker& worker) {
  auto ms = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; };
  const auto& profile = worker.machine().profile();
  std::cerr << fmt::format(
      "real time: create {:.3f} ms, run {:.3f} ms, teardown {:.3f} ms, total {:.3f} ms\n",
      ms(inv.times.create), ms(inv.times.run), ms(inv.times.teardown), ms(inv.times.total()));
  std::cerr << fmt::format(
      "monitor: {} VM exits, {} syscalls into the library OS, {} ocalls, {} copy-on-write pages\n",
      inv.monitor.vm_exits, inv.monitor.syscalls_reflected, inv.monitor.ocalls,
      inv.monitor.cow_pages);
  std::cerr << fmt::format("virtual time ({} at {:.1f} GHz): {:.3f} ms\n", profile.name,
                           static_cast<double>(profile.frequency_hz) / 1e9,
                           profile.Seconds(inv.counters.total_cycles()) * 1e3)
            << inv.counters.Breakdown(static_cast<double>(profile.frequency_hz));
}

void Run(const RunCommandOptions& o) {
  if (o.runtime != "lua") {
    Fail(kCmd, fmt::format("unknown runtime \"{}\" (this version has: lua)", o.runtime), 2);
  }
  if (!o.function.ends_with(".lua")) {
    Fail(kCmd,
         fmt::format("{}: a function is a .lua file (Lua source returning a function)", o.function),
         2);
  }
  const platform::RealStart start =
      ValueOrFail(kCmd, "--policy", platform::ParseRealStart(o.policy));
  const Bytes source = ReadFileOrFail(kCmd, o.function);
  const Bytes input = ReadInput(o.input);

  platform::FunctionWorkerConfig config;
  config.heap_bytes = o.heap;
  config.time_limit = std::chrono::milliseconds(o.timeout_ms);
  auto worker = ValueOrFail(kCmd, "starting the worker",
                            platform::FunctionWorker::Create(runtime::lua_runtime_elf(), config));
  const std::string name = o.function.substr(o.function.find_last_of('/') + 1);
  const platform::FunctionId id = ValueOrFail(
      kCmd, o.function,
      worker->AddLuaFunction(
          name, std::string_view(reinterpret_cast<const char*>(source.data()), source.size())));
  const platform::Invocation inv =
      ValueOrFail(kCmd, "invoking the function", worker->Invoke(id, start, input));
  std::cerr << inv.log;
  if (o.stats) PrintStats(inv, *worker);
  if (!inv.ok()) Fail(kCmd, fmt::format("{}: {}", name, inv.Failure()), 1);
  std::cout.write(reinterpret_cast<const char*>(inv.output.data()),
                  static_cast<std::streamsize>(inv.output.size()));
  std::cout.flush();
}

}  // namespace

void RegisterRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a function in an enclave, for real (KVM)");
  cmd->add_option("--function", o->function, "The function: a .lua file")->required();
  cmd->add_option("--runtime", o->runtime, "The language runtime plugin")->default_str("lua");
  cmd->add_option("--input", o->input, "Input file, or - for stdin")->required();
  cmd->add_option("--policy", o->policy, "Start policy: pie-cold or sgx1-cold")
      ->default_str("pie-cold");
  cmd->add_flag("--stats", o->stats, "Print real and virtual time on stderr");
  cmd->add_option("--heap", o->heap, "Enclave heap in bytes (page multiple)")
      ->default_str("8388608");
  cmd->add_option("--timeout", o->timeout_ms, "Time limit in milliseconds")->default_str("10000");
  cmd->callback([o] { Run(*o); });
}

}  // namespace confide::cli
