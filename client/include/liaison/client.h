// liaison::Client: one device's end of liaison. Start here.
//
// A Client lives on a state directory (an LMDB environment holding the device's keys and
// prekeys, its sessions, pinned contacts, the outbox, the inbox and the ids of messages already
// received). It talks to one
// relay over CurveZMQ with the relay's public key pinned.
//
//   auto client = liaison::Client::Open({.state_dir = "..."});
//   (*client)->Send("desk-dresden/1", "hello");   // encrypted, kept in the outbox until stored
//   (*client)->Sync();                             // send the outbox, fetch, decrypt, store, ack
//   for (auto& m : *(*client)->Inbox()) ...
//
// Guarantees: a message reaches the application (the inbox) once, however often the relay
// delivers it; it is acknowledged to the relay only after the inbox commit returned; a message
// written while the relay is unreachable waits in the outbox and goes out on the next Sync.
//
// Thread-safety: a Client is used from one thread at a time. Several Clients (on different state
// directories) may live in one process; there is no global state.
#ifndef LIAISON_CLIENT_H_
#define LIAISON_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "liaison/status.h"

namespace liaison {

class Clock;  // base/clock.h

struct ClientOptions {
  // Directory of the device's state. Created by Create(); must exist for Open().
  std::string state_dir;
  // Relay endpoint (e.g. "tcp://127.0.0.1:7400") and its CURVE public key (Z85, 40 chars).
  // Required by Create(); for Open() they override the stored values when non-empty.
  std::string relay_endpoint;
  std::string relay_public_key;
  // How long one request waits for the relay before the operation reports kUnavailable.
  std::chrono::milliseconds timeout{5000};
  // The time source for expiry, timestamps and signed-prekey rotation; nullptr means the system
  // clock. Not owned; must outlive the Client. Tests pass a FakeClock.
  Clock* clock = nullptr;
  // The coordinator's Ed25519 public key (64 hex characters, from the invitation). Read by
  // Create() only: the device then runs in roster mode, taking every member, device and key
  // from coordinator-signed roster epochs (and enforcing the role policy) instead of pinning
  // keys the relay hands out on first use. Open() uses what Create() stored.
  std::string coordinator_key;
};

// What a coordinator needs to admit this device: its address and public keys (TOML text).
struct DeviceCard {
  std::string address;
  std::string transport_key;  // CURVE public key, Z85
  std::string signing_key;    // Ed25519 public key, hex
  std::string dh_key;         // X25519 public key, hex
  std::string ToToml() const;
};

struct InboxMessage {
  std::string id;             // message id, hex (32 chars), unique per sender
  std::string sender;         // authenticated sender address
  std::string sender_name;    // roster mode: the sending device's holder (e.g. the officer who
                              // wrote from a desk), else its member's display name, from the
                              // newest roster epoch; empty in list mode or if no longer listed
  int64_t stored_at = 0;      // when the relay stored it, microseconds since the epoch
  int64_t received_at = 0;    // when this device stored it
  std::string text;
};

// A safety number between this device's member and another member (roster mode), for
// comparison face to face or by scanning `qr_text`.
struct Verification {
  std::string member;
  std::string safety_number;  // 60 digits in 12 groups of 5; the same on both sides
  std::string qr_text;        // one line: "liaison-safety-v1:<member>:<member>:<60 digits>"
  bool verified = false;      // MarkVerified recorded exactly this number
  bool changed_since_verification = false;  // a number was recorded, but a key changed since
};

struct SendReceipt {
  std::string id;       // message id, hex
  bool stored = false;  // true: the relay acknowledged it as stored; false: waiting in the outbox
};

struct SyncReport {
  size_t sent = 0;            // outbox messages the relay acknowledged as stored
  size_t failed = 0;          // messages the relay refused for good (4xx) since the last report
  size_t still_queued = 0;    // outbox messages waiting (relay unreachable, mailbox or store full,
                              // relay error 5xx, or a relay speaking another frame version)
  size_t received = 0;        // new messages now in the inbox
  size_t duplicates = 0;      // deliveries of messages already in the inbox (acknowledged again)
  size_t rejected = 0;        // deliveries that failed authentication or decoding (dropped)
  size_t roster_alarms = 0;   // roster mode: the relay served a forged, rolled-back or forked
                              // roster, or a sender wrote under an epoch this device cannot find
                              // even after updating (split view). Details in `errors`.
  uint64_t roster_epoch = 0;  // roster mode: the newest epoch this device holds after the sync
  size_t deferred = 0;        // deliveries left on the relay for later (sender keys unknown yet,
                              // or an envelope version this build cannot read)
  std::vector<std::string> errors;  // one line per failed, rejected or deferred message
};

class Client {
 public:
  // Makes a new device: keys, state directory, relay endpoint and key. `address` is the device
  // address ("member/device", 1..64 bytes). kAlreadyExists if the directory holds a device.
  static Result<std::unique_ptr<Client>> Create(const ClientOptions& options, std::string_view address);
  // Makes a new device from a coordinator's invitation (the text `liaison admin invite` prints):
  // created like Create() in roster mode with the invitation's relay endpoint, relay key,
  // coordinator key and address (those fields of `options` are ignored). `*request` receives the
  // enrollment request to hand back to the coordinator; the device is admitted once the
  // coordinator approved it. kMalformed for a damaged invitation, kExpired for an expired one.
  static Result<std::unique_ptr<Client>> Enroll(const ClientOptions& options, std::string_view invitation,
                                                std::string* request);
  // Opens an existing device. kNotFound if the directory holds none.
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);
  virtual ~Client() = default;

