#include "store/commit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file_util.h"
#include "store/effects.h"
#include "store/lmdb.h"

namespace liaison::store {

namespace {

// A checkpoint slot, at slot_index * kSlotStride of the checkpoint file: u32be magic | u32be page
// size | u64be counter | u32be log file | u32be 0 | u64be epoch | u64be LMDB transaction id of the
// snapshot | the two meta pages | 16-byte BLAKE2b of everything before it.
constexpr uint32_t kSlotMagic = 0x4c434b32;  // "LCK2"
constexpr size_t kSlotHeaderBytes = 40;
constexpr size_t kSlotTagBytes = 16;
constexpr size_t kMaxPageBytes = 1 << 16;
constexpr size_t kSlotStride = 2 * kMaxPageBytes + 4096;

Status Errno(const std::string& what) { return Status::Error(Code::kIoError, what + ": " + std::strerror(errno)); }

void SlotTag(ByteView covered, uint8_t* out) {
  crypto_generichash(out, kSlotTagBytes, covered.data(), covered.size(), nullptr, 0);
}

// Reads slot `index`; nullopt if it does not check (never written, torn, or damaged).
Result<std::optional<CheckpointSlot>> ReadSlot(int fd, int index, const std::string& path) {
  uint8_t head[kSlotHeaderBytes];
  const uint64_t at = static_cast<uint64_t>(index) * kSlotStride;
  LIAISON_ASSIGN_OR_RETURN(const bool whole, ReadAt(fd, head, sizeof head, at, path));
  if (!whole || GetBigEndian32(head) != kSlotMagic) return std::optional<CheckpointSlot>();
  const uint32_t page = GetBigEndian32(head + 4);
  if (page < 512 || page > kMaxPageBytes || (page & (page - 1)) != 0) return std::optional<CheckpointSlot>();
  Bytes covered(kSlotHeaderBytes + 2 * size_t{page} + kSlotTagBytes);
  LIAISON_ASSIGN_OR_RETURN(const bool all, ReadAt(fd, covered.data(), covered.size(), at, path));
  if (!all) return std::optional<CheckpointSlot>();
  uint8_t tag[kSlotTagBytes];
  const size_t tagged = covered.size() - kSlotTagBytes;
  SlotTag(ByteView(covered.data(), tagged), tag);
  if (sodium_memcmp(tag, covered.data() + tagged, kSlotTagBytes) != 0) return std::optional<CheckpointSlot>();
  CheckpointSlot slot{GetBigEndian64(head + 8), GetBigEndian32(head + 16), GetBigEndian64(head + 24),
                      GetBigEndian64(head + 32),
                      Bytes(covered.begin() + kSlotHeaderBytes, covered.begin() + static_cast<std::ptrdiff_t>(tagged))};
  if (slot.file > 1) return std::optional<CheckpointSlot>();
  return std::optional<CheckpointSlot>(std::move(slot));
}

Bytes EncodeSlot(const CheckpointSlot& slot) {
  Bytes out(kSlotHeaderBytes + slot.meta_pages.size() + kSlotTagBytes);
  PutBigEndian32(kSlotMagic, out.data());
  PutBigEndian32(static_cast<uint32_t>(slot.meta_pages.size() / 2), out.data() + 4);
  PutBigEndian64(slot.counter, out.data() + 8);
  PutBigEndian32(slot.file, out.data() + 16);
  PutBigEndian32(0, out.data() + 20);
  PutBigEndian64(slot.epoch, out.data() + 24);
  PutBigEndian64(slot.txnid, out.data() + 32);
  std::memcpy(out.data() + kSlotHeaderBytes, slot.meta_pages.data(), slot.meta_pages.size());
  const size_t tagged = out.size() - kSlotTagBytes;
  SlotTag(ByteView(out.data(), tagged), out.data() + tagged);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string LogPath(const std::string& dir, uint32_t file) { return dir + "/log." + std::to_string(file); }

// kConflict if a process has the environment open, through this library or not (an LMDB tool):
// every LMDB opener holds at least a shared fcntl lock on the first byte of lock.mdb for as long
// as it has the environment open (mdb_env_excl_lock), so a write lock there would conflict.
Status RefuseIfLmdbOpenElsewhere(const std::string& dir) {
  const std::string path = dir + "/lock.mdb";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::Ok() : Errno("open " + path);
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 1;
  const int rc = ::fcntl(fd, F_GETLK, &probe);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return Status::Error(Code::kIoError, "probe the lock of " + path + ": " + std::strerror(error));
  if (probe.l_type != F_UNLCK) {
    return Status::Error(Code::kConflict, "the store " + dir + " is open in process " + std::to_string(probe.l_pid) +
                                              ": its checkpoint cannot be restored under it");
  }
  return Status::Ok();
}

}  // namespace

CommitLog::CommitLog(std::string dir, const CommitLogOptions& options) : dir_(std::move(dir)), options_(options) {}

Result<std::unique_ptr<CommitLog>> CommitLog::Prepare(const std::string& dir, const CommitLogOptions& options) {
  const std::string checkpoint = dir + "/checkpoint";
  const bool found = Exists(checkpoint);
  if (!options.enabled && !found) return std::unique_ptr<CommitLog>();
  if (sodium_init() < 0) return Status::Error(Code::kInternal, "sodium_init failed");
  if (options.enabled && (options.checkpoint_after_bytes == 0 || options.checkpoint_after_bytes >= options.file_bytes)) {
    return Status::Error(Code::kInvalidArgument, "the log's checkpoint_after_bytes must lie between 0 and its file_bytes");
  }
  std::unique_ptr<CommitLog> log(new CommitLog(dir, options));
  if (!found) return log;
  for (uint32_t file = 0; file < 2; ++file) {
    // Start() created both before the first checkpoint: a missing one held records.
    if (!Exists(LogPath(dir, file))) {
      return Status::Error(Code::kCorruption, "the store " + dir + " has a checkpoint but no " + LogPath(dir, file) +
                                                  ": what was committed after the checkpoint is missing");
    }
  }

  const int fd = ::open(checkpoint.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + checkpoint);
  std::optional<CheckpointSlot> newest;
  Status read;
  for (int index = 0; index < 2 && read.ok(); ++index) {
    auto slot = ReadSlot(fd, index, checkpoint);
    if (!slot.ok()) read = slot.status();
    else if (*slot && (!newest || (*slot)->counter > newest->counter)) newest = std::move(*slot);
  }
  ::close(fd);
  LIAISON_RETURN_IF_ERROR(read);
  if (!newest) {
    return Status::Error(Code::kCorruption, "the checkpoint file " + checkpoint +
                                                " has no valid slot: the store cannot be brought back to a checkpoint");
  }
  LIAISON_RETURN_IF_ERROR(RefuseIfLmdbOpenElsewhere(dir));
  // LMDB's data file rewound to the checkpoint's snapshot: its two meta pages as they were then.
  const std::string data = dir + "/data.mdb";
  const int data_fd = ::open(data.c_str(), O_RDWR | O_CLOEXEC);
  if (data_fd < 0) {
    if (errno == ENOENT) return Status::Error(Code::kCorruption, "the store " + dir + " has a checkpoint but no data.mdb");
    return Errno("open " + data);
  }
  Status restored = WriteAt(data_fd, newest->meta_pages.data(), newest->meta_pages.size(), 0, data);
  if (restored.ok() && ::fdatasync(data_fd) != 0) restored = Errno("fdatasync " + data);
  ::close(data_fd);
  LIAISON_RETURN_IF_ERROR(restored.WithContext("writing the checkpoint's meta pages back"));
  log->found_ = std::move(*newest);
  log->recovery_.checkpoint_found = true;
  return log;
}

CommitLog::~CommitLog() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  if (pending_ && pending_->pin != nullptr) mdb_txn_abort(pending_->pin);
  if (pin_ != nullptr) mdb_txn_abort(pin_);
  if (checkpoint_fd_ >= 0) ::close(checkpoint_fd_);
  if (data_fd_ >= 0) ::close(data_fd_);
}

Status CommitLog::Start(Env& env) {
  env_ = env.get();
  MDB_stat stat{};
  if (const int rc = mdb_env_stat(env_, &stat); rc != 0) return FromMdb(rc, "mdb_env_stat");
  page_size_ = stat.ms_psize;
  if (page_size_ > kMaxPageBytes) return Status::Error(Code::kInternal, "LMDB's page size is above 64 KiB");
  const std::string data = dir_ + "/data.mdb";
  data_fd_ = ::open(data.c_str(), O_RDONLY | O_CLOEXEC);
  if (data_fd_ < 0) return Errno("open " + data);
  for (uint32_t file = 0; file < 2; ++file) {
    // With the log off, the files are only read, then removed: opened at their size, not grown.
    LIAISON_ASSIGN_OR_RETURN(logs_[file], WriteAheadLog::Open(LogPath(dir_, file), options_.enabled ? options_.file_bytes : 0));
  }

  // While a found checkpoint is replayed and until the next is durable, its snapshot stays pinned.
  MDB_txn* recovery_pin = nullptr;
  if (found_) {
    if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &recovery_pin); rc != 0) {
      return FromMdb(rc, "pin the checkpoint's snapshot");
    }
    if (const uint64_t opened = mdb_txn_id(recovery_pin); opened != found_->txnid) {
      // A process that has the store open without this library (an LMDB tool) keeps LMDB's own
      // idea of the last transaction, whatever the meta pages now say: replaying would corrupt.
      mdb_txn_abort(recovery_pin);
      return Status::Error(Code::kConflict, "LMDB opened the store " + dir_ + " at transaction " + std::to_string(opened) +
                                                ", not at the checkpoint's " + std::to_string(found_->txnid) +
                                                ": another process has it open");
    }
    Status replayed = Replay(env);
    if (replayed.ok()) {
      if (const int rc = mdb_env_sync(env_, 1); rc != 0) replayed = FromMdb(rc, "sync the replayed store");
    }
    if (!replayed.ok()) {
      mdb_txn_abort(recovery_pin);
      mdb_env_set_flags(env_, MDB_NOSYNC, 0);
      return replayed;
    }
    counter_ = found_->counter;
  }
  if (!options_.enabled) {
    // The replayed state is durable: LMDB syncs its own commits again and the log is retired.
    mdb_env_set_flags(env_, MDB_NOSYNC, 0);
    Status removed = RemoveFiles();
    if (recovery_pin != nullptr) mdb_txn_abort(recovery_pin);
    return removed;
  }
  uint64_t epoch = 0;
  while (epoch == 0) randombytes_buf(&epoch, sizeof epoch);
  auto job = Capture(0, epoch);
  Status started = job.ok() ? Complete(std::move(*job)) : job.status();
  if (recovery_pin != nullptr) mdb_txn_abort(recovery_pin);
  LIAISON_RETURN_IF_ERROR(started.WithContext("the first checkpoint"));
  logs_[0]->ResetTo(epoch);
  current_ = 0;
  last_begun_ = std::chrono::steady_clock::now();
  if (const int rc = mdb_env_set_flags(env_, MDB_NOSYNC, 1); rc != 0) return FromMdb(rc, "set MDB_NOSYNC behind the log");
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

