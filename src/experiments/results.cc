#include "experiments/results.h"

#include <cmath>

#include <fmt/format.h>

namespace confide::experiments {
namespace {

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvRow(const std::vector<std::string>& fields) {
  std::string row;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) row += ',';
    row += CsvField(fields[i]);
  }
  return row + "\n";
}

// "1234567" -> "1,234,567".
std::string Grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

Series* Figure::FindSeries(std::string_view key) {
  for (Series& s : series)
    if (s.key == key) return &s;
  return nullptr;
}

void Figure::AddPoint(const std::string& key, const std::string& label, Point p) {
  Series* s = FindSeries(key);
  if (!s) {
    series.push_back(Series{key, label, {}});
    s = &series.back();
  }
  s->points.push_back(std::move(p));
}

const Series* Figure::FindSeries(std::string_view key) const {
  for (const Series& s : series)
    if (s.key == key) return &s;
  return nullptr;
}

const Point* Figure::Find(std::string_view series_key, std::string_view x) const {
  const Series* s = FindSeries(series_key);
  if (!s) return nullptr;
  for (const Point& p : s->points)
    if (p.x == x) return &p;
  return nullptr;
}

std::optional<double> Deviation(const Point& p) {
  if (!p.ours || !p.paper || *p.paper == 0) return std::nullopt;
  return (*p.ours - *p.paper) / *p.paper;
}

bool OffByMore(const Point& p) {
  const std::optional<double> d = Deviation(p);
  return d && std::fabs(*d) > kTolerance;
}

void AttachPaper(Figure& figure, const PaperData& paper) {
  for (Series& s : figure.series)
    for (Point& p : s.points) p.paper = paper.Value(figure.id, s.key, p.x);
}

std::string CsvNumber(double v) { return fmt::format("{}", v); }

std::string FormatValue(double v) {
  if (!std::isfinite(v)) return "n/a";
  const double a = std::fabs(v);
  if (a >= 1e4 && a < 1e15 && v == std::floor(v))
    return (v < 0 ? "-" : "") + Grouped(static_cast<uint64_t>(a));
  if (a >= 1e4) return (v < 0 ? "-" : "") + Grouped(static_cast<uint64_t>(std::llround(a)));
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  if (a == 0) return "0";
  return fmt::format("{:.3g}", v);
}

std::string FigureCsv(const Figure& figure) {
  std::string out = CsvRow({"figure", "series", "label", "x", "ours", "paper", "unit",
                            "deviation_pct", "error", "note"});
  for (const Series& s : figure.series) {
    for (const Point& p : s.points) {
      const std::optional<double> d = Deviation(p);
      out += CsvRow({figure.id, s.key, s.label, p.x, p.ours ? CsvNumber(*p.ours) : "",
                     p.paper ? CsvNumber(*p.paper) : "", figure.unit,
                     d ? fmt::format("{:.1f}", 100 * *d) : "", p.error, p.note});
    }
  }
  return out;
}

std::string TableCsv(const Table& table) {
  std::string out = CsvRow(table.columns);
  for (const auto& row : table.rows) out += CsvRow(row);
  return out;
}

}  // namespace confide::experiments
