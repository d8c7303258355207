#include "experiments/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "experiments/experiment.h"
#include "experiments/progress.h"

namespace confide::experiments {
namespace {

const Figure* FindFigure(const std::vector<const Figure*>& figures, std::string_view id) {
  for (const Figure* f : figures)
    if (f->id == id) return f;
  return nullptr;
}

std::optional<double> Ours(const Figure* f, std::string_view series, std::string_view x) {
  if (!f) return std::nullopt;
  const Point* p = f->Find(series, x);
  return p ? p->ours : std::nullopt;
}

// The x labels of a figure's series, in order.
std::vector<std::string> Xs(const Figure* f, std::string_view series) {
  std::vector<std::string> xs;
  if (const Series* s = f ? f->FindSeries(series) : nullptr)
    for (const Point& p : s->points) xs.push_back(p.x);
  return xs;
}

HeadlineRow Missing(std::string metric, std::string label, std::string why) {
  HeadlineRow r;
  r.metric = std::move(metric);
  r.label = std::move(label);
  r.error = std::move(why);
  return r;
}

// Per x of `num`'s series: f(a, b) of the two series' values.
template <typename F>
void PerX(std::vector<HeadlineRow>& rows, const std::string& metric, const Figure* fig,
          const char* figure_id, const std::string& a, const std::string& b, F f) {
  if (!fig) {
    rows.push_back(Missing(metric, "all", std::string(figure_id) + " not run"));
    return;
  }
  for (const std::string& x : Xs(fig, a)) {
    const std::optional<double> va = Ours(fig, a, x), vb = Ours(fig, b, x);
    HeadlineRow r;
    r.metric = metric;
    r.label = x;
    if (va && vb && *vb != 0)
      r.ours = f(*va, *vb);
    else
      r.error = "a run failed (see " + std::string(figure_id) + ")";
    rows.push_back(std::move(r));
  }
}

// min..max over x of f(a, b).
template <typename F>
HeadlineRow RangeOver(const std::string& metric, const std::string& label, const Figure* fig,
                      const char* figure_id, const std::string& a, const std::string& b,
                      const std::vector<std::string>& only_x, F f) {
  if (!fig) return Missing(metric, label, std::string(figure_id) + " not run");
  std::optional<double> lo, hi;
  bool failed = false;
  for (const std::string& x : Xs(fig, a)) {
    if (!only_x.empty() && std::find(only_x.begin(), only_x.end(), x) == only_x.end()) continue;
    const std::optional<double> va = Ours(fig, a, x), vb = Ours(fig, b, x);
    if (!va || !vb || *vb == 0) {
      failed = true;
      continue;
    }
    const double v = f(*va, *vb);
    lo = lo ? std::min(*lo, v) : v;
    hi = hi ? std::max(*hi, v) : v;
  }
  if (!lo) return Missing(metric, label, "no value (see " + std::string(figure_id) + ")");
  HeadlineRow r;
  r.metric = metric;
  r.label = label + (failed ? " (some runs failed)" : "");
  r.ours = lo;
  r.ours_hi = hi;
  return r;
}

double Reduction(double mine, double base) { return 100.0 * (1.0 - mine / base); }
double Ratio(double a, double b) { return a / b; }

std::string Value(double v, std::string_view unit) {
  if (unit == "%") return fmt::format("{:.2f}%", v);
  if (unit == "x")
    return (std::fabs(v) >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v)) + "x";
  return FormatValue(v) + " " + std::string(unit);
}

std::string Signed(double d) { return fmt::format("{:+.0f}%", 100 * d); }

std::string Anchor(std::string_view key) {
  std::string a;
  for (char c : key) a += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return "why-" + a;
}

// Cells that need an explanation, and the texts they cite (deduplicated).
struct Citations {
  std::vector<std::string> keys;  // in first-cited order
  void Cite(const std::string& key) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
};

std::string Explain(const Explanations& why, Citations& cited, std::string_view figure,
                    std::string_view series, std::string_view x) {
  const std::string key = why.KeyFor(figure, series, x);
  if (key.empty()) return std::string(kUnexplained);
  cited.Cite(key);
  return fmt::format("[{}](#{})", key, Anchor(key));
}

void RenderCitations(std::string& md, const Explanations& why, const Citations& cited) {
  for (const std::string& key : cited.keys) {
    const std::string* text = why.Get(key);
    md += fmt::format("- <a id=\"{}\"></a>**{}**: {}\n", Anchor(key), key, text ? *text : "");
  }
}

std::string MdCell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

void RenderHeadlines(std::string& md, const ReportInput& in, const PaperData& paper,
                     const Explanations& why) {
  std::vector<const Figure*> figures;
  for (const Section& s : in.sections)
    for (const Figure& f : s.output.figures) figures.push_back(&f);
  md += "## Headline ratios\n\n";
  md +=
      "Ours beside the paper's range. \"Within 25%\": inside the paper's range, or within 25% "
      "of its nearer end (for a range of ours, each end against the paper's). Rows outside "
      "cite the modeling assumption that explains the difference (explanations.json).\n\n";
  md += "| metric | case | ours | paper | within 25%? | why it differs |\n";
  md += "|---|---|---|---|---|---|\n";
  Citations cited;
  for (const HeadlineRow& row : ComputeHeadlines(figures)) {
    const PaperHeadline* h = paper.Headline(row.metric);
    if (!h) continue;
    std::string ours = row.error.empty() ? "" : "— (" + row.error + ")";
    if (row.ours) {
      ours = Value(*row.ours, h->unit);
      if (row.ours_hi && Value(*row.ours_hi, h->unit) != ours)
        ours = fmt::format("{} – {}", ours, Value(*row.ours_hi, h->unit));
    }
    const std::string range = fmt::format("{} – {}", Value(h->lo, h->unit), Value(h->hi, h->unit));
    const std::optional<double> d = RangeDeviation(row, *h);
    std::string within = "—", reason;
    if (d) {
      within = *d <= kTolerance ? "yes" : fmt::format("no ({:.0f}% off)", 100 * *d);
      if (*d > kTolerance) reason = Explain(why, cited, "headline", row.metric, row.label);
    }
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", MdCell(h->label), MdCell(row.label),
                      MdCell(ours), range, within, reason);
  }
  md += "\nSources: ";
  bool first = true;
  for (const auto& [id, h] : paper.headlines) {
    md += fmt::format("{}{}: {}", first ? "" : "; ", id, h.source);
    first = false;
  }
  md += ".\n\n";
  if (!cited.keys.empty()) {
    md += "Why the rows outside differ:\n\n";
    RenderCitations(md, why, cited);
    md += "\n";
  }
}

