// TEST ONLY: an LD_PRELOAD library that lets a harness model a power loss of the process it is
// loaded into. SIGKILL alone loses nothing the process wrote: the kernel's page cache keeps every
// write, synced or not. This library records, for every file under LIAISON_POWER_LOSS_DIR that the
// process opens for writing, what the file held when first seen and every change after it, and
// which changes a sync made durable (power_loss_journal.h has the format). After a SIGKILL chosen
// as a power cut, power_loss_restore.cc rebuilds each file as a disk could hold it: everything
// synced, and of the rest a choice of sectors (or none of it). A process started again with the
// same record, without a restore in between (a plain crash), goes on with the record: what the
// page cache held at that crash is still not durable.
//
// What counts as durable (the POSIX contract, not what a particular file system happens to do):
//   - a write through a descriptor opened with O_SYNC or O_DSYNC, once it returned;
//   - a write or truncation (O_TRUNC included) once an fsync or fdatasync of the same file, begun
//     after it returned, has returned 0;
//   - a file or directory created by a recorded process only once an fsync of its parent
//     directory, begun after its creation, has returned 0.
// Not modelled, and refused with abort() where they could be seen: writable shared mappings,
// dup of a tracked descriptor, fallocate. Not seen at all: writes through stdio (glibc's stdio
// calls the kernel directly), pwritev2, sendfile, copy_file_range, truncate by path, a sync
// through a read-only descriptor (each shows as a loss: a false alarm); files made by fopen,
// creat or mkdirat, and dup2/dup3/close_range over a tracked descriptor number (these can hide
// a loss). rename is not modelled. Nothing under test does any of these to its store.
// Known approximations, each a false alarm at worst: a write a SIGKILL catches between the
// kernel's return and its record is dropped from the record (the next process's syncs cannot
// bring it back); a truncation is kept or dropped on its own, not in order with the writes to
// its sector; an O_DSYNC write does not carry earlier unsynced bytes of its sector with it.
// Without LIAISON_POWER_LOSS_DIR and LIAISON_POWER_LOSS_STATE it only forwards.
//
// Thread-safety: every tracked operation runs under one mutex, so a file's journal holds its
// changes in the order the kernel applied them; calls on untracked descriptors take no lock.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
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

void* Next(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "power-loss shim: no next definition of %s\n", name);
    std::abort();
  }
  return symbol;
}

// The next definitions, resolved once, before any lock of this library is taken.
struct Reals {
  int (*openat)(int, const char*, int, ...) = reinterpret_cast<int (*)(int, const char*, int, ...)>(Next("openat"));
  decltype(&::read) read = reinterpret_cast<decltype(&::read)>(Next("read"));
  decltype(&::write) write = reinterpret_cast<decltype(&::write)>(Next("write"));
  decltype(&::pwrite) pwrite = reinterpret_cast<decltype(&::pwrite)>(Next("pwrite"));
  decltype(&::writev) writev = reinterpret_cast<decltype(&::writev)>(Next("writev"));
  decltype(&::pwritev) pwritev = reinterpret_cast<decltype(&::pwritev)>(Next("pwritev"));
  decltype(&::ftruncate) ftruncate = reinterpret_cast<decltype(&::ftruncate)>(Next("ftruncate"));
  decltype(&::fsync) fsync = reinterpret_cast<decltype(&::fsync)>(Next("fsync"));
  decltype(&::fdatasync) fdatasync = reinterpret_cast<decltype(&::fdatasync)>(Next("fdatasync"));
  decltype(&::close) close = reinterpret_cast<decltype(&::close)>(Next("close"));
  decltype(&::mkdir) mkdir = reinterpret_cast<decltype(&::mkdir)>(Next("mkdir"));
  decltype(&::mmap) mmap = reinterpret_cast<decltype(&::mmap)>(Next("mmap"));
  decltype(&::dup) dup = reinterpret_cast<decltype(&::dup)>(Next("dup"));
  decltype(&::fallocate) fallocate = reinterpret_cast<decltype(&::fallocate)>(Next("fallocate"));
};
const Reals& Real() {
  static const Reals reals;
  return reals;
}

// Which descriptors are tracked, readable without the lock (set and cleared under it).
constexpr int kMaxDescriptors = 1 << 16;
std::array<std::atomic<bool>, kMaxDescriptors> g_tracked{};
bool Tracked(int fd) { return fd >= 0 && fd < kMaxDescriptors && g_tracked[fd].load(std::memory_order_acquire); }

