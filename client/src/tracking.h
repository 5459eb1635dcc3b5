// The records the client keeps about alerts and reports (internal to client/): what this device
// sent and what its recipients confirmed (sender side), and what it received and answered
// (recipient side). Stored in ClientState's record tables, encoded with the bounded cereal codec
// of wire/codec.h; each record starts with a version byte so that later versions can still read
// it. Thread-safety: plain values and pure functions.
#ifndef LIAISON_CLIENT_SRC_TRACKING_H_
#define LIAISON_CLIENT_SRC_TRACKING_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "liaison/status.h"
#include "wire/codec.h"
#include "wire/limits.h"

namespace liaison::client {

using BroadcastId = std::array<uint8_t, 16>;

inline constexpr uint8_t kTrackingVersion1 = 1;
inline constexpr uint8_t kKindAlert = 1;
inline constexpr uint8_t kKindReport = 2;
inline constexpr size_t kMaxTitleBytes = 200;
inline constexpr size_t kMaxAlertTextBytes = 16 * 1024;
inline constexpr size_t kMaxPlaceBytes = 200;
inline constexpr size_t kMaxWhenBytes = 64;
inline constexpr size_t kMaxAnswerBytes = 200;

// What an alert or report says: the plaintext of the shared body (client/src/broadcast_body.h)
// and the sender's own copy.
struct BroadcastContent {
  uint8_t kind = kKindAlert;        // kKindAlert or kKindReport
  std::string sender;               // the sending device's address
  int64_t created_at = 0;           // sender's clock, microseconds
  int64_t expires_at = 0;
  uint8_t severity = 1;             // alerts: liaison::Severity
  uint8_t category = 4;             // reports: liaison::ReportCategory
  uint8_t ack_required = 0;         // 0 or 1
  std::string title;                // alerts
  std::string place, when;          // reports
  std::string text;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(kind, wire::Bounded<wire::kMaxAddressBytes>(sender), created_at, expires_at, severity, category, ack_required,
       wire::Bounded<kMaxTitleBytes>(title), wire::Bounded<kMaxPlaceBytes>(place), wire::Bounded<kMaxWhenBytes>(when),
       wire::Bounded<kMaxAlertTextBytes>(text));
  }
};
// OK if the fields are in range (kind, severity 1..3, category 1..4, flags 0/1, a non-empty text,
// an alert's non-empty title); kMalformed naming the field otherwise.
Status ValidateContent(const BroadcastContent& content);

struct SubmissionRecord {
  std::array<uint8_t, 32> relay_signing_key{};
  std::array<uint8_t, 32> body_hash{};
  uint64_t stored_at = 0;
  uint32_t copies = 0;
  std::array<uint8_t, 64> signature{};
  template <class Archive>
  void serialize(Archive& ar) { ar(relay_signing_key, body_hash, stored_at, copies, signature); }
};

// Sender side: one alert or report (table sent_alerts, key id).
struct SentAlertRecord {
  uint8_t version = kTrackingVersion1;
  BroadcastId id{};
  BroadcastContent content;
  int64_t remind_after_micros = 0;  // 0: no reminder
  int64_t deputy_after_micros = 0;  // 0: no deputy notification
  uint8_t has_submission = 0;
  SubmissionRecord submission;      // the first submission receipt, if has_submission
  template <class Archive>
  void serialize(Archive& ar) {
    ar(version, id, content, remind_after_micros, deputy_after_micros, has_submission, submission);
  }
};

// Sender side: one recipient device of an alert (table alert_recipients, key id | u8 len | device).
struct RecipientRecord {
  uint8_t version = kTrackingVersion1;
  std::string device;
  std::array<uint8_t, 16> copy_id{};  // the message id of its first copy
  uint8_t via_escalation = 0;
  std::string refused;                // the relay's reason for a permanent refusal
  int64_t sent_at = 0, delivered_at = 0, read_at = 0, acknowledged_at = 0;
  std::string answer;
  int64_t reminded_at = 0, deputy_notified_at = 0;
  uint8_t call = 0;
  uint8_t queued = 0;                 // a copy is queued or stored; 0: no session could be started
                                      // yet (the device never published its keys), retried later
  template <class Archive>
  void serialize(Archive& ar) {
    ar(version, wire::Bounded<wire::kMaxAddressBytes>(device), copy_id, via_escalation,
       wire::Bounded<wire::kMaxReasonBytes>(refused), sent_at, delivered_at, read_at, acknowledged_at,
       wire::Bounded<kMaxAnswerBytes>(answer), reminded_at, deputy_notified_at, call, queued);
  }
};

// Recipient side: one alert or report received (table received_alerts, key id).
struct ReceivedAlertRecord {
  uint8_t version = kTrackingVersion1;
  BroadcastId id{};
  BroadcastContent content;         // content.sender is the authenticated sending device
  int64_t stored_at = 0;            // the relay's time of the first copy received
  int64_t received_at = 0;
  int64_t read_at = 0, acknowledged_at = 0;
  std::string answer;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(version, id, content, stored_at, received_at, read_at, acknowledged_at, wire::Bounded<kMaxAnswerBytes>(answer));
  }
};

// The key of a recipient record.
Bytes RecipientKey(const BroadcastId& id, std::string_view device);

// Encodings. Decode errors: kMalformed / kTooLarge (damaged record), kUnsupportedVersion.
Result<Bytes> EncodeRecord(const SentAlertRecord& record);
Result<Bytes> EncodeRecord(const RecipientRecord& record);
Result<Bytes> EncodeRecord(const ReceivedAlertRecord& record);
Result<SentAlertRecord> DecodeSentAlert(ByteView bytes);
Result<RecipientRecord> DecodeRecipient(ByteView bytes);
Result<ReceivedAlertRecord> DecodeReceivedAlert(ByteView bytes);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_TRACKING_H_
