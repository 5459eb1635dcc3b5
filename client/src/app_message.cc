#include "client/src/app_message.h"

#include <algorithm>

namespace liaison::client {

Result<crypto::WipedBytes> EncodeAppMessage(const AppMessage& message) {
  if (message.kind != kAppKindText) return Status::Error(Code::kInvalidArgument, "unknown message kind");
  if (message.text.empty() || message.text.size() > kMaxTextBytes) {
    return Status::Error(Code::kInvalidArgument, "a message has 1 byte to 64 KiB of text");
  }
  crypto::WipedBytes out;
  out.bytes().reserve(2 + message.message_id.size() + message.text.size());
  out.AppendU8(kAppMessageVersion1);
  out.AppendU8(message.kind);
  out.Append(message.message_id);
  out.Append(message.text);
  return out;
}

Result<AppMessage> DecodeAppMessage(ByteView bytes) {
  if (bytes.size() < 2) return Status::Error(Code::kMalformed, "application message too short");
  if (bytes[0] != kAppMessageVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "application message version " + std::to_string(bytes[0]));
  }
  if (bytes[1] != kAppKindText) {
    return Status::Error(Code::kUnsupportedVersion, "application message kind " + std::to_string(bytes[1]));
  }
  if (bytes.size() < 2 + 16 + 1) return Status::Error(Code::kMalformed, "application message too short");
  if (bytes.size() > 2 + 16 + kMaxTextBytes) return Status::Error(Code::kMalformed, "text over 64 KiB");
  AppMessage message;
  message.kind = bytes[1];
  std::copy_n(bytes.begin() + 2, 16, message.message_id.begin());
  message.text.assign(AsChars(bytes.subspan(18)));
  return message;
}

}  // namespace liaison::client
