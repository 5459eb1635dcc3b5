#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "base/clock.h"
#include "store/mailbox_store.h"
#include "store/store_test_util.h"

using namespace liaison;
using namespace liaison::store;
using namespace liaison::store::testing;

namespace {

std::unique_ptr<MailboxStore> OpenStore(const StoreDir& dir, Clock& clock, MailboxStoreOptions options = {}) {
  options.path = dir.path;
  auto store = MailboxStore::Open(options, clock);
  REQUIRE(store.ok());
  return std::move(store).value();
}

Result<PutResult> PutOne(MailboxStore& store, const std::string& to, uint8_t id, const Bytes& envelope,
                         int64_t expires_at = 0) {
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  auto result = batch->Put({to, Id(id), expires_at, envelope});
  if (result.ok()) REQUIRE(batch->Commit().ok());
  return result;
}

std::vector<StoredMessage> FetchAll(MailboxStore& store, const std::string& who, bool* more = nullptr) {
  bool more_local = false;
  auto items = store.Fetch(who, 0, 1000, 1 << 30, more ? more : &more_local);
  REQUIRE(items.ok());
  return std::move(items).value();
}

}  // namespace

TEST_CASE("stored messages are fetched in order, per mailbox, until acknowledged", "[store][mailbox]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  REQUIRE(PutOne(*store, "a/1", 1, Bytes{1}).ok());
  REQUIRE(PutOne(*store, "b/1", 2, Bytes{2}).ok());
  REQUIRE(PutOne(*store, "a/1", 3, Bytes{3, 3}).ok());

  auto a = FetchAll(*store, "a/1");
  REQUIRE(a.size() == 2);
  CHECK(a[0].envelope == Bytes{1});
  CHECK(a[1].envelope == Bytes{3, 3});
  CHECK(a[0].seq < a[1].seq);
  CHECK(a[0].stored_at == kStart);
  CHECK(FetchAll(*store, "b/1").size() == 1);
  CHECK(store->Usage("a/1")->messages == 2);
  CHECK(store->Usage("a/1")->bytes == 3);

  auto batch = store->BeginWrite();
  REQUIRE(batch.ok());
  const std::vector<uint64_t> seqs{a[0].seq, a[0].seq, 999};
  auto removed = batch->Ack("a/1", seqs);
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  // Another mailbox's sequence number is not touched by a's acknowledgement.
  const auto b_seq = FetchAll(*store, "b/1")[0].seq;
  CHECK(*batch->Ack("a/1", std::vector<uint64_t>{b_seq}) == 0);
  REQUIRE(batch->Commit().ok());
  auto rest = FetchAll(*store, "a/1");
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].envelope == Bytes{3, 3});
  CHECK(FetchAll(*store, "b/1").size() == 1);
  CHECK(store->Usage("a/1")->messages == 1);
}

TEST_CASE("a retried message id is stored once, also after it was acknowledged", "[store][mailbox][dedup]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  auto first = PutOne(*store, "a/1", 7, Bytes{1});
  auto second = PutOne(*store, "a/1", 7, Bytes{1});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK_FALSE(first->duplicate);
  CHECK(second->duplicate);
  CHECK(second->seq == first->seq);
  CHECK(FetchAll(*store, "a/1").size() == 1);
  // The same id to another recipient is a different message.
  CHECK_FALSE(PutOne(*store, "b/1", 7, Bytes{1})->duplicate);

  auto batch = store->BeginWrite();
  REQUIRE(batch->Ack("a/1", std::vector<uint64_t>{first->seq}).ok());
  REQUIRE(batch->Commit().ok());
  CHECK(PutOne(*store, "a/1", 7, Bytes{1})->duplicate);
  CHECK(FetchAll(*store, "a/1").empty());
}

TEST_CASE("a full mailbox refuses with MailboxFull by count and by bytes, and accepts again after draining",
          "[store][mailbox][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_mailbox_messages = 3;
  options.max_mailbox_bytes = 1000;
  auto store = OpenStore(dir, clock, options);
  for (uint8_t i = 0; i < 3; ++i) REQUIRE(PutOne(*store, "a/1", i, Bytes(10, i)).ok());
  auto refused = PutOne(*store, "a/1", 9, Bytes(10, 9));
  CHECK(refused.status().code() == Code::kMailboxFull);
  CHECK(FetchAll(*store, "a/1").size() == 3);  // nothing was lost or half-written

  CHECK(PutOne(*store, "b/1", 1, Bytes(1001, 0)).status().code() == Code::kMailboxFull);
  CHECK(PutOne(*store, "b/1", 1, Bytes(1000, 0)).ok());

  auto items = FetchAll(*store, "a/1");
  auto batch = store->BeginWrite();
  REQUIRE(batch->Ack("a/1", std::vector<uint64_t>{items[0].seq}).ok());
  REQUIRE(batch->Commit().ok());
  CHECK(PutOne(*store, "a/1", 9, Bytes(10, 9)).ok());
}

TEST_CASE("within one batch, puts, acknowledgements and broadcast copies see each other's quota; an aborted batch changes none",
          "[store][mailbox][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_mailbox_messages = 3;
  auto store = OpenStore(dir, clock, options);
  std::vector<uint64_t> seqs;
  {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    for (uint8_t i = 1; i <= 3; ++i) {
      auto put = batch->Put({"a/1", Id(i), 0, Bytes(10, i)});
      REQUIRE(put.ok());
      seqs.push_back(put->seq);
    }
    CHECK(batch->Put({"a/1", Id(4), 0, Bytes(10, 4)}).status().code() == Code::kMailboxFull);
    CHECK(store->Usage("a/1")->messages == 0);  // nothing is visible before the commit
    REQUIRE(batch->Commit().ok());
  }
  CHECK(store->Usage("a/1")->messages == 3);
  CHECK(store->Usage("a/1")->bytes == 30);
  {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    REQUIRE(batch->Ack("a/1", std::vector<uint64_t>{seqs[0]}).value() == 1);
    REQUIRE(batch->Put({"a/1", Id(5), 0, Bytes(20, 5)}).ok());  // the room the ack just made
    CHECK(batch->Put({"a/1", Id(6), 0, Bytes(10, 6)}).status().code() == Code::kMailboxFull);
    const Bytes body(100, 0xbb);
    const Bytes envelope(10, 7);  // outlives the copies, which only view it
    std::vector<BroadcastCopy> copies = {{"a/1", Id(7), envelope}, {"b/1", Id(7), envelope}};
    auto outcome = batch->PutBroadcast({0, body, copies});
    REQUIRE(outcome.ok());
    CHECK((*outcome)[0].status().code() == Code::kMailboxFull);
    REQUIRE((*outcome)[1].ok());
    REQUIRE(batch->Put({"b/1", Id(8), 0, Bytes(10, 8)}).ok());  // after its broadcast copy, in the same batch
    REQUIRE(batch->Commit().ok());
  }
  CHECK(store->Usage("a/1")->messages == 3);
  CHECK(store->Usage("a/1")->bytes == 10 + 10 + 20);
  CHECK(store->Usage("b/1")->messages == 2);
  CHECK(store->Usage("b/1")->bytes == 10 + 100 + 10);
  {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    REQUIRE(batch->Ack("a/1", std::vector<uint64_t>{seqs[1], seqs[2]}).value() == 2);
    REQUIRE(batch->Put({"b/1", Id(9), 0, Bytes(10, 9)}).ok());
  }  // destroyed uncommitted: aborted
  CHECK(store->Usage("a/1")->messages == 3);
  CHECK(store->Usage("b/1")->messages == 2);
  CHECK(FetchAll(*store, "a/1").size() == 3);
}

