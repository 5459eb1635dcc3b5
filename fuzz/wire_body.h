// Which body type a frame carries, and the decode -> encode round-trip check shared by
// frame_fuzzer.cc, body_fuzzer.cc and make_corpus.cc (header only).
//
// The round trip is the one-encoding-per-value rule of wire/codec.h (reliability.md C3): a body
// that Decode<T> accepts must come back byte for byte from Encode(T). A body that Decode<T>
// refuses must be refused as kMalformed or kTooLarge, never anything else, and without throwing.
#ifndef LIAISON_FUZZ_WIRE_BODY_H_
#define LIAISON_FUZZ_WIRE_BODY_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz/fuzz_util.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/limits.h"
#include "wire/messages.h"
#include "roster/roster.h"

namespace liaison::fuzz {

enum class BodyKind : uint8_t {
  kEmpty = 0,
  kErrorBody = 1,
  kSendRequest = 2,
  kFetchRequest = 3,
  kDeliveries = 4,
  kAckRequest = 5,
  kAckReply = 6,
  kPublishKeysRequest = 7,
  kGetKeysRequest = 8,
  kGetKeysReply = 9,
  kPublishPrekeysRequest = 10,
  kPrekeyCount = 11,
  kClaimPrekeysRequest = 12,
  kClaimPrekeysReply = 13,
  kListDevicesRequest = 14,
  kListDevicesReply = 15,
  kPublishRosterRequest = 16,
  kRosterNumber = 17,
  kGetRosterRequest = 18,
  kGetRosterReply = 19,
  kSignedRosterEpoch = 20,  // what PUBLISH_ROSTER and GET_ROSTER carry (roster/roster.h)
  kRosterEpoch = 21,        // the body inside a signed epoch
  kSendBroadcastRequest = 22,
  kSendBroadcastReply = 23,
  kSendManyRequest = 24,
  kSendManyReply = 25,
};
inline constexpr uint8_t kBodyKindCount = 26;

inline const char* BodyKindName(BodyKind kind) {
  switch (kind) {
    case BodyKind::kEmpty: return "Empty";
    case BodyKind::kErrorBody: return "ErrorBody";
    case BodyKind::kSendRequest: return "SendRequest";
    case BodyKind::kFetchRequest: return "FetchRequest";
    case BodyKind::kDeliveries: return "Deliveries";
    case BodyKind::kAckRequest: return "AckRequest";
    case BodyKind::kAckReply: return "AckReply";
    case BodyKind::kPublishKeysRequest: return "PublishKeysRequest";
    case BodyKind::kGetKeysRequest: return "GetKeysRequest";
    case BodyKind::kGetKeysReply: return "GetKeysReply";
    case BodyKind::kPublishPrekeysRequest: return "PublishPrekeysRequest";
    case BodyKind::kPrekeyCount: return "PrekeyCount";
    case BodyKind::kClaimPrekeysRequest: return "ClaimPrekeysRequest";
    case BodyKind::kClaimPrekeysReply: return "ClaimPrekeysReply";
    case BodyKind::kListDevicesRequest: return "ListDevicesRequest";
    case BodyKind::kListDevicesReply: return "ListDevicesReply";
    case BodyKind::kPublishRosterRequest: return "PublishRosterRequest";
    case BodyKind::kRosterNumber: return "RosterNumber";
    case BodyKind::kGetRosterRequest: return "GetRosterRequest";
    case BodyKind::kGetRosterReply: return "GetRosterReply";
    case BodyKind::kSignedRosterEpoch: return "SignedRosterEpoch";
    case BodyKind::kRosterEpoch: return "RosterEpoch";
    case BodyKind::kSendBroadcastRequest: return "SendBroadcastRequest";
    case BodyKind::kSendBroadcastReply: return "SendBroadcastReply";
    case BodyKind::kSendManyRequest: return "SendManyRequest";
    case BodyKind::kSendManyReply: return "SendManyReply";
  }
  return "?";
}

// The body type a frame with this header carries (relay/src/relay_server.cc and client/src/ are
// the readers and writers): requests by type; successful replies by the request they answer;
// every reply with a non-2xx status, and every kError reply, carries an ErrorBody.
// REQUIRES: IsKnownType(header.type).
inline BodyKind BodyKindForFrame(const wire::FrameHeader& header) {
  using wire::FrameType;
  const bool reply = (header.type & wire::kReplyBit) != 0;
  const auto type = static_cast<FrameType>(header.type & ~wire::kReplyBit);
  if (reply && (type == FrameType::kError || !wire::IsSuccess(header.status))) return BodyKind::kErrorBody;
  switch (type) {
    case FrameType::kHello:
    case FrameType::kPing: return BodyKind::kEmpty;
    case FrameType::kSend: return reply ? BodyKind::kEmpty : BodyKind::kSendRequest;
    case FrameType::kFetch: return reply ? BodyKind::kDeliveries : BodyKind::kFetchRequest;
    case FrameType::kAck: return reply ? BodyKind::kAckReply : BodyKind::kAckRequest;
    case FrameType::kPublishKeys: return reply ? BodyKind::kEmpty : BodyKind::kPublishKeysRequest;
    case FrameType::kGetKeys: return reply ? BodyKind::kGetKeysReply : BodyKind::kGetKeysRequest;
    case FrameType::kPublishPrekeys: return reply ? BodyKind::kPrekeyCount : BodyKind::kPublishPrekeysRequest;
    case FrameType::kClaimPrekeys: return reply ? BodyKind::kClaimPrekeysReply : BodyKind::kClaimPrekeysRequest;
    case FrameType::kListDevices: return reply ? BodyKind::kListDevicesReply : BodyKind::kListDevicesRequest;
    case FrameType::kPublishRoster: return reply ? BodyKind::kRosterNumber : BodyKind::kPublishRosterRequest;
    case FrameType::kGetRoster: return reply ? BodyKind::kGetRosterReply : BodyKind::kGetRosterRequest;
    case FrameType::kSendBroadcast: return reply ? BodyKind::kSendBroadcastReply : BodyKind::kSendBroadcastRequest;
    case FrameType::kSendMany: return reply ? BodyKind::kSendManyReply : BodyKind::kSendManyRequest;
    case FrameType::kDeliver: return BodyKind::kDeliveries;
    case FrameType::kError: return BodyKind::kErrorBody;
  }
  return BodyKind::kErrorBody;
}

// Decodes `body` as T. On success, re-encodes and aborts unless the bytes are identical. Returns
// whether the body decoded.
template <class T>
bool CheckBodyRoundTrip(ByteView body, BodyKind kind) {
  Result<T> decoded = wire::Decode<T>(body);
  if (TraceEnabled()) {
    std::fprintf(stderr, "  body as %s: %s\n", BodyKindName(kind),
                 decoded.ok() ? "ok" : decoded.status().ToString().c_str());
  }
  if (!decoded.ok()) {
    const Code code = decoded.status().code();
    FUZZ_CHECK(code == Code::kMalformed || code == Code::kTooLarge,
               std::string(BodyKindName(kind)) + " refused with " + decoded.status().ToString());
    return false;
  }
  Result<Bytes> encoded = wire::Encode(*decoded);
  FUZZ_CHECK(encoded.ok(), std::string(BodyKindName(kind)) + " decoded but does not encode: " +
                               encoded.status().ToString() + "; body " + HexPrefix(body));
  FUZZ_CHECK(SameBytes(*encoded, body), std::string(BodyKindName(kind)) + " has a second encoding: body " +
                                            HexPrefix(body) + " re-encodes as " + HexPrefix(*encoded));
  return true;
}

inline bool CheckBody(BodyKind kind, ByteView body) {
  switch (kind) {
    case BodyKind::kEmpty: return CheckBodyRoundTrip<wire::Empty>(body, kind);
    case BodyKind::kErrorBody: return CheckBodyRoundTrip<wire::ErrorBody>(body, kind);
    case BodyKind::kSendRequest: return CheckBodyRoundTrip<wire::SendRequest>(body, kind);
    case BodyKind::kFetchRequest: return CheckBodyRoundTrip<wire::FetchRequest>(body, kind);
    case BodyKind::kDeliveries: return CheckBodyRoundTrip<wire::Deliveries>(body, kind);
    case BodyKind::kAckRequest: return CheckBodyRoundTrip<wire::AckRequest>(body, kind);
    case BodyKind::kAckReply: return CheckBodyRoundTrip<wire::AckReply>(body, kind);
    case BodyKind::kPublishKeysRequest: return CheckBodyRoundTrip<wire::PublishKeysRequest>(body, kind);
    case BodyKind::kGetKeysRequest: return CheckBodyRoundTrip<wire::GetKeysRequest>(body, kind);
    case BodyKind::kGetKeysReply: return CheckBodyRoundTrip<wire::GetKeysReply>(body, kind);
    case BodyKind::kPublishPrekeysRequest: return CheckBodyRoundTrip<wire::PublishPrekeysRequest>(body, kind);
    case BodyKind::kPrekeyCount: return CheckBodyRoundTrip<wire::PrekeyCount>(body, kind);
    case BodyKind::kClaimPrekeysRequest: return CheckBodyRoundTrip<wire::ClaimPrekeysRequest>(body, kind);
    case BodyKind::kClaimPrekeysReply: return CheckBodyRoundTrip<wire::ClaimPrekeysReply>(body, kind);
    case BodyKind::kListDevicesRequest: return CheckBodyRoundTrip<wire::ListDevicesRequest>(body, kind);
    case BodyKind::kListDevicesReply: return CheckBodyRoundTrip<wire::ListDevicesReply>(body, kind);
    case BodyKind::kPublishRosterRequest: return CheckBodyRoundTrip<wire::PublishRosterRequest>(body, kind);
    case BodyKind::kRosterNumber: return CheckBodyRoundTrip<wire::RosterNumber>(body, kind);
    case BodyKind::kGetRosterRequest: return CheckBodyRoundTrip<wire::GetRosterRequest>(body, kind);
    case BodyKind::kGetRosterReply: return CheckBodyRoundTrip<wire::GetRosterReply>(body, kind);
    case BodyKind::kSignedRosterEpoch: return CheckBodyRoundTrip<roster::SignedEpochWire>(body, kind);
    case BodyKind::kRosterEpoch: return CheckBodyRoundTrip<roster::Epoch>(body, kind);
    case BodyKind::kSendBroadcastRequest: return CheckBodyRoundTrip<wire::SendBroadcastRequest>(body, kind);
    case BodyKind::kSendBroadcastReply: return CheckBodyRoundTrip<wire::SendBroadcastReply>(body, kind);
    case BodyKind::kSendManyRequest: return CheckBodyRoundTrip<wire::SendManyRequest>(body, kind);
    case BodyKind::kSendManyReply: return CheckBodyRoundTrip<wire::SendManyReply>(body, kind);
  }
  return false;
}

}  // namespace liaison::fuzz

#endif  // LIAISON_FUZZ_WIRE_BODY_H_
