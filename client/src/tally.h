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

// What the escalation rules do at `now`.
struct EscalationPlan {
  std::vector<std::string> remind;          // devices to send the alert to again
  std::vector<std::string> escalated;       // members whose deputies are notified, marked for a call
  std::vector<std::string> deputy_devices;  // devices of those deputies, not yet recipients
  bool empty() const { return remind.empty() && escalated.empty(); }
};
// Reminders go to devices of the original selection that the relay stored a copy for and that
// sent no delivery receipt within remind_after of the alert's creation (once each). Deputy notification (ack-required alerts
// only) concerns members none of whose devices acknowledged within deputy_after: their
// organisation's deputies in `epoch` (role deputy, same non-empty organisation, valid at `now`)
// are sent the alert, and the member is marked for a phone call (once). Nothing fires at or
// after the alert's expiry.
EscalationPlan PlanEscalation(const SentAlertRecord& alert, const std::vector<RecipientRecord>& recipients,
                              int64_t now, const roster::Epoch* epoch);

// The member part of "member/device".
std::string MemberOf(std::string_view device);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_TALLY_H_