TEST_CASE("expired messages are not fetched and are swept with their dedup records", "[store][mailbox][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  REQUIRE(PutOne(*store, "a/1", 1, Bytes{1}, kStart + 10 * kMicrosPerSecond).ok());
  REQUIRE(PutOne(*store, "a/1", 2, Bytes{2}, kStart + 100 * kMicrosPerSecond).ok());
  CHECK(PutOne(*store, "a/1", 3, Bytes{3}, kStart - 1).status().code() == Code::kExpired);

  clock.Advance(11 * kMicrosPerSecond);
  auto items = FetchAll(*store, "a/1");
  REQUIRE(items.size() == 1);
  CHECK(items[0].envelope == Bytes{2});
  auto swept = store->SweepExpired(100);
  REQUIRE(swept.ok());
  CHECK(*swept == 1);
  CHECK(store->Usage("a/1")->messages == 1);
  // The dedup record went with it: the id may be used again.
  CHECK_FALSE(PutOne(*store, "a/1", 1, Bytes{1})->duplicate);
  CHECK(*store->SweepExpired(100) == 0);  // nothing else is due yet
}

TEST_CASE("the sweep sets a damaged dedup record aside as it was and goes on sweeping",
          "[store][mailbox][expiry][corruption]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  REQUIRE(PutOne(*store, "a/1", 0, Bytes{1}, kStart + 10 * kMicrosPerSecond).ok());
  REQUIRE(PutOne(*store, "a/1", 3, Bytes{1}, kStart + 10 * kMicrosPerSecond).ok());
  const MessageId id1 = Id(1), id2 = Id(2);
  Bytes long_mailbox(id1.begin(), id1.end());
  long_mailbox.push_back(200);
  long_mailbox.resize(16 + 1 + 200, 'x');
  Bytes short_value(id2.begin(), id2.end());
  short_value.insert(short_value.end(), {3, 'a', '/', '1'});
  {
    // Records as a damaged disk might hold them, between the good ones (ids 0 and 3 around ids 1
    // and 2): a mailbox length of 200 with that many bytes present, and a value of 3 bytes.
    auto txn = Txn::BeginWrite(store->env());
    REQUIRE(txn.ok());
    auto dedup = txn->OpenDb("dedup_by_id");
    REQUIRE(dedup.ok());
    REQUIRE(txn->Put(*dedup, long_mailbox, Bytes(16, 0)).ok());
    REQUIRE(txn->Put(*dedup, short_value, Bytes(3, 0)).ok());
    REQUIRE(txn->Commit().ok());
  }
  clock.Advance(11 * kMicrosPerSecond);
  SECTION("in one call") {
    auto swept = store->SweepExpired(100);
    REQUIRE(swept.ok());
    CHECK(*swept == 2);  // both good records, before and after the damaged ones
  }
  SECTION("one record a call: the walk goes on after a damaged record it set aside") {
    store.reset();
    MailboxStoreOptions options;
    options.sweep_records_per_call = 1;
    store = OpenStore(dir, clock, options);
    for (size_t expected : {1, 0, 0, 1}) {  // id 0, the two damaged records, id 3
      auto swept = store->SweepExpired(100);
      REQUIRE(swept.ok());
      CHECK(*swept == expected);
    }
  }
  CHECK(store->Usage("a/1")->messages == 0);
  CHECK(store->dedup_records_set_aside() == 2);
  auto txn = Txn::BeginRead(store->env());
  REQUIRE(txn.ok());
  auto kept = txn->OpenDb("dedup_damaged", 0);
  REQUIRE(kept.ok());
  auto kept_long = txn->Get(*kept, long_mailbox);
  auto kept_short = txn->Get(*kept, short_value);
  REQUIRE(kept_long.ok());
  REQUIRE(kept_short.ok());
  REQUIRE(kept_long->has_value());
  REQUIRE(kept_short->has_value());
  CHECK(Bytes((*kept_long)->begin(), (*kept_long)->end()) == Bytes(16, 0));  // as they were
  CHECK(Bytes((*kept_short)->begin(), (*kept_short)->end()) == Bytes(3, 0));
  auto dedup = txn->OpenDb("dedup_by_id", 0);
  REQUIRE(dedup.ok());
  MDB_stat stat{};
  REQUIRE(mdb_stat(txn->get(), *dedup, &stat) == 0);
  CHECK(stat.ms_entries == 0);
}

TEST_CASE("a sweep looks at more records than sweep_records_per_call when a pass would otherwise take more than "
          "sweep_calls_per_pass calls",
          "[store][mailbox][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.sweep_records_per_call = 2;
  options.sweep_calls_per_pass = 3;
  auto store = OpenStore(dir, clock, options);
  // Ten records, all expired: each call looks at ceil(10 / 3) = 4 of them, so a pass takes three.
  for (uint8_t id = 1; id <= 10; ++id) REQUIRE(PutOne(*store, "a/1", id, Bytes{id}, kStart + kMicrosPerSecond).ok());
  clock.Advance(2 * kMicrosPerSecond);
  CHECK(*store->SweepExpired(100) == 4);
  CHECK(*store->SweepExpired(100) == 2);  // six left: now ceil(6 / 3) = 2 a call (the floor of 2)
  CHECK(*store->SweepExpired(100) == 2);
  CHECK(*store->SweepExpired(100) == 2);
  CHECK(store->Usage("a/1")->messages == 0);
}

