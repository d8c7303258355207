// exp_chain.cc — the chaining experiments: Fig. 3c (transfer cost vs data
// size and chain length, SGX) and Fig. 9d (hand-off cost vs chain length:
// SGX cold and warm transfer against PIE's in-situ remapping). Each chain is
// one RunChain on its own machine.

#include <fmt/format.h>

#include "experiments/experiment.h"
#include "platform/chain.h"

namespace confide::experiments {
namespace {

using platform::ChainConfig;
using platform::ChainMode;
using platform::ChainResult;
using platform::WorkloadProfile;

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct ChainCell {
  std::string series;
  std::string x;
  uint32_t length = 0;
  uint64_t data_bytes = 0;
  ChainMode mode = ChainMode::kTransfer;
  bool warm = false;
  WorkloadProfile function;
  std::optional<StatusOr<ChainResult>> result;
};

struct Buckets {
  uint64_t allocation = 0, transfer = 0, attestation = 0, remap = 0, zeroing = 0;
};
Buckets Sum(const ChainResult& r) {
  Buckets b;
  for (const platform::HopCost& h : r.hops) {
    b.allocation += h.allocation;
    b.transfer += h.transfer;
    b.attestation += h.attestation;
    b.remap += h.remap;
    b.zeroing += h.zeroing;
  }
  return b;
}

StatusOr<ChainResult> RunOneChain(const Setup& setup, const machine::CostProfile& profile,
                                  const ChainCell& cell) {
  CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Bench> bench, NewBench(setup, profile, 1));
  ChainConfig config;
  config.functions.assign(cell.length, cell.function);
  config.mode = cell.mode;
  config.warm = cell.warm;
  config.data_bytes = cell.data_bytes;
  return platform::RunChain(bench->ctx, 0, config, {});
}

std::vector<Job> ChainJobs(const Setup& setup, const machine::CostProfile& profile,
                           std::vector<ChainCell>& cells) {
  std::vector<Job> jobs;
  for (ChainCell& c : cells) {
    Job job;
    job.label = fmt::format("{} chain of {}, {} MiB", c.series, c.length, c.data_bytes / kMiB);
    // Transfer chains build every function's enclave; in-situ chains build
    // the plugins once.
    const double code = static_cast<double>(c.function.code_pages());
    const double data = static_cast<double>(c.data_bytes / 4096);
    job.weight = c.mode == ChainMode::kTransfer ? PageSeconds(c.length * (2 * code + 2 * data))
                                                : PageSeconds(2 * code + c.length * data);
    job.run = [&setup, profile, &c](JobProgress&) {
      c.result = RunOneChain(setup, profile, c);
      return c.result->ok();
    };
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Table BreakdownTable(const std::string& id, const std::string& title,
                     const machine::CostProfile& profile, const std::vector<ChainCell>& cells,
                     double scale, const char* unit) {
  Table t;
  t.id = id;
  t.title = title;
  t.note = fmt::format(
      "Per chain, summed over its hops, in {}: allocation = the receiver's heap for the data "
      "(EAUG + EACCEPT, or touching a pre-allocated heap), transfer = enclave exits and "
      "entries plus encrypt, copy out, copy in, decrypt; attestation = mutual attestation and "
      "handshake per hop; remap = EUNMAP/EMAP; zeroing = EREMOVE of copy-on-write pages. "
      "setup = building enclaves, plugins and the host (not hand-off).",
      unit);
  t.columns = {"series",      "length", "data_mib", "handoff", "allocation", "transfer",
               "attestation", "remap",  "zeroing",  "setup",   "error"};
  const auto v = [&](uint64_t cycles) {
    return fmt::format("{:.4g}", scale * profile.Seconds(cycles));
  };
  for (const ChainCell& c : cells) {
    std::vector<std::string> row = {c.series, std::to_string(c.length),
                                    std::to_string(c.data_bytes / kMiB)};
    if (c.result && c.result->ok()) {
      const ChainResult& r = **c.result;
      const Buckets b = Sum(r);
      for (uint64_t x : {r.handoff_cycles, b.allocation, b.transfer, b.attestation, b.remap,
                         b.zeroing, r.setup_cycles})
        row.push_back(v(x));
      row.push_back("");
    } else {
      row.insert(row.end(), 7, "");
      row.push_back(c.result ? OneLine(c.result->error()) : "not run");
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// ---- Fig. 3c --------------------------------------------------------------------

class Fig3c : public Experiment {
 public:
  explicit Fig3c(const Setup& setup) : setup_(setup) {}

  StatusOr<std::vector<Job>> Plan() override {
    CONFIDE_ASSIGN_OR_RETURN(profile_, setup_.Profile("j5005"));
    std::vector<uint64_t> sizes = {4, 16, 32, 64};
    if (setup_.quick) sizes = {4, 16};
    // A small function: the hand-off does not depend on the code size, and
    // a small image leaves the EPC to the data, as in the paper's
    // microbenchmark.
    const WorkloadProfile fn = platform::SyntheticWorkload("fig3c-function", kFunctionPages, 0, 0);
    for (uint32_t length : {2u, 3u, 4u}) {
      for (uint64_t mib : sizes) {
        ChainCell c;
        c.series = fmt::format("{}-func", length);
        c.x = fmt::format("{}MB", mib);
        c.length = length;
        c.data_bytes = mib * kMiB;
        c.function = fn;
        cells_.push_back(std::move(c));
      }
    }
    return ChainJobs(setup_, profile_, cells_);
  }

  ExperimentOutput Assemble() override {
    Figure f;
    f.id = "fig3c";
    f.title = "Chain transfer cost vs data size (PIE Fig. 3c)";
    f.unit = "s";
    f.x_label = "data size";
    f.y_label = "transfer cost (s)";
    f.plot = PlotKind::kBars;
    f.method = fmt::format(
        "A transfer chain (SGX, cold: each receiver EAUGs its heap for the data at the hop) of "
        "2, 3 and 4 functions of {} KiB of code each, on an idle {} machine ({:.1f} GHz, {} MiB "
        "EPC), with 4-64 MiB of data. Cost = heap allocation + SSL transfer summed over the "
        "hops, as the paper plots (attestation and handshake excluded: section III-A calls "
        "them constant, under 25 ms).",
        kFunctionPages * 4, profile_.name, profile_.frequency_hz / 1e9, profile_.epc_bytes >> 20);
    for (const ChainCell& c : cells_) {
      f.AddPoint(c.series, fmt::format("{}-func chain", c.length),
                 PointOf(c.x, c.result, [&](const ChainResult& r) {
                   const Buckets b = Sum(r);
                   return profile_.Seconds(b.allocation + b.transfer);
                 }));
    }
    ExperimentOutput out;
    out.figures.push_back(std::move(f));
    out.tables.push_back(BreakdownTable("fig3c-breakdown", "Fig. 3c chains, cost by part", profile_,
                                        cells_, 1.0, "seconds"));
    return out;
  }

 private:
  static constexpr uint64_t kFunctionPages = 256;  // 1 MiB
  const Setup& setup_;
  machine::CostProfile profile_;
  std::vector<ChainCell> cells_;
};

// ---- Fig. 9d --------------------------------------------------------------------

class Fig9d : public Experiment {
 public:
  explicit Fig9d(const Setup& setup) : setup_(setup) {}

  StatusOr<std::vector<Job>> Plan() override {
    CONFIDE_ASSIGN_OR_RETURN(profile_, setup_.Profile("pie-xeon-e3"));
    std::optional<WorkloadProfile> fn;
    for (const WorkloadProfile& w : PaperWorkloads(setup_, profile_))
      if (w.name == "face-detector") fn = w;
    if (!fn) return NotFoundError("fig9d: the face-detector workload is missing");
    const uint32_t max_length = setup_.quick ? 4 : 10;
    struct Mode {
      const char* key;
      ChainMode mode;
      bool warm;
    };
    for (const Mode& m : {Mode{"sgx-cold", ChainMode::kTransfer, false},
                          Mode{"sgx-warm", ChainMode::kTransfer, true},
                          Mode{"pie-cold", ChainMode::kInSitu, false}}) {
      for (uint32_t length = 2; length <= max_length; ++length) {
        ChainCell c;
        c.series = m.key;
        c.x = std::to_string(length);
        c.length = length;
        c.data_bytes = kDataBytes;
        c.mode = m.mode;
        c.warm = m.warm;
        c.function = *fn;
        cells_.push_back(std::move(c));
      }
    }
    return ChainJobs(setup_, profile_, cells_);
  }

  ExperimentOutput Assemble() override {
    Figure f;
    f.id = "fig9d";
    f.title = "Chain hand-off cost vs chain length, 10 MB of data (PIE Fig. 9d)";
    f.unit = "ms";
    f.x_label = "functions in the chain";
    f.y_label = "hand-off cost (ms)";
    f.plot = PlotKind::kLines;
    f.log_y = true;
    f.method = fmt::format(
        "A chain of 2..10 face-detector functions (Python, 53 library plugins) passing 10 MiB "
        "of data, on an idle {} machine ({:.1f} GHz). SGX cold start = transfer chain whose "
        "receivers EAUG their heap at the hop; SGX warm start = transfer chain whose receivers "
        "allocated it before; PIE cold start = in-situ chain (one host keeps the data, EUNMAPs "
        "a function's library and function plugins, EREMOVEs its copy-on-write pages, EMAPs "
        "the next's; the runtime plugin stays mapped). Cost = sum of the hops' hand-off cycles "
        "(transfer hops include attestation and handshake); building enclaves and plugins is "
        "setup, not hand-off.",
        profile_.name, profile_.frequency_hz / 1e9);
    const std::pair<const char*, const char*> labels[] = {{"sgx-cold", "SGX-based cold start"},
                                                          {"sgx-warm", "SGX-based warm start"},
                                                          {"pie-cold", "PIE-based cold start"}};
    for (const ChainCell& c : cells_) {
      std::string label;
      for (const auto& [k, l] : labels)
        if (c.series == k) label = l;
      f.AddPoint(c.series, label, PointOf(c.x, c.result, [&](const ChainResult& r) {
                   return 1e3 * profile_.Seconds(r.handoff_cycles);
                 }));
    }
    ExperimentOutput out;
    out.figures.push_back(std::move(f));
    out.tables.push_back(BreakdownTable("fig9d-breakdown", "Fig. 9d chains, cost by part", profile_,
                                        cells_, 1e3, "milliseconds"));
    return out;
  }

 private:
  static constexpr uint64_t kDataBytes = 10 * kMiB;
  const Setup& setup_;
  machine::CostProfile profile_;
  std::vector<ChainCell> cells_;
};

}  // namespace

std::unique_ptr<Experiment> MakeFig3c(const Setup& setup) { return std::make_unique<Fig3c>(setup); }
std::unique_ptr<Experiment> MakeFig9d(const Setup& setup) { return std::make_unique<Fig9d>(setup); }

}  // namespace confide::experiments
