// cmd_bench.cc — `confide bench reproduce`: runs the experiments that
// reproduce the PIE and EnTurbo papers' figures on the machine model and
// writes CSVs, plots and REPORT.md (experiments/reproduce.h), with a
// progress display on stderr.
//
//   confide bench reproduce [--out DIR] [--quick] [--only fig3a,fig9a,...]
//                           [--profile NAME] [--require-plots] [--threads N]
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "experiments/experiment.h"
#include "experiments/reproduce.h"

namespace confide::cli {
namespace {

constexpr std::string_view kCmd = "bench reproduce";

void RunReproduce(const experiments::ReproduceOptions& options) {
  StatusOr<experiments::ReproduceSummary> s = experiments::Reproduce(options);
  if (!s.ok()) Fail(kCmd, Describe(s.error()));
  std::cout << fmt::format("{}/REPORT.md\n", options.out_dir);
}

}  // namespace

void RegisterBenchCommands(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Experiments on the machine model");
  bench->require_subcommand(1);
  CLI::App* cmd = bench->add_subcommand(
      "reproduce",
      "Reproduce the PIE (ISCA'21) and EnTurbo (DAC'24) figures: CSV, PNG and REPORT.md");
  auto o = std::make_shared<experiments::ReproduceOptions>();
  cmd->add_option("--out", o->out_dir, "Output directory (created if missing)")
      ->capture_default_str();
  cmd->add_flag("--quick", o->quick, "Scaled-down runs that check the pipeline in seconds");
  cmd->add_option("--only", o->only,
                  fmt::format("Comma-separated experiments to run (default: all): {}",
                              fmt::join(experiments::ExperimentNames(), ", ")))
      ->delimiter(',');
  cmd->add_option("--profile", o->profile,
                  "Cost profile for every experiment (default: each figure's paper testbed)");
  cmd->add_flag("--require-plots", o->require_plots,
                "Exit non-zero if the PNG plots cannot be drawn (gnuplot missing)");
  cmd->add_option("--threads", o->threads, "Job threads (default: the host's cores)");
  cmd->callback([o] {
    // The report records the command that produced it, defaults spelled out.
    std::string command = fmt::format("confide bench reproduce --out {}", o->out_dir);
    if (o->quick) command += " --quick";
    if (!o->only.empty()) command += fmt::format(" --only {}", fmt::join(o->only, ","));
    if (!o->profile.empty()) command += " --profile " + o->profile;
    if (o->require_plots) command += " --require-plots";
    o->command = command;
    RunReproduce(*o);
  });
}

}  // namespace confide::cli
