// The experiments layer: the paper's numbers and the explanations parse;
// the report flags every cell more than 25% off the paper that no
// explanation covers; the headline comparison; option checks that refuse
// bad --only names and unwritable output directories before anything is
// written; and a quick reproduce run that writes every CSV and the report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "experiments/experiment.h"
#include "experiments/paper.h"
#include "experiments/plot.h"
#include "experiments/report.h"
#include "experiments/reproduce.h"
#include "experiments/results.h"

namespace confide::experiments {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "confide-exp-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Figure OneCell(double ours, double paper) {
  Figure f;
  f.id = "fig9a";
  f.title = "test figure";
  f.unit = "ms";
  f.x_label = "application";
  f.series.push_back(Series{"pie-cold", "PIE-based cold start", {}});
  Point p;
  p.x = "auth";
  p.ours = ours;
  p.paper = paper;
  f.series[0].points.push_back(p);
  return f;
}

ReportInput InputWith(Figure f) {
  ReportInput in;
  in.command = "test";
  in.date = "today";
  in.profiles = "pie-xeon-e3";
  Section s;
  s.name = "fig9a";
  s.title = "Fig. 9a";
  s.output.figures.push_back(std::move(f));
  in.sections.push_back(std::move(s));
  return in;
}

TEST(PaperDataTest, BuiltinFilesParse) {
  StatusOr<PaperData> paper = PaperData::Builtin();
  ASSERT_TRUE(paper.ok()) << paper.error().ToString();
  EXPECT_EQ(paper->Value("fig9a", "pie-cold", "auth"), 33);
  EXPECT_EQ(paper->Value("fig3a", "sgx1-cold", "1G"), 20.1);
  EXPECT_EQ(paper->Value("fig9b", "pie-chatbot", "64GB"), 961);
  EXPECT_FALSE(paper->Value("fig9a", "pie-cold", "nope").has_value());
  for (const char* h : {"latency_reduction", "throughput_ratio", "chain_speedup_cold",
                        "density_ratio", "eviction_reduction", "enturbo_sgx1"})
    EXPECT_NE(paper->Headline(h), nullptr) << h;
  StatusOr<Explanations> why = Explanations::Builtin();
  ASSERT_TRUE(why.ok()) << why.error().ToString();
}

TEST(PaperDataTest, RejectsSeriesOfTheWrongLength) {
  StatusOr<PaperData> bad = PaperData::Parse(R"({"figures": {"f": {"source": "s", "unit": "u",
      "x": ["a", "b"], "series": {"k": {"label": "l", "values": [1]}}}}, "headlines": {}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("1 values for 2 x labels"));
}

TEST(ExplanationsTest, MostSpecificKeyWins) {
  Explanations why(
      {{"fig9a", "figure"}, {"fig9a/pie-cold", "series"}, {"fig9a/pie-cold/auth", "cell"}});
  EXPECT_EQ(*why.Find("fig9a", "pie-cold", "auth"), "cell");
  EXPECT_EQ(*why.Find("fig9a", "pie-cold", "chatbot"), "series");
  EXPECT_EQ(*why.Find("fig9a", "sgx-cold", "auth"), "figure");
  EXPECT_EQ(Explanations().Find("fig9a", "pie-cold", "auth"), nullptr);
}

TEST(ReportTest, FlagsAnUnexplainedCellMoreThan25PercentOff) {
  PaperData paper;  // no headlines: only the figure
  const std::string md = RenderReport(InputWith(OneCell(50, 33)), paper, Explanations());
  EXPECT_THAT(md, HasSubstr(std::string(kUnexplained)));
  EXPECT_THAT(md, HasSubstr("+52%"));
}

