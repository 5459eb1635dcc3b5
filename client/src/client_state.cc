#include "client/src/client_state.h"

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
  Bytes value(entry.message_id.begin(), entry.message_id.end());
  AppendLengthPrefixed(value, entry.recipient);
  AppendBe64(value, static_cast<uint64_t>(entry.expires_at));
  value.insert(value.end(), entry.envelope.begin(), entry.envelope.end());
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  LIAISON_ASSIGN_OR_RETURN(uint64_t position, NextPosition(txn, outbox_));
  Bytes key;
  AppendBe64(key, position);
  LIAISON_RETURN_IF_ERROR(txn.Put(outbox_, key, value));
  return txn.Commit();
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

Status ClientState::RemoveFromOutbox(uint64_t position) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  Bytes key;
  AppendBe64(key, position);
  LIAISON_ASSIGN_OR_RETURN(bool removed, txn.Del(outbox_, key));
  (void)removed;
  return txn.Commit();
}

Status ClientState::MoveToFailed(const OutboxEntry& entry, std::string_view reason) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  Bytes key;
  AppendBe64(key, entry.position);
  LIAISON_ASSIGN_OR_RETURN(bool removed, txn.Del(outbox_, key));
  (void)removed;
  LIAISON_ASSIGN_OR_RETURN(uint64_t position, NextPosition(txn, failed_));
  Bytes failed_key;
  AppendBe64(failed_key, position);
  Bytes value(entry.message_id.begin(), entry.message_id.end());
  AppendLengthPrefixed(value, entry.recipient);
  value.insert(value.end(), reason.begin(), reason.end());
  LIAISON_RETURN_IF_ERROR(txn.Put(failed_, failed_key, value));
  return txn.Commit();
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

Result<std::vector<bool>> ClientState::StoreReceived(const std::vector<ReceivedMessage>& messages) {
  LIAISON_ASSIGN_OR_RETURN(Txn txn, Txn::BeginWrite(*env_));
  uint64_t next = 1;
  {
    LIAISON_ASSIGN_OR_RETURN(Cursor cursor, Cursor::Open(txn, inbox_));
    LIAISON_ASSIGN_OR_RETURN(auto last, cursor.Last());
    if (last && last->key.size() == 8) next = GetBigEndian64(last->key.data()) + 1;
  }
  std::vector<bool> fresh;
  for (const ReceivedMessage& m : messages) {
    Bytes seen_key;
    AppendLengthPrefixed(seen_key, m.sender);
    seen_key.insert(seen_key.end(), m.message_id.begin(), m.message_id.end());
    LIAISON_ASSIGN_OR_RETURN(auto seen, txn.Get(seen_, seen_key));
    if (seen) {
      fresh.push_back(false);
      continue;
    }
    Bytes key;
    AppendBe64(key, next++);
    Bytes record(m.message_id.begin(), m.message_id.end());
    AppendBe64(record, static_cast<uint64_t>(m.stored_at));
    AppendBe64(record, static_cast<uint64_t>(m.received_at));
    AppendLengthPrefixed(record, m.sender);
    record.insert(record.end(), m.text.begin(), m.text.end());
    LIAISON_RETURN_IF_ERROR(txn.Put(inbox_, key, record));
    LIAISON_RETURN_IF_ERROR(txn.Put(seen_, seen_key, key));
    fresh.push_back(true);
  }
  LIAISON_RETURN_IF_ERROR(txn.Commit());
  return fresh;
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

}  // namespace liaison::client
