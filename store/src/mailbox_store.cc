#include "store/mailbox_store.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

namespace liaison::store {

namespace {

constexpr size_t kMaxAddressBytes = 64;
constexpr char kNextSeqKey[] = "next_seq";
// bodies value: mailbox (1 + n) | message_id 16 | stored_at 8 | expires_at 8 | envelope
constexpr size_t kBodyFixedBytes = 16 + 8 + 8;

Status CheckAddress(std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressBytes) {
    return Status::Error(Code::kInvalidArgument,
                         "address must be 1 to 64 bytes, got " + std::to_string(address.size()));
  }
  return Status::Ok();
}

// A key assembled on the stack, for the writes of every put. The longest is a dedup key: a
// message id (16) and a mailbox (1 + up to 64 bytes, the address checked by CheckAddress).
// Appending beyond that is a programming error and aborts.
class KeyBuffer {
 public:
  KeyBuffer& Add(ByteView part) {
    if (part.size() > bytes_.size() - size_) std::abort();
    std::memcpy(bytes_.data() + size_, part.data(), part.size());
    size_ += part.size();
    return *this;
  }
  KeyBuffer& AddMailbox(std::string_view address) {
    const uint8_t length = static_cast<uint8_t>(address.size());
    return Add(ByteView(&length, 1)).Add(AsBytes(address));
  }
  ByteView view() const { return {bytes_.data(), size_}; }

 private:
  std::array<uint8_t, 1 + kMaxAddressBytes + 16> bytes_{};
  size_t size_ = 0;
};

// mailbox = u8 length | address (of a checked address), as an owned key.
Bytes MailboxKey(std::string_view address) {
  KeyBuffer key;
  const ByteView view = key.AddMailbox(address).view();
  return Bytes(view.begin(), view.end());
}

Bytes Concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::array<uint8_t, 8> Be64(uint64_t v) {
  std::array<uint8_t, 8> out{};
  PutBigEndian64(v, out.data());
  return out;
}

// index key = mailbox | seq:u64be.
KeyBuffer IndexKey(ByteView mailbox, uint64_t seq) { return KeyBuffer().Add(mailbox).Add(Be64(seq)); }

// dedup key = message_id | mailbox: ids begin with their creation time (crypto::NewMessageId), so
// that new records of all mailboxes append at the table's end, and a broadcast's copies, made
// together, land on a few adjacent pages instead of one page per recipient.
KeyBuffer DedupKey(const MessageId& message_id, ByteView mailbox) { return KeyBuffer().Add(message_id).Add(mailbox); }

// Whether `bytes` is a mailbox (a length of 1..64 and that many bytes) followed by exactly
// `tail` more bytes. Every stored key or value with a mailbox in it is checked with this before
// its parts are used.
bool IsMailboxThen(ByteView bytes, size_t tail) {
  return !bytes.empty() && bytes[0] != 0 && bytes[0] <= kMaxAddressBytes && bytes.size() == 1u + bytes[0] + tail;
}

// mailbox | message_id: an old dedup key, an expiry record's value.
bool IsMailboxThenId(ByteView bytes) { return IsMailboxThen(bytes, sizeof(MessageId)); }

// The dedup key of mailbox | message_id. Precondition: IsMailboxThenId(mailbox_then_id).
KeyBuffer DedupKeyOf(ByteView mailbox_then_id) {
  const ByteView mailbox = mailbox_then_id.first(1u + mailbox_then_id[0]);
  return KeyBuffer().Add(mailbox_then_id.subspan(mailbox.size())).Add(mailbox);
}

// Whether `key` is a dedup key, message_id | mailbox, with a mailbox length of 1..64 and exactly
// the bytes it needs; and its mailbox (precondition: IsDedupKey(key)).
bool IsDedupKey(ByteView key) { return key.size() > sizeof(MessageId) && IsMailboxThen(key.subspan(sizeof(MessageId)), 0); }
ByteView MailboxOfDedupKey(ByteView key) { return key.subspan(sizeof(MessageId)); }

// The table's name before dedup keys began with the message id (mailbox | message_id then), and
// the table where its damaged records are kept, as they were, when they are moved.
constexpr char kMailboxFirstDedupTable[] = "dedup";
constexpr char kDamagedDedupTable[] = "dedup_damaged";
// Tables of a store written before, whose records repeat what others hold: the expiry records
// (before the sweep walked the dedup table) and the usage records (before the usage was added up
// from the index at open).
constexpr char kExpiryTable[] = "expiry";
constexpr std::array<const char*, 2> kUnusedTables = {kExpiryTable, "quota"};

// Keeps a dedup record that is not of this layout as it is, in its own table, out of the way of
// lookups and the sweep (its message is then no longer recognised as a retry).
Status SetDamagedDedupRecordAside(Txn& txn, ByteView key, ByteView value) {
  LIAISON_ASSIGN_OR_RETURN(MDB_dbi kept, txn.OpenDb(kDamagedDedupTable, MDB_CREATE));
  return txn.Put(kept, key, value);
}

bool HasPrefix(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin());
}

