// status.h — the one error type of confide.
//
// Every fallible function returns Status or StatusOr<T>; nothing throws across a
// layer boundary. An Error says what went wrong in one of three shapes, the same
// three outcomes an SGX instruction has (Intel SDM Vol. 3D, ch. 38-41):
//
//   * a generic code (kInvalidArgument, kDataLoss, ...) for software errors;
//   * kSgxError with an SgxError number exactly as the SDM / Linux
//     arch/x86/include/asm/sgx.h define it (the instruction completed, RAX != 0);
//   * kFault with a fault vector (#GP, #PF, #UD) and, for #PF, the address.
//
// Usage:
//
//   StatusOr<Page> ReadPage(uint64_t addr) {
//     if (addr % kPageSize) return InvalidArgumentError("addr not page aligned");
//     CONFIDE_ASSIGN_OR_RETURN(auto bytes, Load(addr));
//     return Page(bytes);
//   }
//   Status s = machine.Einit(...);
//   if (!s.ok()) std::cerr << s.ToString();
//   if (IsSgxError(s, SgxError::kInvalidMeasurement)) ...
//
// Thread-safety: values; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace confide {

enum class ErrorCode : uint8_t {
  kInvalidArgument,     // the caller's input is malformed
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a named thing exists already
  kFailedPrecondition,  // the system is not in the state the call needs
  kOutOfRange,          // an index or offset past the end
  kResourceExhausted,   // out of EPC, slots, memory
  kPermissionDenied,    // an attestation or signature check failed (fail closed)
  kDataLoss,            // stored or transmitted bytes are corrupt or truncated
  kUnavailable,         // an OS facility (e.g. /dev/kvm) is missing
  kInternal,            // a bug: an invariant does not hold
  kUnimplemented,
  kSgxError,  // an SGX instruction returned an error code (see sgx())
  kFault,     // an SGX instruction faulted (see fault())
};

// SGX instruction error codes, with the SDM's numbers (Vol. 3D, Table 40-4
// "Error or Information Codes for Intel SGX Instructions"; identical to Linux
// arch/x86/include/uapi/asm/sgx.h). Reserved numbers are kept as gaps.
//
// The PIE extension (ISCA'21 §IV) names failures but gives no numbers; confide
// numbers them from 0x1000 up, clear of every SDM value.
enum class SgxError : uint32_t {
  kSuccess = 0,
  kInvalidSigStruct = 1,
  kInvalidAttribute = 2,
  kBlkState = 3,
  kInvalidMeasurement = 4,
  kNotBlockable = 5,
  kPgInvld = 6,
  kEpcPageConflict = 7,
  kInvalidSignature = 8,
  kMacCompareFail = 9,
  kPageNotBlocked = 10,
  kNotTracked = 11,
  kVaSlotOccupied = 12,
  kChildPresent = 13,
  kEnclaveAct = 14,
  kEntryEpochLocked = 15,
  kInvalidEinitToken = 16,
  kPrevTrkIncmpl = 17,
  kPgIsSecs = 18,
  kPageAttributesMismatch = 19,
  kPageNotModifiable = 20,
  kPageNotDebuggable = 21,
  kInvalidCounter = 25,
  kPgNonEpc = 26,
  kTrackNotRequired = 27,
  kInvalidCpuSvn = 32,
  kInvalidIsvSvn = 64,
  kUnmaskedEvent = 128,
  kInvalidKeyname = 256,
  // PIE extension (confide's numbering).
  kPluginNotInitialized = 0x1000,  // EMAP of a plugin before its EINIT
  kPluginRemoved = 0x1001,         // EMAP of a plugin after any of its pages was EREMOVEd
  kVaConflict = 0x1002,            // linear address already used (EMAP range, EADD/EAUG page)
  kPluginMapped = 0x1003,          // EREMOVE of a plugin page while a host maps the plugin
  kPluginNotMapped = 0x1004,       // EUNMAP of a plugin the host does not map
  kPluginMapFull = 0x1005,         // the host's SECS has no free plugin slot
  kPluginImmutable = 0x1006,       // SGX2 instruction aimed at a plugin enclave
  kNotAPlugin = 0x1007,            // EMAP target is not a plugin enclave
  kPageTypeMix = 0x1008,           // PT_SREG added to a host, or a private page to a plugin
};

