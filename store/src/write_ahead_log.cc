#include "store/write_ahead_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/file_util.h"

namespace liaison::store {

namespace {

constexpr uint32_t kMagic = 0x4c574c31;  // "LWL1"
constexpr size_t kHeaderBytes = 24;      // magic, length, epoch, sequence
constexpr size_t kTagBytes = 16;
constexpr size_t kOverheadBytes = kHeaderBytes + kTagBytes;
constexpr uint32_t kMaxPayloadBytes = 256u << 20;  // bounds what Scan() reads for one record
constexpr uint64_t kBlockBytes = 4096;             // records begin on these boundaries

uint64_t RoundUp(uint64_t n) { return (n + kBlockBytes - 1) / kBlockBytes * kBlockBytes; }

Status Errno(const std::string& what) { return Status::Error(Code::kIoError, what + ": " + std::strerror(errno)); }

// The tag: XXH3-128 of the header and the payload, big-endian. A checksum against torn, stale
// and damaged records, not an authenticator (what keeps a client's bytes from passing for a
// record is the epoch, which it cannot know); it runs at about 14 GB/s here against BLAKE2b's
// 0.8, and it is computed on the commit's critical path.
class Tag {
 public:
  Tag() : state_(XXH3_createState()) {
    if (state_ != nullptr) XXH3_128bits_reset(state_);
  }
  ~Tag() { XXH3_freeState(state_); }
  Tag(const Tag&) = delete;
  Tag& operator=(const Tag&) = delete;
  bool ok() const { return state_ != nullptr; }
  void Update(const uint8_t* data, size_t size) { XXH3_128bits_update(state_, data, size); }
  void Final(uint8_t* out) const {
    const XXH128_hash_t hash = XXH3_128bits_digest(state_);
    PutBigEndian64(hash.high64, out);
    PutBigEndian64(hash.low64, out + 8);
  }

 private:
  XXH3_state_t* state_;
};

}  // namespace

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const std::string& path, uint64_t bytes) {
  if (sodium_init() < 0) return Status::Error(Code::kInternal, "sodium_init failed");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open " + path);
  std::unique_ptr<WriteAheadLog> log(new WriteAheadLog(fd, path, 0));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("stat " + path);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < bytes) {
    // Written in full, so that an append's fdatasync writes only the record, not the file's size.
    const Bytes zeros(1 << 20, 0);
    for (uint64_t at = size; at < bytes;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes - at));
      LIAISON_RETURN_IF_ERROR(WriteAt(fd, zeros.data(), n, at, path));
      at += n;
    }
  }
  if (::fsync(fd) != 0) return Errno("fsync " + path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  LIAISON_RETURN_IF_ERROR(SyncDirectory(dir.empty() ? "." : dir));
  log->capacity_ = std::max(size, bytes) / kBlockBytes * kBlockBytes;
  // Appends bypass the page cache where the file system allows it: a buffered write dirties
  // whole folios, which on this kernel can be 1 MiB for a file written in large pieces, and the
  // fdatasync then writes all of them (1.08 MB of writes per 36 KB record, measured).
  log->append_fd_ = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (log->append_fd_ < 0 && errno != EINVAL) return Errno("open " + path + " for direct writes");
  if (log->append_fd_ < 0) log->append_fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // tmpfs and the like
  if (log->append_fd_ < 0) return Errno("open " + path);
  // The zero fill's cached pages would only be invalidated by the first direct write to each.
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  return log;
}

WriteAheadLog::~WriteAheadLog() {
  if (append_fd_ >= 0) ::close(append_fd_);
  ::close(fd_);
  std::free(buffer_);
}

