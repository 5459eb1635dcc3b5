// The error side of the C API's boundary (liaison.h): this thread's last error, and Guard(),
// which every exported function that returns a liaison_code runs its body in so that no C++
// exception crosses into C.
//
// The last error lives in a fixed thread-local buffer: recording it never allocates and never
// throws, so it works even when memory has run out. Messages longer than the buffer are cut.
#ifndef LIAISON_CLIENT_SRC_C_API_ERROR_H_
#define LIAISON_CLIENT_SRC_C_API_ERROR_H_

#include <exception>
#include <new>

#include "liaison/liaison.h"
#include "liaison/status.h"

namespace liaison::capi {

// Longest message kept (bytes, without the terminating NUL).
inline constexpr size_t kMaxErrorMessage = 1023;

// Records `code` with `message` (NULL = "") as this thread's last error and returns `code`.
liaison_code SetLastError(liaison_code code, const char* message) noexcept;
// Records the Status (its message; "" for OK) and returns its code.
liaison_code SetLastError(const Status& status) noexcept;
// Records a success (empty message) and returns LIAISON_OK.
inline liaison_code Ok() noexcept { return SetLastError(LIAISON_OK, ""); }
// LIAISON_INVALID_ARGUMENT with `message`.
inline liaison_code InvalidArgument(const char* message) noexcept {
  return SetLastError(LIAISON_INVALID_ARGUMENT, message);
}

const char* LastErrorMessage() noexcept;
liaison_code LastErrorCode() noexcept;

// Runs `body` (returning liaison_code) and maps every exception it throws to LIAISON_INTERNAL:
// std::bad_alloc as "out of memory", other std::exceptions with their what(), anything else as
// "unknown exception". The body records its own result (SetLastError, Ok).
template <typename Body>
liaison_code Guard(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return SetLastError(LIAISON_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return SetLastError(LIAISON_INTERNAL, e.what());
  } catch (...) {
    return SetLastError(LIAISON_INTERNAL, "unknown exception");
  }
}

}  // namespace liaison::capi

#endif  // LIAISON_CLIENT_SRC_C_API_ERROR_H_
