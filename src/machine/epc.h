// epc.h — the Enclave Page Cache and its map (EPCM): page bytes plus, per
// page, the EPCM entry the SDM describes (Vol. 3D §38.19, Table 38-28),
// extended with PIE's PT_SREG type.
//
// The bytes live in one shared mapping of a memfd (fd()), so that a later
// layer (the KVM monitor, src/monitor) can map the same memory into guests:
// every KVM micro-VM registers the same fd as its guest-physical EPC.
//
// Thread-safety: Epc does no locking. The Machine guards EPCM entries with
// its EPCM lock and page bytes with the owning enclave's lock.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "machine/page_contents.h"
#include "machine/secs.h"

namespace confide::machine {

using EpcPage = uint32_t;  // index of a 4 KiB page in the EPC

struct EpcmEntry {
  bool valid = false;
  PageType type = PageType::kReg;
  uint8_t perms = 0;  // secinfo::kR | kW | kX
  bool pending = false;
  bool modified = false;
  bool pr = false;  // permission restriction pending EACCEPT
  bool blocked = false;
  uint64_t linaddr = 0;
  EpcPage owner = 0;   // SECS page of the owning enclave (not for SECS/VA)
  uint64_t epoch = 0;  // enclave tracking epoch at EBLOCK/EMODPR/EMODT
};

class Epc {
 public:
  // ResourceExhaustedError if the memory cannot be mapped. In cost-only mode
  // the mapping is kept out of transparent huge pages, so that the few VA
  // pages the machine writes do not make whole 2 MiB regions resident.
  static StatusOr<Epc> Create(uint32_t pages, PageContents contents = PageContents::kFull);
  Epc(Epc&& other) noexcept;
  Epc& operator=(Epc&&) = delete;
  Epc(const Epc&) = delete;
  ~Epc();

  uint32_t page_count() const { return static_cast<uint32_t>(epcm_.size()); }
  bool contains(EpcPage p) const { return p < epcm_.size(); }
  ByteSpan bytes(EpcPage p) const { return {base_ + size_t{p} * kPageSize, kPageSize}; }
  MutableByteSpan mutable_bytes(EpcPage p) { return {base_ + size_t{p} * kPageSize, kPageSize}; }
  EpcmEntry& entry(EpcPage p) { return epcm_[p]; }
  const EpcmEntry& entry(EpcPage p) const { return epcm_[p]; }
  // The "physical" address the SDM would report in a #PF for page p.
  static uint64_t Address(EpcPage p) { return uint64_t{p} * kPageSize; }
  // The memfd holding the EPC bytes (page p at offset p * 4096), owned by the
  // Epc and valid for its lifetime. Borrowers (KVM memory slots, mmaps) must
  // not outlive it; the fd is close-on-exec.
  int fd() const { return fd_; }

 private:
  Epc(int fd, uint8_t* base, uint32_t pages);
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  std::vector<EpcmEntry> epcm_;
};

}  // namespace confide::machine