  virtual const std::string& address() const = 0;
  virtual DeviceCard Card() const = 0;

  // Encrypts `text` for `recipient` and stores it in the outbox, then tries to hand it to the relay.
  // `recipient` is a device address ("member/device") or a member ("member"), which means each of
  // the member's devices the relay lists (except this one). Each device gets its own copy, in its
  // own Double Ratchet session; a device without a session gets one first (X3DH from prekeys the
  // relay hands out), which needs the relay. The session advances in the same commit that queues
  // the copy. OK as soon as every copy is durably in the outbox; the receipt says whether the
  // relay has already stored all of them (if not, Sync() sends the rest later).
  // Errors: kInvalidArgument (empty or >64 KiB text, bad address), kNotFound (the relay knows no
  // keys, prekeys or devices for the recipient), kUnauthenticated (the recipient's bundle fails
  // its signature check, differs from the pinned one, or its signed prekey signature is bad;
  // nothing is queued), kUnavailable (a session or device list was needed and the relay is
  // unreachable); and whatever the relay answered if it refused a copy for good (4xx), in which
  // case that copy is no longer in the outbox. The first bundle seen for an address is pinned and
  // used from then on (trust on first use until the signed roster).
  virtual Result<SendReceipt> Send(std::string_view recipient, std::string_view text) = 0;

  // Publishes this device's keys and prekeys if needed (topping one-time prekeys up when the
  // relay holds fewer than 20), sends the outbox, then fetches, decrypts, stores and acknowledges
  // everything pending (each batch, with the sessions it advanced, in one commit before the ack). kUnavailable if the relay does not answer (the outbox and
  // the inbox are intact; call again later).
  virtual Result<SyncReport> Sync() = 0;

  // Subscribes to pushes and handles deliveries as they arrive for `duration`, calling
  // `on_message` (may be empty) for each new inbox message after it is stored. Re-subscribes
  // every few seconds, so a reconnect does not end the pushes.
  virtual Result<SyncReport> Listen(std::chrono::milliseconds duration,
                                    const std::function<void(const InboxMessage&)>& on_message) = 0;

  // The inbox, oldest first.
  virtual Result<std::vector<InboxMessage>> Inbox() = 0;
  // Messages waiting in the outbox.
  virtual Result<size_t> OutboxSize() = 0;
  // Roster mode: makes new keys for this device, kept aside until approved, and returns the key
  // rotation request for the coordinator (`liaison admin approve-rotation`), signed with the
  // current key. After the coordinator published an epoch with the new keys, the next Send,
  // Sync or Listen switches to them (new transport key, bundle and signed prekey republished)
  // and new sessions are started with every peer. Until then it returns the same request.
  virtual Result<std::string> RequestKeyRotation() = 0;
  // Roster mode: the safety number with `member` (a member id) from the newest roster epoch,
  // and whether it was verified. kNotFound if either member is not in the roster;
  // kInvalidArgument in list mode.
  virtual Result<Verification> Verify(std::string_view member) = 0;
  // Records that the number was compared and matched. `safety_number` is what the person
  // confirmed (digits, spaces ignored); kUnauthenticated if it is not the current number.
  virtual Status MarkVerified(std::string_view member, std::string_view safety_number) = 0;
};

}  // namespace liaison

#endif  // LIAISON_CLIENT_H_
