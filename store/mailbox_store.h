// The relay's durable mailboxes in LMDB (docs/architecture.md, "Store").
//
// Tables:
//   bodies : seq:u64be -> mailbox | message_id:16 | stored_at:u64be | expires_at:u64be | envelope
//            (appended under a global increasing sequence: pages fill sequentially)
//   index  : mailbox | seq:u64be -> charged_size:u32be   (small per-mailbox queue entries; the
//            bytes the quota holds for it: the envelope, plus the body for a broadcast copy. A
//            mailbox's usage, its count and bytes, is the sum of its index entries: Open() adds
//            them up once, and the store keeps them in memory from then on)
//   dedup_by_id : message_id | mailbox -> seq:u64be | expires_at:u64be  (a retry is stored once;
//            ids begin with their creation time, so new records append at the table's end. Open()
//            moves the records of a store written before, when the table was "dedup" under
//            mailbox | message_id)
//   keys   : address -> key bundle
//   spk    : address -> signed prekey record (opaque; replaced by each publication)
//   otk    : mailbox | one-time prekey record -> "" (opaque records; each handed out once)
//   meta   : "next_seq" -> u64be, "pages_released_at" -> u64be (see ReleaseFreedPages)
//   shared : body_id:u64be -> refs:u32be | body   (a broadcast body, stored once; appended)
//   refs   : seq:u64be -> body_id:u64be            (the copy at seq is delivered with that body)
// where mailbox = u8 length | address. Entries leave `bodies` and `index` (and `refs`) when the recipient
// acknowledges them or they expire; a shared body leaves when its last copy did; `dedup_by_id` entries stay until expiry so that a
// retry arriving after the acknowledgement is recognised rather than delivered again. The sweep
// finds expired messages by walking `dedup_by_id` (its values hold each message's seq and expiry):
// a store written before kept a table "expiry" (expires_at | seq -> mailbox | message_id) for it,
// and a table "quota" (mailbox -> count:u64be | bytes:u64be) of the usage, which Open() drops.
//
// Writes go through a WriteBatch: many sends and acknowledgements in one durable commit (group
// commit). Nothing is visible to readers, and nothing may be acknowledged to a sender, before
// WriteBatch::Commit() returned OK.
//
// Thread-safety: one WriteBatch exists at a time (BeginWrite waits for the previous one to end);
// Fetch, Usage and the other reads may run on any thread.
#ifndef LIAISON_STORE_MAILBOX_STORE_H_
#define LIAISON_STORE_MAILBOX_STORE_H_

#include <functional>
#include <algorithm>
#include <array>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "liaison/status.h"
#include "store/lmdb.h"

