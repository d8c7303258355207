// pie.cc — PIE's policies (ISCA'21 §V-§VI):
//
// pie-cold: the plugins are built once (Prepare). Per request a small host
// enclave (a one-page shim, the private data, TCS/SSA/stack; measured) is
// created, entered, and EMAPs every plugin (Fig. 8a); its heap grows by EAUG
// in batches; the pages the function writes in its plugins are copied on
// write (EAUG + EACCEPTCOPY, 74K cycles); at the end it EUNMAPs and is torn
// down.
//
// pie-warm: the same hosts, pre-created with their plugins mapped and heap
// committed (PIE §VI-B: "PIE-based warm start ... pre-warms a number of host
// enclaves"); between invocations the host zeroes what it dirtied and drops
// its copy-on-write pages (EREMOVE, PIE §V's emulation: 4.5K per page), so the
// plugin's pages show through again.
//
// template-fork (Enclavisor, TC'20; Catalyzer): a template enclave of the
// whole initialized image (code, data and heap after initialization) is
// measured once; an instance is a host that maps it and copies on write
// every page it writes (its data and heap, and some code pages). On PIE
// hardware this is the closest analogue of fork: sharing by mapping, private
// copies by copy-on-write.

#include "platform/policy/pie.h"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "platform/policy/policies.h"
#include "platform/policy/policy_base.h"
#include "platform/real_workload.h"

namespace confide::platform::policy {

std::vector<EnclaveSpec> PluginSpecs(const WorkloadProfile& w, uint64_t base) {
  if (w.real) return w.real->plugins;  // at their own slots
  std::vector<EnclaveSpec> specs;
  uint64_t offset = 0;
  if (w.runtime_pages > 0) {
    // Named after the runtime, so its contents and MRENCLAVE are the same
    // for every function of that runtime.
    specs.push_back(PluginSpec(fmt::format("runtime/{}/{}p", w.runtime, w.runtime_pages), base,
                               w.runtime_pages));
    offset = specs.back().size;
  }
  std::vector<std::pair<std::string, uint64_t>> parts;
  for (uint32_t i = 0; i < w.libraries; ++i)
    parts.emplace_back(fmt::format("{}/lib{}", w.name, i), w.library_plugin_pages(i));
  parts.emplace_back(w.name + "/function", w.function_pages);
  // Biggest first: each plugin is aligned to its own power-of-two size, so
  // packing in decreasing size leaves no holes.
  std::stable_sort(parts.begin(), parts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [name, pages] : parts) {
    if (pages == 0) continue;
    EnclaveSpec s = PluginSpec(name, 0, pages);
    offset = (offset + s.size - 1) / s.size * s.size;
    s.base = base + offset;
    offset += s.size;
    specs.push_back(std::move(s));
  }
  return specs;
}

uint64_t PluginSpan(const std::vector<EnclaveSpec>& specs, uint64_t base) {
  uint64_t end = base;
  for (const EnclaveSpec& s : specs) end = std::max(end, s.base + s.size);
  return end - base;
}

StatusOr<std::vector<BuiltEnclave>> BuildPlugins(PolicyContext& ctx, CoreId core,
                                                 const std::vector<EnclaveSpec>& specs) {
  std::vector<BuiltEnclave> built;
  for (const EnclaveSpec& spec : specs) {
    StatusOr<machine::Sigstruct> sig =
        SignSpec(spec, ctx.machine->page_contents(), *ctx.signing_key);
    StatusOr<BuiltEnclave> e =
        sig.ok() ? BuildEnclave(*ctx.driver, core, spec, *sig, BuildOptions{}, ctx.yield)
                 : StatusOr<BuiltEnclave>(tl::unexpected(sig.error()));
    if (!e.ok()) {
      (void)DestroyPlugins(ctx, core, built);
      return tl::unexpected(
          Annotate(e.status(), fmt::format("building plugin \"{}\"", spec.name)).error());
    }
    built.push_back(*e);
  }
  return built;
}

Status DestroyPlugins(PolicyContext& ctx, CoreId core, std::vector<BuiltEnclave>& plugins) {
  Status first;
  for (const BuiltEnclave& p : plugins) {
    Status s = DestroyEnclave(*ctx.driver, core, p);
    if (first.ok() && !s.ok()) first = s;
  }
  plugins.clear();
  return first;
}

Status MapPlugins(EpcDriver& driver, CoreId core, const std::vector<BuiltEnclave>& plugins,
                  Instance* in) {
  for (const BuiltEnclave& p : plugins) {
    CONFIDE_RETURN_IF_ERROR(driver.machine().Emap(core, p.secs, p.expected));
    in->mapped_plugins.push_back(p.secs);
    driver.NoteMapped(in->secs, p.secs);
  }
  return OkStatus();
}

Status UnmapPlugins(EpcDriver& driver, CoreId core, Instance* in) {
  while (!in->mapped_plugins.empty()) {
    const EpcPage p = in->mapped_plugins.back();
    CONFIDE_RETURN_IF_ERROR(driver.machine().Eunmap(core, p));
    driver.NoteUnmapped(in->secs, p);
    in->mapped_plugins.pop_back();
  }
  return OkStatus();
}

namespace {

class PiePolicy : public PolicyBase {
 public:
  enum class Flavor { kCold, kWarm, kTemplate };
  PiePolicy(std::string name, Flavor flavor, PolicyContext& ctx, const WorkloadProfile& w,
            const PolicyOptions& o)
      : PolicyBase(std::move(name), ctx, w, o), flavor_(flavor) {
    // A real workload's enclaves live at its own ELRANGE (real_workload.h).
    const uint64_t base = workload_.real ? workload_.real->pie_host.base : kEnclaveBase;
    if (flavor == Flavor::kTemplate) {
      // The template: everything the function starts from, shared.
      EnclaveSpec t =
          PluginSpec(workload_.name + "/template", kEnclaveBase,
                     workload_.code_pages() + workload_.data_pages + workload_.heap_pages);
      plugin_specs_.push_back(std::move(t));
    } else {
      plugin_specs_ = PluginSpecs(workload_, base);
    }
    SpecParams p;
    p.name = workload_.name + (flavor == Flavor::kTemplate ? "/fork-host" : "/pie-host");
    p.base = base;
    p.plugin_span = PluginSpan(plugin_specs_, base);
    p.code_pages = 1;  // the host's shim
    p.data_pages = flavor == Flavor::kTemplate ? 0 : workload_.data_pages;
    p.heap_pages = flavor == Flavor::kTemplate ? 0 : workload_.heap_pages;
    p.heap_added = false;
    p.stack_pages = options_.stack_pages;
    host_spec_ = WorkloadHostSpec(workload_, p);
  }

