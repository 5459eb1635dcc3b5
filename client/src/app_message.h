// The application message: what the Double Ratchet encrypts (internal to client/).
//
//   app_message_v1 = version:u8 (=1) | kind:u8 | message_id:16 | body
//   kind 1 = text:          body = 1..65536 bytes of text
//   kind 2 = broadcast key: body = broadcast_id:16 | content_key:32 | body_hash:32
//            (a copy of an alert or report: the key of its shared body, client/src/broadcast_body.h,
//            and BLAKE2b-256 of the encrypted body, so that a relay cannot swap bodies)
//   kind 3 = receipt:       body = about:16 | step:u8 (1 delivered, 2 read, 3 acknowledged)
//            | at:i64be | u8 len(answer) | answer (0..200 bytes) | signature:64
//            signature = Ed25519 by the receipt's author device over ReceiptSignedBytes()
//
// The message id is inside the encryption so that a relay cannot replay a ratchet message under
// another id: the recipient checks it against the id of the delivery. A reader refuses kinds it
// does not know, and bodies of the wrong length.
#ifndef LIAISON_CLIENT_SRC_APP_MESSAGE_H_
#define LIAISON_CLIENT_SRC_APP_MESSAGE_H_

#include <array>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/wiped_bytes.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr uint8_t kAppMessageVersion1 = 1;
inline constexpr uint8_t kAppKindText = 1;
inline constexpr uint8_t kAppKindBroadcastKey = 2;
inline constexpr uint8_t kAppKindReceipt = 3;
inline constexpr size_t kMaxTextBytes = 64 * 1024;

inline constexpr uint8_t kReceiptDelivered = 1;
inline constexpr uint8_t kReceiptRead = 2;
inline constexpr uint8_t kReceiptAcknowledged = 3;

// A broadcast body's key inside an application message; wiped on destruction.
struct ContentKey {
  std::array<uint8_t, 32> bytes{};
  ContentKey() = default;
  ContentKey(const ContentKey&) = default;
  ContentKey& operator=(const ContentKey&) = default;
  ~ContentKey();
};

struct AppMessage {
  uint8_t kind = kAppKindText;
  std::array<uint8_t, 16> message_id{};
  std::string text;                          // kind 1
  std::array<uint8_t, 16> broadcast_id{};    // kind 2: the alert; kind 3: the alert it is about
  ContentKey content_key;                    // kind 2
  std::array<uint8_t, 32> body_hash{};       // kind 2
  uint8_t step = 0;                          // kind 3
  int64_t at = 0;                            // kind 3: the author's clock, microseconds
  std::string answer;                        // kind 3
  std::array<uint8_t, 64> signature{};       // kind 3
};

// The encoding, in a buffer that wipes itself. kInvalidArgument for an unknown kind, an empty or
// too long text, a step out of range or a long answer.
Result<crypto::WipedBytes> EncodeAppMessage(const AppMessage& message);
// kUnsupportedVersion (version or kind unknown), kMalformed (wrong length, empty or long text,
// step out of range).
Result<AppMessage> DecodeAppMessage(ByteView bytes);

// What a receipt's signature covers: "liaison/v1/receipt" | about:16 | u8 len | author device |
// u8 len | addressee device | step | at:i64be | u8 len | answer.
Bytes ReceiptSignedBytes(const std::array<uint8_t, 16>& about, std::string_view author, std::string_view addressee,
                         uint8_t step, int64_t at, std::string_view answer);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_APP_MESSAGE_H_