Result<std::vector<Bytes>> WriteAheadLog::Scan(uint64_t epoch) {
  std::vector<Bytes> payloads;
  uint64_t offset = 0, sequence = 0;
  uint8_t head[kOverheadBytes];
  while (capacity_ - offset >= kOverheadBytes) {
    LIAISON_ASSIGN_OR_RETURN(const bool whole, ReadAt(fd_, head, kOverheadBytes, offset, path_));
    if (!whole) break;
    const uint32_t magic = GetBigEndian32(head), length = GetBigEndian32(head + 4);
    if (magic != kMagic || GetBigEndian64(head + 8) != epoch || GetBigEndian64(head + 16) != sequence + 1 ||
        length > kMaxPayloadBytes || length > capacity_ - offset - kOverheadBytes) {
      break;
    }
    // The tag is checked in pieces before the payload is held whole: a damaged length costs a
    // read, not an allocation.
    Tag state;
    if (!state.ok()) return Status::Error(Code::kInternal, "XXH3_createState failed");
    state.Update(head, kHeaderBytes);
    uint8_t piece[1 << 16];
    bool read_whole = true;
    for (uint64_t done = 0; done < length && read_whole;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof piece, length - done));
      LIAISON_ASSIGN_OR_RETURN(read_whole, ReadAt(fd_, piece, n, offset + kOverheadBytes + done, path_));
      if (read_whole) state.Update(piece, n);
      done += n;
    }
    uint8_t tag[kTagBytes];
    state.Final(tag);
    if (!read_whole || sodium_memcmp(tag, head + kHeaderBytes, kTagBytes) != 0) break;  // torn, or not a record
    Bytes payload(length);
    LIAISON_ASSIGN_OR_RETURN(const bool again, ReadAt(fd_, payload.data(), length, offset + kOverheadBytes, path_));
    if (!again) break;
    payloads.push_back(std::move(payload));
    offset = RoundUp(offset + kOverheadBytes + length);
    ++sequence;
  }
  epoch_ = epoch;
  sequence_ = sequence;
  offset_ = offset;
  can_retract_ = false;
  positioned_ = true;  // failed_ stays: after a failed sync the page cache is not the disk
  return payloads;
}

uint64_t WriteAheadLog::Reset() {
  uint64_t epoch = 0;
  while (epoch == 0) randombytes_buf(&epoch, sizeof epoch);
  ResetTo(epoch);
  return epoch;
}

void WriteAheadLog::ResetTo(uint64_t epoch) {
  epoch_ = epoch;
  sequence_ = 0;
  offset_ = 0;
  positioned_ = true;
  failed_ = false;
  can_retract_ = false;
}

Status WriteAheadLog::Append(ByteView payload) {
  if (!positioned_ || failed_) {
    return Status::Error(Code::kInvalidArgument, failed_ ? "an append to the log failed: nothing more until a Reset()"
                                                         : "Scan() or Reset() the log before appending");
  }
  if (payload.size() > kMaxPayloadBytes || RoundUp(kOverheadBytes + payload.size()) > capacity_ - offset_) {
    return Status::Error(Code::kStoreFull, "the log " + path_ + " has no room for a record of " +
                                               std::to_string(payload.size()) + " bytes");
  }
  const size_t size = static_cast<size_t>(RoundUp(kOverheadBytes + payload.size()));
  if (size > buffer_bytes_) {
    std::free(buffer_);
    buffer_bytes_ = 0;
    buffer_ = static_cast<uint8_t*>(std::aligned_alloc(kBlockBytes, size));  // O_DIRECT's alignment
    if (buffer_ == nullptr) return Status::Error(Code::kInternal, "no memory for a log record of " + std::to_string(size) + " bytes");
    buffer_bytes_ = size;
  }
  uint8_t* record = buffer_;
  PutBigEndian32(kMagic, record);
  PutBigEndian32(static_cast<uint32_t>(payload.size()), record + 4);
  PutBigEndian64(epoch_, record + 8);
  PutBigEndian64(sequence_ + 1, record + 16);
  Tag tag;
  if (!tag.ok()) return Status::Error(Code::kInternal, "XXH3_createState failed");
  tag.Update(record, kHeaderBytes);
  tag.Update(payload.data(), payload.size());
  tag.Final(record + kHeaderBytes);
  if (!payload.empty()) std::memcpy(record + kOverheadBytes, payload.data(), payload.size());
  std::memset(record + kOverheadBytes + payload.size(), 0, size - kOverheadBytes - payload.size());
  LIAISON_RETURN_IF_ERROR(WriteDurably(record, size, offset_));
  last_offset_ = offset_;
  can_retract_ = true;
  offset_ += size;
  ++sequence_;
  return Status::Ok();
}

Status WriteAheadLog::WriteDurably(const uint8_t* data, size_t size, uint64_t offset) {
  Status written = WriteAt(append_fd_, data, size, offset, path_);
  if (written.ok() && ::fdatasync(append_fd_) != 0) written = Errno("fdatasync " + path_);
  if (!written.ok()) failed_ = true;
  return written;
}

Status WriteAheadLog::RetractLast() {
  if (failed_ || !can_retract_) return Status::Error(Code::kInvalidArgument, "no appended record to retract");
  std::memset(buffer_, 0, kBlockBytes);  // Append left the buffer at least a block long
  LIAISON_RETURN_IF_ERROR(WriteDurably(buffer_, kBlockBytes, last_offset_));
  offset_ = last_offset_;
  --sequence_;
  can_retract_ = false;
  return Status::Ok();
}

}  // namespace liaison::store
