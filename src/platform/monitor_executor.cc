#include "platform/monitor_executor.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace confide::platform {
namespace {

constexpr uint64_t kPage = 4096;

}  // namespace

Status WriteRequest(MutableByteSpan w, const EnclaveRequest& request) {
  const uint64_t steps_bytes = request.steps.size() * sizeof(confide_chain_step);
  const uint64_t steps_offset =
      (CONFIDE_WINDOW_DATA + request.input.size() + kPage - 1) / kPage * kPage;
  // Half the window stays free for the reply.
  if (w.size() / 2 < CONFIDE_WINDOW_DATA + steps_bytes ||
      request.input.size() > w.size() / 2 - CONFIDE_WINDOW_DATA - steps_bytes) {
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
  return OkStatus();
}

StatusOr<Bytes> ReadReply(ByteSpan w) {
  confide_window reply;
  std::memcpy(&reply, w.data(), sizeof reply);
  if (reply.output_offset > w.size() || reply.output_len > w.size() - reply.output_offset) {
    return DataLossError(fmt::format("the enclave's reply [{:#x}, +{:#x}) is outside the window",
                                     reply.output_offset, reply.output_len));
  }
  return Bytes(w.begin() + reply.output_offset, w.begin() + reply.output_offset + reply.output_len);
}

StatusOr<EnclaveReply> TakeReply(monitor::EnclaveRun run, ByteSpan window,
                                 const monitor::MonitorStats& stats) {
  EnclaveReply r;
  r.end = run.end;
  r.status = run.status;
  r.log = std::move(run.log);
  r.reason = std::move(run.reason);
  r.stats = stats;
  if (run.end == monitor::RunEnd::kEexit) {
    CONFIDE_ASSIGN_OR_RETURN(r.output, ReadReply(window));
  }
  return r;
}

StatusOr<bool> PageIn(EpcDriver& driver, CoreId core, EpcPage host, uint64_t linaddr) {
  machine::Machine& m = driver.machine();
  // The page is the host's own, or a page of a plugin it maps now (evicted
  // while no host that maps it was running).
  EpcPage owner = host;
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveMap map, m.MapOf(host));
  for (EpcPage plugin : map.plugins) {
    StatusOr<machine::Secs> secs = m.SecsOf(plugin);
    if (secs.ok() && linaddr >= secs->base_addr && linaddr - secs->base_addr < secs->size) {
      owner = plugin;
    }
  }
  StatusOr<EpcPage> page = driver.Resident(core, owner, linaddr);
  if (page.ok()) return true;
  if (page.error().code == ErrorCode::kNotFound) return false;
  return tl::unexpected(page.error());
}

Status MonitorExecutor::Execute(CoreId core, Instance& in) {
  reply_.reset();
  if (!request_) return FailedPreconditionError("the executor has no request to carry");
  machine::Machine& m = driver_.machine();
  CONFIDE_ASSIGN_OR_RETURN(auto vm, monitor_.Attach(in.secs));
  CONFIDE_RETURN_IF_ERROR(WriteRequest(vm->window(), *request_));
  monitor::RunOptions options;
  options.time_limit = time_limit_;
  options.allocate_page = [&]() -> StatusOr<EpcPage> {
    if (m.FreePageCount() > 1) return driver_.Allocate(core);
    // Evicting a victim takes ENCLS (EBLOCK, EWB), which the OS issues from
    // outside: AEX, allocate, ERESUME. The host stays pinned meanwhile, so
    // none of its own pages (its TCS included) is the victim.
    CONFIDE_RETURN_IF_ERROR(m.Aex(core));
    StatusOr<EpcPage> page = driver_.Allocate(core);
    CONFIDE_RETURN_IF_ERROR(m.Eresume(core, in.tcs_page));
    return page;
  };
  options.page_in = [&](uint64_t linaddr) { return PageIn(driver_, core, in.secs, linaddr); };
  options.before_eexit = in.before_leave;
  StatusOr<monitor::EnclaveRun> run = vm->Run(core, in.tcs_page, options);
  // Copies made by copy-on-write belong to the instance, whatever the end.
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveMap map, m.MapOf(in.secs));
  for (const auto& [linaddr, page] : map.pages) {
    if (driver_.IsResident(in.secs, linaddr)) continue;
    driver_.Track(in.secs, linaddr, page);
    in.cow_pages.push_back(linaddr);
  }
  if (!run.ok()) {
    in.tainted = true;
    return tl::unexpected(run.error());
  }
  if (run->end != monitor::RunEnd::kEexit) in.tainted = true;
  CONFIDE_ASSIGN_OR_RETURN(EnclaveReply reply,
                           TakeReply(std::move(*run), vm->window(), vm->stats()));
  reply_ = std::move(reply);
  return OkStatus();
}

}  // namespace confide::platform
