#include "image/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

namespace confide::image {
namespace {

using ::testing::HasSubstr;

constexpr char kHash[] = "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc";
constexpr char kHash2[] = "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542";

void ExpectRejected(const std::string& json, const std::string& what) {
  StatusOr<Manifest> m = ParseManifest(json);
  ASSERT_FALSE(m.ok()) << json;
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(m.error().message, HasSubstr(what)) << json;
}

TEST(Manifest, EmptyObjectGivesTheDefaults) {
  StatusOr<Manifest> m = ParseManifest("{}");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->kind, EnclaveKind::kHost);
  EXPECT_EQ(m->heap_size, 256u * 1024);
  EXPECT_EQ(m->stack_size, 64u * 1024);
  EXPECT_EQ(m->threads, 1u);
  EXPECT_EQ(m->ssa_frame_size, 1u);
  EXPECT_EQ(m->isv_prod_id, 0);
  EXPECT_EQ(m->isv_svn, 0);
  EXPECT_FALSE(m->debug);
  EXPECT_EQ(m->misc_select, 0u);
  EXPECT_TRUE(m->measure_heap);
  EXPECT_TRUE(m->plugins.empty());
  EXPECT_EQ(*m, Manifest{});
}

TEST(Manifest, FullHostManifest) {
  const std::string json = std::string(R"({
    "kind": "host", "heap_size": 1048576, "stack_size": 8192, "threads": 4,
    "ssa_frame_size": 2, "isv_prod_id": 65535, "isv_svn": 3, "debug": true,
    "misc_select": 4294967295, "measure_heap": false,
    "plugins": [{"name": "python-3.11", "mrenclave": ")") +
                           kHash + R"("}, {"mrenclave": ")" + kHash2 +
                           R"(", "name": "numpy_1.x"}]})";
  StatusOr<Manifest> m = ParseManifest(json);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->heap_size, 1048576u);
  EXPECT_EQ(m->stack_size, 8192u);
  EXPECT_EQ(m->threads, 4u);
  EXPECT_EQ(m->ssa_frame_size, 2u);
  EXPECT_EQ(m->isv_prod_id, 65535);
  EXPECT_EQ(m->isv_svn, 3);
  EXPECT_TRUE(m->debug);
  EXPECT_EQ(m->misc_select, 0xffffffffu);
  EXPECT_FALSE(m->measure_heap);
  ASSERT_EQ(m->plugins.size(), 2u);
  EXPECT_EQ(m->plugins[0].name, "python-3.11");
  EXPECT_EQ(ToHex(m->plugins[0].mrenclave), kHash);
  EXPECT_EQ(m->plugins[1].name, "numpy_1.x");
  EXPECT_EQ(ToHex(m->plugins[1].mrenclave), kHash2);

  // Round trip through ManifestToJson.
  StatusOr<Manifest> again = ParseManifest(ManifestToJson(*m));
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << ManifestToJson(*m);
  EXPECT_EQ(*again, *m);
  EXPECT_TRUE(ValidateManifest(*m).ok());
}

TEST(Manifest, PluginManifest) {
  StatusOr<Manifest> m =
      ParseManifest(R"({"kind": "plugin", "isv_prod_id": 9, "debug": false, "ssa_frame_size": 1})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->kind, EnclaveKind::kPlugin);
  EXPECT_EQ(m->isv_prod_id, 9);
  const std::string json = ManifestToJson(*m);
  EXPECT_THAT(json, HasSubstr("\"plugin\""));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("heap_size")));
  StatusOr<Manifest> again = ParseManifest(json);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *m);
  EXPECT_TRUE(ValidateManifest(*m).ok());
}

TEST(ManifestErrors, Syntax) {
  ExpectRejected("", "not valid JSON");
  ExpectRejected("{\"threads\": 1,}", "not valid JSON (error at byte");
  ExpectRejected("{\"threads\": 1} extra", "not valid JSON");
  ExpectRejected("[1, 2]", "the top level must be an object, got array");
  ExpectRejected("42", "the top level must be an object");
  ExpectRejected(R"({"threads": 1, "threads": 2})", "threads: duplicate key");
}

TEST(ManifestErrors, UnknownKeys) {
  ExpectRejected(R"({"heap": 4096})", "manifest: heap: unknown key");
  ExpectRejected(R"({"Threads": 1})", "manifest: Threads: unknown key");
}

TEST(ManifestErrors, WrongTypes) {
  ExpectRejected(R"({"heap_size": "4096"})", "manifest: heap_size: must be an integer, got string");
  ExpectRejected(R"({"threads": 1.5})", "manifest: threads: must be an integer, got 1.5");
  ExpectRejected(R"({"threads": null})", "manifest: threads: must be an integer, got null");
  ExpectRejected(R"({"debug": 1})", "manifest: debug: must be a boolean, got number");
  ExpectRejected(R"({"measure_heap": "yes"})", "manifest: measure_heap: must be a boolean");
  ExpectRejected(R"({"kind": 1})", "manifest: kind: must be \"host\" or \"plugin\", got 1");
  ExpectRejected(R"({"kind": "guest"})", "manifest: kind: must be \"host\" or \"plugin\"");
  ExpectRejected(R"({"plugins": {}})", "manifest: plugins: must be an array, got object");
}

