// bench_machine — how much real time the enclave machine model spends per
// instruction, measured side by side in one run on this machine:
//
//   (a) building enclaves (ECREATE, per page EADD + 16 EEXTEND) against this
//       machine's raw SHA-256 throughput on 4 KiB blocks: the model's work is
//       mostly the measurement hash, so its hashed bytes per second should
//       come close to raw SHA-256's. Shown for 1 MiB enclaves, which stay in
//       cache (the model's own overhead), and for one 64 MiB enclave, where
//       EADD's copy into the EPC adds DRAM traffic (with a copy + hash
//       baseline beside it);
//   (b) EMAP + EUNMAP of a 1 MiB and a 256 MiB plugin: PIE maps a plugin
//       region-wise, so the cost must not grow with the plugin's size;
//   (c) an EPC page's round trip through EBLOCK, ETRACK, EWB and ELDU;
//   (d) a start policy's host-side work per request (platform/policy: the
//       policy, the model and the EPC driver; no enclave code runs, so no
//       KVM is needed): pie-cold against sgx1-cold, on a synthetic
//       workload the size of the Lua function of bench_monitor (a 150-page
//       runtime, a 1 MiB heap). On KVM the real start adds the enclave's
//       run (bench_monitor); this is the part that does not depend on it.
//
// Each measurement is repeated and the median printed. Virtual cycles come
// from the machine's cost profile (profiles/pie-xeon-e3.json), real
// nanoseconds from std::chrono::steady_clock.
//
// Usage: bench_machine [--quick]
//   --quick  small sizes, a few seconds (run by ctest); timings are printed
//            but never checked.
// Exits non-zero if any machine call fails, printing the error.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crypto/rsa.h"
#include "crypto/sha256.h"
#include "image/signer.h"
#include "machine/machine.h"
#include "machine/measurement.h"
#include "platform/epc_driver.h"
#include "platform/policy/start_policy.h"
#include "platform/workload.h"

