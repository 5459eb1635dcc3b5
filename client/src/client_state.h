// The device's state in LMDB (internal to client/): own keys, prekeys, sessions, pinned contacts,
// outbox, inbox and the ids of messages already received.
//
// Tables: self (name -> value), contacts (address -> key bundle, client/src/key_bundle.h), outbox
// (n:u64be, in the order written -> message_id | u8 len | recipient | expires_at:u64be |
// envelope), failed (n:u64be -> message_id | u8 len | recipient | reason), inbox (n:u64be -> record), seen (u8 len |
// sender | message_id -> n:u64be), where record = message_id | stored_at:u64be |
// received_at:u64be | u8 len | sender | text; sessions (peer address -> peer_sessions_v1,
// client/src/sessions.h), signed_prekeys (id:u32be -> created_at:i64be | secret:32 | public:32),
// one_time_prekeys (id:u32be -> secret:32 | public:32); and for alerts and reports
// (client/src/tracking.h): sent_alerts (id:16 -> SentAlertRecord), alert_recipients (id:16 | u8
// len | device -> RecipientRecord), received_alerts (id:16 -> ReceivedAlertRecord),
// broadcast_outbox (n:u64be -> an encoded wire::SendBroadcastRequest waiting for the relay).
//
// Operations that must land together (a session advanced and the message it encrypted queued; a
// session advanced, its one-time prekey deleted and the message it decrypted stored) take a
// write transaction from BeginWrite() and commit it once.
// Thread-safety: one thread at a time (the Client's).
#ifndef LIAISON_CLIENT_SRC_CLIENT_STATE_H_
#define LIAISON_CLIENT_SRC_CLIENT_STATE_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "liaison/client.h"
#include "store/lmdb.h"

namespace liaison::client {

using MessageId = std::array<uint8_t, 16>;

struct OutboxEntry {
  uint64_t position = 0;  // assigned by AddToOutbox; the outbox is sent in this order
  MessageId message_id{};
  std::string recipient;
  int64_t expires_at = 0;
  Bytes envelope;
};

struct ReceivedMessage {
  MessageId message_id{};
  std::string sender;
  int64_t stored_at = 0;
  int64_t received_at = 0;
  std::string text;
};

struct SignedPrekeyInfo {
  uint32_t id = 0;
  int64_t created_at = 0;
  crypto::DhPublicKey public_key{};
};

class ClientState {
 public:
  // Opens or creates the state environment in `dir`.
  static Result<std::unique_ptr<ClientState>> Open(const std::string& dir);

  Result<std::optional<Bytes>> GetSelf(std::string_view name);
  // Writes several self entries in one commit.
  Status PutSelf(const std::vector<std::pair<std::string, Bytes>>& entries);

  Result<std::optional<Bytes>> GetContact(std::string_view address);
  Status PinContact(std::string_view address, ByteView keys);

  Status AddToOutbox(const OutboxEntry& entry);
  // The outbox, oldest first.
  Result<std::vector<OutboxEntry>> Outbox();
  // The recorded refusals (one line each), removed from the state.
  Result<std::vector<std::string>> TakeFailures();

  // Stores the messages not seen before, in one commit; returns, per message, true if it was new.
  Result<std::vector<bool>> StoreReceived(const std::vector<ReceivedMessage>& messages);
  Result<std::vector<ReceivedMessage>> Inbox();

  // --- Within one transaction -------------------------------------------------------------
  Result<store::Txn> BeginWrite() { return store::Txn::BeginWrite(*env_); }
  Result<store::Txn> BeginRead() { return store::Txn::BeginRead(*env_); }

