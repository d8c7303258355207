// chain.cc — transfer and in-situ function chains (see chain.h).
//
// Timeline of a transfer chain (PIE Fig. 5), one core, at most two function
// enclaves alive at a time:
//
//   setup    build E0, EAUG its heap, write the input
//   setup    build E1 (warm: and EAUG its heap)
//   f0       EENTER E0, transform, execute, EEXIT
//   hop 0->1 attest | EENTER E0, read out + encrypt, EEXIT | relay |
//            EENTER E1, EAUG+EACCEPT (cold) or touch (warm) | decrypt, write in, EEXIT
//   teardown destroy E0
//   setup    build E2 ...
//   f1 ...
//
// Timeline of an in-situ chain (PIE Fig. 8b), the host entered throughout
// except while the OS EREMOVEs its copy-on-write pages:
//
//   setup    build every plugin once, build the host, EAUG its heap, write
//            the input, EMAP f0's plugins
//   f0       transform, copy-on-write of f0's plugin pages, execute
//   hop 0->1 EUNMAP f0's plugins (not a shared runtime), EEXIT | EREMOVE the
//            copies | EENTER, EMAP f1's plugins
//   f1 ...
//   teardown read the output, EUNMAP, destroy the host and the plugins

#include "platform/chain.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "crypto/random.h"
#include "platform/instance_ops.h"
#include "platform/policy/pie.h"

namespace confide::platform {
namespace {

// A chain yields to the simulator after this many pages of data work.
constexpr uint64_t kYieldPages = 64;
constexpr size_t kNone = SIZE_MAX;

uint64_t PagesFor(uint64_t bytes) { return (bytes + kPageSize - 1) / kPageSize; }

// The GCM nonce of hop `hop`: unique per hop under one chain key.
std::array<uint8_t, crypto::kGcmIvSize> HopIv(uint32_t hop) {
  std::array<uint8_t, crypto::kGcmIvSize> iv{};
  StoreLe<uint32_t>(iv.data(), 0x6e696863);  // "chin"
  StoreLe<uint64_t>(iv.data() + 4, hop);
  return iv;
}

// Associated data: the hop and the length, so neither can be changed.
std::array<uint8_t, 24> HopAad(uint32_t hop, uint64_t length) {
  std::array<uint8_t, 24> aad{};
  const std::string_view label = "confide/hop";
  std::copy(label.begin(), label.end(), aad.begin());
  StoreLe<uint32_t>(aad.data() + 12, hop);
  StoreLe<uint64_t>(aad.data() + 16, length);
  return aad;
}

// Two functions of one name must have one shape: their plugins share names,
// hence contents and MRENCLAVEs.
bool SameShape(const WorkloadProfile& a, const WorkloadProfile& b) {
  return a.runtime == b.runtime && a.runtime_pages == b.runtime_pages &&
         a.libraries == b.libraries && a.library_pages == b.library_pages &&
         a.function_pages == b.function_pages && a.cow_fraction == b.cow_fraction;
}

Status Validate(const PolicyContext& ctx, const ChainConfig& config, ByteSpan input) {
  if (!ctx.machine || !ctx.driver || !ctx.signing_key)
    return FailedPreconditionError(
        "chain: the policy context needs a machine, a driver and a "
        "signing key");
  if (config.functions.empty()) return InvalidArgumentError("chain: no functions");
  if (!input.empty() && config.data_bytes != 0 && config.data_bytes != input.size())
    return InvalidArgumentError(
        fmt::format("chain: data_bytes is {} but the input has {} bytes; give one or make them "
                    "agree",
                    config.data_bytes, input.size()));
  const uint64_t data_bytes = input.empty() ? config.data_bytes : input.size();
  if (data_bytes == 0)
    return InvalidArgumentError("chain: no data: give input bytes or ChainConfig::data_bytes");
  if (config.warm && config.mode == ChainMode::kInSitu)
    return InvalidArgumentError(
        "chain: warm applies to transfer chains only (an in-situ hop allocates nothing)");
  if (config.eaug_batch == 0) return InvalidArgumentError("chain: eaug_batch must be at least 1");
  for (size_t i = 0; i < config.functions.size(); ++i) {
    const WorkloadProfile& w = config.functions[i];
    if (w.name.empty())
      return InvalidArgumentError(fmt::format("chain: function {} has no name", i));
    if (w.code_pages() == 0)
      return InvalidArgumentError(
          fmt::format("chain: function {} (\"{}\") has no code", i, w.name));
    for (size_t k = 0; k < i; ++k) {
      if (config.functions[k].name == w.name && !SameShape(config.functions[k], w))
        return InvalidArgumentError(fmt::format(
            "chain: functions {} and {} are both named \"{}\" but differ in shape", k, i, w.name));
    }
  }
  return OkStatus();
}

// One run of RunChain: what it has built (so that it can destroy it on any
// path) and the cycle buckets.
class ChainRun {
 public:
  ChainRun(PolicyContext& ctx, CoreId core, const ChainConfig& config, uint64_t data_bytes)
      : ctx_(ctx),
        m_(*ctx.machine),
        core_(core),
        config_(config),
        ops_(ctx),
        data_bytes_(data_bytes),
        data_pages_(PagesFor(data_bytes)),
        full_(m_.page_contents() == machine::PageContents::kFull),
        scratch_(kPageSize) {}

