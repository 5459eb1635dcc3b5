// Move-only RAII wrappers over the LMDB C API, and the one place that maps LMDB error codes to
// liaison::Status (FromMdb). Internal to liaison.
//
// Lifetimes follow lmdb.h: a value returned by Txn::Get points into the map and is valid only
// until the next update in that transaction or its end. A Txn aborts in its destructor unless
// committed. One Env per process and per path (LMDB's fcntl locks break on a second open).
// Thread-safety: an Env may be shared; a Txn belongs to the thread that began it.
#ifndef LIAISON_STORE_LMDB_H_
#define LIAISON_STORE_LMDB_H_

#include <lmdb.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/bytes.h"
#include "liaison/status.h"
#include "store/commit_log.h"
#include "store/effects.h"

namespace liaison::store {

// Maps an LMDB return code to a Status: MDB_NOTFOUND -> kNotFound, MDB_MAP_FULL and ENOSPC ->
// kStoreFull, MDB_CORRUPTED / MDB_PAGE_NOTFOUND / MDB_INVALID -> kCorruption, EIO and other errno
// values -> kIoError, the rest -> kInternal. `context` names the operation.
Status FromMdb(int rc, std::string_view context);

struct EnvOptions {
  std::string path;                   // a directory; created if missing
  size_t map_size_bytes = 1ull << 30;
  unsigned max_dbs = 16;
  unsigned max_readers = 126;
  // TEST_ONLY: extra mdb_env_open flags, so tests can show that Open refuses durability-weakening
  // ones. Production code leaves it 0.
  unsigned test_extra_flags = 0;
  // Called by the Commit of every write transaction, just before LMDB commits it (and before
  // the write-ahead log's append), with the transaction's effects (store/effects.h: every put,
  // delete, drop and table creation, in order); an error aborts the transaction, and Commit
  // returns it. Tests replay them. Empty (the default) and the log off: no effects are captured,
  // at no cost. While they are captured, a transaction in which a write failed (other than
  // MDB_KEYEXIST), or which wrote to a table not opened through Txn::OpenDb, or opened one with
  // a flag other than MDB_CREATE, refuses to commit (kInternal), before the hook.
  std::function<Status(ByteView effects)> before_commit;
  // A write-ahead log in front of LMDB (store/commit_log.h): with it on, each commit is one
  // append and fdatasync of the log, and LMDB commits with MDB_NOSYNC behind it. Whether on or
  // off, Open first recovers from a checkpoint a logged run left.
  CommitLogOptions write_ahead_log;
};

class Env {
 public:
  // Opens (creating if needed) the environment. Refuses with kInvalidArgument if the resulting
  // flags include MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP: liaison acknowledges
  // only what is on disk (the write-ahead log sets MDB_NOSYNC itself, behind its own syncs). With
  // the log on, or a checkpoint of an earlier logged run present, CommitLog's errors too. fsyncs the store's directory, and the parent of each directory it
  // created, so that a new store's files outlive a power loss (kIoError if that fails). Clears
  // stale reader slots left by killed processes. Holds a flock on liaison.lock in the directory
  // until it is closed: kConflict if another Env (in any process) has the store open.
  static Result<std::unique_ptr<Env>> Open(const EnvOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  MDB_env* get() const { return env_; }
  // Clears reader slots of dead processes; returns how many were cleared.
  Result<int> CheckReaders();
  // How many stale reader slots Open() cleared.
  int readers_cleared_at_open() const { return readers_cleared_at_open_; }
  // Size of the data file in bytes (what the map currently occupies on disk).
  Result<uint64_t> FileBytes() const;
  const std::function<Status(ByteView)>& before_commit() const { return before_commit_; }
  // The name a table was opened under through Txn::OpenDb ("" for the unnamed one), for its
  // effects; nullopt for a handle opened otherwise.
  std::optional<std::string> TableName(MDB_dbi dbi) const;
  // With the write-ahead log on: makes a checkpoint of the last commit and waits until it is
  // durable and the older checkpoint's pin has ended, so that pages freed before that commit can
  // be reused (see MailboxStore::ReleaseFreedPages). Call it outside any write transaction of
  // this thread. OK at once with the log off.
  Status CheckpointLog();
  // Null unless the write-ahead log is on.
  const CommitLog* write_ahead_log() const { return log_.get(); }
  // What Open recovered from an earlier logged run's checkpoint (all zero if there was none).
  const CommitLogRecovery& log_recovery() const { return log_recovery_; }

 private:
  friend class Txn;
  explicit Env(MDB_env* env) : env_(env) {}
  void NameTable(MDB_dbi dbi, const char* name);
  void ForgetTable(MDB_dbi dbi);
  MDB_env* env_;
  int lock_fd_ = -1;  // flock on liaison.lock in the store's directory
  int readers_cleared_at_open_ = 0;
  std::function<Status(ByteView)> before_commit_;
  std::unique_ptr<CommitLog> log_;  // ended before mdb_env_close
  CommitLogRecovery log_recovery_;
  mutable std::mutex names_mutex_;
  std::unordered_map<MDB_dbi, std::string> names_;
};

class Txn {
 public:
  // A write transaction captures its effects if `env` has a before_commit hook or a log.
  static Result<Txn> BeginWrite(Env& env);
  static Result<Txn> BeginRead(Env& env);
  Txn(Txn&& other) noexcept
      : txn_(other.txn_),
        env_(other.env_),
        effects_(std::move(other.effects_)),
        reserved_(std::move(other.reserved_)),
        capture_broken_(other.capture_broken_),
        write_failed_(other.write_failed_) {
    other.txn_ = nullptr;
  }
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { Abort(); }

