// Workload profiles: the built-in PIE Table I set parses, its sizes are the
// paper's, and malformed files are rejected with the key named.
#include "platform/workload.h"

#include <gtest/gtest.h>

namespace confide::platform {
namespace {

constexpr uint64_t kHz = 3'800'000'000;

TEST(Workload, BuiltinIsPieTableOne) {
  WorkloadSet set = BuiltinWorkloads(kHz);
  ASSERT_EQ(set.workloads.size(), 5u);
  auto chatbot = set.Find("chatbot");
  ASSERT_TRUE(chatbot.ok());
  // Table I: 247.08 MB of code, 204 libraries, 55.90 MB of heap.
  EXPECT_EQ(chatbot->libraries, 204u);
  EXPECT_NEAR(static_cast<double>(chatbot->code_pages()) * 4096 / (1 << 20), 247.08, 0.01);
  EXPECT_NEAR(static_cast<double>(chatbot->heap_pages) * 4096 / (1 << 20), 55.90, 0.01);
  uint64_t libs = 0;
  for (uint32_t i = 0; i < chatbot->libraries; ++i) libs += chatbot->library_plugin_pages(i);
  EXPECT_EQ(libs, chatbot->library_pages);
  EXPECT_EQ(set.software.sha256_cycles_per_page, 9000u);  // PIE §III-A
  EXPECT_GT(chatbot->cow_pages(), 0u);
}

TEST(Workload, UnknownNameListsKnownOnes) {
  auto w = BuiltinWorkloads(kHz).Find("nope");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("auth"), std::string::npos);
}

TEST(Workload, RejectsBadFiles) {
  EXPECT_FALSE(ParseWorkloads("not json", kHz).ok());
  EXPECT_FALSE(ParseWorkloads("{}", kHz).ok());
  const std::string sw =
      R"("software_costs": {"sha256_cycles_per_page": 1, "zero_cycles_per_page": 1,
        "copy_cycles_per_byte": 1, "transfer_cycles_per_byte": 1, "attest_cycles": 1,
        "reset_cycles_per_page": 1})";
  const std::string w =
      R"({"name": "x", "description": "d", "runtime": "r", "libraries": 1, "code_mb": 4,
        "data_mb": 1, "heap_mb": 1, "runtime_mb": 1, "function_kb": 4, "sgx_heap_mb": 2,
        "exec_ms": 1, "cow_fraction": 0.1})";
  auto ok = ParseWorkloads("{" + sw + R"(, "workloads": [)" + w + "]}", kHz);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->workloads[0].exec_cycles, 3'800'000u);
  auto dup = ParseWorkloads("{" + sw + R"(, "workloads": [)" + w + "," + w + "]}", kHz);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("twice"), std::string::npos);
  std::string bad = w;
  bad.replace(bad.find("\"cow_fraction\": 0.1"), 19, "\"cow_fraction\": 2.0");
  auto range = ParseWorkloads("{" + sw + R"(, "workloads": [)" + bad + "]}", kHz);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.error().message.find("cow_fraction"), std::string::npos);
  std::string extra = w;
  extra.insert(1, R"("colour": 1, )");
  auto unknown = ParseWorkloads("{" + sw + R"(, "workloads": [)" + extra + "]}", kHz);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos);
}

}  // namespace
}  // namespace confide::platform
