// Runs the `confide` binary on the test vectors and on malformed files written
// to a temporary directory; checks exit codes, stdout and the one-line stderr.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../image/sgxs_builder.h"
#include "base/file.h"

#include "crypto/rsa.h"
#include "tests/support/test_key.h"

namespace confide {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kVectorSgxs[] = "../shared/vectors/sgx/test_enclave.sgxs";
constexpr char kVectorSig[] = "../shared/vectors/sgx/test_enclave.sig";
constexpr char kMrenclave[] = "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc";
constexpr char kMrsigner[] = "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ReadText(const std::string& path) {
  StatusOr<Bytes> b = ReadFile(path);
  return b.ok() ? std::string(b->begin(), b->end()) : std::string();
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "confide_cli_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // The fixed test key (keygen itself is tested below): a fresh key would
    // cost a second per test process.
    key_ = dir_ + "/signer.pem";
    ASSERT_TRUE(WriteFileAtomically(key_, AsBytes(testing::TestSigningKey().ToPem()), 0600).ok());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Runs confide with `args`; captures exit code, stdout and stderr.
  static Result Run(const std::vector<std::string>& args) {
    std::string cmd = Quote(CONFIDE_BINARY);
    for (const std::string& a : args) cmd += " " + Quote(a);
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    cmd += " >" + Quote(out) + " 2>" + Quote(err);
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadText(out);
    r.err = ReadText(err);
    return r;
  }

  static std::string Write(const std::string& name, const Bytes& bytes) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, bytes).ok());
    return path;
  }

  static Bytes Vector(const char* path) {
    StatusOr<Bytes> b = ReadFile(path);
    EXPECT_TRUE(b.ok()) << "tests run from the repository root";
    return b.ok() ? *b : Bytes{};
  }

  // A failure: non-zero exit, exactly one line on stderr containing `what`.
  static void ExpectFailure(const Result& r, const std::string& what) {
    EXPECT_NE(r.code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(what));
  }

  static std::string dir_;
  static std::string key_;
};
std::string CliTest::dir_;
std::string CliTest::key_;

// Empty if /dev/kvm can be used, else why not (tests that need it skip).
std::string KvmMissing() {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return fmt::format("/dev/kvm: {}", std::strerror(errno));
  ::close(fd);
  return "";
}

