// Fuzz target: one whole frame as it arrives from the transport.
//
// DecodeFrame must never crash and, when it accepts a frame, EncodeFrame of the decoded header
// and body must give back the input exactly. The body is then decoded as the type the header
// names (request, reply or error) with the round-trip check of fuzz/wire_body.h.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/wire_body.h"
#include "wire/frame.h"
#include "wire/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liaison;
  const ByteView input(data, size);
  Result<wire::FrameView> frame = wire::DecodeFrame(input);
  if (fuzz::TraceEnabled()) {
    std::fprintf(stderr, "%zu bytes: frame: %s\n", size, frame.ok() ? "ok" : frame.status().ToString().c_str());
  }
  if (!frame.ok()) {
    const Code code = frame.status().code();
    FUZZ_CHECK(code == Code::kMalformed || code == Code::kTooLarge || code == Code::kUnsupportedVersion,
               frame.status().ToString());
    return 0;
  }
  const wire::FrameHeader& header = frame->header;
  FUZZ_CHECK(header.version == wire::kFrameVersion, std::to_string(header.version));
  FUZZ_CHECK(wire::IsKnownType(header.type), std::to_string(header.type));
  FUZZ_CHECK(frame->body.size() <= wire::kMaxBodyBytes, std::to_string(frame->body.size()));
  FUZZ_CHECK(frame->body.data() == data + wire::kFrameHeaderBytes, "the body does not point into the frame");

  const Bytes again = wire::EncodeFrame(header, frame->body);
  FUZZ_CHECK(fuzz::SameBytes(again, input),
             "frame " + fuzz::HexPrefix(input) + " re-encodes as " + fuzz::HexPrefix(again));

  fuzz::CheckBody(fuzz::BodyKindForFrame(header), frame->body);
  return 0;
}
