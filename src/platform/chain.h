// chain.h — function chains: the output of function i is the input of
// function i+1, and the data never leaves enclave memory in plaintext
// (shared/DESIGN.md, "Chaining"). Two modes, one API:
//
//   transfer (SGX / Clemmys; PIE §III-A, Fig. 5): each function runs in its
//     own enclave. Per hop A -> B: mutual attestation and handshake, A
//     encrypts its data with the chain key (AES-128-GCM), the ciphertext is
//     copied out to untrusted memory, B allocates heap for the data (cold:
//     EAUG + EACCEPT of every page in batches; warm: the heap was allocated
//     before the hop and is only touched), copies the ciphertext in and
//     decrypts it, verifying the tag.
//
//   in-situ (PIE Fig. 8b, §VI-C): one host enclave keeps the data; function
//     i's plugins are EMAPped into it, the function runs and copies on write
//     what it writes of its plugins; per hop the host EUNMAPs the previous
//     function's plugins, EREMOVEs its copy-on-write pages (PIE §V's
//     emulation of zeroing them) and EMAPs the next function's. A runtime
//     plugin that consecutive functions share stays mapped: "PIE only needs
//     to EUNMAP function logic and the corresponding package plugin
//     enclaves" (§VI-C). No data byte moves.
//
// What is measured: the hand-off (HopCost), which is what PIE Fig. 3c and
// Fig. 9d plot. Building each function's enclave (transfer) or the plugins
// and the host (in-situ), loading the input and reading the output are
// setup and teardown, counted apart, as are the functions' own work.
//
// Every function applies ApplyChainTransform(position, ...) to the data
// inside its enclave, through Machine::Read / Machine::Write while entered.
// On a full machine (PageContents::kFull) the output is therefore real and
// the same in both modes; on a cost-only machine no byte moves (the output
// is empty, no AES runs) but the instructions and cycles are the same.
//
// Usage:
//
//   ChainConfig config;
//   config.functions = {resize, blur, upload};
//   config.mode = ChainMode::kTransfer;
//   CONFIDE_ASSIGN_OR_RETURN(ChainResult r, RunChain(ctx, /*core=*/0, config, photo));
//   fmt::print("hand-off {:.1f} ms\n", 1e3 * ctx.machine->profile().Seconds(r.handoff_cycles));
//
// Thread-safety: as the EpcDriver (one thread at a time per context).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/aes.h"
#include "machine/counters.h"
#include "platform/enclave_builder.h"
#include "platform/policy/start_policy.h"
#include "platform/workload.h"