// kMailboxFull unless a mailbox holding `usage` may take one more message charged `charged_bytes`.
Status CheckQuota(const MailboxStoreOptions& options, const MailboxUsage& usage, size_t charged_bytes) {
  if (usage.messages + 1 > options.max_mailbox_messages) {
    return Status::Error(Code::kMailboxFull, "the recipient's mailbox holds " + std::to_string(usage.messages) +
                                                 " messages, its limit");
  }
  if (usage.bytes + charged_bytes > options.max_mailbox_bytes) {
    return Status::Error(Code::kMailboxFull, "the recipient's mailbox would exceed its limit of " +
                                                 std::to_string(options.max_mailbox_bytes) + " bytes");
  }
  return Status::Ok();
}

// Parses a bodies value whose mailbox prefix has length `mailbox_size`.
Result<StoredMessage> ParseBody(uint64_t seq, ByteView value, size_t mailbox_size) {
  if (value.size() < mailbox_size + kBodyFixedBytes) {
    return Status::Error(Code::kCorruption, "body record " + std::to_string(seq) + " is too short");
  }
  StoredMessage m;
  m.seq = seq;
  const uint8_t* p = value.data() + mailbox_size;
  std::memcpy(m.message_id.data(), p, 16);
  m.stored_at = static_cast<int64_t>(GetBigEndian64(p + 16));
  m.expires_at = static_cast<int64_t>(GetBigEndian64(p + 24));
  m.envelope.assign(p + kBodyFixedBytes, value.data() + value.size());
  return m;
}

}  // namespace

Result<std::unique_ptr<MailboxStore>> MailboxStore::Open(const MailboxStoreOptions& options, Clock& clock) {
  EnvOptions env_options;
  env_options.path = options.path;
  env_options.map_size_bytes = options.map_size_bytes;
  env_options.test_extra_flags = options.test_extra_env_flags;
  env_options.before_commit = options.before_commit;
  env_options.write_ahead_log = options.write_ahead_log;
  LIAISON_ASSIGN_OR_RETURN(auto env, Env::Open(env_options));
  std::unique_ptr<MailboxStore> store(new MailboxStore(std::move(env), options, clock));
  LIAISON_RETURN_IF_ERROR(store->OpenTables());
  LIAISON_RETURN_IF_ERROR(store->MigrateMailboxFirstDedup().WithContext("moving the dedup records to their id-first keys"));
  LIAISON_RETURN_IF_ERROR(store->DropUnusedTables().WithContext("dropping the tables of an older layout"));
  LIAISON_RETURN_IF_ERROR(store->LoadUsage().WithContext("adding up the mailboxes' usage from the index"));
  return store;
}

Status MailboxStore::DropUnusedTables() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  std::vector<std::pair<std::string, size_t>> dropped;
  for (const char* name : kUnusedTables) {
    auto opened = txn.OpenDb(name, 0);
    if (!opened.ok() && opened.status().code() == Code::kNotFound) continue;  // a store of this layout, or dropped before
    if (!opened.ok()) return opened.status();
    const MDB_dbi table = *opened;
    if (std::string_view(name) == kExpiryTable) LIAISON_RETURN_IF_ERROR(RestoreDedupFromExpiry(txn, table));
    MDB_stat stat{};
    if (const int rc = mdb_stat(txn.get(), table, &stat); rc != 0) return FromMdb(rc, std::string("count the table ") + name);
    LIAISON_RETURN_IF_ERROR(txn.DropTable(table));
    dropped.emplace_back(name, stat.ms_entries);
  }
  if (dropped.empty()) return Status::Ok();
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  tables_dropped_ = std::move(dropped);
  return Status::Ok();
}

Status MailboxStore::RestoreDedupFromExpiry(Txn& txn, MDB_dbi expiry) {
  size_t restored = 0;
  size_t unsweepable = 0;
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, expiry));
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    // expiry key = expires_at | seq, value = mailbox | message_id; dedup value = seq | expires_at.
    if (entry->key.size() == 16 && IsMailboxThenId(entry->value)) {
      const KeyBuffer dedup_key = DedupKeyOf(entry->value);
      const ByteView seq_be = entry->key.subspan(8);
      LIAISON_ASSIGN_OR_RETURN(auto existing, txn.Get(dedup_, dedup_key.view()));
      if (!existing) {
        LIAISON_RETURN_IF_ERROR(txn.Put(dedup_, dedup_key.view(), KeyBuffer().Add(seq_be).Add(entry->key.first(8)).view()));
        ++restored;
      } else if (existing->size() < 8 || !std::equal(seq_be.begin(), seq_be.end(), existing->begin())) {
        // The id was stored again after its old record was set aside: this copy keeps no record
        // the sweep reads (it is delivered and acknowledged as usual).
        ++unsweepable;
      }
    }
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  dedup_records_restored_ = restored;
  messages_left_unswept_ = unsweepable;
  return Status::Ok();
}

Status MailboxStore::LoadUsage() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, index_));
  // Index keys are mailbox | seq: each mailbox's entries are adjacent.
  UsageByMailbox usage;
  UsageByMailbox::iterator current = usage.end();
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    const ByteView key = entry->key;
    if (!IsMailboxThen(key, 8) || entry->value.size() != 4) {
      return Status::Error(Code::kCorruption, "an index record of the wrong size or layout");
    }
    const ByteView mailbox = key.first(1u + key[0]);
    if (current == usage.end() || !std::ranges::equal(current->first, mailbox)) {
      current = usage.emplace(Bytes(mailbox.begin(), mailbox.end()), MailboxUsage{}).first;
    }
    current->second.messages += 1;
    current->second.bytes += GetBigEndian32(entry->value.data());
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  std::lock_guard<std::mutex> lock(usage_mutex_);
  usage_ = std::move(usage);
  return Status::Ok();
}

