#include "platform/function_worker.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "crypto/random.h"
#include "image/enclave_abi.h"
#include "image/layout.h"
#include "image/plugin_image.h"
#include "image/sgxs.h"
#include "image/signer.h"
#include "machine/secs.h"

namespace confide::platform {
namespace {

using Clock = std::chrono::steady_clock;
using machine::PageType;
using machine::SecInfo;

constexpr machine::CoreId kCore = 0;
constexpr uint64_t kPage = 4096;

}  // namespace

const char* RealStartName(RealStart s) {
  return s == RealStart::kPieCold ? "pie-cold" : "sgx1-cold";
}

StatusOr<RealStart> ParseRealStart(std::string_view name) {
  if (name == "pie-cold") return RealStart::kPieCold;
  if (name == "sgx1-cold") return RealStart::kSgx1Cold;
  return InvalidArgumentError(fmt::format(
      "unknown start policy \"{}\" for real runs (choose pie-cold or sgx1-cold)", name));
}

bool Invocation::ok() const {
  return end == monitor::RunEnd::kEexit && status == CONFIDE_STATUS_OK;
}

std::string Invocation::Failure() const {
  const std::string text(output.begin(), output.end());
  switch (end) {
    case monitor::RunEnd::kEexit:
      switch (status) {
        case CONFIDE_STATUS_OK:
          return "";
        case CONFIDE_STATUS_FUNCTION_ERROR:
          return "function error: " + text;
        case CONFIDE_STATUS_BAD_REQUEST:
          return "the runtime refused the request: " + (text.empty() ? "bad window" : text);
        case CONFIDE_STATUS_NO_MEMORY:
          return "out of memory: " + (text.empty() ? "heap or window too small" : text);
        default:
          return fmt::format("unknown status {} from the enclave", status);
      }
    case monitor::RunEnd::kExit:
      return fmt::format("the enclave called exit({})", status);
    case monitor::RunEnd::kTimeout:
      return "timed out: " + reason;
    case monitor::RunEnd::kCrash:
      return "crashed: " + reason;
  }
  return reason;
}

FunctionWorker::~FunctionWorker() {
  if (!machine_) return;
  for (const Function& f : functions_) (void)Unload(f.plugin.loaded);
  for (const Plugin& d : data_) (void)Unload(d.loaded);
  if (runtime_.loaded.secs != 0 || !runtime_.loaded.pages.empty()) {
    (void)Unload(runtime_.loaded);
  }
}

StatusOr<std::unique_ptr<FunctionWorker>> FunctionWorker::Create(
    ByteSpan runtime_elf, const FunctionWorkerConfig& config) {
  std::unique_ptr<FunctionWorker> w(new FunctionWorker(config));
  machine::MachineConfig mc;
  mc.epc_pages = config.epc_pages;
  mc.cores = 1;
  CONFIDE_ASSIGN_OR_RETURN(w->machine_, machine::Machine::Create(mc));
  monitor::MonitorConfig moc;
  moc.kvm_path = config.kvm_path;
  moc.window_bytes = config.window_bytes;
  moc.vm_pool = config.vm_pool;
  CONFIDE_ASSIGN_OR_RETURN(w->monitor_, monitor::Monitor::Create(*w->machine_, moc));
  CONFIDE_ASSIGN_OR_RETURN(auto key, crypto::Rsa3072PrivateKey::Generate());
  w->key_.emplace(std::move(key));

  image::Manifest plugin;
  plugin.kind = image::EnclaveKind::kPlugin;
  image::LayoutInfo info;
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage img, image::LayoutFromElf(runtime_elf, plugin, &info));
  if (info.elf_base != CONFIDE_ENCLAVE_BASE + CONFIDE_RUNTIME_SLOT ||
      info.elf_end > CONFIDE_RUNTIME_SLOT_SIZE) {
    return InvalidArgumentError(fmt::format(
        "runtime ELF spans [{:#x}, +{:#x}): it must be linked at {:#x} and fit {:#x} bytes",
        info.elf_base, info.elf_end, CONFIDE_ENCLAVE_BASE, CONFIDE_RUNTIME_SLOT_SIZE));
  }
  w->runtime_elf_.assign(runtime_elf.begin(), runtime_elf.end());
  w->runtime_entry_offset_ = info.entry_offset;
  CONFIDE_ASSIGN_OR_RETURN(w->runtime_, w->LoadPlugin(std::move(img), CONFIDE_ENCLAVE_BASE));
  return w;
}

