#include "platform/sim/trace.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "base/file.h"

namespace confide::platform::sim {
namespace {

std::string_view Trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

StatusOr<std::vector<TraceEvent>> ParseTrace(std::string_view csv) {
  std::vector<TraceEvent> events;
  bool seen_row = false;  // a header is only allowed before the first row
  size_t line_no = 0;
  while (!csv.empty()) {
    ++line_no;
    const size_t nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv.remove_prefix(nl == std::string_view::npos ? csv.size() : nl + 1);
    if (const size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;

    const auto error = [&](const std::string& what) {
      return InvalidArgumentError(fmt::format("trace line {}: {}", line_no, what));
    };
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos)
      return error(fmt::format("expected \"time,function\", got \"{}\"", line));
    const std::string_view time_text = Trim(line.substr(0, comma));
    const std::string_view function = Trim(line.substr(comma + 1));
    if (function.find(',') != std::string_view::npos)
      return error(fmt::format("too many fields in \"{}\" (expected \"time,function\")", line));
    if (!seen_row && EqualsIgnoreCase(time_text, "time") &&
        EqualsIgnoreCase(function, "function")) {
      seen_row = true;
      continue;
    }
    seen_row = true;

    double t = 0;
    const char* end = time_text.data() + time_text.size();
    const auto [ptr, ec] = std::from_chars(time_text.data(), end, t);
    if (time_text.empty() || ec != std::errc() || ptr != end)
      return error(fmt::format("time \"{}\" is not a decimal number of seconds", time_text));
    if (!std::isfinite(t) || t < 0)
      return error(fmt::format("time {} is not a finite number >= 0", t));
    if (!events.empty() && t < events.back().time_s)
      return error(
          fmt::format("time {} is earlier than the previous row's {} (rows must be sorted)", t,
                      events.back().time_s));
    if (function.empty()) return error("empty function name");
    events.push_back(TraceEvent{t, std::string(function)});
  }
  return events;
}

StatusOr<std::vector<TraceEvent>> ReadTrace(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return tl::unexpected(Annotate(bytes.status(), path).error());
  // SAFETY: char and uint8_t have the same size and alignment, and the view
  // lives no longer than `bytes`.
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  auto events = ParseTrace(text);
  if (!events.ok()) return tl::unexpected(Annotate(events.status(), path).error());
  return events;
}

}  // namespace confide::platform::sim
