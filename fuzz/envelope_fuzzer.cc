// Fuzz target: end-to-end envelopes and key bundles, as a client receives them from the relay.
//
// The same input is used three ways; none may crash, throw, or leak:
//  1. as a raw v1 envelope, opened with the fixed recipient key pair of fuzz/envelope_fixture.h
//     and a lookup that knows only one sender's signing key. Random bytes never pass the AEAD,
//     but the committed corpus holds envelopes that do.
//  2. as the *inner* plaintext of an envelope that the target seals itself (SealInner), so that
//     the grammar behind the AEAD and the signature check are reachable. The outcome must match
//     an independent parse of the grammar in crypto/envelope.h and libsodium's verification.
//  3. as a key bundle (client/src/key_bundle.h) for a fixed address; the outcome must match an
//     independent parse and signature check.
//  4. as a sealed v2 envelope (crypto/sealed_envelope.h) for the fixed recipient, and as a stored
//     session record (client/src/sessions.h), which a damaged disk could hand the client: a
//     record that decodes must re-encode to the same bytes.
//  5. as the text of an invitation and of an enrollment request (client/src/enrollment.h), with
//     and without their prefixes: one that decodes must encode back to a text that decodes to
//     the same fields.
//  6. as a broadcast delivery (wire/broadcast.h): SplitBroadcastDelivery must agree with an
//     independent parse, return views into the input, and a split delivery must compose back to
//     the same bytes; its copy is then opened like a raw envelope (1.).
#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/src/enrollment.h"
#include "client/src/key_bundle.h"
#include "client/src/sessions.h"
#include "crypto/sealed_envelope.h"
#include "crypto/envelope.h"
#include "fuzz/envelope_fixture.h"
#include "fuzz/fuzz_util.h"
#include "wire/broadcast.h"
#include "wire/limits.h"