StatusOr<FunctionWorker::Prepared> FunctionWorker::Prepare(image::SgxsImage img) {
  image::SigningParams params;
  params.enclave_hash = image::MeasureSgxs(img);
  params.attributes = {machine::attr::kMode64Bit, 0x3};  // 64-bit; XFRM x87 | SSE
  CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig, image::SignEnclave(*key_, params));
  return Prepared{std::move(img), sig};
}

StatusOr<image::LoadedEnclave> FunctionWorker::LoadPrepared(const Prepared& p, uint64_t base) {
  image::LoadOptions options;
  options.base = base;
  return image::LoadEnclave(*machine_, kCore, p.image, p.sigstruct, options);
}

StatusOr<FunctionWorker::Plugin> FunctionWorker::LoadPlugin(image::SgxsImage img, uint64_t base) {
  Plugin p;
  p.mrenclave = image::MeasureSgxs(img);
  CONFIDE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(std::move(img)));
  CONFIDE_ASSIGN_OR_RETURN(p.loaded, LoadPrepared(prepared, base));
  p.image = std::move(prepared.image);
  return p;
}

StatusOr<FunctionId> FunctionWorker::AddLuaFunction(std::string name, std::string_view source) {
  CONFIDE_ASSIGN_OR_RETURN(
      image::SgxsImage img,
      image::LuaFunctionImage(
          name, ByteSpan(reinterpret_cast<const uint8_t*>(source.data()), source.size())));
  CONFIDE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(std::move(img)));
  return AddPrepared(std::move(name), std::move(prepared));
}

StatusOr<FunctionId> FunctionWorker::AddFunctionImage(std::string name, image::SgxsImage img,
                                                      const machine::Sigstruct& sigstruct) {
  CONFIDE_RETURN_IF_ERROR(image::CheckFunctionImage(img));
  return AddPrepared(std::move(name), Prepared{std::move(img), sigstruct});
}

StatusOr<FunctionId> FunctionWorker::AddPrepared(std::string name, Prepared prepared) {
  Function f;
  f.name = std::move(name);
  f.plugin.mrenclave = image::MeasureSgxs(prepared.image);
  CONFIDE_ASSIGN_OR_RETURN(f.plugin.loaded,
                           LoadPrepared(prepared, CONFIDE_ENCLAVE_BASE + CONFIDE_FUNCTION_SLOT));
  f.plugin.image = std::move(prepared.image);
  functions_.push_back(std::move(f));
  return static_cast<FunctionId>(functions_.size() - 1);
}

StatusOr<DataId> FunctionWorker::AddData(std::string name, ByteSpan bytes) {
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage img, image::DataImage(name, bytes));
  CONFIDE_ASSIGN_OR_RETURN(Plugin p,
                           LoadPlugin(std::move(img), CONFIDE_ENCLAVE_BASE + CONFIDE_DATA_SLOT));
  data_.push_back(std::move(p));
  return static_cast<DataId>(data_.size() - 1);
}

image::Manifest FunctionWorker::HostManifest() const {
  image::Manifest m;
  m.heap_size = config_.heap_bytes;
  m.stack_size = config_.stack_bytes;
  m.threads = 1;
  // The heap is added but not measured (EADD without EEXTEND): its initial
  // bytes are the host's choice, and the library OS zeroes every page it
  // hands out (runtime/heap.h), so nothing depends on them. Measuring it
  // would cost 16 EEXTENDs per page for no guarantee (PIE grows hosts' heaps
  // by EAUG for the same reason).
  m.measure_heap = false;
  return m;
}

StatusOr<image::SgxsImage> FunctionWorker::MonolithicImage(const Function& f) const {
  image::Manifest host = HostManifest();
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage priv, image::LayoutPieHost(host, CONFIDE_PRIVATE_OFFSET,
                                                                       runtime_entry_offset_));
  // The runtime's pages with their ELF rights (writable data stays
  // writable: nothing is shared), then the function, then the host part.
  image::Manifest elf_only;
  elf_only.heap_size = 0;
  image::LayoutInfo info;
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage runtime,
                           image::LayoutFromElf(runtime_elf_, elf_only, &info));
  image::SgxsImage img;
  img.size = priv.size;
  img.ssa_frame_size = priv.ssa_frame_size;
  // LayoutFromElf appends a TCS, SSA, stack and thread info after the ELF:
  // only the ELF's own pages are wanted here.
  for (const image::SgxsPage& p : runtime.pages) {
    if (p.offset < info.elf_end) img.pages.push_back(p);
  }
  for (image::SgxsPage p : f.plugin.image.pages) {
    p.offset += CONFIDE_FUNCTION_SLOT;
    p.secinfo = SecInfo::Make(PageType::kReg, machine::secinfo::kR);
    img.pages.push_back(p);
  }
  img.pages.insert(img.pages.end(), priv.pages.begin(), priv.pages.end());
  return img;
}

