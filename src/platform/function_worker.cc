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
#include "platform/real_workload.h"

namespace confide::platform {
namespace {

using Clock = std::chrono::steady_clock;
using machine::PageType;
using machine::SecInfo;

constexpr machine::CoreId kCore = 0;

}  // namespace

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
  if (!machine_ || !driver_) return;  // Create failed before anything was built
  // Policies first: their plugins and pools live in the EPC.
  (void)ReleasePolicies();
  for (const Function& f : functions_) (void)driver_->Destroy(kCore, f.plugin.built.secs);
  for (const Plugin& d : data_) (void)driver_->Destroy(kCore, d.built.secs);
  if (runtime_.built.secs != 0) (void)driver_->Destroy(kCore, runtime_.built.secs);
  (void)driver_->ReleaseVaPages(kCore);
}

StatusOr<std::unique_ptr<FunctionWorker>> FunctionWorker::Create(
    ByteSpan runtime_elf, const FunctionWorkerConfig& config) {
  std::unique_ptr<FunctionWorker> w(new FunctionWorker(config));
  machine::MachineConfig mc;
  mc.epc_pages = config.epc_pages;
  // Core 0 runs the enclaves; EnTurbo's measurement workers take the rest
  // (8: its paper's sweet spot). Cores are virtual clocks, not threads.
  mc.cores = 9;
  CONFIDE_ASSIGN_OR_RETURN(w->machine_, machine::Machine::Create(mc));
  monitor::MonitorConfig moc;
  moc.kvm_path = config.kvm_path;
  moc.window_bytes = config.window_bytes;
  moc.vm_pool = config.vm_pool;
  CONFIDE_ASSIGN_OR_RETURN(w->monitor_, monitor::Monitor::Create(*w->machine_, moc));
  CONFIDE_ASSIGN_OR_RETURN(auto key, crypto::Rsa3072PrivateKey::Generate());
  w->key_.emplace(std::move(key));
  w->driver_ = std::make_unique<EpcDriver>(*w->machine_);
  w->executor_ = std::make_unique<MonitorExecutor>(*w->monitor_, *w->driver_, config.time_limit);
  w->policy_context_.machine = w->machine_.get();
  w->policy_context_.driver = w->driver_.get();
  w->policy_context_.signing_key = &*w->key_;
  w->policy_context_.executor = w->executor_.get();

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
  w->runtime_syscall_handler_offset_ = info.syscall_handler_offset;
  // Its writable pages (as laid out for an enclave of its own, where they
  // keep W): what every host copies from the runtime plugin.
  image::Manifest elf_only;
  elf_only.heap_size = 0;
  image::LayoutInfo own;
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage writable,
                           image::LayoutFromElf(runtime_elf, elf_only, &own));
  for (const image::SgxsPage& p : writable.pages) {
    if (p.offset < own.elf_end && (p.secinfo.flags & machine::secinfo::kW)) {
      w->runtime_written_.push_back(CONFIDE_ENCLAVE_BASE + CONFIDE_RUNTIME_SLOT + p.offset);
    }
  }
  CONFIDE_ASSIGN_OR_RETURN(Prepared runtime, w->Prepare(std::move(img)));
  CONFIDE_ASSIGN_OR_RETURN(w->runtime_,
                           w->BuildPlugin("runtime", std::move(runtime), CONFIDE_ENCLAVE_BASE));
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

StatusOr<FunctionWorker::Plugin> FunctionWorker::BuildPlugin(const std::string& name,
                                                             Prepared prepared, uint64_t base) {
  // Built through the EPC driver, like the policies' enclaves: under EPC
  // pressure an idle plugin's pages are evicted and come back on demand.
  Plugin p;
  p.mrenclave = image::MeasureSgxs(prepared.image);
  CONFIDE_ASSIGN_OR_RETURN(
      p.built, BuildEnclave(*driver_, kCore, SpecFromImage(name, prepared.image, base, nullptr),
                            prepared.sigstruct, BuildOptions{}));
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
  CONFIDE_ASSIGN_OR_RETURN(f.plugin, BuildPlugin("function/" + name, std::move(prepared),
                                                 CONFIDE_ENCLAVE_BASE + CONFIDE_FUNCTION_SLOT));
  f.name = std::move(name);
  functions_.push_back(std::move(f));
  return static_cast<FunctionId>(functions_.size() - 1);
}

StatusOr<DataId> FunctionWorker::AddData(std::string name, ByteSpan bytes) {
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage img, image::DataImage(name, bytes));
  CONFIDE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(std::move(img)));
  CONFIDE_ASSIGN_OR_RETURN(Plugin p, BuildPlugin("data/" + name, std::move(prepared),
                                                 CONFIDE_ENCLAVE_BASE + CONFIDE_DATA_SLOT));
  data_.push_back(std::move(p));
  return static_cast<DataId>(data_.size() - 1);
}

