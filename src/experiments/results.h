// results.h — what an experiment produces: figures (series of points, ours
// beside the paper's), plain tables, and notes; and their CSV form.
//
// A Figure is one plot and one CSV (DIR/<id>.csv, long format: one row per
// point). A point holds our value, the paper's (filled from
// paper_results.json by AttachPaper), or the error that kept us from
// measuring it: a failing policy is a result to report, not a crash.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/paper.h"

namespace confide::experiments {

// How far apart two values may be before the report asks for an explanation.
inline constexpr double kTolerance = 0.25;

struct Point {
  std::string x;  // the x label ("16M", "auth", "2"): also the paper key
  std::optional<double> ours;
  std::optional<double> paper;
  std::string error;  // why `ours` is missing
  std::string note;   // how this point was obtained, if not simulated directly
};

struct Series {
  std::string key;    // paper and explanation key ("sgx-cold")
  std::string label;  // legend
  std::vector<Point> points;
};

enum class PlotKind : uint8_t {
  kLines,  // numeric x: lines with points
  kBars,   // categorical x: clustered bars
};

struct Figure {
  std::string id;  // "fig9a": file names and keys
  std::string title;
  std::string unit;  // of every value ("ms", "req/s", "x")
  std::string x_label;
  std::string y_label;
  PlotKind plot = PlotKind::kLines;
  bool log_y = false;
  bool compare = true;  // false: the paper has no numbers for this figure
  std::string method;   // what was measured and how, for REPORT.md
  std::vector<std::string> notes;
  std::vector<Series> series;

  Series* FindSeries(std::string_view key);
  // Appends `p` to series `key`, creating the series (with `label`) first.
  void AddPoint(const std::string& key, const std::string& label, Point p);
  const Series* FindSeries(std::string_view key) const;
  // The point of `series` at `x`, or nullptr.
  const Point* Find(std::string_view series, std::string_view x) const;
};

// A table shown in the report and written as DIR/<id>.csv; no plot.
struct Table {
  std::string id;
  std::string title;
  std::string note;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

struct ExperimentOutput {
  std::vector<Figure> figures;
  std::vector<Table> tables;
  // Run parameters worth stating (request counts, pool sizes...).
  std::vector<std::string> notes;
};

// (ours - paper) / paper, if both exist and paper != 0.
std::optional<double> Deviation(const Point& p);
// |Deviation| > kTolerance.
bool OffByMore(const Point& p);

// Fills every point's `paper` from `paper` (by figure id, series key, x).
void AttachPaper(Figure& figure, const PaperData& paper);

// CSV (RFC 4180 quoting) of a figure: figure, series, label, x, ours,
// paper, unit, deviation_pct, error, note; and of a table.
std::string FigureCsv(const Figure& figure);
std::string TableCsv(const Table& table);

// Numbers for people: 3 significant digits, no exponent below 1e9
// ("0.0512", "12.3", "4,170,240" for integers >= 10,000).
std::string FormatValue(double v);
std::string CsvNumber(double v);  // full precision for machines

}  // namespace confide::experiments
