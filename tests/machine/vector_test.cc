// The external SGX vector (../shared/vectors/sgx, from fortanix/rust-sgx):
// replaying its measurement stream through ECREATE/EADD/EEXTEND must give the
// ENCLAVEHASH its SIGSTRUCT signs, and EINIT must accept that SIGSTRUCT and
// set MRSIGNER fb4bab3d...7542.
#include <gtest/gtest.h>

#include "base/file.h"
#include "machine/machine.h"
#include "machine/measurement.h"

namespace confide::machine {
namespace {

constexpr char kSgxs[] = "../shared/vectors/sgx/test_enclave.sgxs";
constexpr char kSig[] = "../shared/vectors/sgx/test_enclave.sig";

TEST(VectorTest, StreamReplaysToSignedMeasurementAndEinitSucceeds) {
  auto stream = ReadFile(kSgxs);
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  auto sig_bytes = ReadFile(kSig);
  ASSERT_TRUE(sig_bytes.ok()) << sig_bytes.error().ToString();
  auto sig = Sigstruct::Parse(*sig_bytes);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();

  MachineConfig config;
  config.epc_pages = 256;
  auto m = Machine::Create(config);
  ASSERT_TRUE(m.ok());
  Machine& machine = **m;

  const Bytes& s = *stream;
  const EpcPage secs_page = 0;
  EpcPage next = 1;
  uint64_t base = 0;
  std::map<uint64_t, EpcPage> added;
  std::map<uint64_t, std::array<uint8_t, kPageSize>> contents;
  // Page contents come from the EEXTEND data; gather them first so EADD
  // copies the right bytes (SGXS puts EADD before the page's data).
  for (size_t off = 0; off < s.size(); off += 64) {
    uint64_t tag = LoadLe<uint64_t>(&s[off]);
    if (tag == kTagEextend) {
      uint64_t o = LoadLe<uint64_t>(&s[off + 8]);
      auto& page = contents[o & ~uint64_t{4095}];
      std::copy_n(&s[off + 64], 256, page.begin() + (o & 4095));
      off += 256;
    }
  }
  for (size_t off = 0; off < s.size(); off += 64) {
    uint64_t tag = LoadLe<uint64_t>(&s[off]);
    if (tag == kTagEcreate) {
      Secs secs;
      secs.ssa_frame_size = LoadLe<uint32_t>(&s[off + 8]);
      secs.size = LoadLe<uint64_t>(&s[off + 12]);
      base = secs.size;  // any SIZE-aligned base
      secs.base_addr = base;
      secs.attributes = sig->attributes;
      ASSERT_TRUE(machine.Ecreate(0, secs, secs_page).ok());
    } else if (tag == kTagEadd) {
      uint64_t o = LoadLe<uint64_t>(&s[off + 8]);
      SecInfo si{LoadLe<uint64_t>(&s[off + 16])};
      auto st = machine.Eadd(0, secs_page, base + o, si, contents[o], next);
      ASSERT_TRUE(st.ok()) << st.ToString();
      added[o] = next++;
    } else if (tag == kTagEextend) {
      uint64_t o = LoadLe<uint64_t>(&s[off + 8]);
      ASSERT_TRUE(machine.Eextend(0, secs_page, base + o).ok());
      off += 256;
    } else {
      FAIL() << "unexpected tag at " << off;
    }
  }
  Status st = machine.Einit(0, secs_page, *sig);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto secs = machine.SecsOf(secs_page);
  ASSERT_TRUE(secs.ok());
  EXPECT_EQ(ToHex(secs->mr_enclave),
            "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc");
  EXPECT_EQ(ToHex(secs->mr_signer),
            "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542");
  EXPECT_EQ(secs->isv_prod_id, 65535);
  auto counters = machine.Counters();
  EXPECT_EQ(counters.count[static_cast<size_t>(Instruction::kEadd)], 9u);
  EXPECT_EQ(counters.count[static_cast<size_t>(Instruction::kEextend)], 144u);
}

}  // namespace
}  // namespace confide::machine