image::Manifest FunctionWorker::HostManifest() const {
  image::Manifest m;
  m.heap_size = config_.heap_bytes;
  m.stack_size = config_.stack_bytes;
  m.threads = 1;
  // In the images themselves the heap is added but not measured (EADD
  // without EEXTEND): its initial bytes are the host's choice, and the
  // library OS zeroes every page it hands out (runtime/heap.h), so nothing
  // depends on them. That is how chain hosts are built (RunEnclave); a start
  // policy decides for its own enclaves (WorkloadHostSpec: sgx1-cold
  // measures the heap, the PIE and SGX2 policies EAUG it).
  m.measure_heap = false;
  return m;
}

StatusOr<image::SgxsImage> FunctionWorker::MonolithicImage(const Function& f,
                                                           image::LayoutInfo* host_info) const {
  image::Manifest host = HostManifest();
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage priv,
                           image::LayoutPieHost(host, CONFIDE_PRIVATE_OFFSET, runtime_entry_offset_,
                                                runtime_syscall_handler_offset_, host_info));
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

namespace {

bool IsPiePolicy(std::string_view policy) { return policy.starts_with("pie-"); }

}  // namespace

StatusOr<WorkloadProfile> FunctionWorker::FunctionWorkload(const Function& f, const Plugin* data,
                                                           const crypto::Sha256Digest& expected) {
  auto images = std::make_shared<RealImages>();
  // The worker's plugins, built once, mapped by the policies' hosts; the
  // host names the function by `expected`, which EMAP compares.
  auto add = [&](const std::string& name, const Plugin& p, const crypto::Sha256Digest& want) {
    BuiltEnclave built = p.built;
    built.expected = want;
    images->built_plugins.push_back(built);
    EnclaveSpec span = PluginSpec(name, built.base, built.size / kPageSize);
    span.size = built.size;
    images->plugins.push_back(std::move(span));
  };
  add("runtime", runtime_, runtime_.mrenclave);
  add("function/" + f.name, f.plugin, expected);
  if (data) add("data", *data, data->mrenclave);
  image::Manifest m = HostManifest();
  // The manifest names each MRENCLAVE once (a pin may repeat another's).
  auto name = [&](std::string what, const crypto::Sha256Digest& digest) {
    for (const image::PluginRef& p : m.plugins)
      if (p.mrenclave == digest) return;
    m.plugins.push_back({std::move(what), digest});
  };
  name("runtime", runtime_.mrenclave);
  name("function", expected);
  if (data) name("data", data->mrenclave);
  image::LayoutInfo info;
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage host,
                           image::LayoutPieHost(m, CONFIDE_PRIVATE_OFFSET, runtime_entry_offset_,
                                                runtime_syscall_handler_offset_, &info));
  images->pie_host = SpecFromImage("host", host, CONFIDE_ENCLAVE_BASE, &info);
  images->written = runtime_written_;
  if (!data) {
    CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage whole, MonolithicImage(f, &info));
    images->monolithic = SpecFromImage("enclave", whole, CONFIDE_ENCLAVE_BASE, &info);
  }
  return RealWorkload(f.name, std::move(images));
}

StatusOr<StartPolicy*> FunctionWorker::PolicyFor(std::string_view name, FunctionId id,
                                                 std::optional<DataId> data,
                                                 const crypto::Sha256Digest& expected) {
  const std::string key =
      fmt::format("{}/{}/{}/{}", name, id, data ? int64_t{*data} : -1, ToHex(expected));
  auto it = policies_.find(key);
  if (it != policies_.end()) return it->second.policy.get();
  PolicySlot slot;
  CONFIDE_ASSIGN_OR_RETURN(
      slot.workload, FunctionWorkload(functions_[id], data ? &data_[*data] : nullptr, expected));
  CONFIDE_ASSIGN_OR_RETURN(slot.policy, MakePolicy(name, policy_context_, slot.workload));
  if (Status prepared = slot.policy->Prepare(kCore); !prepared.ok()) {
    (void)slot.policy->Shutdown(kCore);
    return tl::unexpected(prepared.error());
  }
  return policies_.emplace(key, std::move(slot)).first->second.policy.get();
}

StatusOr<Invocation> FunctionWorker::InvokeEnclave(const image::SgxsImage& img,
                                                   const machine::Sigstruct& sigstruct,
                                                   ByteSpan input, const InvokeOptions& opts) {
  if (!image::IsWholeEnclave(img)) {
    return InvalidArgumentError("not a whole enclave (it has no TCS): a plugin runs with Invoke");
  }
  if (opts.data) return InvalidArgumentError("a whole enclave maps no data plugin");
  const crypto::Sha256Digest mrenclave = image::MeasureSgxs(img);
  if (opts.function_mrenclave && *opts.function_mrenclave != mrenclave) {
    return SgxErrorStatus(
        SgxError::kInvalidMeasurement,
        fmt::format("the enclave's MRENCLAVE is {}, not the pinned one", ToHex(mrenclave)));
  }
  Request request;
  request.op = CONFIDE_OP_RUN;
  request.input = input;
  return RunEnclave(Prepared{img, sigstruct}, {}, request);
}

