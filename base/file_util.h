// Small file helpers with explicit durability.
#ifndef LIAISON_BASE_FILE_UTIL_H_
#define LIAISON_BASE_FILE_UTIL_H_

#include <string>
#include <sys/types.h>

#include "liaison/status.h"

namespace liaison {

// Writes `content` to `path` through a temporary file that is fsync'd, given `mode`, and renamed
// over `path`; then fsyncs the directory. Readers see the old or the new file, never a mix.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode);

// fsyncs the directory `dir`, so that the entries created, renamed or removed in it last through
// a power loss. kIoError, naming the directory, if it cannot be opened or synced.
Status SyncDirectory(const std::string& dir);

// Creates `dir` and any missing parents, then fsyncs every directory above it (the real path:
// links and ".." resolved) up to the root of its file system, so that the whole path outlives
// a power loss, also when an earlier process created part of it and crashed before syncing. As
// PostgreSQL does, a directory above `dir` that this process may not read (EACCES) or whose file
// system does not sync directories (EINVAL) is passed over. kIoError, naming the directory, on
// any other failure. OK if `dir` already exists.
Status CreateDirectoriesDurably(const std::string& dir);

// Reads a whole file of at most `max_bytes`. kNotFound if absent, kTooLarge if longer.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 1 << 20);

// Reads exactly `size` bytes at `offset` of the open file `fd` (pread, retried on EINTR and short
// reads): true, or false if the file ends first. kIoError naming `path` if a read fails.
Result<bool> ReadAt(int fd, uint8_t* out, size_t size, uint64_t offset, const std::string& path);
// Writes all `size` bytes at `offset` (pwrite, retried likewise). kIoError naming `path`.
Status WriteAt(int fd, const uint8_t* data, size_t size, uint64_t offset, const std::string& path);

}  // namespace liaison

#endif  // LIAISON_BASE_FILE_UTIL_H_
