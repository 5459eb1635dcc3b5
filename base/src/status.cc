#include "liaison/status.h"

namespace liaison {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kCorruption: return "corruption";
    case Code::kIoError: return "i/o error";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kMailboxFull: return "mailbox full";
    case Code::kStoreFull: return "store full";
    case Code::kUnavailable: return "unavailable";
    case Code::kUnsupportedVersion: return "unsupported version";
    case Code::kMalformed: return "malformed";
    case Code::kTooLarge: return "too large";
    case Code::kDuplicate: return "duplicate";
    case Code::kExpired: return "expired";
    case Code::kInternal: return "internal error";
    case Code::kConflict: return "conflict";
  }
  return "unknown code";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = CodeName(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

}  // namespace liaison