namespace confide {
namespace {

using machine::EpcPage;
using machine::Machine;
using machine::PageType;
using machine::SecInfo;
using machine::Secs;
using Clock = std::chrono::steady_clock;

constexpr machine::Attributes kAttributes{machine::attr::kMode64Bit, 0x3};
// Bytes of measurement stream per EADDed page with all 16 chunks EEXTENDed.
constexpr double kStreamBytesPerPage =
    machine::kMeasurementRecordSize +
    16.0 * (machine::kMeasurementRecordSize + machine::kEextendChunkSize);  // 5184

struct Sizes {
  int reps;
  uint32_t build_pages;    // (a), pages built per repetition
  uint32_t small_enclave;  // (a), pages of the cache-resident enclave
  uint32_t small_plugin;   // (b), pages
  uint32_t big_plugin;     // (b), pages
  uint32_t emap_pairs;     // (b), per repetition
  uint32_t paging_pages;   // (c)
  int requests;            // (d), per policy
};
constexpr Sizes kFull{7, 16384, 256, 256, 65536, 20000, 4096, 300};
constexpr Sizes kQuick{3, 256, 64, 16, 1024, 500, 64, 5};

// ---- Helpers ----------------------------------------------------------------

[[noreturn]] void Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_machine: %s failed: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Fail(what, s);
}
template <typename T>
T Check(StatusOr<T> s, const char* what) {
  if (!s.ok()) Fail(what, s.status());
  return std::move(*s);
}

void Progress(const char* what) { std::fprintf(stderr, "bench_machine: %s\n", what); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Runs `body` `reps` times; returns the median of its measured seconds.
double Median(int reps, const std::function<double()>& body) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(body());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::unique_ptr<Machine> NewMachine(uint32_t epc_pages) {
  machine::MachineConfig config;
  config.epc_pages = epc_pages;
  config.cores = 2;
  config.root_secret = std::array<uint8_t, 32>{42};
  return Check(Machine::Create(config), "Machine::Create");
}

std::array<uint8_t, kPageSize> PatternPage(uint32_t seed) {
  std::array<uint8_t, kPageSize> p;
  for (size_t i = 0; i < kPageSize; ++i) p[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return p;
}

// Signs `mr_enclave` with `key` (attributes kAttributes).
machine::Sigstruct Sign(const crypto::Rsa3072PrivateKey& key, const crypto::Sha256Digest& mr) {
  image::SigningParams p;
  p.enclave_hash = mr;
  p.attributes = kAttributes;
  p.date = 0x20240101;
  return Check(image::SignEnclave(key, p), "SignEnclave");
}

// An enclave being built, with its expected MRENCLAVE replayed alongside.
struct Builder {
  Machine& m;
  EpcPage secs_page;
  Secs secs;
  crypto::Sha256 mr;
  EpcPage next_page;

  Builder(Machine& machine, uint64_t base, uint64_t size, EpcPage first_page)
      : m(machine), secs_page(first_page), next_page(first_page + 1) {
    secs.base_addr = base;
    secs.size = size;
    secs.attributes = kAttributes;
    Check(m.Ecreate(0, secs, secs_page), "ECREATE");
    mr.Update(machine::EcreateRecord(secs.ssa_frame_size, secs.size));
  }
  EpcPage Add(uint64_t offset, SecInfo si, ByteSpan data, bool extend) {
    const EpcPage page = next_page++;
    Check(m.Eadd(0, secs_page, secs.base_addr + offset, si, data, page), "EADD");
    mr.Update(machine::EaddRecord(offset, si));
    if (extend)
      for (uint64_t c = 0; c < kPageSize; c += machine::kEextendChunkSize) {
        Check(m.Eextend(0, secs_page, secs.base_addr + offset + c), "EEXTEND");
        mr.Update(machine::EextendRecord(offset + c));
        mr.Update(data.subspan(c, machine::kEextendChunkSize));
      }
    return page;
  }
  void Init(const crypto::Rsa3072PrivateKey& key) {
    crypto::Sha256 copy = mr;
    Check(m.Einit(0, secs_page, Sign(key, copy.Finish())), "EINIT");
  }
};

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU", flags;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 && model == "unknown CPU")
      model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && flags.empty()) flags = line;
  }
  if (flags.find(" sha_ni") != std::string::npos) model += " (SHA-NI)";
  return model;
}

// ---- Table output -------------------------------------------------------------

void Row(const char* what, const std::string& value, const char* unit,
         const std::string& note = "") {
  std::printf("  %-54s %16s  %-12s %s\n", what, value.c_str(), unit, note.c_str());
}
std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  // Thousands separators for readability of big integers.
  const std::string s = buf;
  const size_t start = s[0] == '-' ? 1 : 0;
  const size_t end = std::min(s.find('.'), s.size());
  std::string out = s.substr(0, start);
  for (size_t i = start; i < end; ++i) {
    out += s[i];
    if (i + 1 < end && (end - i - 1) % 3 == 0) out += ',';
  }
  out += s.substr(end);
  return out;
}

// ---- (a) EADD + EEXTEND versus raw SHA-256 --------------------------------------

