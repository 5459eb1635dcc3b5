#include <catch2/catch.hpp>

#include <cstring>

#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "store/effects.h"
#include "store/lmdb.h"
#include "store/mailbox_store.h"
#include "store/store_test_util.h"

using namespace liaison;
using namespace liaison::store;
using namespace liaison::store::testing;

namespace {

Bytes RandomBytes(std::mt19937& rng, size_t size) {
  Bytes out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace

TEST_CASE("replaying a store's captured effects onto an empty environment gives its tables byte for byte",
          "[store][effects]") {
  StoreDir dir, replica_dir;
  FakeClock clock(kStart);
  std::vector<Bytes> committed;  // each write transaction's effects, in commit order
  MailboxStoreOptions options;
  options.path = dir.path;
  options.sweep_records_per_call = 7;  // several sweep calls per pass, so cursor deletes happen mid-table
  options.before_commit = [&](ByteView effects) {
    committed.emplace_back(effects.begin(), effects.end());
    return Status::Ok();
  };
  auto store = MailboxStore::Open(options, clock);
  REQUIRE(store.ok());

  std::mt19937 rng(7);
  const std::vector<std::string> recipients{"a/1", "b/1", "c/1", "d/2", "e/1", "f/3"};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto id = [&] {
    MessageId m{};
    m[0] = static_cast<uint8_t>(pick(40));  // few enough that ids repeat: retries meet the dedup table
    m[1] = static_cast<uint8_t>(pick(4));
    return m;
  };
  size_t stored = 0, acknowledged = 0, swept = 0;
  for (int round = 0; round < 300; ++round) {
    auto batch = (*store)->BeginWrite();
    REQUIRE(batch.ok());
    for (size_t op = 0, ops = 1 + pick(4); op < ops; ++op) {
      const int64_t expires_at = clock.NowMicros() + static_cast<int64_t>(1 + pick(120)) * kMicrosPerSecond;
      switch (pick(3)) {
        case 0: {
          const Bytes envelope = RandomBytes(rng, 1 + pick(3000));  // some above LMDB's overflow threshold
          auto put = batch->Put({recipients[pick(recipients.size())], id(), expires_at, envelope});
          REQUIRE(put.ok());
          stored += put->duplicate ? 0 : 1;
          break;
        }
        case 1: {
          const Bytes body = RandomBytes(rng, 100 + pick(5000));
          std::vector<Bytes> envelopes;
          std::vector<BroadcastCopy> copies;
          for (size_t c = 0, n = 2 + pick(4); c < n; ++c) envelopes.push_back(RandomBytes(rng, 50 + pick(200)));
          for (size_t c = 0; c < envelopes.size(); ++c) copies.push_back({recipients[pick(recipients.size())], id(), envelopes[c]});
          auto outcome = batch->PutBroadcast({expires_at, body, copies});
          REQUIRE(outcome.ok());
          for (const auto& copy : *outcome) stored += copy.ok() && !copy->duplicate ? 1 : 0;
          break;
        }
        default: {
          const std::string& who = recipients[pick(recipients.size())];
          bool more = false;
          auto pending = (*store)->Fetch(who, 0, 50, 1 << 30, &more);
          REQUIRE(pending.ok());
          std::vector<uint64_t> seqs;
          for (const auto& m : *pending) {
            if (pick(2) == 0) seqs.push_back(m.seq);
          }
          auto removed = batch->Ack(who, seqs);
          REQUIRE(removed.ok());
          acknowledged += *removed;
        }
      }
    }
    REQUIRE(batch->Commit().ok());
    if (pick(5) == 0) {
      clock.Advance(static_cast<int64_t>(pick(60)) * kMicrosPerSecond);
      auto expired = (*store)->SweepExpired(4096);
      REQUIRE(expired.ok());
      swept += *expired;
    }
  }
  // The workload did what the test is about: stores, dedup hits, acknowledgements, sweeps.
  CHECK(stored > 200);
  CHECK(acknowledged > 50);
  CHECK(swept > 50);

  EnvOptions replica_options;
  replica_options.path = replica_dir.path;
  auto replica = Env::Open(replica_options);
  REQUIRE(replica.ok());
  Replay(**replica, committed);
  auto replica_store = DumpTables(**replica);
  store->reset();  // closes the original environment, so that it can be opened again to read
  EnvOptions original_options;
  original_options.path = dir.path;
  auto original = Env::Open(original_options);
  REQUIRE(original.ok());
  const Tables original_store = DumpTables(**original);
  // Every table, also one that was created and never written to (its creation is an effect).
  CHECK(replica_store.size() == original_store.size());
  size_t written = 0;
  for (const auto& [name, entries] : original_store) {
    INFO("table " << name);
    REQUIRE(replica_store.count(name) == 1);
    CHECK(replica_store.at(name) == entries);
    if (!entries.empty()) ++written;
  }
  CHECK(written >= 5);  // at least bodies, index, dedup_by_id, meta and the broadcasts' tables
}

TEST_CASE("a before_commit hook's error aborts the commit, and nothing of the batch is stored", "[store][effects]") {
  StoreDir dir;
  FakeClock clock(kStart);
  bool refuse = false;
  MailboxStoreOptions options;
  options.path = dir.path;
  options.before_commit = [&](ByteView) {
    return refuse ? Status::Error(Code::kIoError, "the log is full") : Status::Ok();
  };
  auto store = MailboxStore::Open(options, clock);
  REQUIRE(store.ok());
  refuse = true;
  auto batch = (*store)->BeginWrite();
  REQUIRE(batch.ok());
  const Bytes envelope{1, 2, 3};
  REQUIRE(batch->Put({"a/1", Id(1), 0, envelope}).ok());
  const Status committed = batch->Commit();
  CHECK(committed.code() == Code::kIoError);
  CHECK(committed.message().find("the log is full") != std::string::npos);
  bool more = false;
  auto pending = (*store)->Fetch("a/1", 0, 10, 1 << 20, &more);
  REQUIRE(pending.ok());
  CHECK(pending->empty());
  refuse = false;
  auto again = (*store)->BeginWrite();
  REQUIRE(again.ok());
  REQUIRE(again->Put({"a/1", Id(1), 0, envelope}).ok());
  REQUIRE(again->Commit().ok());
  CHECK((*store)->Fetch("a/1", 0, 10, 1 << 20, &more)->size() == 1);
}

TEST_CASE("effects that do not follow the format, or delete a key that is not there, are refused", "[store][effects]") {
  StoreDir dir;
  EnvOptions options;
  options.path = dir.path;
  auto env = Env::Open(options);
  REQUIRE(env.ok());
  EffectsWriter put_only, writer;
  put_only.Put("t", Bytes{1}, Bytes{2, 3});
  writer.Put("t", Bytes{1}, Bytes{2, 3});
  writer.Delete("t", Bytes{9});
  const Bytes whole(writer.view().begin(), writer.view().end());
  for (size_t cut = 1; cut < whole.size(); ++cut) {
    const Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    auto txn = Txn::BeginWrite(**env);
    REQUIRE(txn.ok());
    const Status applied = ApplyEffects(*txn, prefix);
    INFO("cut at " << cut);
    // A prefix that ends exactly after the put is whole effects, and applies.
    if (cut == put_only.view().size()) {
      CHECK(applied.ok());
    } else {
      CHECK(applied.code() == Code::kMalformed);
    }
  }
  auto txn = Txn::BeginWrite(**env);
  REQUIRE(txn.ok());
  CHECK(ApplyEffects(*txn, whole).code() == Code::kCorruption);  // key 9 was never put
  const Bytes unknown_kind{7, 0, 0, 0, 0, 0};
  CHECK(ApplyEffects(*txn, unknown_kind).code() == Code::kMalformed);
}

TEST_CASE("a reserved value is captured as its caller filled it, also as the transaction's last write",
          "[store][effects]") {
  StoreDir dir, replica_dir;
  std::vector<Bytes> committed;
  EnvOptions options;
  options.path = dir.path;
  options.before_commit = [&](ByteView effects) {
    committed.emplace_back(effects.begin(), effects.end());
    return Status::Ok();
  };
  auto env = Env::Open(options);
  REQUIRE(env.ok());
  auto txn = Txn::BeginWrite(**env);
  REQUIRE(txn.ok());
  auto table = txn->OpenDb("t", MDB_CREATE);
  REQUIRE(table.ok());
  auto first = txn->Reserve(*table, Bytes{1}, 3);
  REQUIRE(first.ok());
  std::memcpy(*first, "abc", 3);
  auto last = txn->Reserve(*table, Bytes{2}, 5);  // the first is recorded here, this one at Commit
  REQUIRE(last.ok());
  std::memcpy(*last, "hello", 5);
  REQUIRE(txn->Commit().ok());
  REQUIRE(committed.size() == 1);

  EnvOptions replica_options;
  replica_options.path = replica_dir.path;
  auto replica = Env::Open(replica_options);
  REQUIRE(replica.ok());
  Replay(**replica, committed);
  const Tables tables = DumpTables(**replica);
  REQUIRE(tables.count("t") == 1);
  CHECK(tables.at("t") == std::vector<std::pair<Bytes, Bytes>>{{Bytes{1}, Bytes{'a', 'b', 'c'}},
                                                                {Bytes{2}, Bytes{'h', 'e', 'l', 'l', 'o'}}});
}

TEST_CASE("with a hook, a failed write or a write to a table opened around Txn::OpenDb refuses to commit",
          "[store][effects]") {
  StoreDir dir;
  size_t hook_calls = 0;
  EnvOptions options;
  options.path = dir.path;
  options.before_commit = [&](ByteView) {
    ++hook_calls;
    return Status::Ok();
  };
  auto env = Env::Open(options);
  REQUIRE(env.ok());
  SECTION("a put LMDB refuses (a key over its 511 bytes)") {
    auto txn = Txn::BeginWrite(**env);
    REQUIRE(txn.ok());
    auto table = txn->OpenDb("t", MDB_CREATE);
    REQUIRE(table.ok());
    REQUIRE(txn->Put(*table, Bytes{1}, Bytes{1}).ok());
    CHECK_FALSE(txn->Put(*table, Bytes(600, 7), Bytes{1}).ok());
    CHECK(txn->Commit().code() == Code::kInternal);
  }
  SECTION("a refusal that changes nothing (MDB_NOOVERWRITE on a present key) does not") {
    auto txn = Txn::BeginWrite(**env);
    REQUIRE(txn.ok());
    auto table = txn->OpenDb("t", MDB_CREATE);
    REQUIRE(table.ok());
    REQUIRE(txn->Put(*table, Bytes{1}, Bytes{1}).ok());
    CHECK_FALSE(txn->Put(*table, Bytes{1}, Bytes{2}, MDB_NOOVERWRITE).ok());
    CHECK(txn->Commit().ok());
    CHECK(hook_calls == 1);
  }
  SECTION("a handle opened with mdb_dbi_open directly") {
    auto txn = Txn::BeginWrite(**env);
    REQUIRE(txn.ok());
    MDB_dbi raw = 0;
    REQUIRE(mdb_dbi_open(txn->get(), "raw", MDB_CREATE, &raw) == 0);
    REQUIRE(txn->Put(raw, Bytes{1}, Bytes{1}).ok());
    CHECK(txn->Commit().code() == Code::kInternal);
  }
  CHECK(hook_calls <= 1);
}
