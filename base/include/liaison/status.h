// liaison::Status and liaison::Result<T>: the one error type used at every module boundary.
//
// A Status is either OK or carries a Code and a human-readable message. The message never
// contains secret material or message content. Result<T> holds either a T or a non-OK Status.
//
// Thread-safety: const methods may be called from several threads at once; anything else needs
// external synchronization, as for any value type.
#ifndef LIAISON_STATUS_H_
#define LIAISON_STATUS_H_

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace liaison {

// Stable numeric values: integrators may store or transmit them; never renumber.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,     // the caller passed something malformed or out of range
  kNotFound = 2,            // the named thing does not exist
  kAlreadyExists = 3,       // creating something that is already there
  kCorruption = 4,          // stored or received data is inconsistent
  kIoError = 5,             // the operating system refused a file or disk operation
  kUnauthenticated = 6,     // a signature, MAC or key check failed (deliberately undifferentiated)
  kPermissionDenied = 7,    // authenticated, but not allowed
  kMailboxFull = 8,         // the recipient's quota is used up; retry after it drains
  kStoreFull = 9,           // the relay's store (map or disk) is full; retry later
  kUnavailable = 10,        // the relay could not be reached or did not answer in time
  kUnsupportedVersion = 11, // a frame, envelope or record of a version this build cannot read
  kMalformed = 12,          // bytes that do not follow the grammar (docs/protocol.md)
  kTooLarge = 13,           // a length above its limit (wire/limits.h)
  kDuplicate = 14,          // the same message was seen before
  kExpired = 15,            // past its expiry time
  kInternal = 16,           // a bug or an unexpected library failure
  kConflict = 17,           // does not follow what is held (a stale, repeated, skipped or forked version)
};

// Returns a short lower-case name for `code`, e.g. "mailbox full". Never null.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(Code code, std::string message) {
    assert(code != Code::kOk);
    return Status(code, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context` ("context: message").
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. Accessing value() of an error Result is a bug (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace liaison

#define LIAISON_CONCAT_INNER_(a, b) a##b
#define LIAISON_CONCAT_(a, b) LIAISON_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define LIAISON_RETURN_IF_ERROR(expr)              \
  do {                                             \
    ::liaison::Status liaison_status_ = (expr);    \
    if (!liaison_status_.ok()) return liaison_status_; \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns its Status, else moves the value into `lhs`.
#define LIAISON_ASSIGN_OR_RETURN(lhs, expr) \
  LIAISON_ASSIGN_OR_RETURN_IMPL_(LIAISON_CONCAT_(liaison_result_, __LINE__), lhs, expr)
#define LIAISON_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

#endif  // LIAISON_STATUS_H_
