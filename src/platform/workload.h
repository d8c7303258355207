// workload.h — what a serverless function looks like to a start policy: the
// sizes of its code, data and heap, how its code splits into plugins, how
// long it runs and how much of its plugins it writes; plus the software
// costs (hashing, zeroing, copying, transfer) that policies charge beside the
// machine's instructions.
//
// The data is workloads/pie-table1.json, compiled into the binary: PIE
// (ISCA'21) Table I, with every number the paper does not give named as an
// assumption in the file. Sizes are rounded up to whole pages here.
//
// Thread-safety: immutable values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace confide::platform {

struct SoftwareCosts {
  uint64_t sha256_cycles_per_page = 0;  // software measurement of one page
  uint64_t zero_cycles_per_page = 0;    // zeroing one page in the enclave
  double copy_cycles_per_byte = 0;      // memcpy inside an enclave
  double transfer_cycles_per_byte = 0;  // SSL transfer between enclaves, per byte per hop
  uint64_t attest_cycles = 0;           // mutual attestation + handshake, per hop
  uint64_t reset_cycles_per_page = 0;   // warm-start reset of a dirtied page
};

struct RealImages;  // platform/real_workload.h

struct WorkloadProfile {
  std::string name;
  std::string description;
  std::string runtime;
  uint32_t libraries = 0;       // one plugin each
  uint64_t runtime_pages = 0;   // runtime plugin
  uint64_t library_pages = 0;   // all libraries together (split evenly)
  uint64_t function_pages = 0;  // the function's own code plugin
  uint64_t data_pages = 0;      // application data: private, loaded per request
  uint64_t heap_pages = 0;      // heap the function uses
  uint64_t sgx_heap_pages = 0;  // heap an SGX1 enclave reserves at creation
  uint64_t exec_cycles = 0;     // execution time on the profile's core
  double exec_ms = 0;           // the same, as given
  double cow_fraction = 0;      // fraction of plugin pages the function writes
  // A real function (platform/real_workload.h): policies lay out, measure
  // and sign its real pages instead of synthetic ones, so the enclaves they
  // start can run on the monitor. nullptr: a synthetic workload.
  std::shared_ptr<const RealImages> real;

  // All code + read-only data (what PIE puts in plugins).
  uint64_t code_pages() const { return runtime_pages + library_pages + function_pages; }
  // Pages of library plugin i (0 <= i < libraries): the split is even, the
  // first ones take the remainder.
  uint64_t library_plugin_pages(uint32_t i) const;
  // Plugin pages the function writes during one invocation.
  uint64_t cow_pages() const;
};

struct WorkloadSet {
  SoftwareCosts software;
  std::vector<WorkloadProfile> workloads;
  // NotFoundError listing the names.
  StatusOr<WorkloadProfile> Find(std::string_view name) const;
};

// Parses the JSON of workloads/pie-table1.json; execution times are
// converted to cycles at `frequency_hz`. InvalidArgumentError names the key
// that is missing, unknown or out of range.
StatusOr<WorkloadSet> ParseWorkloads(std::string_view json, uint64_t frequency_hz);
// The built-in set (PIE Table I).
WorkloadSet BuiltinWorkloads(uint64_t frequency_hz);

// A synthetic workload of `pages` code pages and `heap_pages` heap, for
// microbenchmarks (Fig. 3a) and tests; no plugins beyond one runtime.
WorkloadProfile SyntheticWorkload(std::string name, uint64_t code_pages, uint64_t heap_pages,
                                  uint64_t exec_cycles);

}  // namespace confide::platform