  ChainRun(const ChainRun&) = delete;
  ChainRun& operator=(const ChainRun&) = delete;

  StatusOr<ChainResult> Run(ByteSpan input) {
    const uint64_t start = m_.CoreCycles(core_);
    if (full_) {
      CONFIDE_RETURN_IF_ERROR(crypto::RandomBytes(chain_key_));
      data_.assign(input.begin(), input.end());
      data_.resize(data_bytes_, 0);
    }
    Status s = config_.mode == ChainMode::kTransfer ? RunTransfer() : RunInSitu();
    // Whatever happened, nothing the chain built survives it.
    Status cleaned = Timed(&result_.teardown_cycles, [&] { return Cleanup(); });
    CONFIDE_RETURN_IF_ERROR(s);
    CONFIDE_RETURN_IF_ERROR(Annotate(cleaned, "chain: teardown"));
    for (const HopCost& h : result_.hops) result_.handoff_cycles += h.cycles;
    result_.total_cycles = m_.CoreCycles(core_) - start;
    if (full_) result_.output = std::move(data_);
    return std::move(result_);
  }

 private:
  // Runs `f`, adding the cycles it took on the chain's core to `*bucket`.
  template <typename F>
  Status Timed(uint64_t* bucket, F&& f) {
    const uint64_t start = m_.CoreCycles(core_);
    Status s = f();
    *bucket += m_.CoreCycles(core_) - start;
    return s;
  }

  std::string FunctionLabel(uint32_t i) const {
    return fmt::format("chain: function {} (\"{}\")", i, config_.functions[i].name);
  }

  // ---- Data in an entered enclave, page by page ------------------------

  // Calls f(offset, bytes) for each page of the data at `linaddr` right
  // after making it resident: a touch that goes out to the OS may evict
  // the enclave's own pages (nobody is inside then), so a page is only
  // known to be in just after its own touch.
  template <typename F>
  Status ForEachPage(Instance& in, uint64_t linaddr, F&& f) {
    for (uint64_t page = 0; page < data_pages_; ++page) {
      const uint64_t offset = page * kPageSize;
      const uint64_t bytes = std::min<uint64_t>(kPageSize, data_bytes_ - offset);
      CONFIDE_RETURN_IF_ERROR(ops_.Touch(core_, in, linaddr + offset, 1));
      CONFIDE_RETURN_IF_ERROR(f(offset, bytes));
      if (page % kYieldPages == kYieldPages - 1) CONFIDE_RETURN_IF_ERROR(ops_.Yield(core_, in));
    }
    return OkStatus();
  }

