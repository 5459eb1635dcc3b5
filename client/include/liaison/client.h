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
#include <optional>
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

// How urgent an alert is. The inbox lists urgent alerts first.
enum class Severity : uint8_t { kInfo = 1, kWarning = 2, kUrgent = 3 };
// "info", "warning", "urgent"; ParseSeverity is the inverse (kInvalidArgument otherwise).
std::string_view SeverityName(Severity severity);
Result<Severity> ParseSeverity(std::string_view name);

// What an association reports to a police desk.
enum class ReportCategory : uint8_t { kThreatLetter = 1, kSuspiciousEvent = 2, kDamage = 3, kOther = 4 };
// "threat-letter", "suspicious-event", "damage", "other"; ParseReportCategory is the inverse.
std::string_view ReportCategoryName(ReportCategory category);
Result<ReportCategory> ParseReportCategory(std::string_view name);

// What the sender's client does about recipients who stay silent. Zero durations are off.
// The rules run on the sender's device, in Sync(), Listen() and RunEscalation(), against the
// injected clock: a rule fires at the first of those calls at or after its time.
struct EscalationRules {
  // No delivery receipt from a device this long after the alert was stored: send it again to
  // that device (once).
  std::chrono::seconds remind_after{0};
  // No acknowledgement from a member this long after the alert was stored (ack-required alerts
  // only): send the alert to the deputies of the member's organisation in the roster (once), and
  // mark the member for a phone call on the sender's list.
  std::chrono::seconds deputy_after{0};
};
// The defaults per severity: urgent remind 15 min, deputy 60 min; warning remind 60 min; info none.
EscalationRules DefaultEscalation(Severity severity);

// An alert from an officer, desk or coordinator to a selection of the roster (roster mode).
struct AlertRequest {
  // Space-separated terms that must all hold; a term's comma-separated values are
  // alternatives: "area:city:dresden role:association_contact", "org:DITIB Dresden",
  // "member:moschee-dresden,vsz-dresden", "role:association_contact,deputy", or "all".
  std::string to;
  Severity severity = Severity::kInfo;
  std::string title;            // 1..200 bytes
  std::string body;             // 1..16 KiB
  bool ack_required = false;
  std::chrono::seconds ttl{0};  // 0: 14 days
  std::optional<EscalationRules> escalation;  // empty: DefaultEscalation(severity)
};

// A concern an association contact or deputy reports to a desk (roster mode).
struct ReportRequest {
  std::string desk;             // the desk's member id
  ReportCategory category = ReportCategory::kOther;
  std::string place;            // 0..200 bytes, as the reporter writes it
  std::string when;             // 0..64 bytes, as the reporter writes it ("2026-12-01 19:30")
  std::string text;             // 1..16 KiB
  std::chrono::seconds ttl{0};  // 0: 30 days
};

// What SendAlert/SendReport did.
struct BroadcastReceipt {
  std::string id;               // the alert's or report's id, hex (32 chars)
  size_t recipients = 0;        // recipient devices
  size_t stored = 0;            // copies the relay has already stored (the rest wait in the outbox)
};

// The relay's signed statement that it stored an alert or report: Ed25519 by the relay's signing
// key (relay.sign.pub in its data directory) over "liaison/v1/submission-receipt" | id:16 |
// BLAKE2b-256(encrypted body):32 | stored_at:u64be | copies:u32be (docs/protocol.md).
struct SubmissionReceipt {
  std::string relay_signing_key;  // hex, 64 chars
  std::string body_hash;          // hex, 64 chars
  int64_t stored_at = 0;          // the relay's time, microseconds since the epoch
  uint32_t copies = 0;            // copies the relay stored in that request
  std::string signature;          // hex, 128 chars
};

// Checks a submission receipt for the alert or report `id` (hex) against `relay_signing_key`
// (hex). kUnauthenticated if it does not verify, kInvalidArgument for malformed hex.
Status VerifySubmissionReceipt(std::string_view id, const SubmissionReceipt& receipt,
                               std::string_view relay_signing_key);

// One recipient device of an alert or report, as the sender's client knows it.
struct RecipientStatus {
  std::string device;           // "member/device"
  std::string member;
  std::string name;             // the device's holder or the member's display name
  std::string organisation;
  bool via_escalation = false;  // added as a deputy by the escalation rule
  std::string refused;          // the relay refused this copy for good (reason); empty otherwise
  int64_t sent_at = 0;          // the relay stored the copy (0: still in the outbox)
  int64_t delivered_at = 0;     // receipts, by the device's clock; 0 = none yet
  int64_t read_at = 0;
  int64_t acknowledged_at = 0;
  std::string answer;           // the optional short answer with the acknowledgement
  bool expired = false;         // no delivery before the alert's expiry
  int64_t reminded_at = 0;      // escalation: sent again (0: not)
  int64_t deputy_notified_at = 0;  // escalation: the member's deputies were sent the alert
  bool call = false;            // escalation: phone this member (until one of its devices acknowledged)
};