[[noreturn]] void Refuse(const char* what, const std::string& path) {
  std::fprintf(stderr, "power-loss shim: %s of tracked file %s is not modelled\n", what, path.c_str());
  std::abort();
}

struct TrackedFile {
  std::string path;
  bool imaged = false;
  int journal_fd = -1;
  uint64_t journal_bytes = 0;
};

struct Descriptor {
  bool directory = false;
  bool dsync = false;  // opened with O_SYNC or O_DSYNC
  size_t file = 0;     // index into State::files_ when !directory
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

  // The canonical path `path` names relative to `dirfd`, whose parent exists; empty if none.
  static std::string CanonicalAt(int dirfd, const char* path) {
    std::string text(path);
    if (!text.empty() && text[0] != '/' && dirfd != AT_FDCWD) text = Canonical(dirfd) + "/" + text;
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    const size_t slash = text.find_last_of('/');
    const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : text.substr(0, slash);
    const std::string leaf = slash == std::string::npos ? text : text.substr(slash + 1);
    char buffer[PATH_MAX];
    if (realpath(parent.c_str(), buffer) == nullptr) return {};
    const std::string out(buffer);
    return out == "/" ? "/" + leaf : out + "/" + leaf;
  }
  // The canonical path of the existing file `path` names relative to `dirfd` (symbolic links
  // followed, the last one too); empty if none.
  static std::string ResolvedAt(int dirfd, const char* path) {
    std::string text(path);
    if (!text.empty() && text[0] != '/' && dirfd != AT_FDCWD) text = Canonical(dirfd) + "/" + text;
    char buffer[PATH_MAX];
    return realpath(text.c_str(), buffer) == nullptr ? std::string() : std::string(buffer);
  }
  bool IsTrackedFile(const std::string& path) const {
    return IsUnder(path, tracked_) && !EndsWith(path, "lock.mdb") && !EndsWith(path, "-lock");  // LMDB rebuilds its lock file
  }

