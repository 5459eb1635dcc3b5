#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string_view>

#include "wire/broadcast.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/limits.h"
#include "wire/messages.h"

// The largest single allocation made through operator new while a probe is active (this test
// binary replaces the global operator new and delete, except the aligned forms; they forward to
// malloc and free and only observe sizes).
namespace {
std::atomic<bool> g_probing{false};
std::atomic<size_t> g_largest{0};
}  // namespace

// Out of line, so that GCC does not pair an inlined malloc with a delete expression
// (-Wmismatched-new-delete): new and delete of this binary are malloc and free throughout.
__attribute__((noinline)) void* operator new(std::size_t size) {
  if (g_probing.load(std::memory_order_relaxed)) {
    size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
    }
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void* operator new[](std::size_t size) { return ::operator new(size); }
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too, so that no allocation of this binary reaches a sanitizer's own operator
// new and then this file's delete (ASan reports such a pair as alloc-dealloc-mismatch).
__attribute__((noinline)) void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
__attribute__((noinline)) void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return ::operator new(size, std::nothrow);
}
__attribute__((noinline)) void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace liaison;
using namespace liaison::wire;

namespace {

struct AllocationProbe {
  AllocationProbe() {
    g_largest = 0;
    g_probing = true;
  }
  ~AllocationProbe() { g_probing = false; }
  size_t largest() const { return g_largest.load(); }
};

Bytes Pattern(size_t n, uint8_t salt) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + salt);
  return out;
}

void AppendLe64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutBe32(Bytes& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 24);
  b[at + 1] = static_cast<uint8_t>(v >> 16);
  b[at + 2] = static_cast<uint8_t>(v >> 8);
  b[at + 3] = static_cast<uint8_t>(v);
}

constexpr MessageId kBroadcastId = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

SendBroadcastRequest SampleBroadcast(size_t copies = 3) {
  SendBroadcastRequest request;
  request.broadcast_id = kBroadcastId;
  request.expires_at = 1'800'000'000'000'000;
  request.body = Pattern(2000, 1);
  for (size_t i = 0; i < copies; ++i) {
    BroadcastCopy copy;
    copy.recipient = "member-" + std::to_string(i) + "/1";
    copy.message_id.fill(static_cast<uint8_t>(i + 1));
    copy.envelope = Pattern(512, static_cast<uint8_t>(i));
    request.copies.push_back(copy);
  }
  return request;
}

// The encoded request up to its body's length prefix: marker | broadcast_id | expires_at.
Bytes RequestHead() {
  Bytes head{0x01};
  head.insert(head.end(), kBroadcastId.begin(), kBroadcastId.end());
  AppendLe64(head, 1'800'000'000'000'000);
  return head;
}

// Decodes `body` under an allocation probe; the refusal must come before any allocation that
// follows the claimed length (the error message itself is a few hundred bytes).
template <class T>
Code DecodeRefused(const Bytes& body) {
  AllocationProbe probe;
  auto decoded = Decode<T>(body);
  const size_t largest = probe.largest();
  INFO("largest allocation " << largest << " bytes for an input of " << body.size());
  CHECK(largest < 4096);
  CHECK_FALSE(decoded.ok());
  return decoded.status().code();
}

}  // namespace

TEST_CASE("a broadcast delivery splits back into the copy and the body it was composed of", "[wire][broadcast]") {
  struct Sizes {
    size_t copy, body;
  };
  for (const Sizes& s : {Sizes{1, 1}, Sizes{512, 2000}, Sizes{kMaxBroadcastCopyBytes, kMaxBroadcastBodyBytes}}) {
    INFO("copy " << s.copy << " body " << s.body);
    const Bytes copy = Pattern(s.copy, 3);
    const Bytes body = Pattern(s.body, 5);
    const Bytes delivery = ComposeBroadcastDelivery(copy, body);
    REQUIRE(delivery.size() == kBroadcastDeliveryHeadBytes + s.copy + s.body);
    CHECK(delivery[0] == kBroadcastDeliveryTag);
    CHECK(delivery[1] == static_cast<uint8_t>(s.copy >> 24));
    CHECK(delivery[2] == static_cast<uint8_t>(s.copy >> 16));
    CHECK(delivery[3] == static_cast<uint8_t>(s.copy >> 8));
    CHECK(delivery[4] == static_cast<uint8_t>(s.copy));
    auto split = SplitBroadcastDelivery(delivery);
    REQUIRE(split.ok());
    CHECK(Bytes(split->copy.begin(), split->copy.end()) == copy);
    CHECK(Bytes(split->body.begin(), split->body.end()) == body);
    // Views into the argument, not copies.
    CHECK(split->copy.data() == delivery.data() + kBroadcastDeliveryHeadBytes);
    CHECK(split->body.data() == delivery.data() + kBroadcastDeliveryHeadBytes + s.copy);
  }
}