// The sender's tally of one alert or report.
struct AlertStatus {
  std::string id;
  std::string kind;             // "alert" or "report"
  Severity severity = Severity::kInfo;      // alerts
  ReportCategory category = ReportCategory::kOther;  // reports
  std::string title;            // alerts: the title; reports: the category and place
  bool ack_required = false;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  size_t sent = 0, delivered = 0, read = 0, acknowledged = 0, expired = 0, pending = 0, refused = 0;
  std::vector<RecipientStatus> recipients;  // sorted by device address
  std::optional<SubmissionReceipt> submission;  // the relay's signed receipt of the first copies
};

struct InboxMessage {
  std::string id;             // message id, hex (32 chars), unique per sender; for alerts and
                              // reports the alert's or report's id (what Acknowledge takes)
  std::string kind = "text";  // "text", "alert" or "report"
  std::string sender;         // authenticated sender address
  std::string sender_name;    // roster mode: the sending device's holder (e.g. the officer who
                              // wrote from a desk), else its member's display name, from the
                              // newest roster epoch; empty in list mode or if no longer listed
  int64_t stored_at = 0;      // when the relay stored it, microseconds since the epoch
  int64_t received_at = 0;    // when this device stored it
  std::string text;           // the message, the alert's body or the report's description
  // Alerts and reports:
  Severity severity = Severity::kInfo;
  ReportCategory category = ReportCategory::kOther;
  std::string title;          // alerts
  std::string place, when;    // reports
  bool ack_required = false;  // alerts; reports always ask for an acknowledgement
  int64_t expires_at = 0;
  int64_t read_at = 0;        // MarkRead or Acknowledge recorded; 0 = unread
  int64_t acknowledged_at = 0;
  std::string answer;         // this device's answer, if it acknowledged with one
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
  size_t receipts = 0;        // receipts for this device's alerts and reports that counted
                              // (a repeated receipt counts once; a receipt from a device the
                              // alert was not addressed to is `rejected`)
  size_t escalations = 0;     // copies the escalation rules sent (reminders, deputy notifications)
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
  // `ttl` is how long the relay keeps the message for a recipient that does not fetch it: 0 means
  // 30 days; the relay caps it at its maximum TTL (90 days by default).
  virtual Result<SendReceipt> Send(std::string_view recipient, std::string_view text,
                                   std::chrono::seconds ttl = std::chrono::seconds(0)) = 0;

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

  // The inbox for people: alerts first (urgent, warning, info; newest first within each), then
  // reports (newest first), then messages (oldest first).
  virtual Result<std::vector<InboxMessage>> Inbox() = 0;

  // --- Alerts and reports (roster mode) -----------------------------------------------------
  // Sends an alert to every device of every member the selection names (except this member's).
  // A device that has not published its keys yet gets its copy at a later Sync (it shows as
  // pending); only if no selected device can be reached is that an error.
  // The body is encrypted once under a fresh key; each device gets a small envelope carrying
  // that key through its session; the relay stores the body once. Queued durably before it is
  // sent, like Send(). Errors: kInvalidArgument (bad selection, empty or long title or body, list
  // mode), kPermissionDenied (only officers, desks and coordinators alert), kNotFound (the
  // selection names nobody), kUnavailable (sessions had to be started and the relay is down).
  virtual Result<BroadcastReceipt> SendAlert(const AlertRequest& alert) = 0;
  // Sends a report to every device of `report.desk`, tracked like an alert (the desk is asked
  // to acknowledge). Errors as SendAlert; kPermissionDenied unless this member is an association
  // contact or deputy; kInvalidArgument if `desk` is not a desk.
  virtual Result<BroadcastReceipt> SendReport(const ReportRequest& report) = 0;
  // The tally of an alert or report this device sent. kNotFound for an unknown id.
  virtual Result<AlertStatus> GetAlertStatus(std::string_view id) = 0;
  // Every alert and report this device sent, newest first.
  virtual Result<std::vector<AlertStatus>> SentAlerts() = 0;
  // Records that a person saw the received alert or report `id` and queues a read receipt
  // (once). kNotFound if no such alert or report was received.
  virtual Status MarkRead(std::string_view id) = 0;
  // Acknowledges the received alert or report `id` with an optional answer (0..200 bytes), and
  // queues the signed receipt to its sender (marks it read too). A second acknowledgement is
  // refused with kAlreadyExists. kNotFound for an unknown id.
  virtual Status Acknowledge(std::string_view id, std::string_view answer) = 0;
  // Runs the escalation rules of the alerts this device sent (Sync and Listen call it too), and
  // retries recipient devices that had no copy yet because they had not published their keys.
  // Returns how many copies it sent or queued as reminders and deputy notifications (members
  // marked for a phone call show in GetAlertStatus).
  virtual Result<size_t> RunEscalation() = 0;
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
