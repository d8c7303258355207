#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace confide {

static std::string ErrnoText() { return std::strerror(errno); }

StatusOr<Bytes> ReadFile(const std::string& path) {
  int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFoundError("cannot open " + path + ": " + ErrnoText());
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = ErrnoText();
      if (fd != STDIN_FILENO) ::close(fd);
      return DataLossError("cannot read " + path + ": " + err);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  if (fd != STDIN_FILENO) ::close(fd);
  return out;
}

Status WriteFileAtomically(const std::string& path, ByteSpan data, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // O_EXCL|O_NOFOLLOW: never write through something already at the temp path
  // (a planted symlink would otherwise receive a private key).
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return UnavailableError("cannot create " + tmp + ": " + ErrnoText());
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = ErrnoText();
      ::close(fd);
      ::unlink(tmp.c_str());
      return UnavailableError("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return UnavailableError("cannot flush " + tmp + ": " + err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return UnavailableError("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return OkStatus();
}

}  // namespace confide
