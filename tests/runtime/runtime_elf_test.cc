// End-to-end tests of the runtime ELFs (probe.elf, lua_runtime.elf): each
// runs under enclave_runner, which plays the monitor with ptrace (see
// enclave_runner.c), so entry, library OS, function ABI and EEXIT are tested
// on a real CPU without KVM. Inputs in one run go to the same enclave, one
// EENTER each, as a warm host would send them.
#include <sys/auxv.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

RunResult Runner(const std::vector<std::string>& args) {
  std::string cmd = Quote(ENCLAVE_RUNNER_PATH);
  for (const auto& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Files go to a directory of this process's own: ctest runs each test as a
// process of its own, in parallel, and the names (function.lua) are shared.
std::string WriteTemp(const std::string& name, const std::string& contents) {
  struct OwnDir {
    std::string path = ::testing::TempDir() + "/confide_runtime_test.XXXXXX";
    bool made = ::mkdtemp(path.data()) != nullptr;
    ~OwnDir() {
      std::error_code ec;
      if (made) std::filesystem::remove_all(path, ec);
    }
  };
  static const OwnDir dir;
  EXPECT_TRUE(dir.made) << "mkdtemp in " << ::testing::TempDir();
  std::string path = dir.path + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

class RuntimeElfTest : public ::testing::Test {
 protected:
  // Runs and returns the runner's output; skips where ptrace is not allowed.
  std::string Run(std::vector<std::string> args) {
    RunResult r = Runner(args);
    if (r.exit_code == 3) {
      skipped_ = true;
      return "";
    }
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return r.out;
  }
  std::string Probe(std::vector<std::string> inputs, std::vector<std::string> options = {}) {
    options.push_back(PROBE_ELF_PATH);
    options.insert(options.end(), inputs.begin(), inputs.end());
    return Run(options);
  }
  std::string Lua(const std::string& script, std::vector<std::string> inputs,
                  std::vector<std::string> options = {}) {
    options.push_back("--lua");
    options.push_back(WriteTemp("function.lua", script));
    options.push_back(LUA_RUNTIME_ELF_PATH);
    options.insert(options.end(), inputs.begin(), inputs.end());
    return Run(options);
  }
  bool skipped_ = false;
};

#define SKIP_IF_NO_PTRACE() \
  if (skipped_) GTEST_SKIP() << "ptrace is not allowed here"

TEST_F(RuntimeElfTest, ProbeEchoUpperAndUnknown) {
  std::string out = Probe({"ehello", "uhello", "", "?"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out,
            "result: status=0 output=hello\n"
            "result: status=0 output=HELLO\n"
            "result: status=1 output=unknown probe op\n"
            "result: status=1 output=unknown probe op\n");
}

TEST_F(RuntimeElfTest, ProbeStateSurvivesBetweenInvocations) {
  std::string out = Probe({"w", "w", "w"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out,
            "result: status=0 output=1\n"
            "result: status=0 output=2\n"
            "result: status=0 output=3\n");
}

TEST_F(RuntimeElfTest, ProbeLibraryOs) {
  std::string out = Probe({"o", "p", "t", "m"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out,
            "result: status=0 output=open=-38 socket=-38\n"
            "log1: hello from the enclave\\n\n"
            "result: status=0 output=printed\n"
            "result: status=0 output=clock ok\n"
            "result: status=0 output=malloc ok\n");
}

TEST_F(RuntimeElfTest, ProbeClocksAnswerWithTheHostsTimeAndMuslsErrors) {
  const time_t before = time(nullptr);
  std::string out = Probe({"T"});
  SKIP_IF_NO_PTRACE();
  const time_t after = time(nullptr);
  long long rt_s = 0, rt_ns = 0, t = 0, tod_s = 0, tod_us = 0;
  char cpu[8] = "";
  int einval = 0, efault = 0;
  ASSERT_EQ(sscanf(out.c_str(),
                   "result: status=0 output=realtime=%lld.%lld time=%lld tod=%lld.%lld cpu=%7s "
                   "einval=%d efault=%d",
                   &rt_s, &rt_ns, &t, &tod_s, &tod_us, cpu, &einval, &efault),
            8)
      << out;
  // Read in this order inside the enclave, from the runner's CLOCK_REALTIME.
  EXPECT_LE(before, rt_s) << out;
  EXPECT_LE(rt_s, tod_s) << out;
  EXPECT_LE(tod_s, t) << out;
  EXPECT_LE(t, after) << out;
  EXPECT_LT(rt_ns, 1000000000) << out;
  EXPECT_LT(tod_us, 1000000) << out;
  EXPECT_STREQ(cpu, "ok") << out;
  EXPECT_EQ(einval, EINVAL) << "clock_gettime of an unknown clock: " << out;
  EXPECT_EQ(efault, EFAULT) << "clock_gettime into NULL: " << out;
}

TEST_F(RuntimeElfTest, ProbeHeapIsReturnedBetweenInvocations) {
  // 8 MiB per invocation out of a 12 MiB heap: only works if free unmaps.
  std::vector<std::string> inputs(12, "m");
  std::string out = Probe(inputs, {"--heap", "12582912"});
  SKIP_IF_NO_PTRACE();
  std::string expected;
  for (int i = 0; i < 12; i++) expected += "result: status=0 output=malloc ok\n";
  EXPECT_EQ(out, expected);
}

TEST_F(RuntimeElfTest, ProbeExitCrashAndTimeout) {
  std::string out = Probe({"x", "ehello"});  // the enclave is gone after exit
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, "exit: 3\n");
  out = Probe({"c", "ehello"});
  EXPECT_EQ(out.rfind("crash: Segmentation fault addr=0x10 rip=0x40", 0), 0u) << out;
  EXPECT_EQ(out.find("result"), std::string::npos) << out;
  // Inside ELRANGE but not part of the enclave (between the slots).
  out = Probe({"r0000004070000000"});
  EXPECT_EQ(out.rfind("crash: Segmentation fault addr=0x4070000000 ", 0), 0u) << out;
  EXPECT_EQ(Probe({"l"}, {"--timeout", "1"}), "timeout\n");
}

TEST_F(RuntimeElfTest, BadRequestsGetNoOutput) {
  for (const char* header : {"op=2", "capacity=0x40001000", "capacity=0x10000", "input_offset=0",
                             "input_len=0xffffffffffffff00"}) {
    std::string out = Probe({"ehello", "ehello"}, {"--header", header});
    SKIP_IF_NO_PTRACE();
    EXPECT_EQ(out, "result: status=2 output=\nresult: status=2 output=\n") << header;
  }
  // Without the magic it is not a window: the runtime writes nothing there,
  // and the runner's stale output_offset (0xdeadbeef) stays.
  std::string out = Probe({"ehello"}, {"--header", "magic=0"});
  EXPECT_EQ(out.rfind("result: status=2 output=<out of the window: offset 0xdeadbeef", 0), 0u)
      << out;
}

TEST_F(RuntimeElfTest, OutputThatDoesNotFitIsNoMemory) {
  // 128 KiB window: 60000 bytes of input end at 64097, the output would start
  // at 64 KiB, where the log scratch area begins.
  std::string input = "e" + std::string(60000, 'a');
  std::string path = WriteTemp("big_input", input);
  std::string out = Probe({"@" + path, "eok"}, {"--window", "131072"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, "result: status=3 output=\nresult: status=0 output=ok\n");
  out = Probe({"@" + path}, {"--window", "262144"});
  EXPECT_EQ(out, "result: status=0 output=" + std::string(60000, 'a') + "\n");
}

TEST_F(RuntimeElfTest, ReflectedSyscallsPreserveRegistersAndRedZone) {
  std::string out = Run({SYSCALL_REGS_ELF_PATH, "x", "x"});
  SKIP_IF_NO_PTRACE();
  // A bit mask of what changed across the syscall, RSP aligned and not.
  EXPECT_EQ(out, "result: status=0 output=0 0\nresult: status=0 output=0 0\n");
}

const char kEchoScript[] = R"(
local calls = 0
return function(input)
  calls = calls + 1
  print("got " .. #input)
  return string.upper(input) .. " " .. calls
end
)";

// kEchoScript's output for "hello" then "again", in one enclave.
constexpr char kEchoHelloAgain[] =
    "log1: got 5\\n\n"
    "result: status=0 output=HELLO 1\n"
    "log1: got 5\\n\n"
    "result: status=0 output=AGAIN 1\n";

TEST_F(RuntimeElfTest, LuaRunsTheFunctionWithAFreshStateEachTime) {
  std::string out = Lua(kEchoScript, {"hello", "again"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, kEchoHelloAgain);
}

// The thread pointer: WRFSBASE where the window says the vCPU allows it (no
// exit), else arch_prctl(ARCH_SET_FS), once at start-up and once at every
// later entry (EENTER reloads FS.base from the TCS). Both give the same
// result, on CPUs with and without FSGSBASE.
TEST_F(RuntimeElfTest, ThreadPointerWithoutFsgsbaseIsSetByArchPrctl) {
  std::string out = Lua(kEchoScript, {"hello", "again"}, {"--fsgsbase", "off", "--served", "yes"});
  SKIP_IF_NO_PTRACE();
  // musl's __init_tp, then the second entry.
  EXPECT_EQ(out, std::string(kEchoHelloAgain) + "served: arch_prctl=2\n");
}

TEST_F(RuntimeElfTest, ThreadPointerWithFsgsbaseTakesNoSyscall) {
  if ((getauxval(AT_HWCAP2) & (1ul << 1)) == 0) {  // HWCAP2_FSGSBASE
    GTEST_SKIP() << "this kernel does not let user space use WRFSBASE (no HWCAP2_FSGSBASE)";
  }
  std::string out = Lua(kEchoScript, {"hello", "again"}, {"--fsgsbase", "on", "--served", "yes"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, std::string(kEchoHelloAgain) + "served: arch_prctl=0\n");
}

TEST_F(RuntimeElfTest, LuaBytecode) {
  std::string path = WriteTemp("bytecode.lua", kEchoScript);
  std::string out = Run({"--lua-bytecode", path, LUA_RUNTIME_ELF_PATH, "hi"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, "log1: got 2\\n\nresult: status=0 output=HI 1\n");
}

TEST_F(RuntimeElfTest, LuaErrorsAreFunctionErrors) {
  std::string out = Lua(R"(return function(input)
  if input == "error" then error("boom") end
  if input == "table" then error(setmetatable({}, {__tostring = function() return "custom" end})) end
  if input == "number" then return 42 end
  return nil
end)",
                        {"error", "table", "number", "nil"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out,
            "result: status=1 output=function.lua:2: boom\n"
            "result: status=1 output=custom\n"
            "result: status=1 output=function returned number, not a string\n"
            "result: status=1 output=function returned nil, not a string\n");
  EXPECT_EQ(Lua("return 5", {"x"}),
            "result: status=1 output=chunk returned number, not a function\n");
  EXPECT_EQ(Lua("return function(", {"x"}),
            "result: status=1 output=function.lua:1: <name> or '...' expected near <eof>\n");
}

TEST_F(RuntimeElfTest, LuaSandbox) {
  std::string out = Lua(R"(return function(input)
  local names = {}
  for _, n in ipairs({"io", "os", "package", "debug", "require", "dofile", "loadfile"}) do
    names[#names + 1] = n .. "=" .. type(_G[n])
  end
  local f = load("return 1 + 1")
  local g, err = load(string.dump(function() return 1 end), "dumped", "b")
  return table.concat(names, " ") .. " | " .. f() .. " | " .. tostring(g) .. " " .. err
end)",
                        {"x"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out,
            "result: status=0 output=io=nil os=nil package=nil debug=nil require=nil "
            "dofile=nil loadfile=nil | 2 | nil attempt to load a binary chunk (mode is 't')\n");
}

TEST_F(RuntimeElfTest, LuaOutOfMemoryLeavesTheEnclaveUsable) {
  std::string out = Lua(R"(return function(input)
  if input == "hog" then
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep("x", 1e5) .. i end
  end
  return "fine"
end)",
                        {"hog", "ok"}, {"--heap", "8388608"});
  SKIP_IF_NO_PTRACE();
  EXPECT_EQ(out, "result: status=3 output=not enough memory\nresult: status=0 output=fine\n");
}

TEST_F(RuntimeElfTest, LuaWithoutAFunctionCrashes) {
  // Nothing in the function slot: reading its header faults.
  std::string out = Run({LUA_RUNTIME_ELF_PATH, "x"});
  SKIP_IF_NO_PTRACE();
  EXPECT_NE(out.find("crash: Segmentation fault addr=0x4020000000"), std::string::npos) << out;
}

}  // namespace
