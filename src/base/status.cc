#include "base/status.h"

#include <fmt/format.h>

namespace confide {

std::string_view ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case ErrorCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case ErrorCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case ErrorCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case ErrorCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ErrorCode::kDataLoss:
      return "DATA_LOSS";
    case ErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case ErrorCode::kInternal:
      return "INTERNAL";
    case ErrorCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case ErrorCode::kSgxError:
      return "SGX_ERROR";
    case ErrorCode::kFault:
      return "FAULT";
  }
  return "UNKNOWN";
}

std::string_view SgxErrorName(SgxError e) {
  switch (e) {
    case SgxError::kSuccess:
      return "SGX_SUCCESS";
    case SgxError::kInvalidSigStruct:
      return "SGX_INVALID_SIG_STRUCT";
    case SgxError::kInvalidAttribute:
      return "SGX_INVALID_ATTRIBUTE";
    case SgxError::kBlkState:
      return "SGX_BLKSTATE";
    case SgxError::kInvalidMeasurement:
      return "SGX_INVALID_MEASUREMENT";
    case SgxError::kNotBlockable:
      return "SGX_NOTBLOCKABLE";
    case SgxError::kPgInvld:
      return "SGX_PG_INVLD";
    case SgxError::kEpcPageConflict:
      return "SGX_EPC_PAGE_CONFLICT";
    case SgxError::kInvalidSignature:
      return "SGX_INVALID_SIGNATURE";
    case SgxError::kMacCompareFail:
      return "SGX_MAC_COMPARE_FAIL";
    case SgxError::kPageNotBlocked:
      return "SGX_PAGE_NOT_BLOCKED";
    case SgxError::kNotTracked:
      return "SGX_NOT_TRACKED";
    case SgxError::kVaSlotOccupied:
      return "SGX_VA_SLOT_OCCUPIED";
    case SgxError::kChildPresent:
      return "SGX_CHILD_PRESENT";
    case SgxError::kEnclaveAct:
      return "SGX_ENCLAVE_ACT";
    case SgxError::kEntryEpochLocked:
      return "SGX_ENTRYEPOCH_LOCKED";
    case SgxError::kInvalidEinitToken:
      return "SGX_INVALID_EINITTOKEN";
    case SgxError::kPrevTrkIncmpl:
      return "SGX_PREV_TRK_INCMPL";
    case SgxError::kPgIsSecs:
      return "SGX_PG_IS_SECS";
    case SgxError::kPageAttributesMismatch:
      return "SGX_PAGE_ATTRIBUTES_MISMATCH";
    case SgxError::kPageNotModifiable:
      return "SGX_PAGE_NOT_MODIFIABLE";
    case SgxError::kPageNotDebuggable:
      return "SGX_PAGE_NOT_DEBUGGABLE";
    case SgxError::kInvalidCounter:
      return "SGX_INVALID_COUNTER";
    case SgxError::kPgNonEpc:
      return "SGX_PG_NONEPC";
    case SgxError::kTrackNotRequired:
      return "SGX_TRACK_NOT_REQUIRED";
    case SgxError::kInvalidCpuSvn:
      return "SGX_INVALID_CPUSVN";
    case SgxError::kInvalidIsvSvn:
      return "SGX_INVALID_ISVSVN";
    case SgxError::kUnmaskedEvent:
      return "SGX_UNMASKED_EVENT";
    case SgxError::kInvalidKeyname:
      return "SGX_INVALID_KEYNAME";
    case SgxError::kPluginNotInitialized:
      return "PIE_PLUGIN_NOT_INITIALIZED";
    case SgxError::kPluginRemoved:
      return "PIE_PLUGIN_REMOVED";
    case SgxError::kVaConflict:
      return "PIE_VA_CONFLICT";
    case SgxError::kPluginMapped:
      return "PIE_PLUGIN_MAPPED";
    case SgxError::kPluginNotMapped:
      return "PIE_PLUGIN_NOT_MAPPED";
    case SgxError::kPluginMapFull:
      return "PIE_PLUGIN_MAP_FULL";
    case SgxError::kPluginImmutable:
      return "PIE_PLUGIN_IMMUTABLE";
    case SgxError::kNotAPlugin:
      return "PIE_NOT_A_PLUGIN";
    case SgxError::kPageTypeMix:
      return "PIE_PAGE_TYPE_MIX";
  }
  return "SGX_UNKNOWN_ERROR";
}

