// cmd_demo_real.cc — the part of `confide demo` that runs for real: Lua
// functions in host enclaves on KVM micro-VMs (platform/function_worker.h),
// with their real timings side by side.
//
//   1. one function, started by every policy of RealPolicyNames(), same output;
//   2. a three-function chain, in-situ and transfer, same output.
//
// The functions and the input are embedded below, so the demo needs no file.
// Without /dev/kvm it says so loudly and skips (the model part still ran).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "platform/function_worker.h"
#include "runtime/embedded.h"

namespace confide::cli {
namespace {

constexpr std::string_view kCmd = "demo";
constexpr int kRuns = 7;

// Word frequencies of a text: "word count" lines, most frequent first.
constexpr std::string_view kWordCount = R"lua(
return function(text)
  local counts = {}
  for word in text:lower():gmatch("%a+") do counts[word] = (counts[word] or 0) + 1 end
  local words = {}
  for word in pairs(counts) do words[#words + 1] = word end
  table.sort(words, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  local out = {}
  for i = 1, math.min(5, #words) do out[i] = words[i] .. " " .. counts[words[i]] end
  return table.concat(out, "\n") .. "\n"
end
)lua";

// The chain: normalize, count, format.
constexpr std::string_view kNormalize = R"lua(
return function(text) return (text:lower():gsub("[^%a]+", " ")) end
)lua";
constexpr std::string_view kCount = R"lua(
return function(text)
  local counts, order = {}, {}
  for word in text:gmatch("%a+") do
    if not counts[word] then order[#order + 1] = word end
    counts[word] = (counts[word] or 0) + 1
  end
  local out = {}
  for _, word in ipairs(order) do out[#out + 1] = word .. "=" .. counts[word] end
  return table.concat(out, ",")
end
)lua";
constexpr std::string_view kTop = R"lua(
return function(pairs_text)
  local list = {}
  for word, n in pairs_text:gmatch("(%a+)=(%d+)") do list[#list + 1] = {word, tonumber(n)} end
  table.sort(list, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
  local out = {}
  for i = 1, math.min(3, #list) do out[i] = list[i][1] .. " " .. list[i][2] end
  return table.concat(out, "\n") .. "\n"
end
)lua";

constexpr std::string_view kText =
    "Plugin enclaves hold what is not secret: the runtime, the libraries, the function. "
    "A host enclave holds the secrets of one invocation and maps the plugins it needs. "
    "The plugins are measured once; the host is small, so it starts fast. "
    "In a chain the host keeps the data and remaps the code.";

ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string AsText(const Bytes& b) { return std::string(b.begin(), b.end()); }

struct Timing {
  double create_ms = 0, run_ms = 0, teardown_ms = 0, total_ms = 0;
  uint64_t exits = 0;
};

// Medians over the runs (phases each on their own).
Timing Median(std::vector<platform::Invocation>& runs) {
  auto median = [&](auto field) {
    std::vector<double> v;
    for (const auto& r : runs)
      v.push_back(std::chrono::duration<double, std::milli>(field(r)).count());
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Timing t;
  t.create_ms = median([](const platform::Invocation& r) { return r.times.create; });
  t.run_ms = median([](const platform::Invocation& r) { return r.times.run; });
  t.teardown_ms = median([](const platform::Invocation& r) { return r.times.teardown; });
  t.total_ms = median([](const platform::Invocation& r) { return r.times.total(); });
  t.exits = runs.back().monitor.vm_exits;
  return t;
}

void PrintRow(std::string_view name, const Timing& t) {
  std::cout << fmt::format("  {:<14} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>6}\n", name,
                           t.create_ms, t.run_ms, t.teardown_ms, t.total_ms, t.exits);
}

void PrintHeader() {
  std::cout << fmt::format("  {:<14} {:>9} {:>9} {:>9} {:>9} {:>6}\n", "", "create", "run",
                           "teardown", "total", "exits");
  std::cout << "  (real milliseconds, medians of " << kRuns << " runs; exits = VM exits)\n";
}

platform::Invocation OrFail(StatusOr<platform::Invocation> inv, std::string_view what) {
  platform::Invocation r = ValueOrFail(kCmd, what, std::move(inv));
  if (!r.ok()) Fail(kCmd, fmt::format("{}: {}", what, r.Failure()), 1);
  return r;
}

}  // namespace

void RunRealDemo() {
  platform::FunctionWorkerConfig config;
  config.heap_bytes = uint64_t{2} << 20;
  auto worker = platform::FunctionWorker::Create(runtime::lua_runtime_elf(), config);
  if (!worker.ok()) {
    if (worker.error().code == ErrorCode::kUnavailable) {
      std::cout << "\n*** SKIPPED the real runs on KVM: " << worker.error().message << " ***\n";
      return;
    }
    ValueOrFail(kCmd, "starting the worker", std::move(worker));
  }
  platform::FunctionWorker& w = **worker;
  std::cout << "\n== Real runs: Lua 5.4 functions in host enclaves on KVM micro-VMs ==\n\n";
  const auto wc = ValueOrFail(kCmd, "word count", w.AddLuaFunction("wordcount.lua", kWordCount));

  std::cout << "1. One function (word count), the same input, every start policy that runs\n"
               "   real functions (the model's policies; the monitor runs what they start):\n";
  PrintHeader();
  std::string first;
  for (const std::string& policy : platform::RealPolicyNames()) {
    std::vector<platform::Invocation> runs;
    for (int r = 0; r < kRuns; ++r) {
      runs.push_back(OrFail(w.Invoke(wc, policy, AsBytes(kText)), policy));
    }
    const std::string output = AsText(runs.back().output);
    if (first.empty()) first = output;
    if (output != first) Fail(kCmd, fmt::format("{} disagrees with the other policies", policy), 1);
    PrintRow(policy, Median(runs));
  }
  std::cout << "  output (every policy):\n" << first << "\n";

  std::cout << "2. A chain: normalize -> count -> top 3, in two modes:\n";
  const platform::FunctionId chain[] = {
      ValueOrFail(kCmd, "normalize", w.AddLuaFunction("normalize.lua", kNormalize)),
      ValueOrFail(kCmd, "count", w.AddLuaFunction("count.lua", kCount)),
      ValueOrFail(kCmd, "top", w.AddLuaFunction("top.lua", kTop))};
  PrintHeader();
  std::string chain_outputs[2];
  const platform::ChainMode modes[] = {platform::ChainMode::kInSitu,
                                       platform::ChainMode::kTransfer};
  for (int i = 0; i < 2; ++i) {
    std::vector<platform::Invocation> runs;
    platform::ChainRun last;
    for (int r = 0; r < kRuns; ++r) {
      last = ValueOrFail(kCmd, "chain", w.InvokeChain(chain, modes[i], AsBytes(kText)));
      if (!last.result.ok()) Fail(kCmd, "chain: " + last.result.Failure(), 1);
      runs.push_back(last.result);
    }
    chain_outputs[i] = AsText(last.result.output);
    PrintRow(std::string(platform::ChainModeName(modes[i])), Median(runs));
    std::cout << fmt::format("  {:<12} {} enclave(s), {} data bytes carried by the host\n", "",
                             last.enclaves, last.bytes_through_host);
  }
  if (chain_outputs[0] != chain_outputs[1]) Fail(kCmd, "in-situ and transfer disagree", 1);
  std::cout << "  output (both modes):\n" << chain_outputs[0];
  std::cout << "\n(build/bench/bench_monitor measures these starts in detail.)\n";
}

}  // namespace confide::cli
