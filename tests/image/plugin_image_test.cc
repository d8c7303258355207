// Plugin images from code and data, and the .enclave file
// (image/plugin_image.h): what is built, and every way a file is refused.
#include "image/plugin_image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "image/enclave_abi.h"
#include "image/signer.h"
#include "tests/support/test_key.h"

namespace confide::image {
namespace {

using ::testing::HasSubstr;

Bytes Text(std::string_view s) { return Bytes(s.begin(), s.end()); }

machine::Sigstruct Sign(const SgxsImage& img) {
  SigningParams p;
  p.enclave_hash = MeasureSgxs(img);
  p.attributes = {machine::attr::kMode64Bit, 0x3};
  return SignEnclave(testing::TestSigningKey(), p).value();
}

TEST(PluginImageTest, LuaFunctionIsAHeaderPageThenTheSourceAllSharedAndReadOnly) {
  const Bytes source = Text(std::string(5000, 'x'));
  SgxsImage img = LuaFunctionImage("f.lua", source).value();
  ASSERT_EQ(img.pages.size(), 3u);  // header + 2 pages of source
  confide_blob_header h;
  std::memcpy(&h, img.pages[0].data.data(), sizeof h);
  EXPECT_EQ(h.magic, CONFIDE_FUNCTION_MAGIC);
  EXPECT_EQ(h.kind, uint64_t{CONFIDE_FUNCTION_LUA_SOURCE});
  EXPECT_EQ(h.length, 5000u);
  EXPECT_STREQ(h.name, "f.lua");
  EXPECT_EQ(img.pages[1].offset, CONFIDE_BLOB_DATA);
  EXPECT_EQ(img.pages[2].data[5000 - 4096 - 1], 'x');
  EXPECT_EQ(img.pages[2].data[5000 - 4096], 0);
  EXPECT_TRUE(CheckFunctionImage(img).ok());
  // The same source gives the same measurement: a tenant can pin it.
  EXPECT_EQ(MeasureSgxs(img), MeasureSgxs(LuaFunctionImage("f.lua", source).value()));
  EXPECT_NE(MeasureSgxs(img), MeasureSgxs(LuaFunctionImage("g.lua", source).value()));
}

TEST(PluginImageTest, BadSourcesAndDataAreRefused) {
  EXPECT_EQ(LuaFunctionImage("f", {}).error().code, ErrorCode::kInvalidArgument);
  const Bytes huge(CONFIDE_FUNCTION_SLOT_SIZE / 2 + 1);
  EXPECT_THAT(LuaFunctionImage("f", huge).error().message, HasSubstr("more than"));
  SgxsImage data = DataImage("t", Text("table")).value();
  EXPECT_THAT(CheckFunctionImage(data).error().message, HasSubstr("no function magic"));
  SgxsImage writable = LuaFunctionImage("f", Text("return 1")).value();
  writable.pages[1].secinfo =
      machine::SecInfo::Make(machine::PageType::kReg, machine::secinfo::kR | machine::secinfo::kW);
  EXPECT_THAT(CheckFunctionImage(writable).error().message, HasSubstr("not a read-only PT_SREG"));
}

TEST(PluginImageTest, EnclaveFileRoundTrips) {
  const SgxsImage img = LuaFunctionImage("f.lua", Text("return function(s) return s end")).value();
  const machine::Sigstruct sig = Sign(img);
  const Bytes file = WriteEnclaveFile(img, sig);
  StatusOr<EnclaveFile> back = ReadEnclaveFile(file);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->image, img);
  EXPECT_EQ(back->sigstruct.Serialize(), sig.Serialize());
}

TEST(PluginImageTest, EnclaveFileIsRefusedWhenMalformedOrTampered) {
  const SgxsImage img = LuaFunctionImage("f.lua", Text("return function(s) return s end")).value();
  const Bytes good = WriteEnclaveFile(img, Sign(img));

  EXPECT_THAT(ReadEnclaveFile(Text("hello")).error().message, HasSubstr("no CNFDENCL magic"));
  Bytes version = good;
  version[8] = 9;
  EXPECT_THAT(ReadEnclaveFile(version).error().message, HasSubstr("version 9"));
  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_THAT(ReadEnclaveFile(truncated).error().message, HasSubstr("does not hold"));
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_THAT(ReadEnclaveFile(longer).error().message, HasSubstr("does not hold"));
  Bytes huge_length = good;
  std::memset(huge_length.data() + 16, 0xff, 8);  // n near 2^64: no wrap-around
  EXPECT_THAT(ReadEnclaveFile(huge_length).error().message, HasSubstr("does not hold"));

  // One byte of the Lua source changed: the SIGSTRUCT no longer signs it.
  Bytes tampered = good;
  const std::string needle = "return function";
  auto at = std::search(tampered.begin(), tampered.end(), needle.begin(), needle.end());
  ASSERT_NE(at, tampered.end());
  *at = 'R';
  StatusOr<EnclaveFile> r = ReadEnclaveFile(tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << r.error().ToString();
}

}  // namespace
}  // namespace confide::image