TEST(ManifestErrors, OutOfRange) {
  ExpectRejected(R"({"threads": 0})", "manifest: threads: must be in [1, 64], got 0");
  ExpectRejected(R"({"threads": 65})", "manifest: threads: must be in [1, 64], got 65");
  ExpectRejected(R"({"threads": -1})", "manifest: threads: must be in [1, 64], got -1");
  ExpectRejected(R"({"ssa_frame_size": 0})", "manifest: ssa_frame_size: must be in [1, 16]");
  ExpectRejected(R"({"isv_svn": 65536})", "manifest: isv_svn: must be in [0, 65535]");
  ExpectRejected(R"({"isv_prod_id": -5})", "manifest: isv_prod_id: must be in [0, 65535]");
  ExpectRejected(R"({"misc_select": 4294967296})", "manifest: misc_select: must be in");
  ExpectRejected(R"({"heap_size": 4097})", "manifest: heap_size: must be a multiple of 4096");
  ExpectRejected(R"({"heap_size": 2147483648})", "manifest: heap_size: must be in [0, 1073741824]");
  ExpectRejected(R"({"stack_size": 0})", "manifest: stack_size: must be in [4096,");
  ExpectRejected(R"({"stack_size": 10000})", "manifest: stack_size: must be a multiple of 4096");
  ExpectRejected(R"({"heap_size": 18446744073709551615})", "manifest: heap_size: must be in");
  EXPECT_TRUE(ParseManifest(R"({"heap_size": 0})").ok());
}

TEST(ManifestErrors, HostOnlyKeysInAPlugin) {
  for (const char* key : {"heap_size", "stack_size", "threads", "measure_heap", "plugins"}) {
    const std::string value = std::string(key) == "measure_heap" ? "true"
                              : std::string(key) == "plugins"    ? "[]"
                                                                 : "4096";
    ExpectRejected(fmt::format(R"({{"kind": "plugin", "{}": {}}})", key, value),
                   fmt::format("manifest: {}: only for kind \"host\"", key));
    // The order of keys does not matter.
    ExpectRejected(fmt::format(R"({{"{}": {}, "kind": "plugin"}})", key, value),
                   fmt::format("manifest: {}: only for kind \"host\"", key));
  }
}

TEST(ManifestErrors, Plugins) {
  const std::string h = kHash;
  ExpectRejected(R"({"plugins": [1]})", "manifest: plugins[0]: must be an object, got number");
  ExpectRejected(R"({"plugins": [{"mrenclave": ")" + h + R"("}]})",
                 "manifest: plugins[0].name: required");
  ExpectRejected(R"({"plugins": [{"name": "a"}]})", "manifest: plugins[0].mrenclave: required");
  ExpectRejected(R"({"plugins": [{"name": "a", "mrenclave": ")" + h + R"(", "x": 1}]})",
                 "manifest: plugins[0].x: unknown key");
  ExpectRejected(R"({"plugins": [{"name": "", "mrenclave": ")" + h + R"("}]})",
                 "manifest: plugins[0].name: must be a string of 1-64 characters");
  ExpectRejected(R"({"plugins": [{"name": "a b", "mrenclave": ")" + h + R"("}]})",
                 "manifest: plugins[0].name: must be a string");
  ExpectRejected(R"({"plugins": [{"name": 5, "mrenclave": ")" + h + R"("}]})",
                 "manifest: plugins[0].name: must be a string");
  ExpectRejected(R"({"plugins": [{"name": "a", "mrenclave": "abcd"}]})",
                 "manifest: plugins[0].mrenclave: must be a string of 64 hex characters");
  ExpectRejected(R"({"plugins": [{"name": "a", "mrenclave": ")" + h.substr(0, 63) + "g" + R"("}]})",
                 "manifest: plugins[0].mrenclave: must be a string of 64 hex characters");
  ExpectRejected(R"({"plugins": [{"name": "a", "mrenclave": ")" + h +
                     R"("}, {"name": "a", "mrenclave": ")" + kHash2 + R"("}]})",
                 "manifest: plugins[1].name: duplicate plugin name a");
  ExpectRejected(R"({"plugins": [{"name": "a", "mrenclave": ")" + h +
                     R"("}, {"name": "b", "mrenclave": ")" + h + R"("}]})",
                 "manifest: plugins[1].mrenclave: duplicate plugin mrenclave");
}

TEST(ManifestValidate, CatchesBadValuesBuiltInCode) {
  Manifest m;
  EXPECT_TRUE(ValidateManifest(m).ok());
  m.stack_size = 100;
  EXPECT_THAT(ValidateManifest(m).error().message, HasSubstr("stack_size"));
  m = Manifest{};
  m.threads = 0;
  EXPECT_THAT(ValidateManifest(m).error().message, HasSubstr("threads"));
  m = Manifest{};
  m.kind = EnclaveKind::kPlugin;
  m.heap_size = 8192;
  EXPECT_THAT(ValidateManifest(m).error().message, HasSubstr("heap_size: only for kind"));
  m = Manifest{};
  m.plugins = {{"x", {}}, {"x", {}}};
  EXPECT_FALSE(ValidateManifest(m).ok());
}

}  // namespace
}  // namespace confide::image