// Exception vectors an SGX instruction can raise (Intel SDM Vol. 3A, Table 6-1).
enum class FaultVector : uint8_t { kUD = 6, kGP = 13, kPF = 14 };

struct Fault {
  FaultVector vector = FaultVector::kGP;
  uint64_t address = 0;  // faulting linear address (#PF) or EPC address; 0 for #GP(0)
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  SgxError sgx = SgxError::kSuccess;  // meaningful when code == kSgxError
  Fault fault;                        // meaningful when code == kFault
  std::string message;                // for people; never contains secrets

  std::string ToString() const;
};

// Status is the result of a call with no value. Default-constructed: OK.
class [[nodiscard]] Status : public tl::expected<void, Error> {
 public:
  using tl::expected<void, Error>::expected;
  Status() = default;
  Status(tl::expected<void, Error> e) : tl::expected<void, Error>(std::move(e)) {}

  bool ok() const { return has_value(); }
  // "OK" or the error's ToString().
  std::string ToString() const;
};

// StatusOr<T> holds a T or an Error.
template <typename T>
class [[nodiscard]] StatusOr : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  bool ok() const { return this->has_value(); }
  // The value's Status, dropping the value.
  Status status() const {
    if (ok()) return Status();
    return Status(tl::unexpected(this->error()));
  }
};

inline Status OkStatus() { return Status(); }

// Error factories. Each returns a tl::unexpected<Error>, which converts to
// Status and to any StatusOr<T>.
tl::unexpected<Error> MakeError(ErrorCode code, std::string message);
tl::unexpected<Error> InvalidArgumentError(std::string message);
tl::unexpected<Error> NotFoundError(std::string message);
tl::unexpected<Error> AlreadyExistsError(std::string message);
tl::unexpected<Error> FailedPreconditionError(std::string message);
tl::unexpected<Error> OutOfRangeError(std::string message);
tl::unexpected<Error> ResourceExhaustedError(std::string message);
tl::unexpected<Error> PermissionDeniedError(std::string message);
tl::unexpected<Error> DataLossError(std::string message);
tl::unexpected<Error> UnavailableError(std::string message);
tl::unexpected<Error> InternalError(std::string message);
tl::unexpected<Error> UnimplementedError(std::string message);
tl::unexpected<Error> SgxErrorStatus(SgxError sgx, std::string message);
tl::unexpected<Error> FaultStatus(FaultVector vector, uint64_t address, std::string message);

// The SDM's name of an SGX error code ("SGX_INVALID_MEASUREMENT"); PIE codes
// are named like "PIE_VA_CONFLICT".
std::string_view SgxErrorName(SgxError e);
std::string_view ErrorCodeName(ErrorCode c);

// True iff `s` failed with this SGX error code / this fault vector.
bool IsSgxError(const Status& s, SgxError e);
bool IsFault(const Status& s, FaultVector v);
template <typename T>
bool IsSgxError(const StatusOr<T>& s, SgxError e) {
  return IsSgxError(s.status(), e);
}
template <typename T>
bool IsFault(const StatusOr<T>& s, FaultVector v) {
  return IsFault(s.status(), v);
}

// Returns a copy of `s` whose message is prefixed with `context: `.
Status Annotate(const Status& s, std::string_view context);

}  // namespace confide

// Propagates a failed Status from an expression returning Status or StatusOr.
#define CONFIDE_RETURN_IF_ERROR(expr)                                                              \
  do {                                                                                             \
    auto confide_status_ = (expr);                                                                 \
    if (!confide_status_.has_value()) return ::tl::unexpected(std::move(confide_status_).error()); \
  } while (0)

#define CONFIDE_CONCAT_INNER_(a, b) a##b
#define CONFIDE_CONCAT_(a, b) CONFIDE_CONCAT_INNER_(a, b)
// CONFIDE_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define CONFIDE_ASSIGN_OR_RETURN(lhs, expr) \
  CONFIDE_ASSIGN_OR_RETURN_IMPL_(CONFIDE_CONCAT_(confide_or_, __LINE__), lhs, expr)
#define CONFIDE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                   \
  auto tmp = (expr);                                                     \
  if (!tmp.has_value()) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
