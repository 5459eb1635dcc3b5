// The application message: what the Double Ratchet encrypts (internal to client/).
//
//   app_message_v1 = version:u8 (=1) | kind:u8 | message_id:16 | body
//   kind 1 = text: body is 1..65536 bytes of text
//
// The message id is inside the encryption so that a relay cannot replay a ratchet message under
// another id: the recipient checks it against the id of the delivery. Kinds for alerts, reports
// and receipts join as new kind values; a reader refuses kinds it does not know.
#ifndef LIAISON_CLIENT_SRC_APP_MESSAGE_H_
#define LIAISON_CLIENT_SRC_APP_MESSAGE_H_

#include <array>
#include <string>

#include "base/bytes.h"
#include "crypto/wiped_bytes.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr uint8_t kAppMessageVersion1 = 1;
inline constexpr uint8_t kAppKindText = 1;
inline constexpr size_t kMaxTextBytes = 64 * 1024;

struct AppMessage {
  uint8_t kind = kAppKindText;
  std::array<uint8_t, 16> message_id{};
  std::string text;
};

// The encoding, in a buffer that wipes itself. kInvalidArgument for an empty or too long text.
Result<crypto::WipedBytes> EncodeAppMessage(const AppMessage& message);
// kUnsupportedVersion (version or kind unknown), kMalformed (too short, empty or long text).
Result<AppMessage> DecodeAppMessage(ByteView bytes);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_APP_MESSAGE_H_
