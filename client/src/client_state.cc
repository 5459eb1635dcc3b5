#include "client/src/client_state.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace liaison::client {

using store::Cursor;
using store::Txn;

namespace {

void AppendLengthPrefixed(Bytes& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

void AppendBe64(Bytes& out, uint64_t v) {
  uint8_t b[8];
  PutBigEndian64(v, b);
  out.insert(out.end(), b, b + 8);
}

// A bounds-checked reader over a stored record; any overrun is kCorruption.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  bool Take(size_t n, ByteView* out) {
    if (n > bytes_.size() - pos_) return false;
    *out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool Be64(uint64_t* v) {
    ByteView b;
    if (!Take(8, &b)) return false;
    *v = GetBigEndian64(b.data());
    return true;
  }
  bool Prefixed(std::string* s) {
    ByteView n, b;
    if (!Take(1, &n) || !Take(n[0], &b)) return false;
    s->assign(AsChars(b));
    return true;
  }
  ByteView Rest() {
    ByteView rest = bytes_.subspan(pos_);
    pos_ = bytes_.size();
    return rest;
  }

 private:
  ByteView bytes_;
  size_t pos_ = 0;
};

Status Corrupt(const char* what) { return Status::Error(Code::kCorruption, std::string("stored ") + what + " is damaged"); }

}  // namespace

Result<std::unique_ptr<ClientState>> ClientState::Open(const std::string& dir) {
  store::EnvOptions options;
  options.path = dir;
  options.map_size_bytes = 1ull << 30;
  LIAISON_ASSIGN_OR_RETURN(auto env, store::Env::Open(options));
  std::unique_ptr<ClientState> state(new ClientState(std::move(env)));
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*state->env_));
  LIAISON_ASSIGN_OR_RETURN(state->self_, txn.OpenDb("self", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->contacts_, txn.OpenDb("contacts", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->outbox_, txn.OpenDb("outbox", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->failed_, txn.OpenDb("failed", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->inbox_, txn.OpenDb("inbox", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->seen_, txn.OpenDb("seen", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->sessions_, txn.OpenDb("sessions", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->signed_prekeys_, txn.OpenDb("signed_prekeys", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->one_time_prekeys_, txn.OpenDb("one_time_prekeys", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->roster_, txn.OpenDb("roster", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->sent_alerts_, txn.OpenDb("sent_alerts", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->alert_recipients_, txn.OpenDb("alert_recipients", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->received_alerts_, txn.OpenDb("received_alerts", MDB_CREATE));
  LIAISON_ASSIGN_OR_RETURN(state->broadcast_outbox_, txn.OpenDb("broadcast_outbox", MDB_CREATE));
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  return state;
}

Result<std::optional<Bytes>> ClientState::GetSelf(std::string_view name) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(self_, AsBytes(name)));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Status ClientState::PutSelf(const std::vector<std::pair<std::string, Bytes>>& entries) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  for (const auto& [name, value] : entries) LIAISON_RETURN_IF_ERROR(txn.Put(self_, AsBytes(name), value));
  return txn.Commit();
}

Result<std::optional<Bytes>> ClientState::GetContact(std::string_view address) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(contacts_, AsBytes(address)));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Status ClientState::PinContact(std::string_view address, ByteView keys) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  LIAISON_RETURN_IF_ERROR(txn.Put(contacts_, AsBytes(address), keys));
  return txn.Commit();
}

namespace {
// The key after the last one in `dbi` (1 for an empty table); keys are u64be counters.
Result<uint64_t> NextPosition(Txn& txn, MDB_dbi dbi) {
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, dbi));
  LIAISON_ASSIGN_OR_RETURN(auto last, cursor.Last());
  if (last && last->key.size() == 8) return GetBigEndian64(last->key.data()) + 1;
  return uint64_t{1};
}
}  // namespace

Status ClientState::AddToOutbox(const OutboxEntry& entry) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  LIAISON_RETURN_IF_ERROR(AddToOutbox(txn, entry));
  return txn.Commit();
}

Status ClientState::AddToOutbox(Txn& txn, const OutboxEntry& entry) {
  Bytes value(entry.message_id.begin(), entry.message_id.end());
  AppendLengthPrefixed(value, entry.recipient);
  AppendBe64(value, static_cast<uint64_t>(entry.expires_at));
  value.insert(value.end(), entry.envelope.begin(), entry.envelope.end());
  LIAISON_ASSIGN_OR_RETURN(uint64_t position, NextPosition(txn, outbox_));
  Bytes key;
  AppendBe64(key, position);
  return txn.Put(outbox_, key, value);
}

Result<std::vector<OutboxEntry>> ClientState::Outbox() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, outbox_));
  std::vector<OutboxEntry> out;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    OutboxEntry e;
    if (entry->key.size() != 8) return Corrupt("outbox key");
    e.position = GetBigEndian64(entry->key.data());
    Reader r(entry->value);
    ByteView id;
    uint64_t expires = 0;
    if (!r.Take(16, &id) || !r.Prefixed(&e.recipient) || !r.Be64(&expires)) return Corrupt("outbox entry");
    std::memcpy(e.message_id.data(), id.data(), 16);
    e.expires_at = static_cast<int64_t>(expires);
    ByteView rest = r.Rest();
    e.envelope.assign(rest.begin(), rest.end());
    out.push_back(std::move(e));
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Status ClientState::RemoveFromOutbox(Txn& txn, uint64_t position) {
  Bytes key;
  AppendBe64(key, position);
  LIAISON_ASSIGN_OR_RETURN(bool removed, txn.Del(outbox_, key));
  (void)removed;
  return Status::Ok();
}

Status ClientState::MoveToFailed(Txn& txn, const OutboxEntry& entry, std::string_view reason) {
  LIAISON_RETURN_IF_ERROR(RemoveFromOutbox(txn, entry.position));
  LIAISON_ASSIGN_OR_RETURN(uint64_t position, NextPosition(txn, failed_));
  Bytes failed_key;
  AppendBe64(failed_key, position);
  Bytes value(entry.message_id.begin(), entry.message_id.end());
  AppendLengthPrefixed(value, entry.recipient);
  value.insert(value.end(), reason.begin(), reason.end());
  return txn.Put(failed_, failed_key, value);
}

Result<std::vector<std::string>> ClientState::TakeFailures() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  std::vector<std::string> out;
  std::vector<Bytes> keys;
  {
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, failed_));
    LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
    while (entry) {
      Reader r(entry->value);
      ByteView id;
      std::string recipient;
      if (!r.Take(16, &id) || !r.Prefixed(&recipient)) return Corrupt("failed entry");
      out.push_back("message " + ToHex(id) + " to " + recipient + ": " + std::string(AsChars(r.Rest())));
      keys.emplace_back(entry->key.begin(), entry->key.end());
      LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
    }
  }
  for (const Bytes& key : keys) {
    LIAISON_ASSIGN_OR_RETURN(bool removed, txn.Del(failed_, key));
    (void)removed;
  }
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  return out;
}