TEST_CASE("the sweep looks at no more than sweep_records_per_call dedup records a call, and goes on where the last "
          "call stopped",
          "[store][mailbox][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.sweep_records_per_call = 2;
  auto store = OpenStore(dir, clock, options);
  // Ids 2, 3 and 5 expire at 10 s, ids 1 and 4 at 100 s; the dedup table holds them in id order.
  for (uint8_t id = 1; id <= 5; ++id) {
    const int64_t expires_at = kStart + (id == 1 || id == 4 ? 100 : 10) * kMicrosPerSecond;
    REQUIRE(PutOne(*store, "a/1", id, Bytes{id}, expires_at).ok());
  }
  clock.Advance(11 * kMicrosPerSecond);
  auto sweep = [&](size_t max_entries) {
    auto swept = store->SweepExpired(max_entries);
    REQUIRE(swept.ok());
    return *swept;
  };
  CHECK(sweep(100) == 1);  // ids 1 and 2: 2 goes
  CHECK(sweep(100) == 1);  // ids 3 and 4: 3 goes
  CHECK(sweep(100) == 1);  // id 5, the last
  CHECK(store->Usage("a/1")->messages == 2);
  CHECK(sweep(100) == 0);  // from the beginning again: ids 1 and 4, neither expired yet; 4 is the last
  clock.Advance(100 * kMicrosPerSecond);
  CHECK(sweep(1) == 1);    // from the beginning again: id 1, then it stops, the one entry asked for
  CHECK(sweep(100) == 1);  // id 4
  CHECK(store->Usage("a/1")->messages == 0);
  CHECK(sweep(0) == 0);
}

TEST_CASE("the expiry a sender asks for is clamped to the maximum TTL", "[store][mailbox][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_ttl_micros = 60 * kMicrosPerSecond;
  auto store = OpenStore(dir, clock, options);
  auto put = PutOne(*store, "a/1", 1, Bytes{1}, kStart + 1000 * kMicrosPerSecond);
  REQUIRE(put.ok());
  CHECK(put->expires_at == kStart + 60 * kMicrosPerSecond);
}

TEST_CASE("fetch stops before the byte budget but returns at least one message", "[store][mailbox]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  for (uint8_t i = 0; i < 5; ++i) REQUIRE(PutOne(*store, "a/1", i, Bytes(100, i)).ok());
  bool more = false;
  auto items = store->Fetch("a/1", 0, 10, 250, &more);
  REQUIRE(items.ok());
  CHECK(items->size() == 2);
  CHECK(more);
  auto tiny = store->Fetch("a/1", 0, 10, 1, &more);
  CHECK(tiny->size() == 1);
  auto after = store->Fetch("a/1", (*items)[1].seq, 10, 1 << 20, &more);
  CHECK(after->size() == 3);
  CHECK_FALSE(more);
}

TEST_CASE("a full map gives StoreFull, stores nothing of the failed batch, and recovers after draining",
          "[store][mailbox][full]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.map_size_bytes = 1 << 20;  // 1 MiB
  auto store = OpenStore(dir, clock, options);
  const Bytes envelope(32 * 1024, 0x5a);
  int stored = 0;
  Status last;
  for (int i = 0; i < 100; ++i) {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    auto put = batch->Put({"a/1", Id(static_cast<uint8_t>(i)), 0, envelope});
    last = put.ok() ? batch->Commit() : put.status();
    if (!last.ok()) break;
    ++stored;
  }
  CHECK(last.code() == Code::kStoreFull);
  CHECK(stored > 5);
  CHECK(FetchAll(*store, "a/1").size() == static_cast<size_t>(stored));

  auto items = FetchAll(*store, "a/1");
  std::vector<uint64_t> seqs;
  for (const auto& m : items) seqs.push_back(m.seq);
  auto batch = store->BeginWrite();
  REQUIRE(batch->Ack("a/1", seqs).ok());
  REQUIRE(batch->Commit().ok());
  REQUIRE(store->ReleaseFreedPages().ok());
  auto again = store->BeginWrite();
  auto put = again->Put({"a/1", Id(200), 0, envelope});
  INFO(put.status().ToString());
  CHECK(put.ok());
  CHECK(again->Commit().ok());
}

TEST_CASE("everything committed survives closing and reopening the store", "[store][mailbox]") {
  StoreDir dir;
  FakeClock clock(kStart);
  uint64_t seq = 0;
  {
    auto store = OpenStore(dir, clock);
    seq = PutOne(*store, "a/1", 1, Bytes{9})->seq;
    auto batch = store->BeginWrite();
    REQUIRE(batch->PutKeyBundle("a/1", Bytes{4, 2}).ok());
    REQUIRE(batch->Commit().ok());
    auto uncommitted = store->BeginWrite();
    REQUIRE(uncommitted->Put({"a/1", Id(2), 0, Bytes{8}}).ok());
    // destroyed without Commit: aborted
  }
  auto store = OpenStore(dir, clock);
  auto items = FetchAll(*store, "a/1");
  REQUIRE(items.size() == 1);
  CHECK(items[0].seq == seq);
  CHECK(**store->GetKeyBundle("a/1") == Bytes{4, 2});
  // Sequence numbers keep increasing across restarts.
  CHECK(PutOne(*store, "a/1", 3, Bytes{7})->seq > seq);
}

TEST_CASE("the store refuses to open with a durability-weakening LMDB flag", "[store][durability]") {
  for (unsigned flag : {unsigned{MDB_NOSYNC}, unsigned{MDB_NOMETASYNC}, unsigned{MDB_MAPASYNC}, unsigned{MDB_WRITEMAP}}) {
    StoreDir dir;
    FakeClock clock(kStart);
    MailboxStoreOptions options;
    options.path = dir.path;
    options.test_extra_env_flags = flag;
    auto store = MailboxStore::Open(options, clock);
    CHECK(store.status().code() == Code::kInvalidArgument);
    CHECK(store.status().message().find("durability") != std::string::npos);
  }
}

namespace {
Bytes Record(uint8_t n) { return Bytes(36, n); }

uint32_t Publish(MailboxStore& store, const std::string& who, const Bytes& signed_prekey,
                 const std::vector<Bytes>& records, Code expect = Code::kOk) {
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  std::vector<ByteView> views(records.begin(), records.end());
  auto held = batch->PublishPrekeys(who, signed_prekey, views);
  REQUIRE(held.status().code() == expect);
  REQUIRE(batch->Commit().ok());
  return held.ok() ? *held : 0;
}

ClaimedPrekeys Claim(MailboxStore& store, const std::string& who) {
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  auto claimed = batch->ClaimPrekeys(who);
  REQUIRE(claimed.ok());
  REQUIRE(batch->Commit().ok());
  return std::move(claimed).value();
}
}  // namespace

