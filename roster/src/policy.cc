// Role policy (roster/policy.h).
#include "roster/policy.h"

namespace liaison::roster {

bool IsPoliceSide(Role role) {
  return role == Role::kOfficer || role == Role::kDesk || role == Role::kCoordinator;
}

bool MayWrite(Role sender, Role recipient) { return IsPoliceSide(sender) || IsPoliceSide(recipient); }

Status CheckMayWrite(const Member& sender, const Member& recipient) {
  if (MayWrite(sender.role_value(), recipient.role_value())) return Status::Ok();
  return Status::Error(Code::kPermissionDenied,
                       std::string(RoleName(sender.role_value())) + " \"" + sender.id + "\" may not write to " +
                           std::string(RoleName(recipient.role_value())) + " \"" + recipient.id +
                           "\": associations write to officers, desks and coordinators");
}

}  // namespace liaison::roster