TEST(ReportTest, CitesTheExplanationWhenThereIsOne) {
  PaperData paper;
  Explanations why(std::map<std::string, std::string>{
      {"fig9a/pie-cold", "the copy-on-write fraction is an assumption"}});
  const std::string md = RenderReport(InputWith(OneCell(50, 33)), paper, why);
  EXPECT_THAT(md, Not(HasSubstr(std::string(kUnexplained))));
  EXPECT_THAT(md, HasSubstr("the copy-on-write fraction is an assumption"));
}

TEST(ReportTest, CellsWithin25PercentNeedNoExplanation) {
  PaperData paper;
  const std::string md = RenderReport(InputWith(OneCell(40, 33)), paper, Explanations());
  EXPECT_THAT(md, Not(HasSubstr(std::string(kUnexplained))));
}

TEST(ReportTest, HeadlineRowOutsideTheRangeIsFlagged) {
  StatusOr<PaperData> paper = PaperData::Builtin();
  ASSERT_TRUE(paper.ok());
  // fig9a: SGX cold 60x slower than PIE cold for auth -> inside 3-196x;
  // for chatbot 1.1x -> 63% below 3x, flagged.
  Figure f;
  f.id = "fig9a";
  f.series = {
      Series{
          "sgx-cold", "SGX", {Point{"auth", 600, {}, {}, {}}, Point{"chatbot", 1100, {}, {}, {}}}},
      Series{
          "pie-cold", "PIE", {Point{"auth", 10, {}, {}, {}}, Point{"chatbot", 1000, {}, {}, {}}}}};
  const std::string md = RenderReport(InputWith(f), *paper, Explanations());
  EXPECT_THAT(md, HasSubstr("| auth | 60x | 3x – 196x | yes |"));
  EXPECT_THAT(
      md, HasSubstr("| chatbot | 1.1x | 3x – 196x | no (63% off) | " + std::string(kUnexplained)));
}

TEST(ReportTest, RangeDeviation) {
  PaperHeadline h{"l", "x", 10, 20, "s"};
  HeadlineRow r;
  r.ours = 15;
  EXPECT_EQ(*RangeDeviation(r, h), 0);
  r.ours = 5;
  EXPECT_DOUBLE_EQ(*RangeDeviation(r, h), 0.5);
  r.ours = 30;
  EXPECT_DOUBLE_EQ(*RangeDeviation(r, h), 0.5);
  r.ours = 12;
  r.ours_hi = 18;
  EXPECT_EQ(*RangeDeviation(r, h), 0);  // each inside
  r.endpoints = true;
  EXPECT_DOUBLE_EQ(*RangeDeviation(r, h), 0.2);  // ends against ends
  EXPECT_FALSE(RangeDeviation(HeadlineRow{}, h).has_value());
}

TEST(ResultsTest, CsvQuotesAndKeepsErrors) {
  Figure f = OneCell(1.5, 2);
  f.series[0].points.push_back(Point{"chatbot", {}, 3, "RESOURCE_EXHAUSTED: a, \"b\"", {}});
  const std::string csv = FigureCsv(f);
  EXPECT_THAT(csv, HasSubstr("figure,series,label,x,ours,paper,unit,deviation_pct,error,note\n"));
  EXPECT_THAT(csv, HasSubstr("fig9a,pie-cold,PIE-based cold start,auth,1.5,2,ms,-25.0,,\n"));
  EXPECT_THAT(csv, HasSubstr(",\"RESOURCE_EXHAUSTED: a, \"\"b\"\"\","));
}

TEST(PlotTest, ScriptHasTheDataInlineAndSurvivesAllMissing) {
  Figure f = OneCell(1.5, 2);
  std::string gp = GnuplotScript(f, "png");
  EXPECT_THAT(gp, HasSubstr("$data << EOD\n\"auth\" 1.5 2\nEOD"));
  EXPECT_THAT(gp, HasSubstr("set terminal png"));
  f.series[0].points[0].ours.reset();
  f.series[0].points[0].paper.reset();
  EXPECT_THAT(GnuplotScript(f, "png"), HasSubstr("no data"));
}