namespace confide::platform {

enum class ChainMode : uint8_t { kTransfer, kInSitu };
std::string_view ChainModeName(ChainMode mode);  // "transfer", "in-situ"
// "transfer", "in-situ" or "insitu"; InvalidArgumentError naming the choices else.
StatusOr<ChainMode> ParseChainMode(std::string_view name);

// What travels between two enclaves of a transfer chain through untrusted
// memory: AES-128-GCM under the chain key, with the hop's index bound in the
// nonce and the associated data, so a payload cannot be replayed at another
// hop or truncated.
struct HopPayload {
  std::vector<uint8_t> ciphertext;
  crypto::GcmTag tag{};
};

struct ChainConfig {
  // The functions, in order. REQUIRES: at least one; each has code
  // (code_pages() > 0); functions with the same name have the same shape.
  std::vector<WorkloadProfile> functions;
  ChainMode mode = ChainMode::kTransfer;
  // Transfer only (SGX warm start, PIE §VI): the next enclave's heap is
  // allocated before the hop (before the sending function runs, as a warm
  // pool's would be), and the hop only touches it. If the sender's data and
  // the receiver's heap together exceed the EPC, that heap is paged like any
  // other and the hop reloads it. InvalidArgument for an in-situ chain,
  // where no hop allocates.
  bool warm = false;
  // Data size when RunChain gets no input bytes (cost-only runs); with input
  // it must be 0 or input.size().
  uint64_t data_bytes = 0;
  // Pages per heap fault when a heap grows by EAUG (as clemmys-batch).
  uint32_t eaug_batch = 64;
  // The untrusted host's view of each transfer hop's payload between the
  // copy out of A and the copy into B; it may change it (a malicious host:
  // tests). `hop` is the sender's position. Empty payload on a cost-only
  // machine.
  std::function<void(uint32_t hop, HopPayload& in_transit)> relay;
  // Called inside function `position`'s enclave (entered on `core`) after
  // its transform: `secs` is the enclave holding the data (the host, in
  // situ), the data is at [data_linaddr, data_linaddr + data_bytes). For
  // tests and tracing; a non-OK status aborts the chain.
  std::function<Status(uint32_t position, EpcPage secs, uint64_t data_linaddr)> inspect;
};

// The cost of one hand-off from function `from` to `from + 1`, in cycles of
// the chain's core. cycles == allocation + transfer + attestation + remap +
// zeroing; transfer hops have the first three, in-situ hops the last two.
struct HopCost {
  uint32_t from = 0;
  uint64_t cycles = 0;
  // B's heap for the data: EAUG + EACCEPT and the faults (cold) or touching
  // it (warm), with the evictions and reloads either causes.
  uint64_t allocation = 0;
  // Entering A, reading the data out, entering B, writing it in, and the
  // software work of PIE Fig. 5 (marshal, two copies, AES-128-GCM encrypt
  // and decrypt, unmarshal): data bytes x SoftwareCosts::transfer_cycles_per_byte.
  uint64_t transfer = 0;
  // Mutual attestation and handshake: SoftwareCosts::attest_cycles.
  uint64_t attestation = 0;
  // EUNMAP of A's plugins, EEXIT, EENTER, EMAP of B's.
  uint64_t remap = 0;
  // EREMOVE of A's copy-on-write pages (the host is outside meanwhile).
  uint64_t zeroing = 0;
  // The machine's instructions and page events during the hop (EAUG, EWB,
  // EMAP counts...).
  machine::CounterSnapshot counters;
};

struct ChainResult {
  // The data after the last function; empty on a cost-only machine.
  std::vector<uint8_t> output;
  std::vector<HopCost> hops;  // functions.size() - 1 of them
  // Sum of hops[].cycles: the hand-off cost PIE Fig. 3c / Fig. 9d plot.
  uint64_t handoff_cycles = 0;
  // Building enclaves (transfer: each before the function that sends to it
  // runs; warm: with its heap), plugins and the host (in-situ), loading the
  // input, the first EMAPs.
  uint64_t setup_cycles = 0;
  // The functions' own work: the transform, copy-on-write of plugin pages
  // (in-situ), WorkloadProfile::exec_cycles.
  uint64_t function_cycles = 0;
  // Reading the output and destroying what was built.
  uint64_t teardown_cycles = 0;
  // setup + functions + hand-offs + teardown: the core's cycles in RunChain.
  uint64_t total_cycles = 0;
};

// Runs the chain on `core` with `input` (or config.data_bytes of zeros).
// Everything RunChain builds is destroyed before it returns, also on error,
// so the EPC's free page count is as it found it (up to "root" VA pages the
// driver may keep when it had to evict VA pages themselves).
// Errors: InvalidArgumentError for a bad config (no function, no data, a
// function without code, warm in situ, sizes that disagree);
// FailedPreconditionError if ctx lacks a machine, driver or signing key;
// PermissionDeniedError if a hop's payload does not authenticate;
// ResourceExhaustedError from the driver if it cannot make room (a DRAM
// limit, or everything pinned). Data larger than the EPC is paged, not
// refused: the driver evicts while the thread is out of the enclave.
StatusOr<ChainResult> RunChain(PolicyContext& ctx, CoreId core, const ChainConfig& config,
                               ByteSpan input);

// What function `position` does to the data: byte j of the data (j =
// `offset` + index into `data`) ^= (position + 1) * 31 + j % 251. Cheap and
// position-dependent, so a skipped, repeated or reordered function shows.
void ApplyChainTransform(uint32_t position, uint64_t offset, MutableByteSpan data);

// Seals / opens the payload of hop `hop` (the sender's position) under the
// chain key. OpenHop: PermissionDeniedError naming the hop if the tag does
// not verify (tampered, truncated, or sealed for another hop); no
// unauthenticated byte is returned.
StatusOr<HopPayload> SealHop(const crypto::Aes128Key& key, uint32_t hop, ByteSpan plaintext);
StatusOr<std::vector<uint8_t>> OpenHop(const crypto::Aes128Key& key, uint32_t hop,
                                       const HopPayload& payload);

}  // namespace confide::platform