Status CommitLog::Replay(Env& env) {
  if (const int rc = mdb_env_set_flags(env_, MDB_NOSYNC, 1); rc != 0) return FromMdb(rc, "set MDB_NOSYNC for the replay");
  uint32_t file = found_->file;
  uint64_t epoch = found_->epoch;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(std::vector<Bytes> records, logs_[file]->Scan(epoch));
    if (records.empty()) break;
    ++recovery_.log_files_replayed;
    for (const Bytes& record : records) {
      const std::string which = "record " + std::to_string(recovery_.records_replayed + 1) + " of the log";
      LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(env));
      LIAISON_RETURN_IF_ERROR(ApplyEffects(txn, record).WithContext("replaying " + which));
      LIAISON_RETURN_IF_ERROR(txn.Commit().WithContext("replaying " + which));
      ++recovery_.records_replayed;
    }
    file = 1 - file;
    ++epoch;
  }
  return Status::Ok();
}

Status CommitLog::RemoveFiles() {
  // The checkpoint first, durably: a log file without it is never read, one with it is needed.
  const std::string checkpoint = dir_ + "/checkpoint";
  if (::unlink(checkpoint.c_str()) != 0 && errno != ENOENT) return Errno("remove " + checkpoint);
  LIAISON_RETURN_IF_ERROR(SyncDirectory(dir_));
  for (uint32_t file = 0; file < 2; ++file) {
    const std::string path = LogPath(dir_, file);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove " + path);
  }
  return SyncDirectory(dir_);
}

