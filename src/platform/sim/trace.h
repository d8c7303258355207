// trace.h — request traces for the simulator: a CSV of (time, function)
// rows, one request per row, times in seconds from the start of the run.
//
//   # comments start with '#', anywhere on a line
//   time,function          <- optional header
//   0.000,resize
//   0.0125,ocr
//
// Times are non-negative decimals and must not decrease from row to row; a
// function name is any non-empty text without a comma (surrounding blanks are
// trimmed). Errors name the 1-based line, so a bad row in a trace of millions
// can be found.
//
// Thread-safety: pure functions over values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace confide::platform::sim {

struct TraceEvent {
  double time_s = 0;  // seconds from the start of the run
  std::string function;
  bool operator==(const TraceEvent&) const = default;
};

// Parses a trace. InvalidArgumentError("trace line N: ...") for a malformed
// row, a negative or non-finite time, or a time earlier than the row before.
StatusOr<std::vector<TraceEvent>> ParseTrace(std::string_view csv);
// Reads and parses the trace at `path` ("-": standard input); errors are
// prefixed with the path.
StatusOr<std::vector<TraceEvent>> ReadTrace(const std::string& path);

}  // namespace confide::platform::sim