TEST_CASE("a broadcast delivery with a wrong tag, too short, or impossible lengths is malformed",
          "[wire][broadcast][hostile]") {
  const Bytes copy = Pattern(100, 1);
  const Bytes body = Pattern(300, 2);
  const Bytes valid = ComposeBroadcastDelivery(copy, body);
  auto refused = [](const Bytes& delivery) {
    auto split = SplitBroadcastDelivery(delivery);
    return !split.ok() && split.status().code() == Code::kMalformed;
  };

  SECTION("wrong tag: a sealed envelope's version byte, or anything else") {
    for (uint8_t tag : {0x00, 0x01, 0x02, 0x11, 0x90, 0xff}) {
      Bytes b = valid;
      b[0] = tag;
      INFO("tag " << int{tag});
      CHECK(refused(b));
    }
  }
  SECTION("shorter than the head") {
    for (size_t n = 0; n < kBroadcastDeliveryHeadBytes; ++n) {
      INFO("length " << n);
      CHECK(refused(Bytes(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n))));
    }
    CHECK(refused(Bytes(valid.begin(), valid.begin() + kBroadcastDeliveryHeadBytes)));  // no copy, no body
  }
  SECTION("copy length 0") {
    Bytes b = valid;
    PutBe32(b, 1, 0);
    CHECK(refused(b));
  }
  SECTION("copy length over kMaxBroadcastCopyBytes, although the bytes are present") {
    const Bytes big = ComposeBroadcastDelivery(Pattern(kMaxBroadcastCopyBytes + 1, 1), body);
    CHECK(refused(big));
    Bytes b = ComposeBroadcastDelivery(Pattern(kMaxBroadcastCopyBytes, 1), body);
    CHECK(SplitBroadcastDelivery(b).ok());
    for (uint32_t n : {static_cast<uint32_t>(kMaxBroadcastCopyBytes + 1), 0x80000000u, 0xffffffffu}) {
      PutBe32(b, 1, n);
      INFO("copy length " << n);
      CHECK(refused(b));
    }
  }
  SECTION("copy length equal to or beyond what follows the head: no body left") {
    Bytes b = valid;
    const auto rest = static_cast<uint32_t>(valid.size() - kBroadcastDeliveryHeadBytes);
    for (uint32_t n : {rest, rest + 1}) {
      PutBe32(b, 1, n);
      INFO("copy length " << n << " of " << rest);
      CHECK(refused(b));
    }
    PutBe32(b, 1, rest - 1);  // one byte of body: accepted
    auto split = SplitBroadcastDelivery(b);
    REQUIRE(split.ok());
    CHECK(split->body.size() == 1);
    const Bytes no_body = ComposeBroadcastDelivery(copy, Bytes{});
    CHECK(refused(no_body));
  }
  SECTION("body over kMaxBroadcastBodyBytes") {
    CHECK(SplitBroadcastDelivery(ComposeBroadcastDelivery(copy, Pattern(kMaxBroadcastBodyBytes, 3))).ok());
    CHECK(refused(ComposeBroadcastDelivery(copy, Pattern(kMaxBroadcastBodyBytes + 1, 3))));
  }
}

TEST_CASE("the submission receipt message is the context, the ids, the hash and big-endian counts",
          "[wire][broadcast]") {
  std::array<uint8_t, 32> hash{};
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(0xc0 + i);
  const Bytes message = SubmissionReceiptMessage(kBroadcastId, hash, 0x0102030405060708ull, 0x0a0b0c0du);
  constexpr std::string_view kContext = "liaison/v1/submission-receipt";
  REQUIRE(message.size() == kContext.size() + 16 + 32 + 8 + 4);
  CHECK(std::string_view(reinterpret_cast<const char*>(message.data()), kContext.size()) == kContext);
  CHECK(Bytes(message.begin() + 29, message.begin() + 45) == Bytes(kBroadcastId.begin(), kBroadcastId.end()));
  CHECK(Bytes(message.begin() + 45, message.begin() + 77) == Bytes(hash.begin(), hash.end()));
  CHECK(Bytes(message.begin() + 77, message.end()) == Bytes{1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d});
  // Each input changes the message.
  CHECK(SubmissionReceiptMessage(kBroadcastId, hash, 0x0102030405060708ull, 0x0a0b0c0eu) != message);
  CHECK(SubmissionReceiptMessage(kBroadcastId, hash, 0x0102030405060709ull, 0x0a0b0c0du) != message);
}

