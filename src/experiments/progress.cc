#include "experiments/progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace confide::experiments {

namespace {
constexpr int kBarWidth = 24;
constexpr double kPlainInterval = 5.0;  // seconds between plain progress lines
}  // namespace

Progress::Progress(std::ostream& out, bool tty, double run_weight)
    : out_(out), tty_(tty), run_weight_(std::max(run_weight, 1e-9)) {}

std::string Progress::Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) return fmt::format("{:.1f}s", s);
  const long total = std::lround(s);
  if (total < 3600) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
}

double Progress::Elapsed(Clock::time_point since) const {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Progress::Scale() const {
  // Actual seconds per estimated second, over everything done so far; 1
  // until there is something to go by.
  double done = run_done_weight_ + done_weight_;
  for (const auto& [job, r] : running_) done += r.second * weights_.at(job);
  const double seconds = run_done_seconds_ + Elapsed(start_);
  if (done < 1e-6 || seconds < 0.5) return 1.0;
  return seconds / done;
}

std::string Progress::Line(bool final) const {
  double done = done_weight_;
  for (const auto& [job, r] : running_) done += r.second * weights_.at(job);
  const double frac = weight_ > 0 ? std::clamp(done / weight_, 0.0, 1.0) : 1.0;
  const int filled = static_cast<int>(std::lround(frac * kBarWidth));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  const double elapsed = Elapsed(start_);
  if (final)
    return fmt::format("[{}] {:<9} {}/{} jobs{} in {}; run elapsed {}", bar, name_, jobs_done_,
                       jobs_, failed_ ? fmt::format(" ({} failed)", failed_) : "",
                       Duration(elapsed), Duration(Elapsed(run_start_)));
  const double scale = Scale();
  const double left = std::max(0.0, weight_ - done) * scale;
  const double run_left = std::max(0.0, run_weight_ - run_done_weight_ - done) * scale;
  std::string what = last_label_;
  if (!running_.empty()) what = running_.begin()->second.first;
  if (what.size() > 38) what = what.substr(0, 35) + "...";
  return fmt::format("[{}] {:<9} {:3.0f}% {}/{} {:<38} {} elapsed, ETA {} (run ETA {})", bar, name_,
                     100 * frac, jobs_done_, jobs_, what, Duration(elapsed), Duration(left),
                     Duration(run_left));
}

void Progress::Draw(bool final) {
  if (tty_) {
    out_ << "\r\x1b[K" << Line(final);
    if (final) out_ << "\n";
    out_.flush();
    drawn_ = !final;
  } else {
    if (!final && Elapsed(last_line_) < kPlainInterval) return;
    last_line_ = Clock::now();
    out_ << Line(final) << "\n";
    out_.flush();
  }
}

void Progress::BeginExperiment(std::string_view name, size_t jobs, double weight) {
  std::lock_guard lock(mu_);
  name_ = std::string(name);
  jobs_ = jobs;
  jobs_done_ = failed_ = 0;
  weight_ = weight;
  done_weight_ = 0;
  start_ = Clock::now();
  running_.clear();
  weights_.clear();
  last_label_ = "starting";
  if (tty_) Draw(false);
}

void Progress::JobStarted(size_t job, std::string_view label, double weight) {
  std::lock_guard lock(mu_);
  running_[job] = {std::string(label), 0.0};
  weights_[job] = weight;
  if (tty_) Draw(false);
}

void Progress::JobFraction(size_t job, double done) {
  std::lock_guard lock(mu_);
  auto it = running_.find(job);
  if (it == running_.end()) return;
  it->second.second = std::clamp(done, 0.0, 1.0);
  if (tty_) Draw(false);
}

void Progress::JobDone(size_t job, bool ok) {
  std::lock_guard lock(mu_);
  const double weight = weights_.count(job) ? weights_.at(job) : 0;
  auto it = running_.find(job);
  if (it != running_.end()) {
    last_label_ = it->second.first + (ok ? "" : " FAILED");
    running_.erase(it);
  }
  weights_.erase(job);
  ++jobs_done_;
  if (!ok) ++failed_;
  done_weight_ += weight;
  Draw(false);
}

void Progress::EndExperiment() {
  std::lock_guard lock(mu_);
  Draw(true);
  run_done_weight_ += weight_;
  run_done_seconds_ += Elapsed(start_);
  done_weight_ = 0;
  weight_ = 0;
}

void Progress::Message(std::string_view line) {
  std::lock_guard lock(mu_);
  if (tty_ && drawn_) out_ << "\r\x1b[K";
  out_ << line << "\n";
  if (tty_ && drawn_) out_ << Line(false);
  out_.flush();
}

}  // namespace confide::experiments