void MailboxStore::ApplyUsage(UsageByMailbox& changed) {
  std::lock_guard<std::mutex> lock(usage_mutex_);
  for (auto& [mailbox, usage] : changed) {
    if (usage.messages == 0) {
      usage_.erase(mailbox);
    } else {
      usage_.insert_or_assign(std::move(mailbox), usage);
    }
  }
}

Status MailboxStore::MigrateMailboxFirstDedup() {
  const size_t per_commit = std::max<size_t>(1, options_.migration_records_per_commit);
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
    auto opened = txn.OpenDb(kMailboxFirstDedupTable, 0);
    if (!opened.ok() && opened.status().code() == Code::kNotFound) return Status::Ok();  // nothing (left) to move
    if (!opened.ok()) return opened.status();
    const MDB_dbi old_table = *opened;
    // Collect first, then write: a write transaction's cursor is closed before its commit.
    std::vector<std::pair<Bytes, Bytes>> records;
    {
      LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, old_table));
      LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
      while (entry && records.size() < per_commit) {
        records.emplace_back(Bytes(entry->key.begin(), entry->key.end()), Bytes(entry->value.begin(), entry->value.end()));
        LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
      }
    }
    if (records.empty()) {
      // Every record moved: the old table goes in its own commit.
      LIAISON_RETURN_IF_ERROR(txn.DropTable(old_table));
      return txn.Commit();
    }
    size_t damaged = 0;
    for (const auto& [key, value] : records) {
      if (IsMailboxThenId(key) && value.size() == 16) {
        LIAISON_RETURN_IF_ERROR(txn.Put(dedup_, DedupKeyOf(key).view(), value));
      } else {
        // Not a record this store wrote (a damaged disk, or an edit).
        LIAISON_RETURN_IF_ERROR(SetDamagedDedupRecordAside(txn, key, value));
        ++damaged;
      }
      LIAISON_ASSIGN_OR_RETURN(bool deleted, txn.Del(old_table, key));
      (void)deleted;
    }
    // Each commit moves its records whole: a crash in between leaves each record in one table,
    // and the next Open() goes on from there.
    LIAISON_RETURN_IF_ERROR(txn.Commit());
    dedup_records_migrated_ += records.size() - damaged;
    dedup_records_damaged_ += damaged;
  }
}

