// Who may write to whom, from roles alone (docs/protocol.md §6).
//
// Association contacts and deputies may write to officers, desks and coordinators, not to each
// other; officers, desks and coordinators may write to anyone. The relay checks this on SEND
// and the recipient's client again on receipt, each against the newest roster epoch it holds.
//
// Thread-safety: pure functions.
#ifndef LIAISON_ROSTER_POLICY_H_
#define LIAISON_ROSTER_POLICY_H_

#include <string_view>

#include "liaison/status.h"
#include "roster/roster.h"

namespace liaison::roster {

// True for officer, desk and coordinator: the side that may write to anyone.
bool IsPoliceSide(Role role);

bool MayWrite(Role sender, Role recipient);

// OK, or kPermissionDenied naming both members and roles, e.g. "association_contact \"dit-dresden\"
// may not write to association_contact \"vsz\": associations write to officers, desks and
// coordinators".
Status CheckMayWrite(const Member& sender, const Member& recipient);

}  // namespace liaison::roster

#endif  // LIAISON_ROSTER_POLICY_H_
