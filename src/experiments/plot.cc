#include "experiments/plot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace confide::experiments {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Runs argv, capturing stdout and stderr together. The exit status is
// returned beside the output; errors are for a failure to run at all.
StatusOr<std::pair<int, std::string>> Capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return UnavailableError(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return UnavailableError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return std::make_pair(code, out);
}

std::optional<std::string> OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

// A value as gnuplot data: "?" (missing) when absent, or when not positive
// on a log scale.
std::string Datum(const std::optional<double>& v, bool log_y) {
  if (!v || !std::isfinite(*v) || (log_y && *v <= 0)) return "?";
  return fmt::format("{:.6g}", *v);
}

}  // namespace

StatusOr<Gnuplot> FindGnuplot() {
  const std::optional<std::string> path = OnPath("gnuplot");
  if (!path)
    return UnavailableError(
        "gnuplot is not installed (Debian: apt-get install gnuplot-nox; `make setup` does it)");
  CONFIDE_ASSIGN_OR_RETURN(auto result, Capture({*path, "-e", "set terminal"}));
  const std::string& terminals = result.second;
  const auto has = [&](std::string_view t) {
    // Terminal names are listed one per line, right-aligned, then a space.
    return terminals.find(fmt::format(" {} ", t)) != std::string::npos;
  };
  if (has("pngcairo")) return Gnuplot{*path, "pngcairo"};
  if (has("png")) return Gnuplot{*path, "png"};
  return UnavailableError(fmt::format("{} has no PNG terminal (pngcairo or png)", *path));
}

std::string GnuplotScript(const Figure& f, const std::string& terminal) {
  std::string gp = fmt::format(
      "# {}.gp: {}\n"
      "# Written by `confide bench reproduce`; draw it again with: gnuplot {}.gp\n"
      "if (!exists(\"outfile\")) outfile = \"{}.png\"\n"
      "set terminal {} size 1000,600{}\n"
      "set output outfile\n"
      "set title {}\n"
      "set xlabel {}\n"
      "set ylabel {}\n"
      "set datafile missing \"?\"\n"
      "set key outside right top vertical\n"
      "set grid ytics\n",
      f.id, f.title, f.id, f.id, terminal, terminal == "pngcairo" ? " font \"sans,10\"" : "",
      Quote(f.title), Quote(f.x_label), Quote(f.y_label));
  if (f.log_y) gp += "set logscale y\n";
  // x labels in first-seen order.
  std::vector<std::string> xs;
  for (const Series& s : f.series)
    for (const Point& p : s.points)
      if (std::find(xs.begin(), xs.end(), p.x) == xs.end()) xs.push_back(p.x);
  // One row per x: label, then per series ours (and the paper's when compared).
  gp += "$data << EOD\n";
  for (const std::string& x : xs) {
    gp += Quote(x);
    for (const Series& s : f.series) {
      const Point* p = f.Find(s.key, x);
      gp += " " + Datum(p ? p->ours : std::nullopt, f.log_y);
      if (f.compare) gp += " " + Datum(p ? p->paper : std::nullopt, f.log_y);
    }
    gp += "\n";
  }
  gp += "EOD\n";
  bool any = false;
  for (const Series& s : f.series)
    for (const Point& p : s.points) any |= p.ours.has_value() || p.paper.has_value();
  if (!any) {
    // Every run failed: an empty frame that says so (gnuplot refuses to
    // plot a data block with no valid point).
    gp +=
        "unset logscale y\nset label 1 \"no data: every run of this figure failed (see "
        "REPORT.md)\" at graph 0.5, 0.5 center\nplot [0:1] [0:1] NaN notitle\n";
    return gp;
  }
  const int per = f.compare ? 2 : 1;
  std::vector<std::string> clauses;
  if (f.plot == PlotKind::kBars) {
    gp +=
        "set style data histogram\n"
        "set style histogram clustered gap 1\n"
        "set boxwidth 0.9\n"
        "set xtics nomirror\n";
    if (!f.log_y) gp += "set yrange [0:*]\n";
    for (size_t i = 0; i < f.series.size(); ++i) {
      const int col = 2 + static_cast<int>(i) * per;
      const char* color = kColors[i % std::size(kColors)];
      clauses.push_back(fmt::format("$data using {}:xtic(1) title {} lc rgb \"{}\" fs solid 0.85",
                                    col, Quote(f.series[i].label + (f.compare ? " (ours)" : "")),
                                    color));
      if (f.compare)
        clauses.push_back(
            fmt::format("$data using {} title {} lc rgb \"{}\" fs pattern 4 border lc rgb \"{}\"",
                        col + 1, Quote(f.series[i].label + " (paper)"), color, color));
    }
  } else {
    gp += "set xtics nomirror\nset offsets 0.2, 0.2, 0, 0\n";
    for (size_t i = 0; i < f.series.size(); ++i) {
      const int col = 2 + static_cast<int>(i) * per;
      const char* color = kColors[i % std::size(kColors)];
      clauses.push_back(
          fmt::format("$data using 0:{}:xtic(1) with linespoints lw 2 pt 7 lc rgb \"{}\" title {}",
                      col, color, Quote(f.series[i].label + (f.compare ? " (ours)" : ""))));
      if (f.compare)
        clauses.push_back(
            fmt::format("$data using 0:{} with linespoints lw 1 dt 2 pt 6 lc rgb \"{}\" title {}",
                        col + 1, color, Quote(f.series[i].label + " (paper)")));
    }
  }
  gp += "plot ";
  for (size_t i = 0; i < clauses.size(); ++i) gp += (i ? ", \\\n     " : "") + clauses[i];
  gp += "\n";
  return gp;
}

Status RenderPlot(const Gnuplot& gnuplot, const std::string& script_path,
                  const std::string& png_path) {
  CONFIDE_ASSIGN_OR_RETURN(
      auto result,
      Capture({gnuplot.path, "-e", fmt::format("outfile={}", Quote(png_path)), script_path}));
  if (result.first != 0) {
    std::string msg = result.second;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return InternalError(
        fmt::format("gnuplot {} exited with status {}: {}", script_path, result.first, msg));
  }
  struct stat st {};
  if (::stat(png_path.c_str(), &st) != 0 || st.st_size == 0)
    return InternalError(fmt::format("gnuplot {} wrote no image", script_path));
  return OkStatus();
}

}  // namespace confide::experiments
