// The upgrade of a store written before, at Open(): the move of dedup records from the
// mailbox-first layout (table "dedup", key mailbox | message_id) to the id-first one (table
// "dedup_by_id", key message_id | mailbox), the drop of the tables "expiry" and "quota" that
// nothing reads any more, and the usage added up from the index instead.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "base/clock.h"
#include "store/lmdb.h"
#include "store/mailbox_store.h"
#include "store/store_test_util.h"

using namespace liaison;
using namespace liaison::store;
using namespace liaison::store::testing;

namespace {

Result<std::unique_ptr<MailboxStore>> Open(const StoreDir& dir, Clock& clock, size_t per_commit = 10'000) {
  MailboxStoreOptions options;
  options.path = dir.path;
  options.migration_records_per_commit = per_commit;
  return MailboxStore::Open(options, clock);
}

Result<PutResult> PutOne(MailboxStore& store, const std::string& to, uint8_t id, int64_t expires_at = 0) {
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  auto result = batch->Put({to, Id(id), expires_at, Bytes{id}});
  if (result.ok()) REQUIRE(batch->Commit().ok());
  return result;
}

// The closed store's LMDB environment, opened directly.
std::unique_ptr<Env> OpenEnv(const StoreDir& dir) {
  EnvOptions options;
  options.path = dir.path;
  auto env = Env::Open(options);
  REQUIRE(env.ok());
  return std::move(env).value();
}

// Every record of `table` in the closed store, in key order; nullopt if the table does not exist.
std::optional<std::vector<std::pair<Bytes, Bytes>>> Records(const StoreDir& dir, const char* table) {
  auto env = OpenEnv(dir);
  auto txn = Txn::BeginRead(*env);
  REQUIRE(txn.ok());
  auto dbi = txn->OpenDb(table, 0);
  if (!dbi.ok()) {
    REQUIRE(dbi.status().code() == Code::kNotFound);
    return std::nullopt;
  }
  std::vector<std::pair<Bytes, Bytes>> records;
  auto cursor = Cursor::Open(*txn, *dbi);
  REQUIRE(cursor.ok());
  for (auto entry = cursor->First(); entry.ok() && *entry; entry = cursor->Next()) {
    records.emplace_back(Bytes((*entry)->key.begin(), (*entry)->key.end()),
                         Bytes((*entry)->value.begin(), (*entry)->value.end()));
  }
  return records;
}

// Rewrites the closed store's dedup records as a store written before the id-first layout had
// them, plus `extra` records written as they are into the old table; and gives it that layout's
// table "expiry", a record per dedup record (expires_at | seq -> mailbox | message_id), and its
// table "quota" with a record for each mailbox that is wrong (99 messages of 99 bytes): the
// usage must come from the index.
void RewriteToMailboxFirst(const StoreDir& dir, const std::vector<std::pair<Bytes, Bytes>>& extra = {}) {
  auto env = OpenEnv(dir);
  auto txn = Txn::BeginWrite(*env);
  REQUIRE(txn.ok());
  auto by_id = txn->OpenDb("dedup_by_id", 0);
  REQUIRE(by_id.ok());
  auto old = txn->OpenDb("dedup", MDB_CREATE);
  REQUIRE(old.ok());
  auto expiry = txn->OpenDb("expiry", MDB_CREATE);
  REQUIRE(expiry.ok());
  auto quota = txn->OpenDb("quota", MDB_CREATE);
  REQUIRE(quota.ok());
  std::vector<std::pair<Bytes, Bytes>> records;
  {  // a write transaction's cursor must be closed before its commit
    auto cursor = Cursor::Open(*txn, *by_id);
    REQUIRE(cursor.ok());
    for (auto entry = cursor->First(); entry.ok() && *entry; entry = cursor->Next()) {
      records.emplace_back(Bytes((*entry)->key.begin(), (*entry)->key.end()),
                           Bytes((*entry)->value.begin(), (*entry)->value.end()));
    }
  }
  for (const auto& [key, value] : records) {
    Bytes mailbox_first(key.begin() + 16, key.end());
    mailbox_first.insert(mailbox_first.end(), key.begin(), key.begin() + 16);
    REQUIRE(txn->Put(*old, mailbox_first, value).ok());
    REQUIRE(*txn->Del(*by_id, key));
    REQUIRE(value.size() == 16);
    Bytes expiry_key(value.begin() + 8, value.end());
    expiry_key.insert(expiry_key.end(), value.begin(), value.begin() + 8);
    REQUIRE(txn->Put(*expiry, expiry_key, mailbox_first).ok());
    Bytes wrong_usage(16, 0);
    wrong_usage[7] = 99;
    wrong_usage[15] = 99;
    REQUIRE(txn->Put(*quota, Bytes(key.begin() + 16, key.end()), wrong_usage).ok());
  }
  for (const auto& [key, value] : extra) REQUIRE(txn->Put(*old, key, value).ok());
  REQUIRE(txn->Commit().ok());
}

// The tables Open() dropped, with their records.
std::map<std::string, size_t> Dropped(const MailboxStore& store) {
  const auto& dropped = store.tables_dropped_at_open();
  return std::map<std::string, size_t>(dropped.begin(), dropped.end());
}

// The id of the environment's last committed transaction: one more for each commit.
size_t LastTxnId(MDB_env* env) {
  MDB_envinfo info{};
  REQUIRE(mdb_env_info(env, &info) == 0);
  return info.me_last_txnid;
}

// Five messages (a/1's three expiring 10 s after kStart), stored and then rewritten to the old
// layout; returns their seqs.
std::vector<uint64_t> FiveInTheOldLayout(const StoreDir& dir, Clock& clock) {
  std::vector<uint64_t> seqs;
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    for (uint8_t id = 1; id <= 3; ++id) seqs.push_back(PutOne(**store, "a/1", id, kStart + 10 * kMicrosPerSecond)->seq);
    for (uint8_t id = 4; id <= 5; ++id) seqs.push_back(PutOne(**store, "b/1", id)->seq);
  }
  RewriteToMailboxFirst(dir);
  REQUIRE(Records(dir, "dedup")->size() == 5);
  REQUIRE(Records(dir, "dedup_by_id")->empty());
  REQUIRE(Records(dir, "expiry")->size() == 5);
  return seqs;
}

}  // namespace

