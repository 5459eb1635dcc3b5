// The public value functions of client.h for alerts and reports: names, defaults, and the
// submission-receipt check.
#include <array>

#include "base/bytes.h"
#include "crypto/sign.h"
#include "liaison/client.h"
#include "wire/broadcast.h"

namespace liaison {

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kUrgent: return "urgent";
  }
  return "?";
}

Result<Severity> ParseSeverity(std::string_view name) {
  for (Severity s : {Severity::kInfo, Severity::kWarning, Severity::kUrgent}) {
    if (name == SeverityName(s)) return s;
  }
  return Status::Error(Code::kInvalidArgument, "severity must be info, warning or urgent");
}

std::string_view ReportCategoryName(ReportCategory category) {
  switch (category) {
    case ReportCategory::kThreatLetter: return "threat-letter";
    case ReportCategory::kSuspiciousEvent: return "suspicious-event";
    case ReportCategory::kDamage: return "damage";
    case ReportCategory::kOther: return "other";
  }
  return "?";
}

Result<ReportCategory> ParseReportCategory(std::string_view name) {
  for (ReportCategory c : {ReportCategory::kThreatLetter, ReportCategory::kSuspiciousEvent, ReportCategory::kDamage,
                           ReportCategory::kOther}) {
    if (name == ReportCategoryName(c)) return c;
  }
  return Status::Error(Code::kInvalidArgument, "category must be threat-letter, suspicious-event, damage or other");
}

EscalationRules DefaultEscalation(Severity severity) {
  using std::chrono::minutes;
  switch (severity) {
    case Severity::kUrgent: return {minutes(15), minutes(60)};
    case Severity::kWarning: return {minutes(60), std::chrono::seconds(0)};
    case Severity::kInfo: break;
  }
  return {};
}

Status VerifySubmissionReceipt(std::string_view id, const SubmissionReceipt& receipt, std::string_view relay_signing_key) {
  LIAISON_ASSIGN_OR_RETURN(auto broadcast_id, FromHexArray<16>(id, "the id"));
  LIAISON_ASSIGN_OR_RETURN(auto key, FromHexArray<32>(relay_signing_key, "the relay's signing key"));
  LIAISON_ASSIGN_OR_RETURN(auto body_hash, FromHexArray<32>(receipt.body_hash, "the body hash"));
  LIAISON_ASSIGN_OR_RETURN(auto signature, FromHexArray<64>(receipt.signature, "the signature"));
  const Bytes message =
      wire::SubmissionReceiptMessage(broadcast_id, body_hash, static_cast<uint64_t>(receipt.stored_at), receipt.copies);
  return crypto::VerifyDetached(key, message, signature)
      .WithContext("the submission receipt does not verify under that relay key");
}

}  // namespace liaison