  // Commits, durably: fsync'd by LMDB, or with the write-ahead log on, after its append (whose
  // errors it returns). The env's before_commit hook, if any, accepts the effects first. The
  // handle is released whatever the outcome, as LMDB frees it either way.
  Status Commit();
  void Abort();
  bool active() const { return txn_ != nullptr; }
  MDB_txn* get() const { return txn_; }

  // Opens (creating in a write txn) a named database.
  Result<MDB_dbi> OpenDb(const char* name, unsigned flags = 0);
  // Returns the value, std::nullopt when absent, or an error.
  Result<std::optional<ByteView>> Get(MDB_dbi dbi, ByteView key);
  Status Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags = 0);
  // Puts a value of `size` bytes under `key` (MDB_RESERVE, with `flags` added) and returns where
  // it lies in the map, for the caller to fill before the next update in this transaction: the
  // value is written once, in place, instead of being assembled and copied in.
  Result<uint8_t*> Reserve(MDB_dbi dbi, ByteView key, size_t size, unsigned flags = 0);
  // Deletes the key; returns false if it was absent.
  Result<bool> Del(MDB_dbi dbi, ByteView key);
  // Deletes the table and its handle (mdb_drop with del = 1).
  Status DropTable(MDB_dbi dbi);

 private:
  Txn(MDB_txn* txn, Env* env) : txn_(txn), env_(env) {}
  // The value of the last Reserve, once its caller has filled it: recorded before the next update.
  void RecordReserved();
  // The table's name for the effects; marks the capture broken if the handle is not known.
  std::string CapturedName(MDB_dbi dbi);
  // After a failed write: forgets its effect, and unless `rc` is MDB_KEYEXIST or MDB_NOTFOUND
  // (refusals that change nothing) marks the transaction as one that must not commit.
  void FailedWrite(int rc, size_t effects_mark);
  MDB_txn* txn_;
  Env* env_ = nullptr;
  std::unique_ptr<EffectsWriter> effects_;  // a write transaction of an env with a before_commit hook
  struct Reserved {
    MDB_dbi dbi;
    Bytes key;
    const uint8_t* value;
    size_t size;
  };
  std::optional<Reserved> reserved_;
  bool capture_broken_ = false;  // a write to a handle TableName does not know, or a table opened with flags
  bool write_failed_ = false;
};

class Cursor {
 public:
  static Result<Cursor> Open(Txn& txn, MDB_dbi dbi);
  Cursor(Cursor&& other) noexcept : cursor_(other.cursor_) { other.cursor_ = nullptr; }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  struct Entry {
    ByteView key;
    ByteView value;
  };
  // Positions at the first key >= `key` (MDB_SET_RANGE); nullopt at the end.
  Result<std::optional<Entry>> Seek(ByteView key);
  Result<std::optional<Entry>> First();
  Result<std::optional<Entry>> Next();
  Result<std::optional<Entry>> Last();

 private:
  explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
  Result<std::optional<Entry>> Get(MDB_val* key, MDB_cursor_op op);
  MDB_cursor* cursor_;
};

inline MDB_val ToVal(ByteView b) { return MDB_val{b.size(), const_cast<uint8_t*>(b.data())}; }
inline ByteView FromVal(const MDB_val& v) { return {static_cast<const uint8_t*>(v.mv_data), v.mv_size}; }

}  // namespace liaison::store

#endif  // LIAISON_STORE_LMDB_H_