TEST_CASE("dedup records of the mailbox-first layout are moved to id-first keys at open and the expiry table is "
          "dropped: retries are still recognised and the sweep still finds them",
          "[store][mailbox][migration]") {
  StoreDir dir;
  FakeClock clock(kStart);
  const std::vector<uint64_t> seqs = FiveInTheOldLayout(dir, clock);
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    CHECK((*store)->dedup_records_migrated_at_open() == 5);
    CHECK((*store)->dedup_records_damaged_at_open() == 0);
    CHECK(Dropped(**store) == std::map<std::string, size_t>{{"expiry", 5}, {"quota", 2}});
    // The usage is the index's (each envelope is one byte), not the dropped table's.
    CHECK((*store)->Usage("a/1")->messages == 3);
    CHECK((*store)->Usage("a/1")->bytes == 3);
    CHECK((*store)->Usage("b/1")->messages == 2);
    CHECK((*store)->Usage("b/1")->bytes == 2);
    // A retry of each is still recognised, under the seq it was stored with.
    for (uint8_t id = 1; id <= 5; ++id) {
      auto retry = PutOne(**store, id <= 3 ? "a/1" : "b/1", id);
      REQUIRE(retry.ok());
      CHECK(retry->duplicate);
      CHECK(retry->seq == seqs[id - 1]);
    }
    // The sweep finds the moved records in the dedup table: a/1's three go, and their ids may be
    // used again.
    clock.Advance(11 * kMicrosPerSecond);
    auto swept = (*store)->SweepExpired(100);
    REQUIRE(swept.ok());
    CHECK(*swept == 3);
    CHECK_FALSE(PutOne(**store, "a/1", 1)->duplicate);
    CHECK(PutOne(**store, "b/1", 4)->duplicate);
  }
  CHECK_FALSE(Records(dir, "dedup").has_value());  // the old tables are gone
  CHECK_FALSE(Records(dir, "expiry").has_value());
  CHECK_FALSE(Records(dir, "quota").has_value());
  // Keys begin with the id: a/1's new id-1 record sorts before b/1's ids 4 and 5.
  const auto moved = Records(dir, "dedup_by_id");
  REQUIRE(moved->size() == 3);
  CHECK(moved->at(0).first[0] == 1);
  CHECK(moved->at(1).first[0] == 4);
  CHECK(moved->at(2).first[0] == 5);

  auto again = Open(dir, clock);
  REQUIRE(again.ok());
  CHECK((*again)->dedup_records_migrated_at_open() == 0);
  CHECK((*again)->tables_dropped_at_open().empty());
}