// Builds `enclaves` enclaves of `pages` pages each (ECREATE, per page EADD +
// 16 EEXTEND), timed; teardown is not timed. Returns the median seconds per
// repetition and the virtual cycles per page.
std::pair<double, uint64_t> TimeBuilds(const Sizes& z, uint32_t pages, uint32_t enclaves) {
  auto m = NewMachine(pages + 8);
  const auto src = PatternPage(1);
  const SecInfo si = SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW);
  uint64_t size = 0x2000;
  while (size < uint64_t{pages} * kPageSize) size <<= 1;
  const uint64_t base = size;  // SIZE-aligned
  Secs secs;
  secs.base_addr = base;
  secs.size = size;
  secs.attributes = kAttributes;
  uint64_t cycles_per_page = 0;
  const double seconds = Median(z.reps, [&] {
    double timed = 0;
    for (uint32_t k = 0; k < enclaves; ++k) {
      const uint64_t cycles0 = m->CoreCycles(0);
      const auto t0 = Clock::now();
      Check(m->Ecreate(0, secs, 0), "ECREATE");
      for (uint32_t i = 0; i < pages; ++i) {
        const uint64_t addr = base + uint64_t{i} * kPageSize;
        Check(m->Eadd(0, 0, addr, si, src, i + 1), "EADD");
        for (uint64_t c = 0; c < kPageSize; c += machine::kEextendChunkSize)
          Check(m->Eextend(0, 0, addr + c), "EEXTEND");
      }
      timed += Seconds(Clock::now() - t0);
      cycles_per_page =
          (m->CoreCycles(0) - cycles0 - m->profile().Cycles(machine::Instruction::kEcreate)) /
          pages;
      for (uint32_t i = 1; i <= pages; ++i) Check(m->Eremove(0, i), "EREMOVE");
      Check(m->Eremove(0, 0), "EREMOVE (SECS)");
    }
    return timed;
  });
  return {seconds, cycles_per_page};
}

void BenchBuild(const Sizes& z) {
  const uint32_t n = z.build_pages;        // pages per repetition, both cases
  const uint32_t small = z.small_enclave;  // pages of the cache-resident enclave
  Progress("(a) building enclaves with EADD + 16 EEXTEND per page ...");
  const auto [small_s, cycles_per_page] = TimeBuilds(z, small, n / small);
  const auto [large_s, large_cycles] = TimeBuilds(z, n, 1);
  (void)large_cycles;

  Progress("(a) raw SHA-256 of 4 KiB blocks ...");
  std::vector<std::array<uint8_t, kPageSize>> blocks(64);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = PatternPage(static_cast<uint32_t>(i));
  volatile uint8_t sink = 0;  // keeps the hashing observable
  const double raw_s = Median(z.reps, [&] {
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < n; ++i) {
      crypto::Sha256 h;
      h.Update(blocks[i % blocks.size()]);
      sink = sink ^ h.Finish()[0];
    }
    return Seconds(Clock::now() - t0);
  });

  // The bytes the model hashes, in the model's update sizes (one running
  // hash; per page a 64-byte EADD record, then 16 x (64-byte EEXTEND record +
  // 256 data bytes)): the hashing cost alone, without the machine around it.
  Progress("(a) raw SHA-256 of the measurement stream in the model's update sizes ...");
  const auto src = PatternPage(1);
  const SecInfo si = SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW);
  const auto eadd = machine::EaddRecord(0, si);
  const auto eextend = machine::EextendRecord(0);
  auto hash_stream = [&](const uint8_t* page, crypto::Sha256& h) {
    h.Update(eadd);
    for (size_t c = 0; c < kPageSize; c += machine::kEextendChunkSize) {
      h.Update(eextend);
      h.Update(ByteSpan(page + c, machine::kEextendChunkSize));
    }
  };
  const double stream_s = Median(z.reps, [&] {
    const auto t0 = Clock::now();
    crypto::Sha256 h;
    for (uint32_t i = 0; i < n; ++i) hash_stream(src.data(), h);
    sink = sink ^ h.Finish()[0];
    return Seconds(Clock::now() - t0);
  });
  // What EADD's copy adds when the EPC is larger than the caches: copy each
  // page into a buffer as large as the enclave, then hash its stream.
  Progress("(a) copy into a large buffer + the same stream hash ...");
  std::vector<uint8_t> big(size_t{n} * kPageSize);
  const double copy_stream_s = Median(z.reps, [&] {
    const auto t0 = Clock::now();
    crypto::Sha256 h;
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t* dst = big.data() + size_t{i} * kPageSize;
      std::memcpy(dst, src.data(), kPageSize);
      hash_stream(dst, h);
    }
    sink = sink ^ h.Finish()[0];
    return Seconds(Clock::now() - t0);
  });

  const double raw_bps = n / raw_s * kPageSize;
  const double small_bps = n / small_s * kStreamBytesPerPage;
  const double large_bps = n / large_s * kStreamBytesPerPage;
  const double small_ratio = small_bps / raw_bps;
  std::printf(
      "\n(a) Building enclaves, ECREATE then per page EADD + 16 EEXTEND, %u pages per run,\n", n);
  std::printf("    vs. raw SHA-256 (crypto::Sha256 Update + Finish) of %u separate 4 KiB blocks.\n",
              n);
  std::printf(
      "    A page is 5184 bytes of measurement stream (64 EADD + 16 x (64 + 256)), so the\n"
      "    hashed-bytes ratio is the model's overhead beyond hashing; pages/s can reach at\n"
      "    most 4096/5184 = 0.79 of raw. Median of %d runs, real time.\n",
      z.reps);
  Row("raw SHA-256: 4 KiB blocks", Num(n / raw_s), "pages/s", Num(raw_bps / 1e6, 1) + " MB/s");
  Row(("model, " + Num(small * 4.0 / 1024, 0) + " MiB enclaves (fit in cache)").c_str(),
      Num(n / small_s), "pages/s", Num(small_bps / 1e6, 1) + " MB/s of stream");
  Row("  ratio model / raw, hashed bytes", Num(small_ratio, 3), "",
      small_ratio >= 0.80 ? "(target >= 0.80: met)" : "(target >= 0.80: NOT met)");
  Row("  ratio model / raw, pages", Num(raw_s / small_s, 3), "", "(ceiling 0.790)");
  Row(("model, one " + Num(n * 4.0 / 1024, 0) + " MiB enclave").c_str(), Num(n / large_s),
      "pages/s", Num(large_bps / 1e6, 1) + " MB/s of stream");
  Row("  ratio model / raw, hashed bytes", Num(large_bps / raw_bps, 3), "",
      "(EADD's copy into an EPC larger than the caches)");
  Row("per page: stream SHA-256 alone", Num(stream_s / n * 1e9), "ns");
  Row("per page: model, cache-resident enclave", Num(small_s / n * 1e9), "ns",
      "(" + Num(small_s / stream_s, 2) + "x the hashing alone)");
  Row("per page: copy into a large buffer + stream SHA-256", Num(copy_stream_s / n * 1e9), "ns");
  Row("per page: model, large enclave", Num(large_s / n * 1e9), "ns",
      "(" + Num(large_s / copy_stream_s, 2) + "x copy + hashing alone)");
  Row("model: virtual cycles per page", Num(static_cast<double>(cycles_per_page)), "cycles",
      "(profile: EADD 12500 + 16 x EEXTEND 5500 = 100500)");
}

