// The log file of a write-ahead log in front of LMDB (docs/performance.md, next step 1): records
// appended one at a time, each made durable by one fdatasync before Append returns, into a file
// written in full when it was created, so that a sync has only the record's sectors to write.
// store/commit_log.h puts two of them in front of an LMDB environment.
//
// A record: u32be magic | u32be payload length | u64be epoch | u64be sequence (1, 2, ... within
// an epoch) | 16-byte XXH3-128 of the 24 bytes before it and the payload | payload | zeros up to
// the next multiple of 4096 bytes, where the next record begins. Appends are O_DIRECT where the
// file system allows (one block-aligned write, then fdatasync): no page-cache folio larger than
// the record is written, and no append rewrites a block that holds an earlier record. Reset() starts
// a new epoch, a random 64-bit number, at the file's beginning; what older epochs left further on
// is never read again, since Scan() stops at the first record that is not the next of its epoch
// (a torn record, an older epoch's, the zeros of a fresh file). The epoch being random and kept
// on disk only, bytes a client chose inside an older record's payload cannot pass for a record
// of a later epoch.
//
// The contract with its user: Reset() a file only once no recovery can need its records, since
// the first Append after it overwrites the older epoch's first record, even if that write is
// torn. store/commit_log.cc keeps it: a file is reset when a checkpoint begins, and only after the
// checkpoint before, which covers everything that file held, was durable.
//
// Thread-safety: none; one writer.
#ifndef LIAISON_STORE_WRITE_AHEAD_LOG_H_
#define LIAISON_STORE_WRITE_AHEAD_LOG_H_

#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::store {

class WriteAheadLog {
 public:
  // Opens the log at `path`, creating it at `bytes` (zeros) if it is missing or shorter, then
  // fsyncs it and its directory (also when it existed: an earlier process may have crashed before
  // doing so). Appends go after Scan() or Reset(), whichever is called first. kIoError on a file
  // operation's failure.
  static Result<std::unique_ptr<WriteAheadLog>> Open(const std::string& path, uint64_t bytes);
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // The payloads of `epoch`'s records, in order, from the file's beginning up to the first that
  // is not the next of that epoch; later appends go after the last of them. kIoError if a read
  // fails (then nothing may be appended).
  Result<std::vector<Bytes>> Scan(uint64_t epoch);
  // Starts a new epoch, a random number it returns, at the file's beginning (see the contract
  // above); appending is allowed again after a failed Append.
  uint64_t Reset();
  // The same with a chosen epoch: store/commit_log.h gives the file after a checkpoint the epoch
  // that follows the one before, so that a recovery can find it without a durable checkpoint.
  void ResetTo(uint64_t epoch);
  // Appends one record and fdatasyncs it. kStoreFull if it does not fit in the file's rest (a
  // checkpoint and Reset() make room), kInvalidArgument before Scan() or Reset(). kIoError if the
  // write or the sync fails: the record may or may not be durable, and after a failed fdatasync
  // the page cache may hold what the disk does not, so nothing more is appended until a Reset()
  // after a durable checkpoint (the process should stop).
  Status Append(ByteView payload);

  // Undoes the last Append of this epoch, whose transaction did not commit: zeros its first
  // block (so that Scan stops before it) and fdatasyncs. kInvalidArgument if there is none (only
  // the last one can be retracted); kIoError as Append's, after which nothing more is appended.
  // A power cut before it returns may leave the record in place.
  Status RetractLast();

  uint64_t epoch() const { return epoch_; }
  uint64_t next_sequence() const { return sequence_ + 1; }
  uint64_t used_bytes() const { return offset_; }
  uint64_t capacity_bytes() const { return capacity_; }

 private:
  // Writes through append_fd_ and fdatasyncs; on failure marks the log failed.
  Status WriteDurably(const uint8_t* data, size_t size, uint64_t offset);
  WriteAheadLog(int fd, std::string path, uint64_t capacity) : fd_(fd), path_(std::move(path)), capacity_(capacity) {}
  int fd_;              // reads, and the zero fill
  int append_fd_ = -1;  // O_DIRECT where the file system has it
  uint8_t* buffer_ = nullptr;  // the record being appended, block-aligned; reused
  size_t buffer_bytes_ = 0;
  std::string path_;
  uint64_t capacity_;
  bool positioned_ = false;  // Scan() or Reset() has run
  bool failed_ = false;      // an Append failed: the tail is unknown
  uint64_t epoch_ = 0;
  uint64_t sequence_ = 0;  // of the last record of epoch_
  uint64_t offset_ = 0;    // where the next record goes
  uint64_t last_offset_ = 0;  // where the last appended record began
  bool can_retract_ = false;  // the last operation was an Append
};

}  // namespace liaison::store

#endif  // LIAISON_STORE_WRITE_AHEAD_LOG_H_
