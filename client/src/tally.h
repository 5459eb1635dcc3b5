// The sender's bookkeeping of an alert or report (internal to client/): applying receipts,
// summing up the tally, and deciding what the escalation rules do now. Pure functions over the
// records of client/src/tracking.h, with the time passed in, so that tests need no clock.
#ifndef LIAISON_CLIENT_SRC_TALLY_H_
#define LIAISON_CLIENT_SRC_TALLY_H_

#include <string>
#include <vector>

#include "client/src/tracking.h"
#include "liaison/client.h"
#include "roster/roster.h"

namespace liaison::client {

// Records receipt `step` (kReceiptDelivered, kReceiptRead, kReceiptAcknowledged; app_message.h)
// made at `at` by the recipient. A later step implies the earlier ones. Returns true if the
// record changed: a repeated receipt changes nothing and so counts once.
bool ApplyReceipt(RecipientRecord& recipient, uint8_t step, int64_t at, std::string_view answer);

// The tally at `now`. Names and organisations come from `epoch` (may be null).
AlertStatus BuildStatus(const SentAlertRecord& alert, const std::vector<RecipientRecord>& recipients, int64_t now,
                        const roster::Epoch* epoch);

// What the escalation rules (and delivery retries) do at `now`.
struct EscalationPlan {
  std::vector<std::string> unqueued;        // devices without a copy yet: try to start a session again
  std::vector<std::string> remind;          // devices to send the alert to again
  std::vector<std::string> call;            // members to mark for a phone call (not marked yet)
  // Members without an acknowledgement whose deputies have not been reached yet, with the
  // deputies' devices that are not recipients yet (possibly none: no deputy in the roster).
  std::vector<std::pair<std::string, std::vector<std::string>>> deputies;
  bool empty() const { return unqueued.empty() && remind.empty() && call.empty() && deputies.empty(); }
};
// Devices of the original selection without a queued copy are tried again at every run.
// Reminders go to devices of the original selection that the relay stored a copy for and that
// sent no delivery receipt within remind_after of the alert's creation (once each). For
// ack-required alerts, a member none of whose devices acknowledged within deputy_after is marked
// for a phone call (once), and its organisation's deputies in `epoch` (role deputy, same
// non-empty organisation, valid at `now`) are sent the alert; until one of them could be sent
// it, every run tries again. Nothing fires at or after the alert's expiry.
EscalationPlan PlanEscalation(const SentAlertRecord& alert, const std::vector<RecipientRecord>& recipients,
                              int64_t now, const roster::Epoch* epoch);

// The member part of "member/device".
std::string MemberOf(std::string_view device);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_TALLY_H_