Status MailboxStore::OpenTables() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  LIAISON_ASSIGN_OR_RETURN(bodies_, txn.OpenDb("bodies", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(index_, txn.OpenDb("index", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(dedup_, txn.OpenDb("dedup_by_id", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(keys_, txn.OpenDb("keys", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(meta_, txn.OpenDb("meta", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(spk_, txn.OpenDb("spk", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(otk_, txn.OpenDb("otk", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(roster_, txn.OpenDb("roster", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(shared_, txn.OpenDb("shared", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(refs_, txn.OpenDb("refs", MDB_CREATE));
  return txn.Commit().WithContext("creating the store's tables");
}

Result<WriteBatch> MailboxStore::BeginWrite() {
  std::unique_lock<std::mutex> writer(writer_mutex_);
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  return WriteBatch(this, std::move(writer), std::move(txn));
}

Status WriteBatch::CheckRoom(size_t envelope_bytes) { return ClaimRoom(std::span<const size_t>(&envelope_bytes, 1)); }

Status WriteBatch::ClaimRoom(std::span<const size_t> envelope_sizes) {
  if (!room_pages_) {
    MDB_envinfo info{};
    MDB_stat stat{};
    int rc = mdb_env_info(store_->env_->get(), &info);
    if (rc == 0) rc = mdb_env_stat(store_->env_->get(), &stat);
    if (rc != 0) return FromMdb(rc, "reading the map's size");
    page_size_ = stat.ms_psize;
    const uint64_t max_pages = info.me_mapsize / page_size_;
    reserve_pages_ = std::max<uint64_t>(32, max_pages / 50);
    // Pages on the freelist (LMDB's table 0: each value is a list whose first word counts it),
    // read in a read transaction (LMDB refuses a freelist cursor in a write transaction); it sees
    // the same last commit this batch started from. MDB_NOTLS allows it on this thread.
    uint64_t free_pages = 0;
    LIAISON_ASSIGN_OR_RETURN(Txn read, Txn::BeginRead(*store_->env_));
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(read, 0));
    LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
    while (entry) {
      if (entry->value.size() >= sizeof(size_t)) {
        size_t count = 0;
        std::memcpy(&count, entry->value.data(), sizeof count);
        free_pages += count;
      }
      LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
    }
    const uint64_t used = info.me_last_pgno + 1 > free_pages ? info.me_last_pgno + 1 - free_pages : 0;
    room_pages_ = max_pages > used ? max_pages - used : 0;
  }
  // Each envelope's pages, plus copies of the leaf pages a put touches in the other tables.
  uint64_t need = 0;
  for (size_t bytes : envelope_sizes) need += (bytes + 128 + page_size_ - 1) / page_size_ + 4;
  if (pages_claimed_ + need + reserve_pages_ > *room_pages_) {
    return Status::Error(Code::kStoreFull, "the store is full (it keeps " + std::to_string(reserve_pages_) +
                                               " pages free so that acknowledgements can always be written)");
  }
  pages_claimed_ += need;
  return Status::Ok();
}

int64_t MailboxStore::ExpiresAt(int64_t requested, int64_t now) const {
  const MailboxStoreOptions& o = options_;
  const int64_t expires_at = requested == 0 ? now + o.default_ttl_micros : requested;
  return std::min(expires_at, now + o.max_ttl_micros);
}

Result<uint64_t> WriteBatch::NextSeq() {
  if (!next_seq_) {
    LIAISON_ASSIGN_OR_RETURN(auto stored, txn_.Get(store_->meta_, AsBytes(kNextSeqKey)));
    next_seq_ = stored && stored->size() == 8 ? GetBigEndian64(stored->data()) : 1;
  }
  return (*next_seq_)++;
}

MailboxUsage WriteBatch::UsageOf(ByteView mailbox) const {
  if (auto mine = usage_.find(mailbox); mine != usage_.end()) return mine->second;
  // The committed usage: this thread holds the writer lock, so nothing changes it meanwhile.
  if (auto held = store_->usage_.find(mailbox); held != store_->usage_.end()) return held->second;
  return MailboxUsage{};
}

void WriteBatch::SetUsage(ByteView mailbox, MailboxUsage usage) {
  if (auto mine = usage_.find(mailbox); mine != usage_.end()) {
    mine->second = usage;
  } else {
    usage_.emplace(Bytes(mailbox.begin(), mailbox.end()), usage);
  }
}

Result<PutResult> WriteBatch::Put(const PutRequest& request) { return PutEntry(request, store_->clock_.NowMicros()); }

Result<BroadcastOutcome> WriteBatch::PutBroadcast(const BroadcastPut& broadcast) {
  if (broadcast.body.empty()) return Status::Error(Code::kInvalidArgument, "a broadcast without a body");
  MailboxStore& s = *store_;
  // Pass 1, without writing: which copies will be stored, with PutEntry's checks in its order and
  // the earlier copies of this broadcast counted (their dedup keys and quota). Room for those and
  // for the body is claimed before anything is written, so that kStoreFull leaves no copy behind
  // without its body; a broadcast with no copy to store needs no room and stores no body.
  const int64_t now = s.clock_.NowMicros();
  const int64_t expires_at = s.ExpiresAt(broadcast.expires_at, now);
  // Per copy, its keys inline (no allocation per copy): the dedup key, message_id | mailbox,
  // whose tail is the mailbox.
  struct Plan {
    KeyBuffer dedup_key;
    ByteView mailbox() const { return dedup_key.view().subspan(sizeof(MessageId)); }
    size_t first_copy = SIZE_MAX;  // a repeat in this broadcast: the copy it repeats
    bool store = false;
  };
  // Hashed by the bytes that `plans` holds: `plans` is sized once and outlives both maps.
  auto text = [](ByteView bytes) { return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()); };
  std::vector<Plan> plans(broadcast.copies.size());
  BroadcastOutcome outcome(broadcast.copies.size(), Status::Error(Code::kInternal, "copy not planned"));
  std::unordered_map<std::string_view, MailboxUsage> usage_after;  // mailboxes given a copy: their usage after it
  std::unordered_map<std::string_view, size_t> taken;  // dedup key -> the copy of this broadcast that stores it
  usage_after.reserve(plans.size());
  taken.reserve(plans.size());
  std::vector<size_t> sizes;
  for (size_t i = 0; i < broadcast.copies.size(); ++i) {
    const BroadcastCopy& copy = broadcast.copies[i];
    Plan& plan = plans[i];
    if (Status address = CheckAddress(copy.recipient); !address.ok()) {
      outcome[i] = address;
      continue;
    }
    if (expires_at <= now) {
      outcome[i] = Status::Error(Code::kExpired, "the message expired before it was stored");
      continue;
    }
    plan.dedup_key.Add(copy.message_id).AddMailbox(copy.recipient);
    if (auto repeat = taken.find(text(plan.dedup_key.view())); repeat != taken.end()) {
      plan.first_copy = repeat->second;
      continue;
    }
    LIAISON_ASSIGN_OR_RETURN(auto existing, txn_.Get(s.dedup_, plan.dedup_key.view()));
    if (existing) {
      if (existing->size() != 16) return Status::Error(Code::kCorruption, "dedup record of wrong size");
      outcome[i] = PutResult{GetBigEndian64(existing->data()), true, static_cast<int64_t>(GetBigEndian64(existing->data() + 8))};
      continue;
    }
    auto usage = usage_after.find(text(plan.mailbox()));
    if (usage == usage_after.end()) usage = usage_after.emplace(text(plan.mailbox()), UsageOf(plan.mailbox())).first;
    const size_t charged = copy.envelope.size() + broadcast.body.size();
    if (Status quota = CheckQuota(s.options_, usage->second, charged); !quota.ok()) {
      outcome[i] = quota;
      continue;
    }
    usage->second.messages += 1;
    usage->second.bytes += charged;
    taken.emplace(text(plan.dedup_key.view()), i);
    plan.store = true;
    sizes.push_back(copy.envelope.size());
  }
  if (sizes.empty()) {
    for (size_t i = 0; i < plans.size(); ++i) {
      if (plans[i].first_copy != SIZE_MAX) outcome[i] = outcome[plans[i].first_copy];
    }
    return outcome;
  }
  const auto refs = static_cast<uint32_t>(sizes.size());
  sizes.push_back(broadcast.body.size());
  LIAISON_RETURN_IF_ERROR(ClaimRoom(sizes));

  // Pass 2: the body's id comes from the global sequence below the copies' seqs, so that bodies
  // are appended in order like envelopes; then each planned copy, and each mailbox's quota once.
  LIAISON_ASSIGN_OR_RETURN(const uint64_t body_id, NextSeq());
  for (size_t i = 0; i < plans.size(); ++i) {
    const Plan& plan = plans[i];
    if (plan.first_copy != SIZE_MAX) {
      // The same recipient and id twice in one broadcast: the repeat is a duplicate of the first.
      const auto& first = outcome[plan.first_copy];
      outcome[i] = first.ok() ? Result<PutResult>(PutResult{first->seq, true, first->expires_at}) : first;
      continue;
    }
    if (!plan.store) continue;
    const BroadcastCopy& copy = broadcast.copies[i];
    const auto charged = static_cast<uint32_t>(copy.envelope.size() + broadcast.body.size());
    LIAISON_ASSIGN_OR_RETURN(const uint64_t seq, WriteEntry(plan.mailbox(), plan.dedup_key.view(), copy.message_id, copy.envelope,
                                                           charged, expires_at, now, body_id));
    outcome[i] = PutResult{seq, false, expires_at};
  }
  for (const auto& [mailbox, usage] : usage_after) SetUsage(AsBytes(mailbox), usage);
  Bytes value(4 + broadcast.body.size());
  PutBigEndian32(refs, value.data());
  std::copy(broadcast.body.begin(), broadcast.body.end(), value.begin() + 4);
  LIAISON_RETURN_IF_ERROR(txn_.Put(s.shared_, Be64(body_id), value, MDB_APPEND).WithContext("storing a broadcast body"));
  return outcome;
}

Result<PutResult> WriteBatch::PutEntry(const PutRequest& request, int64_t now) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(request.recipient));
  MailboxStore& s = *store_;
  const int64_t expires_at = s.ExpiresAt(request.expires_at, now);
  if (expires_at <= now) return Status::Error(Code::kExpired, "the message expired before it was stored");

  KeyBuffer mailbox_key;
  const ByteView mailbox = mailbox_key.AddMailbox(request.recipient).view();
  const KeyBuffer dedup_key = DedupKey(request.message_id, mailbox);
  LIAISON_ASSIGN_OR_RETURN(auto existing, txn_.Get(s.dedup_, dedup_key.view()));
  if (existing) {
    if (existing->size() != 16) return Status::Error(Code::kCorruption, "dedup record of wrong size");
    return PutResult{GetBigEndian64(existing->data()), true, static_cast<int64_t>(GetBigEndian64(existing->data() + 8))};
  }

  const MailboxUsage usage = UsageOf(mailbox);
  LIAISON_RETURN_IF_ERROR(CheckQuota(s.options_, usage, request.envelope.size()));
  LIAISON_RETURN_IF_ERROR(CheckRoom(request.envelope.size()));
  const auto charged = static_cast<uint32_t>(request.envelope.size());
  LIAISON_ASSIGN_OR_RETURN(const uint64_t seq, WriteEntry(mailbox, dedup_key.view(), request.message_id, request.envelope,
                                                         charged, expires_at, now, 0));
  SetUsage(mailbox, MailboxUsage{usage.messages + 1, usage.bytes + charged});
  return PutResult{seq, false, expires_at};
}

Result<uint64_t> WriteBatch::WriteEntry(ByteView mailbox, ByteView dedup_key, const MessageId& message_id,
                                        ByteView envelope, uint32_t charged_bytes, int64_t expires_at, int64_t now,
                                        uint64_t body_id) {
  MailboxStore& s = *store_;
  LIAISON_ASSIGN_OR_RETURN(const uint64_t seq, NextSeq());
  const auto seq_be = Be64(seq);
  const auto stored_at_be = Be64(static_cast<uint64_t>(now));
  const auto expires_be = Be64(static_cast<uint64_t>(expires_at));
  // The body is written in place in the map: no copy of the envelope is assembled first.
  auto body = txn_.Reserve(s.bodies_, seq_be, mailbox.size() + kBodyFixedBytes + envelope.size(), MDB_APPEND);
  if (!body.ok()) return body.status().WithContext("storing the envelope");
  uint8_t* out = *body;
  for (ByteView part : {mailbox, ByteView(message_id), ByteView(stored_at_be), ByteView(expires_be), envelope}) {
    if (!part.empty()) std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  if (body_id != 0) LIAISON_RETURN_IF_ERROR(txn_.Put(s.refs_, seq_be, Be64(body_id), MDB_APPEND));
  std::array<uint8_t, 4> size_be{};
  PutBigEndian32(charged_bytes, size_be.data());
  LIAISON_RETURN_IF_ERROR(txn_.Put(s.index_, IndexKey(mailbox, seq).view(), size_be));
  LIAISON_RETURN_IF_ERROR(txn_.Put(s.dedup_, dedup_key, KeyBuffer().Add(seq_be).Add(expires_be).view()));
  return seq;
}

Status WriteBatch::DeleteEntry(ByteView mailbox, uint64_t seq, bool* deleted) {
  MailboxStore& s = *store_;
  *deleted = false;
  const KeyBuffer index_key = IndexKey(mailbox, seq);
  LIAISON_ASSIGN_OR_RETURN(auto entry, txn_.Get(s.index_, index_key.view()));
  if (!entry) return Status::Ok();
  if (entry->size() != 4) return Status::Error(Code::kCorruption, "index record of wrong size");
  const uint32_t size = GetBigEndian32(entry->data());
  LIAISON_ASSIGN_OR_RETURN(bool removed_index, txn_.Del(s.index_, index_key.view()));
  LIAISON_ASSIGN_OR_RETURN(bool removed_body, txn_.Del(s.bodies_, Be64(seq)));
  if (!removed_index || !removed_body) {
    return Status::Error(Code::kCorruption, "index and body of message " + std::to_string(seq) + " disagree");
  }
  LIAISON_ASSIGN_OR_RETURN(auto ref, txn_.Get(s.refs_, Be64(seq)));
  if (ref) {
    if (ref->size() != 8) return Status::Error(Code::kCorruption, "broadcast reference of wrong size");
    const auto body_key = Be64(GetBigEndian64(ref->data()));
    LIAISON_ASSIGN_OR_RETURN(bool removed_ref, txn_.Del(s.refs_, Be64(seq)));
    (void)removed_ref;
    LIAISON_ASSIGN_OR_RETURN(auto shared, txn_.Get(s.shared_, body_key));
    if (!shared || shared->size() < 5) {
      return Status::Error(Code::kCorruption, "message " + std::to_string(seq) + " refers to a missing broadcast body");
    }
    const uint32_t refs = GetBigEndian32(shared->data());
    if (refs <= 1) {
      LIAISON_ASSIGN_OR_RETURN(bool removed_shared, txn_.Del(s.shared_, body_key));
      (void)removed_shared;
    } else {
      Bytes value(shared->begin(), shared->end());
      PutBigEndian32(refs - 1, value.data());
      LIAISON_RETURN_IF_ERROR(txn_.Put(s.shared_, body_key, value));
    }
  }
  const MailboxUsage held = UsageOf(mailbox);
  SetUsage(mailbox, MailboxUsage{held.messages > 0 ? held.messages - 1 : 0, held.bytes >= size ? held.bytes - size : 0});
  *deleted = true;
  return Status::Ok();
}

Result<uint32_t> WriteBatch::Ack(std::string_view recipient, std::span<const uint64_t> seqs) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(recipient));
  const Bytes mailbox = MailboxKey(recipient);
  uint32_t removed = 0;
  for (uint64_t seq : seqs) {
    bool deleted = false;
    LIAISON_RETURN_IF_ERROR(DeleteEntry(mailbox, seq, &deleted));
    removed += deleted ? 1 : 0;
  }
  return removed;
}

Status WriteBatch::PutKeyBundle(std::string_view address, ByteView bundle) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(address));
  return txn_.Put(store_->keys_, AsBytes(address), bundle);
}

namespace {
// The one-time prekey records held for `mailbox`, counted with a cursor (at most a few hundred).
Result<uint64_t> CountWithPrefix(Txn& txn, MDB_dbi dbi, ByteView prefix) {
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, dbi));
  uint64_t count = 0;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.Seek(prefix));
  while (entry && HasPrefix(entry->key, prefix)) {
    ++count;
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return count;
}
}  // namespace

Result<uint32_t> WriteBatch::PublishPrekeys(std::string_view address, ByteView signed_prekey,
                                            std::span<const ByteView> one_time_prekeys) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(address));
  const Bytes mailbox = MailboxKey(address);
  LIAISON_ASSIGN_OR_RETURN(uint64_t held, CountWithPrefix(txn_, store_->otk_, mailbox));
  std::vector<Bytes> fresh;
  for (ByteView record : one_time_prekeys) {
    if (record.empty()) return Status::Error(Code::kInvalidArgument, "an empty one-time prekey record");
    Bytes key = Concat(mailbox, record);
    LIAISON_ASSIGN_OR_RETURN(auto existing, txn_.Get(store_->otk_, key));
    if (existing || std::find(fresh.begin(), fresh.end(), key) != fresh.end()) continue;
    fresh.push_back(std::move(key));
  }
  if (held + fresh.size() > store_->options_.max_one_time_prekeys) {
    return Status::Error(Code::kTooLarge, "the relay holds at most " +
                                              std::to_string(store_->options_.max_one_time_prekeys) +
                                              " one-time prekeys per device; " + std::to_string(held) + " are held");
  }
  LIAISON_RETURN_IF_ERROR(CheckRoom(signed_prekey.size() + fresh.size() * 64));
  if (!signed_prekey.empty()) LIAISON_RETURN_IF_ERROR(txn_.Put(store_->spk_, AsBytes(address), signed_prekey));
  for (const Bytes& key : fresh) LIAISON_RETURN_IF_ERROR(txn_.Put(store_->otk_, key, ByteView()));
  return static_cast<uint32_t>(held + fresh.size());
}

Result<ClaimedPrekeys> WriteBatch::ClaimPrekeys(std::string_view address) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(address));
  ClaimedPrekeys out;
  auto copy = [](std::optional<ByteView> v) { return v ? std::optional<Bytes>(Bytes(v->begin(), v->end())) : std::nullopt; };
  LIAISON_ASSIGN_OR_RETURN(auto identity, txn_.Get(store_->keys_, AsBytes(address)));
  out.identity_bundle = copy(identity);
  LIAISON_ASSIGN_OR_RETURN(auto signed_prekey, txn_.Get(store_->spk_, AsBytes(address)));
  out.signed_prekey = copy(signed_prekey);
  const Bytes mailbox = MailboxKey(address);
  Bytes first_key;
  {
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn_, store_->otk_));
    LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.Seek(mailbox));
    if (entry && HasPrefix(entry->key, mailbox) && entry->key.size() > mailbox.size()) {
      first_key.assign(entry->key.begin(), entry->key.end());
    }
  }
  if (!first_key.empty()) {
    out.one_time_prekey = Bytes(first_key.begin() + static_cast<ptrdiff_t>(mailbox.size()), first_key.end());
    LIAISON_RETURN_IF_ERROR(txn_.Del(store_->otk_, first_key).status());
  }
  return out;
}

namespace {

Result<uint64_t> NewestRosterNumber(Txn& txn, MDB_dbi roster) {
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, roster));
  LIAISON_ASSIGN_OR_RETURN(auto last, cursor.Last());
  if (!last) return uint64_t{0};
  if (last->key.size() != 8) return Status::Error(Code::kCorruption, "a roster epoch key is not 8 bytes");
  return GetBigEndian64(last->key.data());
}

}  // namespace

