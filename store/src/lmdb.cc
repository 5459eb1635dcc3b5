#include "store/lmdb.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file_util.h"

namespace liaison::store {

Status FromMdb(int rc, std::string_view context) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  std::string message = std::string(context) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND: return Status::Error(Code::kNotFound, std::move(message));
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT: return Status::Error(Code::kStoreFull, std::move(message));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return Status::Error(Code::kCorruption, std::move(message));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_BAD_TXN: return Status::Error(Code::kInternal, std::move(message));
    default: break;
  }
  if (rc > 0) return Status::Error(Code::kIoError, std::move(message));  // an errno value
  return Status::Error(Code::kInternal, std::move(message));
}

Result<std::unique_ptr<Env>> Env::Open(const EnvOptions& options) {
  LIAISON_RETURN_IF_ERROR(CreateDirectoriesDurably(options.path));
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return FromMdb(rc, "mdb_env_create");
  std::unique_ptr<Env> env(new Env(raw));
  // One opener through this library at a time: the log's recovery rewinds LMDB's meta pages,
  // which must never happen under another process's feet.
  const std::string lock_path = options.path + "/liaison.lock";
  env->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (env->lock_fd_ < 0) return Status::Error(Code::kIoError, "open " + lock_path + ": " + std::strerror(errno));
  if (::flock(env->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::Error(Code::kConflict, "the store " + options.path + " is open in another process");
    return Status::Error(Code::kIoError, "lock " + lock_path + ": " + std::strerror(errno));
  }
  // Declared after `env`, so that an early return ends it (and its pins) before mdb_env_close.
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<CommitLog> log, CommitLog::Prepare(options.path, options.write_ahead_log));
  if ((rc = mdb_env_set_mapsize(raw, options.map_size_bytes)) != 0) return FromMdb(rc, "mdb_env_set_mapsize");
  if ((rc = mdb_env_set_maxdbs(raw, options.max_dbs)) != 0) return FromMdb(rc, "mdb_env_set_maxdbs");
  if ((rc = mdb_env_set_maxreaders(raw, options.max_readers)) != 0) return FromMdb(rc, "mdb_env_set_maxreaders");
  // MDB_NOTLS: read transactions are not tied to a thread slot, so short reads on any thread work.
  if ((rc = mdb_env_open(raw, options.path.c_str(), MDB_NOTLS | options.test_extra_flags, 0600)) != 0) {
    return FromMdb(rc, "mdb_env_open " + options.path);
  }
  unsigned flags = 0;
  if ((rc = mdb_env_get_flags(raw, &flags)) != 0) return FromMdb(rc, "mdb_env_get_flags");
  constexpr unsigned kWeakening = MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC | MDB_WRITEMAP;
  if (flags & kWeakening) {
    return Status::Error(Code::kInvalidArgument,
                         "refusing to open " + options.path +
                             " with a durability-weakening LMDB flag (NOSYNC, NOMETASYNC, MAPASYNC or WRITEMAP)");
  }
  // The entries of data.mdb and lock.mdb if the open created them: an fdatasync of a new file
  // does not make its name durable.
  LIAISON_RETURN_IF_ERROR(SyncDirectory(options.path));
  LIAISON_ASSIGN_OR_RETURN(env->readers_cleared_at_open_, env->CheckReaders());
  if (log) {
    LIAISON_RETURN_IF_ERROR(log->Start(*env).WithContext("the write-ahead log of " + options.path));
    env->log_recovery_ = log->recovery();
    if (log->enabled()) env->log_ = std::move(log);
  }
  env->before_commit_ = options.before_commit;
  return env;
}

