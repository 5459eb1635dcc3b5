// The C API of the client library (client/include/liaison/liaison.h): the client handle and
// every liaison_client_* function, as thin wrappers around liaison::Client, plus the version and
// the value functions of alerts and reports. Result structs are in c_api_types.cc, the last error
// and the exception barrier in c_api_error.cc.
//
// Every exported function that returns a liaison_code clears its out-pointers first, then runs
// inside Guard() (no exception leaves), checks its arguments (LIAISON_INVALID_ARGUMENT) and
// records its outcome as this thread's last error.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "client/src/c_api_error.h"
#include "client/src/c_api_types.h"
#include "liaison/client.h"
#include "liaison/liaison.h"
#include "liaison/version.h"

// The opaque handle of liaison.h. Calls on one handle are serialised by `mutex`; `inside` is the
// thread running a call on it (the default id when none), so that a callback calling back into
// the same handle is refused instead of deadlocking.
struct liaison_client {
  std::unique_ptr<liaison::Client> client;
  std::string address;
  std::mutex mutex;
  std::atomic<std::thread::id> inside{};
};

namespace liaison::capi {
namespace {

// The struct sizes of version 0.1.0, the first of this API. Later versions keep accepting these
// sizes and use defaults for fields appended after them.
constexpr size_t kOptionsSizeV0 = sizeof(liaison_client_options);
constexpr size_t kAlertRequestSizeV0 = sizeof(liaison_alert_request);
constexpr size_t kReportRequestSizeV0 = sizeof(liaison_report_request);

constexpr int64_t kDefaultTimeoutMs = 5000;

template <typename T>
void Clear(T** out) {
  if (out != nullptr) *out = nullptr;
}

// Fails with LIAISON_INVALID_ARGUMENT "<what> is NULL" for a NULL `value`.
#define LIAISON_CAPI_REQUIRE(value, what) \
  if ((value) == nullptr) return InvalidArgument(what " is NULL")

// Sets a non-null optional out-pointer to a new result built by `make` from `value`.
template <typename Out, typename Value, typename Make>
void Deliver(Out** out, Value&& value, Make make) {
  if (out != nullptr) *out = make(std::forward<Value>(value));
}

bool Empty(const char* text) { return text == nullptr || *text == '\0'; }

Result<ClientOptions> ToOptions(const liaison_client_options* options) {
  if (options == nullptr) return Status::Error(Code::kInvalidArgument, "options is NULL");
  if (options->struct_size < kOptionsSizeV0) {
    return Status::Error(Code::kInvalidArgument,
                         "options.struct_size is too small: initialise options with liaison_client_options_init");
  }
  if (Empty(options->state_dir)) return Status::Error(Code::kInvalidArgument, "options.state_dir is required");
  if (options->timeout_ms < 0) return Status::Error(Code::kInvalidArgument, "options.timeout_ms is negative");
  ClientOptions out;
  out.state_dir = options->state_dir;
  if (options->relay_endpoint != nullptr) out.relay_endpoint = options->relay_endpoint;
  if (options->relay_public_key != nullptr) out.relay_public_key = options->relay_public_key;
  if (options->coordinator_key != nullptr) out.coordinator_key = options->coordinator_key;
  out.timeout = std::chrono::milliseconds(options->timeout_ms == 0 ? kDefaultTimeoutMs : options->timeout_ms);
  return out;
}

bool ValidSeverity(liaison_severity severity) {
  return severity >= LIAISON_SEVERITY_INFO && severity <= LIAISON_SEVERITY_URGENT;
}
bool ValidCategory(liaison_report_category category) {
  return category >= LIAISON_CATEGORY_THREAT_LETTER && category <= LIAISON_CATEGORY_OTHER;
}

Result<AlertRequest> ToAlertRequest(const liaison_alert_request* request) {
  if (request->struct_size < kAlertRequestSizeV0) {
    return Status::Error(Code::kInvalidArgument,
                         "request.struct_size is too small: initialise it with liaison_alert_request_init");
  }
  if (request->to == nullptr || request->title == nullptr || request->body == nullptr) {
    return Status::Error(Code::kInvalidArgument, "an alert needs to, title and body");
  }
  if (!ValidSeverity(request->severity)) return Status::Error(Code::kInvalidArgument, "unknown severity");
  if (request->ttl_s < 0) return Status::Error(Code::kInvalidArgument, "the alert's ttl_s is negative");
  AlertRequest out;
  out.to = request->to;
  out.severity = static_cast<Severity>(request->severity);
  out.title = request->title;
  out.body = request->body;
  out.ack_required = request->ack_required != 0;
  out.ttl = std::chrono::seconds(request->ttl_s);
  if (request->escalation != nullptr) {
    if (request->escalation->remind_after_s < 0 || request->escalation->deputy_after_s < 0) {
      return Status::Error(Code::kInvalidArgument, "escalation intervals must not be negative");
    }
    out.escalation = EscalationRules{std::chrono::seconds(request->escalation->remind_after_s),
                                     std::chrono::seconds(request->escalation->deputy_after_s)};
  }
  return out;
}

Result<ReportRequest> ToReportRequest(const liaison_report_request* request) {
  if (request->struct_size < kReportRequestSizeV0) {
    return Status::Error(Code::kInvalidArgument,
                         "request.struct_size is too small: initialise it with liaison_report_request_init");
  }
  if (request->desk == nullptr || request->text == nullptr) {
    return Status::Error(Code::kInvalidArgument, "a report needs desk and text");
  }
  if (!ValidCategory(request->category)) return Status::Error(Code::kInvalidArgument, "unknown report category");
  if (request->ttl_s < 0) return Status::Error(Code::kInvalidArgument, "the report's ttl_s is negative");
  ReportRequest out;
  out.desk = request->desk;
  out.category = static_cast<ReportCategory>(request->category);
  if (request->place != nullptr) out.place = request->place;
  if (request->when != nullptr) out.when = request->when;
  out.text = request->text;
  out.ttl = std::chrono::seconds(request->ttl_s);
  return out;
}

// Runs `body(Client&)` on the handle: NULL handle and calls from inside the handle's own callback
// are refused; otherwise it waits for other calls on the handle, runs, and records the outcome.
template <typename Body>
liaison_code WithClient(liaison_client* handle, Body&& body) noexcept {
  return Guard([&]() -> liaison_code {
    if (handle == nullptr) return InvalidArgument("the client handle is NULL");
    if (handle->inside.load() == std::this_thread::get_id()) {
      return InvalidArgument("called from inside a callback of the same client handle");
    }
    std::lock_guard<std::mutex> lock(handle->mutex);
    handle->inside.store(std::this_thread::get_id());
    struct Leave {
      liaison_client* handle;
      ~Leave() { handle->inside.store(std::thread::id()); }
    } leave{handle};
    return body(*handle->client);
  });
}

// The handle for a freshly created or opened client.
liaison_client* NewHandle(std::unique_ptr<Client> client) {
  auto handle = std::make_unique<liaison_client>();
  handle->address = client->address();
  handle->client = std::move(client);
  return handle.release();
}

}  // namespace
}  // namespace liaison::capi