Status FunctionWorker::Unload(const image::LoadedEnclave& e) {
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveMap map, machine_->MapOf(e.secs));
  // A host that stopped mid-chain (a crash, a timeout) may still have a
  // function mapped: EUNMAP whatever is, as the host's last act.
  if (!map.plugins.empty() && !e.tcs.empty()) {
    CONFIDE_RETURN_IF_ERROR(machine_->Eenter(kCore, e.tcs[0]));
    for (machine::EpcPage p : map.plugins) {
      if (Status s = machine_->Eunmap(kCore, p); !s.ok()) {
        (void)machine_->Eexit(kCore);
        return s;
      }
    }
    CONFIDE_RETURN_IF_ERROR(machine_->Eexit(kCore));
  }
  // Every resident page, not only the image's: copy-on-write copies (EAUG)
  // belong to the enclave too.
  for (const auto& [linaddr, page] : map.pages) {
    CONFIDE_RETURN_IF_ERROR(machine_->Eremove(kCore, page));
  }
  return machine_->Eremove(kCore, e.secs);
}

StatusOr<Invocation> FunctionWorker::Invoke(FunctionId id, RealStart start, ByteSpan input,
                                            const InvokeOptions& opts) {
  if (id >= functions_.size()) return NotFoundError(fmt::format("no function {}", id));
  if (opts.data && *opts.data >= data_.size()) {
    return NotFoundError(fmt::format("no data plugin {}", *opts.data));
  }
  Function& f = functions_[id];
  const Plugin* data = opts.data ? &data_[*opts.data] : nullptr;
  Request request;
  request.op = CONFIDE_OP_RUN;
  request.input = input;
  if (data) request.flags |= CONFIDE_WINDOW_DATA_PLUGIN;
  if (start == RealStart::kPieCold) {
    // The images of this function's enclaves are laid out and signed once.
    std::vector<const Plugin*> plugins = {&runtime_, &f.plugin};
    if (data) plugins.push_back(data);
    CONFIDE_ASSIGN_OR_RETURN(const Prepared* host, PieHost(plugins));
    // The host maps its plugins, checking each MRENCLAVE against its
    // manifest in the same instruction (PIE §IV-C).
    std::vector<Emapping> emap = {
        {&runtime_, runtime_.mrenclave},
        {&f.plugin, opts.function_mrenclave.value_or(f.plugin.mrenclave)}};
    if (data) emap.push_back({data, data->mrenclave});
    return RunEnclave(*host, emap, request);
  }
  if (data) return InvalidArgumentError("data plugins need a PIE start (pie-cold)");
  // SGX1 has no EMAP to compare at: the worker compares, as a verifier of
  // the monolithic enclave's function would, and never runs a mismatch.
  if (opts.function_mrenclave && *opts.function_mrenclave != f.plugin.mrenclave) {
    return SgxErrorStatus(SgxError::kInvalidMeasurement,
                          fmt::format("function {} is not the pinned MRENCLAVE", f.name));
  }
  if (!f.monolithic) {
    CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage whole, MonolithicImage(f));
    CONFIDE_ASSIGN_OR_RETURN(f.monolithic, Prepare(std::move(whole)));
  }
  return RunEnclave(*f.monolithic, {}, request);
}

StatusOr<const FunctionWorker::Prepared*> FunctionWorker::PieHost(
    const std::vector<const Plugin*>& plugins) {
  std::vector<machine::EpcPage> key;
  for (const Plugin* p : plugins) key.push_back(p->loaded.secs);
  auto it = pie_hosts_.find(key);
  if (it != pie_hosts_.end()) return &it->second;
  image::Manifest m = HostManifest();
  for (size_t i = 0; i < plugins.size(); ++i) {
    m.plugins.push_back({fmt::format("plugin{}", i), plugins[i]->mrenclave});
  }
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage host,
                           image::LayoutPieHost(m, CONFIDE_PRIVATE_OFFSET, runtime_entry_offset_));
  CONFIDE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(std::move(host)));
  return &pie_hosts_.emplace(std::move(key), std::move(prepared)).first->second;
}