namespace {
Bytes SeenKey(std::string_view sender, const MessageId& id) {
  Bytes key;
  AppendLengthPrefixed(key, sender);
  key.insert(key.end(), id.begin(), id.end());
  return key;
}
}  // namespace

Result<std::vector<bool>> ClientState::StoreReceived(const std::vector<ReceivedMessage>& messages) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  std::vector<bool> fresh;
  for (const ReceivedMessage& m : messages) {
    LIAISON_ASSIGN_OR_RETURN(bool stored, StoreReceived(txn, m));
    fresh.push_back(stored);
  }
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  return fresh;
}

Result<bool> ClientState::Seen(Txn& txn, std::string_view sender, const MessageId& id) {
  LIAISON_ASSIGN_OR_RETURN(auto seen, txn.Get(seen_, SeenKey(sender, id)));
  return seen.has_value();
}

Result<bool> ClientState::StoreReceived(Txn& txn, const ReceivedMessage& m) {
  const Bytes seen_key = SeenKey(m.sender, m.message_id);
  LIAISON_ASSIGN_OR_RETURN(auto seen, txn.Get(seen_, seen_key));
  if (seen) return false;
  LIAISON_ASSIGN_OR_RETURN(uint64_t next, NextPosition(txn, inbox_));
  Bytes key;
  AppendBe64(key, next);
  Bytes record(m.message_id.begin(), m.message_id.end());
  AppendBe64(record, static_cast<uint64_t>(m.stored_at));
  AppendBe64(record, static_cast<uint64_t>(m.received_at));
  AppendLengthPrefixed(record, m.sender);
  record.insert(record.end(), m.text.begin(), m.text.end());
  LIAISON_RETURN_IF_ERROR(txn.Put(inbox_, key, record));
  LIAISON_RETURN_IF_ERROR(txn.Put(seen_, seen_key, key));
  return true;
}