TEST(ReproduceTest, RejectsUnknownExperimentNamesListingTheValidOnes) {
  Status s = ValidateOnly({"fig3a", "fig99"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("unknown experiment \"fig99\""));
  for (const std::string& n : ExperimentNames()) EXPECT_THAT(s.error().message, HasSubstr(n));
  TempDir tmp;
  ReproduceOptions o;
  o.out_dir = tmp.path() + "/out";
  o.only = {"fig99"};
  std::ostringstream log;
  o.log = &log;
  StatusOr<ReproduceSummary> r = Reproduce(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(o.out_dir));  // refused before anything was written
}

TEST(ReproduceTest, UnwritableOutputFailsClearlyAndWritesNothing) {
  TempDir tmp;
  const std::string file = tmp.path() + "/a-file";
  std::ofstream(file) << "x";
  ReproduceOptions o;
  o.out_dir = file + "/results";  // its parent is a regular file
  o.quick = true;
  std::ostringstream log;
  o.log = &log;
  StatusOr<ReproduceSummary> r = Reproduce(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("cannot create output directory"));
  EXPECT_THAT(r.error().message, HasSubstr(o.out_dir));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
  EXPECT_EQ(log.str(), "");  // nothing ran
}

TEST(ReproduceTest, QuickRunWritesEveryCsvAndTheReport) {
  TempDir tmp;
  ReproduceOptions o;
  o.out_dir = tmp.path() + "/results";
  o.quick = true;
  o.command = "experiments_test";
  std::ostringstream log;
  o.log = &log;
  o.tty = 0;
  StatusOr<ReproduceSummary> r = Reproduce(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  for (const char* csv : {"fig3a", "fig3c", "fig3c-breakdown", "fig9a", "fig9a-all-policies",
                          "fig9b", "fig9b-simulated", "fig9c", "fig9c-latency", "table5",
                          "table5-per-request", "autoscale-runs", "fig9d", "fig9d-breakdown",
                          "enturbo-sgx1", "enturbo-sgx2", "enturbo-times"}) {
    const fs::path p = fs::path(o.out_dir) / (std::string(csv) + ".csv");
    EXPECT_TRUE(fs::exists(p)) << p;
    EXPECT_GT(fs::file_size(p), 20u) << p;
  }
  const std::string md = Slurp(fs::path(o.out_dir) / "REPORT.md");
  EXPECT_THAT(md, HasSubstr("## Headline ratios"));
  EXPECT_THAT(md, HasSubstr("| metric | case | ours | paper | within 25%? | why it differs |"));
  EXPECT_THAT(md, HasSubstr("QUICK MODE"));
  EXPECT_THAT(md, HasSubstr("`experiments_test`"));
  for (const char* name : {"fig3a", "fig3c", "fig9a", "fig9b", "fig9c", "table5", "fig9d"})
    EXPECT_THAT(md, HasSubstr(std::string("(") + name + ")"));
  // Every figure has a re-renderable script; PNGs exactly when gnuplot ran.
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "fig9a.gp"));
  EXPECT_EQ(fs::exists(fs::path(o.out_dir) / "fig9a.png"), FindGnuplot().ok());
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(o.out_dir))
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp"))) << e.path();
  EXPECT_THAT(log.str(), HasSubstr("wrote"));
}

TEST(ReproduceCliTest, BadOnlyNameExitsNonZeroWithTheValidNames) {
  TempDir tmp;
  const std::string cmd = std::string(CONFIDE_BINARY) + " bench reproduce --out " + tmp.path() +
                          "/out --only fig3a,bogus 2>" + tmp.path() + "/err";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  const std::string err = Slurp(tmp.path() + "/err");
  EXPECT_THAT(err, HasSubstr("unknown experiment \"bogus\""));
  EXPECT_THAT(err, HasSubstr("fig9a"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/out"));
}

}  // namespace
}  // namespace confide::experiments
