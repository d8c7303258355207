#include "base/status.h"

#include <gtest/gtest.h>

namespace confide {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  CONFIDE_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

Status CheckQuarter(int x) {
  CONFIDE_RETURN_IF_ERROR(Quarter(x));
  return OkStatus();
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, PropagatesThroughMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "odd: 3");
  EXPECT_TRUE(CheckQuarter(4).ok());
  EXPECT_FALSE(CheckQuarter(2).ok());
}

TEST(StatusTest, SgxErrorKeepsSdmNumberAndName) {
  Status s = SgxErrorStatus(SgxError::kInvalidMeasurement, "ENCLAVEHASH differs");
  EXPECT_TRUE(IsSgxError(s, SgxError::kInvalidMeasurement));
  EXPECT_FALSE(IsSgxError(s, SgxError::kInvalidSignature));
  EXPECT_EQ(static_cast<uint32_t>(s.error().sgx), 4u);
  EXPECT_EQ(s.ToString(), "SGX_INVALID_MEASUREMENT (4): ENCLAVEHASH differs");
}

TEST(StatusTest, SdmNumbersMatchLinuxHeader) {
  // arch/x86/include/uapi/asm/sgx.h, enum sgx_return_code.
  EXPECT_EQ(static_cast<uint32_t>(SgxError::kNotTracked), 11u);
  EXPECT_EQ(static_cast<uint32_t>(SgxError::kChildPresent), 13u);
  EXPECT_EQ(static_cast<uint32_t>(SgxError::kPageNotModifiable), 20u);
  EXPECT_EQ(static_cast<uint32_t>(SgxError::kInvalidCpuSvn), 32u);
  EXPECT_EQ(static_cast<uint32_t>(SgxError::kInvalidKeyname), 256u);
}

TEST(StatusTest, FaultCarriesVectorAndAddress) {
  Status s = FaultStatus(FaultVector::kPF, 0x7000, "EPCM.VALID is 0");
  EXPECT_TRUE(IsFault(s, FaultVector::kPF));
  EXPECT_FALSE(IsFault(s, FaultVector::kGP));
  EXPECT_EQ(s.error().fault.address, 0x7000u);
  EXPECT_EQ(s.ToString(), "#PF(0x7000): EPCM.VALID is 0");
  EXPECT_EQ(Status(FaultStatus(FaultVector::kGP, 0, "CPL > 0")).ToString(), "#GP(0): CPL > 0");
}

TEST(StatusTest, AnnotatePrefixesContext) {
  Status s = Annotate(NotFoundError("no such file"), "reading key.pem");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: reading key.pem: no such file");
  EXPECT_TRUE(Annotate(OkStatus(), "x").ok());
}

}  // namespace
}  // namespace confide
