#include <catch2/catch.hpp>

#include <filesystem>

#include "base/clock.h"
#include "store/mailbox_store.h"

using namespace liaison;
using namespace liaison::store;

namespace {

constexpr int64_t kStart = 1'800'000'000ll * kMicrosPerSecond;

struct StoreDir {
  std::string path;
  StoreDir() {
    path = (std::filesystem::temp_directory_path() / ("liaison-store-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(reinterpret_cast<uintptr_t>(this))))
               .string();
    std::filesystem::remove_all(path);
  }
  ~StoreDir() { std::filesystem::remove_all(path); }
};

MessageId Id(uint8_t n) {
  MessageId id{};
  id[0] = n;
  return id;
}

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
  for (unsigned flag : {unsigned{MDB_NOSYNC}, unsigned{MDB_NOMETASYNC}, unsigned{MDB_WRITEMAP}}) {
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