using namespace liaison;
using namespace liaison::capi;

extern "C" {

// ---- Version and value functions ----------------------------------------------------------

LIAISON_API const char* liaison_version(void) { return LIAISON_VERSION_STRING; }
LIAISON_API uint32_t liaison_version_number(void) { return LIAISON_VERSION_NUMBER; }

LIAISON_API const char* liaison_severity_name(liaison_severity severity) {
  if (!ValidSeverity(severity)) return nullptr;
  return SeverityName(static_cast<Severity>(severity)).data();  // static, NUL-terminated literals
}

LIAISON_API const char* liaison_category_name(liaison_report_category category) {
  if (!ValidCategory(category)) return nullptr;
  return ReportCategoryName(static_cast<ReportCategory>(category)).data();
}

LIAISON_API liaison_code liaison_parse_severity(const char* name, liaison_severity* out) {
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(name, "name");
    LIAISON_CAPI_REQUIRE(out, "out");
    auto parsed = ParseSeverity(name);
    if (!parsed.ok()) return SetLastError(parsed.status());
    *out = static_cast<liaison_severity>(*parsed);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_parse_category(const char* name, liaison_report_category* out) {
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(name, "name");
    LIAISON_CAPI_REQUIRE(out, "out");
    auto parsed = ParseReportCategory(name);
    if (!parsed.ok()) return SetLastError(parsed.status());
    *out = static_cast<liaison_report_category>(*parsed);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_verify_submission_receipt(const char* id, const liaison_submission_receipt* receipt,
                                                           const char* relay_signing_key) {
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(id, "id");
    LIAISON_CAPI_REQUIRE(receipt, "receipt");
    LIAISON_CAPI_REQUIRE(relay_signing_key, "relay_signing_key");
    if (receipt->body_hash == nullptr || receipt->signature == nullptr) {
      return InvalidArgument("the receipt lacks its body hash or signature");
    }
    SubmissionReceipt copy;
    if (receipt->relay_signing_key != nullptr) copy.relay_signing_key = receipt->relay_signing_key;
    copy.body_hash = receipt->body_hash;
    copy.stored_at = receipt->stored_at;
    copy.copies = receipt->copies;
    copy.signature = receipt->signature;
    return SetLastError(VerifySubmissionReceipt(id, copy, relay_signing_key));
  });
}

// ---- Handles --------------------------------------------------------------------------------

LIAISON_API liaison_code liaison_client_create(const liaison_client_options* options, const char* address,
                                               liaison_client** out) {
  Clear(out);
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    LIAISON_CAPI_REQUIRE(address, "address");
    auto converted = ToOptions(options);
    if (!converted.ok()) return SetLastError(converted.status());
    auto client = Client::Create(*converted, address);
    if (!client.ok()) return SetLastError(client.status());
    *out = NewHandle(std::move(client).value());
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_enroll(const liaison_client_options* options, const char* invitation,
                                               liaison_client** out, char** out_request) {
  Clear(out);
  Clear(out_request);
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    LIAISON_CAPI_REQUIRE(out_request, "out_request");
    LIAISON_CAPI_REQUIRE(invitation, "invitation");
    auto converted = ToOptions(options);
    if (!converted.ok()) return SetLastError(converted.status());
    std::string request;
    auto client = Client::Enroll(*converted, invitation, &request);
    if (!client.ok()) return SetLastError(client.status());
    char* request_copy = NewString(request);
    liaison_client* handle = nullptr;
    try {
      handle = NewHandle(std::move(client).value());
    } catch (...) {
      liaison_string_free(request_copy);
      throw;
    }
    *out = handle;
    *out_request = request_copy;
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_open(const liaison_client_options* options, liaison_client** out) {
  Clear(out);
  return Guard([&]() -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    auto converted = ToOptions(options);
    if (!converted.ok()) return SetLastError(converted.status());
    auto client = Client::Open(*converted);
    if (!client.ok()) return SetLastError(client.status());
    *out = NewHandle(std::move(client).value());
    return Ok();
  });
}

LIAISON_API void liaison_client_free(liaison_client* client) { delete client; }

LIAISON_API const char* liaison_client_address(const liaison_client* client) {
  return client == nullptr ? nullptr : client->address.c_str();
}

LIAISON_API liaison_code liaison_client_card(liaison_client* client, liaison_device_card** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    *out = NewDeviceCard(c.Card());
    return Ok();
  });
}

