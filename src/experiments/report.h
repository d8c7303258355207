// report.h — REPORT.md: our figures beside the papers', the headline
// ratios, and for every cell more than 25% off the paper the modeling
// assumption that explains it (explanations.json), or a loud
// "UNEXPLAINED (add to explanations.json)" when the file has none.
//
// RenderReport is a pure function of its inputs, so tests feed it numbers
// and check what it says.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiments/paper.h"
#include "experiments/results.h"

namespace confide::experiments {

inline constexpr std::string_view kUnexplained = "UNEXPLAINED (add to explanations.json)";

// One experiment's part of the report.
struct Section {
  std::string name;  // "fig9a"
  std::string title;
  ExperimentOutput output;
  std::string error;  // the experiment could not run at all
};

struct ReportInput {
  std::string command;  // that produced the report
  std::string date;     // UTC, ISO 8601
  std::string profiles;
  double run_seconds = 0;
  uint32_t threads = 1;
  bool quick = false;
  bool plots = true;          // PNGs were written beside the report
  std::string plots_message;  // why not, if not
  std::vector<std::string> notes;
  std::vector<Section> sections;
};

// One row of the headline table: our value (or range) for one case of a
// headline metric of paper_results.json.
struct HeadlineRow {
  std::string metric;  // headline id ("throughput_ratio")
  std::string label;   // the case ("auth", "lengths 2-10")
  std::optional<double> ours;
  std::optional<double> ours_hi;  // set when ours is a range [ours, ours_hi]
  // A range of ours spans the same thing as the paper's (chain lengths, the
  // applications): compare its ends with the paper's ends. Otherwise each
  // of our values is compared with the paper's range.
  bool endpoints = false;
  std::string error;  // why there is no value
};

// The headline rows computed from the figures present (ids fig9a, fig9b,
// fig9c, fig9d, table5, enturbo-sgx1, enturbo-sgx2); a
// figure that is absent gives rows saying "not run".
std::vector<HeadlineRow> ComputeHeadlines(const std::vector<const Figure*>& figures);

// Relative distance of ours from the paper's range: 0 inside it, else to
// the nearer bound; for a range of ours, the larger of its two ends'
// distances (to the paper's ends if `endpoints`). nullopt without a value.
std::optional<double> RangeDeviation(const HeadlineRow& row, const PaperHeadline& paper);

std::string RenderReport(const ReportInput& input, const PaperData& paper,
                         const Explanations& explanations);

}  // namespace confide::experiments