TEST_CASE("each one-time prekey is handed out once, also across a reopen, then claims go on without one",
          "[store][prekeys]") {
  StoreDir dir;
  FakeClock clock(kStart);
  {
    auto store = OpenStore(dir, clock);
    {
      auto batch = store->BeginWrite();
      REQUIRE(batch.ok());
      REQUIRE(batch->PutKeyBundle("bob/phone", Bytes(129, 0x11)).ok());
      REQUIRE(batch->Commit().ok());
    }
    CHECK(Publish(*store, "bob/phone", Bytes(100, 0xaa), {Record(3), Record(1), Record(2)}) == 3);
    const ClaimedPrekeys first = Claim(*store, "bob/phone");
    REQUIRE(first.identity_bundle);
    CHECK(*first.identity_bundle == Bytes(129, 0x11));
    REQUIRE(first.signed_prekey);
    CHECK(*first.signed_prekey == Bytes(100, 0xaa));
    REQUIRE(first.one_time_prekey);
    CHECK(*first.one_time_prekey == Record(1));
  }
  auto store = OpenStore(dir, clock);
  CHECK(*Claim(*store, "bob/phone").one_time_prekey == Record(2));
  CHECK(*Claim(*store, "bob/phone").one_time_prekey == Record(3));
  const ClaimedPrekeys exhausted = Claim(*store, "bob/phone");
  CHECK_FALSE(exhausted.one_time_prekey);
  REQUIRE(exhausted.signed_prekey);
  CHECK(*exhausted.signed_prekey == Bytes(100, 0xaa));
  // Another device's keys are its own.
  const ClaimedPrekeys other = Claim(*store, "bob/phone2");
  CHECK_FALSE(other.identity_bundle);
  CHECK_FALSE(other.signed_prekey);
  CHECK_FALSE(other.one_time_prekey);
  // An empty signed prekey keeps the stored one; a new one replaces it.
  CHECK(Publish(*store, "bob/phone", Bytes(), {Record(9)}) == 1);
  CHECK(*Claim(*store, "bob/phone").signed_prekey == Bytes(100, 0xaa));
  CHECK(Publish(*store, "bob/phone", Bytes(100, 0xbb), {}) == 0);
  CHECK(*Claim(*store, "bob/phone").signed_prekey == Bytes(100, 0xbb));
}

TEST_CASE("the relay holds a bounded number of one-time prekeys and refuses more without writing any",
          "[store][prekeys]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_one_time_prekeys = 5;
  auto store = OpenStore(dir, clock, options);
  CHECK(Publish(*store, "bob/phone", Bytes(100, 0xaa), {Record(1), Record(2), Record(2), Record(3)}) == 3);
  CHECK(Publish(*store, "bob/phone", Bytes(), {Record(3), Record(4)}) == 4);  // 3 was held already
  Publish(*store, "bob/phone", Bytes(100, 0xcc), {Record(5), Record(6)}, Code::kTooLarge);
  Publish(*store, "bob/phone", Bytes(), {Record(7), Bytes()}, Code::kInvalidArgument);
  CHECK(Publish(*store, "bob/phone", Bytes(), {}) == 4);
  std::vector<Bytes> handed_out;
  for (int i = 0; i < 6; ++i) {
    auto claimed = Claim(*store, "bob/phone");
    CHECK(*claimed.signed_prekey == Bytes(100, 0xaa));  // the refused publication changed nothing
    if (claimed.one_time_prekey) handed_out.push_back(*claimed.one_time_prekey);
  }
  CHECK(handed_out == std::vector<Bytes>{Record(1), Record(2), Record(3), Record(4)});
}

// Broadcasts (WriteBatch::PutBroadcast): one body stored once, a small copy per recipient.
namespace {

struct Recipient {
  std::string address;
  uint8_t id;
  Bytes envelope;
};

std::vector<Recipient> Recipients(size_t n, uint8_t first_id = 0) {
  std::vector<Recipient> out;
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<uint8_t>(first_id + i);
    out.push_back({"member-" + std::to_string(i) + "/1", id, Bytes(40 + i % 7, static_cast<uint8_t>(0x80 + i))});
  }
  return out;
}

Bytes BroadcastBody(size_t size, uint8_t salt = 0) {
  Bytes body(size);
  for (size_t i = 0; i < size; ++i) body[i] = static_cast<uint8_t>(i * 31 + salt);
  return body;
}

// PutBroadcast in a batch of its own, committed unless the whole broadcast failed.
Result<BroadcastOutcome> PutBroadcastOne(MailboxStore& store, const std::vector<Recipient>& recipients,
                                         const Bytes& body, int64_t expires_at = 0) {
  std::vector<BroadcastCopy> copies;
  for (const Recipient& r : recipients) copies.push_back({r.address, Id(r.id), r.envelope});
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  auto outcome = batch->PutBroadcast({expires_at, body, copies});
  if (outcome.ok()) REQUIRE(batch->Commit().ok());
  return outcome;
}

void AckOne(MailboxStore& store, const std::string& who, uint64_t seq, uint32_t expect_removed = 1) {
  auto batch = store.BeginWrite();
  REQUIRE(batch.ok());
  auto removed = batch->Ack(who, std::vector<uint64_t>{seq});
  REQUIRE(removed.ok());
  CHECK(*removed == expect_removed);
  REQUIRE(batch->Commit().ok());
}

MailboxUsage Shared(MailboxStore& store) {
  auto shared = store.SharedBodies();
  REQUIRE(shared.ok());
  return *shared;
}

}  // namespace

TEST_CASE("a broadcast body is stored once for 50 copies, and each recipient fetches its copy with the body",
          "[store][broadcast]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  REQUIRE(PutOne(*store, "member-0/1", 200, Bytes{7, 7}).ok());  // an ordinary message beside the copies
  const auto recipients = Recipients(50);
  const Bytes body = BroadcastBody(5000);
  auto outcome = PutBroadcastOne(*store, recipients, body);
  REQUIRE(outcome.ok());
  REQUIRE(outcome->size() == 50);

  const MailboxUsage shared = Shared(*store);
  CHECK(shared.messages == 1);
  CHECK(shared.bytes == body.size());

  std::vector<uint64_t> seqs;
  for (size_t i = 0; i < recipients.size(); ++i) {
    INFO("copy " << i);
    const auto& result = (*outcome)[i];
    REQUIRE(result.ok());
    CHECK_FALSE(result->duplicate);
    seqs.push_back(result->seq);
    auto items = FetchAll(*store, recipients[i].address);
    const StoredMessage* copy = nullptr;
    for (const auto& m : items) {
      if (m.seq == result->seq) copy = &m;
    }
    REQUIRE(copy != nullptr);
    CHECK(items.size() == (i == 0 ? 2u : 1u));
    CHECK(copy->message_id == Id(recipients[i].id));
    CHECK(copy->envelope == recipients[i].envelope);
    REQUIRE(copy->shared_body.has_value());
    CHECK(*copy->shared_body == body);
    CHECK(copy->stored_at == kStart);
    CHECK(copy->expires_at == result->expires_at);
  }
  // Every copy has its own sequence number; an ordinary message has no shared body.
  CHECK(std::adjacent_find(seqs.begin(), seqs.end(), [](uint64_t a, uint64_t b) { return a >= b; }) == seqs.end());
  auto first = FetchAll(*store, "member-0/1");
  REQUIRE(first.size() == 2);
  CHECK(first[0].envelope == Bytes{7, 7});
  CHECK_FALSE(first[0].shared_body.has_value());
}