void RenderFigure(std::string& md, const Figure& f, const ReportInput& in, const PaperData& paper,
                  const Explanations& why) {
  md += fmt::format("### {} ({})\n\n", f.title, f.id);
  if (!f.method.empty()) md += f.method + "\n\n";
  if (const PaperFigure* pf = paper.Figure(f.id); pf && f.compare)
    md += "Paper: " + pf->source + ".\n\n";
  if (in.plots) md += fmt::format("![{}]({}.png)\n\n", f.id, f.id);
  // Rows are x labels in first-seen order; columns per series.
  std::vector<std::string> xs;
  for (const Series& s : f.series)
    for (const Point& p : s.points)
      if (std::find(xs.begin(), xs.end(), p.x) == xs.end()) xs.push_back(p.x);
  md += "| " + MdCell(f.x_label) + " |";
  std::string rule = "|---|";
  for (const Series& s : f.series) {
    if (f.compare) {
      md += fmt::format(" {} ours | paper | Δ |", MdCell(s.label));
      rule += "---:|---:|---:|";
    } else {
      md += fmt::format(" {} |", MdCell(s.label));
      rule += "---:|";
    }
  }
  md += "\n" + rule + "\n";
  for (const std::string& x : xs) {
    md += "| " + MdCell(x) + " |";
    for (const Series& s : f.series) {
      const Point* p = f.Find(s.key, x);
      std::string ours = "—", pap = "—", dev = "";
      if (p && p->ours) ours = FormatValue(*p->ours) + (p->note.empty() ? "" : "*");
      if (p && !p->error.empty()) ours = "error";
      if (p && p->paper) pap = FormatValue(*p->paper);
      if (p) {
        if (const std::optional<double> d = Deviation(*p)) dev = Signed(*d);
        if (OffByMore(*p)) dev = "**" + dev + "**";
      }
      md += f.compare ? fmt::format(" {} | {} | {} |", ours, pap, dev) : fmt::format(" {} |", ours);
    }
    md += "\n";
  }
  md += fmt::format("\nUnit: {}. ", f.unit);
  if (f.compare) md += "Δ = (ours − paper) / paper; bold: more than 25% off. ";
  md += "\n\n";

  // Notes (how points were obtained) and errors, deduplicated.
  std::set<std::string> notes;
  for (const Series& s : f.series)
    for (const Point& p : s.points)
      if (!p.note.empty()) notes.insert(p.note);
  for (const std::string& n : f.notes) notes.insert(n);
  for (const std::string& n : notes) md += "- * " + n + "\n";
  std::vector<std::string> errors;
  for (const Series& s : f.series)
    for (const Point& p : s.points)
      if (!p.error.empty())
        errors.push_back(fmt::format("{} at {}: {}", s.label, p.x, MdCell(p.error)));
  if (!errors.empty()) {
    md += fmt::format("\nErrors ({} cells could not be measured):\n\n", errors.size());
    for (const std::string& e : errors) md += "- ERROR " + e + "\n";
  }
  if (!notes.empty() || !errors.empty()) md += "\n";

  if (!f.compare) return;
  Citations cited;
  std::string off;
  for (const Series& s : f.series) {
    for (const Point& p : s.points) {
      if (!OffByMore(p)) continue;
      off += fmt::format("- {} at {}: ours {} vs paper {} ({}): {}\n", s.label, p.x,
                         FormatValue(*p.ours), FormatValue(*p.paper), Signed(*Deviation(p)),
                         Explain(why, cited, f.id, s.key, p.x));
    }
  }
  if (!off.empty()) {
    md += "Cells more than 25% off the paper:\n\n" + off + "\n";
    if (!cited.keys.empty()) {
      md += "Modeling assumptions behind them:\n\n";
      RenderCitations(md, why, cited);
      md += "\n";
    }
  }
}