StatusOr<ChainRun> FunctionWorker::InvokeChain(std::span<const FunctionId> chain, ChainMode mode,
                                               ByteSpan input, std::optional<DataId> data_id) {
  if (chain.empty()) return InvalidArgumentError("a chain needs at least one function");
  // The host's plugin table holds the runtime, the functions and a data plugin.
  if (chain.size() + 2 > CONFIDE_MAX_PLUGINS) {
    return InvalidArgumentError(fmt::format("a chain of {} functions is longer than the {} allowed",
                                            chain.size(), CONFIDE_MAX_PLUGINS - 2));
  }
  for (FunctionId id : chain) {
    if (id >= functions_.size()) return NotFoundError(fmt::format("no function {}", id));
  }
  if (data_id && *data_id >= data_.size()) {
    return NotFoundError(fmt::format("no data plugin {}", *data_id));
  }
  // The data plugin, if any, is mapped in every host of the chain, for
  // every step: the steps read it in place.
  const Plugin* data = data_id ? &data_[*data_id] : nullptr;
  const uint64_t data_flag = data ? CONFIDE_WINDOW_DATA_PLUGIN : 0;
  ChainRun out;
  Request request;
  request.input = input;
  // One hand-off key per chain (EGETKEY's KEYID): a sealed output of one
  // chain is never accepted by another.
  CONFIDE_RETURN_IF_ERROR(crypto::RandomBytes(request.key_id));

  if (mode == ChainMode::kInSitu) {
    // One host that may map the runtime and every function of the chain; the
    // runtime EMAPs each step over the function slot, runs it on the data
    // in its heap and EUNMAPs it (PIE Fig. 8b).
    std::vector<const Plugin*> plugins = {&runtime_};
    request.op = CONFIDE_OP_CHAIN;
    for (FunctionId id : chain) {
      // A function that appears twice (or two with the same code) is named
      // once in the manifest: one MRENCLAVE, one entry.
      const Plugin* p = &functions_[id].plugin;
      auto at = std::find_if(plugins.begin(), plugins.end(),
                             [&](const Plugin* q) { return q->mrenclave == p->mrenclave; });
      if (at == plugins.end()) at = plugins.insert(plugins.end(), p);
      request.steps.push_back(
          {p->loaded.secs, static_cast<uint64_t>(std::distance(plugins.begin(), at))});
    }
    std::vector<Emapping> emap = {{&runtime_, runtime_.mrenclave}};
    if (data) {
      plugins.push_back(data);
      emap.push_back({data, data->mrenclave});
      request.flags |= data_flag;
    }
    CONFIDE_ASSIGN_OR_RETURN(const Prepared* host, PieHost(plugins));
    CONFIDE_ASSIGN_OR_RETURN(out.result, RunEnclave(*host, emap, request));
    out.enclaves = 1;
    return out;
  }

  // Transfer: a pie-cold host per function; between them the host carries
  // the sealed output of one as the sealed input of the next.
  const machine::CounterSnapshot before = machine_->Counters();
  InvocationTimes times;
  monitor::MonitorStats stats;
  std::string log;
  Bytes carried(input.begin(), input.end());
  for (size_t i = 0; i < chain.size(); ++i) {
    Function& f = functions_[chain[i]];
    request.op = CONFIDE_OP_RUN;
    request.flags = (i > 0 ? CONFIDE_WINDOW_SEALED_INPUT : 0) |
                    (i + 1 < chain.size() ? CONFIDE_WINDOW_SEALED_OUTPUT : 0) | data_flag;
    request.input = carried;
    std::vector<const Plugin*> plugins = {&runtime_, &f.plugin};
    std::vector<Emapping> emap = {{&runtime_, runtime_.mrenclave}, {&f.plugin, f.plugin.mrenclave}};
    if (data) {
      plugins.push_back(data);
      emap.push_back({data, data->mrenclave});
    }
    CONFIDE_ASSIGN_OR_RETURN(const Prepared* host, PieHost(plugins));
    CONFIDE_ASSIGN_OR_RETURN(Invocation step, RunEnclave(*host, emap, request));
    out.enclaves++;
    const bool last = i + 1 == chain.size() || !step.ok();
    if (!last) out.bytes_through_host += step.output.size();
    carried = step.output;
    times.create += step.times.create;
    times.run += step.times.run;
    times.teardown += step.times.teardown;
    stats += step.monitor;
    log += step.log;
    if (last) {
      // The chain ends as its last enclave did; times, counters and logs
      // are the whole chain's.
      out.result = std::move(step);
      out.result.times = times;
      out.result.counters = machine_->Counters().Since(before);
      out.result.monitor = stats;
      out.result.log = std::move(log);
      break;
    }
  }
  return out;
}

