// machine.h — the enclave CPU: an instruction-level model of SGX1 + SGX2 +
// PIE (plugin enclaves), with exact measurement, keys, paging and a cycle-cost
// model. It is the single source of truth about who owns which EPC page.
//
// The model is a library: it knows nothing of processes, VMs, files or the
// network. Callers play the roles around the CPU: the OS (ENCLS leaves, which
// pick EPC pages and pass PAGEINFO-like arguments) and the enclave's own code
// (ENCLU leaves, issued on a logical core that is inside an enclave after
// EENTER). Every instruction:
//   * runs the SDM's checks in the SDM's order and returns success, an SGX
//     error code (Status with ErrorCode::kSgxError and the SDM's number) or a
//     fault (#GP/#PF/#UD as a value) — never a crash, never an exception;
//   * charges its cycles (from the CostProfile) to the virtual clock of the
//     logical core that issued it, and counts itself per enclave and machine.
//
// Page contents (page_contents.h): in full mode pages hold bytes; in
// cost-only mode (MachineConfig::page_contents) every instruction runs the
// same checks with the same results, cycles, counters and page events, but
// only VA pages hold bytes: EADD does not copy (it still parses a TCS from the
// source), ECREATE/EAUG/EREMOVE/EWB do not zero, EACCEPTCOPY does not copy,
// Read yields zeros, Write stores nothing, EWB seals no page bytes (the MAC
// still covers the PCMD fields, address and version, so replay and tampering
// fail as in full mode), and the measurement omits EEXTEND's data bytes
// (measurement.h).
//
// EnTurbo (DAC'24) enclaves, selected by a nonzero SECS.MEASURE_RANGE_PAGES
// (secs.h), differ from SGX enclaves in three ways:
//   * measurement: ECREATE's record goes to the merge, EADD/EEXTEND hash into
//     the shadow measurement of the page's range, and EINIT compares the
//     merged split measurement (measurement.h) with SIGSTRUCT.ENCLAVEHASH;
//     it becomes the enclave's MRENCLAVE;
//   * virtual time: EEXTEND serializes per range, not on the enclave, and
//     starts no earlier than the end of the EADD of its page ("pages are
//     copied before they are measured", EnTurbo R1), so worker cores measure
//     ranges in parallel; EINIT starts after every range's last EEXTEND;
//   * decoupled start: EENTER/ERESUME (and AEX) work before EINIT, but EEXIT,
//     EREPORT and EGETKEY fault #GP(0) until EINIT has verified the
//     measurement, so nothing leaves the enclave unverified; a start policy
//     EINITs from another core while the thread runs.
//
// Addresses: an EPC page is named by its index (EpcPage) in the EPC, the way
// the OS names it by physical address; an enclave is named by its SECS page.
// Linear addresses (ELRANGE) are uint64_t.
//
//   ELRANGE of a host enclave (PIE Fig. 8a)
//   base                                                         base+size
//   |-- code/data (PT_REG) --|-- heap --|-- plugin A (EMAP) --|-- TCS/SSA/stack --|
//                                         shared PT_SREG pages, read-only;
//                                         a write faults into copy-on-write
//
// Thread-safety: all methods may be called from any thread. Instructions on
// one enclave serialize (as the SDM requires: EADD, EAUG, EMAP... lock the
// SECS), and in virtual time an instruction on an enclave starts no earlier
// than the previous one on that enclave ended. Instructions on different
// enclaves run in parallel, in real and in virtual time. A logical core
// (CoreId) must be driven by one thread at a time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/aes.h"
#include "crypto/sha256.h"
#include "machine/cost_profile.h"
#include "machine/counters.h"
#include "machine/epc.h"
#include "machine/page_contents.h"
#include "machine/report.h"
#include "machine/secs.h"
#include "machine/sigstruct.h"