Status WriteBatch::AppendRosterEpoch(uint64_t number, ByteView signed_epoch) {
  if (signed_epoch.empty()) return Status::Error(Code::kInvalidArgument, "an empty roster epoch");
  LIAISON_ASSIGN_OR_RETURN(uint64_t newest, NewestRosterNumber(txn_, store_->roster_));
  if (number != newest + 1) {
    return Status::Error(Code::kConflict, "roster epoch " + std::to_string(number) + " does not follow the stored epoch " +
                                              std::to_string(newest));
  }
  return txn_.Put(store_->roster_, Be64(number), signed_epoch);
}

Status WriteBatch::Commit() {
  Status committed = next_seq_ ? txn_.Put(store_->meta_, AsBytes(kNextSeqKey), Be64(*next_seq_)) : Status::Ok();
  if (committed.ok()) {
    committed = txn_.Commit();
  } else {
    txn_.Abort();
  }
  if (committed.ok()) store_->ApplyUsage(usage_);  // before writer_ is released: the next batch starts from it
  // The batch has ended either way: the next one may begin (the object may live on unused).
  if (writer_.owns_lock()) writer_.unlock();
  return committed;
}

Result<std::vector<StoredMessage>> MailboxStore::Fetch(std::string_view recipient, uint64_t after_seq,
                                                       size_t max_items, size_t max_bytes, bool* more) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(recipient));
  *more = false;
  if (after_seq == UINT64_MAX || max_items == 0) return std::vector<StoredMessage>();
  const Bytes mailbox = MailboxKey(recipient);
  const int64_t now = clock_.NowMicros();
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, index_));
  std::vector<StoredMessage> out;
  size_t bytes = 0;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.Seek(IndexKey(mailbox, after_seq + 1).view()));
  while (entry && HasPrefix(entry->key, mailbox) && entry->key.size() == mailbox.size() + 8) {
    if (out.size() >= max_items) {
      *more = true;
      break;
    }
    const uint64_t seq = GetBigEndian64(entry->key.data() + mailbox.size());
    LIAISON_ASSIGN_OR_RETURN(auto body, txn.Get(bodies_, Be64(seq)));
    if (!body) return Status::Error(Code::kCorruption, "index names message " + std::to_string(seq) + " without a body");
    LIAISON_ASSIGN_OR_RETURN(StoredMessage message, ParseBody(seq, *body, mailbox.size()));
    if (message.expires_at > now) {
      LIAISON_ASSIGN_OR_RETURN(auto ref, txn.Get(refs_, Be64(seq)));
      if (ref) {
        if (ref->size() != 8) return Status::Error(Code::kCorruption, "broadcast reference of wrong size");
        LIAISON_ASSIGN_OR_RETURN(auto shared, txn.Get(shared_, *ref));
        if (!shared || shared->size() < 5) {
          return Status::Error(Code::kCorruption, "message " + std::to_string(seq) + " refers to a missing broadcast body");
        }
        message.shared_body = Bytes(shared->begin() + 4, shared->end());
      }
      const size_t size = message.envelope.size() + (message.shared_body ? message.shared_body->size() : 0);
      if (!out.empty() && bytes + size > max_bytes) {
        *more = true;
        break;
      }
      bytes += size;
      out.push_back(std::move(message));
    }
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Status MailboxStore::ReleaseFreedPages() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  const auto now = Be64(static_cast<uint64_t>(clock_.NowMicros()));
  LIAISON_RETURN_IF_ERROR(txn.Put(meta_, AsBytes("pages_released_at"), now));
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  // With the log on, the pages are also pinned by its checkpoints' snapshots until a later one.
  return env_->CheckpointLog();
}

