// reproduce.h — `confide bench reproduce`: runs the selected experiments
// with a progress display on stderr and writes, into one directory,
//
//   <figure>.csv   ours beside the paper's, one row per point
//   <figure>.gp    the gnuplot script of the figure (data inline)
//   <figure>.png   the figure, if gnuplot is installed
//   <table>.csv    the runs behind the figures
//   REPORT.md      every figure beside the paper's, the headline ratios, and
//                  the modeling assumption behind every cell >25% off
//
// Every file is written atomically (temp + rename), so a reader never sees
// half a file; an output directory that cannot be written is refused before
// anything runs.
//
// Usage:
//
//   ReproduceOptions o;
//   o.out_dir = "results";
//   o.only = {"fig9a", "fig9c"};
//   CONFIDE_ASSIGN_OR_RETURN(ReproduceSummary s, Reproduce(o));
//
// Thread-safety: Reproduce may be called from any thread; it runs the
// experiments' jobs on `threads` threads of its own and blocks until done.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace confide::experiments {

struct ReproduceOptions {
  std::string out_dir = "results";
  bool quick = false;             // scaled-down runs for tests (< 20 s)
  bool require_plots = false;     // fail if the PNGs cannot be drawn
  std::vector<std::string> only;  // experiment names; empty: all
  std::string profile;            // cost profile for every experiment; empty: the papers'
  uint32_t threads = 0;           // job threads; 0: the host's cores
  std::string command = "confide bench reproduce";  // recorded in REPORT.md
  std::ostream* log = nullptr;                      // progress; nullptr: std::cerr
  int tty = -1;  // in-place progress bar: 1 yes, 0 no, -1 if log is a TTY
};

struct ReproduceSummary {
  std::vector<std::string> files;  // written, relative to out_dir
  bool plots = false;              // PNGs were drawn
  std::string plots_message;       // why not, if not
  size_t failed_cells = 0;         // points that could not be measured
  double seconds = 0;
};

// InvalidArgumentError naming the unknown name and listing the valid ones.
Status ValidateOnly(const std::vector<std::string>& only);

// Runs and writes everything. Errors: InvalidArgumentError for bad options
// (before anything runs); UnavailableError if out_dir cannot be created or
// written (nothing is written then); FailedPreconditionError if
// require_plots and the plots could not be drawn (CSVs and the report are
// written first). Failing policies are not errors: they are reported in the
// CSVs and REPORT.md and counted in failed_cells.
StatusOr<ReproduceSummary> Reproduce(const ReproduceOptions& options);

}  // namespace confide::experiments