StatusOr<Invocation> FunctionWorker::RunEnclave(const Prepared& image,
                                                const std::vector<Emapping>& emap,
                                                const Request& request) {
  Invocation inv;
  const machine::CounterSnapshot before = machine_->Counters();

  // Create.
  auto t0 = Clock::now();
  CONFIDE_ASSIGN_OR_RETURN(image::LoadedEnclave enclave, LoadPrepared(image, CONFIDE_ENCLAVE_BASE));
  if (!emap.empty()) {
    CONFIDE_RETURN_IF_ERROR(machine_->Eenter(kCore, enclave.tcs[0]));
    for (const auto& [plugin, expected] : emap) {
      if (Status s = machine_->Emap(kCore, plugin->loaded.secs, expected); !s.ok()) {
        (void)machine_->Eexit(kCore);
        (void)Unload(enclave);
        return tl::unexpected(s.error());
      }
    }
    if (Status s = machine_->Eexit(kCore); !s.ok()) {
      (void)Unload(enclave);
      return tl::unexpected(s.error());
    }
  }
  auto t1 = Clock::now();

  // Run: request in the window, EENTER .. EEXIT, reply out of the window.
  Status ran = [&]() -> Status {
    CONFIDE_ASSIGN_OR_RETURN(auto vm, monitor_->Attach(enclave.secs));
    MutableByteSpan w = vm->window();
    const uint64_t steps_bytes = request.steps.size() * sizeof(confide_chain_step);
    const uint64_t steps_offset =
        (CONFIDE_WINDOW_DATA + request.input.size() + kPage - 1) / kPage * kPage;
    if (request.input.size() > w.size() / 2 - CONFIDE_WINDOW_DATA - steps_bytes) {
      return InvalidArgumentError(fmt::format("input of {} bytes does not fit the {}-byte window",
                                              request.input.size(), w.size()));
    }
    confide_window header{};
    header.magic = CONFIDE_WINDOW_MAGIC;
    header.capacity = w.size();
    header.op = request.op;
    header.input_offset = CONFIDE_WINDOW_DATA;
    header.input_len = request.input.size();
    header.flags = request.flags;
    std::copy(request.key_id.begin(), request.key_id.end(), header.key_id);
    if (!request.steps.empty()) {
      header.step_count = request.steps.size();
      header.steps_offset = steps_offset;
      std::memcpy(w.data() + steps_offset, request.steps.data(), steps_bytes);
    }
    std::memcpy(w.data(), &header, sizeof header);
    if (!request.input.empty()) {
      std::memcpy(w.data() + CONFIDE_WINDOW_DATA, request.input.data(), request.input.size());
    }
    monitor::RunOptions options;
    options.time_limit = config_.time_limit;
    CONFIDE_ASSIGN_OR_RETURN(monitor::EnclaveRun run, vm->Enter(kCore, enclave.tcs[0], options));
    inv.end = run.end;
    inv.status = run.status;
    inv.log = std::move(run.log);
    inv.reason = std::move(run.reason);
    inv.monitor = vm->stats();
    if (run.end == monitor::RunEnd::kEexit) {
      confide_window reply;
      std::memcpy(&reply, w.data(), sizeof reply);
      // The reply is the enclave's word: bound it by the window.
      if (reply.output_offset > w.size() || reply.output_len > w.size() - reply.output_offset) {
        return DataLossError(
            fmt::format("the enclave's reply [{:#x}, +{:#x}) is outside the window",
                        reply.output_offset, reply.output_len));
      }
      inv.output.assign(w.begin() + reply.output_offset,
                        w.begin() + reply.output_offset + reply.output_len);
    }
    return OkStatus();
  }();
  auto t2 = Clock::now();

  // Teardown, whatever happened.
  Status removed = Unload(enclave);
  auto t3 = Clock::now();
  CONFIDE_RETURN_IF_ERROR(ran);
  CONFIDE_RETURN_IF_ERROR(removed);
  inv.times.create = t1 - t0;
  inv.times.run = t2 - t1;
  inv.times.teardown = t3 - t2;
  inv.counters = machine_->Counters().Since(before);
  return inv;
}

}  // namespace confide::platform
