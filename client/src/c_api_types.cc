// The result structs of the C API and their liaison_*_free functions (c_api_types.h).
#include "client/src/c_api_types.h"

#include <cstring>
#include <optional>
#include <utility>

namespace liaison::capi {
namespace {

liaison_severity CSeverity(Severity severity) { return static_cast<liaison_severity>(severity); }
liaison_report_category CCategory(ReportCategory category) {
  return static_cast<liaison_report_category>(category);
}

// A pointer array over owned holders, in the order given.
template <typename Base, typename Holder>
std::vector<const Base*> Pointers(const std::vector<std::unique_ptr<Holder>>& holders) {
  std::vector<const Base*> out;
  out.reserve(holders.size());
  for (const auto& h : holders) out.push_back(h.get());
  return out;
}

struct CardHolder : liaison_device_card {
  explicit CardHolder(DeviceCard card) : liaison_device_card{}, source(std::move(card)), toml_text(source.ToToml()) {
    address = source.address.c_str();
    transport_key = source.transport_key.c_str();
    signing_key = source.signing_key.c_str();
    dh_key = source.dh_key.c_str();
    toml = toml_text.c_str();
  }
  CardHolder(const CardHolder&) = delete;
  CardHolder& operator=(const CardHolder&) = delete;
  DeviceCard source;
  std::string toml_text;
};

struct SendReceiptHolder : liaison_send_receipt {
  explicit SendReceiptHolder(SendReceipt receipt) : liaison_send_receipt{}, source(std::move(receipt)) {
    id = source.id.c_str();
    stored = source.stored ? 1 : 0;
  }
  SendReceiptHolder(const SendReceiptHolder&) = delete;
  SendReceiptHolder& operator=(const SendReceiptHolder&) = delete;
  SendReceipt source;
};

struct SyncReportHolder : liaison_sync_report {
  explicit SyncReportHolder(SyncReport report) : liaison_sync_report{}, source(std::move(report)) {
    sent = source.sent;
    failed = source.failed;
    still_queued = source.still_queued;
    received = source.received;
    duplicates = source.duplicates;
    rejected = source.rejected;
    roster_alarms = source.roster_alarms;
    roster_epoch = source.roster_epoch;
    deferred = source.deferred;
    receipts = source.receipts;
    escalations = source.escalations;
    error_pointers.reserve(source.errors.size());
    for (const std::string& line : source.errors) error_pointers.push_back(line.c_str());
    error_count = error_pointers.size();
    errors = error_pointers.data();
  }
  SyncReportHolder(const SyncReportHolder&) = delete;
  SyncReportHolder& operator=(const SyncReportHolder&) = delete;
  SyncReport source;
  std::vector<const char*> error_pointers;
};

struct InboxHolder : liaison_inbox {
  explicit InboxHolder(std::vector<InboxMessage> messages_in) : liaison_inbox{} {
    items.reserve(messages_in.size());
    for (InboxMessage& m : messages_in) items.push_back(std::make_unique<MessageHolder>(std::move(m)));
    pointers = Pointers<liaison_message>(items);
    count = pointers.size();
    messages = pointers.data();
  }
  InboxHolder(const InboxHolder&) = delete;
  InboxHolder& operator=(const InboxHolder&) = delete;
  std::vector<std::unique_ptr<MessageHolder>> items;
  std::vector<const liaison_message*> pointers;
};

struct BroadcastReceiptHolder : liaison_broadcast_receipt {
  explicit BroadcastReceiptHolder(BroadcastReceipt receipt)
      : liaison_broadcast_receipt{}, source(std::move(receipt)) {
    id = source.id.c_str();
    recipients = source.recipients;
    stored = source.stored;
  }
  BroadcastReceiptHolder(const BroadcastReceiptHolder&) = delete;
  BroadcastReceiptHolder& operator=(const BroadcastReceiptHolder&) = delete;
  BroadcastReceipt source;
};

struct SubmissionHolder : liaison_submission_receipt {
  explicit SubmissionHolder(SubmissionReceipt receipt) : liaison_submission_receipt{}, source(std::move(receipt)) {
    relay_signing_key = source.relay_signing_key.c_str();
    body_hash = source.body_hash.c_str();
    stored_at = source.stored_at;
    copies = source.copies;
    signature = source.signature.c_str();
  }
  SubmissionHolder(const SubmissionHolder&) = delete;
  SubmissionHolder& operator=(const SubmissionHolder&) = delete;
  SubmissionReceipt source;
};

struct RecipientHolder : liaison_recipient_status {
  explicit RecipientHolder(RecipientStatus status) : liaison_recipient_status{}, source(std::move(status)) {
    device = source.device.c_str();
    member = source.member.c_str();
    name = source.name.c_str();
    organisation = source.organisation.c_str();
    via_escalation = source.via_escalation ? 1 : 0;
    refused = source.refused.c_str();
    sent_at = source.sent_at;
    delivered_at = source.delivered_at;
    read_at = source.read_at;
    acknowledged_at = source.acknowledged_at;
    answer = source.answer.c_str();
    expired = source.expired ? 1 : 0;
    reminded_at = source.reminded_at;
    deputy_notified_at = source.deputy_notified_at;
    call = source.call ? 1 : 0;
  }
  RecipientHolder(const RecipientHolder&) = delete;
  RecipientHolder& operator=(const RecipientHolder&) = delete;
  RecipientStatus source;
};

struct AlertStatusHolder : liaison_alert_status {
  explicit AlertStatusHolder(AlertStatus status) : liaison_alert_status{}, source(std::move(status)) {
    id = source.id.c_str();
    kind = source.kind.c_str();
    severity = CSeverity(source.severity);
    category = CCategory(source.category);
    title = source.title.c_str();
    ack_required = source.ack_required ? 1 : 0;
    created_at = source.created_at;
    expires_at = source.expires_at;
    sent = source.sent;
    delivered = source.delivered;
    read = source.read;
    acknowledged = source.acknowledged;
    expired = source.expired;
    pending = source.pending;
    refused = source.refused;
    items.reserve(source.recipients.size());
    for (RecipientStatus& r : source.recipients) items.push_back(std::make_unique<RecipientHolder>(std::move(r)));
    source.recipients.clear();  // moved into items
    pointers = Pointers<liaison_recipient_status>(items);
    recipient_count = pointers.size();
    recipients = pointers.data();
    if (source.submission) submission_storage = std::make_unique<SubmissionHolder>(std::move(*source.submission));
    submission = submission_storage.get();
  }
  AlertStatusHolder(const AlertStatusHolder&) = delete;
  AlertStatusHolder& operator=(const AlertStatusHolder&) = delete;
  AlertStatus source;
  std::vector<std::unique_ptr<RecipientHolder>> items;
  std::vector<const liaison_recipient_status*> pointers;
  std::unique_ptr<SubmissionHolder> submission_storage;
};

struct AlertListHolder : liaison_alert_list {
  explicit AlertListHolder(std::vector<AlertStatus> statuses) : liaison_alert_list{} {
    items.reserve(statuses.size());
    for (AlertStatus& s : statuses) items.push_back(std::make_unique<AlertStatusHolder>(std::move(s)));
    pointers = Pointers<liaison_alert_status>(items);
    count = pointers.size();
    alerts = pointers.data();
  }
  AlertListHolder(const AlertListHolder&) = delete;
  AlertListHolder& operator=(const AlertListHolder&) = delete;
  std::vector<std::unique_ptr<AlertStatusHolder>> items;
  std::vector<const liaison_alert_status*> pointers;
};

struct VerificationHolder : liaison_verification {
  explicit VerificationHolder(Verification verification) : liaison_verification{}, source(std::move(verification)) {
    member = source.member.c_str();
    safety_number = source.safety_number.c_str();
    qr_text = source.qr_text.c_str();
    verified = source.verified ? 1 : 0;
    changed_since_verification = source.changed_since_verification ? 1 : 0;
  }
  VerificationHolder(const VerificationHolder&) = delete;
  VerificationHolder& operator=(const VerificationHolder&) = delete;
  Verification source;
};

}  // namespace

MessageHolder::MessageHolder(InboxMessage message) : liaison_message{}, source(std::move(message)) {
  id = source.id.c_str();
  kind = source.kind.c_str();
  sender = source.sender.c_str();
  sender_name = source.sender_name.c_str();
  stored_at = source.stored_at;
  received_at = source.received_at;
  text = source.text.c_str();
  text_size = source.text.size();
  severity = CSeverity(source.severity);
  category = CCategory(source.category);
  title = source.title.c_str();
  place = source.place.c_str();
  when = source.when.c_str();
  ack_required = source.ack_required ? 1 : 0;
  expires_at = source.expires_at;
  read_at = source.read_at;
  acknowledged_at = source.acknowledged_at;
  answer = source.answer.c_str();
}

liaison_device_card* NewDeviceCard(DeviceCard card) { return new CardHolder(std::move(card)); }
liaison_send_receipt* NewSendReceipt(SendReceipt receipt) { return new SendReceiptHolder(std::move(receipt)); }
liaison_sync_report* NewSyncReport(SyncReport report) { return new SyncReportHolder(std::move(report)); }
liaison_inbox* NewInbox(std::vector<InboxMessage> messages) { return new InboxHolder(std::move(messages)); }
liaison_broadcast_receipt* NewBroadcastReceipt(BroadcastReceipt receipt) {
  return new BroadcastReceiptHolder(std::move(receipt));
}
liaison_alert_status* NewAlertStatus(AlertStatus status) { return new AlertStatusHolder(std::move(status)); }
liaison_alert_list* NewAlertList(std::vector<AlertStatus> alerts) { return new AlertListHolder(std::move(alerts)); }
liaison_verification* NewVerification(Verification verification) {
  return new VerificationHolder(std::move(verification));
}

char* NewString(const std::string& text) {
  char* out = new char[text.size() + 1];
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

}  // namespace liaison::capi

using namespace liaison::capi;

// Each deletes the holder its argument is the base of (noexcept: destructors do not throw).
extern "C" {

LIAISON_API void liaison_string_free(char* string) { delete[] string; }
LIAISON_API void liaison_device_card_free(liaison_device_card* card) { delete static_cast<CardHolder*>(card); }
LIAISON_API void liaison_send_receipt_free(liaison_send_receipt* receipt) {
  delete static_cast<SendReceiptHolder*>(receipt);
}
LIAISON_API void liaison_sync_report_free(liaison_sync_report* report) {
  delete static_cast<SyncReportHolder*>(report);
}
LIAISON_API void liaison_inbox_free(liaison_inbox* inbox) { delete static_cast<InboxHolder*>(inbox); }
LIAISON_API void liaison_broadcast_receipt_free(liaison_broadcast_receipt* receipt) {
  delete static_cast<BroadcastReceiptHolder*>(receipt);
}
LIAISON_API void liaison_alert_status_free(liaison_alert_status* status) {
  delete static_cast<AlertStatusHolder*>(status);
}
LIAISON_API void liaison_alert_list_free(liaison_alert_list* list) { delete static_cast<AlertListHolder*>(list); }
LIAISON_API void liaison_verification_free(liaison_verification* verification) {
  delete static_cast<VerificationHolder*>(verification);
}

}  // extern "C"