namespace {

using namespace liaison;

Result<crypto::SignPublicKey> LookupSender(std::string_view sender) {
  if (sender == fuzz::kSenderAddress) return fuzz::SenderSigningKeys().public_key;
  return Status::Error(Code::kNotFound, "unknown sender");
}

template <class T>
std::string Outcome(const Result<T>& r) {
  return r.ok() ? std::string("ok") : r.status().ToString();
}

bool IsOpenError(Code code) {
  return code == Code::kUnsupportedVersion || code == Code::kMalformed || code == Code::kUnauthenticated;
}

// Returns the outcome, for the trace.
std::string CheckRawEnvelope(ByteView input) {
  int lookups = 0;
  const crypto::SenderKeyLookup lookup = [&lookups](std::string_view sender) {
    ++lookups;
    return LookupSender(sender);
  };
  Result<crypto::OpenedEnvelope> opened = crypto::OpenEnvelope(
      input, fuzz::kRecipientAddress, fuzz::RecipientKeys(), fuzz::kFixtureMessageId, lookup);
  FUZZ_CHECK(lookups <= 1, std::to_string(lookups) + " sender lookups");
  if (!opened.ok()) {
    FUZZ_CHECK(IsOpenError(opened.status().code()), opened.status().ToString());
    if (input.empty()) FUZZ_CHECK(opened.status().code() == Code::kMalformed, opened.status().ToString());
    if (!input.empty() && input[0] != crypto::kEnvelopeVersion1) {
      FUZZ_CHECK(opened.status().code() == Code::kUnsupportedVersion, opened.status().ToString());
    }
    return Outcome(opened);
  }
  FUZZ_CHECK(lookups == 1, "an envelope opened without a sender lookup");
  FUZZ_CHECK(opened->sender_address == fuzz::kSenderAddress, opened->sender_address);
  FUZZ_CHECK(opened->message_id == fuzz::kFixtureMessageId, "");
  FUZZ_CHECK(input.size() == crypto::kEnvelopeV1OverheadBytes + opened->sender_address.size() +
                                 opened->plaintext.size(),
             "envelope size " + std::to_string(input.size()) + " disagrees with its contents");
  return Outcome(opened);
}

// inner = u8 len(sender) | sender | u32be len(plaintext) | plaintext | signature:64
struct InnerParse {
  bool ok = false;
  std::string_view sender;
  ByteView plaintext;
  ByteView signature;
};

InnerParse ParseInner(ByteView inner) {
  InnerParse p;
  if (inner.empty()) return p;
  const size_t sender_len = inner[0];
  if (sender_len == 0 || sender_len > crypto::kMaxAddressBytes) return p;
  if (inner.size() < 1 + sender_len + 4) return p;
  p.sender = AsChars(inner.subspan(1, sender_len));
  const uint8_t* n = inner.data() + 1 + sender_len;
  const uint64_t plaintext_len = static_cast<uint64_t>(n[0]) << 24 | static_cast<uint64_t>(n[1]) << 16 |
                                 static_cast<uint64_t>(n[2]) << 8 | n[3];
  if (plaintext_len > crypto::kMaxPlaintextBytes) return p;
  const ByteView rest = inner.subspan(1 + sender_len + 4);
  if (rest.size() != plaintext_len + crypto::kSignatureBytes) return p;
  p.plaintext = rest.first(static_cast<size_t>(plaintext_len));
  p.signature = rest.subspan(static_cast<size_t>(plaintext_len));
  p.ok = true;
  return p;
}

std::string CheckSealedInner(ByteView inner) {
  const Bytes envelope = fuzz::SealInner(inner);
  int lookups = 0;
  const crypto::SenderKeyLookup lookup = [&lookups](std::string_view sender) {
    ++lookups;
    return LookupSender(sender);
  };
  Result<crypto::OpenedEnvelope> opened = crypto::OpenEnvelope(
      envelope, fuzz::kRecipientAddress, fuzz::RecipientKeys(), fuzz::kFixtureMessageId, lookup);

  const InnerParse parse = ParseInner(inner);
  if (!parse.ok) {
    FUZZ_CHECK(!opened.ok() && opened.status().code() == Code::kMalformed,
               "inner " + fuzz::HexPrefix(inner) + " breaks the grammar but OpenEnvelope says " +
                   (opened.ok() ? std::string("ok") : opened.status().ToString()));
    FUZZ_CHECK(lookups == 0, "sender looked up for an inner that breaks the grammar");
    return Outcome(opened);
  }
  FUZZ_CHECK(lookups == 1, std::to_string(lookups) + " sender lookups for a well-formed inner");
  bool expect_ok = false;
  if (parse.sender == fuzz::kSenderAddress) {
    const Bytes signed_data = fuzz::InnerSignedData(parse.sender, parse.plaintext);
    expect_ok = crypto_sign_verify_detached(parse.signature.data(), signed_data.data(), signed_data.size(),
                                            fuzz::SenderSigningKeys().public_key.data()) == 0;
  }
  if (!expect_ok) {
    FUZZ_CHECK(!opened.ok() && opened.status().code() == Code::kUnauthenticated,
               "unknown sender or bad signature, but OpenEnvelope says " +
                   (opened.ok() ? std::string("ok") : opened.status().ToString()));
    return Outcome(opened);
  }
  FUZZ_CHECK(opened.ok(), "a correctly signed envelope was refused: " + opened.status().ToString());
  FUZZ_CHECK(opened->sender_address == parse.sender, opened->sender_address);
  FUZZ_CHECK(fuzz::SameBytes(opened->plaintext, parse.plaintext), "plaintext differs");
  FUZZ_CHECK(opened->message_id == fuzz::kFixtureMessageId, "");
  return Outcome(opened);
}

// bundle = version:u8 (=1) | signing_pk:32 | dh_pk:32 | signature:64
// signature over "liaison/v1/bundle" | u8 len | address | signing_pk | dh_pk
std::string CheckKeyBundle(ByteView input) {
  const std::string_view address = fuzz::kSenderAddress;
  Result<client::KeyBundle> bundle = client::DecodeKeyBundle(address, input);
  bool expect_ok = false;
  if (input.size() == client::kKeyBundleV1Bytes && input[0] == client::kKeyBundleVersion1) {
    constexpr std::string_view kDomain = "liaison/v1/bundle";
    Bytes signed_part(kDomain.begin(), kDomain.end());
    signed_part.push_back(static_cast<uint8_t>(address.size()));
    signed_part.insert(signed_part.end(), address.begin(), address.end());
    signed_part.insert(signed_part.end(), input.begin() + 1, input.begin() + 65);
    expect_ok = crypto_sign_verify_detached(input.data() + 65, signed_part.data(), signed_part.size(),
                                            input.data() + 1) == 0;
  }
  if (!expect_ok) {
    FUZZ_CHECK(!bundle.ok(), "a key bundle with a bad signature, size or version was accepted: " +
                                 fuzz::HexPrefix(input));
    const Code code = bundle.status().code();
    FUZZ_CHECK(code == Code::kMalformed || code == Code::kUnsupportedVersion || code == Code::kUnauthenticated,
               bundle.status().ToString());
    return Outcome(bundle);
  }
  FUZZ_CHECK(bundle.ok(), "a correctly signed key bundle was refused: " + bundle.status().ToString());
  FUZZ_CHECK(fuzz::SameBytes(bundle->signing_key, input.subspan(1, 32)), "signing key differs");
  FUZZ_CHECK(fuzz::SameBytes(bundle->dh_key, input.subspan(33, 32)), "dh key differs");
  return Outcome(bundle);
}

// broadcast_delivery = tag:u8 (=0x10) | u32be len(copy) | copy | body, with
// 1 <= len(copy) <= kMaxBroadcastCopyBytes and 1 <= len(body) <= kMaxBroadcastBodyBytes.
std::string CheckBroadcastDelivery(ByteView input) {
  Result<wire::BroadcastDeliveryView> split = wire::SplitBroadcastDelivery(input);
  bool expect_ok = false;
  uint64_t copy_len = 0;
  if (input.size() >= 5 && input[0] == 0x10) {
    copy_len = static_cast<uint64_t>(input[1]) << 24 | static_cast<uint64_t>(input[2]) << 16 |
               static_cast<uint64_t>(input[3]) << 8 | input[4];
    const uint64_t rest = input.size() - 5;
    expect_ok = copy_len >= 1 && copy_len <= wire::kMaxBroadcastCopyBytes && copy_len < rest &&
                rest - copy_len <= wire::kMaxBroadcastBodyBytes;
  }
  if (!expect_ok) {
    FUZZ_CHECK(!split.ok(), "a broadcast delivery that breaks the grammar was split: " + fuzz::HexPrefix(input));
    FUZZ_CHECK(split.status().code() == Code::kMalformed, split.status().ToString());
    return Outcome(split);
  }
  FUZZ_CHECK(split.ok(), "a well-formed broadcast delivery was refused: " + split.status().ToString());
  FUZZ_CHECK(split->copy.data() == input.data() + 5 && split->copy.size() == copy_len,
             "the copy is not the " + std::to_string(copy_len) + " bytes after the head");
  FUZZ_CHECK(split->body.data() == input.data() + 5 + copy_len && split->body.size() == input.size() - 5 - copy_len,
             "the body is not the rest of the delivery");
  const Bytes again = wire::ComposeBroadcastDelivery(split->copy, split->body);
  FUZZ_CHECK(fuzz::SameBytes(again, input), "a split broadcast delivery composes to other bytes");
  return "ok; copy as envelope: " + CheckRawEnvelope(split->copy);
}

}  // namespace

