// Fuzz target: one frame body of a chosen type.
//
// Input = selector:u8 | body. The selector (mod the number of body types, see fuzz/wire_body.h)
// picks the type; the rest goes to wire::Decode<T>. Decode must never crash, throw, or allocate
// beyond the body's size per field, and a body it accepts must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz/wire_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liaison;
  if (size == 0) return 0;
  const auto kind = static_cast<fuzz::BodyKind>(data[0] % fuzz::kBodyKindCount);
  fuzz::CheckBody(kind, ByteView(data + 1, size - 1));
  return 0;
}
