// TEST ONLY: an LD_PRELOAD library that lets a harness model a power loss of the process it is
// loaded into. SIGKILL alone loses nothing the process wrote: the kernel's page cache keeps every
// write, synced or not. This library records, for every file under LIAISON_POWER_LOSS_DIR that the
// process opens for writing, what the file held at its first open and every change after it, and
// which changes a sync made durable (power_loss_journal.h has the format). After the SIGKILL,
// power_loss_restore.cc rebuilds each file as a disk could hold it after a power cut: everything
// the process synced, and of the rest any subset of 512-byte sectors (or none of it).
//
// What counts as durable (the POSIX contract, not what a particular file system happens to do):
//   - a write through a descriptor opened with O_SYNC or O_DSYNC, once it returned;
//   - a write or truncation once an fsync or fdatasync of the same file, begun after it
//     returned, has returned 0;
//   - a file or directory created by this process only once an fsync of its parent directory
//     has returned 0 after its creation; until then a power loss takes it away with its content.
// Not modelled, and refused with abort() where they could be seen: writable shared mappings,
// dup of a tracked descriptor, fallocate. Writes through stdio are not seen at all (glibc's
// stdio calls the kernel directly); nothing under test writes its store that way. rename is not
// modelled. Without LIAISON_POWER_LOSS_DIR and LIAISON_POWER_LOSS_STATE the library only forwards.
//
// Thread-safety: every tracked operation runs under one mutex, so a file's journal holds its
// changes in the order the kernel applied them.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "power_loss_journal.h"

namespace {

using liaison::power_loss::kRecordMagic;
using liaison::power_loss::RecordHeader;
using liaison::power_loss::RecordType;

template <typename F>
F Real(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "power-loss shim: no next definition of %s\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(symbol);
}

#define LIAISON_REAL(name) \
  static const auto real_##name = Real<decltype(&::name)>(#name)

[[noreturn]] void Refuse(const char* what, const std::string& path) {
  std::fprintf(stderr, "power-loss shim: %s of tracked file %s is not modelled\n", what, path.c_str());
  std::abort();
}

struct TrackedFile {
  std::string path;
  int journal_fd = -1;
  uint64_t journal_bytes = 0;
};

struct Descriptor {
  bool directory = false;
  bool dsync = false;  // opened with O_SYNC or O_DSYNC
  size_t file = 0;     // index into State::files when !directory
  std::string path;    // canonical
};

class State {
 public:
  static State& Get() {
    static State state;
    return state;
  }
  bool enabled() const { return enabled_; }
  std::mutex& mutex() { return mutex_; }

