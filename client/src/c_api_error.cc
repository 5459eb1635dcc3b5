// This thread's last error and the error functions of the C API (liaison.h, "Errors").
#include "client/src/c_api_error.h"

#include <algorithm>
#include <cstring>

namespace liaison::capi {
namespace {

// liaison_code mirrors liaison::Code value for value (both are stable).
#define LIAISON_SAME_CODE(c_name, cpp_name) \
  static_assert(static_cast<int>(c_name) == static_cast<int>(Code::cpp_name), #c_name)
LIAISON_SAME_CODE(LIAISON_OK, kOk);
LIAISON_SAME_CODE(LIAISON_INVALID_ARGUMENT, kInvalidArgument);
LIAISON_SAME_CODE(LIAISON_NOT_FOUND, kNotFound);
LIAISON_SAME_CODE(LIAISON_ALREADY_EXISTS, kAlreadyExists);
LIAISON_SAME_CODE(LIAISON_CORRUPTION, kCorruption);
LIAISON_SAME_CODE(LIAISON_IO_ERROR, kIoError);
LIAISON_SAME_CODE(LIAISON_UNAUTHENTICATED, kUnauthenticated);
LIAISON_SAME_CODE(LIAISON_PERMISSION_DENIED, kPermissionDenied);
LIAISON_SAME_CODE(LIAISON_MAILBOX_FULL, kMailboxFull);
LIAISON_SAME_CODE(LIAISON_STORE_FULL, kStoreFull);
LIAISON_SAME_CODE(LIAISON_UNAVAILABLE, kUnavailable);
LIAISON_SAME_CODE(LIAISON_UNSUPPORTED_VERSION, kUnsupportedVersion);
LIAISON_SAME_CODE(LIAISON_MALFORMED, kMalformed);
LIAISON_SAME_CODE(LIAISON_TOO_LARGE, kTooLarge);
LIAISON_SAME_CODE(LIAISON_DUPLICATE, kDuplicate);
LIAISON_SAME_CODE(LIAISON_EXPIRED, kExpired);
LIAISON_SAME_CODE(LIAISON_INTERNAL, kInternal);
LIAISON_SAME_CODE(LIAISON_CONFLICT, kConflict);
#undef LIAISON_SAME_CODE

struct LastError {
  liaison_code code = LIAISON_OK;
  char message[kMaxErrorMessage + 1] = {};
};

LastError& ThisThread() noexcept {
  thread_local LastError last;
  return last;
}

}  // namespace

liaison_code SetLastError(liaison_code code, const char* message) noexcept {
  LastError& last = ThisThread();
  last.code = code;
  if (message == nullptr) message = "";
  const size_t length = std::min(std::strlen(message), kMaxErrorMessage);
  std::memcpy(last.message, message, length);
  last.message[length] = '\0';
  return code;
}

liaison_code SetLastError(const Status& status) noexcept {
  return SetLastError(static_cast<liaison_code>(status.code()), status.message().c_str());
}

const char* LastErrorMessage() noexcept { return ThisThread().message; }
liaison_code LastErrorCode() noexcept { return ThisThread().code; }

}  // namespace liaison::capi

extern "C" {

LIAISON_API const char* liaison_code_name(liaison_code code) {
  return liaison::CodeName(static_cast<liaison::Code>(code));
}

LIAISON_API const char* liaison_last_error(void) { return liaison::capi::LastErrorMessage(); }

LIAISON_API liaison_code liaison_last_error_code(void) { return liaison::capi::LastErrorCode(); }

}  // extern "C"
