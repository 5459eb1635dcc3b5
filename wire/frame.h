// The hand-written outer frame of every liaison message (docs/protocol.md, "Frames").
//
//   frame = magic:"LZ" | version:u8 | type:u8 | request_id:u64be | status:u16be
//           | body_length:u32be | body[body_length]
//
// The body is a cereal PortableBinary archive decoded by wire/codec.h. Pure functions; thread-safe.
#ifndef LIAISON_WIRE_FRAME_H_
#define LIAISON_WIRE_FRAME_H_

#include <cstdint>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::wire {

inline constexpr uint8_t kMagic0 = 'L';
inline constexpr uint8_t kMagic1 = 'Z';
inline constexpr uint8_t kFrameVersion = 1;

// Request types (client -> relay). A reply has the request's type with kReplyBit set.
enum class FrameType : uint8_t {
  kHello = 0x01,        // subscribe this connection to pushes of its mailbox
  kSend = 0x02,         // store an envelope for a recipient
  kFetch = 0x03,        // read pending deliveries after a sequence number
  kAck = 0x04,          // the recipient stored these deliveries; delete them
  kPublishKeys = 0x05,  // store this device's public key bundle
  kGetKeys = 0x06,      // read another device's key bundle
  kPing = 0x07,         // round trip with no effect
  kPublishPrekeys = 0x08,  // store this device's signed prekey and add one-time prekeys
  kClaimPrekeys = 0x09,    // take another device's prekeys (one one-time prekey, deleted)
  kListDevices = 0x0A,     // the registered device addresses of one member
  kPublishRoster = 0x0B,   // a coordinator-signed roster epoch, successor of the relay's newest
  kGetRoster = 0x0C,       // one roster epoch by number (0: the newest)
  kSendBroadcast = 0x0D,   // one body stored once, and a small copy for each recipient device
  kSendMany = 0x0E,        // several SENDs in one request, each answered with its own status
  kDeliver = 0x40,      // relay -> client push, request_id 0, never answered
  kError = 0x00,        // only as kReplyBit|kError: the answer to a frame whose header was unreadable
};
inline constexpr uint8_t kReplyBit = 0x80;

// Reply status codes: 2xx done, 3xx refused for now (retry later), 4xx the request is wrong,
// 5xx the relay failed. Requests carry status 0.
enum class WireStatus : uint16_t {
  kNone = 0,
  kOk = 200,
  kStoredBefore = 208,      // a retried SEND whose message id was already stored: success
  kMailboxFull = 301,
  kStoreFull = 302,
  kMalformed = 400,
  kUnauthenticated = 401,
  kForbidden = 403,
  kNotFound = 404,
  kConflict = 409,          // e.g. a roster epoch that is not the successor of the one held
  kExpired = 410,           // the message's expiry is already past
  kTooLarge = 413,
  kUnsupportedVersion = 426,
  kInternal = 500,
};

struct FrameHeader {
  uint8_t version = kFrameVersion;
  uint8_t type = 0;
  uint64_t request_id = 0;
  uint16_t status = 0;
};

struct FrameView {
  FrameHeader header;
  ByteView body;  // points into the decoded buffer; valid while it lives
};

// Whether `type` (with or without kReplyBit) names a known frame type.
bool IsKnownType(uint8_t type);

// Serializes header + body. REQUIRES: body.size() <= kMaxBodyBytes.
Bytes EncodeFrame(const FrameHeader& header, ByteView body);

// Writes the header of a frame whose body already follows it: `frame` holds kFrameHeaderBytes
// (their values are overwritten), then the body. REQUIRES: frame.size() >= kFrameHeaderBytes and
// the body no longer than kMaxBodyBytes. For encoders that build the body in place
// (wire::EncodeFrameOf in wire/codec.h).
void WriteFrameHeader(const FrameHeader& header, Bytes& frame);

// Parses and bounds-checks the header. Errors: kMalformed (shorter than the header, bad magic,
// unknown type, body_length differs from the bytes present), kUnsupportedVersion, kTooLarge.
Result<FrameView> DecodeFrame(ByteView frame);

// Maps between reply status codes and liaison::Code.
Code CodeFromWireStatus(uint16_t status);
WireStatus WireStatusFromCode(Code code);
bool IsSuccess(uint16_t status);

}  // namespace liaison::wire

#endif  // LIAISON_WIRE_FRAME_H_
