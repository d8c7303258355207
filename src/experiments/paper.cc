#include "experiments/paper.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace confide::experiments {

std::string_view BuiltinPaperResultsJson();  // paper_data.cc (generated)
std::string_view BuiltinExplanationsJson();

namespace {

using nlohmann::json;

StatusOr<json> ParseJson(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(fmt::format("{}: not valid JSON", what));
  if (!j.is_object()) return InvalidArgumentError(fmt::format("{}: not a JSON object", what));
  return j;
}

StatusOr<std::string> String(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string())
    return InvalidArgumentError(fmt::format("{}: \"{}\" must be a string", where, key));
  return it->get<std::string>();
}

StatusOr<PaperFigure> ParseFigure(const json& j, const std::string& where) {
  if (!j.is_object()) return InvalidArgumentError(where + ": not an object");
  PaperFigure f;
  CONFIDE_ASSIGN_OR_RETURN(f.source, String(j, "source", where));
  CONFIDE_ASSIGN_OR_RETURN(f.unit, String(j, "unit", where));
  auto x = j.find("x");
  if (x == j.end() || !x->is_array() || x->empty())
    return InvalidArgumentError(where + ": \"x\" must be a non-empty array of labels");
  for (const json& label : *x) {
    if (!label.is_string()) return InvalidArgumentError(where + ": \"x\" holds a non-string");
    f.x.push_back(label.get<std::string>());
  }
  auto series = j.find("series");
  if (series == j.end() || !series->is_object() || series->empty())
    return InvalidArgumentError(where + ": \"series\" must be a non-empty object");
  for (const auto& [key, s] : series->items()) {
    const std::string sw = fmt::format("{} series \"{}\"", where, key);
    if (!s.is_object()) return InvalidArgumentError(sw + ": not an object");
    PaperSeries ps;
    CONFIDE_ASSIGN_OR_RETURN(ps.label, String(s, "label", sw));
    auto values = s.find("values");
    if (values == s.end() || !values->is_array())
      return InvalidArgumentError(sw + ": \"values\" must be an array");
    for (const json& v : *values) {
      if (!v.is_number()) return InvalidArgumentError(sw + ": \"values\" holds a non-number");
      ps.values.push_back(v.get<double>());
    }
    if (ps.values.size() != f.x.size())
      return InvalidArgumentError(
          fmt::format("{}: {} values for {} x labels", sw, ps.values.size(), f.x.size()));
    f.series.emplace(key, std::move(ps));
  }
  return f;
}

StatusOr<PaperHeadline> ParseHeadline(const json& j, const std::string& where) {
  if (!j.is_object()) return InvalidArgumentError(where + ": not an object");
  PaperHeadline h;
  CONFIDE_ASSIGN_OR_RETURN(h.label, String(j, "label", where));
  CONFIDE_ASSIGN_OR_RETURN(h.unit, String(j, "unit", where));
  CONFIDE_ASSIGN_OR_RETURN(h.source, String(j, "source", where));
  auto r = j.find("range");
  if (r == j.end() || !r->is_array() || r->size() != 2 || !(*r)[0].is_number() ||
      !(*r)[1].is_number())
    return InvalidArgumentError(where + ": \"range\" must be [low, high]");
  h.lo = (*r)[0].get<double>();
  h.hi = (*r)[1].get<double>();
  if (!(h.lo > 0) || h.hi < h.lo)
    return InvalidArgumentError(where + ": \"range\" must be 0 < low <= high");
  return h;
}

}  // namespace

std::optional<double> PaperData::Value(std::string_view figure, std::string_view series,
                                       std::string_view x) const {
  const PaperFigure* f = Figure(figure);
  if (!f) return std::nullopt;
  auto s = f->series.find(std::string(series));
  if (s == f->series.end()) return std::nullopt;
  for (size_t i = 0; i < f->x.size(); ++i)
    if (f->x[i] == x) return s->second.values[i];
  return std::nullopt;
}

const PaperFigure* PaperData::Figure(std::string_view id) const {
  auto it = figures.find(std::string(id));
  return it == figures.end() ? nullptr : &it->second;
}

const PaperHeadline* PaperData::Headline(std::string_view id) const {
  auto it = headlines.find(std::string(id));
  return it == headlines.end() ? nullptr : &it->second;
}

StatusOr<PaperData> PaperData::Parse(std::string_view text) {
  CONFIDE_ASSIGN_OR_RETURN(json j, ParseJson(text, "paper results"));
  PaperData d;
  auto figures = j.find("figures");
  if (figures == j.end() || !figures->is_object())
    return InvalidArgumentError("paper results: \"figures\" must be an object");
  for (const auto& [id, f] : figures->items()) {
    CONFIDE_ASSIGN_OR_RETURN(PaperFigure pf, ParseFigure(f, "paper results figure \"" + id + "\""));
    d.figures.emplace(id, std::move(pf));
  }
  auto headlines = j.find("headlines");
  if (headlines == j.end() || !headlines->is_object())
    return InvalidArgumentError("paper results: \"headlines\" must be an object");
  for (const auto& [id, h] : headlines->items()) {
    CONFIDE_ASSIGN_OR_RETURN(PaperHeadline ph,
                             ParseHeadline(h, "paper results headline \"" + id + "\""));
    d.headlines.emplace(id, std::move(ph));
  }
  return d;
}

StatusOr<PaperData> PaperData::Builtin() { return Parse(BuiltinPaperResultsJson()); }

const std::string* Explanations::Get(const std::string& key) const {
  auto it = texts_.find(key);
  return it == texts_.end() ? nullptr : &it->second;
}

std::string Explanations::KeyFor(std::string_view figure, std::string_view series,
                                 std::string_view x) const {
  std::vector<std::string> keys;
  if (!x.empty()) keys.push_back(fmt::format("{}/{}/{}", figure, series, x));
  if (!series.empty()) keys.push_back(fmt::format("{}/{}", figure, series));
  keys.emplace_back(figure);
  for (const std::string& k : keys)
    if (texts_.count(k)) return k;
  return "";
}

const std::string* Explanations::Find(std::string_view figure, std::string_view series,
                                      std::string_view x) const {
  const std::string key = KeyFor(figure, series, x);
  return key.empty() ? nullptr : Get(key);
}

StatusOr<Explanations> Explanations::Parse(std::string_view text) {
  CONFIDE_ASSIGN_OR_RETURN(json j, ParseJson(text, "explanations"));
  auto e = j.find("explanations");
  if (e == j.end() || !e->is_object())
    return InvalidArgumentError("explanations: \"explanations\" must be an object");
  std::map<std::string, std::string> texts;
  for (const auto& [key, v] : e->items()) {
    if (!v.is_string() || v.get<std::string>().empty())
      return InvalidArgumentError(
          fmt::format("explanations: \"{}\" must be a non-empty string", key));
    texts.emplace(key, v.get<std::string>());
  }
  return Explanations(std::move(texts));
}

StatusOr<Explanations> Explanations::Builtin() { return Parse(BuiltinExplanationsJson()); }

}  // namespace confide::experiments
