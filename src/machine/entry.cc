// entry.cc — EENTER, EEXIT, AEX and ERESUME (Intel SDM Vol. 3D §39.3-39.4,
// §40.4) as cost-accounted state transitions of a logical core: which enclave
// and TCS it runs on, the TCS's busy flag and CSSA, and the entry epoch that
// ETRACK/EWB tracking depends on. Register state is the monitor's business.
//
// EnTurbo's decoupled start (DAC'24 §3): a thread may EENTER an EnTurbo
// enclave before EINIT and run while worker cores measure it, but nothing may
// leave the enclave before EINIT has verified the measurement. EEXIT is the
// enclave's own, deliberate exit, so it faults #GP(0) until then — the SDM's
// answer to an ENCLU leaf whose preconditions on the enclave do not hold (as
// EENTER of an uninitialized enclave) — and the policy must EINIT from
// another core (ENCLS) first; EINIT advances the enclave's busy_until, so an
// EEXIT after it ends after verification in virtual time. AEX stays allowed:
// an interrupt is the OS's event, not the enclave's choice, and the state it
// saves stays in the SSA inside the enclave (EnTurbo parks such threads with
// HLT; the model just lets the exit and a later ERESUME happen).

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

tl::unexpected<Error> Gp(Instruction i, const std::string& why) {
  return FaultStatus(FaultVector::kGP, 0, fmt::format("{}: {}", Info(i).name, why));
}

// Shared checks of EENTER and ERESUME; returns the TCS's enclave.
StatusOr<std::shared_ptr<EnclaveState>> TcsEnclave(Machine& m, Machine::Core& c, EpcPage tcs,
                                                   Instruction i) {
  if (c.in_enclave()) return Gp(i, "logical processor is already in enclave mode");
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(m, tcs));
  if (!entry.valid || entry.type != PageType::kTcs || entry.pending || entry.modified)
    return FaultStatus(FaultVector::kPF, Epc::Address(tcs),
                       fmt::format("{}: {} is not a TCS", Info(i).name, PageName(tcs)));
  // A blocked page gets no new translations (EBLOCK): entering on it would let
  // a thread run on a TCS that EWB may evict once the ETRACK cycle completes.
  if (entry.blocked)
    return FaultStatus(FaultVector::kPF, Epc::Address(tcs),
                       fmt::format("{}: {} is blocked", Info(i).name, PageName(tcs)));
  return MachineOps::LookupSecs(m, entry.owner);
}

void Enter(Machine::Core& c, const std::shared_ptr<EnclaveState>& e, EpcPage tcs) {
  c.enclave = e;
  c.tcs = tcs;
  c.entry_epoch = e->epoch;
  e->inside_epochs.insert(e->epoch);
  if (e->threads_inside.fetch_add(1, std::memory_order_release) == 0)
    for (auto& [base, mapping] : e->mappings)
      mapping.plugin->busy_mappers.fetch_add(1, std::memory_order_release);
  e->tcs[tcs].busy = true;
}

void Leave(Machine::Core& c, EnclaveState& e) {
  e.inside_epochs.erase(e.inside_epochs.find(c.entry_epoch));
  if (e.threads_inside.fetch_sub(1, std::memory_order_release) == 1)
    for (auto& [base, mapping] : e.mappings)
      mapping.plugin->busy_mappers.fetch_sub(1, std::memory_order_release);
  e.tcs[c.tcs].busy = false;
  c.enclave.reset();
}

}  // namespace

Status Machine::Eenter(CoreId core, EpcPage tcs) {
  return MachineOps::EnterTcs(*this, core, tcs, Instruction::kEenter);
}

Status Machine::Eexit(CoreId core) {
  constexpr Instruction kI = Instruction::kEexit;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  std::shared_ptr<EnclaveState> e = c->enclave;
  std::lock_guard lock(e->mu);
  // Only an EnTurbo enclave can be entered before EINIT (see the top).
  if (!e->initialized) return Gp(kI, "enclave is not initialized (EnTurbo: EINIT first)");
  Leave(*c, *e);
  MachineOps::Charge(*this, *c, e.get(), kI);
  return OkStatus();
}

Status Machine::Aex(CoreId core) {
  constexpr Instruction kI = Instruction::kAex;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  std::shared_ptr<EnclaveState> e = c->enclave;
  std::lock_guard lock(e->mu);
  // State goes to the SSA frame at CSSA, which then advances.
  e->tcs[c->tcs].cssa++;
  Leave(*c, *e);
  MachineOps::Charge(*this, *c, e.get(), kI);
  return OkStatus();
}

Status Machine::Eresume(CoreId core, EpcPage tcs) {
  return MachineOps::EnterTcs(*this, core, tcs, Instruction::kEresume);
}

// EENTER and ERESUME: the same checks, except that EENTER needs a free SSA
// frame and ERESUME a saved one, which it pops.
Status MachineOps::EnterTcs(Machine& m, CoreId core, EpcPage tcs, Instruction i) {
  Machine::Core* c = CoreAt(m, core);
  if (!c) return Gp(i, fmt::format("no logical core {}", core));
  CONFIDE_ASSIGN_OR_RETURN(auto e, TcsEnclave(m, *c, tcs, i));
  std::lock_guard lock(e->mu);
  // EnTurbo's decoupled start: its enclaves may run before EINIT.
  if (!e->initialized && !e->enturbo()) return Gp(i, "enclave is not initialized");
  TcsState& t = e->tcs[tcs];
  if (t.busy) return Gp(i, "TCS is busy");
  if (i == Instruction::kEenter) {
    if (t.cssa >= t.nssa) return Gp(i, "TCS.CSSA = NSSA: no free SSA frame");
  } else {
    if (t.cssa == 0) return Gp(i, "TCS.CSSA = 0: nothing to resume");
    t.cssa--;
  }
  Enter(*c, e, tcs);
  Charge(m, *c, e.get(), i);
  return OkStatus();
}

}  // namespace confide::machine