#define REQUIRE_KVM()                                                            \
  do {                                                                           \
    if (const std::string why = KvmMissing(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

TEST_F(CliTest, UsageErrors) {
  Result r = Run({});
  ExpectFailure(r, "A subcommand is required");
  ExpectFailure(Run({"bogus"}), "confide:");
  ExpectFailure(Run({"image"}), "A subcommand is required");
  ExpectFailure(Run({"image", "measure"}), "FILE is required");
  ExpectFailure(Run({"image", "sign", kVectorSgxs}), "--key is required");
  r = Run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("keygen"));
  EXPECT_THAT(r.out, HasSubstr("image"));
}

// `make run`: the demo creates the image under SGX1 and PIE, shows MRENCLAVE
// and cost breakdowns, and leaves the EPC as it found it.
TEST_F(CliTest, DemoStartsUnderSgx1AndPieAndCleansUp) {
  for (const char* profile : {"pie-xeon-e3", "j5005"}) {
    Result r = Run({"demo", "--profile", profile});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("MRENCLAVE "));
    EXPECT_THAT(r.out, HasSubstr("MRSIGNER  "));
    EXPECT_THAT(r.out, HasSubstr("SGX1 start (per request)"));
    EXPECT_THAT(r.out, HasSubstr("PIE plugin (once"));
    EXPECT_THAT(r.out, HasSubstr("EMAP "));
    EXPECT_THAT(r.out, HasSubstr("EACCEPTCOPY"));
    EXPECT_THAT(r.out, HasSubstr("x faster"));
    EXPECT_THAT(r.out, HasSubstr("Teardown: EPC back to 24064 free pages of 24064."));
    if (KvmMissing().empty()) {
      // The real half: one function under both policies, a chain in both modes.
      EXPECT_THAT(r.out, HasSubstr("pie-cold"));
      EXPECT_THAT(r.out, HasSubstr("sgx1-cold"));
      EXPECT_THAT(r.out, HasSubstr("1 enclave(s), 0 data bytes carried by the host"));
      EXPECT_THAT(r.out, HasSubstr("3 enclave(s)"));
      EXPECT_THAT(r.out, HasSubstr("output (both modes):\nthe 10\nhost 3\na 2\n"));
    } else {
      EXPECT_THAT(r.out, HasSubstr("*** SKIPPED the real runs on KVM"));
    }
  }
  ExpectFailure(Run({"demo", "--profile", "nope"}), "no built-in cost profile \"nope\"");
}

TEST_F(CliTest, MeasureVector) {
  Result r = Run({"image", "measure", kVectorSgxs});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kMrenclave) + "\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, VerifyVector) {
  Result r = Run({"image", "verify", kVectorSig, "--sgxs", kVectorSgxs});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(std::string("mrsigner        ") + kMrsigner));
  EXPECT_THAT(r.out, HasSubstr(std::string("enclave hash    ") + kMrenclave));
  EXPECT_THAT(r.out, HasSubstr("isv prod id     65535"));
  EXPECT_THAT(r.out, HasSubstr("flags 0x4 (MODE64BIT) xfrm 0x3"));
  EXPECT_THAT(r.out, HasSubstr("check enclavehash  ok"));
  EXPECT_THAT(r.out, HasSubstr("verified (signature and enclave hash)"));
  r = Run({"image", "verify", kVectorSig});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliTest, InspectVector) {
  Result r = Run({"image", "inspect", kVectorSgxs});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("size 0x40000 ssa_frame_size 1"));
  EXPECT_THAT(r.out, HasSubstr("0x15000  PT_TCS"));
  EXPECT_THAT(r.out, HasSubstr("pages 9, PT_REG 8, PT_TCS 1; EEXTEND chunks 144"));
  r = Run({"image", "inspect", kVectorSig});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("SIGSTRUCT, 1808 bytes"));
  EXPECT_THAT(r.out, HasSubstr(kMrsigner));
  // Detection is by content, not by name.
  const std::string renamed = Write("enclave.bin", Vector(kVectorSgxs));
  r = Run({"image", "inspect", renamed});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("SGXS"));
  ExpectFailure(Run({"image", "inspect", Write("junk.bin", Bytes(100, 7))}),
                "neither an SGXS stream");
  ExpectFailure(Run({"image", "inspect", Write("junk.sig", Bytes(100, 7))}),
                "SIGSTRUCT must be 1808 bytes");
}

TEST_F(CliTest, MissingFile) {
  ExpectFailure(Run({"image", "measure", dir_ + "/nope.sgxs"}), "cannot open");
}

TEST_F(CliTest, MalformedSgxsNamesOffsetAndRule) {
  const Bytes vector = Vector(kVectorSgxs);
  ASSERT_EQ(vector.size(), 46720u);
  struct Case {
    std::string name;
    Bytes bytes;
    std::string message;
  };
  std::vector<Case> cases;
  {
    Bytes b(vector.begin(), vector.end() - 100);
    cases.push_back({"truncated.sgxs", b,
                     "SGXS offset 0xb540: EEXTEND at enclave offset 0x39f00 is truncated"});
  }
  {
    Bytes b = vector;
    b[64] = 'X';  // the first EADD
    cases.push_back({"tag.sgxs", b, "SGXS offset 0x40: unknown record tag 0x5841444400000000"});
  }
  {
    Bytes b = vector;
    b[128 + 8] = 0x10;  // the first EEXTEND's offset
    cases.push_back({"misaligned.sgxs", b,
                     "SGXS offset 0x80: EEXTEND at enclave offset 0x10 is not 256-byte aligned"});
  }
  {
    Bytes b = vector;
    StoreLe<uint64_t>(b.data() + 12, 0x30000);
    cases.push_back(
        {"size.sgxs", b, "SGXS offset 0x0: ECREATE SIZE 0x30000 is not a power of two"});
  }
  {
    image::testing::SgxsBuilder b;
    b.Ecreate().Page(0x1000).Page(0x2000).Eadd(0x1000);
    cases.push_back({"twice.sgxs", b.bytes(),
                     fmt::format("SGXS offset {:#x}: EADD at enclave offset 0x1000: page already "
                                 "added",
                                 b.bytes().size() - 64)});
  }
  {
    image::testing::SgxsBuilder b;
    b.Ecreate(1, 0x2000).Eadd(0x2000);
    cases.push_back({"beyond.sgxs", b.bytes(),
                     "SGXS offset 0x40: EADD at enclave offset 0x2000 "
                     "is beyond SIZE 0x2000"});
  }
  {
    image::testing::SgxsBuilder b;
    b.Ecreate().Eadd(0x1000).Eextend(0x3000);
    cases.push_back({"outside.sgxs", b.bytes(),
                     "SGXS offset 0x80: EEXTEND at enclave offset 0x3000 is not inside a page"});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Write(c.name, c.bytes);
    ExpectFailure(Run({"image", "measure", path}), c.message);
    ExpectFailure(Run({"image", "inspect", path}), c.message);
    ExpectFailure(Run({"image", "sign", "--key", key_, "--out", dir_ + "/x.sig", path}), c.message);
  }
}