Result<bool> ClientState::MarkSeen(Txn& txn, std::string_view sender, const MessageId& id) {
  const Bytes seen_key = SeenKey(sender, id);
  LIAISON_ASSIGN_OR_RETURN(auto seen, txn.Get(seen_, seen_key));
  if (seen) return false;
  LIAISON_RETURN_IF_ERROR(txn.Put(seen_, seen_key, ByteView()));
  return true;
}

MDB_dbi ClientState::Dbi(Table table) const {
  switch (table) {
    case Table::kSentAlerts: return sent_alerts_;
    case Table::kAlertRecipients: return alert_recipients_;
    case Table::kReceivedAlerts: return received_alerts_;
    case Table::kBroadcastOutbox: return broadcast_outbox_;
  }
  return sent_alerts_;
}

Result<std::optional<Bytes>> ClientState::Get(Txn& txn, Table table, ByteView key) {
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(Dbi(table), key));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Status ClientState::Put(Txn& txn, Table table, ByteView key, ByteView value) { return txn.Put(Dbi(table), key, value); }

Status ClientState::Delete(Txn& txn, Table table, ByteView key) {
  LIAISON_ASSIGN_OR_RETURN(bool removed, txn.Del(Dbi(table), key));
  (void)removed;
  return Status::Ok();
}

Result<std::vector<std::pair<Bytes, Bytes>>> ClientState::Scan(Txn& txn, Table table, ByteView prefix) {
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, Dbi(table)));
  std::vector<std::pair<Bytes, Bytes>> out;
  LIAISON_ASSIGN_OR_RETURN(auto entry, prefix.empty() ? cursor.First() : cursor.Seek(prefix));
  while (entry && entry->key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), entry->key.begin())) {
    out.emplace_back(Bytes(entry->key.begin(), entry->key.end()), Bytes(entry->value.begin(), entry->value.end()));
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Result<uint64_t> ClientState::NextPositionIn(Txn& txn, Table table) { return NextPosition(txn, Dbi(table)); }

Result<std::optional<Bytes>> ClientState::GetSelf(Txn& txn, std::string_view name) {
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(self_, AsBytes(name)));
  if (!value) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(value->begin(), value->end()));
}

Status ClientState::PutSelf(Txn& txn, std::string_view name, ByteView value) {
  return txn.Put(self_, AsBytes(name), value);
}

Result<std::optional<ByteView>> ClientState::GetSessions(Txn& txn, std::string_view peer) {
  return txn.Get(sessions_, AsBytes(peer));
}

Status ClientState::PutSessions(Txn& txn, std::string_view peer, ByteView sessions) {
  return txn.Put(sessions_, AsBytes(peer), sessions);
}

namespace {
std::array<uint8_t, 4> Be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}
uint32_t GetBe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         static_cast<uint32_t>(p[3]);
}

// Writes secret:32 | public:32 (after `prefix`) into a buffer that is wiped after the put.
Status PutKeyPair(Txn& txn, MDB_dbi dbi, uint32_t id, ByteView prefix, const crypto::DhKeyPair& pair) {
  Bytes value(prefix.begin(), prefix.end());
  value.insert(value.end(), pair.secret_key.data(), pair.secret_key.data() + pair.secret_key.size());
  value.insert(value.end(), pair.public_key.begin(), pair.public_key.end());
  Status put = txn.Put(dbi, Be32(id), value);
  sodium_memzero(value.data(), value.size());
  return put;
}

Result<crypto::DhKeyPair> GetKeyPair(Txn& txn, MDB_dbi dbi, uint32_t id, size_t prefix_bytes, const char* what) {
  LIAISON_ASSIGN_OR_RETURN(auto value, txn.Get(dbi, Be32(id)));
  if (!value) return Status::Error(Code::kNotFound, std::string(what) + " " + std::to_string(id) + " is not held");
  if (value->size() != prefix_bytes + 64) return Corrupt(what);
  LIAISON_ASSIGN_OR_RETURN(auto secret, crypto::SecretBytes<32>::FromBytes(value->subspan(prefix_bytes, 32)));
  return crypto::DhKeyPair::FromSecret(std::move(secret));
}
}  // namespace