  // The function's transform, by reads and writes of the enclave's pages.
  Status Transform(Instance& in, uint64_t linaddr, uint32_t position) {
    return ForEachPage(in, linaddr, [&](uint64_t offset, uint64_t bytes) -> Status {
      MutableByteSpan page(scratch_.data(), bytes);
      CONFIDE_RETURN_IF_ERROR(m_.Read(core_, linaddr + offset, page));
      if (full_) ApplyChainTransform(position, offset, page);
      return m_.Write(core_, linaddr + offset, page);
    });
  }

  // data_ -> the enclave (a cost-only machine writes the scratch page: the
  // same checks, no bytes).
  Status WriteIn(Instance& in, uint64_t linaddr) {
    return ForEachPage(in, linaddr, [&](uint64_t offset, uint64_t bytes) -> Status {
      ByteSpan page =
          full_ ? ByteSpan(data_).subspan(offset, bytes) : ByteSpan(scratch_.data(), bytes);
      return m_.Write(core_, linaddr + offset, page);
    });
  }

  // The enclave -> data_.
  Status ReadOut(Instance& in, uint64_t linaddr) {
    return ForEachPage(in, linaddr, [&](uint64_t offset, uint64_t bytes) -> Status {
      MutableByteSpan page = full_ ? MutableByteSpan(data_).subspan(offset, bytes)
                                   : MutableByteSpan(scratch_.data(), bytes);
      return m_.Read(core_, linaddr + offset, page);
    });
  }

  // The function's own work after its transform, still entered.
  Status FinishFunction(uint32_t i, Instance& in, uint64_t data_linaddr) {
    if (config_.inspect)
      CONFIDE_RETURN_IF_ERROR(Annotate(config_.inspect(i, in.secs, data_linaddr), "inspect"));
    CONFIDE_RETURN_IF_ERROR(ops_.Execute(core_, in, config_.functions[i].exec_cycles));
    return OkStatus();
  }

  // ---- Building and destroying -----------------------------------------

  StatusOr<machine::Sigstruct> SigFor(const EnclaveSpec& spec) {
    for (const auto& [name, sig] : sigs_)
      if (name == spec.name) return sig;
    CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig,
                             SignSpec(spec, m_.page_contents(), *ctx_.signing_key));
    sigs_.emplace_back(spec.name, sig);
    return sig;
  }

  // Builds and initializes `spec`; the instance is owned by live_.
  StatusOr<Instance*> BuildInstance(const EnclaveSpec& spec) {
    CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig, SigFor(spec));
    CONFIDE_ASSIGN_OR_RETURN(
        BuiltEnclave e, BuildEnclave(*ctx_.driver, core_, spec, sig, BuildOptions{}, ctx_.yield));
    auto in = std::make_unique<Instance>();
    InstanceOps::Describe(e, spec, in.get());
    live_.push_back(std::move(in));
    return live_.back().get();
  }

  Status DestroyInstance(Instance* in) {
    auto it =
        std::find_if(live_.begin(), live_.end(), [&](const auto& p) { return p.get() == in; });
    if (it == live_.end()) return InternalError("chain: destroying an instance it does not own");
    std::unique_ptr<Instance> owned = std::move(*it);
    live_.erase(it);
    return ops_.Destroy(core_, *owned);
  }

  // Destroys every instance still alive (leaving it first if entered), then
  // the plugins. Returns the first error but tries everything.
  Status Cleanup() {
    Status first;
    auto keep = [&first](Status s) {
      if (first.ok() && !s.ok()) first = std::move(s);
    };
    // The core leaves whatever enclave it is in first: the OS's EREMOVEs
    // of the others cannot run in enclave mode. (A host with plugins
    // mapped is entered again by Destroy to EUNMAP them.)
    for (const auto& in : live_)
      if (in->entered) keep(ops_.Exit(core_, *in));
    while (!live_.empty()) keep(DestroyInstance(live_.back().get()));
    keep(policy::DestroyPlugins(ctx_, core_, plugins_));
    return first;
  }

