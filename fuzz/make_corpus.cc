// Writes the seed corpus of the fuzz targets (not run by CI; its output is committed).
//
//   liaison-make-corpus fuzz/corpus
//
// creates fuzz/corpus/{frame,body,envelope,store}/ and (over)writes one file per seed, named after
// what it holds. Files already there under other names are left alone. Valid inputs of every kind
// come from the project's own encoders; hostile ones are built by hand: cereal length prefixes of
// 2^31, 2^32, 2^40, 2^63 and 2^64-1 (reliability.md C1, T11), endianness bytes 0x00, 0x02 and
// 0xFF (C3), frame lengths over the limit or disagreeing with the bytes present, truncations and
// trailing bytes. Envelopes are sealed with fresh randomness, so regenerating changes their bytes
// but not what they exercise.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "client/src/key_bundle.h"
#include "crypto/envelope.h"
#include "crypto/sign.h"
#include "fuzz/envelope_fixture.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/store_actions.h"
#include "fuzz/wire_body.h"
#include "roster/roster.h"
#include "wire/broadcast.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/messages.h"

namespace {

using namespace liaison;
using fuzz::BodyKind;
namespace fs = std::filesystem;

fs::path g_out;
size_t g_files = 0;

void Write(const std::string& target, const std::string& name, ByteView bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good(), "writing " + (dir / name).string());
  ++g_files;
}

template <class T>
Bytes Enc(const T& value) {
  auto encoded = wire::Encode(value);
  FUZZ_CHECK(encoded.ok(), encoded.status().ToString());
  return std::move(encoded).value();
}

void AppendLe64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes Cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

wire::MessageId SampleId() { return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; }

wire::SendBroadcastRequest SampleBroadcast() {
  wire::SendBroadcastRequest request;
  request.broadcast_id = SampleId();
  request.expires_at = 1'800'000'000'000'000;
  request.body = Bytes(200, 0x6b);
  uint8_t n = 0;
  for (const char* recipient : {"bob/phone", "carol/laptop", "desk-dresden/1"}) {
    wire::BroadcastCopy copy;
    copy.recipient = recipient;
    copy.message_id = SampleId();
    copy.message_id[15] = ++n;
    copy.envelope = Bytes(64, static_cast<uint8_t>(0x70 + n));
    request.copies.push_back(copy);
  }
  return request;
}

