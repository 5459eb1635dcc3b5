// A write-ahead log in front of an LMDB environment (docs/performance.md, "the write-ahead
// log"): each write transaction's effects (store/effects.h) are appended to a preallocated log
// file and fdatasync'd before LMDB commits them with MDB_NOSYNC, so that a commit costs one
// device write instead of LMDB's two. Internal to store::Env (store/lmdb.h), which opens it.
//
// Files in the environment's directory: checkpoint (two slots), log.0 and log.1 (WriteAheadLog
// files, used in turn). store::Env holds a flock on liaison.lock there while it is open, so that no
// second opener through this library rewinds a live store.
//
// Checkpoints. When the current log file holds checkpoint_after_bytes, or checkpoint_interval
// passed since the last began, the next commit's hook
// (holding LMDB's writer lock, before its own commit) begins a read transaction, which pins the
// last committed snapshot S (LMDB reuses none of its pages while it lives), copies LMDB's two
// meta pages (which describe S), and switches to the other log file under the next epoch. A
// thread then syncs the data file (mdb_env_sync), writes the checkpoint (meta pages, file,
// epoch) to the older of the two slots and fdatasyncs it, and ends the previous checkpoint's
// pin. One checkpoint runs at a time; a log file that fills before it is done waits for it.
//
// Recovery (Open, when a checkpoint file exists, whether or not the log stays on): the newest
// valid slot's meta pages are written back over LMDB's two before mdb_env_open, which rewinds
// the data file to S whatever a power cut left of later pages; then the records of the slot's
// epoch in its file, and of each following epoch in the other file in turn, are applied, each
// in a transaction of its own, while a read transaction pins S (a crash during the replay
// rewinds to S again); then mdb_env_sync. With the log on, a new checkpoint follows; with it off,
// the checkpoint and log files are removed and LMDB syncs its own commits again.
//
// Failure: if an append, a data sync or a slot write fails, or LMDB's commit fails after its
// record was appended (other than for a full map, whose record is taken back), every later commit
// is refused with kIoError: the log then may hold what LMDB does not, and only a restart (its
// recovery) brings them together again.
//
// Thread-safety: Append and CommitFailed run inside write transactions (LMDB's writer lock
// serializes them); the checkpoint thread shares only what its mutex guards.
#ifndef LIAISON_STORE_COMMIT_LOG_H_
#define LIAISON_STORE_COMMIT_LOG_H_

#include <lmdb.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/bytes.h"
#include "liaison/status.h"
#include "store/write_ahead_log.h"

namespace liaison::store {

class Env;

struct CommitLogOptions {
  bool enabled = false;                           // off: LMDB syncs each commit itself
  uint64_t file_bytes = 64ull << 20;              // each of the two log files (written in full)
  uint64_t checkpoint_after_bytes = 16ull << 20;  // of the current log file
  // Or this long after the last began, at the next commit. Until a checkpoint completes, the
  // pages that commits free stay pinned (the file grows by what they rewrite), so this bounds
  // the growth as much as the log's size does.
  int64_t checkpoint_interval_micros = 100'000;
  // TEST_ONLY: checkpoints after the first are begun but never completed, as if their data sync
  // never returned, so that a test can stop the process with one in progress. Appends that fill
  // both files then wait for ever.
  bool test_hold_checkpoints = false;
};

// One checkpoint, as its slot holds it.
struct CheckpointSlot {
  uint64_t counter = 0;  // 1, 2, ...: the newest valid slot is the one recovered from
  uint32_t file = 0;     // the log file (0 or 1) the records after its snapshot begin in
  uint64_t epoch = 0;    // their epoch in that file; the other file holds epoch + 1, and so on
  uint64_t txnid = 0;    // LMDB's id of the snapshot, which recovery must open at
  Bytes meta_pages;      // LMDB's two, as they were when the checkpoint began
};

// What Open's recovery did.
struct CommitLogRecovery {
  bool checkpoint_found = false;
  uint64_t records_replayed = 0;
  uint64_t log_files_replayed = 0;
};

class CommitLog {
 public:
  // Before mdb_env_open of `dir` (whose lock the caller holds): if a checkpoint exists, writes its
  // meta pages back over data.mdb's. Returns null when the log is off and there is no
  // checkpoint: nothing to do. kConflict if another process has the LMDB environment open (its
  // lock.mdb lock; nothing is written then); kCorruption if the checkpoint file has no valid
  // slot, or data.mdb or a log file is missing; kIoError on a file operation's failure.
  static Result<std::unique_ptr<CommitLog>> Prepare(const std::string& dir, const CommitLogOptions& options);
  // After mdb_env_open of the same directory: the replay and, with the log on, the first
  // checkpoint and MDB_NOSYNC; with it off, the removal of the log's files. kConflict if LMDB did
  // not open at the checkpoint's snapshot (another process has the store open); kCorruption or
  // kMalformed if a record does not apply (its number is named; nothing after the checkpoint is
  // kept, so a later Open tries again from it); kIoError; kStoreFull.
  Status Start(Env& env);
  // Stops the checkpoint thread (after the checkpoint in progress) and ends the pins. Before
  // mdb_env_close.
  ~CommitLog();
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // False: Start only recovered and retired the log, and the Env does not keep this object.
  bool enabled() const { return options_.enabled; }
  const CommitLogRecovery& recovery() const { return recovery_; }

