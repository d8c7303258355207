// progress.h — the progress display of `confide bench reproduce` on stderr:
// one line per experiment with a bar, the jobs done, the elapsed time and
// an ETA for the experiment and for the whole run.
//
// On a terminal the line is redrawn in place ("\r" + erase to end of
// line) and left behind, complete, when the experiment ends; elsewhere
// (a log file, CI) every finished job prints one plain line, so the output
// reads well without cursor control (at most one line every few seconds,
// and one when the experiment ends).
//
// ETAs come from job weights (estimated seconds): the work left, scaled by
// how the actual time of the work done so far compares with its estimate.
//
// Thread-safety: every method may be called from any thread (jobs report
// from the pool's threads); output is serialized by an internal mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

namespace confide::experiments {

class Progress {
 public:
  // `out` is borrowed and must outlive this object. `run_weight` is the sum
  // of the weights of every job of the run.
  Progress(std::ostream& out, bool tty, double run_weight);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void BeginExperiment(std::string_view name, size_t jobs, double weight);
  void JobStarted(size_t job, std::string_view label, double weight);
  // Part of a running job done, in [0, 1].
  void JobFraction(size_t job, double done);
  void JobDone(size_t job, bool ok);
  void EndExperiment();
  // A line of text, printed above the bar (warnings, skipped plots).
  void Message(std::string_view line);

  // "1m05s" / "42.3s".
  static std::string Duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  double Elapsed(Clock::time_point since) const;
  // Requires mu_.
  std::string Line(bool final) const;
  void Draw(bool final);
  double Scale() const;

  std::ostream& out_;
  const bool tty_;
  const double run_weight_;
  const Clock::time_point run_start_ = Clock::now();

  std::mutex mu_;
  // Guarded by mu_.
  std::string name_;
  size_t jobs_ = 0;
  size_t jobs_done_ = 0;
  size_t failed_ = 0;
  double weight_ = 0;       // of the current experiment
  double done_weight_ = 0;  // of its finished jobs
  double run_done_weight_ = 0;
  double run_done_seconds_ = 0;  // real time of finished experiments
  Clock::time_point start_ = Clock::now();
  std::map<size_t, std::pair<std::string, double>> running_;  // job -> (label, fraction)
  std::map<size_t, double> weights_;                          // job -> weight (running)
  std::string last_label_;
  bool drawn_ = false;
  Clock::time_point last_line_{};  // plain mode: when the last line was printed
};

}  // namespace confide::experiments