// ---- (b) EMAP of a small and a big plugin ----------------------------------------

void BenchEmap(const Sizes& z, const crypto::Rsa3072PrivateKey& key) {
  constexpr uint64_t kHostBase = 0x40000000, kHostSize = 0x40000000;  // 1 GiB
  const uint64_t small_bytes = uint64_t{z.small_plugin} * kPageSize;
  const uint64_t big_bytes = uint64_t{z.big_plugin} * kPageSize;
  // Plugin bases inside the host's ELRANGE, each aligned to its size.
  const uint64_t big_base = kHostBase + 0x10000000;
  const uint64_t small_base = kHostBase + 0x30000000;
  auto m = NewMachine(z.small_plugin + z.big_plugin + 16);
  EpcPage next = 0;
  const SecInfo sreg = SecInfo::Make(PageType::kSreg, machine::secinfo::kR | machine::secinfo::kX);
  const auto src = PatternPage(2);

  auto build_plugin = [&](uint64_t base, uint64_t bytes, uint32_t pages) {
    Builder b(*m, base, bytes, next);
    for (uint32_t i = 0; i < pages; ++i)
      b.Add(uint64_t{i} * kPageSize, sreg, src, /*extend=*/false);
    b.Init(key);
    next = b.next_page;
    crypto::Sha256 copy = b.mr;
    return std::make_pair(b.secs_page, copy.Finish());
  };
  Progress("(b) building the small plugin ...");
  const auto [small_secs, small_mr] = build_plugin(small_base, small_bytes, z.small_plugin);
  Progress("(b) building the big plugin (EADD only) ...");
  const auto [big_secs, big_mr] = build_plugin(big_base, big_bytes, z.big_plugin);

  Progress("(b) building the host and timing EMAP/EUNMAP ...");
  Builder host(*m, kHostBase, kHostSize, next);
  host.Add(0, SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW), src,
           true);
  machine::Tcs tcs;
  tcs.ossa = 0x2000;
  const auto tcs_bytes = tcs.Serialize();
  const EpcPage tcs_page = host.Add(0x1000, SecInfo::Make(PageType::kTcs, 0), tcs_bytes, true);
  host.Add(0x2000, SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW), src,
           true);
  host.Init(key);
  Check(m->Eenter(0, tcs_page), "EENTER");

  struct Result {
    double pair_ns, emap_ns;
    double emap_cycles;
  };
  auto time_plugin = [&](EpcPage plugin, const crypto::Sha256Digest& mr) {
    Result r{};
    const auto before = m->Counters();
    r.pair_ns = 1e9 / z.emap_pairs * Median(z.reps, [&] {
                  const auto t0 = Clock::now();
                  for (uint32_t i = 0; i < z.emap_pairs; ++i) {
                    Check(m->Emap(0, plugin, mr), "EMAP");
                    Check(m->Eunmap(0, plugin), "EUNMAP");
                  }
                  return Seconds(Clock::now() - t0);
                });
    r.emap_ns = 1e9 / z.emap_pairs * Median(z.reps, [&] {
                  Clock::duration in_emap{};
                  for (uint32_t i = 0; i < z.emap_pairs; ++i) {
                    const auto t0 = Clock::now();
                    Check(m->Emap(0, plugin, mr), "EMAP");
                    in_emap += Clock::now() - t0;
                    Check(m->Eunmap(0, plugin), "EUNMAP");
                  }
                  return Seconds(in_emap);
                });
    const auto after = m->Counters();
    const size_t k = static_cast<size_t>(machine::Instruction::kEmap);
    r.emap_cycles = static_cast<double>(after.cycles[k] - before.cycles[k]) /
                    static_cast<double>(after.count[k] - before.count[k]);
    return r;
  };
  // Warm up both paths once, then measure.
  time_plugin(small_secs, small_mr);
  const Result small = time_plugin(small_secs, small_mr);
  const Result big = time_plugin(big_secs, big_mr);
  Check(m->Eexit(0), "EEXIT");

  std::printf("\n(b) EMAP of a %s plugin vs. a %s plugin into a 1 GiB host (plugin pages EADDed\n",
              small_bytes >= (1 << 20) ? (Num(small_bytes / 1048576.0) + " MiB").c_str()
                                       : (Num(small_bytes / 1024.0) + " KiB").c_str(),
              (Num(big_bytes / 1048576.0) + " MiB").c_str());
  std::printf(
      "    as PT_SREG without EEXTEND, to save time). %u EMAP+EUNMAP pairs per run, median of "
      "%d.\n",
      z.emap_pairs, z.reps);
  std::printf(
      "    \"EMAP alone\" times each EMAP call separately, so it includes one clock read (~20 "
      "ns).\n");
  Row("small plugin: pages", Num(z.small_plugin), "pages");
  Row("big plugin: pages", Num(z.big_plugin), "pages");
  Row("small plugin: EMAP + EUNMAP pair", Num(small.pair_ns), "ns");
  Row("big plugin: EMAP + EUNMAP pair", Num(big.pair_ns), "ns");
  Row("small plugin: EMAP alone", Num(small.emap_ns), "ns");
  Row("big plugin: EMAP alone", Num(big.emap_ns), "ns");
  const double ratio = big.emap_ns / small.emap_ns;
  Row("ratio big / small, EMAP alone", Num(ratio, 3), "",
      ratio <= 1.5 ? "(target <= 1.5: met)" : "(target <= 1.5: NOT met)");
  Row("ratio big / small, EMAP + EUNMAP pair", Num(big.pair_ns / small.pair_ns, 3), "");
  Row("virtual cycles per EMAP, small / big", Num(small.emap_cycles) + " / " + Num(big.emap_cycles),
      "cycles", "(profile: 9000)");
}

