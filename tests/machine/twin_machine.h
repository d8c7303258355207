// twin_machine.h — a full-mode machine and a cost-only twin driven in
// lockstep: every instruction runs on both, and the twin records a mismatch
// unless both return the same outcome (OK, or the same SGX error code, or the
// same fault vector and address) and leave the same counters, core clocks,
// free-page count, EPCM and enclave mode behind. Cost-only mode promises
// exactly that (page_contents.h); the property test drives the pair with its
// random instruction sequences.
//
// The methods mirror Machine's, so a driver written against Machine works on
// a TwinMachine; results (blobs, reports, bytes read) are the full machine's.
// Where an argument depends on the measurement, the twin translates it for
// the cost-only machine: a SIGSTRUCT that EINITs the full machine is re-signed
// over the cost-only measurement (which the twin replays with
// MeasurementBuilder), an EMAP's expected MRENCLAVE that is the plugin's full
// one becomes its cost-only one, and an evicted page is swapped for the twin's
// blob of the same EWB.
//
// Without a twin (the constructor's `cost_only` is null) every call just
// forwards to the full machine.
//
// Thread-safety: none; one test thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"

namespace confide::machine::testing {

class TwinMachine {
 public:
  TwinMachine(std::unique_ptr<Machine> full, std::unique_ptr<Machine> cost_only);
  TwinMachine(const TwinMachine&) = delete;
  TwinMachine& operator=(const TwinMachine&) = delete;

  // Disagreements so far, oldest first, each naming the instruction.
  const std::vector<std::string>& mismatches() const { return mismatches_; }
  Machine& full() { return *full_; }

  // ---- Instructions (both machines) ----
  Status Ecreate(CoreId core, const Secs& secs, EpcPage secs_page);
  Status Eadd(CoreId core, EpcPage secs, uint64_t linaddr, const SecInfo& secinfo, ByteSpan src,
              EpcPage page);
  Status Eextend(CoreId core, EpcPage secs, uint64_t linaddr);
  Status Einit(CoreId core, EpcPage secs, const Sigstruct& sigstruct);
  Status Eremove(CoreId core, EpcPage page);
  Status Eaug(CoreId core, EpcPage secs, uint64_t linaddr, EpcPage page);
  Status Eaccept(CoreId core, const SecInfo& secinfo, uint64_t linaddr);
  Status Epa(CoreId core, EpcPage page);
  Status Eblock(CoreId core, EpcPage page);
  Status Etrack(CoreId core, EpcPage secs);
  StatusOr<EvictedPage> Ewb(CoreId core, EpcPage page, EpcPage va_page, uint32_t va_slot);
  Status Eldu(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page, EpcPage va_page,
              uint32_t va_slot);
  Status Eldb(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page, EpcPage va_page,
              uint32_t va_slot);
  Status Eenter(CoreId core, EpcPage tcs);
  Status Eexit(CoreId core);
  Status Emap(CoreId core, EpcPage plugin_secs, const crypto::Sha256Digest& expected_mrenclave);
  Status Eunmap(CoreId core, EpcPage plugin_secs);
  Status Read(CoreId core, uint64_t linaddr, MutableByteSpan out);
  Status Write(CoreId core, uint64_t linaddr, ByteSpan data);
  StatusOr<Translation> Translate(CoreId core, uint64_t linaddr);
  Status CopyOnWrite(CoreId core, EpcPage tcs, uint64_t linaddr, EpcPage free_page);

  // ---- Inspection (the full machine) ----
  uint32_t epc_pages() const { return full_->epc_pages(); }
  uint32_t FreePageCount() const { return full_->FreePageCount(); }
  StatusOr<EpcPage> FindFreePage() const { return full_->FindFreePage(); }
  EpcmEntry Epcm(EpcPage page) const { return full_->Epcm(page); }
  StatusOr<Secs> SecsOf(EpcPage secs) const { return full_->SecsOf(secs); }
  ByteSpan PageBytes(EpcPage page) const { return full_->PageBytes(page); }
  std::optional<EpcPage> CurrentEnclave(CoreId core) const { return full_->CurrentEnclave(core); }

 private:
  Status LoadBack(bool eldb, CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page,
                  EpcPage va_page, uint32_t va_slot);
  // Compares the outcomes of `what` and then the machines' state.
  void Check(const char* what, const Status& full, const Status& cost_only);

  std::unique_ptr<Machine> full_;
  std::unique_ptr<Machine> cost_only_;  // may be null
  // The cost-only measurement of every enclave, by SECS page, and its base.
  struct Replay {
    uint64_t base = 0;
    MeasurementBuilder measurement{PageContents::kCostOnly};
  };
  std::map<EpcPage, Replay> replays_;
  // The cost-only machine's blob for each full-mode blob, by the latter's MAC.
  std::map<crypto::GcmTag, EvictedPage> blobs_;
  std::vector<std::string> mismatches_;
};

}  // namespace confide::machine::testing