TEST_CASE("SEND_BROADCAST is a known frame type", "[wire][broadcast]") {
  CHECK(static_cast<uint8_t>(FrameType::kSendBroadcast) == 0x0D);
  CHECK(IsKnownType(static_cast<uint8_t>(FrameType::kSendBroadcast)));
  CHECK(IsKnownType(static_cast<uint8_t>(FrameType::kSendBroadcast) | kReplyBit));
}

TEST_CASE("SendBroadcastRequest and SendBroadcastReply round-trip with one encoding", "[wire][broadcast][codec]") {
  const SendBroadcastRequest request = SampleBroadcast();
  auto encoded = Encode(request);
  REQUIRE(encoded.ok());
  auto decoded = Decode<SendBroadcastRequest>(*encoded);
  REQUIRE(decoded.ok());
  CHECK(decoded->broadcast_id == request.broadcast_id);
  CHECK(decoded->expires_at == request.expires_at);
  CHECK(decoded->body == request.body);
  REQUIRE(decoded->copies.size() == request.copies.size());
  for (size_t i = 0; i < request.copies.size(); ++i) {
    CHECK(decoded->copies[i].recipient == request.copies[i].recipient);
    CHECK(decoded->copies[i].message_id == request.copies[i].message_id);
    CHECK(decoded->copies[i].envelope == request.copies[i].envelope);
  }
  CHECK(*Encode(*decoded) == *encoded);
  // The request starts as RequestHead() describes, which the hostile cases below rely on.
  const Bytes head = RequestHead();
  CHECK(Bytes(encoded->begin(), encoded->begin() + static_cast<std::ptrdiff_t>(head.size())) == head);

  SendBroadcastReply reply;
  reply.statuses = {200, 208, 301, 403, 404, 410};
  reply.stored_at = 1'800'000'000'123'456;
  for (size_t i = 0; i < reply.relay_signing_key.size(); ++i) reply.relay_signing_key[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < reply.signature.size(); ++i) reply.signature[i] = static_cast<uint8_t>(0xff - i);
  auto reply_bytes = Encode(reply);
  REQUIRE(reply_bytes.ok());
  CHECK(reply_bytes->size() == 1 + 8 + 2 * 6 + 8 + 32 + 64);
  auto reply_back = Decode<SendBroadcastReply>(*reply_bytes);
  REQUIRE(reply_back.ok());
  CHECK(reply_back->statuses == reply.statuses);
  CHECK(reply_back->stored_at == reply.stored_at);
  CHECK(reply_back->relay_signing_key == reply.relay_signing_key);
  CHECK(reply_back->signature == reply.signature);
  CHECK(*Encode(*reply_back) == *reply_bytes);
  for (size_t n = 0; n < reply_bytes->size(); ++n) {
    INFO("truncated to " << n);
    CHECK_FALSE(Decode<SendBroadcastReply>(ByteView(reply_bytes->data(), n)).ok());
  }
  Bytes trailing = *reply_bytes;
  trailing.push_back(0);
  CHECK(Decode<SendBroadcastReply>(trailing).status().code() == Code::kMalformed);
}

TEST_CASE("the broadcast limits are enforced by Encode and Decode", "[wire][broadcast][codec]") {
  SendBroadcastRequest at_limit = SampleBroadcast(1);
  at_limit.body = Pattern(kMaxBroadcastBodyBytes, 1);
  at_limit.copies[0].envelope = Pattern(kMaxBroadcastCopyBytes, 2);
  at_limit.copies[0].recipient = std::string(kMaxAddressBytes, 'r');
  REQUIRE(Encode(at_limit).ok());
  CHECK(Decode<SendBroadcastRequest>(*Encode(at_limit)).ok());

  SendBroadcastRequest over = at_limit;
  over.body.push_back(0);
  CHECK(Encode(over).status().code() == Code::kInvalidArgument);
  over = at_limit;
  over.copies[0].envelope.push_back(0);
  CHECK(Encode(over).status().code() == Code::kInvalidArgument);

  // kMaxBroadcastCopies copies decode; one more is refused, with all its bytes present.
  SendBroadcastRequest many = SampleBroadcast(kMaxBroadcastCopies);
  for (auto& c : many.copies) c.envelope = Bytes(1, 0xee);
  auto encoded_many = Encode(many);
  REQUIRE(encoded_many.ok());
  auto decoded_many = Decode<SendBroadcastRequest>(*encoded_many);
  REQUIRE(decoded_many.ok());
  CHECK(decoded_many->copies.size() == kMaxBroadcastCopies);
  many.copies.push_back(many.copies.back());
  CHECK(Encode(many).status().code() == Code::kInvalidArgument);
  {
    // The over-long list, written by hand: the count prefix says 1025 and 1025 copies follow.
    Bytes body = RequestHead();
    AppendLe64(body, many.body.size());
    body.insert(body.end(), many.body.begin(), many.body.end());
    AppendLe64(body, many.copies.size());
    for (const auto& c : many.copies) {
      BroadcastCopy copy = c;
      SendBroadcastRequest one;
      one.copies = {copy};
      const Bytes single = *Encode(one);
      // single = head(25) | body len(8) | copies count(8) | the copy
      body.insert(body.end(), single.begin() + 1 + 16 + 8 + 8 + 8, single.end());
    }
    CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
  }

  SendBroadcastReply reply;
  reply.statuses.assign(kMaxBroadcastCopies, 200);
  REQUIRE(Encode(reply).ok());
  CHECK(Decode<SendBroadcastReply>(*Encode(reply)).ok());
  reply.statuses.push_back(200);
  CHECK(Encode(reply).status().code() == Code::kInvalidArgument);
}