  // Called with the mutex held, after a successful open that returned `fd`.
  void Opened(int fd, int flags, bool existed) {
    std::string path = Canonical(fd);
    struct stat st {};
    if (path.empty() || fstat(fd, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (path == tracked_ || IsUnder(tracked_, path) || IsUnder(path, tracked_)) {
        descriptors_[fd] = Descriptor{true, false, 0, path};
      }
      return;
    }
    if (!S_ISREG(st.st_mode) || (flags & O_ACCMODE) == O_RDONLY || !IsUnder(path, tracked_)) return;
    if (EndsWith(path, "lock.mdb") || EndsWith(path, "-lock")) return;  // LMDB rebuilds its lock file
    if (!existed) Event("created", path);
    descriptors_[fd] = Descriptor{false, (flags & (O_SYNC | O_DSYNC)) != 0, FileIndex(path), path};
  }
  void MadeDirectory(const std::string& path) {
    if (path == tracked_ || IsUnder(path, tracked_)) Event("created", path);
  }
  const Descriptor* Find(int fd) const {
    auto it = descriptors_.find(fd);
    return it == descriptors_.end() ? nullptr : &it->second;
  }
  void Forget(int fd) { descriptors_.erase(fd); }
  void Journal(const Descriptor& d, RecordType type, uint64_t offset, const void* data, uint64_t length) {
    TrackedFile& file = files_[d.file];
    RecordHeader header{kRecordMagic, static_cast<uint32_t>(type), offset, length};
    WriteAll(file.journal_fd, &header, sizeof header);
    if (length > 0) WriteAll(file.journal_fd, data, length);
    file.journal_bytes += sizeof header + length;
  }
  uint64_t JournalBytes(const Descriptor& d) const { return files_[d.file].journal_bytes; }
  void Event(const char* kind, const std::string& path) {
    std::string line = std::string(kind) + " " + path + "\n";
    WriteAll(events_fd_, line.data(), line.size());
  }
  // The canonical path of `path` relative to the working directory, whose parent exists.
  static std::string CanonicalNew(const char* path) {
    std::string text(path);
    const size_t slash = text.find_last_of('/');
    const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : text.substr(0, slash);
    const std::string leaf = slash == std::string::npos ? text : text.substr(slash + 1);
    char buffer[PATH_MAX];
    if (realpath(parent.c_str(), buffer) == nullptr) return {};
    std::string out(buffer);
    return out == "/" ? "/" + leaf : out + "/" + leaf;
  }

 private:
  State() {
    const char* dir = std::getenv("LIAISON_POWER_LOSS_DIR");
    const char* state = std::getenv("LIAISON_POWER_LOSS_STATE");
    if (dir == nullptr || state == nullptr) return;
    tracked_ = CanonicalNew(dir);
    state_ = state;
    if (tracked_.empty()) Fail("cannot resolve LIAISON_POWER_LOSS_DIR", dir);
    LIAISON_REAL(open);
    LIAISON_REAL(mkdir);
    real_mkdir((state_ + "/files").c_str(), 0755);
    events_fd_ = real_open((state_ + "/events").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (events_fd_ < 0) Fail("cannot open the events file under", state_);
    enabled_ = true;
  }
  [[noreturn]] static void Fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "power-loss shim: %s %s: %s\n", what, detail.c_str(), std::strerror(errno));
    std::abort();
  }
  static bool IsUnder(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
  }
  static bool EndsWith(const std::string& s, const char* tail) {
    const size_t n = std::strlen(tail);
    return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
  }
  static std::string Canonical(int fd) {
    char link[64], buffer[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, buffer, sizeof buffer - 1);
    return n <= 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
  }
  static void WriteAll(int fd, const void* data, size_t size) {
    LIAISON_REAL(write);
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = real_write(fd, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Fail("cannot write the journal", "");
      p += n;
      size -= static_cast<size_t>(n);
    }
  }
  // The file's index, recording its path and current content on its first open.
  size_t FileIndex(const std::string& path) {
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].path == path) return i;
    }
    LIAISON_REAL(open);
    LIAISON_REAL(read);
    LIAISON_REAL(close);
    const std::string base = state_ + "/files/" + std::to_string(files_.size());
    const int path_fd = real_open((base + ".path").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (path_fd < 0) Fail("cannot write", base + ".path");
    WriteAll(path_fd, path.data(), path.size());
    real_close(path_fd);
    const int in = real_open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = real_open((base + ".image.tmp").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) Fail("cannot copy the first image of", path);
    std::vector<char> buffer(1 << 20);
    while (true) {
      const ssize_t n = real_read(in, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail("cannot read", path);
      if (n == 0) break;
      WriteAll(out, buffer.data(), static_cast<size_t>(n));
    }
    real_close(in);
    real_close(out);
    if (::rename((base + ".image.tmp").c_str(), (base + ".image").c_str()) != 0) Fail("cannot rename", base);
    TrackedFile file;
    file.path = path;
    file.journal_fd = real_open((base + ".journal").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (file.journal_fd < 0) Fail("cannot open", base + ".journal");
    files_.push_back(std::move(file));
    return files_.size() - 1;
  }

  bool enabled_ = false;
  std::string tracked_, state_;
  int events_fd_ = -1;
  std::mutex mutex_;
  std::vector<TrackedFile> files_;
  std::unordered_map<int, Descriptor> descriptors_;
};

mode_t ModeArgument(int flags, va_list args) {
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) return static_cast<mode_t>(va_arg(args, int));
  return 0;
}

using OpenAtFunction = int (*)(int, const char*, int, ...);

int OpenTracked(const char* name, int dirfd, const char* path, int flags, mode_t mode) {
  const auto real = Real<OpenAtFunction>(name);
  State& state = State::Get();
  if (!state.enabled()) return real(dirfd, path, flags, mode);
  std::lock_guard lock(state.mutex());
  struct stat st {};
  const bool existed = (flags & O_CREAT) == 0 || fstatat(dirfd, path, &st, 0) == 0;
  const int fd = real(dirfd, path, flags, mode);
  if (fd >= 0) state.Opened(fd, flags, existed);
  return fd;
}