  Result<std::optional<Bytes>> GetSelf(store::Txn& txn, std::string_view name);
  Status PutSelf(store::Txn& txn, std::string_view name, ByteView value);
  Status AddToOutbox(store::Txn& txn, const OutboxEntry& entry);
  Status RemoveFromOutbox(store::Txn& txn, uint64_t position);
  // Removes a message the relay refused for good and records why, so that the refusal is
  // reported by the next TakeFailures() even if the call that met it could not say.
  Status MoveToFailed(store::Txn& txn, const OutboxEntry& entry, std::string_view reason);
  // Whether a message (sender, id) is in the inbox already.
  Result<bool> Seen(store::Txn& txn, std::string_view sender, const MessageId& id);
  // Stores one message; false (and nothing written) if it was seen before.
  Result<bool> StoreReceived(store::Txn& txn, const ReceivedMessage& message);
  // Records (sender, id) as received without an inbox entry (receipts, alert copies); false if
  // it was recorded before.
  Result<bool> MarkSeen(store::Txn& txn, std::string_view sender, const MessageId& id);

  // The record tables of alerts and reports: plain keys and values, encoded by tracking.h.
  enum class Table { kSentAlerts, kAlertRecipients, kReceivedAlerts, kBroadcastOutbox };
  Result<std::optional<Bytes>> Get(store::Txn& txn, Table table, ByteView key);
  Status Put(store::Txn& txn, Table table, ByteView key, ByteView value);
  Status Delete(store::Txn& txn, Table table, ByteView key);
  // Every entry whose key starts with `prefix`, in key order.
  Result<std::vector<std::pair<Bytes, Bytes>>> Scan(store::Txn& txn, Table table, ByteView prefix);
  // The next free u64be position key of an ordered table (kBroadcastOutbox).
  Result<uint64_t> NextPositionIn(store::Txn& txn, Table table);

  // The stored peer_sessions_v1 of `peer` (a view into the transaction; copy before it ends).
  Result<std::optional<ByteView>> GetSessions(store::Txn& txn, std::string_view peer);
  Status PutSessions(store::Txn& txn, std::string_view peer, ByteView sessions);

  Status PutSignedPrekey(store::Txn& txn, uint32_t id, int64_t created_at, const crypto::DhKeyPair& pair);
  Result<std::vector<SignedPrekeyInfo>> SignedPrekeys(store::Txn& txn);
  Status DeleteSignedPrekey(store::Txn& txn, uint32_t id);
  Status PutOneTimePrekey(store::Txn& txn, uint32_t id, const crypto::DhKeyPair& pair);
  Status DeleteOneTimePrekey(store::Txn& txn, uint32_t id);
  // The one-time prekeys with id > after, ascending, at most `max`.
  Result<std::vector<std::pair<uint32_t, crypto::DhPublicKey>>> OneTimePrekeysAfter(store::Txn& txn, uint32_t after,
                                                                                     size_t max);
  // A prekey's key pair by id (secret copied into sodium memory); kNotFound if absent.
  Result<crypto::DhKeyPair> SignedPrekeyPair(store::Txn& txn, uint32_t id);
  Result<crypto::DhKeyPair> OneTimePrekeyPair(store::Txn& txn, uint32_t id);

  // Verified roster epochs (signed bytes, roster/roster.h), by number. The caller verifies;
  // this only stores. Epochs are never deleted: their hashes identify what senders saw.
  Status PutRosterEpoch(store::Txn& txn, uint64_t number, ByteView signed_epoch);
  // Every stored epoch, ascending by number.
  Result<std::vector<std::pair<uint64_t, Bytes>>> RosterEpochs(store::Txn& txn);

 private:
  explicit ClientState(std::unique_ptr<store::Env> env) : env_(std::move(env)) {}
  std::unique_ptr<store::Env> env_;
  MDB_dbi self_ = 0, contacts_ = 0, outbox_ = 0, failed_ = 0, inbox_ = 0, seen_ = 0, sessions_ = 0,
          signed_prekeys_ = 0, one_time_prekeys_ = 0, roster_ = 0, sent_alerts_ = 0, alert_recipients_ = 0,
          received_alerts_ = 0, broadcast_outbox_ = 0;
  MDB_dbi Dbi(Table table) const;
};

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_CLIENT_STATE_H_
