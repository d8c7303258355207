// machine_internal.h — state and helpers shared by the instruction files of
// the machine (creation.cc, dynamic.cc, paging.cc, attestation.cc, entry.cc,
// pie.cc, access.cc). Not part of the machine's interface.
//
// Thread-safety and locking (see machine.h for the contract):
//   Enclave::mu guards the enclave's fields and its pages' bytes.
//   Machine::Core is touched only by the thread driving that core.
//   MachineOps::va_mu guards the bytes of every VA page.
//   MachineOps::epcm_mu guards every EpcmEntry and the SECS table.
// Order: host Enclave::mu -> plugin Enclave::mu -> va_mu -> epcm_mu. Never
// take an enclave lock while holding va_mu or epcm_mu. EMAP, whose target is not known to be a
// plugin until it is locked, takes the host/target pair with std::scoped_lock.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "machine/machine.h"
#include "machine/measurement.h"

namespace confide::machine {

enum class EnclaveKind : uint8_t { kUndecided, kHost, kPlugin };

struct TcsState {
  bool busy = false;
  uint32_t cssa = 0;
  uint32_t nssa = 1;
  uint64_t oentry = 0;
};

struct EnclaveState;

struct PluginMapping {
  std::shared_ptr<EnclaveState> plugin;
  uint64_t end = 0;  // one past the last byte of the plugin's ELRANGE
};

// PIE extends the SECS with the EIDs of mapped plugins (§IV-C). The SECS
// page has about 3.7 KiB reserved; confide allows 256 eight-byte slots.
inline constexpr size_t kMaxPluginsPerHost = 256;

struct EnclaveState {
  std::mutex mu;
  // Constant after ECREATE.
  EpcPage secs_page = 0;
  uint64_t eid = 0;
  // Guarded by mu.
  Secs secs;
  MeasurementBuilder measurement;  // MRENCLAVE (or EnTurbo's split value) until EINIT
  bool initialized = false;
  std::atomic<bool> removed{false};  // SECS EREMOVEd; handles still held are dead
  EnclaveKind kind = EnclaveKind::kUndecided;
  bool plugin_torn = false;                    // a page of this plugin was EREMOVEd (PIE §IV-E)
  std::map<uint64_t, EpcPage> pages;           // resident pages by linear address (see below)
  uint64_t page_generation = 0;                // advanced by every change of `pages`
  std::set<uint64_t> evicted;                  // linear addresses of pages out by EWB
  uint32_t children = 0;                       // resident EPC pages owned, SECS excluded
  std::map<uint64_t, PluginMapping> mappings;  // host: mapped plugins by base
  uint32_t mapped_by = 0;                      // plugin: hosts that map it
  // Threads inside (EENTER/ERESUME .. EEXIT/AEX). Written under mu.
  std::atomic<uint32_t> threads_inside{0};
  // Plugin: how many of the hosts that map it have a thread inside. Written
  // under the host's mu (entry, exit, EMAP, EUNMAP); read without a lock by
  // EBLOCK/EWB of the plugin's pages, which must not take a host's lock (the
  // order is host -> plugin) and must not scan thousands of mapping hosts.
  std::atomic<uint32_t> busy_mappers{0};
  std::map<EpcPage, TcsState> tcs;
  std::map<uint64_t, TcsState> evicted_tcs;  // state of TCS pages out by EWB, by address
  std::multiset<uint64_t> inside_epochs;     // entry epoch of each thread inside
  uint64_t epoch = 0;                        // advanced by ETRACK
  uint64_t busy_until = 0;                   // virtual time this enclave is busy until
  EnclaveStats stats;
  // EnTurbo only (empty otherwise): each range's EEXTENDs serialize on their
  // own clock, and an EEXTEND starts no earlier than its page's EADD ended.
  // eadd_end is dropped at EINIT (no EEXTEND can follow).
  std::vector<uint64_t> range_busy_until;           // by range index
  std::unordered_map<uint64_t, uint64_t> eadd_end;  // page address -> EADD end

  bool Contains(uint64_t linaddr) const {
    return linaddr >= secs.base_addr && linaddr - secs.base_addr < secs.size;
  }
  bool enturbo() const { return secs.measure_range_pages != 0; }

  // `pages` is changed only through these, which keep a one-entry cache of
  // the last page found: EEXTEND looks up the page EADD just added 16 times
  // in a row, and a tree walk per lookup would cost more than the hashing.
  std::optional<EpcPage> FindPage(uint64_t page_addr) {
    if (page_addr == cached_addr_) return cached_page_;
    auto it = pages.find(page_addr);
    if (it == pages.end()) return std::nullopt;
    cached_addr_ = page_addr;
    cached_page_ = it->second;
    return it->second;
  }
  void InsertPage(uint64_t page_addr, EpcPage page) {
    // Loaders add pages in ascending order: appending with a hint skips the
    // walk down a tree that, for a large enclave, is mostly out of cache.
    if (pages.empty() || page_addr > pages.rbegin()->first)
      pages.emplace_hint(pages.end(), page_addr, page);
    else
      pages[page_addr] = page;
    cached_addr_ = page_addr;
    cached_page_ = page;
    ++page_generation;
  }
  void ErasePage(uint64_t page_addr) {
    pages.erase(page_addr);
    ++page_generation;
    if (cached_addr_ == page_addr) cached_addr_ = kNoPage;
  }

