// The result structs of the C API (liaison.h) built from the C++ client's values.
//
// Each public result struct is the base of a holder that owns the C++ value its pointers point
// into; the New* functions return the base, the liaison_*_free functions (c_api_types.cc) delete
// the holder by a static_cast back. Holders are neither copied nor moved once built, so the
// pointers stay valid for the holder's life.
#ifndef LIAISON_CLIENT_SRC_C_API_TYPES_H_
#define LIAISON_CLIENT_SRC_C_API_TYPES_H_

#include <memory>
#include <string>
#include <vector>

#include "liaison/client.h"
#include "liaison/liaison.h"

namespace liaison::capi {

// One inbox message; also built on the stack for the listen callback.
struct MessageHolder : liaison_message {
  explicit MessageHolder(InboxMessage message);
  MessageHolder(const MessageHolder&) = delete;
  MessageHolder& operator=(const MessageHolder&) = delete;
  InboxMessage source;
};

// Each returns a new object that the caller frees with the matching liaison_*_free. They throw
// std::bad_alloc only (callers run inside Guard()).
liaison_device_card* NewDeviceCard(DeviceCard card);
liaison_send_receipt* NewSendReceipt(SendReceipt receipt);
liaison_sync_report* NewSyncReport(SyncReport report);
liaison_inbox* NewInbox(std::vector<InboxMessage> messages);
liaison_broadcast_receipt* NewBroadcastReceipt(BroadcastReceipt receipt);
liaison_alert_status* NewAlertStatus(AlertStatus status);
liaison_alert_list* NewAlertList(std::vector<AlertStatus> alerts);
liaison_verification* NewVerification(Verification verification);
// A copy of `text` that liaison_string_free releases.
char* NewString(const std::string& text);

}  // namespace liaison::capi

#endif  // LIAISON_CLIENT_SRC_C_API_TYPES_H_
