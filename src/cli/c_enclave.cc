#include "cli/c_enclave.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "base/file.h"
#include "runtime/toolchain.h"

namespace confide::cli {
namespace {

// A directory of our own under $TMPDIR (or /tmp), removed with its files.
class TempDir {
 public:
  static StatusOr<TempDir> Make() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/confide-build-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return UnavailableError(
          fmt::format("cannot make a build directory {}: {}", pattern, std::strerror(errno)));
    }
    return TempDir(std::move(pattern));
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct Exit {
  int status = 0;  // the exit code, or 128 + signal
  std::string output;
};

// Runs argv[0] (searched in PATH) with `argv`, stdout and stderr captured.
StatusOr<Exit> RunCaptured(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return UnavailableError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
    execvp(args[0], args.data());
    const std::string why = fmt::format("cannot run {}: {}\n", argv[0], std::strerror(errno));
    (void)!write(2, why.data(), why.size());
    _exit(127);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return UnavailableError(fmt::format("waitpid: {}", std::strerror(errno)));
  }
  Exit e;
  e.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  StatusOr<Bytes> log = ReadFile(log_path);
  if (log.ok()) e.output.assign(log->begin(), log->end());
  if (e.status == 127 && e.output.starts_with("cannot run ")) {
    return UnavailableError(e.output.substr(0, e.output.size() - 1) +
                            " (the enclave compiler is installed by `make`: tools/setup.sh)");
  }
  return e;
}

}  // namespace

StatusOr<Bytes> CompileCEnclave(const std::vector<std::string>& sources, std::string* diagnostics) {
  if (sources.empty()) return InvalidArgumentError("no C sources to build");
  const runtime::EnclaveToolchain& tc = runtime::BuiltEnclaveToolchain();
  CONFIDE_ASSIGN_OR_RETURN(TempDir dir, TempDir::Make());
  const std::string log = dir.path() + "/log";
  std::vector<std::string> objects;
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string& src = sources[i];
    struct stat st {};
    if (!src.ends_with(".c")) {
      return InvalidArgumentError(fmt::format("{}: a C source is a .c file", src));
    }
    if (stat(src.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return InvalidArgumentError(fmt::format("{}: no such file", src));
    }
    objects.push_back(fmt::format("{}/{}.o", dir.path(), i));
    std::vector<std::string> argv = {tc.compiler};
    argv.insert(argv.end(), tc.cflags.begin(), tc.cflags.end());
    for (const std::string& inc : tc.includes) argv.push_back("-I" + inc);
    argv.insert(argv.end(), {"-c", src, "-o", objects.back()});
    CONFIDE_ASSIGN_OR_RETURN(Exit e, RunCaptured(argv, log));
    *diagnostics += e.output;
    if (e.status != 0) {
      return InvalidArgumentError(
          fmt::format("compiling {} failed ({} exit {})", src, tc.compiler, e.status));
    }
  }
  const std::string elf = dir.path() + "/enclave.elf";
  std::vector<std::string> argv = {tc.compiler};
  argv.insert(argv.end(), tc.ldflags.begin(), tc.ldflags.end());
  argv.insert(argv.end(), {"-o", elf});
  argv.insert(argv.end(), objects.begin(), objects.end());
  argv.insert(argv.end(), tc.libs.begin(), tc.libs.end());
  CONFIDE_ASSIGN_OR_RETURN(Exit e, RunCaptured(argv, log));
  *diagnostics += e.output;
  if (e.status != 0) {
    return InvalidArgumentError(fmt::format("linking failed ({} exit {})", tc.compiler, e.status));
  }
  return ReadFile(elf);
}

}  // namespace confide::cli
