#include "client/src/tally.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/bytes.h"
#include "client/src/app_message.h"

namespace liaison::client {

std::string MemberOf(std::string_view device) {
  const size_t slash = device.find('/');
  return std::string(device.substr(0, slash));
}

bool ApplyReceipt(RecipientRecord& r, uint8_t step, int64_t at, std::string_view answer) {
  bool changed = false;
  auto set = [&](int64_t& field) {
    if (field == 0) {
      field = at != 0 ? at : 1;
      changed = true;
    }
  };
  set(r.delivered_at);
  if (step >= kReceiptRead) set(r.read_at);
  if (step >= kReceiptAcknowledged) {
    const bool first = r.acknowledged_at == 0;
    set(r.acknowledged_at);
    if (first) r.answer = std::string(answer.substr(0, kMaxAnswerBytes));
  }
  return changed;
}

AlertStatus BuildStatus(const SentAlertRecord& alert, const std::vector<RecipientRecord>& recipients, int64_t now,
                        const roster::Epoch* epoch) {
  AlertStatus out;
  out.id = ToHex(alert.id);
  out.kind = alert.content.kind == kKindReport ? "report" : "alert";
  out.severity = static_cast<Severity>(alert.content.severity);
  out.category = static_cast<ReportCategory>(alert.content.category);
  out.title = alert.content.kind == kKindReport
                  ? std::string(ReportCategoryName(out.category)) +
                        (alert.content.place.empty() ? "" : ", " + alert.content.place)
                  : alert.content.title;
  out.ack_required = alert.content.ack_required != 0;
  out.created_at = alert.content.created_at;
  out.expires_at = alert.content.expires_at;
  std::set<std::string> acknowledged_members;
  for (const RecipientRecord& r : recipients) {
    if (r.acknowledged_at != 0) acknowledged_members.insert(MemberOf(r.device));
  }
  for (const RecipientRecord& r : recipients) {
    RecipientStatus s;
    s.device = r.device;
    s.member = MemberOf(r.device);
    if (epoch != nullptr) {
      if (auto entry = epoch->Find(r.device)) {
        s.name = entry->device->holder.empty() ? entry->member->display_name : entry->device->holder;
        s.organisation = entry->member->organisation;
      }
    }
    s.via_escalation = r.via_escalation != 0;
    s.refused = r.refused;
    s.sent_at = r.sent_at;
    s.delivered_at = r.delivered_at;
    s.read_at = r.read_at;
    s.acknowledged_at = r.acknowledged_at;
    s.answer = r.answer;
    s.expired = r.delivered_at == 0 && now >= alert.content.expires_at;
    s.reminded_at = r.reminded_at;
    s.deputy_notified_at = r.deputy_notified_at;
    s.call = r.call != 0 && acknowledged_members.count(s.member) == 0;  // until any of its devices acknowledged
    out.sent += s.sent_at != 0;
    out.delivered += s.delivered_at != 0;
    out.read += s.read_at != 0;
    out.acknowledged += s.acknowledged_at != 0;
    out.expired += s.expired;
    out.refused += !s.refused.empty();
    out.pending += s.delivered_at == 0 && !s.expired && s.refused.empty();
    out.recipients.push_back(std::move(s));
  }
  std::sort(out.recipients.begin(), out.recipients.end(),
            [](const RecipientStatus& a, const RecipientStatus& b) { return a.device < b.device; });
  if (alert.has_submission) {
    SubmissionReceipt receipt;
    receipt.relay_signing_key = ToHex(alert.submission.relay_signing_key);
    receipt.body_hash = ToHex(alert.submission.body_hash);
    receipt.stored_at = static_cast<int64_t>(alert.submission.stored_at);
    receipt.copies = alert.submission.copies;
    receipt.signature = ToHex(alert.submission.signature);
    out.submission = std::move(receipt);
  }
  return out;
}

EscalationPlan PlanEscalation(const SentAlertRecord& alert, const std::vector<RecipientRecord>& recipients,
                              int64_t now, const roster::Epoch* epoch) {
  EscalationPlan plan;
  const BroadcastContent& c = alert.content;
  if (now >= c.expires_at) return plan;
  for (const RecipientRecord& r : recipients) {
    if (r.queued == 0 && r.refused.empty()) plan.unqueued.push_back(r.device);
  }
  if (alert.remind_after_micros > 0 && now >= c.created_at + alert.remind_after_micros) {
    for (const RecipientRecord& r : recipients) {
      if (r.via_escalation == 0 && r.sent_at != 0 && r.delivered_at == 0 && r.reminded_at == 0 && r.refused.empty()) {
        plan.remind.push_back(r.device);
      }
    }
  }
  if (!c.ack_required || alert.deputy_after_micros <= 0 || now < c.created_at + alert.deputy_after_micros) return plan;
  struct MemberState {
    bool acknowledged = false, refused = true, called = false, deputies_reached = false;
  };
  std::map<std::string, MemberState> members;
  std::set<std::string> addressed;
  for (const RecipientRecord& r : recipients) {
    addressed.insert(r.device);
    if (r.via_escalation) continue;
    MemberState& m = members[MemberOf(r.device)];
    m.acknowledged |= r.acknowledged_at != 0;
    m.refused &= !r.refused.empty();
    m.called |= r.call != 0;
    m.deputies_reached |= r.deputy_notified_at != 0;
  }
  for (const auto& [member_id, m] : members) {
    if (m.acknowledged || m.refused) continue;
    if (!m.called) plan.call.push_back(member_id);
    if (m.deputies_reached) continue;
    std::vector<std::string> devices;
    const roster::Member* member = epoch != nullptr ? epoch->FindMember(member_id) : nullptr;
    if (member != nullptr && !member->organisation.empty()) {
      for (const roster::Member& other : epoch->members) {
        if (other.role_value() != roster::Role::kDeputy || other.id == member_id || !other.ValidAt(now) ||
            other.organisation != member->organisation) {
          continue;
        }
        for (const roster::Device& d : other.devices) {
          std::string address = other.id + "/" + d.id;
          if (addressed.insert(address).second) devices.push_back(std::move(address));
        }
      }
    }
    plan.deputies.emplace_back(member_id, std::move(devices));
  }
  return plan;
}

}  // namespace liaison::client