// ---- (c) EWB + ELDU round trip --------------------------------------------------

void BenchPaging(const Sizes& z, const crypto::Rsa3072PrivateKey& key) {
  Progress("(c) building the host for paging ...");
  const uint32_t n = z.paging_pages;
  auto m = NewMachine(n + 8);
  uint64_t size = 0x2000;
  while (size < uint64_t{n + 1} * kPageSize) size <<= 1;
  Builder host(*m, size, size, 0);
  const auto src = PatternPage(3);
  std::vector<EpcPage> pages;
  std::vector<uint64_t> addrs;
  for (uint32_t i = 0; i < n; ++i) {
    pages.push_back(host.Add(
        uint64_t{i} * kPageSize,
        SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW), src, false));
    addrs.push_back(size + uint64_t{i} * kPageSize);
  }
  host.Init(key);
  const EpcPage va = host.next_page;
  Check(m->Epa(0, va), "EPA");

  Progress("(c) timing EBLOCK + ETRACK + EWB + ELDU per page ...");
  uint64_t cycles = 0;
  const auto before = m->Counters();
  const double s = Median(z.reps, [&] {
    const uint64_t c0 = m->CoreCycles(0);
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < n; ++i) {
      Check(m->Eblock(0, pages[i]), "EBLOCK");
      Check(m->Etrack(0, host.secs_page), "ETRACK");
      machine::EvictedPage blob = Check(m->Ewb(0, pages[i], va, 0), "EWB");
      Check(m->Eldu(0, blob, host.secs_page, pages[i], va, 0), "ELDU");
    }
    const double t = Seconds(Clock::now() - t0);
    cycles = m->CoreCycles(0) - c0;
    return t;
  });
  const auto after = m->Counters();
  // The pages came back intact.
  for (uint32_t i = 0; i < n; ++i) {
    ByteSpan b = m->PageBytes(pages[i]);
    if (!std::equal(b.begin(), b.end(), src.begin())) {
      std::fprintf(stderr, "bench_machine: page %u changed across EWB/ELDU\n", i);
      std::exit(1);
    }
  }
  auto per = [&](machine::Instruction i) {
    const size_t k = static_cast<size_t>(i);
    return Num(static_cast<double>(after.cycles[k] - before.cycles[k]) /
               static_cast<double>(after.count[k] - before.count[k]));
  };
  std::printf(
      "\n(c) EPC paging round trip: EBLOCK + ETRACK + EWB + ELDU per page, %u pages of an\n", n);
  std::printf("    initialized host, one VA slot reused. Median of %d runs.\n", z.reps);
  Row("real time per page round trip", Num(s / n * 1e9), "ns");
  Row("virtual cycles per page round trip", Num(static_cast<double>(cycles) / n), "cycles",
      "(profile: EWB 20000 + ELDU 20000 + EBLOCK 0 + ETRACK 0)");
  Row("virtual cycles: EBLOCK / ETRACK / EWB / ELDU",
      per(machine::Instruction::kEblock) + " / " + per(machine::Instruction::kEtrack) + " / " +
          per(machine::Instruction::kEwb) + " / " + per(machine::Instruction::kEldu),
      "cycles");
}

