// monitor_executor.h — the Executor (policy/start_policy.h) of real runs: the
// function of an instance that a start policy has started and entered runs
// on the monitor, and one request goes in and one reply comes out through
// the VM's window (image/enclave_abi.h, untrusted memory).
//
// While the enclave runs, copy-on-write copies take their EPC pages from the
// EPC driver, and a touch of an evicted page of the enclave, or of a plugin
// it maps, is loaded back by the driver (ELDU) between AEX and ERESUME. Afterwards the driver
// tracks the copies and the instance lists them (Instance::cow_pages), so a warm policy can drop
// them and teardown removes them. A run that ended by a crash or a timeout marks the instance
// tainted.
//
// Thread-safety: one thread at a time, as the policies that call it.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "image/enclave_abi.h"
#include "monitor/enclave_vm.h"
#include "monitor/monitor.h"
#include "platform/epc_driver.h"
#include "platform/policy/start_policy.h"

namespace confide::platform {

// What the worker asks of one enclave (the window's request fields).
struct EnclaveRequest {
  uint64_t op = CONFIDE_OP_RUN;
  uint64_t flags = 0;  // CONFIDE_WINDOW_*
  ByteSpan input;
  std::vector<confide_chain_step> steps;
  std::array<uint8_t, 32> key_id{};
};

// What came back: how the run ended, and the reply if it ended by EEXIT.
struct EnclaveReply {
  monitor::RunEnd end = monitor::RunEnd::kEexit;
  uint64_t status = 0;  // CONFIDE_STATUS_* after EEXIT, the exit code after exit()
  Bytes output;
  std::string log;
  std::string reason;
  monitor::MonitorStats stats;
};

// Writes `request` into `window`: the header, the input, the chain steps.
// InvalidArgumentError if the input does not fit.
Status WriteRequest(MutableByteSpan window, const EnclaveRequest& request);
// The enclave's reply from `window`; DataLossError if the enclave put it
// outside the window (the reply is the enclave's word, bounded here).
StatusOr<Bytes> ReadReply(ByteSpan window);
// `run` and, if it ended by EEXIT, the reply in `window`.
StatusOr<EnclaveReply> TakeReply(monitor::EnclaveRun run, ByteSpan window,
                                 const monitor::MonitorStats& stats);

// The OS's pager for RunOptions::page_in: loads the page at `linaddr` of
// host `host`, or of the plugin it maps there, back through `driver`
// (ELDU). false if neither has a page there.
StatusOr<bool> PageIn(EpcDriver& driver, CoreId core, EpcPage host, uint64_t linaddr);

class MonitorExecutor : public Executor {
 public:
  // `monitor` and `driver` serve the same machine and outlive the executor.
  MonitorExecutor(monitor::Monitor& monitor, EpcDriver& driver, std::chrono::nanoseconds time_limit)
      : monitor_(monitor), driver_(driver), time_limit_(time_limit) {}

  // The request the next Execute carries; borrowed until then.
  void set_request(const EnclaveRequest* request) { request_ = request; }
  // The last Execute's reply (cleared by the next).
  std::optional<EnclaveReply>& reply() { return reply_; }

  Status Execute(CoreId core, Instance& in) override;

 private:
  monitor::Monitor& monitor_;
  EpcDriver& driver_;
  std::chrono::nanoseconds time_limit_;
  const EnclaveRequest* request_ = nullptr;
  std::optional<EnclaveReply> reply_;
};

}  // namespace confide::platform
