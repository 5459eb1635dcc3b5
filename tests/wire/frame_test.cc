#include <catch2/catch.hpp>

#include "wire/frame.h"
#include "wire/limits.h"

using namespace liaison;
using namespace liaison::wire;

namespace {
Bytes PingFrame(uint64_t request_id = 42) {
  FrameHeader header;
  header.type = static_cast<uint8_t>(FrameType::kPing);
  header.request_id = request_id;
  return EncodeFrame(header, Bytes{0x01, 0x00});
}
}  // namespace

TEST_CASE("a frame round-trips its header and body", "[wire][frame]") {
  FrameHeader header;
  header.type = static_cast<uint8_t>(FrameType::kSend) | kReplyBit;
  header.request_id = 0x0102030405060708;
  header.status = 301;
  const Bytes body{1, 2, 3};
  const Bytes frame = EncodeFrame(header, body);
  REQUIRE(frame.size() == kFrameHeaderBytes + 3);
  auto view = DecodeFrame(frame);
  REQUIRE(view.ok());
  CHECK(view->header.type == header.type);
  CHECK(view->header.request_id == header.request_id);
  CHECK(view->header.status == 301);
  CHECK(Bytes(view->body.begin(), view->body.end()) == body);
}

TEST_CASE("every truncation of a frame is refused as malformed", "[wire][frame]") {
  const Bytes frame = PingFrame();
  for (size_t n = 0; n < frame.size(); ++n) {
    auto view = DecodeFrame(ByteView(frame.data(), n));
    INFO("length " << n);
    CHECK(view.status().code() == Code::kMalformed);
  }
  Bytes longer = frame;
  longer.push_back(0);
  CHECK(DecodeFrame(longer).status().code() == Code::kMalformed);
}

TEST_CASE("bad magic, unknown version and unknown type get distinct clear errors", "[wire][frame]") {
  Bytes frame = PingFrame();
  frame[0] = 'X';
  CHECK(DecodeFrame(frame).status().code() == Code::kMalformed);
  frame = PingFrame();
  frame[2] = 2;
  auto version = DecodeFrame(frame);
  CHECK(version.status().code() == Code::kUnsupportedVersion);
  CHECK(version.status().message().find("version 2") != std::string::npos);
  frame = PingFrame();
  frame[3] = 0x3f;
  CHECK(DecodeFrame(frame).status().code() == Code::kMalformed);
  frame[3] = kReplyBit | static_cast<uint8_t>(FrameType::kDeliver);  // a push is never a reply
  CHECK(DecodeFrame(frame).status().code() == Code::kMalformed);
}

TEST_CASE("a body length above the limit is refused as too large before anything else is read", "[wire][frame]") {
  Bytes frame = PingFrame();
  for (uint32_t claimed : {static_cast<uint32_t>(kMaxBodyBytes + 1), 0x80000000u, 0xffffffffu}) {
    frame[14] = static_cast<uint8_t>(claimed >> 24);
    frame[15] = static_cast<uint8_t>(claimed >> 16);
    frame[16] = static_cast<uint8_t>(claimed >> 8);
    frame[17] = static_cast<uint8_t>(claimed);
    CHECK(DecodeFrame(frame).status().code() == Code::kTooLarge);
  }
}

TEST_CASE("wire status codes map to and from liaison codes", "[wire][frame]") {
  for (Code code : {Code::kMailboxFull, Code::kStoreFull, Code::kMalformed, Code::kUnauthenticated,
                    Code::kPermissionDenied, Code::kNotFound, Code::kTooLarge, Code::kUnsupportedVersion}) {
    CHECK(CodeFromWireStatus(static_cast<uint16_t>(WireStatusFromCode(code))) == code);
  }
  CHECK(IsSuccess(200));
  CHECK(IsSuccess(208));
  CHECK_FALSE(IsSuccess(301));
}
