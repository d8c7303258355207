// real_workload.h — a real function as a start policy's workload, so that the
// model's policies start enclaves that the monitor then runs: the policy
// decides the instructions (ECREATE, EADD, EEXTEND, EAUG, EMAP, ...), the
// machine checks and executes them on the real pages, and the monitor runs
// the enclave's code between EENTER and EEXIT.
//
// The pages are those of image/layout.h at image/enclave_abi.h's addresses:
// the runtime, function and data plugins at their slots, and the host's
// private part (thread info, heap, TCS, SSA, stack) at CONFIDE_PRIVATE_OFFSET.
// A plugin policy (pie-*) builds the plugins and a small host; every other
// policy builds the monolithic enclave, in which the same pages are the
// enclave's own. Either way every byte sits at the same linear address, so
// the same runtime code runs unchanged under every policy.
//
// Policies apply their own choices to these specs (WorkloadHostSpec): which
// regions EADD adds and which EEXTEND measures (sgx1-cold measures the heap,
// sgx1-swhash hashes in software, sgx2-eaug EAUGs code and data, pie-cold
// EAUGs the heap, ...). Region kinds come from the host layout's offsets.
//
// Not real: template-fork. Its template is the whole initialized image
// (code, data, heap) as one plugin, which would cover the host's own pages
// in this layout (the host's private part lies inside the same ELRANGE, and
// a plugin's range must not overlap the host's pages); MakePolicy refuses it
// for a real workload, naming the policies that start real functions.
//
// Thread-safety: immutable values once built.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "image/layout.h"
#include "image/sgxs.h"
#include "platform/enclave_builder.h"
#include "platform/workload.h"

namespace confide::platform {

struct RealImages {
  // PIE: runtime, function and (optional) data plugins, each at its slot:
  // their specs (where they lie) and, if their owner built them already
  // (the worker, once for all its policies), the built plugins, which a
  // PIE policy then maps instead of building its own, and never destroys.
  // A built plugin's `expected` is the MRENCLAVE the host names for it.
  std::vector<EnclaveSpec> plugins;
  std::vector<BuiltEnclave> built_plugins;
  // PIE: the host's private part, whose thread-info page names the plugins'
  // expected MRENCLAVEs.
  EnclaveSpec pie_host;
  // SGX: runtime, function and private part as one enclave's own pages.
  // No regions if the function needs plugins (a data plugin).
  EnclaveSpec monolithic;
  // PIE: linear addresses of plugin pages the enclave's code writes (the
  // runtime's .data and .bss). A PIE host copies them before the function
  // runs, as the model's policies make their copy-on-write copies (EAUG +
  // EACCEPTCOPY) before execution, rather than on the first write, which
  // on the monitor is a fault: a VM exit.
  std::vector<uint64_t> written;
};

// The spec of an SGXS image laid out by image/layout.h at `base`, with real
// contents. Pages of `host` (the layout's private part: heap, TCS, SSA,
// stack, thread info) get their kinds from its offsets; other pages are
// code (executable) or data, with the image's rights; PT_SREG pages are
// shared. Consecutive pages of one kind and rights form one region.
EnclaveSpec SpecFromImage(std::string name, const image::SgxsImage& image, uint64_t base,
                          const image::LayoutInfo* host);

// The host spec a policy asks for with `params`: HostSpec(params) for a
// synthetic workload; for a real one, the real PIE host (params.plugin_span
// > 0) or the monolithic enclave, with the policy's choices applied: the
// heap added and measured as params say, code and data measured as
// params.code_measured says.
EnclaveSpec WorkloadHostSpec(const WorkloadProfile& workload, const SpecParams& params);

// A workload profile for real images: sizes from the specs, no synthetic
// execution time or copy-on-write (the real function decides those).
WorkloadProfile RealWorkload(std::string name, std::shared_ptr<const RealImages> images);

}  // namespace confide::platform
