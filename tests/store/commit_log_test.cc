// The write-ahead log in front of LMDB (store/commit_log.h) through store::Env: what is
// committed comes back after a reopen, after checkpoints, and after LMDB lost every write since
// the last checkpoint; the log can be turned off again; its failures are clear. Power cuts at any
// point are the reliability module's (the power-cut loop runs the relay with the log on).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "store/commit_log.h"
#include "store/lmdb.h"
#include "store/store_test_util.h"
#include "base/file_util.h"

using namespace liaison;
using namespace liaison::store;
using namespace liaison::store::testing;

namespace {

EnvOptions Logged(const std::string& path, uint64_t file_bytes = 1 << 20, uint64_t checkpoint_after = 256 << 10) {
  EnvOptions options;
  options.path = path;
  options.write_ahead_log.enabled = true;
  options.write_ahead_log.file_bytes = file_bytes;
  options.write_ahead_log.checkpoint_after_bytes = checkpoint_after;
  options.write_ahead_log.checkpoint_interval_micros = 3600ll * 1'000'000;  // by size only, unless a test says
  return options;
}

std::unique_ptr<Env> OpenEnv(const EnvOptions& options) {
  auto env = Env::Open(options);
  INFO((env.ok() ? std::string("ok") : env.status().ToString()));
  REQUIRE(env.ok());
  return std::move(env).value();
}

Bytes Key(uint32_t n) {
  Bytes key(4);
  PutBigEndian32(n, key.data());
  return key;
}

Bytes Value(uint32_t n, size_t size = 1000) { return Bytes(size, static_cast<uint8_t>(n * 7 + 1)); }

// Puts keys [first, first + count) into table "t", one transaction each.
void PutEach(Env& env, uint32_t first, uint32_t count) {
  for (uint32_t n = first; n < first + count; ++n) {
    auto txn = Txn::BeginWrite(env);
    REQUIRE(txn.ok());
    auto table = txn->OpenDb("t", MDB_CREATE);
    REQUIRE(table.ok());
    REQUIRE(txn->Put(*table, Key(n), Value(n)).ok());
    const Status committed = txn->Commit();
    INFO(committed.ToString());
    REQUIRE(committed.ok());
  }
}

// How many keys of [0, count) table "t" holds with their values; checks there are no others.
size_t CountHeld(Env& env, uint32_t count) {
  const Tables tables = DumpTables(env);
  if (tables.count("t") == 0) return 0;
  size_t held = 0;
  for (const auto& [key, value] : tables.at("t")) {
    REQUIRE(key.size() == 4);
    const uint32_t n = GetBigEndian32(key.data());
    REQUIRE(n < count);
    CHECK(value == Value(n));
    ++held;
  }
  return held;
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

unsigned EnvFlags(Env& env) {
  unsigned flags = 0;
  REQUIRE(mdb_env_get_flags(env.get(), &flags) == 0);
  return flags;
}

}  // namespace

TEST_CASE("with the log on, commits come back after a reopen, replayed from the log", "[store][commit_log]") {
  StoreDir dir;
  {
    auto env = OpenEnv(Logged(dir.path));
    REQUIRE(env->write_ahead_log() != nullptr);
    CHECK((EnvFlags(*env) & MDB_NOSYNC) != 0);  // LMDB's own syncs are replaced by the log's
    CHECK(env->write_ahead_log()->checkpoints_completed() == 1);  // the one Open made
    PutEach(*env, 0, 50);
  }
  CHECK(Exists(dir.path + "/checkpoint"));
  CHECK(Exists(dir.path + "/log.0"));
  CHECK(Exists(dir.path + "/log.1"));
  auto env = OpenEnv(Logged(dir.path));
  CHECK(env->log_recovery().checkpoint_found);
  // The table's creation and the 50 puts: each transaction is one record.
  CHECK(env->log_recovery().records_replayed == 50);
  CHECK(CountHeld(*env, 50) == 50);
}

TEST_CASE("checkpoints move the log on between its two files and lose nothing", "[store][commit_log]") {
  StoreDir dir;
  {
    // A 4 KiB block per record: a checkpoint every 16 records, a file full after 64.
    auto env = OpenEnv(Logged(dir.path, 256 << 10, 64 << 10));
    PutEach(*env, 0, 2000);
    CHECK(env->write_ahead_log()->checkpoints_completed() >= 10);
  }
  auto env = OpenEnv(Logged(dir.path, 256 << 10, 64 << 10));
  // Only what followed the last durable checkpoint is replayed.
  CHECK(env->log_recovery().records_replayed < 2 * 64);
  CHECK(CountHeld(*env, 2000) == 2000);
}

TEST_CASE("after LMDB lost every write since the checkpoint, the log brings them back", "[store][commit_log]") {
  StoreDir dir;
  const std::string data = dir.path + "/data.mdb";
  const std::string saved = dir.path + "/data.mdb.at-checkpoint";
  {
    auto env = OpenEnv(Logged(dir.path, 4 << 20, 1 << 20));
    PutEach(*env, 0, 10);
  }
  {
    // Replays the 10 and makes a checkpoint of them; the 90 that follow (a 4 KiB block each) make
    // no other.
    auto env = OpenEnv(Logged(dir.path, 4 << 20, 1 << 20));
    std::filesystem::copy_file(data, saved);
    PutEach(*env, 10, 90);
    REQUIRE(env->write_ahead_log()->checkpoints_completed() == 1);
  }
  // As if none of LMDB's NOSYNC writes since the checkpoint had reached the disk.
  std::filesystem::copy_file(saved, data, std::filesystem::copy_options::overwrite_existing);
  {
    EnvOptions plain;
    plain.path = dir.path;
    plain.write_ahead_log.enabled = false;
    auto env = OpenEnv(plain);  // recovers, then retires the log
    CHECK(env->log_recovery().records_replayed == 90);
    CHECK(CountHeld(*env, 100) == 100);
    CHECK(env->write_ahead_log() == nullptr);
    CHECK((EnvFlags(*env) & MDB_NOSYNC) == 0);
  }
  CHECK_FALSE(Exists(dir.path + "/checkpoint"));
  CHECK_FALSE(Exists(dir.path + "/log.0"));
  // Off stays off: a plain open finds nothing to recover, and the data is there.
  EnvOptions plain;
  plain.path = dir.path;
  auto env = OpenEnv(plain);
  CHECK_FALSE(env->log_recovery().checkpoint_found);
  CHECK(CountHeld(*env, 100) == 100);
}

// Puts and deletes one key `count` times, and returns data.mdb's size afterwards.
uint64_t Churn(Env& env, const std::string& data, int count) {
  for (int i = 0; i < count; ++i) {
    auto txn = Txn::BeginWrite(env);
    REQUIRE(txn.ok());
    auto table = txn->OpenDb("t", MDB_CREATE);
    REQUIRE(table.ok());
    if (i % 2 == 0) {
      REQUIRE(txn->Put(*table, Key(1), Value(1, 3000)).ok());
    } else {
      REQUIRE(txn->Del(*table, Key(1)).ok());
    }
    REQUIRE(txn->Commit().ok());
  }
  return std::filesystem::file_size(data);
}

TEST_CASE("timed checkpoints release the pages commits free, so that churn does not grow the file",
          "[store][commit_log]") {
  StoreDir dir;
  const std::string data = dir.path + "/data.mdb";
  EnvOptions options = Logged(dir.path, 64 << 20, 32 << 20);  // the log's size alone would not checkpoint
  options.write_ahead_log.checkpoint_interval_micros = 10'000;
  SECTION("checkpoints every 10 ms: the file stops growing") {
    auto env = OpenEnv(options);
    const uint64_t after_first = Churn(*env, data, 1500);
    const uint64_t after_all = Churn(*env, data, 3000);
    INFO("data.mdb " << after_first << " bytes after 1,500 commits, " << after_all << " after 3,000 more; "
                     << env->write_ahead_log()->checkpoints_completed() << " checkpoints");
    CHECK(env->write_ahead_log()->checkpoints_completed() >= 3);
    CHECK(after_all < after_first + after_first / 2);
  }
  SECTION("the control: checkpoints that never complete keep every freed page, and it grows") {
    options.write_ahead_log.test_hold_checkpoints = true;
    auto env = OpenEnv(options);
    const uint64_t after_first = Churn(*env, data, 1500);
    const uint64_t after_all = Churn(*env, data, 3000);
    INFO("data.mdb " << after_first << " bytes after 1,500 commits, " << after_all << " after 3,000 more");
    CHECK(after_all > 2 * after_first);
  }
}

TEST_CASE("a store opened with the log is refused to a second opener", "[store][commit_log]") {
  StoreDir dir;
  auto env = OpenEnv(Logged(dir.path));
  auto second = Env::Open(Logged(dir.path));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kConflict);
  // Also one that would open it without the log: it would find the checkpoint and rewind LMDB.
  EnvOptions plain;
  plain.path = dir.path;
  auto third = Env::Open(plain);
  REQUIRE_FALSE(third.ok());
  CHECK(third.status().code() == Code::kConflict);
  PutEach(*env, 0, 3);  // the first is unharmed
}