 private:
  static constexpr uint64_t kNoPage = ~uint64_t{0};  // never page aligned
  uint64_t cached_addr_ = kNoPage;
  EpcPage cached_page_ = 0;
};

struct Machine::Core {
  std::atomic<uint64_t> cycles{0};
  CoreCounters counters;
  // One-entry cache of the last SECS this core looked up (MachineOps::LookupSecs).
  std::shared_ptr<EnclaveState> last_secs;
  EpcPage last_secs_page = 0;
  // Enclave mode: set by EENTER/ERESUME, cleared by EEXIT/AEX.
  std::shared_ptr<EnclaveState> enclave;
  EpcPage tcs = 0;
  uint64_t entry_epoch = 0;
  bool in_enclave() const { return enclave != nullptr; }
};

// Helpers with access to Machine's internals. All static; each documents the
// locks it expects.
class MachineOps {
 public:
  static std::mutex& EpcmMu(Machine& m);
  // The enclave whose SECS is `secs`, or #PF at the page's address.
  // Takes epcm_mu. REQUIRES: not holding epcm_mu.
  static StatusOr<std::shared_ptr<EnclaveState>> LookupSecs(Machine& m, EpcPage secs);
  static StatusOr<std::shared_ptr<EnclaveState>> LookupSecs(const Machine& m, EpcPage secs);
  // The same through a one-entry cache on the core: the OS drives one enclave
  // at a time on a core, so a run of EADD/EEXTEND costs one table lookup. The
  // pointer stays valid until the next LookupSecs on this core (the core holds
  // a reference); a removed SECS is never returned from the cache.
  static StatusOr<EnclaveState*> LookupSecs(Machine& m, Machine::Core& c, EpcPage secs);
  static void RegisterSecs(Machine& m, EpcPage secs, std::shared_ptr<EnclaveState> e);
  static void UnregisterSecs(Machine& m, EpcPage secs);
  // The core, or nullptr if `core` is out of range.
  static Machine::Core* CoreAt(Machine& m, CoreId core);
  static const Machine::Core* CoreAt(const Machine& m, CoreId core);
  // Returns the core for an ENCLS leaf: #GP for a bad core id, #UD if the core
  // is in enclave mode (ENCLS at CPL3).
  static StatusOr<Machine::Core*> EnclsCore(Machine& m, CoreId core, Instruction i);
  // Returns the core for an ENCLU leaf that runs inside an enclave: #GP(0) if
  // the core is not in enclave mode.
  static StatusOr<Machine::Core*> EncluCore(Machine& m, CoreId core, Instruction i);
  // EENTER / ERESUME (entry.cc).
  static Status EnterTcs(Machine& m, CoreId core, EpcPage tcs, Instruction i);
  // Charges `i` to the core's clock and the enclave's, and counts it. The
  // instruction starts at the latest of the core's clock, the enclave's
  // busy_until and `not_before`. REQUIRES: holding e.mu (if e is given).
  static void Charge(Machine& m, Machine::Core& c, EnclaveState* e, Instruction i,
                     uint64_t not_before = 0);
  // Charges `i` like Charge, but serialized on `*busy_until` (an EnTurbo
  // range's clock) instead of the enclave's busy_until, which it leaves as
  // is. Counts it for `e`. REQUIRES: holding e.mu.
  static void ChargeOn(Machine& m, Machine::Core& c, EnclaveState& e, Instruction i,
                       uint64_t* busy_until, uint64_t not_before);
  // Claims free page `p` for an enclave page. #PF if `p` is outside the EPC or
  // EPCM.VALID is set. Takes epcm_mu. On success the entry is valid with the
  // given fields.
  static Status ClaimPage(Machine& m, EpcPage p, const EpcmEntry& entry, Instruction i);
  // VerifySigstruct (sigstruct.h), remembered per SIGSTRUCT: a PIE host or
  // a warm pool EINITs the same one over and over, and the RSA-3072
  // verification is most of EINIT's real time (~40 us).
  static Status VerifySigstructOnce(Machine& m, const Sigstruct& sig);
  static void ReleasePage(Machine& m, EpcPage p);
  // EPCM entry copy under epcm_mu; #PF if out of range.
  static StatusOr<EpcmEntry> ReadEpcm(const Machine& m, EpcPage p);
  static void WriteEpcm(Machine& m, EpcPage p, const EpcmEntry& entry);
  static Epc& EpcOf(Machine& m);
  // Counts a page event for the enclave and the core.
  // REQUIRES: holding e.mu.
  static void CountEvent(Machine::Core& c, EnclaveState& e, uint64_t PageEvents::*event);
  // Counts a page event for the core only (a VA page belongs to no enclave).
  static void CountCoreEvent(Machine::Core& c, uint64_t PageEvents::*event);
  // True in cost-only mode: no bytes of non-VA pages are read or written.
  static bool CostOnly(const Machine& m);
  static std::mutex& VaMu(Machine& m);
  static uint64_t NextVersion(Machine& m);
  static uint64_t NextEnclaveId(Machine& m);
  static const crypto::Aes128Key& PagingKey(const Machine& m);
  static const std::array<uint8_t, 32>& RootSecret(const Machine& m);
  static const std::array<uint8_t, 32>& ReportKeyId(const Machine& m);
  static const MachineConfig& Config(const Machine& m);
  // The private (non-pending) or shared page at `linaddr` for enclave `e`.
  // REQUIRES: holding e.mu; takes mapped plugins' locks and epcm_mu.
  static StatusOr<Translation> Resolve(Machine& m, EnclaveState& e, uint64_t linaddr,
                                       bool skip_pending_private);
};

// Formats an EPC page for messages: "EPC page 12".
std::string PageName(EpcPage p);

}  // namespace confide::machine