TEST_CASE("a broadcast body stays until its last copy is acknowledged, then goes with it", "[store][broadcast]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  const auto recipients = Recipients(5);
  const Bytes body = BroadcastBody(1200);
  auto outcome = PutBroadcastOne(*store, recipients, body);
  REQUIRE(outcome.ok());

  // Acknowledging a copy under another recipient's address, or twice, takes no reference away.
  AckOne(*store, recipients[1].address, (*outcome)[0]->seq, 0);
  AckOne(*store, recipients[0].address, (*outcome)[0]->seq);
  AckOne(*store, recipients[0].address, (*outcome)[0]->seq, 0);
  for (size_t i = 1; i + 1 < recipients.size(); ++i) {
    AckOne(*store, recipients[i].address, (*outcome)[i]->seq);
    CHECK(Shared(*store).messages == 1);
    CHECK(Shared(*store).bytes == body.size());
  }
  const std::string& last = recipients.back().address;
  auto items = FetchAll(*store, last);
  REQUIRE(items.size() == 1);
  REQUIRE(items[0].shared_body.has_value());
  CHECK(*items[0].shared_body == body);
  for (size_t i = 0; i + 1 < recipients.size(); ++i) CHECK(FetchAll(*store, recipients[i].address).empty());

  AckOne(*store, last, items[0].seq);
  CHECK(Shared(*store).messages == 0);
  CHECK(Shared(*store).bytes == 0);
  CHECK(FetchAll(*store, last).empty());
  for (const auto& r : recipients) CHECK(store->Usage(r.address)->messages == 0);
}

TEST_CASE("a retried broadcast is a duplicate for every copy and stores no second body", "[store][broadcast][dedup]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  const auto recipients = Recipients(4);
  const Bytes body = BroadcastBody(900);
  auto first = PutBroadcastOne(*store, recipients, body);
  REQUIRE(first.ok());
  const MailboxUsage usage_before = *store->Usage(recipients[2].address);

  auto check_retry = [&](size_t expect_bodies) {
    auto retry = PutBroadcastOne(*store, recipients, body);
    REQUIRE(retry.ok());
    REQUIRE(retry->size() == recipients.size());
    for (size_t i = 0; i < recipients.size(); ++i) {
      INFO("copy " << i);
      REQUIRE((*retry)[i].ok());
      CHECK((*retry)[i]->duplicate);
      CHECK((*retry)[i]->seq == (*first)[i]->seq);
      CHECK((*retry)[i]->expires_at == (*first)[i]->expires_at);
    }
    CHECK(Shared(*store).messages == expect_bodies);
    CHECK(Shared(*store).bytes == expect_bodies * body.size());
  };
  check_retry(1);
  CHECK(store->Usage(recipients[2].address)->messages == usage_before.messages);
  CHECK(store->Usage(recipients[2].address)->bytes == usage_before.bytes);
  CHECK(FetchAll(*store, recipients[2].address).size() == 1);

  // Also after some copies were acknowledged, and after all were.
  AckOne(*store, recipients[0].address, (*first)[0]->seq);
  check_retry(1);
  for (size_t i = 1; i < recipients.size(); ++i) AckOne(*store, recipients[i].address, (*first)[i]->seq);
  CHECK(Shared(*store).messages == 0);
  check_retry(0);
  for (const auto& r : recipients) CHECK(FetchAll(*store, r.address).empty());
}

TEST_CASE("a retried broadcast with some new copies stores the body again, referred to by the new copies only",
          "[store][broadcast][dedup]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  const auto all = Recipients(5);
  const std::vector<Recipient> first_three(all.begin(), all.begin() + 3);
  const Bytes body = BroadcastBody(700);
  auto first = PutBroadcastOne(*store, first_three, body);
  REQUIRE(first.ok());
  auto retry = PutBroadcastOne(*store, all, body);
  REQUIRE(retry.ok());
  REQUIRE(retry->size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    INFO("copy " << i);
    REQUIRE((*retry)[i].ok());
    CHECK((*retry)[i]->duplicate == (i < 3));
    if (i < 3) CHECK((*retry)[i]->seq == (*first)[i]->seq);
  }
  CHECK(Shared(*store).messages == 2);
  CHECK(Shared(*store).bytes == 2 * body.size());
  for (const auto& r : all) {
    auto items = FetchAll(*store, r.address);
    REQUIRE(items.size() == 1);
    REQUIRE(items[0].shared_body.has_value());
    CHECK(*items[0].shared_body == body);
  }

  // The second body has exactly the two new copies: it goes with the second of them, while
  // the first body (three references) stays until its own copies are gone.
  AckOne(*store, all[3].address, (*retry)[3]->seq);
  CHECK(Shared(*store).messages == 2);
  AckOne(*store, all[4].address, (*retry)[4]->seq);
  CHECK(Shared(*store).messages == 1);
  AckOne(*store, all[0].address, (*first)[0]->seq);
  AckOne(*store, all[1].address, (*first)[1]->seq);
  CHECK(Shared(*store).messages == 1);
  auto last = FetchAll(*store, all[2].address);
  REQUIRE(last.size() == 1);
  CHECK(*last[0].shared_body == body);
  AckOne(*store, all[2].address, (*first)[2]->seq);
  CHECK(Shared(*store).messages == 0);
  CHECK(Shared(*store).bytes == 0);
}

