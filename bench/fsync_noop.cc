// DIAGNOSTIC ONLY, never under a relay that holds data anyone needs: an LD_PRELOAD library that
// takes the disk's sync out of the relay's commits. fsync and fdatasync return at once without
// syncing, and open() drops O_SYNC/O_DSYNC (LMDB writes each commit's meta page through a
// descriptor opened with O_DSYNC). bench/run.sh runs workload A once with it under the relay
// (liaison-bench's LIAISON_BENCH_RELAY_PRELOAD), so that the table shows what the durable
// commits cost end to end: A with them against A without them.
#include <dlfcn.h>
#include <fcntl.h>

#include <cstdarg>

namespace {

using OpenFunction = int (*)(const char*, int, ...);

int OpenWithoutSync(const char* name, const char* path, int flags, va_list args) {
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) mode = static_cast<mode_t>(va_arg(args, int));
  auto real = reinterpret_cast<OpenFunction>(dlsym(RTLD_NEXT, name));
  return real(path, flags & ~(O_SYNC | O_DSYNC), mode);
}

}  // namespace

// Exported whatever the build's default visibility: the dynamic linker must see them first.
#define LIAISON_PRELOAD_EXPORT extern "C" __attribute__((visibility("default")))

LIAISON_PRELOAD_EXPORT int fsync(int) { return 0; }
LIAISON_PRELOAD_EXPORT int fdatasync(int) { return 0; }

LIAISON_PRELOAD_EXPORT int open(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = OpenWithoutSync("open", path, flags, args);
  va_end(args);
  return fd;
}

LIAISON_PRELOAD_EXPORT int open64(const char* path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  const int fd = OpenWithoutSync("open64", path, flags, args);
  va_end(args);
  return fd;
}