  // ---- Transfer (SGX / Clemmys) ----------------------------------------

  EnclaveSpec TransferSpec(const WorkloadProfile& w) const {
    SpecParams p;
    p.name = fmt::format("{}/chain/{}p", w.name, data_pages_);
    p.base = kEnclaveBase;
    p.code_pages = w.code_pages();  // EADDed and measured, as clemmys-batch
    p.heap_pages = data_pages_;
    p.heap_added = false;  // EAUGed: at the hop (cold) or before it (warm)
    return HostSpec(p);
  }

  // Function i's enclave, ready to receive (warm: with its heap).
  StatusOr<Instance*> StartTransferFunction(uint32_t i, bool grow_heap) {
    CONFIDE_ASSIGN_OR_RETURN(Instance * in, BuildInstance(TransferSpec(config_.functions[i])));
    if (grow_heap) {
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, *in));
      CONFIDE_RETURN_IF_ERROR(ops_.GrowHeap(core_, *in, data_pages_, config_.eaug_batch));
      CONFIDE_RETURN_IF_ERROR(ops_.Exit(core_, *in));
    }
    return in;
  }

  Status RunTransfer() {
    const uint32_t n = static_cast<uint32_t>(config_.functions.size());
    Instance* cur = nullptr;
    CONFIDE_RETURN_IF_ERROR(
        Annotate(Timed(&result_.setup_cycles,
                       [&]() -> Status {
                         CONFIDE_ASSIGN_OR_RETURN(cur, StartTransferFunction(0, true));
                         CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, *cur));
                         CONFIDE_RETURN_IF_ERROR(WriteIn(*cur, cur->heap_linaddr));
                         return ops_.Exit(core_, *cur);
                       }),
                 FunctionLabel(0) + ": loading the input"));
    for (uint32_t i = 0;; ++i) {
      // The next enclave is started before this function runs, as a warm
      // pool's would exist before the request (and a cold one's start is
      // not hand-off either).
      Instance* next = nullptr;
      if (i + 1 < n) {
        CONFIDE_RETURN_IF_ERROR(Annotate(
            Timed(&result_.setup_cycles,
                  [&]() -> Status {
                    CONFIDE_ASSIGN_OR_RETURN(next, StartTransferFunction(i + 1, config_.warm));
                    return OkStatus();
                  }),
            FunctionLabel(i + 1) + ": starting its enclave"));
      }
      CONFIDE_RETURN_IF_ERROR(
          Annotate(Timed(&result_.function_cycles,
                         [&]() -> Status {
                           CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, *cur));
                           CONFIDE_RETURN_IF_ERROR(Transform(*cur, cur->heap_linaddr, i));
                           CONFIDE_RETURN_IF_ERROR(FinishFunction(i, *cur, cur->heap_linaddr));
                           return ops_.Exit(core_, *cur);
                         }),
                   FunctionLabel(i)));
      if (i + 1 == n) break;
      CONFIDE_RETURN_IF_ERROR(
          Annotate(TransferHop(i, *cur, *next), fmt::format("chain: hop {} -> {}", i, i + 1)));
      CONFIDE_RETURN_IF_ERROR(
          Timed(&result_.teardown_cycles, [&] { return DestroyInstance(cur); }));
      cur = next;
    }
    return Timed(&result_.teardown_cycles, [&]() -> Status {
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, *cur));
      CONFIDE_RETURN_IF_ERROR(ReadOut(*cur, cur->heap_linaddr));
      CONFIDE_RETURN_IF_ERROR(ops_.Exit(core_, *cur));
      return DestroyInstance(cur);
    });
  }

  // PIE §III-A steps (i)-(iv): attestation and handshake, B's heap, and the
  // SSL transfer (marshal, copy out, encrypt / copy in, decrypt, unmarshal).
  Status TransferHop(uint32_t i, Instance& a, Instance& b) {
    HopCost h;
    h.from = i;
    const uint64_t start = m_.CoreCycles(core_);
    const machine::CounterSnapshot before = m_.Counters();
    const uint64_t software = static_cast<uint64_t>(
        std::llround(static_cast<double>(data_bytes_) * ctx_.software.transfer_cycles_per_byte));
    ctx_.ChargeSoftware(core_, SoftwareWork::kAttest, ctx_.software.attest_cycles);
    h.attestation = m_.CoreCycles(core_) - start;

    HopPayload payload;
    CONFIDE_RETURN_IF_ERROR(Timed(&h.transfer, [&]() -> Status {
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, a));
      CONFIDE_RETURN_IF_ERROR(ReadOut(a, a.heap_linaddr));
      if (full_) {
        CONFIDE_ASSIGN_OR_RETURN(payload, SealHop(chain_key_, i, data_));
        std::fill(data_.begin(), data_.end(), 0);  // out of the enclave: only ciphertext
      }
      ctx_.ChargeSoftware(core_, SoftwareWork::kTransfer, software / 2);
      return ops_.Exit(core_, a);
    }));
    if (config_.relay) config_.relay(i, payload);
    CONFIDE_RETURN_IF_ERROR(Timed(&h.allocation, [&]() -> Status {
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, b));
      if (b.heap_committed < data_pages_)
        return ops_.GrowHeap(core_, b, data_pages_ - b.heap_committed, config_.eaug_batch);
      return ops_.Touch(core_, b, b.heap_linaddr, data_pages_);
    }));
    CONFIDE_RETURN_IF_ERROR(Timed(&h.transfer, [&]() -> Status {
      if (full_) {
        CONFIDE_ASSIGN_OR_RETURN(data_, OpenHop(chain_key_, i, payload));
        if (data_.size() != data_bytes_)
          return DataLossError(
              fmt::format("payload has {} bytes, expected {}", data_.size(), data_bytes_));
      }
      ctx_.ChargeSoftware(core_, SoftwareWork::kTransfer, software - software / 2);
      CONFIDE_RETURN_IF_ERROR(WriteIn(b, b.heap_linaddr));
      return ops_.Exit(core_, b);
    }));
    h.cycles = m_.CoreCycles(core_) - start;
    h.counters = m_.Counters().Since(before);
    result_.hops.push_back(h);
    return OkStatus();
  }

  // ---- In-situ (PIE Fig. 8b) -------------------------------------------

  // Builds every distinct plugin of the chain once; fn_plugins_[i] lists
  // function i's (indices into plugins_), runtime first; runtime_[i] is the
  // index of its runtime plugin or kNone.
  Status BuildAllPlugins(uint64_t* span) {
    std::vector<EnclaveSpec> specs;
    for (const WorkloadProfile& w : config_.functions) {
      std::vector<size_t> mine;
      size_t runtime = kNone;
      const std::vector<EnclaveSpec> ws = policy::PluginSpecs(w, kEnclaveBase);
      *span = std::max(*span, policy::PluginSpan(ws, kEnclaveBase));
      for (size_t k = 0; k < ws.size(); ++k) {
        auto it = std::find_if(specs.begin(), specs.end(),
                               [&](const EnclaveSpec& s) { return s.name == ws[k].name; });
        const size_t index = static_cast<size_t>(it - specs.begin());
        if (it == specs.end()) specs.push_back(ws[k]);
        mine.push_back(index);
        if (k == 0 && w.runtime_pages > 0) runtime = index;
      }
      fn_plugins_.push_back(std::move(mine));
      runtime_.push_back(runtime);
    }
    CONFIDE_ASSIGN_OR_RETURN(plugins_, policy::BuildPlugins(ctx_, core_, specs));
    return OkStatus();
  }

  std::vector<BuiltEnclave> PluginsOf(uint32_t i, bool skip_runtime) const {
    std::vector<BuiltEnclave> out;
    for (size_t index : fn_plugins_[i])
      if (!(skip_runtime && index == runtime_[i])) out.push_back(plugins_[index]);
    return out;
  }

  bool SharesRuntime(uint32_t i) const {
    return runtime_[i] != kNone && runtime_[i] == runtime_[i + 1];
  }

  Status RunInSitu() {
    const uint32_t n = static_cast<uint32_t>(config_.functions.size());
    Instance* host = nullptr;
    CONFIDE_RETURN_IF_ERROR(
        Annotate(Timed(&result_.setup_cycles,
                       [&]() -> Status {
                         uint64_t span = 0;
                         CONFIDE_RETURN_IF_ERROR(BuildAllPlugins(&span));
                         SpecParams p;
                         p.name = fmt::format("chain/in-situ-host/{}p/{}", data_pages_, span);
                         p.base = kEnclaveBase;
                         p.plugin_span = span;
                         p.code_pages = 1;  // the host's shim
                         p.heap_pages = data_pages_;
                         p.heap_added = false;
                         CONFIDE_ASSIGN_OR_RETURN(host, BuildInstance(HostSpec(p)));
                         CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, *host));
                         CONFIDE_RETURN_IF_ERROR(
                             ops_.GrowHeap(core_, *host, data_pages_, config_.eaug_batch));
                         CONFIDE_RETURN_IF_ERROR(WriteIn(*host, host->heap_linaddr));
                         return policy::MapPlugins(*ctx_.driver, core_, PluginsOf(0, false), host);
                       }),
                 "chain: building the plugins and the host"));
    for (uint32_t i = 0;; ++i) {
      CONFIDE_RETURN_IF_ERROR(Annotate(
          Timed(&result_.function_cycles,
                [&]() -> Status {
                  CONFIDE_RETURN_IF_ERROR(Transform(*host, host->heap_linaddr, i));
                  CONFIDE_RETURN_IF_ERROR(ops_.CopyOnWrite(core_, *host, PluginsOf(i, false),
                                                           config_.functions[i].cow_pages()));
                  return FinishFunction(i, *host, host->heap_linaddr);
                }),
          FunctionLabel(i)));
      if (i + 1 == n) break;
      CONFIDE_RETURN_IF_ERROR(
          Annotate(InSituHop(i, *host), fmt::format("chain: hop {} -> {}", i, i + 1)));
    }
    // Destroy (in Cleanup) EUNMAPs what is mapped.
    return Timed(&result_.teardown_cycles, [&] { return ReadOut(*host, host->heap_linaddr); });
  }

  // Phases II and III of PIE Fig. 8b. The host leaves while the OS
  // EREMOVEs its copies (EREMOVE is an ENCLS leaf); the EEXIT and EENTER
  // count as remapping. Every copy goes, the shared runtime's included, so
  // the next function sees its plugins as measured.
  Status InSituHop(uint32_t i, Instance& host) {
    HopCost h;
    h.from = i;
    const uint64_t start = m_.CoreCycles(core_);
    const machine::CounterSnapshot before = m_.Counters();
    const bool shared = SharesRuntime(i);
    CONFIDE_RETURN_IF_ERROR(Timed(&h.remap, [&]() -> Status {
      for (const BuiltEnclave& p : PluginsOf(i, shared)) {
        CONFIDE_RETURN_IF_ERROR(m_.Eunmap(core_, p.secs));
        ctx_.driver->NoteUnmapped(host.secs, p.secs);
        auto& mapped = host.mapped_plugins;
        mapped.erase(std::find(mapped.begin(), mapped.end(), p.secs));
      }
      return ops_.Exit(core_, host);
    }));
    CONFIDE_RETURN_IF_ERROR(Timed(&h.zeroing, [&] { return ops_.DropCopies(core_, host); }));
    CONFIDE_RETURN_IF_ERROR(Timed(&h.remap, [&]() -> Status {
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core_, host));
      return policy::MapPlugins(*ctx_.driver, core_, PluginsOf(i + 1, shared), &host);
    }));
    h.cycles = m_.CoreCycles(core_) - start;
    h.counters = m_.Counters().Since(before);
    result_.hops.push_back(h);
    return OkStatus();
  }

  PolicyContext& ctx_;
  machine::Machine& m_;
  const CoreId core_;
  const ChainConfig& config_;
  InstanceOps ops_;
  const uint64_t data_bytes_;
  const uint64_t data_pages_;
  const bool full_;  // pages hold bytes: data_ is real and hops are encrypted

  // The data between enclaves (full mode): the input, a hop's plaintext
  // inside the sender or receiver, the output. The model's stand-in for
  // what the enclave code holds in registers and buffers.
  std::vector<uint8_t> data_;
  std::vector<uint8_t> scratch_;  // one page
  crypto::Aes128Key chain_key_{};
  std::vector<std::pair<std::string, machine::Sigstruct>> sigs_;

  std::vector<std::unique_ptr<Instance>> live_;  // built, not yet destroyed
  std::vector<BuiltEnclave> plugins_;            // in-situ
  std::vector<std::vector<size_t>> fn_plugins_;  // in-situ, per function
  std::vector<size_t> runtime_;                  // in-situ, per function
  ChainResult result_;
};

}  // namespace