static std::string_view FaultName(FaultVector v) {
  switch (v) {
    case FaultVector::kUD:
      return "#UD";
    case FaultVector::kGP:
      return "#GP";
    case FaultVector::kPF:
      return "#PF";
  }
  return "#?";
}

std::string Error::ToString() const {
  switch (code) {
    case ErrorCode::kSgxError:
      return fmt::format("{} ({}): {}", SgxErrorName(sgx), static_cast<uint32_t>(sgx), message);
    case ErrorCode::kFault:
      if (fault.vector == FaultVector::kPF)
        return fmt::format("#PF(0x{:x}): {}", fault.address, message);
      return fmt::format("{}(0): {}", FaultName(fault.vector), message);
    default:
      return fmt::format("{}: {}", ErrorCodeName(code), message);
  }
}

std::string Status::ToString() const { return ok() ? std::string("OK") : error().ToString(); }

tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return tl::unexpected(std::move(e));
}

#define CONFIDE_DEFINE_FACTORY_(Name, Code) \
  tl::unexpected<Error> Name(std::string message) { return MakeError(Code, std::move(message)); }
CONFIDE_DEFINE_FACTORY_(InvalidArgumentError, ErrorCode::kInvalidArgument)
CONFIDE_DEFINE_FACTORY_(NotFoundError, ErrorCode::kNotFound)
CONFIDE_DEFINE_FACTORY_(AlreadyExistsError, ErrorCode::kAlreadyExists)
CONFIDE_DEFINE_FACTORY_(FailedPreconditionError, ErrorCode::kFailedPrecondition)
CONFIDE_DEFINE_FACTORY_(OutOfRangeError, ErrorCode::kOutOfRange)
CONFIDE_DEFINE_FACTORY_(ResourceExhaustedError, ErrorCode::kResourceExhausted)
CONFIDE_DEFINE_FACTORY_(PermissionDeniedError, ErrorCode::kPermissionDenied)
CONFIDE_DEFINE_FACTORY_(DataLossError, ErrorCode::kDataLoss)
CONFIDE_DEFINE_FACTORY_(UnavailableError, ErrorCode::kUnavailable)
CONFIDE_DEFINE_FACTORY_(InternalError, ErrorCode::kInternal)
CONFIDE_DEFINE_FACTORY_(UnimplementedError, ErrorCode::kUnimplemented)
#undef CONFIDE_DEFINE_FACTORY_

tl::unexpected<Error> SgxErrorStatus(SgxError sgx, std::string message) {
  Error e;
  e.code = ErrorCode::kSgxError;
  e.sgx = sgx;
  e.message = std::move(message);
  return tl::unexpected(std::move(e));
}

tl::unexpected<Error> FaultStatus(FaultVector vector, uint64_t address, std::string message) {
  Error e;
  e.code = ErrorCode::kFault;
  e.fault = Fault{vector, address};
  e.message = std::move(message);
  return tl::unexpected(std::move(e));
}

bool IsSgxError(const Status& s, SgxError e) {
  return !s.ok() && s.error().code == ErrorCode::kSgxError && s.error().sgx == e;
}

bool IsFault(const Status& s, FaultVector v) {
  return !s.ok() && s.error().code == ErrorCode::kFault && s.error().fault.vector == v;
}

Status Annotate(const Status& s, std::string_view context) {
  if (s.ok()) return s;
  Error e = s.error();
  e.message = fmt::format("{}: {}", context, e.message);
  return tl::unexpected(std::move(e));
}

}  // namespace confide
