// Bounded encoding and decoding of frame bodies with cereal's PortableBinary archive.
//
// cereal's own std::string / std::vector loaders resize to whatever length prefix the input
// claims, so wire structs never use them: every variable-length field is wrapped in Bounded() or
// BoundedList(), whose loaders check the claimed length against the field's maximum AND against
// the bytes actually left in the body before allocating. Wire structs hold only integers, fixed
// arrays and bounded byte strings or lists (no bool: a byte other than 0/1 would be UB; no
// pointers, variants or polymorphic types).
//
// Decode() additionally requires the endianness byte cereal writes first to be exactly 1
// (little endian), and the body to be consumed exactly, so each value has one encoding.
// Thread-safety: all functions are thread-safe (each thread reuses streams of its own,
// StreamLease) and have no effect beyond their result.
#ifndef LIAISON_WIRE_CODEC_H_
#define LIAISON_WIRE_CODEC_H_

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>

#include <algorithm>
#include <istream>
#include <new>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>

#include "base/bytes.h"
#include "liaison/status.h"
#include "wire/frame.h"
#include "wire/limits.h"

namespace liaison::wire {

// Reads from a fixed span and knows how many bytes remain.
class SpanStreamBuf final : public std::streambuf {
 public:
  explicit SpanStreamBuf(ByteView bytes) {
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(begin, begin, begin + bytes.size());
  }
  size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};

// Appends everything written to a Bytes vector.
class BytesStreamBuf final : public std::streambuf {
 public:
  explicit BytesStreamBuf(Bytes& out) : out_(out) {}

 protected:
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) out_.push_back(static_cast<uint8_t>(ch));
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), reinterpret_cast<const uint8_t*>(s), reinterpret_cast<const uint8_t*>(s) + n);
    return n;
  }

 private:
  Bytes& out_;
};

// A std::istream or std::ostream over `buffer` for the lease's lifetime. Constructing one (its
// locale and ios_base state) costs more than coding a small body, so each thread keeps one of
// each kind and lends it out; a nested lease on the same thread (no wire type needs one) gets a
// stream of its own.
// During thread exit, once the thread's stream is destroyed, a lease (from some other
// thread_local's destructor) also gets a stream of its own.
template <class Stream>
class StreamLease {
 public:
  explicit StreamLease(std::streambuf* buffer) {
    if (slot_alive_ && !slot_.in_use) {
      slot_.in_use = true;
      slot_.stream.rdbuf(buffer);  // also clears the state a previous use left
      stream_ = &slot_.stream;
    } else {
      own_.emplace(buffer);
      stream_ = &*own_;
    }
  }
  ~StreamLease() {
    if (!own_.has_value()) {
      slot_.stream.rdbuf(nullptr);
      slot_.in_use = false;
    }
  }
  StreamLease(const StreamLease&) = delete;
  StreamLease& operator=(const StreamLease&) = delete;
  Stream& stream() { return *stream_; }

 private:
  struct Slot {
    Stream stream{nullptr};
    bool in_use = false;
    ~Slot() { slot_alive_ = false; }
  };
  // Trivially destructible, so still readable after slot_ was destroyed at thread exit.
  static inline thread_local bool slot_alive_ = true;
  static inline thread_local Slot slot_;
  std::optional<Stream> own_;
  Stream* stream_ = nullptr;
};

// A PortableBinary input archive that knows how many bytes of the body remain, so that the
// bounded loaders below can refuse a length before allocating for it.
class InputArchive final : public cereal::PortableBinaryInputArchive {
 public:
  InputArchive(std::istream& stream, const SpanStreamBuf& buffer)
      : cereal::PortableBinaryInputArchive(stream), buffer_(buffer) {}
  size_t remaining() const { return buffer_.remaining(); }

 private:
  const SpanStreamBuf& buffer_;
};
using OutputArchive = cereal::PortableBinaryOutputArchive;

// Thrown only inside Decode() and caught there; never escapes this header.
struct BoundExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class Archive>
void CheckClaimedLength(Archive& ar, uint64_t claimed, uint64_t max, uint64_t min_bytes_each) {
  if (claimed > max) {
    throw BoundExceeded("a field claims " + std::to_string(claimed) + " elements, its limit is " +
                        std::to_string(max));
  }
  // cereal hands loaders its CRTP base type; the object is always our InputArchive.
  const auto* bounded = dynamic_cast<const InputArchive*>(&ar);
  if (bounded == nullptr) throw BoundExceeded("bounded field decoded outside wire::Decode");
  const size_t remaining = bounded->remaining();
  if (claimed * min_bytes_each > remaining) {
    throw BoundExceeded("a field claims " + std::to_string(claimed) + " elements but only " +
                        std::to_string(remaining) + " bytes remain");
  }
}