Result<CommitLog::Job> CommitLog::Capture(uint32_t file, uint64_t epoch) {
  Job job;
  if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &job.pin); rc != 0) {
    return FromMdb(rc, "pin the checkpoint's snapshot");
  }
  job.slot.file = file;
  job.slot.epoch = epoch;
  job.slot.txnid = mdb_txn_id(job.pin);
  job.slot.meta_pages.resize(2 * page_size_);
  auto read = ReadAt(data_fd_, job.slot.meta_pages.data(), job.slot.meta_pages.size(), 0, dir_ + "/data.mdb");
  if (!read.ok() || !*read) {
    mdb_txn_abort(job.pin);
    return read.ok() ? Status::Error(Code::kCorruption, "data.mdb is shorter than its two meta pages") : read.status();
  }
  return job;
}

Status CommitLog::Complete(Job job) {
  Status done;
  if (const int rc = mdb_env_sync(env_, 1); rc != 0) done = FromMdb(rc, "sync the data file for a checkpoint");
  if (done.ok()) {
    job.slot.counter = counter_ + 1;
    done = WriteSlot(job.slot);
  }
  if (!done.ok()) {
    mdb_txn_abort(job.pin);
    return done;
  }
  MDB_txn* released = nullptr;
  {
    std::lock_guard lock(mutex_);
    released = pin_;
    pin_ = job.pin;
    counter_ = job.slot.counter;
    ++completed_;
  }
  if (released != nullptr) mdb_txn_abort(released);
  return Status::Ok();
}