Result<MailboxUsage> MailboxStore::Usage(std::string_view recipient) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(recipient));
  const Bytes mailbox = MailboxKey(recipient);
  std::lock_guard<std::mutex> lock(usage_mutex_);
  auto it = usage_.find(mailbox);
  return it == usage_.end() ? MailboxUsage{} : it->second;
}

Result<std::optional<Bytes>> MailboxStore::GetKeyBundle(std::string_view address) {
  LIAISON_RETURN_IF_ERROR(CheckAddress(address));
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(keys_, AsBytes(address)));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Result<MailboxUsage> MailboxStore::SharedBodies() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, shared_));
  MailboxUsage usage;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    ++usage.messages;
    usage.bytes += entry->value.size() >= 4 ? entry->value.size() - 4 : 0;
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return usage;
}

Result<uint64_t> MailboxStore::NewestRosterEpoch() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  return NewestRosterNumber(txn, roster_);
}

Result<std::optional<Bytes>> MailboxStore::RosterEpoch(uint64_t number) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(roster_, Be64(number)));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Result<size_t> MailboxStore::SweepExpired(size_t max_entries) {
  if (max_entries == 0) return size_t{0};
  const int64_t now = clock_.NowMicros();
  LIAISON_ASSIGN_OR_RETURN(WriteBatch batch, BeginWrite());
  MDB_stat stat{};
  if (const int rc = mdb_stat(batch.txn_.get(), dedup_, &stat); rc != 0) return FromMdb(rc, "count the dedup records");
  const size_t calls_per_pass = std::max<size_t>(1, options_.sweep_calls_per_pass);
  const size_t max_looked_at = std::max<size_t>(
      {size_t{1}, options_.sweep_records_per_call, (stat.ms_entries + calls_per_pass - 1) / calls_per_pass});
  // Collect first, delete after: deleting under an open cursor is where LMDB has had bugs.
  struct Expired {
    Bytes dedup_key;
    uint64_t seq = 0;
  };
  std::vector<Expired> expired;
  std::vector<std::pair<Bytes, Bytes>> damaged;  // records not of this layout: set aside
  Bytes last_looked_at;  // stays empty if the walk looked at the table's last record
  {
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(batch.txn_, dedup_));
    std::optional<Cursor::Entry> entry;
    if (sweep_resume_after_.empty()) {
      LIAISON_ASSIGN_OR_RETURN(entry, cursor.First());
    } else {
      LIAISON_ASSIGN_OR_RETURN(entry, cursor.Seek(sweep_resume_after_));
      if (entry && std::ranges::equal(entry->key, sweep_resume_after_)) {
        LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
      }
    }
    size_t looked_at = 0;
    while (entry) {
      ++looked_at;
      if (!IsDedupKey(entry->key) || entry->value.size() != 16) {
        damaged.emplace_back(Bytes(entry->key.begin(), entry->key.end()), Bytes(entry->value.begin(), entry->value.end()));
      } else if (static_cast<int64_t>(GetBigEndian64(entry->value.data() + 8)) <= now) {
        expired.push_back({Bytes(entry->key.begin(), entry->key.end()), GetBigEndian64(entry->value.data())});
      }
      if (expired.size() == max_entries || looked_at == max_looked_at) {
        // Stopped early; if that was the table's last record, the next call starts at the beginning.
        Bytes key(entry->key.begin(), entry->key.end());
        LIAISON_ASSIGN_OR_RETURN(auto after, cursor.Next());
        if (after) last_looked_at = std::move(key);
        break;
      }
      LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
    }
  }
  size_t removed_pending = 0;
  for (const Expired& e : expired) {
    bool deleted = false;
    LIAISON_RETURN_IF_ERROR(batch.DeleteEntry(MailboxOfDedupKey(e.dedup_key), e.seq, &deleted));
    removed_pending += deleted ? 1 : 0;
    LIAISON_ASSIGN_OR_RETURN(bool dedup_deleted, batch.txn_.Del(dedup_, e.dedup_key));
    (void)dedup_deleted;
  }
  for (const auto& [key, value] : damaged) {
    LIAISON_RETURN_IF_ERROR(SetDamagedDedupRecordAside(batch.txn_, key, value));
    LIAISON_ASSIGN_OR_RETURN(bool moved, batch.txn_.Del(dedup_, key));
    (void)moved;
  }
  if (!expired.empty() || !damaged.empty()) LIAISON_RETURN_IF_ERROR(batch.Commit());
  sweep_resume_after_ = std::move(last_looked_at);
  dedup_records_set_aside_ += damaged.size();
  return removed_pending;
}

}  // namespace liaison::store