TEST_F(CliTest, MalformedSigstruct) {
  Bytes b = Vector(kVectorSig);
  b[50] = 1;
  ExpectFailure(Run({"image", "verify", Write("reserved.sig", b)}),
                "SIGSTRUCT offset 50: reserved field [44, 128) must be zero");
  b = Vector(kVectorSig);
  b.pop_back();
  ExpectFailure(Run({"image", "verify", Write("short.sig", b)}), "SIGSTRUCT must be 1808 bytes");
  b = Vector(kVectorSig);
  b[600] ^= 1;  // inside SIGNATURE
  Result r = Run({"image", "verify", Write("tampered.sig", b)});
  ExpectFailure(r, "signature check failed");
  EXPECT_THAT(r.out, HasSubstr("check signature    FAILED"));
  b = Vector(kVectorSig);
  b[1040] ^= 1;  // Q1
  ExpectFailure(Run({"image", "verify", Write("q1.sig", b)}), "q1q2 check failed");
  b = Vector(kVectorSig);
  b[0] = 7;  // HEADER
  ExpectFailure(Run({"image", "verify", Write("header.sig", b)}), "header check failed");
}

TEST_F(CliTest, VerifyAgainstAnotherEnclaveFails) {
  image::testing::SgxsBuilder other;
  other.Ecreate().Page(0);
  Result r = Run({"image", "verify", kVectorSig, "--sgxs", Write("other.sgxs", other.bytes())});
  ExpectFailure(r, "enclavehash check failed");
  EXPECT_THAT(r.err, HasSubstr(kMrenclave));
  EXPECT_THAT(r.out, HasSubstr("check signature    ok"));
}

TEST_F(CliTest, KeygenWritesMode0600AndRefusesToOverwrite) {
  const std::string fresh = dir_ + "/fresh.pem";
  Result made = Run({"keygen", "--out", fresh});
  ASSERT_EQ(made.code, 0) << made.err;
  struct stat st;
  ASSERT_EQ(::stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(ReadText(fresh), StartsWith("-----BEGIN"));
  EXPECT_TRUE(crypto::Rsa3072PrivateKey::FromPem(ReadText(fresh)).ok());
  const std::string before = ReadText(fresh);
  ExpectFailure(Run({"keygen", "--out", fresh}), "file exists (use --force to overwrite)");
  EXPECT_EQ(ReadText(fresh), before);

  const std::string other = dir_ + "/other.pem";
  ASSERT_TRUE(WriteFileAtomically(other, AsBytes("old"), 0644).ok());
  Result r = Run({"keygen", "--out", other, "--force"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(::stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ReadText(other), "old");
  EXPECT_THAT(r.out, HasSubstr("mrsigner "));
}

TEST_F(CliTest, SignThenVerify) {
  const std::string manifest =
      Write("m.json", Bytes(AsBytes(R"({"isv_prod_id": 7, "isv_svn": 3, "debug": true})").begin(),
                            AsBytes(R"({"isv_prod_id": 7, "isv_svn": 3, "debug": true})").end()));
  const std::string sig = dir_ + "/signed.sig";
  Result r = Run({"image", "sign", "--key", key_, "--out", sig, "--manifest", manifest, "--date",
                  "20240102", kVectorSgxs});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(std::string("mrenclave ") + kMrenclave));
  StatusOr<Bytes> bytes = ReadFile(sig);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 1808u);

  r = Run({"image", "verify", sig, "--sgxs", kVectorSgxs});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("date            2024-01-02"));
  EXPECT_THAT(r.out, HasSubstr("isv prod id     7"));
  EXPECT_THAT(r.out, HasSubstr("isv svn         3"));
  EXPECT_THAT(r.out, HasSubstr("flags 0x6 (DEBUG|MODE64BIT) xfrm 0x3"));
  EXPECT_THAT(r.out, HasSubstr("attribute mask  flags 0xffffffffffffffff xfrm 0x0"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(kMrsigner)));

  // Without a manifest: no DEBUG, ISV fields zero.
  r = Run({"image", "sign", "--key", key_, "--out", sig, kVectorSgxs});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run({"image", "verify", sig, "--sgxs", kVectorSgxs});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("flags 0x4 (MODE64BIT) xfrm 0x3"));
  EXPECT_THAT(r.out, HasSubstr("isv prod id     0"));
}