  // Called with the mutex held, after a successful open that returned `fd`. `truncated`: the
  // open's O_TRUNC emptied a file that existed.
  void Opened(int fd, int flags, bool truncated) {
    const std::string path = Canonical(fd);
    struct stat st {};
    if (path.empty() || fstat(fd, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (path == tracked_ || IsUnder(tracked_, path) || IsUnder(path, tracked_)) Track(fd, Descriptor{true, false, 0, path});
      return;
    }
    if (!S_ISREG(st.st_mode) || (flags & O_ACCMODE) == O_RDONLY || !IsTrackedFile(path)) return;
    const Descriptor d{false, (flags & (O_SYNC | O_DSYNC)) != 0, FileIndex(path), path};
    Track(fd, d);
    if (truncated) Journal(d.file, RecordType::kTruncate, 0, nullptr, 0);
  }
  // Before a call that may create `path` (a file under the tracked directory, or it or a
  // directory under it): a "created" line, so that a kill between the creation and any later
  // line cannot make it look as if the path had been there before. The restore counts the line
  // only if the path exists.
  void MayCreate(const std::string& path, bool directory) {
    if (path.empty()) return;
    if (directory ? (path == tracked_ || IsUnder(path, tracked_)) : IsTrackedFile(path)) Event("created " + path);
  }
  const Descriptor* Find(int fd) const {
    auto it = descriptors_.find(fd);
    return it == descriptors_.end() ? nullptr : &it->second;
  }
  void Forget(int fd) {
    if (descriptors_.erase(fd) > 0) g_tracked[fd].store(false, std::memory_order_release);
  }
  void Journal(size_t index, RecordType type, uint64_t offset, const void* data, uint64_t length) {
    TrackedFile& file = files_[index];
    RecordHeader header{kRecordMagic, static_cast<uint32_t>(type), offset, length};
    std::string record(reinterpret_cast<const char*>(&header), sizeof header);
    if (length > 0) record.append(static_cast<const char*>(data), length);
    WriteAll(file.journal_fd, record.data(), record.size());  // one write: a kill rarely splits it
    file.journal_bytes += record.size();
  }
  uint64_t JournalBytes(size_t index) const { return files_[index].journal_bytes; }
  uint64_t events() const { return events_; }
  void Event(const std::string& text) {
    const std::string line = text + "\n";
    WriteAll(events_fd_, line.data(), line.size());
    ++events_;
  }
  // The file's index, recording its path and current content when first seen.
  size_t FileIndex(const std::string& path) {
    size_t index = 0;
    while (index < files_.size() && files_[index].path != path) ++index;
    if (index == files_.size()) {
      const std::string base = Base(index);
      const int path_fd = Real().openat(AT_FDCWD, (base + ".path").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (path_fd < 0) Fail("cannot write", base + ".path");
      WriteAll(path_fd, path.data(), path.size());
      Real().close(path_fd);
      files_.push_back(TrackedFile{path, false, OpenJournal(base), 0});
    }
    if (!files_[index].imaged) {
      CopyImage(path, Base(index));
      files_[index].imaged = true;
    }
    return index;
  }

 private:
  State() {
    const char* dir = std::getenv("LIAISON_POWER_LOSS_DIR");
    const char* state = std::getenv("LIAISON_POWER_LOSS_STATE");
    if (dir == nullptr || state == nullptr) return;
    tracked_ = CanonicalAt(AT_FDCWD, dir);
    state_ = state;
    if (tracked_.empty()) Fail("cannot resolve LIAISON_POWER_LOSS_DIR", dir);
    Real().mkdir((state_ + "/files").c_str(), 0755);
    LoadRecord();
    events_fd_ = Real().openat(AT_FDCWD, (state_ + "/events").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = Real().write(fd, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) Fail("cannot write the record", "");
      p += n;
      size -= static_cast<size_t>(n);
    }
  }
  static std::string ReadWhole(const std::string& path) {
    std::string out;
    const int fd = Real().openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    std::vector<char> buffer(1 << 20);
    while (true) {
      const ssize_t n = Real().read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail("cannot read", path);
      if (n == 0) break;
      out.append(buffer.data(), static_cast<size_t>(n));
    }
    Real().close(fd);
    return out;
  }
  std::string Base(size_t index) const { return state_ + "/files/" + std::to_string(index); }
  int OpenJournal(const std::string& base) {
    const int fd = Real().openat(AT_FDCWD, (base + ".journal").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) Fail("cannot open", base + ".journal");
    return fd;
  }
  void CopyImage(const std::string& path, const std::string& base) {
    const std::string content = ReadWhole(path);
    const int out = Real().openat(AT_FDCWD, (base + ".image.tmp").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) Fail("cannot copy the first image of", path);
    WriteAll(out, content.data(), content.size());
    Real().close(out);
    if (::rename((base + ".image.tmp").c_str(), (base + ".image").c_str()) != 0) Fail("cannot rename", base);
  }
  // Goes on with the record an earlier process left (it crashed; no restore followed). A last
  // record or event line the crash cut short is cut off, so that new ones follow whole ones.
  void LoadRecord() {
    for (size_t index = 0;; ++index) {
      const std::string base = Base(index);
      if (access((base + ".path").c_str(), F_OK) != 0) break;
      TrackedFile file;
      file.path = ReadWhole(base + ".path");
      file.imaged = access((base + ".image").c_str(), F_OK) == 0;
      const std::string journal = ReadWhole(base + ".journal");
      size_t whole = 0;
      while (journal.size() - whole >= sizeof(RecordHeader)) {
        RecordHeader header{};
        std::memcpy(&header, journal.data() + whole, sizeof header);
        if (header.magic != kRecordMagic || header.length > journal.size() - whole - sizeof header) break;
        whole += sizeof header + header.length;
      }
      if (whole != journal.size() && ::truncate((base + ".journal").c_str(), static_cast<off_t>(whole)) != 0) {
        Fail("cannot cut the torn end of", base + ".journal");
      }
      file.journal_fd = OpenJournal(base);
      file.journal_bytes = whole;
      files_.push_back(std::move(file));
    }
    const std::string events = ReadWhole(state_ + "/events");
    const size_t whole = events.rfind('\n') == std::string::npos ? 0 : events.rfind('\n') + 1;
    if (whole != events.size() && ::truncate((state_ + "/events").c_str(), static_cast<off_t>(whole)) != 0) {
      Fail("cannot cut the torn end of", state_ + "/events");
    }
    for (size_t i = 0; i < whole; ++i) events_ += events[i] == '\n' ? 1 : 0;
  }
  void Track(int fd, Descriptor d) {
    if (fd >= kMaxDescriptors) Refuse("a descriptor number this high", d.path);
    descriptors_[fd] = std::move(d);
    g_tracked[fd].store(true, std::memory_order_release);
  }

  bool enabled_ = false;
  std::string tracked_, state_;
  int events_fd_ = -1;
  uint64_t events_ = 0;  // lines in the events file
  std::mutex mutex_;
  std::vector<TrackedFile> files_;
  std::unordered_map<int, Descriptor> descriptors_;
};

mode_t ModeArgument(int flags, va_list args) {
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) return static_cast<mode_t>(va_arg(args, int));
  return 0;
}

int OpenTracked(int dirfd, const char* path, int flags, mode_t mode) {
  const Reals& real = Real();
  State& state = State::Get();
  if (!state.enabled()) return real.openat(dirfd, path, flags, mode);
  std::lock_guard lock(state.mutex());
  struct stat st {};
  const bool existed = fstatat(dirfd, path, &st, 0) == 0;
  const bool truncates = existed && (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY && S_ISREG(st.st_mode);
  if (truncates) {
    // The content the truncation throws away was what the disk held: record it first.
    const std::string canonical = State::ResolvedAt(dirfd, path);
    if (state.IsTrackedFile(canonical)) state.FileIndex(canonical);
  }
  if (!existed && (flags & O_CREAT) != 0) state.MayCreate(State::CanonicalAt(dirfd, path), false);
  const int fd = real.openat(dirfd, path, flags, mode);
  if (fd >= 0) state.Opened(fd, flags, truncates);
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

// Runs `call`, a write to `fd` at `offset` (-1: the file position) returning the bytes written,
// and records what it wrote; `bytes` gives them from that count.
template <typename Call, typename Bytes>
ssize_t WriteTracked(int fd, off_t offset, Call call, Bytes bytes) {
  State& state = State::Get();
  std::lock_guard lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr) return call();
  const off_t at = offset >= 0 ? offset : PositionOf(fd);
  const ssize_t n = call();
  if (n > 0) {
    const std::vector<char> written = bytes(static_cast<size_t>(n));
    state.Journal(d->file, WriteType(*d), static_cast<uint64_t>(at), written.data(), written.size());
  }
  return n;
}

template <typename Call>
int SyncTracked(int fd, Call call) {
  State& state = State::Get();
  uint64_t covered = 0;
  bool directory = false;
  size_t file = 0;
  std::string path;
  {
    std::lock_guard lock(state.mutex());
    const Descriptor* d = state.Find(fd);
    if (d == nullptr) return call();
    directory = d->directory;
    file = d->file;
    path = d->path;
    covered = directory ? state.events() : state.JournalBytes(file);
  }
  const int rc = call();
  if (rc != 0) return rc;
  std::lock_guard lock(state.mutex());
  const Descriptor* d = state.Find(fd);
  if (d == nullptr || d->directory != directory || d->file != file || d->path != path) return rc;  // closed and reused
  if (directory) state.Event("dirsync " + std::to_string(covered) + " " + path);
  else state.Journal(file, RecordType::kSync, covered, nullptr, 0);
  return rc;
}

}  // namespace

// Exported whatever the build's default visibility: the dynamic linker must see them first.
#define LIAISON_PRELOAD_EXPORT extern "C" __attribute__((visibility("default")))

#define LIAISON_OPEN_WRAPPER(name)                                    \
  LIAISON_PRELOAD_EXPORT int name(const char* path, int flags, ...) { \
    va_list args;                                                     \
    va_start(args, flags);                                            \
    const mode_t mode = ModeArgument(flags, args);                    \
    va_end(args);                                                     \
    return OpenTracked(AT_FDCWD, path, flags, mode);                  \
  }
#define LIAISON_OPENAT_WRAPPER(name)                                             \
  LIAISON_PRELOAD_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    va_list args;                                                                \
    va_start(args, flags);                                                       \
    const mode_t mode = ModeArgument(flags, args);                               \
    va_end(args);                                                                \
    return OpenTracked(dirfd, path, flags, mode);                                \
  }