void RenderTable(std::string& md, const Table& t) {
  md += fmt::format("<details><summary>{} ({}.csv, {} rows)</summary>\n\n", t.title, t.id,
                    t.rows.size());
  if (!t.note.empty()) md += t.note + "\n\n";
  md += "|";
  for (const std::string& c : t.columns) md += " " + MdCell(c) + " |";
  md += "\n|";
  for (size_t i = 0; i < t.columns.size(); ++i) md += "---|";
  md += "\n";
  for (const auto& row : t.rows) {
    md += "|";
    for (const std::string& c : row) md += " " + MdCell(c) + " |";
    md += "\n";
  }
  md += "\n</details>\n\n";
}

}  // namespace

std::vector<HeadlineRow> ComputeHeadlines(const std::vector<const Figure*>& figures) {
  std::vector<HeadlineRow> rows;
  const Figure* f9a = FindFigure(figures, "fig9a");
  const Figure* f9b = FindFigure(figures, "fig9b");
  const Figure* f9c = FindFigure(figures, "fig9c");
  const Figure* f9d = FindFigure(figures, "fig9d");
  const Figure* t5 = FindFigure(figures, "table5");
  // At equal request counts a saturated burst's mean latency scales with the
  // time per request, i.e. inversely with throughput; our runs have fewer
  // SGX cold requests than PIE ones, so their mean latencies are not
  // comparable directly (fig9c-latency shows them as measured).
  PerX(rows, "latency_reduction", f9c, "fig9c", "pie-cold", "sgx-cold",
       [](double pie, double sgx) { return Reduction(sgx, pie); });
  PerX(rows, "throughput_ratio", f9c, "fig9c", "pie-cold", "sgx-cold", Ratio);
  PerX(rows, "idle_speedup", f9a, "fig9a", "sgx-cold", "pie-cold", Ratio);
  for (const auto& [metric, series] :
       {std::pair{"chain_speedup_cold", "sgx-cold"}, std::pair{"chain_speedup_warm", "sgx-warm"}}) {
    HeadlineRow r = RangeOver(metric, "lengths 2-10", f9d, "fig9d", series, "pie-cold", {}, Ratio);
    r.endpoints = true;
    rows.push_back(std::move(r));
  }
  for (const char* app : {"face-detector", "chatbot"}) {
    rows.push_back(RangeOver("density_ratio", fmt::format("{}, 16-64 GB", app), f9b, "fig9b",
                             fmt::format("pie-{}", app), fmt::format("sgx-{}", app), {}, Ratio));
  }
  for (const auto& [key, label] : {std::pair{"sgx-warm-reduction", "SGX warm, five apps"},
                                   std::pair{"pie-cold-reduction", "PIE cold, five apps"}}) {
    if (!t5) {
      rows.push_back(Missing("eviction_reduction", label, "table5 not run"));
      continue;
    }
    // A range over the applications of the figure's own percentages.
    std::optional<double> lo, hi;
    for (const std::string& x : Xs(t5, key)) {
      if (const std::optional<double> v = Ours(t5, key, x)) {
        lo = lo ? std::min(*lo, *v) : *v;
        hi = hi ? std::max(*hi, *v) : *v;
      }
    }
    HeadlineRow r;
    r.metric = "eviction_reduction";
    r.label = label;
    if (lo) {
      r.ours = lo;
      r.ours_hi = hi;
    } else {
      r.error = "no value (see table5)";
    }
    rows.push_back(std::move(r));
  }
  for (const auto& [id, metric] :
       {std::pair{"enturbo-sgx1", "enturbo_sgx1"}, std::pair{"enturbo-sgx2", "enturbo_sgx2"}}) {
    const Figure* f = FindFigure(figures, id);
    for (const bool eight : {true, false}) {
      const std::string label = eight ? "8 workers, five apps" : "1-16 workers, five apps";
      if (!f) {
        rows.push_back(Missing(metric, label, std::string(id) + " not run"));
        continue;
      }
      std::optional<double> lo, hi;
      for (const Series& s : f->series) {
        for (const Point& p : s.points) {
          if ((eight && p.x != "8") || !p.ours) continue;
          lo = lo ? std::min(*lo, *p.ours) : *p.ours;
          hi = hi ? std::max(*hi, *p.ours) : *p.ours;
        }
      }
      HeadlineRow r;
      r.metric = metric;
      r.label = label;
      r.endpoints = eight;  // the paper's range is over its applications at 8 workers
      if (lo) {
        r.ours = lo;
        r.ours_hi = hi;
      } else {
        r.error = fmt::format("no value (see {})", id);
      }
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

std::optional<double> RangeDeviation(const HeadlineRow& row, const PaperHeadline& paper) {
  if (!row.ours) return std::nullopt;
  const auto rel = [](double v, double ref) { return std::fabs(v - ref) / ref; };
  const auto outside = [&](double v) {
    if (v >= paper.lo && v <= paper.hi) return 0.0;
    return v < paper.lo ? rel(v, paper.lo) : rel(v, paper.hi);
  };
  if (!row.ours_hi) return outside(*row.ours);
  if (row.endpoints) return std::max(rel(*row.ours, paper.lo), rel(*row.ours_hi, paper.hi));
  return std::max(outside(*row.ours), outside(*row.ours_hi));
}

std::string RenderReport(const ReportInput& in, const PaperData& paper, const Explanations& why) {
  std::string md = "# confide reproduces PIE (ISCA'21) and EnTurbo (DAC'24)\n\n";
  md += fmt::format("- Command: `{}`\n", in.command);
  md += fmt::format("- Date: {}\n", in.date);
  md += fmt::format("- Profiles: {}\n", in.profiles);
  md += fmt::format("- Total run time: {} (real time, {} host threads)\n",
                    Progress::Duration(in.run_seconds), in.threads);
  md +=
      "- Model: confide's instruction-level SGX1/SGX2/PIE machine in cost-only mode (the same "
      "instructions, checks and cycles, without page bytes), virtual time on the profile's "
      "cycle costs; every enclave signed with one RSA-3072 key generated for the run.\n";
  if (in.quick)
    md += "- **QUICK MODE**: scaled-down runs (workloads, sizes and DRAM divided by " +
          std::to_string(Setup::kQuickDivisor) +
          ", fewer points and requests) that check the pipeline; the numbers are NOT "
          "comparable with the papers'.\n";
  if (!in.plots_message.empty()) md += "- **Plots skipped**: " + in.plots_message + "\n";
  md += "\n";

  RenderHeadlines(md, in, paper, why);

  md += "## Run parameters\n\n";
  for (const std::string& n : in.notes) md += "- " + n + "\n";
  for (const Section& s : in.sections)
    for (const std::string& n : s.output.notes) md += "- " + n + "\n";
  md += "\n";

  for (const Section& s : in.sections) {
    md += fmt::format("## {}\n\n", s.title);
    if (!s.error.empty()) {
      md += "ERROR: this experiment could not run: " + s.error + "\n\n";
      continue;
    }
    for (const Figure& f : s.output.figures) RenderFigure(md, f, in, paper, why);
    for (const Table& t : s.output.tables) RenderTable(md, t);
  }
  return md;
}

}  // namespace confide::experiments