// ---- (d) a start policy's host-side work ----------------------------------------

void BenchPolicyHostWork(const Sizes& z, const crypto::Rsa3072PrivateKey& key) {
  Progress("(d) pie-cold and sgx1-cold requests without enclave code ...");
  constexpr uint64_t kCodePages = 150;  // lua_runtime.elf: 0.6 MiB
  constexpr uint64_t kHeapPages = 256;  // 1 MiB, as bench_monitor's small heap
  const platform::WorkloadProfile workload =
      platform::SyntheticWorkload("lua-sized", kCodePages, kHeapPages, /*exec_cycles=*/0);
  machine::MachineConfig config;
  config.epc_pages = 16384;
  config.cores = 9;  // EnTurbo's workers, as FunctionWorker's machine
  config.root_secret = std::array<uint8_t, 32>{42};
  auto m = Check(Machine::Create(config), "Machine::Create");
  platform::EpcDriver driver(*m);
  platform::PolicyContext ctx;
  ctx.machine = m.get();
  ctx.driver = &driver;
  ctx.signing_key = &key;
  const char* names[] = {"pie-cold", "sgx1-cold"};
  std::unique_ptr<platform::StartPolicy> policies[2];
  std::vector<double> us[2];
  for (int k = 0; k < 2; ++k) {
    policies[k] = Check(platform::MakePolicy(names[k], ctx, workload), "MakePolicy");
    Check(policies[k]->Prepare(0), "Prepare");
  }
  // Interleaved, so that drifts hit both alike; the first request of each
  // (it signs the enclave) is left out.
  for (int i = 0; i <= z.requests; ++i) {
    for (int k = 0; k < 2; ++k) {
      const auto t0 = Clock::now();
      auto in = Check(policies[k]->Start(0), "Start");
      Check(policies[k]->Run(0, *in), "Run");
      Check(policies[k]->Finish(0, std::move(in)), "Finish");
      if (i > 0) us[k].push_back(Seconds(Clock::now() - t0) * 1e6);
    }
  }
  for (int k = 0; k < 2; ++k) Check(policies[k]->Shutdown(0), "Shutdown");
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double pie = median(us[0]), sgx1 = median(us[1]);
  // The machine is fresh: its first requests touch EPC pages (memfd pages)
  // for the first time, which costs the host a page fault each.
  const size_t first = std::min<size_t>(50, us[0].size());
  double pie_first = 0;
  for (size_t i = 0; i < first; ++i) pie_first += us[0][i] / static_cast<double>(first);
  std::printf(
      "\n(d) A start policy's host-side work per request: Start + Run + Finish with no enclave\n"
      "    code run (the model's virtual execution), synthetic workload of %" PRIu64
      " code pages and a\n"
      "    %" PRIu64
      "-page heap (EAUGed by pie-cold, EADDed and measured by sgx1-cold), %u-page "
      "EPC.\n"
      "    Median of %d requests each, interleaved. bench_monitor's real starts add the run.\n",
      kCodePages, kHeapPages, config.epc_pages, z.requests);
  Row("pie-cold host work per request", Num(pie), "us");
  Row("pie-cold, mean of the first requests on a fresh machine", Num(pie_first), "us",
      "(" + std::to_string(first) + " requests: EPC pages touched for the first time)");
  Row("sgx1-cold host work per request", Num(sgx1), "us");
  Row("ratio sgx1-cold / pie-cold", Num(sgx1 / pie, 2), "");
}

}  // namespace
}  // namespace confide

int main(int argc, char** argv) {
  using namespace confide;  // NOLINT
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
      return 2;
    }
  }
  const Sizes& z = quick ? kQuick : kFull;
  std::printf("# bench_machine%s: confide's enclave machine model, real time on this host\n",
              quick ? " --quick (small sizes; numbers are not meaningful)" : "");
  std::printf("# reproduce: make bench   (or: ./build/bench/bench_machine)\n");
  std::printf("# host CPU: %s; cost profile: %s\n", CpuModel().c_str(),
              machine::CostProfile::Default().name.c_str());
  std::fflush(stdout);

  const auto start = Clock::now();
  BenchBuild(z);
  std::fflush(stdout);
  Progress("generating an RSA-3072 signing key ...");
  const auto key = Check(crypto::Rsa3072PrivateKey::Generate(), "RSA key generation");
  BenchEmap(z, key);
  std::fflush(stdout);
  BenchPaging(z, key);
  std::fflush(stdout);
  BenchPolicyHostWork(z, key);
  std::printf("\n# total %.1f s\n", Seconds(Clock::now() - start));
  return 0;
}