std::string CheckSessionLayer(ByteView input) {
  auto sealed = crypto::OpenEnvelopeV2(input, fuzz::kRecipientAddress, fuzz::RecipientKeys(), fuzz::kFixtureMessageId);
  if (!sealed.ok()) FUZZ_CHECK(IsOpenError(sealed.status().code()), sealed.status().ToString());
  auto sessions = client::DecodePeerSessions(input);
  if (sessions.ok()) {
    const crypto::WipedBytes again = client::EncodePeerSessions(*sessions);
    FUZZ_CHECK(again.view().size() == input.size() &&
                   std::equal(input.begin(), input.end(), again.view().begin()),
               "a session record decoded but re-encodes differently");
  } else {
    const Code code = sessions.status().code();
    FUZZ_CHECK(code == Code::kCorruption || code == Code::kUnsupportedVersion, sessions.status().ToString());
  }
  return Outcome(sealed) + " / sessions: " + Outcome(sessions);
}

std::string CheckEnrollmentTexts(liaison::ByteView input) {
  using namespace liaison::client;
  const std::string raw(reinterpret_cast<const char*>(input.data()), input.size());
  std::string outcome;
  for (const std::string& text : {raw, std::string(kInvitationPrefix) + raw}) {
    auto invitation = DecodeInvitation(text);
    if (invitation.ok()) {
      auto again = DecodeInvitation(EncodeInvitation(*invitation));
      FUZZ_CHECK(again.ok() && again->address == invitation->address && again->id == invitation->id &&
                     again->code == invitation->code && again->expires_at == invitation->expires_at &&
                     again->relay_endpoint == invitation->relay_endpoint,
                 "an invitation does not survive re-encoding");
    }
    outcome += invitation.ok() ? "invitation ok; " : "invitation refused; ";
  }
  for (const std::string& text : {raw, std::string(kEnrollmentPrefix) + raw}) {
    auto request = DecodeEnrollmentRequest(text);
    if (request.ok()) {
      auto again = DecodeEnrollmentRequest(EncodeEnrollmentRequest(*request));
      FUZZ_CHECK(again.ok() && again->address == request->address && again->mac == request->mac &&
                     again->transport_key == request->transport_key,
                 "an enrollment request does not survive re-encoding");
    }
    outcome += request.ok() ? "request ok; " : "request refused; ";
  }
  return outcome;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const liaison::ByteView input(data, size);
  const std::string session_layer = CheckSessionLayer(input);
  const std::string raw = CheckRawEnvelope(input);
  const std::string inner = CheckSealedInner(input);
  const std::string bundle = CheckKeyBundle(input);
  const std::string enrollment = CheckEnrollmentTexts(input);
  const std::string broadcast = CheckBroadcastDelivery(input);
  if (liaison::fuzz::TraceEnabled()) {
    std::fprintf(stderr,
                 "%zu bytes: envelope: %s | as inner: %s | as key bundle: %s | as v2 / session record: %s | %s | "
                 "as broadcast delivery: %s\n",
                 size, raw.c_str(), inner.c_str(), bundle.c_str(), session_layer.c_str(), enrollment.c_str(),
                 broadcast.c_str());
  }
  return 0;
}
