// Helpers shared by liaison's fuzz targets and the corpus generator (header only; not a library).
//
// Invariant checks use FUZZ_CHECK, never assert(): the replay build is RelWithDebInfo (NDEBUG),
// and a violated invariant must stop the process in every build. A violation prints
// "<file>:<line>: fuzz invariant violated: <condition>: <detail>" on stderr and calls abort(),
// which libFuzzer reports as a crash and saves the input.
#ifndef LIAISON_FUZZ_FUZZ_UTIL_H_
#define LIAISON_FUZZ_FUZZ_UTIL_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s%s%s\n", file, line, condition,
               detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Whether LIAISON_FUZZ_TRACE is set: targets then print what each input did (for debugging a
// corpus or a crash with the replay binary).
inline bool TraceEnabled() {
  static const bool enabled = std::getenv("LIAISON_FUZZ_TRACE") != nullptr;
  return enabled;
}

inline bool SameBytes(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// The first bytes of `b` in hex, for failure messages.
inline std::string HexPrefix(ByteView b, size_t max = 64) {
  std::string out = ToHex(b.first(std::min(b.size(), max)));
  if (b.size() > max) out += "... (" + std::to_string(b.size()) + " bytes)";
  return out;
}

// Reads the fuzzer's bytes front to back. Past the end every read returns zero, so a target can
// always finish the action it started; callers stop when empty() turns true.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  size_t remaining() const { return empty() ? 0 : data_.size() - pos_; }
  uint8_t U8() { return empty() ? 0 : data_[pos_++]; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(U8()) << (8 * i);
    return v;
  }
  // One of `choices`, selected by the next byte.
  template <class T, size_t N>
  const T& Pick(const std::array<T, N>& choices) {
    static_assert(N > 0 && N <= 256);
    return choices[U8() % N];
  }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// splitmix64: a small, fast, deterministic generator for the contents the fuzzer does not choose
// byte by byte (envelope payloads). Not for cryptography.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  Bytes RandomBytes(size_t n) {
    Bytes out(n);
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t v = Next();
      for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    return out;
  }

 private:
  uint64_t state_;
};

}  // namespace liaison::fuzz

#define FUZZ_CHECK(condition, detail)                                          \
  do {                                                                         \
    if (!(condition)) ::liaison::fuzz::Fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (0)

#endif  // LIAISON_FUZZ_FUZZ_UTIL_H_