std::string_view ChainModeName(ChainMode mode) {
  return mode == ChainMode::kTransfer ? "transfer" : "in-situ";
}

StatusOr<ChainMode> ParseChainMode(std::string_view name) {
  if (name == "insitu" || name == "in-situ") return ChainMode::kInSitu;
  if (name == "transfer") return ChainMode::kTransfer;
  return InvalidArgumentError(
      fmt::format("unknown chain mode \"{}\" (choose insitu or transfer)", name));
}

void ApplyChainTransform(uint32_t position, uint64_t offset, MutableByteSpan data) {
  const uint32_t k = (position + 1) * 31;
  uint64_t r = offset % 251;
  for (uint8_t& b : data) {
    b ^= static_cast<uint8_t>(k + r);
    if (++r == 251) r = 0;
  }
}

StatusOr<HopPayload> SealHop(const crypto::Aes128Key& key, uint32_t hop, ByteSpan plaintext) {
  HopPayload p;
  p.ciphertext.resize(plaintext.size());
  const auto iv = HopIv(hop);
  const auto aad = HopAad(hop, plaintext.size());
  CONFIDE_RETURN_IF_ERROR(crypto::AesGcmEncrypt(key, iv, aad, plaintext, p.ciphertext, &p.tag));
  return p;
}

StatusOr<std::vector<uint8_t>> OpenHop(const crypto::Aes128Key& key, uint32_t hop,
                                       const HopPayload& payload) {
  std::vector<uint8_t> plaintext(payload.ciphertext.size());
  const auto iv = HopIv(hop);
  const auto aad = HopAad(hop, payload.ciphertext.size());
  Status s = crypto::AesGcmDecrypt(key, iv, aad, payload.ciphertext, payload.tag, plaintext);
  if (!s.ok())
    return PermissionDeniedError(fmt::format(
        "hop {}: the payload does not authenticate under the chain key (tampered, truncated or "
        "sealed for another hop)",
        hop));
  return plaintext;
}

StatusOr<ChainResult> RunChain(PolicyContext& ctx, CoreId core, const ChainConfig& config,
                               ByteSpan input) {
  CONFIDE_RETURN_IF_ERROR(Validate(ctx, config, input));
  const uint64_t data_bytes = input.empty() ? config.data_bytes : input.size();
  ChainRun run(ctx, core, config, data_bytes);
  return run.Run(input);
}

}  // namespace confide::platform