namespace liaison::store {

using MessageId = std::array<uint8_t, 16>;

struct MailboxStoreOptions {
  std::string path;                                  // directory of the LMDB environment
  // The store refuses sends (kStoreFull) before they would use the last 2% of the map (at least
  // 32 pages): deleting needs fresh copy-on-write pages too, and a map filled to the last page
  // could no longer take the acknowledgements that would drain it.
  size_t map_size_bytes = 1ull << 30;
  uint64_t max_mailbox_messages = 100'000;           // per recipient device
  uint64_t max_mailbox_bytes = 512ull << 20;         // envelope bytes (a broadcast copy: + body) per device
  int64_t default_ttl_micros = 30ll * 86400 * kMicrosPerSecond;
  int64_t max_ttl_micros = 90ll * 86400 * kMicrosPerSecond;
  uint64_t max_one_time_prekeys = 200;               // held per device (wire::kMaxOneTimePrekeysHeld)
  unsigned test_extra_env_flags = 0;                 // TEST_ONLY, see EnvOptions
  // Open() moves a store's dedup records from the mailbox-first layout in durable commits of
  // this many records each.
  size_t migration_records_per_commit = 10'000;
  // SweepExpired() looks at this many dedup records per call at most, or at more if a pass over
  // the whole table would otherwise take more than sweep_calls_per_pass calls (see there).
  size_t sweep_records_per_call = 4'096;
  size_t sweep_calls_per_pass = 3'600;
  // Given every write transaction's effects before it commits (EnvOptions::before_commit);
  // empty by default. The tests replay them.
  std::function<Status(ByteView effects)> before_commit;
  // The write-ahead log in front of LMDB (EnvOptions::write_ahead_log); off by default.
  CommitLogOptions write_ahead_log;
};

struct PutRequest {
  std::string recipient;   // 1..64 bytes
  MessageId message_id{};
  int64_t expires_at = 0;  // 0 = now + default TTL; clamped to now + max TTL
  ByteView envelope;       // copied into the store
};

struct PutResult {
  uint64_t seq = 0;
  bool duplicate = false;  // already stored (or stored and since acknowledged) under this id
  int64_t expires_at = 0;
};

struct StoredMessage {
  uint64_t seq = 0;
  MessageId message_id{};
  int64_t stored_at = 0;
  int64_t expires_at = 0;
  Bytes envelope;
  std::optional<Bytes> shared_body;  // set for a broadcast copy: the body it is delivered with
};

// One recipient's copy of a broadcast.
struct BroadcastCopy {
  std::string recipient;   // 1..64 bytes
  MessageId message_id{};
  ByteView envelope;       // copied into the store
};

struct BroadcastPut {
  int64_t expires_at = 0;  // as PutRequest::expires_at, for every copy
  ByteView body;           // stored once, if any copy is stored
  std::span<const BroadcastCopy> copies;
};

// Per copy, in order: its PutResult, or the refusal of that copy alone (kInvalidArgument,
// kExpired, kMailboxFull).
using BroadcastOutcome = std::vector<Result<PutResult>>;

// What CLAIM_PREKEYS hands out for one device. Absent parts were never published (or, for the
// one-time prekey, are all used up).
struct ClaimedPrekeys {
  std::optional<Bytes> identity_bundle;
  std::optional<Bytes> signed_prekey;
  std::optional<Bytes> one_time_prekey;
};

struct MailboxUsage {
  uint64_t messages = 0;
  uint64_t bytes = 0;
};

// Usage per mailbox key, looked up by a ByteView without a copy.
struct ByteViewHash {
  using is_transparent = void;
  size_t operator()(ByteView bytes) const {
    return std::hash<std::string_view>()(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
};
struct ByteViewEqual {
  using is_transparent = void;
  bool operator()(ByteView a, ByteView b) const { return std::ranges::equal(a, b); }
};
using UsageByMailbox = std::unordered_map<Bytes, MailboxUsage, ByteViewHash, ByteViewEqual>;

class MailboxStore;

// One write transaction. Destroying it uncommitted aborts everything it did.
class WriteBatch {
 public:
  WriteBatch(WriteBatch&&) noexcept = default;
  // Stores one envelope. Errors: kInvalidArgument (empty or long address), kExpired (expires_at
  // already past), kMailboxFull (count or bytes quota), kStoreFull (map full: this batch can no
  // longer commit; abort it and retry its parts in smaller batches), kIoError.
  Result<PutResult> Put(const PutRequest& request);
  // Deletes the recipient's pending entries with these sequence numbers; unknown ones (already
  // acknowledged, expired, or another mailbox's) are ignored. Returns how many were deleted.
  Result<uint32_t> Ack(std::string_view recipient, std::span<const uint64_t> seqs);
  // Stores a broadcast: the body once (only if at least one copy is new), and each copy in its
  // recipient's mailbox as Put() would, referring to the body; a copy's quota is charged its
  // envelope plus the body. A retried copy (same recipient and message id) is a duplicate and
  // takes no new reference. Errors for the whole broadcast: kInvalidArgument (an empty body),
  // kStoreFull (only if some copy would be stored; refused before anything of the broadcast was
  // written; abort the batch, as for Put), kIoError, kCorruption.
  Result<BroadcastOutcome> PutBroadcast(const BroadcastPut& broadcast);
  Status PutKeyBundle(std::string_view address, ByteView bundle);
  // Replaces the device's signed prekey record (unless `signed_prekey` is empty) and adds the
  // one-time prekey records not held already; returns how many one-time prekeys the device now
  // has. Errors: kInvalidArgument (bad address, an empty record), kTooLarge (more than
  // max_one_time_prekeys would be held; nothing is written), kStoreFull, kIoError.
  Result<uint32_t> PublishPrekeys(std::string_view address, ByteView signed_prekey,
                                  std::span<const ByteView> one_time_prekeys);
  // The device's identity bundle, signed prekey and its first one-time prekey, which is deleted
  // (in this batch: it is gone for good once Commit() returned). kInvalidArgument for a bad address.
  Result<ClaimedPrekeys> ClaimPrekeys(std::string_view address);
  // Stores roster epoch `number` (signed bytes, opaque here) after the newest one held.
  // kConflict unless `number` is exactly the newest number + 1 (1 for the first); kStoreFull,
  // kIoError. Verifying the signature and the chain is the caller's job (roster/roster.h).
  Status AppendRosterEpoch(uint64_t number, ByteView signed_epoch);
  // Makes everything durable (fsync) and visible. The batch is unusable afterwards.
  Status Commit();

 private:
  friend class MailboxStore;
  WriteBatch(MailboxStore* store, std::unique_lock<std::mutex> writer, Txn txn)
      : store_(store), writer_(std::move(writer)), txn_(std::move(txn)) {}
  // `mailbox` is the key of a checked address (at most 1 + 64 bytes).
  Status DeleteEntry(ByteView mailbox, uint64_t seq, bool* deleted);
  // Put() at time `now`: checks (address, expiry, dedup, quota, room), then WriteEntry and the quota.
  Result<PutResult> PutEntry(const PutRequest& request, int64_t now);
  // Writes one checked entry (body, index, dedup; with `body_id` != 0 the reference to
  // that shared body) under a fresh seq, which it returns. The caller updates the quota.
  Result<uint64_t> WriteEntry(ByteView mailbox, ByteView dedup_key, const MessageId& message_id, ByteView envelope,
                              uint32_t charged_bytes, int64_t expires_at, int64_t now, uint64_t body_id);
  Result<uint64_t> NextSeq();
  // The mailbox's usage as this batch has it: as SetUsage left it, else as committed. SetUsage
  // records the value after this batch's writes; Commit() hands the changed values to the store.
  MailboxUsage UsageOf(ByteView mailbox) const;
  void SetUsage(ByteView mailbox, MailboxUsage usage);
  // kStoreFull if storing `envelope_bytes` more would leave fewer than the reserved pages free.
  Status CheckRoom(size_t envelope_bytes);
  // CheckRoom for several puts at once: all of them are claimed, or none.
  Status ClaimRoom(std::span<const size_t> envelope_sizes);
  MailboxStore* store_;
  std::unique_lock<std::mutex> writer_;  // the store's writer lock, held until the batch ends
  Txn txn_;
  std::optional<uint64_t> next_seq_;
  UsageByMailbox usage_;  // the mailboxes this batch changed: their usage after it
  std::optional<uint64_t> room_pages_;  // free pages when the batch began (estimate)
  uint64_t pages_claimed_ = 0;          // estimated pages the batch's puts use
  uint64_t page_size_ = 4096;
  uint64_t reserve_pages_ = 0;
};

class MailboxStore {
 public:
  // Opens or creates the store, upgrading a store written before:
  //  - moves any dedup records of the mailbox-first layout to their id-first keys; an old record
  //    that is not well-formed is moved as it is into the table "dedup_damaged" (its message is
  //    then no longer recognised as a retry);
  //  - drops the tables "expiry" and "quota", in one commit: every record of them repeats what a
  //    dedup record or the index holds, and nothing reads them any more; first, a message with
  //    an expiry record but no dedup record (an older layout's record the move set aside) gets
  //    its dedup record from the expiry record, so that the sweep still finds it;
  // and then adds up each mailbox's usage from the index (one read of every index record).
  // Errors: Env::Open's; kStoreFull (raise the map size: what was not yet moved or dropped stays
  // where it was), kIoError; kCorruption (an index record not of this store's layout). An upgrade cut short by a crash or an error goes on at the next
  // Open(); it is one-way (an older build would not see the moved records, and would not sweep
  // the messages stored without an expiry record). `clock` must outlive the store.
  static Result<std::unique_ptr<MailboxStore>> Open(const MailboxStoreOptions& options, Clock& clock);
  // How many dedup records Open() moved from the mailbox-first layout, how many of the old
  // records it found damaged and kept aside, and the tables it dropped, each with the number of
  // records it held.
  size_t dedup_records_migrated_at_open() const { return dedup_records_migrated_; }
  // How many dedup records not of this store's layout SweepExpired() has set aside since Open().
  size_t dedup_records_set_aside() const { return dedup_records_set_aside_; }
  size_t dedup_records_damaged_at_open() const { return dedup_records_damaged_; }
  const std::vector<std::pair<std::string, size_t>>& tables_dropped_at_open() const { return tables_dropped_; }
  size_t dedup_records_restored_at_open() const { return dedup_records_restored_; }
  // Expiry records dropped whose message id was stored again under a newer seq after the old
  // dedup record was set aside: those older copies have no record the sweep reads, and stay
  // until acknowledged.
  size_t messages_left_unswept_at_open() const { return messages_left_unswept_; }

  // The store's one write batch; waits until the previous one (of any thread) has ended. A
  // thread that holds a batch and asks for another deadlocks, as LMDB would.
  Result<WriteBatch> BeginWrite();

  // Up to `max_items` pending messages of `recipient` with seq > after_seq, stopping before the
  // envelopes (with their shared bodies) exceed `max_bytes` (at least one is returned if any is pending and max_items > 0). `*more` tells
  // whether more remain after the last returned. Expired messages not yet swept are skipped.
  Result<std::vector<StoredMessage>> Fetch(std::string_view recipient, uint64_t after_seq, size_t max_items,
                                           size_t max_bytes, bool* more);
  Result<MailboxUsage> Usage(std::string_view recipient);
  Result<std::optional<Bytes>> GetKeyBundle(std::string_view address);
  // The number of the newest roster epoch held, 0 if none.
  Result<uint64_t> NewestRosterEpoch();
  // The signed bytes of roster epoch `number`, nullopt if not held.
  Result<std::optional<Bytes>> RosterEpoch(uint64_t number);

  // Deletes up to `max_entries` expired entries (messages and their dedup records) in one commit,
  // found by walking the dedup table in key order from where the previous call of this store
  // object stopped. A call looks at L = max(sweep_records_per_call, records held /
  // sweep_calls_per_pass) records at most, and stops after the last one it looked at, or after
  // the one that made `max_entries` expired entries; the call after one that looked at the
  // table's last record starts again at its beginning. So, while a call finds fewer than
  // `max_entries` expired entries in its slice, a pass over the table takes at most about
  // sweep_calls_per_pass calls (fewer for a table of under sweep_records_per_call x
  // sweep_calls_per_pass records), an expired message leaves within one pass (not in expiry
  // order), and a call reads L records; a backlog of expired entries leaves at `max_entries` a
  // call. A record not of this store's layout is moved as it is to
  // the table "dedup_damaged" (counted in dedup_records_set_aside()) and the walk goes on.
  // Returns how many pending messages were removed unacknowledged. Errors: kCorruption (an
  // expired message whose index and body disagree: nothing is deleted), kStoreFull, kIoError;
  // after an error the next call starts where this one did. Calls from one thread at a time.
  Result<size_t> SweepExpired(size_t max_entries);

  // The expiry a put at `now` with `requested` (0: the default TTL) gets, clamped to the
  // maximum TTL. A put is refused (kExpired) if that is not after `now`.
  int64_t ExpiresAt(int64_t requested, int64_t now) const;

  // How many broadcast bodies the store holds, and their bytes (for tests and `status`).
  Result<MailboxUsage> SharedBodies();

  // LMDB reuses pages freed by a commit only in transactions that start after a later commit
  // (readers of the freeing snapshot might still need them). After acknowledgements drained a
  // full map, this commits a trivial write so that the freed pages become usable (with the
  // write-ahead log on, and a checkpoint of it, which ends the older checkpoints' pins). Call it when
  // a write failed with kStoreFull, then retry once.
  Status ReleaseFreedPages();

  Env& env() { return *env_; }
  Clock& clock() { return clock_; }

 private:
  friend class WriteBatch;
  MailboxStore(std::unique_ptr<Env> env, const MailboxStoreOptions& options, Clock& clock)
      : env_(std::move(env)), options_(options), clock_(clock) {}
  Status OpenTables();
  // The steps that Open() describes.
  Status MigrateMailboxFirstDedup();
  Status DropUnusedTables();
  // Part of DropUnusedTables, in its transaction: each expiry record whose message has no dedup
  // record gives it one (counted in dedup_records_restored_); one whose id has a dedup record
  // under another seq is counted in messages_left_unswept_.
  Status RestoreDedupFromExpiry(Txn& txn, MDB_dbi expiry);
  Status LoadUsage();
  // Makes a committed batch's usage the store's (under usage_mutex_; the caller holds writer_mutex_).
  void ApplyUsage(UsageByMailbox& changed);

  std::unique_ptr<Env> env_;
  MailboxStoreOptions options_;
  Clock& clock_;
  size_t dedup_records_migrated_ = 0;
  size_t dedup_records_damaged_ = 0;
  std::vector<std::pair<std::string, size_t>> tables_dropped_;
  size_t dedup_records_restored_ = 0;
  size_t messages_left_unswept_ = 0;
  size_t dedup_records_set_aside_ = 0;
  // Held by the one WriteBatch. usage_ is the committed usage of every mailbox that holds
  // messages: changed only by ApplyUsage, with both mutexes held; read by the batch's thread
  // without usage_mutex_ (no other thread can change it then), by other threads with it.
  std::mutex writer_mutex_;
  mutable std::mutex usage_mutex_;
  UsageByMailbox usage_;
  // The dedup key SweepExpired() looked at last; empty: start at the table's beginning.
  Bytes sweep_resume_after_;
  MDB_dbi bodies_ = 0, index_ = 0, dedup_ = 0, keys_ = 0, meta_ = 0, spk_ = 0, otk_ = 0, roster_ = 0, shared_ = 0, refs_ = 0;
};

}  // namespace liaison::store

#endif  // LIAISON_STORE_MAILBOX_STORE_H_
