// paper.h — the papers' numbers (paper_results.json) and the modeling
// assumptions that explain where ours differ (explanations.json), both
// compiled into the binary so that a run needs no files.
//
// Paper values are keyed by figure id, series key and x label, in the
// figure's unit; headline ranges by metric id. Explanations are keyed from
// the most to the least specific: "fig/series/x", "fig/series", "fig"; the
// headline table's by "headline/<metric>".
//
// Usage:
//
//   CONFIDE_ASSIGN_OR_RETURN(PaperData paper, PaperData::Builtin());
//   std::optional<double> v = paper.Value("fig9a", "pie-cold", "auth");  // 33 (ms)
//   CONFIDE_ASSIGN_OR_RETURN(Explanations why, Explanations::Builtin());
//   const std::string* text = why.Find("fig9a", "pie-cold", "auth");
//
// Thread-safety: immutable values once parsed; the functions are pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace confide::experiments {

struct PaperSeries {
  std::string label;
  std::vector<double> values;  // one per PaperFigure::x
};

struct PaperFigure {
  std::string source;
  std::string unit;
  std::vector<std::string> x;
  std::map<std::string, PaperSeries> series;
};

struct PaperHeadline {
  std::string label;
  std::string unit;
  double lo = 0;
  double hi = 0;
  std::string source;
};

struct PaperData {
  std::map<std::string, PaperFigure> figures;
  std::map<std::string, PaperHeadline> headlines;

  // The paper's value for one cell, if the paper gives it.
  std::optional<double> Value(std::string_view figure, std::string_view series,
                              std::string_view x) const;
  const PaperFigure* Figure(std::string_view id) const;
  const PaperHeadline* Headline(std::string_view id) const;

  // InvalidArgumentError naming the key that is missing or malformed (a
  // series whose value count differs from its figure's x count, say).
  static StatusOr<PaperData> Parse(std::string_view json);
  // The compiled-in paper_results.json (a test checks that it parses).
  static StatusOr<PaperData> Builtin();
};

class Explanations {
 public:
  Explanations() = default;
  explicit Explanations(std::map<std::string, std::string> texts) : texts_(std::move(texts)) {}

  // The most specific text for a cell ("fig/series/x", then "fig/series",
  // then "fig"), or nullptr. `x` may be empty (a series-level question).
  const std::string* Find(std::string_view figure, std::string_view series,
                          std::string_view x = {}) const;
  // The key Find matched (for the report's list of assumptions), or "".
  std::string KeyFor(std::string_view figure, std::string_view series,
                     std::string_view x = {}) const;
  const std::string* Get(const std::string& key) const;
  size_t size() const { return texts_.size(); }

  // {"explanations": {"key": "text", ...}}; InvalidArgumentError otherwise.
  static StatusOr<Explanations> Parse(std::string_view json);
  // The compiled-in explanations.json.
  static StatusOr<Explanations> Builtin();

 private:
  std::map<std::string, std::string> texts_;
};

}  // namespace confide::experiments