Env::~Env() {
  log_.reset();
  mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<int> Env::CheckReaders() {
  int dead = 0;
  int rc = mdb_reader_check(env_, &dead);
  if (rc != 0) return FromMdb(rc, "mdb_reader_check");
  return dead;
}

Result<uint64_t> Env::FileBytes() const {
  const char* path = nullptr;
  int rc = mdb_env_get_path(env_, &path);
  if (rc != 0) return FromMdb(rc, "mdb_env_get_path");
  struct stat st {};
  std::string file = std::string(path) + "/data.mdb";
  if (::stat(file.c_str(), &st) != 0) {
    return Status::Error(Code::kIoError, "stat " + file + ": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

Status Env::CheckpointLog() {
  if (!log_) return Status::Ok();
  MDB_txn* writer = nullptr;  // holds LMDB's writer lock: no commit runs during the capture
  if (const int rc = mdb_txn_begin(env_, nullptr, 0, &writer); rc != 0) return FromMdb(rc, "begin write transaction");
  Status made = log_->CheckpointNow();
  mdb_txn_abort(writer);
  return made;
}

std::optional<std::string> Env::TableName(MDB_dbi dbi) const {
  std::lock_guard lock(names_mutex_);
  auto it = names_.find(dbi);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

void Env::ForgetTable(MDB_dbi dbi) {
  std::lock_guard lock(names_mutex_);
  names_.erase(dbi);
}

void Env::NameTable(MDB_dbi dbi, const char* name) {
  std::lock_guard lock(names_mutex_);
  names_[dbi] = name == nullptr ? "" : name;
}

Result<Txn> Txn::BeginWrite(Env& env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, 0, &txn);
  if (rc != 0) return FromMdb(rc, "begin write transaction");
  Txn out(txn, &env);
  if (env.before_commit() || env.log_) out.effects_ = std::make_unique<EffectsWriter>();
  return out;
}

Result<Txn> Txn::BeginRead(Env& env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return FromMdb(rc, "begin read transaction");
  return Txn(txn, &env);
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    txn_ = other.txn_;
    env_ = other.env_;
    effects_ = std::move(other.effects_);
    reserved_ = std::move(other.reserved_);
    capture_broken_ = other.capture_broken_;
    write_failed_ = other.write_failed_;
    other.txn_ = nullptr;
  }
  return *this;
}

void Txn::RecordReserved() {
  if (!reserved_) return;
  effects_->Put(CapturedName(reserved_->dbi), reserved_->key, ByteView(reserved_->value, reserved_->size));
  reserved_.reset();
}

std::string Txn::CapturedName(MDB_dbi dbi) {
  std::optional<std::string> name = env_->TableName(dbi);
  if (!name) capture_broken_ = true;
  return name.value_or("");
}

void Txn::FailedWrite(int rc, size_t effects_mark) {
  if (!effects_) return;
  effects_->Truncate(effects_mark);
  if (rc != MDB_KEYEXIST && rc != MDB_NOTFOUND) write_failed_ = true;
}

Status Txn::Commit() {
  if (txn_ == nullptr) return Status::Error(Code::kInternal, "commit of an inactive transaction");
  bool logged = false;  // this commit's record is in the log
  if (effects_) {
    if (capture_broken_ || write_failed_) {
      Abort();
      return Status::Error(Code::kInternal, write_failed_ ? "commit of a transaction in which a write failed"
                                                          : "commit of a write to a table not opened through Txn::OpenDb without flags");
    }
    RecordReserved();
    // If this or the hook throws, txn_ is still held, and the destructor aborts it.
    if (env_->before_commit()) {
      if (Status accepted = env_->before_commit()(effects_->view()); !accepted.ok()) {
        Abort();
        return accepted.WithContext("before the commit");
      }
    }
    if (env_->log_ && effects_->size() > 0) {
      if (Status appended = env_->log_->Append(effects_->view()); !appended.ok()) {
        Abort();
        return appended.WithContext("the write-ahead log");
      }
      logged = true;
    }
  }
  MDB_txn* txn = txn_;
  txn_ = nullptr;  // LMDB frees the handle whether or not the commit succeeds
  effects_.reset();
  Status committed = FromMdb(mdb_txn_commit(txn), "commit");
  // Only a record this commit appended may be taken back: the last one is otherwise another's.
  if (!committed.ok() && logged) env_->log_->CommitFailed(committed);
  return committed;
}

void Txn::Abort() {
  if (txn_ != nullptr) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  effects_.reset();
  reserved_.reset();
}

Result<MDB_dbi> Txn::OpenDb(const char* name, unsigned flags) {
  if (effects_) RecordReserved();  // MDB_CREATE writes to the unnamed table
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn_, name, flags, &dbi);
  if (rc != 0) return FromMdb(rc, std::string("open database ") + (name == nullptr ? "(unnamed)" : name));
  if (env_ != nullptr) env_->NameTable(dbi, name);
  if (effects_) {
    // The replay opens tables without flags: one with others (MDB_DUPSORT, ...) cannot be replayed.
    if ((flags & ~static_cast<unsigned>(MDB_CREATE)) != 0) capture_broken_ = true;
    if (flags & MDB_CREATE) effects_->Create(name == nullptr ? "" : name);
  }
  return dbi;
}

Result<std::optional<ByteView>> Txn::Get(MDB_dbi dbi, ByteView key) {
  MDB_val k = ToVal(key);
  MDB_val v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ByteView>();
  if (rc != 0) return FromMdb(rc, "get");
  return std::optional<ByteView>(FromVal(v));
}

Status Txn::Put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags) {
  size_t mark = 0;
  if (effects_) {
    RecordReserved();
    mark = effects_->size();
    // Recorded before the put: `key` or `value` may point into a page the put moves.
    effects_->Put(CapturedName(dbi), key, value);
  }
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  const int rc = mdb_put(txn_, dbi, &k, &v, flags);
  if (rc != 0) FailedWrite(rc, mark);
  return FromMdb(rc, "put");
}

Result<uint8_t*> Txn::Reserve(MDB_dbi dbi, ByteView key, size_t size, unsigned flags) {
  if (effects_) RecordReserved();
  Bytes key_copy;
  if (effects_) key_copy.assign(key.begin(), key.end());  // before the put, as in Put
  MDB_val k = ToVal(key);
  MDB_val v{size, nullptr};
  const int rc = mdb_put(txn_, dbi, &k, &v, flags | MDB_RESERVE);
  if (rc != 0) {
    FailedWrite(rc, effects_ ? effects_->size() : 0);
    return FromMdb(rc, "put");
  }
  if (effects_) reserved_ = Reserved{dbi, std::move(key_copy), static_cast<const uint8_t*>(v.mv_data), size};
  return static_cast<uint8_t*>(v.mv_data);
}

Result<bool> Txn::Del(MDB_dbi dbi, ByteView key) {
  size_t mark = 0;
  if (effects_) {
    RecordReserved();
    mark = effects_->size();
    effects_->Delete(CapturedName(dbi), key);
  }
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0) FailedWrite(rc, mark);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return FromMdb(rc, "delete");
  return true;
}