TEST_CASE("a full mailbox refuses its copy alone, and the other copies are stored", "[store][broadcast][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_mailbox_messages = 2;
  auto store = OpenStore(dir, clock, options);
  REQUIRE(PutOne(*store, "full/1", 1, Bytes{1}).ok());
  REQUIRE(PutOne(*store, "full/1", 2, Bytes{2}).ok());
  std::vector<Recipient> recipients = {
      {"a/1", 10, Bytes(50, 0xa1)}, {"full/1", 11, Bytes(50, 0xf1)}, {"b/1", 12, Bytes(50, 0xb1)}};
  const Bytes body = BroadcastBody(600);
  auto outcome = PutBroadcastOne(*store, recipients, body);
  REQUIRE(outcome.ok());
  REQUIRE(outcome->size() == 3);
  REQUIRE((*outcome)[0].ok());
  CHECK((*outcome)[1].status().code() == Code::kMailboxFull);
  REQUIRE((*outcome)[2].ok());

  CHECK(Shared(*store).messages == 1);
  auto full = FetchAll(*store, "full/1");
  REQUIRE(full.size() == 2);
  CHECK_FALSE(full[0].shared_body.has_value());
  CHECK_FALSE(full[1].shared_body.has_value());
  CHECK(store->Usage("full/1")->messages == 2);
  CHECK(store->Usage("full/1")->bytes == 2);
  for (size_t i : {size_t{0}, size_t{2}}) {
    auto items = FetchAll(*store, recipients[i].address);
    REQUIRE(items.size() == 1);
    CHECK(items[0].envelope == recipients[i].envelope);
    CHECK(*items[0].shared_body == body);
  }
  // The body has the two stored copies, not three: it goes with the second acknowledgement.
  AckOne(*store, "a/1", (*outcome)[0]->seq);
  CHECK(Shared(*store).messages == 1);
  AckOne(*store, "b/1", (*outcome)[2]->seq);
  CHECK(Shared(*store).messages == 0);

  // The refused copy was not recorded: once the mailbox has room, its retry is stored.
  AckOne(*store, "full/1", full[0].seq);
  auto retry = PutBroadcastOne(*store, recipients, body);
  REQUIRE(retry.ok());
  REQUIRE((*retry)[1].ok());
  CHECK_FALSE((*retry)[1]->duplicate);
  CHECK((*retry)[0]->duplicate);
  CHECK((*retry)[2]->duplicate);
  CHECK(Shared(*store).messages == 1);
}

TEST_CASE("a broadcast whose every copy is refused stores no body", "[store][broadcast][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_mailbox_messages = 1;
  auto store = OpenStore(dir, clock, options);
  REQUIRE(PutOne(*store, "a/1", 1, Bytes{1}).ok());
  REQUIRE(PutOne(*store, "b/1", 1, Bytes{1}).ok());
  std::vector<Recipient> recipients = {{"a/1", 10, Bytes(50, 1)}, {"b/1", 11, Bytes(50, 2)}, {"", 12, Bytes(50, 3)}};
  auto outcome = PutBroadcastOne(*store, recipients, BroadcastBody(300));
  REQUIRE(outcome.ok());
  CHECK((*outcome)[0].status().code() == Code::kMailboxFull);
  CHECK((*outcome)[1].status().code() == Code::kMailboxFull);
  CHECK((*outcome)[2].status().code() == Code::kInvalidArgument);
  CHECK(Shared(*store).messages == 0);

  // Expired copies are refused one by one as well.
  auto expired = PutBroadcastOne(*store, Recipients(2), BroadcastBody(300), kStart - 1);
  REQUIRE(expired.ok());
  CHECK((*expired)[0].status().code() == Code::kExpired);
  CHECK((*expired)[1].status().code() == Code::kExpired);
  CHECK(Shared(*store).messages == 0);
}

TEST_CASE("a broadcast copy is charged its envelope plus the body against the mailbox quota",
          "[store][broadcast][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.max_mailbox_bytes = 1000;
  auto store = OpenStore(dir, clock, options);
  REQUIRE(PutOne(*store, "a/1", 1, Bytes(30, 1)).ok());
  std::vector<Recipient> recipients = {{"a/1", 10, Bytes(60, 0xa1)}, {"b/1", 11, Bytes(70, 0xb1)}};
  const Bytes body = BroadcastBody(800);
  auto outcome = PutBroadcastOne(*store, recipients, body);
  REQUIRE(outcome.ok());
  REQUIRE((*outcome)[0].ok());
  REQUIRE((*outcome)[1].ok());
  CHECK(store->Usage("a/1")->messages == 2);
  CHECK(store->Usage("a/1")->bytes == 30 + 60 + 800);
  CHECK(store->Usage("b/1")->messages == 1);
  CHECK(store->Usage("b/1")->bytes == 70 + 800);

  // The body counts against the byte quota: 890 + 20 + 800 > 1000, though 890 + 20 would fit.
  std::vector<Recipient> again = {{"a/1", 20, Bytes(20, 0xa2)}};
  auto refused = PutBroadcastOne(*store, again, body);
  REQUIRE(refused.ok());
  CHECK((*refused)[0].status().code() == Code::kMailboxFull);
  CHECK(PutOne(*store, "a/1", 21, Bytes(20, 0xa3)).ok());  // an envelope of that size alone fits

  // An acknowledgement gives back what the copy was charged.
  AckOne(*store, "a/1", (*outcome)[0]->seq);
  CHECK(store->Usage("a/1")->messages == 2);
  CHECK(store->Usage("a/1")->bytes == 30 + 20);
  AckOne(*store, "b/1", (*outcome)[1]->seq);
  CHECK(store->Usage("b/1")->messages == 0);
  CHECK(store->Usage("b/1")->bytes == 0);
  CHECK(Shared(*store).messages == 0);
}

TEST_CASE("expired broadcast copies are swept, and the body with the last of them", "[store][broadcast][expiry]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  const auto recipients = Recipients(4);
  const Bytes body = BroadcastBody(2000);
  auto outcome = PutBroadcastOne(*store, recipients, body, kStart + 10 * kMicrosPerSecond);
  REQUIRE(outcome.ok());
  REQUIRE(PutOne(*store, "other/1", 1, Bytes{1}, kStart + 100 * kMicrosPerSecond).ok());
  AckOne(*store, recipients[0].address, (*outcome)[0]->seq);  // one copy acknowledged before expiry

  clock.Advance(11 * kMicrosPerSecond);
  for (const auto& r : recipients) CHECK(FetchAll(*store, r.address).empty());  // expired: not delivered
  CHECK(Shared(*store).messages == 1);                                         // but not yet swept

  // In the dedup table's order (id, then mailbox) come the acknowledged copy's record, a pending
  // copy, other/1's message (not yet expired) and a second pending copy: three expired entries,
  // and the body keeps one reference. The next call goes on after them.
  auto swept = store->SweepExpired(3);
  REQUIRE(swept.ok());
  CHECK(*swept == 2);
  CHECK(Shared(*store).messages == 1);
  swept = store->SweepExpired(100);
  REQUIRE(swept.ok());
  CHECK(*swept == 1);
  CHECK(Shared(*store).messages == 0);
  CHECK(Shared(*store).bytes == 0);
  for (const auto& r : recipients) {
    CHECK(store->Usage(r.address)->messages == 0);
    CHECK(store->Usage(r.address)->bytes == 0);
  }
  CHECK(FetchAll(*store, "other/1").size() == 1);
  // The dedup records went with the copies: the same broadcast may be stored anew.
  auto again = PutBroadcastOne(*store, recipients, body);
  REQUIRE(again.ok());
  for (const auto& r : *again) {
    REQUIRE(r.ok());
    CHECK_FALSE(r->duplicate);
  }
  CHECK(Shared(*store).messages == 1);
}