TEST_CASE("the expiry table of a store written before is dropped at open, and its messages are still swept at their "
          "expiry",
          "[store][mailbox][migration][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    REQUIRE(PutOne(**store, "a/1", 1, kStart + 10 * kMicrosPerSecond).ok());
    REQUIRE(PutOne(**store, "a/1", 2, kStart + 100 * kMicrosPerSecond).ok());
  }
  {  // the table as the older layout held it, beside dedup records of the current one
    auto env = OpenEnv(dir);
    auto txn = Txn::BeginWrite(*env);
    REQUIRE(txn.ok());
    auto expiry = txn->OpenDb("expiry", MDB_CREATE);
    REQUIRE(expiry.ok());
    REQUIRE(txn->Put(*expiry, Bytes(16, 1), Bytes{3, 'a', '/', '1', 1}).ok());
    REQUIRE(txn->Put(*expiry, Bytes(16, 2), Bytes{3, 'a', '/', '1', 2}).ok());
    REQUIRE(txn->Commit().ok());
  }
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    CHECK(Dropped(**store) == std::map<std::string, size_t>{{"expiry", 2}});
    CHECK((*store)->dedup_records_migrated_at_open() == 0);
    clock.Advance(11 * kMicrosPerSecond);
    auto swept = (*store)->SweepExpired(100);
    REQUIRE(swept.ok());
    CHECK(*swept == 1);
    CHECK((*store)->Usage("a/1")->messages == 1);
  }
  CHECK_FALSE(Records(dir, "expiry").has_value());
  CHECK_FALSE(Records(dir, "quota").has_value());
}

TEST_CASE("the move of old dedup records takes one durable commit per migration_records_per_commit records",
          "[store][mailbox][migration]") {
  FakeClock clock(kStart);
  // The same five records moved two at a time and all at once: the first takes two commits more
  // (three for the records instead of one), whatever else Open() commits.
  auto commits_to_open = [&](size_t per_commit) {
    StoreDir dir;
    FiveInTheOldLayout(dir, clock);
    const size_t before = LastTxnId(OpenEnv(dir)->get());
    auto store = Open(dir, clock, per_commit);
    REQUIRE(store.ok());
    REQUIRE((*store)->dedup_records_migrated_at_open() == 5);
    return LastTxnId((*store)->env().get()) - before;
  };
  const size_t two_at_a_time = commits_to_open(2);
  const size_t all_at_once = commits_to_open(5);
  CHECK(two_at_a_time == all_at_once + 2);
  CHECK(commits_to_open(1) == all_at_once + 4);
}

TEST_CASE("a damaged mailbox-first dedup record is kept aside as it was, and the others are moved",
          "[store][mailbox][migration][corruption]") {
  StoreDir dir;
  FakeClock clock(kStart);
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    REQUIRE(PutOne(**store, "a/1", 1).ok());
    REQUIRE(PutOne(**store, "a/1", 2).ok());
  }
  // A key naming a mailbox of 200 bytes (longer than any address), with them and an id present,
  // and a well-formed key with a value of the wrong size.
  Bytes long_mailbox{200};
  long_mailbox.resize(1 + 200 + 16, 'x');
  Bytes short_value_key{3, 'z', '/', '1'};
  short_value_key.resize(4 + 16, 0);
  RewriteToMailboxFirst(dir, {{long_mailbox, Bytes(16, 0)}, {short_value_key, Bytes(3, 0)}});

  {
    auto store = Open(dir, clock, 1);
    REQUIRE(store.ok());
    CHECK((*store)->dedup_records_migrated_at_open() == 2);
    CHECK((*store)->dedup_records_damaged_at_open() == 2);
    CHECK(PutOne(**store, "a/1", 1)->duplicate);
    CHECK(PutOne(**store, "a/1", 2)->duplicate);
  }
  CHECK_FALSE(Records(dir, "dedup").has_value());
  CHECK(Records(dir, "dedup_by_id")->size() == 2);
  const auto kept = Records(dir, "dedup_damaged");
  REQUIRE(kept.has_value());
  REQUIRE(kept->size() == 2);
  CHECK(kept->at(0).first == short_value_key);  // length 3 sorts before 200
  CHECK(kept->at(0).second == Bytes(3, 0));
  CHECK(kept->at(1).first == long_mailbox);
  CHECK(kept->at(1).second == Bytes(16, 0));
}