Status Txn::DropTable(MDB_dbi dbi) {
  size_t mark = 0;
  if (effects_) {
    RecordReserved();
    mark = effects_->size();
    effects_->Drop(CapturedName(dbi));
  }
  const int rc = mdb_drop(txn_, dbi, 1);
  if (rc != 0) {
    FailedWrite(rc, mark);
    return FromMdb(rc, "drop a table");
  }
  if (env_ != nullptr) env_->ForgetTable(dbi);
  return Status::Ok();
}

Result<Cursor> Cursor::Open(Txn& txn, MDB_dbi dbi) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbi, &cursor);
  if (rc != 0) return FromMdb(rc, "open cursor");
  return Cursor(cursor);
}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<std::optional<Cursor::Entry>> Cursor::Get(MDB_val* key, MDB_cursor_op op) {
  MDB_val k = key ? *key : MDB_val{0, nullptr};
  MDB_val v{};
  int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND) return std::optional<Entry>();
  if (rc != 0) return FromMdb(rc, "cursor get");
  return std::optional<Entry>(Entry{FromVal(k), FromVal(v)});
}

Result<std::optional<Cursor::Entry>> Cursor::Seek(ByteView key) {
  MDB_val k = ToVal(key);
  return Get(&k, MDB_SET_RANGE);
}
Result<std::optional<Cursor::Entry>> Cursor::First() { return Get(nullptr, MDB_FIRST); }
Result<std::optional<Cursor::Entry>> Cursor::Next() { return Get(nullptr, MDB_NEXT); }
Result<std::optional<Cursor::Entry>> Cursor::Last() { return Get(nullptr, MDB_LAST); }


}  // namespace liaison::store