TEST_CASE("broadcast length prefixes claiming 2^31, 2^32 or 2^40 are refused before allocation",
          "[wire][broadcast][hostile]") {
  // The probe sees an honest decode's allocations: a 30 KiB body is allocated whole.
  {
    SendBroadcastRequest request = SampleBroadcast(1);
    request.body = Pattern(30000, 4);
    const Bytes encoded = *Encode(request);
    AllocationProbe probe;
    REQUIRE(Decode<SendBroadcastRequest>(encoded).ok());
    CHECK(probe.largest() >= 30000);
  }

  const Bytes valid = *Encode(SampleBroadcast(2));
  for (uint64_t claimed : {1ull << 31, 1ull << 32, 1ull << 40, 1ull << 63, ~0ull}) {
    INFO("claimed " << claimed);
    {
      Bytes body = RequestHead();  // the body claims `claimed` bytes
      AppendLe64(body, claimed);
      body.insert(body.end(), 64, 0xbb);
      CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
    }
    {
      Bytes body = RequestHead();  // a small body, then `claimed` copies
      AppendLe64(body, 3);
      body.insert(body.end(), {1, 2, 3});
      AppendLe64(body, claimed);
      body.insert(body.end(), 64, 0xcc);
      CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
    }
    {
      Bytes body = RequestHead();  // one copy whose recipient claims `claimed` bytes
      AppendLe64(body, 3);
      body.insert(body.end(), {1, 2, 3});
      AppendLe64(body, 1);
      AppendLe64(body, claimed);
      body.insert(body.end(), 64, 'r');
      CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
    }
    {
      Bytes body = RequestHead();  // one copy whose envelope claims `claimed` bytes
      AppendLe64(body, 3);
      body.insert(body.end(), {1, 2, 3});
      AppendLe64(body, 1);
      AppendLe64(body, 3);
      body.insert(body.end(), {'b', '/', '1'});
      body.insert(body.end(), 16, 0x01);
      AppendLe64(body, claimed);
      body.insert(body.end(), 64, 0xee);
      CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
    }
    {
      Bytes body{0x01};  // a reply whose status list claims `claimed` entries
      AppendLe64(body, claimed);
      body.insert(body.end(), 8 + 32 + 64, 0);
      CHECK(DecodeRefused<SendBroadcastReply>(body) == Code::kTooLarge);
    }
  }
  // Within the limits but beyond the bytes present: the count of copies, and the body length.
  {
    Bytes body = RequestHead();
    AppendLe64(body, 3);
    body.insert(body.end(), {1, 2, 3});
    AppendLe64(body, kMaxBroadcastCopies);
    body.insert(body.end(), 100, 0xcc);
    CHECK(DecodeRefused<SendBroadcastRequest>(body) == Code::kTooLarge);
    Bytes short_body = RequestHead();
    AppendLe64(short_body, kMaxBroadcastBodyBytes);
    short_body.insert(short_body.end(), 100, 0xbb);
    CHECK(DecodeRefused<SendBroadcastRequest>(short_body) == Code::kTooLarge);
  }
  // Every truncation of a valid request is refused.
  for (size_t n = 0; n < valid.size(); ++n) {
    auto decoded = Decode<SendBroadcastRequest>(ByteView(valid.data(), n));
    INFO("length " << n);
    REQUIRE_FALSE(decoded.ok());
    const Code code = decoded.status().code();
    CHECK((code == Code::kMalformed || code == Code::kTooLarge));
  }
}