TEST_F(CliTest, SignErrors) {
  const std::string out = dir_ + "/never.sig";
  const std::string bad_manifest = Write(
      "bad.json", Bytes(AsBytes(R"({"threads": 0})").begin(), AsBytes(R"({"threads": 0})").end()));
  Result r =
      Run({"image", "sign", "--key", key_, "--out", out, "--manifest", bad_manifest, kVectorSgxs});
  ExpectFailure(r, "bad.json: manifest: threads: must be in [1, 64], got 0");
  ExpectFailure(
      Run({"image", "sign", "--key", key_, "--out", out, "--date", "2024-01-02", kVectorSgxs}),
      "--date: date \"2024-01-02\" is not YYYYMMDD");
  ExpectFailure(Run({"image", "sign", "--key", dir_ + "/missing.pem", "--out", out, kVectorSgxs}),
                "cannot open");
  ExpectFailure(Run({"image", "sign", "--key", Write("notakey.pem", Bytes(10, 'x')), "--out", out,
                     kVectorSgxs}),
                "notakey.pem");
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace confide

namespace confide {
namespace {

Bytes Text(std::string_view text) { return Bytes(text.begin(), text.end()); }

TEST_F(CliTest, RunPrintsTheFunctionsOutputUnderBothPolicies) {
  REQUIRE_KVM();
  const std::string f = Write("upper.lua", Text(("return function(s) return s:upper() end")));
  const std::string in = Write("in.txt", Text(std::string("hello\0world", 11)));
  for (const char* policy : {"pie-cold", "sgx1-cold"}) {
    Result r = Run({"run", "--function", f, "--input", in, "--policy", policy, "--stats"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, std::string("HELLO\0WORLD", 11));  // byte for byte
    EXPECT_THAT(r.err, HasSubstr("real time: create"));
    EXPECT_THAT(r.err, HasSubstr("VM exits"));
    EXPECT_THAT(r.err, HasSubstr("EENTER"));
  }
}

TEST_F(CliTest, RunReportsLuaErrorsAndTimeouts) {
  REQUIRE_KVM();
  const std::string in = Write("in.txt", Text(std::string("x")));
  const std::string bad = Write("bad.lua", Text(("return function(s) error('no ' .. s) end")));
  Result r = Run({"run", "--function", bad, "--input", in});
  ExpectFailure(r, "function error: bad.lua:1: no x");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  const std::string loop = Write("loop.lua", Text(("return function(s) while true do end end")));
  ExpectFailure(Run({"run", "--function", loop, "--input", in, "--timeout", "200"}), "timed out");
  const std::string printer =
      Write("print.lua", Text(("return function(s) print('log line') return s end")));
  r = Run({"run", "--function", printer, "--input", in});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "x");  // print goes to stderr, never into the output
  EXPECT_THAT(r.err, HasSubstr("log line"));
}

TEST_F(CliTest, RunRejectsBadArguments) {
  const std::string in = Write("in.txt", Text(std::string("x")));
  const std::string f = Write("id.lua", Text(("return function(s) return s end")));
  ExpectFailure(Run({"run", "--function", f, "--input", in, "--policy", "warm"}),
                "\"warm\" does not start real functions (choose one of sgx1-cold, ");
  ExpectFailure(Run({"run", "--function", dir_ + "/f.py", "--input", in}), "a .lua file");
  ExpectFailure(Run({"run", "--function", dir_ + "/missing.lua", "--input", in}), "missing.lua");
  ExpectFailure(Run({"run", "--function", f, "--input", in, "--runtime", "python"}),
                "unknown runtime \"python\"");
}

TEST_F(CliTest, RunMapsADataFileForTheFunction) {
  REQUIRE_KVM();
  const std::string f = Write(
      "lookup.lua", Text("return function(key, data) for line in data.sub(1):gmatch('[^\\n]+') do "
                         "local k, v = line:match('(%w+)=(%w+)') if k == key then return v end end "
                         "return '?' end"));
  const std::string table = Write("table.txt", Text("a=1\nb=22\nc=333\n"));
  const std::string in = Write("key.txt", Text("b"));
  Result r = Run({"run", "--function", f, "--data", table, "--input", in});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "22");
  ExpectFailure(
      Run({"run", "--function", f, "--data", table, "--input", in, "--policy", "sgx1-cold"}),
      "--data needs a PIE policy, pie-cold or pie-warm");
  ExpectFailure(Run({"run", "--function", f, "--data", dir_ + "/nope.bin", "--input", in}),
                "nope.bin");
}

TEST_F(CliTest, ImageBuildWritesAnEnclaveFileThatRunsAndCanBePinned) {
  const std::string f = Write("shout.lua", Text("return function(s) return s:upper() .. '!' end"));
  const std::string out = dir_ + "/shout.enclave";
  Result built = Run({"image", "build", "--lua", f, "--key", key_, "--out", out});
  ASSERT_EQ(built.code, 0) << built.err;
  EXPECT_THAT(built.out, HasSubstr("mrenclave "));
  const std::string mr = built.out.substr(built.out.find("mrenclave ") + 10, 64);
  ExpectFailure(Run({"image", "build", "--lua", dir_ + "/none.lua", "--key", key_, "--out", out}),
                "none.lua");
  ExpectFailure(Run({"image", "build", "--lua", f, "--key", dir_ + "/nokey.pem", "--out", out}),
                "nokey.pem");
  REQUIRE_KVM();
  const std::string in = Write("in.txt", Text("hi"));
  Result r = Run({"run", "--function", out, "--input", in, "--mrenclave", mr});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "HI!");
  std::string wrong = mr;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  for (const char* policy : {"pie-cold", "sgx1-cold"}) {
    ExpectFailure(
        Run({"run", "--function", out, "--input", in, "--mrenclave", wrong, "--policy", policy}),
        "SGX_INVALID_MEASUREMENT");
  }
  Bytes tampered = ReadFile(out).value();
  tampered[tampered.size() / 2] ^= 1;
  const std::string bad = Write("bad.enclave", tampered);
  Result refused = Run({"run", "--function", bad, "--input", in});
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.err, HasSubstr("bad.enclave"));
}

