#include "base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace liaison {

namespace {
Status Errno(const std::string& what) { return Status::Error(Code::kIoError, what + ": " + std::strerror(errno)); }
}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("open " + tmp);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("write " + tmp);
      ::close(fd);
      return s;
    }
    written += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    Status s = Errno("sync " + tmp);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Errno("close " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename " + tmp);
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDirectory(dir.empty() ? "." : dir);
}

namespace {
// 0, or the errno of the open or the fsync that failed; `step` says which.
int SyncDirectoryErrno(const std::string& dir, const char** step) {
  *step = "open";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno;
  *step = "fsync";
  const int error = ::fsync(dfd) != 0 ? errno : 0;
  ::close(dfd);
  return error;
}
Status DirectoryError(const char* step, const std::string& dir, int error) {
  return Status::Error(Code::kIoError, std::string(step) + " directory " + dir + ": " + std::strerror(error));
}
}  // namespace

Status SyncDirectory(const std::string& dir) {
  const char* step = "";
  const int error = SyncDirectoryErrno(dir, &step);
  return error == 0 ? Status::Ok() : DirectoryError(step, dir, error);
}

Status CreateDirectoriesDurably(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error(Code::kIoError, "cannot create " + dir + ": " + ec.message());
  // The directories the kernel made the path through: symbolic links and ".." resolved.
  const fs::path real = fs::canonical(dir, ec);
  if (ec) return Status::Error(Code::kIoError, "cannot resolve " + dir + ": " + ec.message());
  struct stat below {};
  if (::stat(real.c_str(), &below) != 0) return Errno("stat " + real.string());
  for (fs::path p = real; p.has_relative_path();) {
    p = p.parent_path();
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return Errno("stat " + p.string());
    if (st.st_dev != below.st_dev) break;  // a mount point: the entries above it are another file system's
    const char* step = "";
    const int error = SyncDirectoryErrno(p.string(), &step);
    // As PostgreSQL does for the directories above its own: one this process may not read, or
    // a file system that does not sync directories, is passed over.
    if (error != 0 && error != EACCES && error != EINVAL) return DirectoryError(step, p.string(), error);
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Error(Code::kNotFound, path + " does not exist");
    return Errno("open " + path);
  }
  std::string out;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("read " + path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return Status::Error(Code::kTooLarge, path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<bool> ReadAt(int fd, uint8_t* out, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(Code::kIoError, "read " + path + ": " + std::strerror(errno));
    if (n == 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

Status WriteAt(int fd, const uint8_t* data, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Error(Code::kIoError, "write " + path + ": " + std::strerror(errno));
    if (n == 0) return Status::Error(Code::kIoError, "write " + path + ": nothing written");
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace liaison
