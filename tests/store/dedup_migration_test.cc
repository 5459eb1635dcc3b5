// The store's move of dedup records from the mailbox-first layout (table "dedup", key mailbox |
// message_id) to the id-first one (table "dedup_by_id", key message_id | mailbox) at Open().
#include <catch2/catch.hpp>

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
// them, plus `extra` records written as they are into the old table.
void RewriteToMailboxFirst(const StoreDir& dir, const std::vector<std::pair<Bytes, Bytes>>& extra = {}) {
  auto env = OpenEnv(dir);
  auto txn = Txn::BeginWrite(*env);
  REQUIRE(txn.ok());
  auto by_id = txn->OpenDb("dedup_by_id", 0);
  REQUIRE(by_id.ok());
  auto old = txn->OpenDb("dedup", MDB_CREATE);
  REQUIRE(old.ok());
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
  }
  for (const auto& [key, value] : extra) REQUIRE(txn->Put(*old, key, value).ok());
  REQUIRE(txn->Commit().ok());
}

}  // namespace

TEST_CASE("dedup records of the mailbox-first layout are moved to id-first keys at open, in commits of the given size",
          "[store][mailbox][migration]") {
  StoreDir dir;
  FakeClock clock(kStart);
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

  {
    auto store = Open(dir, clock, 2);  // three commits of at most two records, then the drop
    REQUIRE(store.ok());
    CHECK((*store)->dedup_records_migrated_at_open() == 5);
    // A retry of each is still recognised, under the seq it was stored with.
    for (uint8_t id = 1; id <= 5; ++id) {
      auto retry = PutOne(**store, id <= 3 ? "a/1" : "b/1", id);
      REQUIRE(retry.ok());
      CHECK(retry->duplicate);
      CHECK(retry->seq == seqs[id - 1]);
    }
    // The sweep finds the moved records from the expiry table: a/1's three go, and their ids may
    // be used again.
    clock.Advance(11 * kMicrosPerSecond);
    auto swept = (*store)->SweepExpired(100);
    REQUIRE(swept.ok());
    CHECK(*swept == 3);
    CHECK_FALSE(PutOne(**store, "a/1", 1)->duplicate);
    CHECK(PutOne(**store, "b/1", 4)->duplicate);
  }
  CHECK_FALSE(Records(dir, "dedup").has_value());  // the old table is gone
  // Keys begin with the id: a/1's new id-1 record sorts before b/1's ids 4 and 5.
  const auto moved = Records(dir, "dedup_by_id");
  REQUIRE(moved->size() == 3);
  CHECK(moved->at(0).first[0] == 1);
  CHECK(moved->at(1).first[0] == 4);
  CHECK(moved->at(2).first[0] == 5);

  auto again = Open(dir, clock);
  REQUIRE(again.ok());
  CHECK((*again)->dedup_records_migrated_at_open() == 0);
}

TEST_CASE("a damaged mailbox-first dedup record stops the open with kCorruption, and no record is lost",
          "[store][mailbox][migration][corruption]") {
  StoreDir dir;
  FakeClock clock(kStart);
  {
    auto store = Open(dir, clock);
    REQUIRE(store.ok());
    REQUIRE(PutOne(**store, "a/1", 1).ok());
    REQUIRE(PutOne(**store, "a/1", 2).ok());
  }
  // A key naming a mailbox of 200 bytes (longer than any address), with them and an id present:
  // it sorts after a/1's records.
  Bytes damaged{200};
  damaged.resize(1 + 200 + 16, 'x');
  RewriteToMailboxFirst(dir, {{damaged, Bytes(16, 0)}});

  auto store = Open(dir, clock, 1);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == Code::kCorruption);
  CHECK(store.status().message().find("old dedup key") != std::string::npos);
  // The records before it were moved, each in its own commit; the damaged one stays in the old
  // table, where an operator can look at it.
  CHECK(Records(dir, "dedup_by_id")->size() == 2);
  const auto left = Records(dir, "dedup");
  REQUIRE(left.has_value());
  REQUIRE(left->size() == 1);
  CHECK(left->at(0).first == damaged);
}