Status CommitLog::WriteSlot(const CheckpointSlot& slot) {
  const std::string path = dir_ + "/checkpoint";
  const Bytes encoded = EncodeSlot(slot);
  const uint64_t at = (slot.counter % 2) * kSlotStride;
  if (checkpoint_fd_ < 0) {
    const bool created = !Exists(path);
    if (created) {
      // The first: the file appears whole or not at all, so that a file without a valid slot is damage.
      std::string content(2 * kSlotStride, '\0');
      std::memcpy(content.data() + at, encoded.data(), encoded.size());
      LIAISON_RETURN_IF_ERROR(WriteFileAtomically(path, content, 0600));
    }
    checkpoint_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (checkpoint_fd_ < 0) return Errno("open " + path);
    if (created) return Status::Ok();
  }
  LIAISON_RETURN_IF_ERROR(WriteAt(checkpoint_fd_, encoded.data(), encoded.size(), at, path));
  if (::fdatasync(checkpoint_fd_) != 0) return Errno("fdatasync " + path);
  return Status::Ok();
}

Status CommitLog::BeginCheckpoint() {
  {
    // Resetting the other file is safe only after the checkpoint before completed, durably.
    std::lock_guard lock(mutex_);
    if (!failure_.ok()) return failure_;
    if (running_) return Status::Error(Code::kInternal, "a checkpoint began while another runs");
  }
  const uint32_t next = 1 - current_;
  const uint64_t epoch = logs_[current_]->epoch() + 1;
  LIAISON_ASSIGN_OR_RETURN(Job job, Capture(next, epoch));
  // The file's older records are covered by the checkpoint before, which is durable.
  logs_[next]->ResetTo(epoch);
  current_ = next;
  last_begun_ = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(job);
    running_ = true;
  }
  changed_.notify_all();
  return Status::Ok();
}