// The byte count `written` of `iov` as one buffer.
std::vector<char> Gather(const struct iovec* iov, int count, size_t written) {
  std::vector<char> out;
  out.reserve(written);
  for (int i = 0; i < count && out.size() < written; ++i) {
    const size_t take = std::min(iov[i].iov_len, written - out.size());
    const char* base = static_cast<const char*>(iov[i].iov_base);
    out.insert(out.end(), base, base + take);
  }
  return out;
}

RecordType WriteType(const Descriptor& d) { return d.dsync ? RecordType::kDsyncWrite : RecordType::kWrite; }

// The offset a write() or writev() at the file position will land at.
off_t PositionOf(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_APPEND) != 0) {
    struct stat st {};
    return fstat(fd, &st) == 0 ? st.st_size : -1;
  }
  return lseek(fd, 0, SEEK_CUR);
}

template <typename Call>
int SyncTracked(int fd, Call call) {
  State& state = State::Get();
  uint64_t covered = 0;
  std::string directory;
  bool tracked = false;
  if (state.enabled()) {
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) {
      tracked = true;
      if (d->directory) directory = d->path;
      else covered = state.JournalBytes(*d);
    }
  }
  const int rc = call();
  if (!tracked || rc != 0) return rc;
  std::lock_guard lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) return rc;
  if (d->directory) state.Event("dirsync", directory);
  else state.Journal(*d, RecordType::kSync, covered, nullptr, 0);
  return rc;
}

}  // namespace

// Exported whatever the build's default visibility: the dynamic linker must see them first.
#define LIAISON_PRELOAD_EXPORT extern "C" __attribute__((visibility("default")))

#define LIAISON_OPEN_WRAPPER(name)                                       \
  LIAISON_PRELOAD_EXPORT int name(const char* path, int flags, ...) {    \
    va_list args;                                                        \
    va_start(args, flags);                                               \
    const mode_t mode = ModeArgument(flags, args);                       \
    va_end(args);                                                        \
    return OpenTracked("openat", AT_FDCWD, path, flags, mode);           \
  }
#define LIAISON_OPENAT_WRAPPER(name)                                             \
  LIAISON_PRELOAD_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    va_list args;                                                                \
    va_start(args, flags);                                                       \
    const mode_t mode = ModeArgument(flags, args);                               \
    va_end(args);                                                                \
    return OpenTracked("openat", dirfd, path, flags, mode);                      \
  }
LIAISON_OPEN_WRAPPER(open)
LIAISON_OPEN_WRAPPER(open64)
LIAISON_OPENAT_WRAPPER(openat)
LIAISON_OPENAT_WRAPPER(openat64)
// The _FORTIFY_SOURCE entry points (no mode: they are used only without O_CREAT).
LIAISON_PRELOAD_EXPORT int __open_2(const char* path, int flags) { return OpenTracked("openat", AT_FDCWD, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __open64_2(const char* path, int flags) { return OpenTracked("openat", AT_FDCWD, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __openat_2(int dirfd, const char* path, int flags) { return OpenTracked("openat", dirfd, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return OpenTracked("openat", dirfd, path, flags, 0); }

LIAISON_PRELOAD_EXPORT int mkdir(const char* path, mode_t mode) {
  LIAISON_REAL(mkdir);
  State& state = State::Get();
  if (!state.enabled()) return real_mkdir(path, mode);
  std::lock_guard lock(state.mutex());
  const int rc = real_mkdir(path, mode);
  if (rc == 0) state.MadeDirectory(State::CanonicalNew(path));
  return rc;
}

LIAISON_PRELOAD_EXPORT ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  LIAISON_REAL(pwrite);
  State& state = State::Get();
  if (!state.enabled()) return real_pwrite(fd, data, size, offset);
  std::unique_lock lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) {
    lock.unlock();
    return real_pwrite(fd, data, size, offset);
  }
  const ssize_t n = real_pwrite(fd, data, size, offset);
  if (n > 0) state.Journal(*d, WriteType(*d), static_cast<uint64_t>(offset), data, static_cast<uint64_t>(n));
  return n;
}
LIAISON_PRELOAD_EXPORT ssize_t pwrite64(int fd, const void* data, size_t size, off_t offset) {
  return pwrite(fd, data, size, offset);
}

LIAISON_PRELOAD_EXPORT ssize_t write(int fd, const void* data, size_t size) {
  LIAISON_REAL(write);
  State& state = State::Get();
  if (!state.enabled()) return real_write(fd, data, size);
  std::unique_lock lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) {
    lock.unlock();
    return real_write(fd, data, size);
  }
  const off_t at = PositionOf(fd);
  const ssize_t n = real_write(fd, data, size);
  if (n > 0) state.Journal(*d, WriteType(*d), static_cast<uint64_t>(at), data, static_cast<uint64_t>(n));
  return n;
}

LIAISON_PRELOAD_EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
  LIAISON_REAL(writev);
  State& state = State::Get();
  if (!state.enabled()) return real_writev(fd, iov, count);
  std::unique_lock lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) {
    lock.unlock();
    return real_writev(fd, iov, count);
  }
  const off_t at = PositionOf(fd);
  const ssize_t n = real_writev(fd, iov, count);
  if (n > 0) {
    const std::vector<char> bytes = Gather(iov, count, static_cast<size_t>(n));
    state.Journal(*d, WriteType(*d), static_cast<uint64_t>(at), bytes.data(), bytes.size());
  }
  return n;
}