  Status Prepare(CoreId core) override {
    if (workload_.real && !workload_.real->built_plugins.empty()) {
      plugins_ = workload_.real->built_plugins;  // their owner's: shared, not destroyed here
      owns_plugins_ = false;
    } else {
      CONFIDE_ASSIGN_OR_RETURN(plugins_, BuildPlugins(ctx_, core, plugin_specs_));
    }
    for (uint32_t i = 0; flavor_ == Flavor::kWarm && i < options_.pool_size; ++i) {
      CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, Create(core));
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, *in));
      CONFIDE_RETURN_IF_ERROR(ops_.GrowHeap(core, *in, workload_.heap_pages, options_.eaug_batch));
      CONFIDE_RETURN_IF_ERROR(ops_.Exit(core, *in));
      in->pooled = true;
      pool_.push_back(std::move(in));
    }
    return OkStatus();
  }

  StatusOr<std::unique_ptr<Instance>> Start(CoreId core) override {
    if (plugins_.empty()) return FailedPreconditionError(name_ + ": Start before Prepare");
    if (!pool_.empty()) {
      std::unique_ptr<Instance> in = std::move(pool_.front());
      pool_.pop_front();
      return std::unique_ptr<Instance>(std::move(in));
    }
    CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, Create(core));
    return std::unique_ptr<Instance>(std::move(in));
  }

  Status Run(CoreId core, Instance& instance) override {
    Instance& in = instance;
    CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
    if (flavor_ == Flavor::kTemplate) {
      // The instance writes its data and heap (copies of the template's) and
      // some code pages.
      const BuiltEnclave& t = plugins_.front();
      const uint64_t state = workload_.data_pages + workload_.heap_pages;
      CONFIDE_RETURN_IF_ERROR(
          ops_.CopyRange(core, in, t, t.base + workload_.code_pages() * kPageSize, state));
      CONFIDE_RETURN_IF_ERROR(ops_.CopyRange(core, in, t, t.base, workload_.cow_pages()));
    } else {
      CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.data_linaddr, workload_.data_pages));
      if (in.heap_committed < workload_.heap_pages)
        CONFIDE_RETURN_IF_ERROR(
            ops_.GrowHeap(core, in, workload_.heap_pages - in.heap_committed, options_.eaug_batch));
      else
        CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.heap_linaddr, workload_.heap_pages));
      CONFIDE_RETURN_IF_ERROR(workload_.real
                                  ? CopyWritten(core, in)
                                  : ops_.CopyOnWrite(core, in, plugins_, workload_.cow_pages()));
    }
    CONFIDE_RETURN_IF_ERROR(Execute(core, in));
    return ops_.Exit(core, in);
  }

  Status Finish(CoreId core, std::unique_ptr<Instance> instance) override {
    if (flavor_ != Flavor::kWarm || instance->tainted) return ops_.Destroy(core, *instance);
    // Reset: zero the data and heap the function dirtied, then drop the
    // copy-on-write pages so the plugins show through again.
    // (A real host gets its initial bytes back: real_workload.h.)
    Status reset = workload_.real
                       ? ops_.Restore(core, *instance, host_spec_)
                       : ops_.Reset(core, *instance, workload_.data_pages, workload_.heap_pages);
    if (reset.ok()) reset = ops_.DropCopies(core, *instance);
    if (!reset.ok()) {
      // An instance that cannot be reset must not serve again.
      (void)ops_.Destroy(core, *instance);
      return reset;
    }
    pool_.push_back(std::move(instance));
    return OkStatus();
  }

  Status Shutdown(CoreId core) override {
    Status first;
    for (; !pool_.empty(); pool_.pop_front()) {
      Status s = ops_.Destroy(core, *pool_.front());
      if (first.ok() && !s.ok()) first = s;
    }
    Status plugins = OkStatus();
    if (owns_plugins_) {
      plugins = DestroyPlugins(ctx_, core, plugins_);
    } else {
      plugins_.clear();
    }
    return first.ok() ? plugins : first;
  }

 private:
  // A host: built, initialized, entered to EMAP its plugins, left.
  StatusOr<std::unique_ptr<Instance>> Create(CoreId core) {
    CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, BuildInstance(core, host_spec_));
    Status s = ops_.Enter(core, *in);
    if (s.ok()) s = MapPlugins(driver(), core, plugins_, in.get());
    if (s.ok()) s = ops_.Exit(core, *in);
    if (!s.ok()) {
      (void)ops_.Destroy(core, *in);
      return tl::unexpected(s.error());
    }
    return in;
  }

  // A real workload's known-written plugin pages (RealImages::written),
  // copied now; a warm host that kept its copies skips them.
  Status CopyWritten(CoreId core, Instance& in) {
    for (uint64_t a : workload_.real->written) {
      if (std::find(in.cow_pages.begin(), in.cow_pages.end(), a) != in.cow_pages.end()) continue;
      for (const BuiltEnclave& p : plugins_) {
        if (a >= p.base && a - p.base < p.size) {
          CONFIDE_RETURN_IF_ERROR(ops_.CopyRange(core, in, p, a, 1));
        }
      }
    }
    return OkStatus();
  }

  Flavor flavor_;
  std::vector<EnclaveSpec> plugin_specs_;
  EnclaveSpec host_spec_;
  std::vector<BuiltEnclave> plugins_;
  bool owns_plugins_ = true;  // built by Prepare (else the workload's owner's)
  std::deque<std::unique_ptr<Instance>> pool_;
};

}  // namespace

std::unique_ptr<StartPolicy> MakePieCold(PolicyContext& c, const WorkloadProfile& w,
                                         const PolicyOptions& o) {
  return std::make_unique<PiePolicy>("pie-cold", PiePolicy::Flavor::kCold, c, w, o);
}
std::unique_ptr<StartPolicy> MakePieWarm(PolicyContext& c, const WorkloadProfile& w,
                                         const PolicyOptions& o) {
  return std::make_unique<PiePolicy>("pie-warm", PiePolicy::Flavor::kWarm, c, w, o);
}
std::unique_ptr<StartPolicy> MakeTemplateFork(PolicyContext& c, const WorkloadProfile& w,
                                              const PolicyOptions& o) {
  return std::make_unique<PiePolicy>("template-fork", PiePolicy::Flavor::kTemplate, c, w, o);
}

}  // namespace confide::platform::policy
