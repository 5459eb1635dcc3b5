#include "wire/frame.h"

#include <string>

#include "wire/limits.h"

namespace liaison::wire {

bool IsKnownType(uint8_t type) {
  switch (static_cast<FrameType>(type & ~kReplyBit)) {
    case FrameType::kHello:
    case FrameType::kSend:
    case FrameType::kFetch:
    case FrameType::kAck:
    case FrameType::kPublishKeys:
    case FrameType::kGetKeys:
    case FrameType::kPing:
    case FrameType::kPublishPrekeys:
    case FrameType::kClaimPrekeys:
    case FrameType::kListDevices:
    case FrameType::kPublishRoster:
    case FrameType::kGetRoster:
    case FrameType::kSendBroadcast:
    case FrameType::kSendMany:
      return true;
    case FrameType::kDeliver:
      return (type & kReplyBit) == 0;
    case FrameType::kError:
      return (type & kReplyBit) != 0;
  }
  return false;
}

void WriteFrameHeader(const FrameHeader& header, Bytes& frame) {
  uint8_t* out = frame.data();
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = header.version;
  out[3] = header.type;
  PutBigEndian64(header.request_id, out + 4);
  out[12] = static_cast<uint8_t>(header.status >> 8);
  out[13] = static_cast<uint8_t>(header.status);
  const auto length = static_cast<uint32_t>(frame.size() - kFrameHeaderBytes);
  out[14] = static_cast<uint8_t>(length >> 24);
  out[15] = static_cast<uint8_t>(length >> 16);
  out[16] = static_cast<uint8_t>(length >> 8);
  out[17] = static_cast<uint8_t>(length);
}

Bytes EncodeFrame(const FrameHeader& header, ByteView body) {
  Bytes out;
  out.reserve(kFrameHeaderBytes + body.size());
  out.resize(kFrameHeaderBytes);
  out.insert(out.end(), body.begin(), body.end());
  WriteFrameHeader(header, out);
  return out;
}

Result<FrameView> DecodeFrame(ByteView frame) {
  if (frame.size() < kFrameHeaderBytes) {
    return Status::Error(Code::kMalformed, "frame of " + std::to_string(frame.size()) +
                                               " bytes is shorter than the 18-byte header");
  }
  if (frame[0] != kMagic0 || frame[1] != kMagic1) {
    return Status::Error(Code::kMalformed, "frame does not start with the magic \"LZ\"");
  }
  FrameView view;
  view.header.version = frame[2];
  if (view.header.version != kFrameVersion) {
    return Status::Error(Code::kUnsupportedVersion,
                         "frame version " + std::to_string(view.header.version) + ", this build speaks 1");
  }
  view.header.type = frame[3];
  if (!IsKnownType(view.header.type)) {
    return Status::Error(Code::kMalformed, "unknown frame type " + std::to_string(view.header.type));
  }
  view.header.request_id = GetBigEndian64(&frame[4]);
  view.header.status = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  const uint32_t length = static_cast<uint32_t>(frame[14]) << 24 | static_cast<uint32_t>(frame[15]) << 16 |
                          static_cast<uint32_t>(frame[16]) << 8 | frame[17];
  if (length > kMaxBodyBytes) {
    return Status::Error(Code::kTooLarge, "body length " + std::to_string(length) + " exceeds the limit of " +
                                              std::to_string(kMaxBodyBytes));
  }
  if (length != frame.size() - kFrameHeaderBytes) {
    return Status::Error(Code::kMalformed, "body length field says " + std::to_string(length) + " but " +
                                               std::to_string(frame.size() - kFrameHeaderBytes) +
                                               " bytes follow the header");
  }
  view.body = frame.subspan(kFrameHeaderBytes);
  return view;
}

Code CodeFromWireStatus(uint16_t status) {
  switch (static_cast<WireStatus>(status)) {
    case WireStatus::kOk:
    case WireStatus::kStoredBefore: return Code::kOk;
    case WireStatus::kMailboxFull: return Code::kMailboxFull;
    case WireStatus::kStoreFull: return Code::kStoreFull;
    case WireStatus::kMalformed: return Code::kMalformed;
    case WireStatus::kUnauthenticated: return Code::kUnauthenticated;
    case WireStatus::kForbidden: return Code::kPermissionDenied;
    case WireStatus::kNotFound: return Code::kNotFound;
    case WireStatus::kExpired: return Code::kExpired;
    case WireStatus::kConflict: return Code::kConflict;
    case WireStatus::kTooLarge: return Code::kTooLarge;
    case WireStatus::kUnsupportedVersion: return Code::kUnsupportedVersion;
    case WireStatus::kNone:
    case WireStatus::kInternal: break;
  }
  return Code::kInternal;
}

WireStatus WireStatusFromCode(Code code) {
  switch (code) {
    case Code::kOk: return WireStatus::kOk;
    case Code::kMailboxFull: return WireStatus::kMailboxFull;
    case Code::kStoreFull: return WireStatus::kStoreFull;
    case Code::kMalformed:
    case Code::kInvalidArgument:
    case Code::kDuplicate: return WireStatus::kMalformed;
    case Code::kExpired: return WireStatus::kExpired;
    case Code::kUnauthenticated: return WireStatus::kUnauthenticated;
    case Code::kPermissionDenied: return WireStatus::kForbidden;
    case Code::kNotFound: return WireStatus::kNotFound;
    case Code::kConflict: return WireStatus::kConflict;
    case Code::kTooLarge: return WireStatus::kTooLarge;
    case Code::kUnsupportedVersion: return WireStatus::kUnsupportedVersion;
    default: return WireStatus::kInternal;
  }
}

bool IsSuccess(uint16_t status) { return status >= 200 && status < 300; }

}  // namespace liaison::wire