TEST_CASE("a message whose old dedup record the move set aside gets its dedup record back from its expiry record: "
          "its retries are recognised and the sweep still finds it",
          "[store][mailbox][migration][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  const std::vector<uint64_t> seqs = FiveInTheOldLayout(dir, clock);
  {  // a/1's id 2 as a layout older still wrote its dedup record: the seq alone, 8 bytes
    auto env = OpenEnv(dir);
    auto txn = Txn::BeginWrite(*env);
    REQUIRE(txn.ok());
    auto old = txn->OpenDb("dedup", 0);
    REQUIRE(old.ok());
    const MessageId id = Id(2);
    Bytes key{3, 'a', '/', '1'};
    key.insert(key.end(), id.begin(), id.end());
    Bytes seq_only(8, 0);
    PutBigEndian64(seqs[1], seq_only.data());
    REQUIRE(txn->Put(*old, key, seq_only).ok());
    // And an expiry record of the same id under another seq (999): a copy stored again after
    // its record was set aside. The restored record names seqs[1], so this copy stays unswept.
    auto expiry = txn->OpenDb("expiry", 0);
    REQUIRE(expiry.ok());
    Bytes expiry_key(16, 0);
    PutBigEndian64(static_cast<uint64_t>(kStart + 10 * kMicrosPerSecond), expiry_key.data());
    PutBigEndian64(999, expiry_key.data() + 8);
    REQUIRE(txn->Put(*expiry, expiry_key, key).ok());
    REQUIRE(txn->Commit().ok());
  }
  auto store = Open(dir, clock);
  REQUIRE(store.ok());
  CHECK((*store)->dedup_records_migrated_at_open() == 4);
  CHECK((*store)->dedup_records_damaged_at_open() == 1);
  CHECK((*store)->dedup_records_restored_at_open() == 1);
  CHECK((*store)->messages_left_unswept_at_open() == 1);
  auto retry = PutOne(**store, "a/1", 2);
  REQUIRE(retry.ok());
  CHECK(retry->duplicate);
  CHECK(retry->seq == seqs[1]);
  clock.Advance(11 * kMicrosPerSecond);
  auto swept = (*store)->SweepExpired(100);
  REQUIRE(swept.ok());
  CHECK(*swept == 3);  // a/1's three, id 2 among them
  CHECK((*store)->Usage("a/1")->messages == 0);
}

TEST_CASE("an upgrade's moves and table drops are captured: replayed onto the old store they give the upgraded one",
          "[store][upgrade][effects]") {
  StoreDir dir, copy;
  FakeClock clock(kStart);
  FiveInTheOldLayout(dir, clock);
  std::filesystem::create_directories(copy.path);
  std::filesystem::copy_file(dir.path + "/data.mdb", copy.path + "/data.mdb");
  std::vector<Bytes> committed;
  {
    MailboxStoreOptions options;
    options.path = dir.path;
    options.migration_records_per_commit = 2;  // the move in three commits, then the drop
    options.before_commit = [&](ByteView effects) {
      committed.emplace_back(effects.begin(), effects.end());
      return Status::Ok();
    };
    auto store = MailboxStore::Open(options, clock);
    REQUIRE(store.ok());
    CHECK(Dropped(**store).count("expiry") == 1);
  }
  REQUIRE_FALSE(Records(dir, "dedup").has_value());
  {
    auto env = OpenEnv(copy);
    Replay(*env, committed);
  }
  auto upgraded = OpenEnv(dir);
  auto replayed = OpenEnv(copy);
  const Tables want = DumpTables(*upgraded), got = DumpTables(*replayed);
  CHECK(want.count("dedup") == 0);
  CHECK(want.count("expiry") == 0);
  for (const auto& [name, entries] : want) {
    INFO("table " << name);
    REQUIRE(got.count(name) == 1);
    CHECK(got.at(name) == entries);
  }
  for (const auto& [name, entries] : got) {
    INFO("table " << name);
    CHECK((want.count(name) == 1 || entries.empty()));
  }
}
