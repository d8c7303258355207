// plot.h — the figures as PNGs, drawn by gnuplot from a script written
// beside each PNG (DIR/<id>.gp: self-contained, data inline, so
// `cd DIR && gnuplot <id>.gp` draws <id>.png again).
//
// gnuplot is an optional tool: without it (or without a PNG terminal) the
// run still writes its CSVs, scripts and report, and says plots were
// skipped.
//
// Thread-safety: FindGnuplot and GnuplotScript are pure; RenderPlot runs a
// child process and may be called from any thread.
#pragma once

#include <string>

#include "base/status.h"
#include "experiments/results.h"

namespace confide::experiments {

struct Gnuplot {
  std::string path;      // the executable
  std::string terminal;  // "pngcairo" if it has it, else "png"
};

// gnuplot on PATH with a PNG terminal, or UnavailableError saying what is
// missing and how to install it.
StatusOr<Gnuplot> FindGnuplot();

// The script that draws `figure` with `terminal` into the file named by the
// gnuplot variable `outfile` (default "<id>.png").
std::string GnuplotScript(const Figure& figure, const std::string& terminal);

// Runs `script_path` with outfile = `png_path`; InternalError with
// gnuplot's own message if it fails.
Status RenderPlot(const Gnuplot& gnuplot, const std::string& script_path,
                  const std::string& png_path);

}  // namespace confide::experiments