  // The hook of every write transaction (store::Txn::Commit): appends `effects` and fdatasyncs
  // them, beginning a checkpoint first if one is due. kStoreFull if one transaction's effects
  // do not fit in a log file; a checkpoint that cannot begin refuses the transaction and changes
  // nothing; kIoError after a failed append or checkpoint (see above): the outcome of that one
  // transaction is then unknown (a restart may replay it).
  Status Append(ByteView effects);
  // Waits for a checkpoint in progress, then makes one of the last commit and waits until it is
  // durable (and the pin before it ended). The caller holds a write transaction, so that no
  // commit runs meanwhile. Failures as Append's.
  Status CheckpointNow();
  // LMDB refused a commit whose effects Append accepted: takes the record back from the log. A
  // map-full refusal leaves the log usable; any other, or a failed take-back, refuses every later
  // commit (see "Failure" above).
  void CommitFailed(const Status& why);

  // How many checkpoints became durable since Open (the first one included).
  uint64_t checkpoints_completed() const;

 private:
  struct Job {
    MDB_txn* pin = nullptr;
    CheckpointSlot slot;
  };

  CommitLog(std::string dir, const CommitLogOptions& options);
  Status Replay(Env& env);
  Status RemoveFiles();
  // Pins the last committed snapshot and copies the meta pages that describe it.
  Result<Job> Capture(uint32_t file, uint64_t epoch);
  // Syncs the data file and writes the job's slot; on success the job's pin becomes the held one.
  Status Complete(Job job);
  Status WriteSlot(const CheckpointSlot& slot);
  // Captures a checkpoint and switches appends to the other file; the thread completes it.
  Status BeginCheckpoint();
  Status WaitForCheckpoint();
  void Run();
  void Fail(Status why);

  const std::string dir_;
  const CommitLogOptions options_;
  int checkpoint_fd_ = -1;  // open after Start with the log on
  int data_fd_ = -1;        // data.mdb, read-only, for the meta pages
  size_t page_size_ = 0;
  MDB_env* env_ = nullptr;
  std::optional<CheckpointSlot> found_;  // the checkpoint Prepare restored
  CommitLogRecovery recovery_;
  std::unique_ptr<WriteAheadLog> logs_[2];
  uint32_t current_ = 0;  // the file appends go to; writer side only
  std::chrono::steady_clock::time_point last_begun_;  // writer side only

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Job> pending_;  // handed to the thread
  bool running_ = false;        // a checkpoint is pending or being completed
  bool stopping_ = false;
  Status failure_;              // the first failure: every later Append is refused
  MDB_txn* pin_ = nullptr;      // the last durable checkpoint's
  uint64_t counter_ = 0;        // the last durable checkpoint's
  uint64_t completed_ = 0;
  std::thread thread_;
};

}  // namespace liaison::store

#endif  // LIAISON_STORE_COMMIT_LOG_H_