TEST_F(CliTest, RunStartsWithTheModelsPoliciesAndRefusesModelOnlyOnes) {
  const std::string f = Write("upper.lua", Text("return function(s) return s:upper() end"));
  const std::string in = Write("in.txt", Text("abc"));
  ExpectFailure(Run({"run", "--function", f, "--input", in, "--policy", "template-fork"}),
                "\"template-fork\" does not start real functions");
  REQUIRE_KVM();
  for (const char* policy : {"sgx2-eaug", "clemmys-batch", "sgx-warm", "pie-warm"}) {
    Result r = Run({"run", "--function", f, "--input", in, "--policy", policy, "--stats"});
    ASSERT_EQ(r.code, 0) << policy << ": " << r.err;
    EXPECT_EQ(r.out, "ABC") << policy;
    EXPECT_THAT(r.err, HasSubstr("EENTER")) << policy;
  }
}

// A function in C: the sources and a manifest make a whole enclave with the
// runtime, signed; confide run starts it as built.
TEST_F(CliTest, ImageBuildFromCSourcesMakesAWholeEnclaveThatRuns) {
  const std::string c = Write("rev.c", Text(R"c(
#include <stdlib.h>
#include "runtime/function.h"
int confide_function(const uint8_t* in, size_t n, uint8_t** out, size_t* out_len) {
  uint8_t* r = malloc(n + 1);
  if (r == NULL) return CONFIDE_STATUS_NO_MEMORY;
  for (size_t i = 0; i < n; i++) r[i] = in[n - 1 - i];
  *out = r;
  *out_len = n;
  return CONFIDE_STATUS_OK;
}
)c"));
  const std::string manifest = Write("rev.json", Text(R"({"heap_size": 524288})"));
  const std::string out = dir_ + "/rev.enclave";
  Result built =
      Run({"image", "build", "--c", c, "--manifest", manifest, "--key", key_, "--out", out});
  ASSERT_EQ(built.code, 0) << built.err;
  const std::string mr = built.out.substr(built.out.find("mrenclave ") + 10, 64);
  // Errors: a compile error shows the compiler's words and writes nothing;
  // a bad manifest names its key; one kind of source at a time.
  const std::string broken = Write("broken.c", Text("int confide_function(void) { return x; }\n"));
  const std::string nothing = dir_ + "/broken.enclave";
  Result failed = Run({"image", "build", "--c", broken, "--key", key_, "--out", nothing});
  EXPECT_NE(failed.code, 0);
  EXPECT_THAT(failed.err, HasSubstr("broken.c"));
  EXPECT_THAT(failed.err, HasSubstr("error"));
  EXPECT_THAT(failed.err, HasSubstr("compiling"));
  EXPECT_FALSE(std::filesystem::exists(nothing));
  const std::string bad_manifest = Write("bad.json", Text(R"({"heap": 1})"));
  ExpectFailure(Run({"image", "build", "--c", c, "--manifest", bad_manifest, "--key", key_, "--out",
                     nothing}),
                "heap");
  const std::string lua = Write("id.lua", Text("return function(s) return s end"));
  ExpectFailure(Run({"image", "build", "--c", c, "--lua", lua, "--key", key_, "--out", nothing}),
                "either --lua FILE or --c FILE");
  ExpectFailure(Run({"image", "build", "--c", dir_ + "/none.c", "--key", key_, "--out", nothing}),
                "none.c: no such file");

  REQUIRE_KVM();
  const std::string in = Write("in.txt", Text("stressed"));
  Result r = Run({"run", "--function", out, "--input", in, "--mrenclave", mr, "--stats"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "desserts");
  EXPECT_THAT(r.err, HasSubstr("EEXTEND"));  // built and measured as its owner signed it
  std::string wrong = mr;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  ExpectFailure(Run({"run", "--function", out, "--input", in, "--mrenclave", wrong}),
                "SGX_INVALID_MEASUREMENT");
  ExpectFailure(Run({"run", "--function", out, "--input", in, "--policy", "pie-cold"}),
                "a whole enclave starts as its owner built and signed it");
  ExpectFailure(Run({"chain", out, lua, "--mode", "insitu", "--input", in}),
                "a whole enclave (image build --c) runs alone");
}

TEST_F(CliTest, ChainGivesTheSameOutputInBothModes) {
  REQUIRE_KVM();
  const std::string f1 = Write("c1.lua", Text(("return function(s) return s:upper() end")));
  const std::string f2 = Write("c2.lua", Text(("return function(s) return s:reverse() end")));
  const std::string f3 =
      Write("c3.lua", Text(("return function(s) return s .. ' (' .. #s .. ')' end")));
  const std::string in = Write("in.txt", Text(std::string("hello chain")));
  Result insitu = Run({"chain", f1, f2, f3, "--mode", "insitu", "--input", in, "--stats"});
  ASSERT_EQ(insitu.code, 0) << insitu.err;
  EXPECT_EQ(insitu.out, "NIAHC OLLEH (11)");
  EXPECT_THAT(insitu.err, HasSubstr("1 enclaves, 0 data bytes carried by the host"));
  Result transfer = Run({"chain", f1, f2, f3, "--mode", "transfer", "--input", in, "--stats"});
  ASSERT_EQ(transfer.code, 0) << transfer.err;
  EXPECT_EQ(transfer.out, insitu.out);
  // Sealed hand-offs: each carries nonce + ciphertext + tag.
  EXPECT_THAT(transfer.err, HasSubstr("3 enclaves, 78 data bytes carried by the host"));
}

TEST_F(CliTest, ChainReportsTheFailingFunctionAndBadModes) {
  const std::string in = Write("in.txt", Text(std::string("x")));
  const std::string ok = Write("ok.lua", Text(("return function(s) return s end")));
  ExpectFailure(Run({"chain", ok, "--mode", "sideways", "--input", in}),
                "unknown chain mode \"sideways\"");
  ExpectFailure(Run({"chain", "--mode", "insitu", "--input", in}), "functions is required");
  REQUIRE_KVM();
  const std::string bad = Write("boom.lua", Text(("return function(s) error('boom') end")));
  for (const char* mode : {"insitu", "transfer"}) {
    Result r = Run({"chain", ok, bad, ok, "--mode", mode, "--input", in});
    ExpectFailure(r, "function error: boom.lua:1: boom");
    EXPECT_TRUE(r.out.empty());
  }
}

}  // namespace
}  // namespace confide