TEST_CASE("a store opened without the log is refused to an opener with it", "[store][commit_log]") {
  StoreDir dir;
  EnvOptions plain;
  plain.path = dir.path;
  auto env = OpenEnv(plain);
  auto logged = Env::Open(Logged(dir.path));
  REQUIRE_FALSE(logged.ok());
  CHECK(logged.status().code() == Code::kConflict);
}

TEST_CASE("a checkpoint is not restored under a process that has the store open through LMDB alone",
          "[store][commit_log]") {
  StoreDir dir;
  {
    auto env = OpenEnv(Logged(dir.path));
    PutEach(*env, 0, 5);
  }
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // As mdb_stat would: LMDB's own open, without liaison's lock.
    MDB_env* raw = nullptr;
    if (mdb_env_create(&raw) != 0 || mdb_env_set_maxdbs(raw, 16) != 0 ||
        mdb_env_open(raw, dir.path.c_str(), MDB_RDONLY, 0600) != 0) {
      ::_exit(2);
    }
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  const auto before = ReadFile(dir.path + "/data.mdb", 64 << 20);
  REQUIRE(before.ok());
  auto refused = Env::Open(Logged(dir.path));
  const auto after = ReadFile(dir.path + "/data.mdb", 64 << 20);
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Code::kConflict);
  REQUIRE(after.ok());
  CHECK(*after == *before);  // the meta pages were not rewritten
  auto env = OpenEnv(Logged(dir.path));  // once it is gone, the recovery runs
  CHECK(env->log_recovery().records_replayed == 5);
  CHECK(CountHeld(*env, 5) == 5);
}

