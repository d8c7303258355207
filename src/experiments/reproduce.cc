#include "experiments/reproduce.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "base/file.h"
#include "experiments/experiment.h"
#include "experiments/plot.h"
#include "experiments/progress.h"
#include "experiments/report.h"

namespace confide::experiments {
namespace {

using Clock = std::chrono::steady_clock;

// Creates `dir` (and its parents) if needed and checks that files can be
// created in it, without leaving anything behind.
Status PrepareOutDir(const std::string& dir) {
  if (dir.empty()) return InvalidArgumentError("--out: empty directory name");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return UnavailableError(
        fmt::format("cannot create output directory {}: {}", dir, ec.message()));
  if (!std::filesystem::is_directory(dir, ec))
    return UnavailableError(fmt::format("output path {} is not a directory", dir));
  const std::string probe = fmt::format("{}/.confide-write-test.{}", dir, ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return UnavailableError(
        fmt::format("cannot write to output directory {}: {}", dir, std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
  return OkStatus();
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

class PoolProgress : public JobProgress {
 public:
  PoolProgress(Progress& p, size_t job) : p_(p), job_(job) {}
  void Fraction(double done) override { p_.JobFraction(job_, done); }

 private:
  Progress& p_;
  size_t job_;
};

// Runs every job on `threads` threads, heaviest first (so that the last
// job to start is a short one).
void RunJobs(std::vector<Job>& jobs, uint32_t threads, Progress& progress) {
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs[a].weight > jobs[b].weight; });
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t k; (k = next.fetch_add(1)) < order.size();) {
      const size_t i = order[k];
      progress.JobStarted(i, jobs[i].label, jobs[i].weight);
      PoolProgress jp(progress, i);
      const bool ok = jobs[i].run(jp);
      progress.JobDone(i, ok);
    }
  };
  const uint32_t n = std::max<uint32_t>(1, std::min<uint32_t>(threads, jobs.size()));
  std::vector<std::thread> pool;
  for (uint32_t t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

size_t FailedCells(const ExperimentOutput& out) {
  size_t n = 0;
  for (const Figure& f : out.figures)
    for (const Series& s : f.series)
      for (const Point& p : s.points)
        if (!p.error.empty()) ++n;
  return n;
}

}  // namespace

Status ValidateOnly(const std::vector<std::string>& only) {
  const std::vector<std::string> names = ExperimentNames();
  for (const std::string& n : only) {
    if (std::find(names.begin(), names.end(), n) == names.end())
      return InvalidArgumentError(
          fmt::format("unknown experiment \"{}\" (valid: {})", n, fmt::join(names, ", ")));
  }
  return OkStatus();
}

StatusOr<ReproduceSummary> Reproduce(const ReproduceOptions& o) {
  const Clock::time_point start = Clock::now();
  std::ostream& log = o.log ? *o.log : std::cerr;
  const bool tty = o.tty >= 0 ? o.tty == 1 : (!o.log && ::isatty(STDERR_FILENO));

  // Everything that can be refused is refused before anything runs.
  CONFIDE_RETURN_IF_ERROR(ValidateOnly(o.only));
  if (!o.profile.empty())
    CONFIDE_RETURN_IF_ERROR(
        Annotate(machine::CostProfile::Builtin(o.profile).status(), "--profile"));
  CONFIDE_ASSIGN_OR_RETURN(PaperData paper, PaperData::Builtin());
  CONFIDE_ASSIGN_OR_RETURN(Explanations why, Explanations::Builtin());
  CONFIDE_RETURN_IF_ERROR(PrepareOutDir(o.out_dir));

  ReproduceSummary summary;
  const StatusOr<Gnuplot> gnuplot = FindGnuplot();
  if (!gnuplot.ok()) {
    summary.plots_message = "no PNG plots: " + gnuplot.error().message +
                            "; the .gp scripts are written, so `gnuplot <figure>.gp` in the "
                            "output directory draws them later";
    log << "confide bench reproduce: " << summary.plots_message << "\n";
  }

  const auto t_key = Clock::now();
  CONFIDE_ASSIGN_OR_RETURN(crypto::Rsa3072PrivateKey key, crypto::Rsa3072PrivateKey::Generate());
  const double key_seconds = std::chrono::duration<double>(Clock::now() - t_key).count();

  Setup setup;
  setup.quick = o.quick;
  setup.profile_override = o.profile;
  setup.key = &key;
  const uint32_t threads =
      o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  // Plan every selected experiment first, so the progress display knows the
  // whole run's weight.
  struct Planned {
    const ExperimentInfo* info;
    std::unique_ptr<Experiment> experiment;
    std::vector<Job> jobs;
    double weight = 0;
  };
  std::vector<Planned> planned;
  double run_weight = 0;
  for (const ExperimentInfo& info : AllExperiments()) {
    const bool selected =
        o.only.empty() ||
        std::any_of(info.provides.begin(), info.provides.end(), [&](const std::string& n) {
          return std::find(o.only.begin(), o.only.end(), n) != o.only.end();
        });
    if (!selected) continue;
    Planned p{&info, info.make(setup), {}, 0};
    StatusOr<std::vector<Job>> jobs = p.experiment->Plan();
    if (!jobs.ok()) return tl::unexpected(Annotate(jobs.status(), info.name).error());
    p.jobs = std::move(*jobs);
    for (const Job& j : p.jobs) p.weight += j.weight;
    run_weight += p.weight;
    planned.push_back(std::move(p));
  }

  Progress progress(log, tty, run_weight);
  ReportInput report;
  report.command = o.command;
  report.date = UtcNow();
  report.threads = threads;
  report.quick = o.quick;
  report.plots = gnuplot.ok();
  report.plots_message = summary.plots_message;
  report.profiles =
      o.profile.empty()
          ? "j5005 (PIE section III-A testbed, 1.5 GHz: Fig. 3a, 3c), pie-xeon-e3 (PIE section "
            "V server, 3.8 GHz: Fig. 9a-d, Table V, EnTurbo)"
          : o.profile + " for every experiment (--profile)";
  report.notes.push_back(
      fmt::format("Signing key: one RSA-3072 key generated for this run ({:.2f} s).", key_seconds));
  report.notes.push_back(fmt::format("Job threads: {}.", threads));

  const auto write = [&](const std::string& name, std::string_view text) -> Status {
    CONFIDE_RETURN_IF_ERROR(
        WriteFileAtomically(o.out_dir + "/" + name,
                            ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    summary.files.push_back(name);
    return OkStatus();
  };
  std::vector<std::string> plot_errors;

  for (Planned& p : planned) {
    progress.BeginExperiment(p.info->name, p.jobs.size(), p.weight);
    RunJobs(p.jobs, threads, progress);
    Section section;
    section.name = p.info->name;
    section.title = p.info->title;
    section.output = p.experiment->Assemble();
    progress.EndExperiment();
    summary.failed_cells += FailedCells(section.output);
    for (Figure& f : section.output.figures) {
      AttachPaper(f, paper);
      CONFIDE_RETURN_IF_ERROR(write(f.id + ".csv", FigureCsv(f)));
      const std::string script = GnuplotScript(f, gnuplot.ok() ? gnuplot->terminal : "pngcairo");
      CONFIDE_RETURN_IF_ERROR(write(f.id + ".gp", script));
      if (gnuplot.ok()) {
        // gnuplot writes a temporary name; the rename makes the PNG appear whole.
        const std::string png = o.out_dir + "/" + f.id + ".png";
        const std::string tmp = fmt::format("{}.tmp.{}", png, ::getpid());
        Status s = RenderPlot(*gnuplot, o.out_dir + "/" + f.id + ".gp", tmp);
        if (s.ok() && ::rename(tmp.c_str(), png.c_str()) != 0)
          s = UnavailableError(fmt::format("cannot rename {}: {}", tmp, std::strerror(errno)));
        if (s.ok()) {
          summary.files.push_back(f.id + ".png");
        } else {
          ::unlink(tmp.c_str());
          plot_errors.push_back(s.error().message);
          progress.Message("confide bench reproduce: plot skipped: " + s.error().message);
        }
      }
    }
    for (const Table& t : section.output.tables)
      CONFIDE_RETURN_IF_ERROR(write(t.id + ".csv", TableCsv(t)));
    report.sections.push_back(std::move(section));
  }

  summary.plots = gnuplot.ok() && plot_errors.empty();
  if (gnuplot.ok() && !plot_errors.empty()) {
    summary.plots_message =
        fmt::format("{} plot(s) failed: {}", plot_errors.size(), fmt::join(plot_errors, "; "));
    report.plots_message = summary.plots_message;
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.run_seconds = summary.seconds;
  CONFIDE_RETURN_IF_ERROR(write("REPORT.md", RenderReport(report, paper, why)));
  log << fmt::format(
      "confide bench reproduce: wrote {} files to {} in {}{}\n", summary.files.size(), o.out_dir,
      Progress::Duration(summary.seconds),
      summary.failed_cells
          ? fmt::format("; {} cells could not be measured (see REPORT.md)", summary.failed_cells)
          : "");
  if (o.require_plots && !summary.plots)
    return FailedPreconditionError("--require-plots: " + summary.plots_message);
  return summary;
}

}  // namespace confide::experiments