// ---- Messages -------------------------------------------------------------------------------

LIAISON_API liaison_code liaison_client_send(liaison_client* client, const char* recipient, const char* text,
                                             int64_t ttl_s, liaison_send_receipt** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(recipient, "recipient");
    LIAISON_CAPI_REQUIRE(text, "text");
    if (ttl_s < 0) return InvalidArgument("ttl_s is negative");
    auto receipt = c.Send(recipient, text, std::chrono::seconds(ttl_s));
    if (!receipt.ok()) return SetLastError(receipt.status());
    Deliver(out, std::move(receipt).value(), NewSendReceipt);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_sync(liaison_client* client, liaison_sync_report** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    auto report = c.Sync();
    if (!report.ok()) return SetLastError(report.status());
    Deliver(out, std::move(report).value(), NewSyncReport);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_listen(liaison_client* client, int64_t duration_ms,
                                               liaison_message_callback on_message, void* user_data,
                                               liaison_sync_report** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    if (duration_ms < 0) return InvalidArgument("duration_ms is negative");
    std::function<void(const InboxMessage&)> forward;
    if (on_message != nullptr) {
      forward = [on_message, user_data](const InboxMessage& message) {
        const MessageHolder view(message);
        on_message(user_data, &view);
      };
    }
    auto report = c.Listen(std::chrono::milliseconds(duration_ms), forward);
    if (!report.ok()) return SetLastError(report.status());
    Deliver(out, std::move(report).value(), NewSyncReport);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_inbox(liaison_client* client, liaison_inbox** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    auto inbox = c.Inbox();
    if (!inbox.ok()) return SetLastError(inbox.status());
    *out = NewInbox(std::move(inbox).value());
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_outbox_size(liaison_client* client, size_t* out) {
  if (out != nullptr) *out = 0;
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    auto size = c.OutboxSize();
    if (!size.ok()) return SetLastError(size.status());
    *out = *size;
    return Ok();
  });
}

// ---- Alerts and reports ---------------------------------------------------------------------

LIAISON_API liaison_code liaison_client_send_alert(liaison_client* client, const liaison_alert_request* request,
                                                   liaison_broadcast_receipt** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(request, "request");
    auto alert = ToAlertRequest(request);
    if (!alert.ok()) return SetLastError(alert.status());
    auto receipt = c.SendAlert(*alert);
    if (!receipt.ok()) return SetLastError(receipt.status());
    Deliver(out, std::move(receipt).value(), NewBroadcastReceipt);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_send_report(liaison_client* client, const liaison_report_request* request,
                                                    liaison_broadcast_receipt** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(request, "request");
    auto report = ToReportRequest(request);
    if (!report.ok()) return SetLastError(report.status());
    auto receipt = c.SendReport(*report);
    if (!receipt.ok()) return SetLastError(receipt.status());
    Deliver(out, std::move(receipt).value(), NewBroadcastReceipt);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_alert_status(liaison_client* client, const char* id,
                                                     liaison_alert_status** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(id, "id");
    LIAISON_CAPI_REQUIRE(out, "out");
    auto status = c.GetAlertStatus(id);
    if (!status.ok()) return SetLastError(status.status());
    *out = NewAlertStatus(std::move(status).value());
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_sent_alerts(liaison_client* client, liaison_alert_list** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(out, "out");
    auto alerts = c.SentAlerts();
    if (!alerts.ok()) return SetLastError(alerts.status());
    *out = NewAlertList(std::move(alerts).value());
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_mark_read(liaison_client* client, const char* id) {
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(id, "id");
    return SetLastError(c.MarkRead(id));
  });
}

LIAISON_API liaison_code liaison_client_acknowledge(liaison_client* client, const char* id, const char* answer) {
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(id, "id");
    return SetLastError(c.Acknowledge(id, answer == nullptr ? std::string_view() : std::string_view(answer)));
  });
}

LIAISON_API liaison_code liaison_client_run_escalation(liaison_client* client, size_t* out) {
  if (out != nullptr) *out = 0;
  return WithClient(client, [&](Client& c) -> liaison_code {
    auto sent = c.RunEscalation();
    if (!sent.ok()) return SetLastError(sent.status());
    if (out != nullptr) *out = *sent;
    return Ok();
  });
}

// ---- Keys and safety numbers ----------------------------------------------------------------

LIAISON_API liaison_code liaison_client_request_key_rotation(liaison_client* client, char** out_request) {
  Clear(out_request);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(out_request, "out_request");
    auto request = c.RequestKeyRotation();
    if (!request.ok()) return SetLastError(request.status());
    *out_request = NewString(*request);
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_verify(liaison_client* client, const char* member,
                                               liaison_verification** out) {
  Clear(out);
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(member, "member");
    LIAISON_CAPI_REQUIRE(out, "out");
    auto verification = c.Verify(member);
    if (!verification.ok()) return SetLastError(verification.status());
    *out = NewVerification(std::move(verification).value());
    return Ok();
  });
}

LIAISON_API liaison_code liaison_client_mark_verified(liaison_client* client, const char* member,
                                                      const char* safety_number) {
  return WithClient(client, [&](Client& c) -> liaison_code {
    LIAISON_CAPI_REQUIRE(member, "member");
    LIAISON_CAPI_REQUIRE(safety_number, "safety_number");
    return SetLastError(c.MarkVerified(member, safety_number));
  });
}

}  // extern "C"