TEST_CASE("a checkpoint whose log file is missing is refused: what followed it would be lost",
          "[store][commit_log]") {
  StoreDir dir;
  {
    auto env = OpenEnv(Logged(dir.path));
    PutEach(*env, 0, 5);
  }
  std::filesystem::remove(dir.path + "/log.0");
  auto env = Env::Open(Logged(dir.path));
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().code() == Code::kCorruption);
  CHECK(env.status().message().find("log.0") != std::string::npos);
}

TEST_CASE("recoveries in a row each replay what followed the checkpoint before and keep everything",
          "[store][commit_log]") {
  StoreDir dir;
  for (uint32_t round = 0; round < 4; ++round) {
    auto env = OpenEnv(Logged(dir.path));
    INFO("round " << round);
    CHECK(env->log_recovery().checkpoint_found == (round > 0));
    CHECK(env->log_recovery().records_replayed == (round > 0 ? 20u : 0u));
    CHECK(CountHeld(*env, 20 * round) == 20 * round);
    PutEach(*env, 20 * round, 20);
  }
}

TEST_CASE("a checkpoint file with no valid slot is refused, and the data file is left as it was",
          "[store][commit_log]") {
  StoreDir dir;
  {
    auto env = OpenEnv(Logged(dir.path));
    PutEach(*env, 0, 5);
  }
  const std::string checkpoint = dir.path + "/checkpoint";
  const auto size = std::filesystem::file_size(checkpoint);
  {
    const int fd = ::open(checkpoint.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    const Bytes junk(size, 0x5a);
    REQUIRE(::pwrite(fd, junk.data(), junk.size(), 0) == static_cast<ssize_t>(size));
    ::close(fd);
  }
  const auto before = ReadFile(dir.path + "/data.mdb", 64 << 20);
  REQUIRE(before.ok());
  auto env = Env::Open(Logged(dir.path));
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().code() == Code::kCorruption);
  CHECK(env.status().message().find("no valid slot") != std::string::npos);
  const auto after = ReadFile(dir.path + "/data.mdb", 64 << 20);
  REQUIRE(after.ok());
  CHECK(*after == *before);
}