Status ClientState::PutSignedPrekey(Txn& txn, uint32_t id, int64_t created_at, const crypto::DhKeyPair& pair) {
  Bytes prefix;
  AppendBe64(prefix, static_cast<uint64_t>(created_at));
  return PutKeyPair(txn, signed_prekeys_, id, prefix, pair);
}

Result<std::vector<SignedPrekeyInfo>> ClientState::SignedPrekeys(Txn& txn) {
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, signed_prekeys_));
  std::vector<SignedPrekeyInfo> out;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    if (entry->key.size() != 4 || entry->value.size() != 8 + 64) return Corrupt("signed prekey");
    SignedPrekeyInfo info;
    info.id = GetBe32(entry->key.data());
    info.created_at = static_cast<int64_t>(GetBigEndian64(entry->value.data()));
    std::copy_n(entry->value.begin() + 8 + 32, 32, info.public_key.begin());
    out.push_back(info);
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Status ClientState::DeleteSignedPrekey(Txn& txn, uint32_t id) { return txn.Del(signed_prekeys_, Be32(id)).status(); }

Status ClientState::PutOneTimePrekey(Txn& txn, uint32_t id, const crypto::DhKeyPair& pair) {
  return PutKeyPair(txn, one_time_prekeys_, id, ByteView(), pair);
}

Status ClientState::DeleteOneTimePrekey(Txn& txn, uint32_t id) {
  return txn.Del(one_time_prekeys_, Be32(id)).status();
}

Result<std::vector<std::pair<uint32_t, crypto::DhPublicKey>>> ClientState::OneTimePrekeysAfter(Txn& txn, uint32_t after,
                                                                                                size_t max) {
  std::vector<std::pair<uint32_t, crypto::DhPublicKey>> out;
  if (after == UINT32_MAX) return out;
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, one_time_prekeys_));
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.Seek(Be32(after + 1)));
  while (entry && out.size() < max) {
    if (entry->key.size() != 4 || entry->value.size() != 64) return Corrupt("one-time prekey");
    crypto::DhPublicKey pub{};
    std::copy_n(entry->value.begin() + 32, 32, pub.begin());
    out.emplace_back(GetBe32(entry->key.data()), pub);
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Result<crypto::DhKeyPair> ClientState::SignedPrekeyPair(Txn& txn, uint32_t id) {
  return GetKeyPair(txn, signed_prekeys_, id, 8, "signed prekey");
}

Result<crypto::DhKeyPair> ClientState::OneTimePrekeyPair(Txn& txn, uint32_t id) {
  return GetKeyPair(txn, one_time_prekeys_, id, 0, "one-time prekey");
}

Result<std::vector<ReceivedMessage>> ClientState::Inbox() {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginRead(*env_));
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, inbox_));
  std::vector<ReceivedMessage> out;
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    ReceivedMessage m;
    Reader r(entry->value);
    ByteView id;
    uint64_t stored = 0, received = 0;
    if (!r.Take(16, &id) || !r.Be64(&stored) || !r.Be64(&received) || !r.Prefixed(&m.sender)) {
      return Corrupt("inbox record");
    }
    std::memcpy(m.message_id.data(), id.data(), 16);
    m.stored_at = static_cast<int64_t>(stored);
    m.received_at = static_cast<int64_t>(received);
    m.text.assign(AsChars(r.Rest()));
    out.push_back(std::move(m));
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

Status ClientState::PutRosterEpoch(Txn& txn, uint64_t number, ByteView signed_epoch) {
  uint8_t key[8];
  PutBigEndian64(number, key);
  return txn.Put(roster_, ByteView(key, 8), signed_epoch);
}

Result<std::vector<std::pair<uint64_t, Bytes>>> ClientState::RosterEpochs(Txn& txn) {
  std::vector<std::pair<uint64_t, Bytes>> out;
  LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, roster_));
  LIAISON_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry) {
    if (entry->key.size() != 8) return Status::Error(Code::kCorruption, "a stored roster epoch key is not 8 bytes");
    out.emplace_back(GetBigEndian64(entry->key.data()), Bytes(entry->value.begin(), entry->value.end()));
    LIAISON_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return out;
}

}  // namespace liaison::client