// A byte string (std::string or Bytes) of at most Max bytes.
template <size_t Max, class Container>
class BoundedRef {
 public:
  explicit BoundedRef(Container& c) : c_(c) {}
  template <class Archive>
  void save(Archive& ar) const {
    if (c_.size() > Max) throw BoundExceeded("encoding a field longer than its limit");
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(c_.size())));
    ar(cereal::binary_data(c_.data(), c_.size()));
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    CheckClaimedLength(ar, n, Max, 1);
    c_.resize(static_cast<size_t>(n));
    ar(cereal::binary_data(c_.data(), static_cast<size_t>(n)));
  }

 private:
  Container& c_;
};

template <size_t Max, class Container>
BoundedRef<Max, Container> Bounded(Container& c) {
  return BoundedRef<Max, Container>(c);
}

// A list of at most Max elements, each of which encodes to at least MinBytesEach bytes.
template <size_t Max, size_t MinBytesEach, class T>
class BoundedListRef {
 public:
  explicit BoundedListRef(std::vector<T>& v) : v_(v) {}
  template <class Archive>
  void save(Archive& ar) const {
    if (v_.size() > Max) throw BoundExceeded("encoding a list longer than its limit");
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(v_.size())));
    for (auto& element : v_) ar(element);
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    CheckClaimedLength(ar, n, Max, MinBytesEach);
    v_.resize(static_cast<size_t>(n));
    for (auto& element : v_) ar(element);
  }

 private:
  std::vector<T>& v_;
};

template <size_t Max, size_t MinBytesEach, class T>
BoundedListRef<Max, MinBytesEach, T> BoundedList(std::vector<T>& v) {
  return BoundedListRef<Max, MinBytesEach, T>(v);
}

// Appends the encoding of a wire struct to `out`. Never fails for values within their limits; a
// value over a limit is a caller bug reported as kInvalidArgument (`out` then holds a partial
// encoding).
template <class T>
Status AppendEncoded(const T& value, Bytes& out) {
  try {
    BytesStreamBuf buffer(out);
    StreamLease<std::ostream> stream(&buffer);
    OutputArchive ar(stream.stream(), OutputArchive::Options::LittleEndian());
    ar(const_cast<T&>(value));
  } catch (const std::exception& e) {
    return Status::Error(Code::kInvalidArgument, std::string("cannot encode: ") + e.what());
  }
  return Status::Ok();
}

// Encodes a wire struct (errors as AppendEncoded).
template <class T>
Result<Bytes> Encode(const T& value) {
  Bytes out;
  LIAISON_RETURN_IF_ERROR(AppendEncoded(value, out));
  return out;
}

// Encodes a whole frame, `header` then `body`, into one buffer with room for `size_hint` bytes
// reserved up front (a close estimate of the frame's size spares reallocations for large bodies
// such as a FETCH page; 0: grow as needed). Errors as Encode(), and kInvalidArgument if the body
// would exceed kMaxBodyBytes (a caller bug).
template <class T>
Result<Bytes> EncodeFrameOf(const FrameHeader& header, const T& body, size_t size_hint = 0) {
  Bytes out;
  out.reserve(std::max(size_hint, kFrameHeaderBytes));
  out.resize(kFrameHeaderBytes);
  LIAISON_RETURN_IF_ERROR(AppendEncoded(body, out));
  if (out.size() - kFrameHeaderBytes > kMaxBodyBytes) {
    return Status::Error(Code::kInvalidArgument, "cannot encode: the body exceeds kMaxBodyBytes");
  }
  WriteFrameHeader(header, out);
  return out;
}

// Decodes a wire struct from an untrusted body. Errors: kMalformed (bad endianness byte, a short
// read, trailing bytes), kTooLarge (a claimed length over its limit or the bytes left). Never
// throws; never allocates more than the body's size per field.
template <class T>
Result<T> Decode(ByteView body) {
  if (body.empty() || body[0] != 1) {
    return Status::Error(Code::kMalformed, "body does not start with the little-endian marker 0x01");
  }
  T value{};
  try {
    SpanStreamBuf buffer(body);
    StreamLease<std::istream> stream(&buffer);
    InputArchive ar(stream.stream(), buffer);
    ar(value);
    if constexpr (requires { value.Valid(); }) {
      if (!value.Valid()) return Status::Error(Code::kMalformed, "a reserved byte is not 0 or a flag is not 0 or 1");
    }
    if (buffer.remaining() != 0) {
      return Status::Error(Code::kMalformed, std::to_string(buffer.remaining()) + " trailing bytes after the body");
    }
  } catch (const BoundExceeded& e) {
    return Status::Error(Code::kTooLarge, e.what());
  } catch (const cereal::Exception& e) {
    return Status::Error(Code::kMalformed, std::string("truncated body: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::kTooLarge, "allocation refused while decoding");
  } catch (const std::exception& e) {
    return Status::Error(Code::kMalformed, e.what());
  }
  return value;
}

}  // namespace liaison::wire

#endif  // LIAISON_WIRE_CODEC_H_
