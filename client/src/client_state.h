// The device's state in LMDB (internal to client/): own keys, pinned contacts, outbox, inbox and
// the ids of messages already received.
//
// Tables: self (name -> value), contacts (address -> key bundle, client/src/key_bundle.h), outbox
// (n:u64be, in the order written -> message_id | u8 len | recipient | expires_at:u64be |
// envelope), failed (n:u64be -> message_id | u8 len | recipient | reason), inbox (n:u64be -> record), seen (u8 len |
// sender | message_id -> n:u64be), where record = message_id | stored_at:u64be |
// received_at:u64be | u8 len | sender | text.
// Thread-safety: one thread at a time (the Client's).
#ifndef LIAISON_CLIENT_SRC_CLIENT_STATE_H_
#define LIAISON_CLIENT_SRC_CLIENT_STATE_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
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
  Status RemoveFromOutbox(uint64_t position);
  // Removes a message the relay refused for good and records why, in one commit, so that the
  // refusal is reported by the next TakeFailures() even if the call that met it could not say.
  Status MoveToFailed(const OutboxEntry& entry, std::string_view reason);
  // The recorded refusals (one line each), removed from the state.
  Result<std::vector<std::string>> TakeFailures();

  // Stores the messages not seen before, in one commit; returns, per message, true if it was new.
  Result<std::vector<bool>> StoreReceived(const std::vector<ReceivedMessage>& messages);
  Result<std::vector<ReceivedMessage>> Inbox();

 private:
  explicit ClientState(std::unique_ptr<store::Env> env) : env_(std::move(env)) {}
  std::unique_ptr<store::Env> env_;
  MDB_dbi self_ = 0, contacts_ = 0, outbox_ = 0, failed_ = 0, inbox_ = 0, seen_ = 0;
};

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_CLIENT_STATE_H_