LIAISON_PRELOAD_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
  LIAISON_REAL(pwritev);
  State& state = State::Get();
  if (!state.enabled()) return real_pwritev(fd, iov, count, offset);
  std::unique_lock lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) {
    lock.unlock();
    return real_pwritev(fd, iov, count, offset);
  }
  const ssize_t n = real_pwritev(fd, iov, count, offset);
  if (n > 0) {
    const std::vector<char> bytes = Gather(iov, count, static_cast<size_t>(n));
    state.Journal(*d, WriteType(*d), static_cast<uint64_t>(offset), bytes.data(), bytes.size());
  }
  return n;
}
LIAISON_PRELOAD_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off_t offset) {
  return pwritev(fd, iov, count, offset);
}

LIAISON_PRELOAD_EXPORT int ftruncate(int fd, off_t length) {
  LIAISON_REAL(ftruncate);
  State& state = State::Get();
  if (!state.enabled()) return real_ftruncate(fd, length);
  std::lock_guard lock(state.mutex());
  const int rc = real_ftruncate(fd, length);
  const Descriptor* d = state.Find(fd);
  if (rc == 0 && d != nullptr && !d->directory) {
    state.Journal(*d, RecordType::kTruncate, static_cast<uint64_t>(length), nullptr, 0);
  }
  return rc;
}
LIAISON_PRELOAD_EXPORT int ftruncate64(int fd, off_t length) { return ftruncate(fd, length); }

LIAISON_PRELOAD_EXPORT int fsync(int fd) {
  LIAISON_REAL(fsync);
  return SyncTracked(fd, [&] { return real_fsync(fd); });
}
LIAISON_PRELOAD_EXPORT int fdatasync(int fd) {
  LIAISON_REAL(fdatasync);
  return SyncTracked(fd, [&] { return real_fdatasync(fd); });
}

LIAISON_PRELOAD_EXPORT int close(int fd) {
  LIAISON_REAL(close);
  State& state = State::Get();
  if (state.enabled()) {
    std::lock_guard lock(state.mutex());
    state.Forget(fd);
  }
  return real_close(fd);
}

LIAISON_PRELOAD_EXPORT void* mmap(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
  LIAISON_REAL(mmap);
  if (fd >= 0 && (prot & PROT_WRITE) != 0 && (flags & MAP_SHARED) != 0 && State::Get().enabled()) {
    State& state = State::Get();
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("a writable shared mapping", d->path);
  }
  return real_mmap(address, length, prot, flags, fd, offset);
}
LIAISON_PRELOAD_EXPORT void* mmap64(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
  return mmap(address, length, prot, flags, fd, offset);
}

LIAISON_PRELOAD_EXPORT int dup(int fd) {
  LIAISON_REAL(dup);
  State& state = State::Get();
  if (state.enabled()) {
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("dup", d->path);
  }
  return real_dup(fd);
}

LIAISON_PRELOAD_EXPORT int fallocate(int fd, int mode, off_t offset, off_t length) {
  LIAISON_REAL(fallocate);
  State& state = State::Get();
  if (state.enabled()) {
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("fallocate", d->path);
  }
  return real_fallocate(fd, mode, offset, length);
}