LIAISON_OPEN_WRAPPER(open)
LIAISON_OPEN_WRAPPER(open64)
LIAISON_OPENAT_WRAPPER(openat)
LIAISON_OPENAT_WRAPPER(openat64)
// The _FORTIFY_SOURCE entry points (no mode: they are used only without O_CREAT).
LIAISON_PRELOAD_EXPORT int __open_2(const char* path, int flags) { return OpenTracked(AT_FDCWD, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __open64_2(const char* path, int flags) { return OpenTracked(AT_FDCWD, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __openat_2(int dirfd, const char* path, int flags) { return OpenTracked(dirfd, path, flags, 0); }
LIAISON_PRELOAD_EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return OpenTracked(dirfd, path, flags, 0); }

LIAISON_PRELOAD_EXPORT int mkdir(const char* path, mode_t mode) {
  const Reals& real = Real();
  State& state = State::Get();
  if (!state.enabled()) return real.mkdir(path, mode);
  std::lock_guard lock(state.mutex());
  struct stat st {};
  if (stat(path, &st) != 0) state.MayCreate(State::CanonicalAt(AT_FDCWD, path), true);
  return real.mkdir(path, mode);
}

LIAISON_PRELOAD_EXPORT ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.pwrite(fd, data, size, offset);
  return WriteTracked(
      fd, offset, [&] { return real.pwrite(fd, data, size, offset); },
      [&](size_t n) { return std::vector<char>(static_cast<const char*>(data), static_cast<const char*>(data) + n); });
}
LIAISON_PRELOAD_EXPORT ssize_t pwrite64(int fd, const void* data, size_t size, off_t offset) {
  return pwrite(fd, data, size, offset);
}

LIAISON_PRELOAD_EXPORT ssize_t write(int fd, const void* data, size_t size) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.write(fd, data, size);
  return WriteTracked(
      fd, -1, [&] { return real.write(fd, data, size); },
      [&](size_t n) { return std::vector<char>(static_cast<const char*>(data), static_cast<const char*>(data) + n); });
}

LIAISON_PRELOAD_EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.writev(fd, iov, count);
  return WriteTracked(
      fd, -1, [&] { return real.writev(fd, iov, count); }, [&](size_t n) { return Gather(iov, count, n); });
}

