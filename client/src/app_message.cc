#include "client/src/app_message.h"

#include <sodium.h>

#include <algorithm>

#include "base/bytes.h"
#include "client/src/tracking.h"

namespace liaison::client {

ContentKey::~ContentKey() { sodium_memzero(bytes.data(), bytes.size()); }

namespace {
constexpr size_t kHeadBytes = 2 + 16;
constexpr size_t kBroadcastKeyBodyBytes = 16 + 32 + 32;
constexpr size_t kReceiptFixedBytes = 16 + 1 + 8 + 1 + 64;

void AppendI64(crypto::WipedBytes& out, int64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.AppendU8(static_cast<uint8_t>(static_cast<uint64_t>(v) >> shift));
}
}  // namespace

Result<crypto::WipedBytes> EncodeAppMessage(const AppMessage& message) {
  crypto::WipedBytes out;
  switch (message.kind) {
    case kAppKindText:
      if (message.text.empty() || message.text.size() > kMaxTextBytes) {
        return Status::Error(Code::kInvalidArgument, "a message has 1 byte to 64 KiB of text");
      }
      break;
    case kAppKindBroadcastKey:
      break;
    case kAppKindReceipt:
      if (message.step < kReceiptDelivered || message.step > kReceiptAcknowledged) {
        return Status::Error(Code::kInvalidArgument, "unknown receipt step");
      }
      if (message.answer.size() > kMaxAnswerBytes) return Status::Error(Code::kInvalidArgument, "an answer has at most 200 bytes");
      break;
    default:
      return Status::Error(Code::kInvalidArgument, "unknown message kind");
  }
  out.AppendU8(kAppMessageVersion1);
  out.AppendU8(message.kind);
  out.Append(message.message_id);
  if (message.kind == kAppKindText) {
    out.Append(message.text);
  } else if (message.kind == kAppKindBroadcastKey) {
    out.Append(message.broadcast_id);
    out.Append(message.content_key.bytes);
    out.Append(message.body_hash);
  } else {
    out.Append(message.broadcast_id);
    out.AppendU8(message.step);
    AppendI64(out, message.at);
    out.AppendU8(static_cast<uint8_t>(message.answer.size()));
    out.Append(message.answer);
    out.Append(message.signature);
  }
  return out;
}

Result<AppMessage> DecodeAppMessage(ByteView bytes) {
  if (bytes.size() < 2) return Status::Error(Code::kMalformed, "application message too short");
  if (bytes[0] != kAppMessageVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "application message version " + std::to_string(bytes[0]));
  }
  const uint8_t kind = bytes[1];
  if (kind != kAppKindText && kind != kAppKindBroadcastKey && kind != kAppKindReceipt) {
    return Status::Error(Code::kUnsupportedVersion, "application message kind " + std::to_string(kind));
  }
  if (bytes.size() < kHeadBytes) return Status::Error(Code::kMalformed, "application message too short");
  AppMessage message;
  message.kind = kind;
  std::copy_n(bytes.begin() + 2, 16, message.message_id.begin());
  const ByteView body = bytes.subspan(kHeadBytes);
  if (kind == kAppKindText) {
    if (body.empty()) return Status::Error(Code::kMalformed, "application message too short");
    if (body.size() > kMaxTextBytes) return Status::Error(Code::kMalformed, "text over 64 KiB");
    message.text.assign(AsChars(body));
  } else if (kind == kAppKindBroadcastKey) {
    if (body.size() != kBroadcastKeyBodyBytes) return Status::Error(Code::kMalformed, "a broadcast key of the wrong length");
    std::copy_n(body.begin(), 16, message.broadcast_id.begin());
    std::copy_n(body.begin() + 16, 32, message.content_key.bytes.begin());
    std::copy_n(body.begin() + 48, 32, message.body_hash.begin());
  } else {
    if (body.size() < kReceiptFixedBytes) return Status::Error(Code::kMalformed, "a receipt too short");
    std::copy_n(body.begin(), 16, message.broadcast_id.begin());
    message.step = body[16];
    if (message.step < kReceiptDelivered || message.step > kReceiptAcknowledged) {
      return Status::Error(Code::kMalformed, "unknown receipt step");
    }
    message.at = static_cast<int64_t>(GetBigEndian64(body.data() + 17));
    const size_t answer_size = body[25];
    if (answer_size > kMaxAnswerBytes || body.size() != kReceiptFixedBytes + answer_size) {
      return Status::Error(Code::kMalformed, "a receipt of the wrong length");
    }
    message.answer.assign(AsChars(body.subspan(26, answer_size)));
    std::copy_n(body.begin() + 26 + static_cast<ptrdiff_t>(answer_size), 64, message.signature.begin());
  }
  return message;
}

Bytes ReceiptSignedBytes(const std::array<uint8_t, 16>& about, std::string_view author, std::string_view addressee,
                         uint8_t step, int64_t at, std::string_view answer) {
  static constexpr std::string_view kContext = "liaison/v1/receipt";
  crypto::WipedBytes out;
  out.Append(kContext);
  out.Append(about);
  out.AppendU8(static_cast<uint8_t>(author.size()));
  out.Append(author);
  out.AppendU8(static_cast<uint8_t>(addressee.size()));
  out.Append(addressee);
  out.AppendU8(step);
  AppendI64(out, at);
  out.AppendU8(static_cast<uint8_t>(answer.size()));
  out.Append(answer);
  return Bytes(out.view().begin(), out.view().end());
}

}  // namespace liaison::client