// The encoded SendBroadcastRequest up to its body's length prefix.
Bytes BroadcastHead() {
  Bytes head{1};
  const auto id = SampleId();
  head.insert(head.end(), id.begin(), id.end());
  AppendLe64(head, 1'800'000'000'000'000);
  return head;
}

struct NamedBody {
  std::string name;
  BodyKind kind;
  Bytes body;
};

// One valid body of every kind.
std::vector<NamedBody> ValidBodies() {
  std::vector<NamedBody> out;
  out.push_back({"empty", BodyKind::kEmpty, Enc(wire::Empty{})});
  out.push_back({"error-body", BodyKind::kErrorBody, Enc(wire::ErrorBody{"mailbox full"})});
  wire::SendRequest send;
  send.recipient = "bob/phone";
  send.message_id = SampleId();
  send.expires_at = 1'800'000'000'000'000;
  send.envelope = Bytes(40, 0xab);
  out.push_back({"send-request", BodyKind::kSendRequest, Enc(send)});
  out.push_back({"fetch-request", BodyKind::kFetchRequest, Enc(wire::FetchRequest{7, 16})});
  wire::Deliveries deliveries;
  deliveries.items.push_back({7, SampleId(), 1'800'000'000'000'000, 1'800'000'360'000'000, Bytes(20, 0x11)});
  deliveries.items.push_back({9, SampleId(), 1'800'000'000'000'001, 1'800'000'360'000'001, Bytes{}});
  deliveries.more = 1;
  out.push_back({"deliveries", BodyKind::kDeliveries, Enc(deliveries)});
  out.push_back({"deliveries-empty", BodyKind::kDeliveries, Enc(wire::Deliveries{})});
  out.push_back({"ack-request", BodyKind::kAckRequest, Enc(wire::AckRequest{{7, 9, 9}})});
  out.push_back({"ack-reply", BodyKind::kAckReply, Enc(wire::AckReply{2})});
  out.push_back({"publish-keys-request", BodyKind::kPublishKeysRequest,
                 Enc(wire::PublishKeysRequest{Bytes(client::kKeyBundleV1Bytes, 0x22)})});
  out.push_back({"get-keys-request", BodyKind::kGetKeysRequest, Enc(wire::GetKeysRequest{"alice/laptop"})});
  out.push_back({"get-keys-reply", BodyKind::kGetKeysReply,
                 Enc(wire::GetKeysReply{"alice/laptop", Bytes(client::kKeyBundleV1Bytes, 0x33)})});
  wire::PublishPrekeysRequest publish;
  publish.signed_prekey = Bytes(100, 0x44);
  publish.one_time_prekeys = {{Bytes(36, 0x55)}, {Bytes(36, 0x56)}};
  out.push_back({"publish-prekeys-request", BodyKind::kPublishPrekeysRequest, Enc(publish)});
  out.push_back({"prekey-count", BodyKind::kPrekeyCount, Enc(wire::PrekeyCount{98})});
  out.push_back({"claim-prekeys-request", BodyKind::kClaimPrekeysRequest, Enc(wire::ClaimPrekeysRequest{"bob/phone"})});
  out.push_back({"claim-prekeys-reply", BodyKind::kClaimPrekeysReply,
                 Enc(wire::ClaimPrekeysReply{"bob/phone", Bytes(client::kKeyBundleV1Bytes, 0x33), Bytes(100, 0x44),
                                             Bytes(36, 0x55)})});
  out.push_back({"list-devices-request", BodyKind::kListDevicesRequest, Enc(wire::ListDevicesRequest{"bob"})});
  out.push_back({"list-devices-reply", BodyKind::kListDevicesReply,
                 Enc(wire::ListDevicesReply{{{"bob/laptop"}, {"bob/phone"}}})});
  // A roster epoch with two members, signed by a fixed key (roster/roster.h).
  roster::Epoch epoch;
  epoch.number = 2;
  epoch.previous_hash.fill(0x5a);
  epoch.issued_at = 1'800'000'000'000'000;
  for (const char* id : {"association-a", "desk-dresden"}) {
    roster::Member member;
    member.id = id;
    member.display_name = std::string("Name of ") + id;
    member.organisation = "Verein";
    member.role = static_cast<uint8_t>(member.id[0] == 'a' ? roster::Role::kAssociationContact : roster::Role::kDesk);
    member.areas = {{"city:dresden"}};
    roster::Device device;
    device.id = "1";
    device.signing_key.fill(static_cast<uint8_t>(member.id.size()));
    device.dh_key.fill(0x21);
    device.transport_key.fill(static_cast<uint8_t>(member.id[0]));
    member.devices.push_back(device);
    epoch.members.push_back(member);
  }
  const Bytes epoch_body = Enc(epoch);
  out.push_back({"roster-epoch", BodyKind::kRosterEpoch, epoch_body});
  roster::SignedEpochWire signed_epoch{epoch_body, {}};
  signed_epoch.signature.fill(0x77);
  const Bytes signed_bytes = Enc(signed_epoch);
  out.push_back({"signed-roster-epoch", BodyKind::kSignedRosterEpoch, signed_bytes});
  out.push_back({"publish-roster-request", BodyKind::kPublishRosterRequest, Enc(wire::PublishRosterRequest{signed_bytes})});
  out.push_back({"roster-number", BodyKind::kRosterNumber, Enc(wire::RosterNumber{2})});
  out.push_back({"get-roster-request", BodyKind::kGetRosterRequest, Enc(wire::GetRosterRequest{0})});
  out.push_back({"get-roster-reply", BodyKind::kGetRosterReply, Enc(wire::GetRosterReply{2, signed_bytes})});
  out.push_back({"send-broadcast-request", BodyKind::kSendBroadcastRequest, Enc(SampleBroadcast())});
  wire::SendBroadcastReply broadcast_reply;
  broadcast_reply.statuses = {200, 208, 301, 403, 404, 410};
  broadcast_reply.stored_at = 1'800'000'000'000'000;
  broadcast_reply.relay_signing_key.fill(0x2a);
  broadcast_reply.signature.fill(0x3b);
  out.push_back({"send-broadcast-reply", BodyKind::kSendBroadcastReply, Enc(broadcast_reply)});
  wire::SendManyRequest many;
  many.items = {send, send};
  many.items[1].recipient = "carol/laptop";
  many.items[1].message_id[15] ^= 1;
  out.push_back({"send-many-request", BodyKind::kSendManyRequest, Enc(many)});
  out.push_back({"send-many-reply", BodyKind::kSendManyReply, Enc(wire::SendManyReply{{200, 208, 404}})});
  return out;
}

// Bodies that must be refused, each with the kind it is decoded as.
std::vector<NamedBody> HostileBodies() {
  std::vector<NamedBody> out;
  const std::pair<const char*, uint64_t> lengths[] = {
      {"2^31", 1ull << 31}, {"2^32", 1ull << 32}, {"2^40", 1ull << 40}, {"2^63", 1ull << 63}, {"2^64-1", ~0ull}};
  for (const auto& [label, length] : lengths) {
    Bytes recipient{1};  // SendRequest whose recipient claims `length` bytes
    AppendLe64(recipient, length);
    recipient.insert(recipient.end(), {'b', 'o', 'b'});
    out.push_back({std::string("send-recipient-len-") + label, BodyKind::kSendRequest, recipient});
  }
  {
    Bytes envelope{1};  // SendRequest with a valid head and an envelope that claims 2^40 bytes
    AppendLe64(envelope, 3);
    envelope.insert(envelope.end(), {'b', 'o', 'b'});
    const auto id = SampleId();
    envelope.insert(envelope.end(), id.begin(), id.end());
    AppendLe64(envelope, 0);
    AppendLe64(envelope, 1ull << 40);
    envelope.push_back(0xee);
    out.push_back({"send-envelope-len-2^40", BodyKind::kSendRequest, envelope});
  }
  {
    Bytes items{1};
    AppendLe64(items, 1ull << 40);
    out.push_back({"deliveries-count-2^40", BodyKind::kDeliveries, items});
    Bytes seqs{1};
    AppendLe64(seqs, 1ull << 32);
    AppendLe64(seqs, 7);
    out.push_back({"ack-count-2^32", BodyKind::kAckRequest, seqs});
    Bytes reason{1};
    AppendLe64(reason, 1ull << 63);
    out.push_back({"error-reason-len-2^63", BodyKind::kErrorBody, reason});
    Bytes bundle{1};
    AppendLe64(bundle, 4097);
    out.push_back({"publish-keys-len-4097-absent", BodyKind::kPublishKeysRequest, bundle});
  }
  {
    wire::SendRequest send;
    send.recipient = "bob/phone";
    send.message_id = SampleId();
    send.envelope = Bytes(40, 0xab);
    const Bytes valid = Enc(send);
    for (uint8_t marker : {0x00, 0x02, 0xff}) {
      Bytes b = valid;
      b[0] = marker;
      char name[48];
      std::snprintf(name, sizeof name, "send-endianness-0x%02x", marker);
      out.push_back({name, BodyKind::kSendRequest, b});
    }
    for (size_t cut : {size_t{1}, size_t{5}, size_t{12}, size_t{30}, valid.size() - 1}) {
      out.push_back({"send-truncated-" + std::to_string(cut), BodyKind::kSendRequest,
                     Bytes(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(cut))});
    }
    Bytes trailing = valid;
    trailing.push_back(0);
    out.push_back({"send-trailing-byte", BodyKind::kSendRequest, trailing});
    // A recipient of 65 bytes, present in full: over kMaxAddressBytes.
    Bytes long_recipient{1};
    AppendLe64(long_recipient, 65);
    long_recipient.insert(long_recipient.end(), 65, 'r');
    long_recipient.insert(long_recipient.end(), 16 + 8 + 8, 0);
    out.push_back({"send-recipient-65-bytes", BodyKind::kSendRequest, long_recipient});
  }
  for (const auto& [label, length] : lengths) {
    Bytes body = BroadcastHead();  // the broadcast body claims `length` bytes
    AppendLe64(body, length);
    body.insert(body.end(), 16, 0x6b);
    out.push_back({std::string("broadcast-body-len-") + label, BodyKind::kSendBroadcastRequest, body});
    Bytes copies = BroadcastHead();  // a small body, then `length` copies
    AppendLe64(copies, 2);
    copies.insert(copies.end(), {0x6b, 0x6b});
    AppendLe64(copies, length);
    copies.insert(copies.end(), 40, 0);
    out.push_back({std::string("broadcast-copies-count-") + label, BodyKind::kSendBroadcastRequest, copies});
    Bytes statuses{1};  // a reply whose status list claims `length` entries
    AppendLe64(statuses, length);
    statuses.insert(statuses.end(), 8 + 32 + 64, 0);
    out.push_back({std::string("broadcast-reply-statuses-count-") + label, BodyKind::kSendBroadcastReply, statuses});
    Bytes items{1};  // a SEND_MANY whose item list claims `length` items
    AppendLe64(items, length);
    items.insert(items.end(), 40, 0);
    out.push_back({std::string("send-many-items-count-") + label, BodyKind::kSendManyRequest, items});
  }
  {
    // One copy whose envelope claims 2^40 bytes, and one whose envelope of 1025 bytes (over
    // kMaxBroadcastCopyBytes) is present in full.
    Bytes head = BroadcastHead();
    AppendLe64(head, 2);
    head.insert(head.end(), {0x6b, 0x6b});
    AppendLe64(head, 1);
    AppendLe64(head, 9);
    head.insert(head.end(), {'b', 'o', 'b', '/', 'p', 'h', 'o', 'n', 'e'});
    const auto id = SampleId();
    head.insert(head.end(), id.begin(), id.end());
    Bytes claimed = head;
    AppendLe64(claimed, 1ull << 40);
    claimed.insert(claimed.end(), 16, 0xee);
    out.push_back({"broadcast-copy-envelope-len-2^40", BodyKind::kSendBroadcastRequest, claimed});
    Bytes present = head;
    AppendLe64(present, wire::kMaxBroadcastCopyBytes + 1);
    present.insert(present.end(), wire::kMaxBroadcastCopyBytes + 1, 0xee);
    out.push_back({"broadcast-copy-envelope-1025-bytes", BodyKind::kSendBroadcastRequest, present});
    const Bytes valid = Enc(SampleBroadcast());
    out.push_back({"broadcast-truncated", BodyKind::kSendBroadcastRequest, Bytes(valid.begin(), valid.end() - 1)});
  }
  out.push_back({"empty-endianness-0x00", BodyKind::kEmpty, Bytes{0, 0}});
  out.push_back({"empty-no-bytes", BodyKind::kEmpty, Bytes{}});
  return out;
}

Bytes Frame(uint8_t type, uint16_t status, ByteView body, uint64_t request_id = 42) {
  wire::FrameHeader header;
  header.type = type;
  header.status = status;
  header.request_id = request_id;
  return wire::EncodeFrame(header, body);
}

uint8_t Reply(wire::FrameType t) { return static_cast<uint8_t>(t) | wire::kReplyBit; }
uint8_t Req(wire::FrameType t) { return static_cast<uint8_t>(t); }

void FrameCorpus() {
  using wire::FrameType;
  using wire::WireStatus;
  const auto bodies = ValidBodies();
  auto body = [&](const std::string& name) -> const Bytes& {
    for (const auto& b : bodies) {
      if (b.name == name) return b.body;
    }
    fuzz::Fail(__FILE__, __LINE__, "no such body", name);
  };
  const auto ok = static_cast<uint16_t>(WireStatus::kOk);
  Write("frame", "hello", Frame(Req(FrameType::kHello), 0, body("empty")));
  Write("frame", "send", Frame(Req(FrameType::kSend), 0, body("send-request")));
  Write("frame", "fetch", Frame(Req(FrameType::kFetch), 0, body("fetch-request")));
  Write("frame", "ack", Frame(Req(FrameType::kAck), 0, body("ack-request")));
  Write("frame", "publish-keys", Frame(Req(FrameType::kPublishKeys), 0, body("publish-keys-request")));
  Write("frame", "get-keys", Frame(Req(FrameType::kGetKeys), 0, body("get-keys-request")));
  Write("frame", "ping", Frame(Req(FrameType::kPing), 0, body("empty")));
  Write("frame", "deliver-push", Frame(Req(FrameType::kDeliver), 0, body("deliveries"), 0));
  Write("frame", "reply-hello", Frame(Reply(FrameType::kHello), ok, body("empty")));
  Write("frame", "reply-send", Frame(Reply(FrameType::kSend), ok, body("empty")));
  Write("frame", "reply-send-stored-before",
        Frame(Reply(FrameType::kSend), static_cast<uint16_t>(WireStatus::kStoredBefore), body("empty")));
  Write("frame", "reply-send-mailbox-full",
        Frame(Reply(FrameType::kSend), static_cast<uint16_t>(WireStatus::kMailboxFull), body("error-body")));
  Write("frame", "reply-fetch", Frame(Reply(FrameType::kFetch), ok, body("deliveries")));
  Write("frame", "reply-fetch-empty", Frame(Reply(FrameType::kFetch), ok, body("deliveries-empty")));
  Write("frame", "reply-ack", Frame(Reply(FrameType::kAck), ok, body("ack-reply")));
  Write("frame", "reply-publish-keys", Frame(Reply(FrameType::kPublishKeys), ok, body("empty")));
  Write("frame", "reply-get-keys", Frame(Reply(FrameType::kGetKeys), ok, body("get-keys-reply")));
  Write("frame", "reply-ping", Frame(Reply(FrameType::kPing), ok, body("empty")));
  Write("frame", "publish-roster", Frame(Req(FrameType::kPublishRoster), 0, body("publish-roster-request")));
  Write("frame", "reply-publish-roster", Frame(Reply(FrameType::kPublishRoster), ok, body("roster-number")));
  Write("frame", "get-roster", Frame(Req(FrameType::kGetRoster), 0, body("get-roster-request")));
  Write("frame", "reply-get-roster", Frame(Reply(FrameType::kGetRoster), ok, body("get-roster-reply")));
  Write("frame", "send-broadcast", Frame(Req(FrameType::kSendBroadcast), 0, body("send-broadcast-request")));
  Write("frame", "reply-send-broadcast", Frame(Reply(FrameType::kSendBroadcast), ok, body("send-broadcast-reply")));
  Write("frame", "reply-send-broadcast-store-full",
        Frame(Reply(FrameType::kSendBroadcast), static_cast<uint16_t>(WireStatus::kStoreFull), body("error-body")));
  Write("frame", "send-many", Frame(Req(FrameType::kSendMany), 0, body("send-many-request")));
  Write("frame", "reply-send-many", Frame(Reply(FrameType::kSendMany), ok, body("send-many-reply")));
  Write("frame", "reply-error-malformed",
        Frame(Reply(FrameType::kError), static_cast<uint16_t>(WireStatus::kMalformed), body("error-body")));

  // Hostile headers.
  const Bytes hello = Frame(Req(FrameType::kHello), 0, body("empty"));
  auto with_length = [&](uint32_t length) {
    Bytes f(hello.begin(), hello.begin() + wire::kFrameHeaderBytes);
    f[14] = static_cast<uint8_t>(length >> 24);
    f[15] = static_cast<uint8_t>(length >> 16);
    f[16] = static_cast<uint8_t>(length >> 8);
    f[17] = static_cast<uint8_t>(length);
    return f;
  };
  Write("frame", "length-2^31", with_length(0x80000000u));
  Write("frame", "length-2^32-1", with_length(0xffffffffu));
  Write("frame", "length-max-body-plus-1", with_length(static_cast<uint32_t>(wire::kMaxBodyBytes + 1)));
  {
    Bytes f = hello;
    f[17] += 1;  // claims one byte more than present
    Write("frame", "length-one-more", f);
    f = hello;
    f.push_back(0);  // one byte more than claimed
    Write("frame", "length-one-less", f);
  }
  Write("frame", "short-0", Bytes{});
  Write("frame", "short-1", Bytes{'L'});
  Write("frame", "short-17", Bytes(hello.begin(), hello.begin() + 17));
  {
    Bytes f = hello;
    f[1] = 'Y';
    Write("frame", "bad-magic", f);
    for (uint8_t version : {0, 2}) {
      f = hello;
      f[2] = version;
      Write("frame", "version-" + std::to_string(version), f);
    }
    for (uint8_t type : {0x00, 0x08, 0xc0, 0xff}) {
      f = hello;
      f[3] = type;
      char name[32];
      std::snprintf(name, sizeof name, "type-0x%02x", type);
      Write("frame", name, f);
    }
  }
  // Well-formed headers around hostile bodies.
  for (const auto& h : HostileBodies()) {
    uint8_t type = Req(FrameType::kSend);
    uint16_t status = 0;
    switch (h.kind) {
      case BodyKind::kDeliveries: type = Req(FrameType::kDeliver); break;
      case BodyKind::kAckRequest: type = Req(FrameType::kAck); break;
      case BodyKind::kErrorBody:
        type = Reply(FrameType::kError);
        status = static_cast<uint16_t>(WireStatus::kMalformed);
        break;
      case BodyKind::kPublishKeysRequest: type = Req(FrameType::kPublishKeys); break;
      case BodyKind::kEmpty: type = Req(FrameType::kPing); break;
      case BodyKind::kSendBroadcastRequest: type = Req(FrameType::kSendBroadcast); break;
      case BodyKind::kSendManyRequest: type = Req(FrameType::kSendMany); break;
      case BodyKind::kSendBroadcastReply:
        type = Reply(FrameType::kSendBroadcast);
        status = static_cast<uint16_t>(WireStatus::kOk);
        break;
      default: break;
    }
    Write("frame", "body-" + h.name, Frame(type, status, h.body));
  }
}

void BodyCorpus() {
  for (const auto& b : ValidBodies()) {
    Write("body", b.name, Cat({Bytes{static_cast<uint8_t>(b.kind)}, b.body}));
  }
  for (const auto& h : HostileBodies()) {
    Write("body", h.name, Cat({Bytes{static_cast<uint8_t>(h.kind)}, h.body}));
  }
}

Bytes Inner(std::string_view sender, ByteView plaintext, bool good_signature) {
  Bytes inner{static_cast<uint8_t>(sender.size())};
  inner.insert(inner.end(), sender.begin(), sender.end());
  const auto n = static_cast<uint32_t>(plaintext.size());
  inner.insert(inner.end(), {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
  inner.insert(inner.end(), plaintext.begin(), plaintext.end());
  crypto::Signature sig =
      crypto::SignDetached(fuzz::SenderSigningKeys().secret_key, fuzz::InnerSignedData(sender, plaintext));
  if (!good_signature) sig[5] ^= 0x01;
  inner.insert(inner.end(), sig.begin(), sig.end());
  return inner;
}

void EnvelopeCorpus() {
  auto seal = [](std::string_view sender, std::string_view plaintext, const crypto::MessageId& id) {
    crypto::SealInput in{sender, &fuzz::SenderSigningKeys().secret_key, fuzz::kRecipientAddress,
                         fuzz::RecipientKeys().public_key, id, AsBytes(plaintext)};
    auto sealed = crypto::SealEnvelope(in);
    FUZZ_CHECK(sealed.ok(), sealed.status().ToString());
    return std::move(sealed).value();
  };
  const Bytes valid = seal(fuzz::kSenderAddress, "hello bob, see you at the meeting", fuzz::kFixtureMessageId);
  Write("envelope", "envelope-valid", valid);
  Write("envelope", "envelope-valid-empty-plaintext", seal(fuzz::kSenderAddress, "", fuzz::kFixtureMessageId));
  Write("envelope", "envelope-unknown-sender", seal("mallory/x", "hi", fuzz::kFixtureMessageId));
  crypto::MessageId other = fuzz::kFixtureMessageId;
  other[0] ^= 1;
  Write("envelope", "envelope-other-message-id", seal(fuzz::kSenderAddress, "hi", other));
  Write("envelope", "envelope-truncated", Bytes(valid.begin(), valid.end() - 1));
  Write("envelope", "envelope-min-size-minus-1", Bytes(valid.begin(), valid.begin() + crypto::kMinEnvelopeV1Bytes - 1));
  {
    Bytes v2 = valid;
    v2[0] = 2;
    Write("envelope", "envelope-version-2", v2);
    Bytes flipped = valid;
    flipped.back() ^= 0x80;
    Write("envelope", "envelope-bad-tag", flipped);
  }
  Write("envelope", "empty", Bytes{});

  // Broadcast deliveries (wire/broadcast.h): a sealed envelope as the copy, with a body.
  {
    const Bytes body(300, 0x6b);
    const Bytes delivery = wire::ComposeBroadcastDelivery(valid, body);
    Write("envelope", "broadcast-delivery-valid", delivery);
    Write("envelope", "broadcast-delivery-one-byte-body", wire::ComposeBroadcastDelivery(valid, Bytes{0x6b}));
    auto with_copy_length = [&](uint32_t n) {
      Bytes b = delivery;
      b[1] = static_cast<uint8_t>(n >> 24);
      b[2] = static_cast<uint8_t>(n >> 16);
      b[3] = static_cast<uint8_t>(n >> 8);
      b[4] = static_cast<uint8_t>(n);
      return b;
    };
    Write("envelope", "broadcast-delivery-copy-len-0", with_copy_length(0));
    Write("envelope", "broadcast-delivery-copy-len-1025", with_copy_length(wire::kMaxBroadcastCopyBytes + 1));
    Write("envelope", "broadcast-delivery-copy-len-2^31", with_copy_length(0x80000000u));
    Write("envelope", "broadcast-delivery-no-body",
          with_copy_length(static_cast<uint32_t>(delivery.size() - wire::kBroadcastDeliveryHeadBytes)));
    Write("envelope", "broadcast-delivery-head-only",
          Bytes(delivery.begin(), delivery.begin() + wire::kBroadcastDeliveryHeadBytes));
  }

  // Inputs for the sealed-inner path (the fuzzer encrypts them itself).
  Write("envelope", "inner-valid", Inner(fuzz::kSenderAddress, AsBytes("hello bob"), true));
  Write("envelope", "inner-valid-empty-plaintext", Inner(fuzz::kSenderAddress, {}, true));
  Write("envelope", "inner-bad-signature", Inner(fuzz::kSenderAddress, AsBytes("hello bob"), false));
  Write("envelope", "inner-unknown-sender", Inner("mallory/x", AsBytes("hello bob"), true));
  {
    const Bytes good = Inner(fuzz::kSenderAddress, AsBytes("hello bob"), true);
    const size_t length_at = 1 + fuzz::kSenderAddress.size();
    for (uint32_t n : {0x80000000u, 0xffffffffu, 65537u, 10u, 8u}) {
      Bytes b = good;
      b[length_at] = static_cast<uint8_t>(n >> 24);
      b[length_at + 1] = static_cast<uint8_t>(n >> 16);
      b[length_at + 2] = static_cast<uint8_t>(n >> 8);
      b[length_at + 3] = static_cast<uint8_t>(n);
      Write("envelope", "inner-plaintext-len-" + std::to_string(n), b);
    }
    Bytes zero_sender = good;
    zero_sender[0] = 0;
    Write("envelope", "inner-sender-len-0", zero_sender);
    Bytes long_sender = good;
    long_sender[0] = 65;
    Write("envelope", "inner-sender-len-65", long_sender);
    Bytes trailing = good;
    trailing.push_back(0);
    Write("envelope", "inner-trailing-byte", trailing);
  }

  // Key bundles, checked for the address kSenderAddress.
  const Bytes bundle = client::EncodeKeyBundle(fuzz::kSenderAddress, fuzz::SenderSigningKeys(),
                                               fuzz::RecipientKeys().public_key);
  Write("envelope", "bundle-valid", bundle);
  Write("envelope", "bundle-other-address",
        client::EncodeKeyBundle("bob/phone", fuzz::SenderSigningKeys(), fuzz::RecipientKeys().public_key));
  {
    Bytes b = bundle;
    b[100] ^= 0x04;
    Write("envelope", "bundle-bad-signature", b);
    b = bundle;
    b[0] = 2;
    Write("envelope", "bundle-version-2", b);
    Write("envelope", "bundle-short", Bytes(bundle.begin(), bundle.end() - 1));
  }
}

// Builds store_fuzzer programs (fuzz/store_actions.h).
class Program {
 public:
  explicit Program(uint64_t seed) { AppendLe64(bytes_, seed); }
  Program& Put(uint8_t mailbox, uint8_t id, fuzz::ExpiryChoice expiry, size_t size) {
    Op(fuzz::StoreOp::kPut);
    bytes_.insert(bytes_.end(), {mailbox, id, static_cast<uint8_t>(expiry), SizeIndex(size)});
    return *this;
  }
  Program& Ack(uint8_t mailbox, std::initializer_list<std::pair<fuzz::AckSeqChoice, uint8_t>> seqs) {
    Op(fuzz::StoreOp::kAck);
    bytes_.insert(bytes_.end(), {mailbox, static_cast<uint8_t>(seqs.size() - 1)});
    for (const auto& [kind, pick] : seqs) bytes_.insert(bytes_.end(), {static_cast<uint8_t>(kind), pick});
    return *this;
  }
  Program& Commit() { return Op(fuzz::StoreOp::kCommit); }
  Program& Abort() { return Op(fuzz::StoreOp::kAbort); }
  Program& Fetch(uint8_t mailbox, fuzz::AfterChoice after, uint8_t pick, uint8_t max_items_index,
                 uint8_t max_bytes_index) {
    Op(fuzz::StoreOp::kFetch);
    bytes_.insert(bytes_.end(), {mailbox, static_cast<uint8_t>(after), pick, max_items_index, max_bytes_index});
    return *this;
  }
  Program& Advance(uint8_t step_index) {
    Op(fuzz::StoreOp::kAdvanceClock);
    bytes_.push_back(step_index);
    return *this;
  }
  Program& Sweep(uint8_t max_index) {
    Op(fuzz::StoreOp::kSweep);
    bytes_.push_back(max_index);
    return *this;
  }
  Program& Reopen() { return Op(fuzz::StoreOp::kReopen); }
  Program& Release() { return Op(fuzz::StoreOp::kReleaseFreedPages); }
  Program& KeyBundle(uint8_t mailbox, uint8_t size_index) {
    Op(fuzz::StoreOp::kPutKeyBundle);
    bytes_.insert(bytes_.end(), {mailbox, size_index});
    return *this;
  }
  Program& Drain() { return Op(fuzz::StoreOp::kDrain); }
  // The byte a write refused with kStoreFull reads: whether to commit its batch anyway.
  Program& AfterStoreFull(bool commit_anyway) {
    bytes_.push_back(commit_anyway ? 1 : 0);
    return *this;
  }
  // targets: bits 0..3 mailbox choices 0..3 (fuzz/store_actions.h), kBroadcastRepeatFirst, ...
  Program& Broadcast(uint8_t targets, uint8_t id, fuzz::ExpiryChoice expiry, size_t copy_size, size_t body_size) {
    Op(fuzz::StoreOp::kPutBroadcast);
    bytes_.insert(bytes_.end(), {targets, id, static_cast<uint8_t>(expiry), Index(fuzz::kCopySizes, copy_size),
                                 Index(fuzz::kBodySizes, body_size)});
    return *this;
  }
  const Bytes& bytes() const { return bytes_; }

 private:
  Program& Op(fuzz::StoreOp op) {
    bytes_.push_back(static_cast<uint8_t>(op));
    return *this;
  }
  template <size_t N>
  static uint8_t Index(const std::array<size_t, N>& sizes, size_t size) {
    for (size_t i = 0; i < N; ++i) {
      if (sizes[i] == size) return static_cast<uint8_t>(i);
    }
    fuzz::Fail(__FILE__, __LINE__, "no such size", std::to_string(size));
  }
  static uint8_t SizeIndex(size_t size) {
    for (size_t i = 0; i < fuzz::kEnvelopeSizes.size(); ++i) {
      if (fuzz::kEnvelopeSizes[i] == size) return static_cast<uint8_t>(i);
    }
    fuzz::Fail(__FILE__, __LINE__, "no such envelope size", std::to_string(size));
  }
  Bytes bytes_;
};

void StoreCorpus() {
  using fuzz::AckSeqChoice;
  using fuzz::AfterChoice;
  using fuzz::ExpiryChoice;
  constexpr auto kDef = ExpiryChoice::kDefault;
  // Seeds: 0, 3, ... use config 0 (256 KiB map); 1, 4, ... config 1; 2, 5, ... config 2.
  Write("store", "put-fetch-ack-retry",
        Program(1)
            .Put(0, 0, kDef, 100).Put(0, 1, kDef, 16).Put(1, 0, kDef, 1).Commit()
            .Fetch(0, AfterChoice::kZero, 0, 3, 4)
            .Ack(0, {{AckSeqChoice::kPendingOfMailbox, 0}, {AckSeqChoice::kPendingOfMailbox, 0}}).Commit()
            .Put(0, 0, kDef, 100).Commit()  // retry after the ack: recognised, not redelivered
            .Fetch(0, AfterChoice::kZero, 0, 3, 4)
            .bytes());
  Write("store", "retry-in-one-batch",
        Program(4).Put(2, 3, kDef, 700).Put(2, 3, ExpiryChoice::kHour, 16).Commit().bytes());
  Write("store", "quota-count",
        Program(0)
            .Put(1, 0, kDef, 16).Put(1, 1, kDef, 16).Put(1, 2, kDef, 16).Put(1, 3, kDef, 16).Put(1, 4, kDef, 16)
            .Commit().Ack(1, {{AckSeqChoice::kPendingOfMailbox, 0}}).Put(1, 4, kDef, 16).Commit()
            .bytes());
  Write("store", "quota-bytes", Program(2).Put(0, 0, kDef, 3000).Put(0, 1, kDef, 20000).Put(0, 2, kDef, 3000).Commit().bytes());
  Write("store", "expire-and-sweep",
        Program(7)
            .Put(0, 0, ExpiryChoice::kSecond, 100).Put(0, 1, ExpiryChoice::kHour, 100).Put(1, 0, kDef, 1).Commit()
            .Advance(2).Fetch(0, AfterChoice::kZero, 0, 3, 4)  // the 1 s message is hidden
            .Put(0, 0, kDef, 16)                                // unswept: still a duplicate
            .Commit().Sweep(1).Put(0, 0, kDef, 16).Commit()     // swept: stored anew
            .Advance(6).Sweep(3).bytes());
  // Sweeps that stop early and go on (seed / 3 % 3 picks the records a sweep looks at, seed / 9
  // % 2 whether a pass must take at most two sweeps: seed 13 looks at 3 or half; seed 1 at 1;
  // seed 10 at 1 or half; all three use config 1): expired and live, pending and acknowledged
  // records of three mailboxes, swept in slices, across a reopen (which starts the walk again).
  Write("store", "sweep-in-slices",
        Program(13)
            .Put(0, 0, ExpiryChoice::kSecond, 16).Put(1, 0, ExpiryChoice::kHour, 16).Put(2, 0, ExpiryChoice::kSecond, 16)
            .Put(0, 1, ExpiryChoice::kSecond, 16).Put(1, 2, ExpiryChoice::kSecond, 16).Put(2, 3, kDef, 16).Commit()
            .Ack(0, {{AckSeqChoice::kPendingOfMailbox, 0}}).Commit()
            .Advance(2).Sweep(3).Sweep(1).Reopen().Sweep(3).Sweep(3).Advance(4).Sweep(3).Sweep(3).bytes());
  Write("store", "sweep-one-record-a-call",
        Program(1)
            .Put(0, 0, ExpiryChoice::kSecond, 16).Put(0, 1, ExpiryChoice::kHour, 16).Put(1, 2, ExpiryChoice::kSecond, 16)
            .Commit().Advance(2).Sweep(3).Sweep(3).Sweep(3).Sweep(3).Drain().bytes());
  Write("store", "sweep-half-the-records-a-call",
        Program(10)
            .Put(0, 0, ExpiryChoice::kSecond, 16).Put(0, 1, ExpiryChoice::kSecond, 16).Put(1, 2, ExpiryChoice::kHour, 16)
            .Put(2, 3, ExpiryChoice::kSecond, 16).Put(2, 4, ExpiryChoice::kSecond, 16).Commit()
            .Advance(2).Sweep(3).Sweep(3).Sweep(3).Advance(4).Sweep(3).bytes());
  // A sweep that stops at the table's last record (its one entry found there): the next starts
  // again at the beginning, where a record has expired since.
  Write("store", "sweep-stops-at-the-last-record",
        Program(13)
            .Put(0, 0, ExpiryChoice::kHour, 16).Put(0, 1, ExpiryChoice::kSecond, 16).Commit()
            .Advance(2).Sweep(1).Advance(4).Sweep(3).bytes());
  Write("store", "expiry-choices",
        Program(10)
            .Put(0, 0, ExpiryChoice::kPastByOne, 1).Put(0, 1, ExpiryChoice::kNow, 1)
            .Put(0, 2, ExpiryChoice::kNowPlusOne, 1).Put(0, 3, ExpiryChoice::kTwoDays, 1)
            .Put(0, 4, ExpiryChoice::kInt64Max, 1).Put(0, 5, ExpiryChoice::kInt64Min, 1).Commit()
            .Advance(1).Sweep(3).bytes());
  Write("store", "store-full-then-drain",
        Program(3)
            .Put(0, 0, kDef, 65000).Commit().Put(1, 0, kDef, 65000).Commit().Put(2, 0, kDef, 65000).Commit()
            .KeyBundle(0, 3).KeyBundle(1, 3).Commit().Put(0, 1, kDef, 700).Commit()
            .Drain().Put(1, 1, kDef, 20000).Commit().bytes());
  Write("store", "abort-and-reopen",
        Program(5)
            .Put(0, 0, kDef, 100).Commit().Put(0, 1, kDef, 100).Abort()
            .Put(1, 1, kDef, 100).Reopen()  // the uncommitted put is gone
            .Put(1, 1, kDef, 100).Commit().Reopen().Fetch(1, AfterChoice::kZero, 0, 3, 4)
            .bytes());
  Write("store", "fetch-pages",
        Program(8)
            .Put(2, 0, kDef, 100).Put(2, 1, kDef, 700).Put(2, 2, kDef, 1).Put(2, 3, kDef, 16).Commit()
            .Fetch(2, AfterChoice::kZero, 0, 0, 4).Fetch(2, AfterChoice::kZero, 0, 1, 1)
            .Fetch(2, AfterChoice::kStoredSeq, 1, 3, 2).Fetch(2, AfterChoice::kStoredSeqMinus1, 2, 3, 0)
            .Fetch(2, AfterChoice::kMaxSeq, 0, 3, 4)
            .bytes());
  Write("store", "bogus-acks",
        Program(11)
            .Put(0, 0, kDef, 16).Commit()
            .Ack(0, {{AckSeqChoice::kNotYetAssigned, 0}, {AckSeqChoice::kExtreme, 0}, {AckSeqChoice::kExtreme, 1}})
            .Ack(1, {{AckSeqChoice::kAnyStored, 0}})  // another mailbox's seq
            .Commit().Put(0, 1, kDef, 16).Commit()    // the seq acked before it existed
            .Ack(3, {{AckSeqChoice::kPendingOfMailbox, 0}})
            .bytes());
  Write("store", "bad-addresses",
        Program(6).Put(3, 0, kDef, 1).Put(7, 0, kDef, 1).KeyBundle(3, 1).Fetch(3, AfterChoice::kZero, 0, 0, 0).Commit().bytes());
  Write("store", "key-bundles-and-release",
        Program(9).KeyBundle(0, 2).KeyBundle(1, 0).Commit().KeyBundle(0, 1).Abort().Release().Reopen().bytes());
  // Found by the fuzzer: successful puts leave a 256 KiB map so full that acknowledging needs
  // ReleaseFreedPages() and a retry (deletes copy pages before they free any).
  Write("store", "ack-needs-release-on-full-map",
        Program(3)
            .Put(0, 0, kDef, 20000).Commit().Put(1, 0, kDef, 65000).Commit().Put(2, 0, kDef, 65000).Commit()
            .KeyBundle(0, 3).KeyBundle(1, 3).Commit().Put(0, 1, kDef, 700).Commit()
            .Drain().Put(1, 1, kDef, 20000).Commit().bytes());
  Write("store", "fetch-edge-cases",
        Program(13)
            .Put(1, 0, kDef, 100).Put(1, 1, ExpiryChoice::kSecond, 100).Put(1, 2, kDef, 100).Commit()
            .Fetch(1, AfterChoice::kUint64Max, 0, 3, 4).Fetch(1, AfterChoice::kUint64MaxMinus1, 0, 3, 4)
            .Fetch(1, AfterChoice::kZero, 0, 4, 4)  // max_items 0
            .Advance(2).Fetch(1, AfterChoice::kZero, 0, 0, 4).Fetch(1, AfterChoice::kZero, 0, 1, 4)
            .bytes());
  Write("store", "drain-roomy", Program(2).Put(0, 0, kDef, 700).Put(1, 1, kDef, 700).Commit().Drain().bytes());

  // Broadcasts: targets 0b0111 = the three mailboxes; kBroadcastRepeatFirst repeats the first.
  constexpr uint8_t kAll = 0b0111;
  const uint8_t kRepeat = fuzz::kBroadcastRepeatFirst;
  Write("store", "broadcast-fetch-ack-each",
        Program(1)
            .Broadcast(kAll, 1, kDef, 100, 3000).Commit()
            .Fetch(0, AfterChoice::kZero, 0, 3, 4).Fetch(2, AfterChoice::kZero, 0, 3, 2)
            .Ack(0, {{AckSeqChoice::kPendingOfMailbox, 0}}).Commit()
            .Ack(1, {{AckSeqChoice::kPendingOfMailbox, 0}}).Commit()  // the body stays for mailbox 2
            .Fetch(2, AfterChoice::kZero, 0, 3, 4)
            .Ack(2, {{AckSeqChoice::kPendingOfMailbox, 0}}).Commit()  // the last copy: the body goes
            .Broadcast(kAll, 1, kDef, 100, 3000).Commit()             // a retry: duplicates, no body
            .bytes());
  Write("store", "broadcast-partial-retry",
        Program(4)
            .Broadcast(0b0001, 2, kDef, 16, 100).Commit()
            .Broadcast(kAll | kRepeat, 2, kDef, 16, 100).Commit()  // two new copies, a second body
            .Put(1, 3, kDef, 16).Broadcast(0b0010, 3, kDef, 16, 100)  // a copy that dedups against a put
            .Commit().Drain().bytes());
  Write("store", "broadcast-refusals",
        Program(2)  // config 2: 3 messages, 16 KiB per mailbox
            .Broadcast(kAll, 0, kDef, 16, 0)                                  // no body: refused whole
            .Broadcast(0b1111, 1, kDef, 100, 20000)                           // over every quota
            .Broadcast(0b1111 | fuzz::kBroadcastOtherBadAddress, 1, ExpiryChoice::kNow, 100, 100)  // expired
            .Put(0, 0, kDef, 16).Put(0, 1, kDef, 16).Put(0, 2, kDef, 16)     // mailbox 0 full by count
            .Broadcast(kAll, 4, kDef, 700, 3000).Commit()                     // its copy alone refused
            .Fetch(1, AfterChoice::kZero, 0, 3, 4).bytes());
  Write("store", "broadcast-expire-and-sweep",
        Program(7)
            .Broadcast(kAll, 5, ExpiryChoice::kSecond, 1, 100).Broadcast(kAll, 4, kDef, 1, 1).Commit()
            .Ack(1, {{AckSeqChoice::kPendingOfMailbox, 0}}).Commit()
            .Advance(2).Fetch(0, AfterChoice::kZero, 0, 3, 4)  // expired copies are not delivered
            .Sweep(1).Sweep(1).Sweep(3)                        // the body goes with the last one swept
            .bytes());
  Write("store", "broadcast-store-full",
        Program(0)  // config 0: a 256 KiB map
            .Put(0, 0, kDef, 20000).Commit()
            .Put(2, 1, kDef, 16).Broadcast(kAll, 1, kDef, 700, 40000)  // does not fit: refused whole
            .AfterStoreFull(true)                                       // its batch commits the put alone
            .Broadcast(0b0011, 1, kDef, 16, 3000).Commit()              // fits
            .Put(2, 2, kDef, 20000).Commit()                            // leaves no room for the body
            .Broadcast(0b0011, 1, kDef, 16, 40000).Commit()             // a retry needs none
            .Reopen().Fetch(1, AfterChoice::kZero, 0, 3, 4).Drain()
            .bytes());
  Write("store", "broadcast-store-full-after-copies",
        Program(3)  // config 0: the first copies would fit, the body and the last ones do not
            .Put(0, 0, kDef, 16).Broadcast(kAll | kRepeat, 2, kDef, 700, 40000).AfterStoreFull(true)
            .Fetch(1, AfterChoice::kZero, 0, 3, 4).Sweep(3).bytes());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR   (normally fuzz/corpus)\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  FrameCorpus();
  BodyCorpus();
  EnvelopeCorpus();
  StoreCorpus();
  std::printf("make_corpus: wrote %zu files under %s\n", g_files, g_out.c_str());
  return 0;
}