LIAISON_PRELOAD_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.pwritev(fd, iov, count, offset);
  return WriteTracked(
      fd, offset, [&] { return real.pwritev(fd, iov, count, offset); }, [&](size_t n) { return Gather(iov, count, n); });
}
LIAISON_PRELOAD_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off_t offset) {
  return pwritev(fd, iov, count, offset);
}

LIAISON_PRELOAD_EXPORT int ftruncate(int fd, off_t length) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.ftruncate(fd, length);
  State& state = State::Get();
  std::lock_guard lock(state.mutex());
  const int rc = real.ftruncate(fd, length);
  const Descriptor* d = state.Find(fd);
  if (rc == 0 && d != nullptr && !d->directory) {
    state.Journal(d->file, RecordType::kTruncate, static_cast<uint64_t>(length), nullptr, 0);
  }
  return rc;
}
LIAISON_PRELOAD_EXPORT int ftruncate64(int fd, off_t length) { return ftruncate(fd, length); }

LIAISON_PRELOAD_EXPORT int fsync(int fd) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.fsync(fd);
  return SyncTracked(fd, [&] { return real.fsync(fd); });
}
LIAISON_PRELOAD_EXPORT int fdatasync(int fd) {
  const Reals& real = Real();
  if (!Tracked(fd)) return real.fdatasync(fd);
  return SyncTracked(fd, [&] { return real.fdatasync(fd); });
}

LIAISON_PRELOAD_EXPORT int close(int fd) {
  const Reals& real = Real();
  if (Tracked(fd)) {
    State& state = State::Get();
    std::lock_guard lock(state.mutex());
    state.Forget(fd);
  }
  return real.close(fd);
}

LIAISON_PRELOAD_EXPORT void* mmap(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
  const Reals& real = Real();
  if ((prot & PROT_WRITE) != 0 && (flags & MAP_SHARED) != 0 && Tracked(fd)) {
    State& state = State::Get();
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("a writable shared mapping", d->path);
  }
  return real.mmap(address, length, prot, flags, fd, offset);
}
LIAISON_PRELOAD_EXPORT void* mmap64(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
  return mmap(address, length, prot, flags, fd, offset);
}

LIAISON_PRELOAD_EXPORT int dup(int fd) {
  const Reals& real = Real();
  if (Tracked(fd)) {
    State& state = State::Get();
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("dup", d->path);
  }
  return real.dup(fd);
}

LIAISON_PRELOAD_EXPORT int fallocate(int fd, int mode, off_t offset, off_t length) {
  const Reals& real = Real();
  if (Tracked(fd)) {
    State& state = State::Get();
    std::lock_guard lock(state.mutex());
    if (const Descriptor* d = state.Find(fd)) Refuse("fallocate", d->path);
  }
  return real.fallocate(fd, mode, offset, length);
}