namespace confide::machine {

using CoreId = uint32_t;
struct EnclaveState;  // machine_internal.h

struct MachineConfig {
  CostProfile profile = CostProfile::Default();
  // EPC pages; 0 means profile.epc_bytes / 4096.
  uint32_t epc_pages = 0;
  // Logical cores; 0 means profile.cores.
  uint32_t cores = 0;
  // The per-machine root secret from which all keys derive (the fuses). Empty:
  // random. Tests set it for reproducible keys.
  std::optional<std::array<uint8_t, 32>> root_secret;
  // CPUSVN reported by EREPORT and checked by EGETKEY.
  std::array<uint8_t, 16> cpu_svn = {1};
  // Whether pages hold bytes (see the top of this file).
  PageContents page_contents = PageContents::kFull;
};

// The sealed form of a page written out by EWB: what the OS stores outside
// the EPC. Integrity and freshness come from the MAC and the VA slot.
struct EvictedPage {
  // 4096 bytes, or empty for a non-VA page of a cost-only machine (which has
  // no bytes to seal): a simulated 64 GiB of evicted pages must not cost
  // 4 KiB each. ELDU refuses any other length with SGX_MAC_COMPARE_FAIL (the
  // blob is not what EWB wrote: the same outcome, at the same step, as any
  // other tampering).
  std::vector<uint8_t> ciphertext;
  // PCMD (SDM Table 38-23): SECINFO, ENCLAVEID, MAC. LINADDR travels in
  // PAGEINFO; both are covered by the MAC. A VA page has ENCLAVEID 0 and
  // LINADDR 0 (it belongs to no enclave).
  SecInfo secinfo;
  uint64_t enclave_id = 0;
  uint64_t linaddr = 0;
  crypto::GcmTag mac{};
};

// What the monitor needs to build an enclave's page tables: its resident
// pages and, for a host, the plugins it has EMAPped (machine.cc MapOf).
struct EnclaveVersion {
  uint64_t eid = 0;         // unique per ECREATE: a reused SECS page is a new enclave
  uint64_t generation = 0;  // advanced whenever a page is added, removed, evicted or reloaded
  bool operator==(const EnclaveVersion&) const = default;
};
struct EnclaveMap {
  EnclaveVersion version;
  uint64_t base = 0;  // SECS.BASEADDR
  uint64_t size = 0;  // SECS.SIZE
  bool initialized = false;
  std::vector<std::pair<uint64_t, EpcPage>> pages;  // resident pages by linear address, ascending
  std::vector<EpcPage> plugins;                     // SECS pages of the mapped plugins, by base
};

// Where a linear address of the current enclave resolves.
struct Translation {
  EpcPage page = 0;
  uint8_t perms = 0;    // EPCM R/W/X (PT_SREG never has W)
  bool shared = false;  // a PT_SREG page of a mapped plugin
};

class Machine {
 public:
  // InvalidArgumentError if the config is inconsistent; ResourceExhaustedError
  // if the EPC cannot be allocated.
  static StatusOr<std::unique_ptr<Machine>> Create(MachineConfig config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // ---- SGX1 creation (creation.cc) -------------------------------------
  // ECREATE: `secs` gives SIZE, BASEADDR, SSAFRAMESIZE, ATTRIBUTES, MISCSELECT
  // and MEASURE_RANGE_PAGES (EnTurbo; #GP if it makes more than
  // kMaxMeasureRanges ranges).
  Status Ecreate(CoreId core, const Secs& secs, EpcPage secs_page);
  // EADD: copies `src` (4096 bytes, also in cost-only mode, where only a TCS
  // is read from it) into `page` at `linaddr` of enclave `secs`. PT_SREG
  // pages make the enclave a plugin (PIE); W is masked.
  Status Eadd(CoreId core, EpcPage secs, uint64_t linaddr, const SecInfo& secinfo, ByteSpan src,
              EpcPage page);
  // EEXTEND: measures the 256 bytes at `linaddr` (256-aligned).
  Status Eextend(CoreId core, EpcPage secs, uint64_t linaddr);
  // EINIT: checks SIGSTRUCT, finalizes MRENCLAVE (the split measurement for
  // an EnTurbo enclave), sets MRSIGNER. Launch control is flexible (no
  // EINITTOKEN): any signer may launch.
  Status Einit(CoreId core, EpcPage secs, const Sigstruct& sigstruct);
  // EREMOVE: frees any EPC page (a SECS last).
  Status Eremove(CoreId core, EpcPage page);

  // ---- SGX2 dynamic memory (dynamic.cc) --------------------------------
  Status Eaug(CoreId core, EpcPage secs, uint64_t linaddr, EpcPage page);
  Status Emodpr(CoreId core, const SecInfo& secinfo, EpcPage page);
  Status Emodt(CoreId core, const SecInfo& secinfo, EpcPage page);
  // ENCLU leaves, issued from inside the enclave that owns `linaddr`.
  Status Eaccept(CoreId core, const SecInfo& secinfo, uint64_t linaddr);
  Status Eacceptcopy(CoreId core, const SecInfo& secinfo, uint64_t dest_linaddr,
                     uint64_t src_linaddr);
  Status Emodpe(CoreId core, const SecInfo& secinfo, uint64_t linaddr);

  // ---- EPC paging (paging.cc) ------------------------------------------
  Status Epa(CoreId core, EpcPage page);
  Status Eblock(CoreId core, EpcPage page);
  Status Etrack(CoreId core, EpcPage secs);
  // EWB: seals `page` out of the EPC; its version goes to slot `va_slot` of
  // the VA page `va_page`. The EPC page becomes free. `page` may be a VA page
  // (its slots are sealed like any page's bytes, in both modes): it needs no
  // EBLOCK/ETRACK, since VA pages are never mapped and so never tracked (the
  // SDM checks BLOCKED and tracking only for other page types), and #GP if
  // `va_page` is `page` itself.
  StatusOr<EvictedPage> Ewb(CoreId core, EpcPage page, EpcPage va_page, uint32_t va_slot);
  // ELDU / ELDB: loads an evicted page back into free page `page` of enclave
  // `secs`, unblocked / blocked; checks the MAC and the VA slot version and
  // clears the slot (anti-replay). For an evicted VA page (PCMD.SECINFO says
  // PT_VA) `secs` is not used — any value, 0 included, is accepted — and the
  // page comes back as a PT_VA page holding its slots.
  Status Eldu(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page, EpcPage va_page,
              uint32_t va_slot);
  Status Eldb(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page, EpcPage va_page,
              uint32_t va_slot);

  // ---- Attestation and keys (attestation.cc), ENCLU inside an enclave ---
  // Both #GP(0) inside an EnTurbo enclave that is not yet initialized.
  StatusOr<Report> Ereport(CoreId core, const TargetInfo& target, const ReportData& data);
  StatusOr<crypto::Aes128Key> Egetkey(CoreId core, const KeyRequest& request);

  // ---- Entry and exit (entry.cc) ---------------------------------------
  // EENTER / ERESUME need an initialized enclave, except an EnTurbo one
  // (decoupled start). EEXIT faults #GP(0) in an EnTurbo enclave before its
  // EINIT; AEX does not (see entry.cc).
  Status Eenter(CoreId core, EpcPage tcs);
  Status Eexit(CoreId core);
  // Asynchronous exit (interrupt, fault): saves state in the SSA, CSSA++.
  Status Aex(CoreId core);
  Status Eresume(CoreId core, EpcPage tcs);

  // ---- PIE (pie.cc), ENCLU inside a host enclave -----------------------
  // EMAP: maps initialized plugin `plugin_secs` into the current host. The
  // CPU compares the plugin's MRENCLAVE with `expected_mrenclave` (the value
  // from the host's manifest) in the same instruction, so the OS cannot swap
  // plugins between the host's check and the map (SGX_INVALID_MEASUREMENT).
  Status Emap(CoreId core, EpcPage plugin_secs, const crypto::Sha256Digest& expected_mrenclave);
  Status Eunmap(CoreId core, EpcPage plugin_secs);

  // ---- Memory access by enclave code (access.cc) -----------------------
  // Reads/writes as the enclave running on `core`, with EPCM checks. A write
  // to a shared plugin page faults #PF at that address (copy-on-write).
  Status Read(CoreId core, uint64_t linaddr, MutableByteSpan out);
  Status Write(CoreId core, uint64_t linaddr, ByteSpan data);
  StatusOr<Translation> Translate(CoreId core, uint64_t linaddr) const;
  // The OS's side of PIE copy-on-write for a write fault at `linaddr` on a
  // shared page: AEX, EAUG of `free_page` at that address, ERESUME, and the
  // enclave's EACCEPTCOPY from the plugin page (PIE §IV-D). REQUIRES: the core
  // is inside the host enclave on `tcs`.
  Status CopyOnWrite(CoreId core, EpcPage tcs, uint64_t linaddr, EpcPage free_page);

  // ---- Inspection (machine.cc) -----------------------------------------
  const CostProfile& profile() const { return config_.profile; }
  uint32_t epc_pages() const { return epc_.page_count(); }
  uint32_t core_count() const { return static_cast<uint32_t>(cores_.size()); }
  uint32_t FreePageCount() const;
  // A free EPC page, or ResourceExhaustedError: the one freed last if it is
  // still free (warm in the host's caches, its memory already backed), else
  // the next free one after the page this found last. A helper for callers
  // playing the OS; the CPU itself never picks pages.
  StatusOr<EpcPage> FindFreePage() const;
  EpcmEntry Epcm(EpcPage page) const;
  // SECS fields of enclave `secs` (MRENCLAVE valid after EINIT).
  StatusOr<Secs> SecsOf(EpcPage secs) const;
  StatusOr<EnclaveStats> StatsOf(EpcPage secs) const;
  // Resident pages (not evicted ones) and mapped plugins of enclave `secs`.
  StatusOr<EnclaveMap> MapOf(EpcPage secs) const;
  // MapOf's version alone, in constant time: a cache of MapOf stays valid
  // while it does not change.
  StatusOr<EnclaveVersion> VersionOf(EpcPage secs) const;
  // Page bytes, for tests and the monitor (which maps the EPC into VMs). In
  // cost-only mode only VA pages' bytes mean anything.
  ByteSpan PageBytes(EpcPage page) const { return epc_.bytes(page); }
  // The memfd that holds the EPC (page p at offset p * 4096), which the
  // monitor maps into its VMs; -1 in cost-only mode (no bytes).
  int epc_fd() const { return epc_.fd(); }
  PageContents page_contents() const { return config_.page_contents; }
  uint64_t CoreCycles(CoreId core) const;
  void SetCoreCycles(CoreId core, uint64_t cycles);
  CounterSnapshot Counters() const;
  // Is `core` executing inside an enclave, and which (SECS page)?
  std::optional<EpcPage> CurrentEnclave(CoreId core) const;

  struct Core;  // a logical core's state; opaque (machine_internal.h)

 private:
  Machine(MachineConfig config, Epc epc);

  MachineConfig config_;
  Epc epc_;
  std::vector<std::unique_ptr<Core>> cores_;
  // Secrets of this "CPU": paging key for EWB/ELDU, root of key derivation.
  crypto::Aes128Key paging_key_{};
  std::array<uint8_t, 32> root_secret_{};
  std::array<uint8_t, 32> report_key_id_{};
  std::atomic<uint64_t> next_enclave_id_{1};
  std::atomic<uint64_t> next_version_{1};
  // Guards every EPCM entry, the SECS table and the free-page accounting.
  mutable std::mutex epcm_mu_;
  // Guards the bytes of VA pages (their version slots), which EWB/ELDU of
  // any enclave and EWB/ELDU of the VA page itself touch.
  std::mutex va_mu_;
  std::vector<std::shared_ptr<EnclaveState>> secs_table_;  // by SECS page
  uint32_t used_pages_ = 0;
  mutable EpcPage free_hint_ = 0;
  // Pages in the order they were freed (FindFreePage takes the last first).
  mutable std::vector<EpcPage> recently_freed_;
  // SHA-256 of each SIGSTRUCT whose checks passed at an EINIT: they are a
  // pure function of its bytes, so each is checked once (MachineOps::
  // VerifySigstructOnce); EINIT's cycles are charged every time all the same.
  std::mutex verified_mu_;
  std::vector<crypto::Sha256Digest> verified_sigstructs_;

  friend class MachineOps;  // instruction handlers (machine_internal.h)
};

}  // namespace confide::machine