TEST_CASE("a broadcast without a body is refused and stores nothing", "[store][broadcast]") {
  StoreDir dir;
  FakeClock clock(kStart);
  auto store = OpenStore(dir, clock);
  const auto recipients = Recipients(3);
  std::vector<BroadcastCopy> copies;
  for (const Recipient& r : recipients) copies.push_back({r.address, Id(r.id), r.envelope});
  auto batch = store->BeginWrite();
  REQUIRE(batch.ok());
  auto outcome = batch->PutBroadcast({0, ByteView(), copies});
  CHECK(outcome.status().code() == Code::kInvalidArgument);
  REQUIRE(batch->Commit().ok());  // the refusal wrote nothing: the batch stays usable
  CHECK(Shared(*store).messages == 0);
  for (const auto& r : recipients) {
    CHECK(FetchAll(*store, r.address).empty());
    CHECK(store->Usage(r.address)->messages == 0);
  }
  // The copies' ids were not recorded.
  auto later = PutBroadcastOne(*store, recipients, BroadcastBody(10));
  REQUIRE(later.ok());
  for (const auto& r : *later) CHECK_FALSE(r->duplicate);
}

TEST_CASE("a broadcast that does not fit the map is refused whole with StoreFull", "[store][broadcast][full]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.map_size_bytes = 1 << 20;  // 1 MiB
  auto store = OpenStore(dir, clock, options);
  const auto recipients = Recipients(3);

  SECTION("a body larger than the map") {
    auto outcome = PutBroadcastOne(*store, recipients, BroadcastBody(2 << 20));
    CHECK(outcome.status().code() == Code::kStoreFull);
  }
  SECTION("a map filled by earlier messages") {
    const Bytes envelope(32 * 1024, 0x5a);
    for (int i = 0; i < 100; ++i) {
      auto batch = store->BeginWrite();
      REQUIRE(batch.ok());
      auto put = batch->Put({"filler/1", Id(static_cast<uint8_t>(i)), 0, envelope});
      if (!put.ok()) {
        REQUIRE(put.status().code() == Code::kStoreFull);
        break;
      }
      REQUIRE(batch->Commit().ok());
    }
    auto outcome = PutBroadcastOne(*store, recipients, BroadcastBody(32 * 1024));
    CHECK(outcome.status().code() == Code::kStoreFull);
  }
  // The aborted broadcast left nothing behind.
  CHECK(Shared(*store).messages == 0);
  for (const auto& r : recipients) {
    CHECK(FetchAll(*store, r.address).empty());
    CHECK(store->Usage(r.address)->messages == 0);
  }
}

TEST_CASE("a retried broadcast is recognised on a full map, as a retried send is", "[store][broadcast][full]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.map_size_bytes = 1 << 20;
  options.max_mailbox_bytes = 40 * 1024;
  auto store = OpenStore(dir, clock, options);
  const auto recipients = Recipients(3);
  const Bytes body = BroadcastBody(32 * 1024);
  auto first = PutBroadcastOne(*store, recipients, body);
  REQUIRE(first.ok());
  REQUIRE(PutOne(*store, "solo/1", 1, Bytes(100, 1)).ok());
  const Bytes envelope(32 * 1024, 0x5a);
  bool full = false;
  for (int i = 0; i < 100 && !full; ++i) {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    auto put = batch->Put({"filler-" + std::to_string(i) + "/1", Id(1), 0, envelope});
    if (!put.ok()) {
      REQUIRE(put.status().code() == Code::kStoreFull);
      full = true;
    } else {
      REQUIRE(batch->Commit().ok());
    }
  }
  REQUIRE(full);
  // The store has no room for a body, but the retry needs none.
  CHECK(PutOne(*store, "solo/1", 1, Bytes(100, 1))->duplicate);
  auto retry = PutBroadcastOne(*store, recipients, body);
  INFO(retry.status().ToString());
  REQUIRE(retry.ok());
  for (size_t i = 0; i < recipients.size(); ++i) {
    REQUIRE((*retry)[i].ok());
    CHECK((*retry)[i]->duplicate);
    CHECK((*retry)[i]->seq == (*first)[i]->seq);
  }
  CHECK(Shared(*store).messages == 1);
  // A broadcast none of whose copies would be stored needs no room either: its copy is refused
  // for the mailbox quota (100 + 100 + 40 KiB > 40 KiB), not the whole broadcast for the map.
  std::vector<Recipient> over_quota = {{"solo/1", 50, Bytes(100, 2)}};
  auto refused = PutBroadcastOne(*store, over_quota, BroadcastBody(40 * 1024));
  INFO(refused.status().ToString());
  REQUIRE(refused.ok());
  CHECK((*refused)[0].status().code() == Code::kMailboxFull);
  // One that would store a copy is refused whole.
  std::vector<Recipient> fits_quota = {{"solo/1", 51, Bytes(100, 3)}};
  CHECK(PutBroadcastOne(*store, fits_quota, BroadcastBody(32 * 1024)).status().code() == Code::kStoreFull);
  CHECK(Shared(*store).messages == 1);
}