Status CommitLog::WaitForCheckpoint() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !running_; });
  return failure_;
}

void CommitLog::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto ready = [this] { return (pending_.has_value() && !options_.test_hold_checkpoints) || stopping_; };
    while (!ready()) {
      // Between checkpoints, LMDB's unsynced pages are sent to the disk a little at a time, so
      // that a checkpoint's sync (and a log append's flush behind it) does not find them all.
      if (changed_.wait_for(lock, std::chrono::milliseconds(5), ready)) break;
      lock.unlock();
      (void)::sync_file_range(data_fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      lock.lock();
    }
    if (stopping_ && options_.test_hold_checkpoints) return;
    if (!pending_) return;
    Job job = std::move(*pending_);
    pending_.reset();
    lock.unlock();
    Status done = Complete(std::move(job));
    lock.lock();
    if (!done.ok() && failure_.ok()) failure_ = done.WithContext("a checkpoint failed");
    running_ = false;
    changed_.notify_all();
  }
}

void CommitLog::Fail(Status why) {
  std::lock_guard lock(mutex_);
  if (failure_.ok()) failure_ = std::move(why);
}

Status CommitLog::Append(ByteView effects) {
  bool due = logs_[current_]->used_bytes() >= options_.checkpoint_after_bytes ||
             std::chrono::steady_clock::now() - last_begun_ >= std::chrono::microseconds(options_.checkpoint_interval_micros);
  {
    std::lock_guard lock(mutex_);
    LIAISON_RETURN_IF_ERROR(failure_.WithContext("the write-ahead log refuses writes until a restart"));
    if (running_) due = false;
  }
  // A checkpoint that cannot begin (no reader slot, a read error) has changed nothing: the
  // transaction is refused, and the next one tries again.
  if (due) LIAISON_RETURN_IF_ERROR(BeginCheckpoint().WithContext("beginning a checkpoint"));
  Status appended = logs_[current_]->Append(effects);
  if (appended.code() == Code::kStoreFull) {
    LIAISON_RETURN_IF_ERROR(WaitForCheckpoint().WithContext("the write-ahead log refuses writes until a restart"));
    if (logs_[current_]->used_bytes() > 0) LIAISON_RETURN_IF_ERROR(BeginCheckpoint().WithContext("beginning a checkpoint"));
    appended = logs_[current_]->Append(effects);
    if (appended.code() == Code::kStoreFull) {
      return Status::Error(Code::kStoreFull, "a transaction's effects (" + std::to_string(effects.size()) +
                                                 " bytes) do not fit in a log file of " +
                                                 std::to_string(options_.file_bytes) + " bytes");
    }
  }
  if (!appended.ok()) Fail(appended);
  return appended;
}

Status CommitLog::CheckpointNow() {
  LIAISON_RETURN_IF_ERROR(WaitForCheckpoint().WithContext("the write-ahead log refuses writes until a restart"));
  LIAISON_RETURN_IF_ERROR(BeginCheckpoint().WithContext("beginning a checkpoint"));
  return WaitForCheckpoint();
}

void CommitLog::CommitFailed(const Status& why) {
  // The transaction did not happen: its record must not be replayed.
  const Status retracted = logs_[current_]->RetractLast();
  if (!retracted.ok()) {
    Fail(Status::Error(Code::kIoError, "LMDB refused a commit (" + why.message() +
                                           ") whose record could not be taken back from the log (" +
                                           retracted.message() + "): only a restart's replay brings the two together again"));
  } else if (why.code() != Code::kStoreFull) {
    // Other failures may leave LMDB's environment unusable; a restart recovers from the log.
    Fail(Status::Error(Code::kIoError, "LMDB refused a commit (" + why.message() + "): restart the process"));
  }
}

uint64_t CommitLog::checkpoints_completed() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

}  // namespace liaison::store