TEST_CASE("a process that stops during a checkpoint is recovered from the one before, across both files",
          "[store][commit_log]") {
  StoreDir dir;
  // The child makes its first checkpoint at Open, begins the second after 64 records (the
  // log moves on to log.1 under the next epoch) and never completes it; then it exits without
  // closing anything, as a SIGKILL would leave it.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    EnvOptions options = Logged(dir.path, 1 << 20, 256 << 10);  // a record takes a 4 KiB block
    options.write_ahead_log.test_hold_checkpoints = true;
    auto env = Env::Open(options);
    if (!env.ok()) ::_exit(2);
    for (uint32_t n = 0; n < 100; ++n) {
      auto txn = Txn::BeginWrite(**env);
      if (!txn.ok()) ::_exit(3);
      auto table = txn->OpenDb("t", MDB_CREATE);
      if (!table.ok() || !txn->Put(*table, Key(n), Value(n)).ok() || !txn->Commit().ok()) ::_exit(4);
    }
    ::_exit((*env)->write_ahead_log()->checkpoints_completed() == 1 ? 0 : 5);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto env = OpenEnv(Logged(dir.path, 1 << 20, 256 << 10));
  CHECK(env->log_recovery().checkpoint_found);
  // From the first checkpoint: the records in log.0, then those of the next epoch in log.1.
  CHECK(env->log_recovery().log_files_replayed == 2);
  CHECK(env->log_recovery().records_replayed == 100);
  CHECK(CountHeld(*env, 100) == 100);
}

TEST_CASE("a transaction whose effects do not fit in a log file is refused and changes nothing",
          "[store][commit_log]") {
  StoreDir dir;
  auto env = OpenEnv(Logged(dir.path, 64 << 10, 16 << 10));
  PutEach(*env, 0, 3);
  auto txn = Txn::BeginWrite(*env);
  REQUIRE(txn.ok());
  auto table = txn->OpenDb("t", MDB_CREATE);
  REQUIRE(table.ok());
  REQUIRE(txn->Put(*table, Key(3), Value(3, 100 << 10)).ok());
  const Status committed = txn->Commit();
  CHECK(committed.code() == Code::kStoreFull);
  CHECK(committed.message().find("do not fit in a log file") != std::string::npos);
  CHECK(CountHeld(*env, 3) == 3);
  PutEach(*env, 3, 2);  // the log still takes what fits
  CHECK(CountHeld(*env, 5) == 5);
}

TEST_CASE("the log refuses settings that leave no room between checkpoints", "[store][commit_log]") {
  StoreDir dir;
  auto env = Env::Open(Logged(dir.path, 1 << 20, 1 << 20));
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().code() == Code::kInvalidArgument);
}