Status FunctionWorker::ReleasePolicies() {
  Status first;
  for (auto& [key, slot] : policies_) {
    Status s = slot.policy->Shutdown(kCore);
    if (first.ok() && !s.ok()) first = s;
  }
  policies_.clear();
  return first;
}

StatusOr<Invocation> FunctionWorker::Invoke(FunctionId id, std::string_view policy, ByteSpan input,
                                            const InvokeOptions& opts) {
  if (id >= functions_.size()) return NotFoundError(fmt::format("no function {}", id));
  if (opts.data && *opts.data >= data_.size()) {
    return NotFoundError(fmt::format("no data plugin {}", *opts.data));
  }
  const Function& f = functions_[id];
  if (opts.data && !IsPiePolicy(policy)) {
    return InvalidArgumentError(
        fmt::format("data plugins need a PIE start (pie-cold or pie-warm), not \"{}\"", policy));
  }
  const crypto::Sha256Digest expected = opts.function_mrenclave.value_or(f.plugin.mrenclave);
  // Without EMAP there is no instruction to compare at: the worker
  // compares, as a verifier of the whole enclave's function would, and
  // never runs a mismatch. PIE's EMAP compares in the instruction (§IV-C).
  if (!IsPiePolicy(policy) && expected != f.plugin.mrenclave) {
    return SgxErrorStatus(SgxError::kInvalidMeasurement,
                          fmt::format("function {} is not the pinned MRENCLAVE", f.name));
  }
  CONFIDE_ASSIGN_OR_RETURN(StartPolicy * p, PolicyFor(policy, id, opts.data, expected));

  Request request;
  request.op = CONFIDE_OP_RUN;
  request.input = input;
  if (opts.data) request.flags |= CONFIDE_WINDOW_DATA_PLUGIN;
  executor_->set_request(&request);
  Invocation inv;
  const machine::CounterSnapshot before = machine_->Counters();
  const auto t0 = Clock::now();
  CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance, p->Start(kCore));
  const auto t1 = Clock::now();
  Status ran = p->Run(kCore, *instance);
  const auto t2 = Clock::now();
  // Finish even after a failed run, so the instance's pages are released.
  Status finished = p->Finish(kCore, std::move(instance));
  const auto t3 = Clock::now();
  executor_->set_request(nullptr);
  CONFIDE_RETURN_IF_ERROR(ran);
  CONFIDE_RETURN_IF_ERROR(finished);
  std::optional<EnclaveReply>& reply = executor_->reply();
  if (!reply) return InternalError(fmt::format("policy {} never ran the function", policy));
  inv.end = reply->end;
  inv.status = reply->status;
  inv.output = std::move(reply->output);
  inv.log = std::move(reply->log);
  inv.reason = std::move(reply->reason);
  inv.monitor = reply->stats;
  reply.reset();
  inv.times.create = t1 - t0;
  inv.times.run = t2 - t1;
  inv.times.teardown = t3 - t2;
  inv.counters = machine_->Counters().Since(before);
  return inv;
}

StatusOr<const FunctionWorker::Prepared*> FunctionWorker::PieHost(
    const std::vector<const Plugin*>& plugins) {
  std::vector<machine::EpcPage> key;
  for (const Plugin* p : plugins) key.push_back(p->built.secs);
  auto it = pie_hosts_.find(key);
  if (it != pie_hosts_.end()) return &it->second;
  image::Manifest m = HostManifest();
  for (size_t i = 0; i < plugins.size(); ++i) {
    m.plugins.push_back({fmt::format("plugin{}", i), plugins[i]->mrenclave});
  }
  CONFIDE_ASSIGN_OR_RETURN(image::SgxsImage host,
                           image::LayoutPieHost(m, CONFIDE_PRIVATE_OFFSET, runtime_entry_offset_,
                                                runtime_syscall_handler_offset_));
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
          {p->built.secs, static_cast<uint64_t>(std::distance(plugins.begin(), at))});
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
      if (Status s = machine_->Emap(kCore, plugin->built.secs, expected); !s.ok()) {
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
    CONFIDE_RETURN_IF_ERROR(WriteRequest(vm->window(), request));
    monitor::RunOptions options;
    options.time_limit = config_.time_limit;
    // The plugins are the driver's: an idle one may have been evicted.
    options.page_in = [&](uint64_t linaddr) {
      return PageIn(*driver_, kCore, enclave.secs, linaddr);
    };
    CONFIDE_ASSIGN_OR_RETURN(monitor::EnclaveRun run, vm->Enter(kCore, enclave.tcs[0], options));
    CONFIDE_ASSIGN_OR_RETURN(EnclaveReply reply,
                             TakeReply(std::move(run), vm->window(), vm->stats()));
    inv.end = reply.end;
    inv.status = reply.status;
    inv.output = std::move(reply.output);
    inv.log = std::move(reply.log);
    inv.reason = std::move(reply.reason);
    inv.monitor = reply.stats;
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