TEST_CASE("broadcast bodies and their copies survive closing and reopening the store", "[store][broadcast]") {
  StoreDir dir;
  FakeClock clock(kStart);
  const auto recipients = Recipients(6);
  const Bytes body = BroadcastBody(3000, 7);
  BroadcastOutcome first;
  {
    auto store = OpenStore(dir, clock);
    auto outcome = PutBroadcastOne(*store, recipients, body);
    REQUIRE(outcome.ok());
    first = std::move(outcome).value();
    AckOne(*store, recipients[0].address, first[0]->seq);
    // An uncommitted broadcast is lost with the process.
    const Bytes late_envelope(10, 1);  // BroadcastCopy::envelope is a view: keep the bytes alive
    std::vector<BroadcastCopy> copies = {{"late/1", Id(99), late_envelope}};
    auto uncommitted = store->BeginWrite();
    REQUIRE(uncommitted.ok());
    REQUIRE(uncommitted->PutBroadcast({0, BroadcastBody(500, 9), copies}).ok());
  }
  auto store = OpenStore(dir, clock);
  CHECK(Shared(*store).messages == 1);
  CHECK(Shared(*store).bytes == body.size());
  CHECK(FetchAll(*store, "late/1").empty());
  CHECK(FetchAll(*store, recipients[0].address).empty());
  for (size_t i = 1; i < recipients.size(); ++i) {
    auto items = FetchAll(*store, recipients[i].address);
    REQUIRE(items.size() == 1);
    CHECK(items[0].seq == first[i]->seq);
    CHECK(items[0].envelope == recipients[i].envelope);
    REQUIRE(items[0].shared_body.has_value());
    CHECK(*items[0].shared_body == body);
    CHECK(store->Usage(recipients[i].address)->bytes == recipients[i].envelope.size() + body.size());
  }
  // The reference count survived too: the body goes with the last acknowledgement after the reopen.
  auto retry = PutBroadcastOne(*store, recipients, body);
  REQUIRE(retry.ok());
  for (const auto& r : *retry) CHECK(r->duplicate);
  for (size_t i = 1; i < recipients.size(); ++i) {
    CHECK(Shared(*store).messages == 1);
    AckOne(*store, recipients[i].address, first[i]->seq);
  }
  CHECK(Shared(*store).messages == 0);
  // Sequence numbers keep increasing past the body ids too.
  auto later = PutOne(*store, "a/1", 1, Bytes{1});
  REQUIRE(later.ok());
  CHECK(later->seq > first.back()->seq);
}

TEST_CASE("a broadcast refused with StoreFull wrote nothing, even if its batch is committed after all",
          "[store][broadcast][full]") {
  StoreDir dir;
  FakeClock clock(kStart);
  MailboxStoreOptions options;
  options.map_size_bytes = 1 << 20;  // 1 MiB: the first copies fit, the last ones do not
  auto store = OpenStore(dir, clock, options);
  REQUIRE(PutOne(*store, "before/1", 1, Bytes(100, 1)).ok());
  std::vector<Recipient> recipients;
  for (size_t i = 0; i < 20; ++i) {
    recipients.push_back({"big-" + std::to_string(i) + "/1", static_cast<uint8_t>(i), Bytes(64 * 1024, 0x40)});
  }
  std::vector<BroadcastCopy> copies;
  for (const Recipient& r : recipients) copies.push_back({r.address, Id(r.id), r.envelope});
  {
    auto batch = store->BeginWrite();
    REQUIRE(batch.ok());
    auto outcome = batch->PutBroadcast({0, BroadcastBody(1000), copies});
    REQUIRE(outcome.status().code() == Code::kStoreFull);
    // The contract says to abort; a caller that commits anyway must not get half a broadcast
    // whose copies refer to a body that was never written.
    auto after = batch->Put({"after/1", Id(2), 0, Bytes(100, 2)});
    REQUIRE(after.ok());
    REQUIRE(batch->Commit().ok());
  }
  CHECK(Shared(*store).messages == 0);
  for (const auto& r : recipients) {
    bool more = false;
    auto items = store->Fetch(r.address, 0, 100, 1 << 30, &more);
    INFO(r.address << ": " << items.status().ToString());
    REQUIRE(items.ok());
    CHECK(items->empty());
    CHECK(store->Usage(r.address)->messages == 0);
  }
  CHECK(FetchAll(*store, "after/1").size() == 1);
  clock.Advance(31ll * 86400 * kMicrosPerSecond);
  auto swept = store->SweepExpired(1000);
  INFO(swept.status().ToString());
  REQUIRE(swept.ok());
  CHECK(*swept == 2);
}

TEST_CASE("each mailbox's usage is added up from the index at open: after a reopen it is what it was",
          "[store][mailbox][quota]") {
  StoreDir dir;
  FakeClock clock(kStart);
  const auto recipients = Recipients(3);
  const Bytes body = BroadcastBody(500);
  MailboxUsage before_a, before_member;
  {
    auto store = OpenStore(dir, clock);
    REQUIRE(PutOne(*store, "a/1", 1, Bytes(10, 1)).ok());
    auto second = PutOne(*store, "a/1", 2, Bytes(20, 2));
    REQUIRE(second.ok());
    REQUIRE(PutOne(*store, "a/1", 3, Bytes(30, 3)).ok());
    AckOne(*store, "a/1", second->seq);
    REQUIRE(PutBroadcastOne(*store, recipients, body).ok());
    before_a = *store->Usage("a/1");
    before_member = *store->Usage(recipients[1].address);
  }
  CHECK(before_a.messages == 2);
  CHECK(before_a.bytes == 40);
  CHECK(before_member.messages == 1);
  CHECK(before_member.bytes == recipients[1].envelope.size() + body.size());  // a copy is charged its body
  auto store = OpenStore(dir, clock);
  CHECK(store->Usage("a/1")->messages == before_a.messages);
  CHECK(store->Usage("a/1")->bytes == before_a.bytes);
  CHECK(store->Usage(recipients[1].address)->messages == before_member.messages);
  CHECK(store->Usage(recipients[1].address)->bytes == before_member.bytes);
  CHECK(store->Usage("nobody/1")->messages == 0);
}

TEST_CASE("an index record not of the store's layout makes Open fail with kCorruption", "[store][mailbox][corruption]") {
  StoreDir dir;
  FakeClock clock(kStart);
  {
    auto store = OpenStore(dir, clock);
    REQUIRE(PutOne(*store, "a/1", 1, Bytes{1}).ok());
    // An index value of 3 bytes instead of the charged size's 4, as a damaged disk might hold it.
    auto txn = Txn::BeginWrite(store->env());
    REQUIRE(txn.ok());
    auto index = txn->OpenDb("index");
    REQUIRE(index.ok());
    Bytes key{3, 'a', '/', '1'};
    key.resize(4 + 8, 0);
    key.back() = 200;
    REQUIRE(txn->Put(*index, key, Bytes(3, 0)).ok());
    REQUIRE(txn->Commit().ok());
  }
  MailboxStoreOptions options;
  options.path = dir.path;
  auto reopened = MailboxStore::Open(options, clock);
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.status().code() == Code::kCorruption);
  CHECK_THAT(reopened.status().ToString(), Catch::Contains("index record"));
}
