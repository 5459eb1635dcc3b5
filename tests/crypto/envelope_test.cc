// Tests for crypto/envelope.h: round trips, conformance to the documented v1 format (an
// independent reader and writer built from the primitives), every-bit and truncation negatives,
// each documented error code, and a frozen v1 envelope from tests/data/kat/.
#include "crypto/envelope.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <initializer_list>
#include <string>

#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "crypto/x25519.h"
#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;
using testing::ToBytes;

// A sender, a recipient and a message, with a lookup that knows only the sender.
struct Fixture {
  SigningKeyPair sender = SigningKeyPair::Generate();
  DhKeyPair recipient = DhKeyPair::Generate();
  std::string sender_address = "alice/phone";
  std::string recipient_address = "bob/laptop";
  MessageId message_id = RandomArray<16>();
  Bytes plaintext = ToBytes("twenty bytes of text");  // 20 bytes
  int lookups = 0;

  SealInput Input() const {
    return SealInput{sender_address, &sender.secret_key, recipient_address, recipient.public_key,
                     message_id, plaintext};
  }
  Bytes Seal() const { return SealEnvelope(Input()).value(); }

  SenderKeyLookup Lookup() {
    return [this](std::string_view address) -> Result<SignPublicKey> {
      ++lookups;
      if (address == sender_address) return sender.public_key;
      return Status::Error(Code::kNotFound, "no such sender");
    };
  }
  Result<OpenedEnvelope> Open(ByteView envelope) {
    return OpenEnvelope(envelope, recipient_address, recipient, message_id, Lookup());
  }
};

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The pieces of the format in envelope.h, built here from the primitives and the comment alone.
AeadKey SpecKey(const SecretBytes<32>& dh_secret, ByteView dh_peer, ByteView ephemeral_pk,
                ByteView recipient_pk) {
  const SecretBytes<32> shared = X25519(dh_secret, dh_peer).value();
  AeadKey key;
  REQUIRE(HkdfSha256(shared.view(), Concat({ephemeral_pk, recipient_pk}),
                     ToBytes("liaison/v1/envelope/key"), std::span<uint8_t>(key.data(), 32))
              .ok());
  return key;
}

Bytes SpecAd(ByteView ephemeral_pk, const MessageId& id, const std::string& recipient) {
  const uint8_t version = 1, len = static_cast<uint8_t>(recipient.size());
  return Concat({ByteView(&version, 1), ephemeral_pk, id, ByteView(&len, 1), AsBytes(recipient)});
}

Bytes SpecSignedData(ByteView ephemeral_pk, ByteView recipient_pk, const MessageId& id,
                     const std::string& sender, const std::string& recipient, ByteView plaintext) {
  const uint8_t version = 1, sender_len = static_cast<uint8_t>(sender.size()),
                recipient_len = static_cast<uint8_t>(recipient.size());
  return Concat({AsBytes("liaison/v1/envelope/sig"), ByteView(&version, 1), ephemeral_pk,
                 recipient_pk, id, ByteView(&sender_len, 1), AsBytes(sender),
                 ByteView(&recipient_len, 1), AsBytes(recipient), plaintext});
}

Bytes SpecInner(const std::string& sender, ByteView plaintext, const Signature& sig) {
  const uint8_t sender_len = static_cast<uint8_t>(sender.size());
  const uint32_t n = static_cast<uint32_t>(plaintext.size());
  const uint8_t len[4] = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                          static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return Concat({ByteView(&sender_len, 1), AsBytes(sender), len, plaintext, sig});
}

// Encrypts arbitrary `inner` bytes for the fixture's recipient exactly as the format says.
Bytes SpecSealInner(const Fixture& f, ByteView inner) {
  const DhKeyPair ephemeral = DhKeyPair::Generate();
  const AeadKey key = SpecKey(ephemeral.secret_key, f.recipient.public_key, ephemeral.public_key,
                              f.recipient.public_key);
  const auto nonce = RandomArray<24>();
  const Bytes ct =
      XChaChaSeal(key, nonce, inner, SpecAd(ephemeral.public_key, f.message_id, f.recipient_address))
          .value();
  const uint8_t version = 1;
  return Concat({ByteView(&version, 1), ephemeral.public_key, nonce, ct});
}

// A whole envelope written by the independent writer, signed properly.
Bytes SpecSeal(const Fixture& f) {
  const DhKeyPair ephemeral = DhKeyPair::Generate();
  const Bytes signed_data =
      SpecSignedData(ephemeral.public_key, f.recipient.public_key, f.message_id, f.sender_address,
                     f.recipient_address, f.plaintext);
  const Signature sig = SignDetached(f.sender.secret_key, signed_data);
  const Bytes inner = SpecInner(f.sender_address, f.plaintext, sig);
  const AeadKey key = SpecKey(ephemeral.secret_key, f.recipient.public_key, ephemeral.public_key,
                              f.recipient.public_key);
  const auto nonce = RandomArray<24>();
  const Bytes ct =
      XChaChaSeal(key, nonce, inner, SpecAd(ephemeral.public_key, f.message_id, f.recipient_address))
          .value();
  const uint8_t version = 1;
  return Concat({ByteView(&version, 1), ephemeral.public_key, nonce, ct});
}

TEST_CASE("an envelope round-trips", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();
  CHECK(envelope.size() == kEnvelopeV1OverheadBytes + f.sender_address.size() + f.plaintext.size());
  CHECK(envelope[0] == kEnvelopeVersion1);
  auto opened = f.Open(envelope);
  REQUIRE(opened.ok());
  CHECK(opened->sender_address == f.sender_address);
  CHECK(opened->message_id == f.message_id);
  CHECK(opened->plaintext == f.plaintext);
  CHECK(f.lookups == 1);
}

TEST_CASE("envelopes round-trip for plaintexts from 0 bytes to the limit", "[crypto][envelope]") {
  Fixture f;
  const size_t size = GENERATE(0u, 1u, 20u, 1000u, 65535u, 65536u);
  f.sender_address = std::string(GENERATE(1u, 11u, 64u), 's');
  f.plaintext.resize(size);
  RandomBytes(f.plaintext);
  INFO("plaintext " << size << " bytes, sender " << f.sender_address.size() << " bytes");
  const Bytes envelope = f.Seal();
  CHECK(envelope.size() == kEnvelopeV1OverheadBytes + f.sender_address.size() + size);
  CHECK(envelope.size() >= kMinEnvelopeV1Bytes);
  CHECK(envelope.size() <= kMaxEnvelopeV1Bytes);
  auto opened = f.Open(envelope);
  REQUIRE(opened.ok());
  CHECK(opened->plaintext == f.plaintext);
}

TEST_CASE("sealing the same input twice gives different envelopes", "[crypto][envelope]") {
  Fixture f;
  const Bytes a = f.Seal(), b = f.Seal();
  CHECK(a != b);
  CHECK(!std::equal(a.begin() + 1, a.begin() + 57, b.begin() + 1));  // fresh key and nonce
}

TEST_CASE("SealEnvelope follows the documented v1 format", "[crypto][envelope][format]") {
  Fixture f;
  const Bytes envelope = f.Seal();
  // envelope = version:u8 | ephemeral_pk:32 | nonce:24 | aead_ciphertext
  REQUIRE(envelope.size() > 57);
  const ByteView ephemeral_pk = ByteView(envelope).subspan(1, 32);
  const ByteView nonce = ByteView(envelope).subspan(33, 24);
  const ByteView ct = ByteView(envelope).subspan(57);
  const AeadKey key =
      SpecKey(f.recipient.secret_key, ephemeral_pk, ephemeral_pk, f.recipient.public_key);
  const Bytes inner =
      XChaChaOpen(key, nonce, ct, SpecAd(ephemeral_pk, f.message_id, f.recipient_address)).value();
  // inner = u8 len(sender) | sender | u32be len(plaintext) | plaintext | signature:64
  REQUIRE(inner.size() == 1 + f.sender_address.size() + 4 + f.plaintext.size() + 64);
  CHECK(inner[0] == f.sender_address.size());
  CHECK(AsChars(ByteView(inner).subspan(1, inner[0])) == f.sender_address);
  const ByteView len = ByteView(inner).subspan(1 + inner[0], 4);
  CHECK((len[0] == 0 && len[1] == 0 && len[2] == 0 && len[3] == f.plaintext.size()));
  const ByteView plaintext = ByteView(inner).subspan(1 + inner[0] + 4, f.plaintext.size());
  CHECK(Bytes(plaintext.begin(), plaintext.end()) == f.plaintext);
  const ByteView sig = ByteView(inner).last(64);
  CHECK(VerifyDetached(f.sender.public_key,
                       SpecSignedData(ephemeral_pk, f.recipient.public_key, f.message_id,
                                      f.sender_address, f.recipient_address, f.plaintext),
                       sig)
            .ok());
}

TEST_CASE("OpenEnvelope reads an envelope written from the documented format",
          "[crypto][envelope][format]") {
  Fixture f;
  auto opened = f.Open(SpecSeal(f));
  REQUIRE(opened.ok());
  CHECK(opened->sender_address == f.sender_address);
  CHECK(opened->plaintext == f.plaintext);
}

TEST_CASE("every single-bit flip of an envelope is rejected", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();
  REQUIRE(f.Open(envelope).ok());
  f.lookups = 0;
  for (size_t bit = 0; bit < envelope.size() * 8; ++bit) {
    Bytes bad = envelope;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    INFO("bit " << bit);
    auto opened = f.Open(bad);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() ==
          (bit < 8 ? Code::kUnsupportedVersion : Code::kUnauthenticated));
  }
  CHECK(f.lookups == 0);  // nothing got past the AEAD to the claimed sender
}

TEST_CASE("every truncation and one extra byte are rejected", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();
  for (size_t len = 0; len < envelope.size(); ++len) {
    INFO("truncated to " << len << " of " << envelope.size());
    auto opened = f.Open(ByteView(envelope).first(len));
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() ==
          (len < kMinEnvelopeV1Bytes ? Code::kMalformed : Code::kUnauthenticated));
  }
  Bytes longer = envelope;
  longer.push_back(0);
  CHECK(f.Open(longer).status().code() == Code::kUnauthenticated);
  CHECK(f.lookups == 0);
}

TEST_CASE("an envelope over the size limit is kMalformed before any decryption",
          "[crypto][envelope]") {
  Fixture f;
  Bytes huge(kMaxEnvelopeV1Bytes + 1, 0);
  huge[0] = kEnvelopeVersion1;
  CHECK(f.Open(huge).status().code() == Code::kMalformed);
}

TEST_CASE("unknown version bytes give kUnsupportedVersion", "[crypto][envelope]") {
  Fixture f;
  Bytes envelope = f.Seal();
  for (int version : {0, 2, 255}) {
    envelope[0] = static_cast<uint8_t>(version);
    INFO("version " << version);
    CHECK(f.Open(envelope).status().code() == Code::kUnsupportedVersion);
  }
  const uint8_t just_v2[] = {2};
  CHECK(f.Open(just_v2).status().code() == Code::kUnsupportedVersion);
  CHECK(f.Open({}).status().code() == Code::kMalformed);
}

TEST_CASE("an envelope opens only for its recipient, key and message id", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();

  SECTION("wrong recipient address") {
    CHECK(OpenEnvelope(envelope, "bob/phone", f.recipient, f.message_id, f.Lookup())
              .status()
              .code() == Code::kUnauthenticated);
  }
  SECTION("wrong recipient key") {
    const DhKeyPair other = DhKeyPair::Generate();
    CHECK(OpenEnvelope(envelope, f.recipient_address, other, f.message_id, f.Lookup())
              .status()
              .code() == Code::kUnauthenticated);
  }
  SECTION("wrong expected message id") {
    MessageId other = f.message_id;
    other[15] ^= 1;
    CHECK(OpenEnvelope(envelope, f.recipient_address, f.recipient, other, f.Lookup())
              .status()
              .code() == Code::kUnauthenticated);
  }
  CHECK(f.lookups == 0);
}

TEST_CASE("the sender's signature is checked against the looked-up key", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();

  SECTION("a lookup returning a different key") {
    const SignPublicKey other = SigningKeyPair::Generate().public_key;
    int calls = 0;
    auto opened = OpenEnvelope(envelope, f.recipient_address, f.recipient, f.message_id,
                               [&](std::string_view address) -> Result<SignPublicKey> {
                                 ++calls;
                                 CHECK(address == "alice/phone");
                                 return other;
                               });
    CHECK(opened.status().code() == Code::kUnauthenticated);
    CHECK(calls == 1);
  }
  SECTION("a lookup returning NotFound") {
    int calls = 0;
    auto opened = OpenEnvelope(envelope, f.recipient_address, f.recipient, f.message_id,
                               [&](std::string_view) -> Result<SignPublicKey> {
                                 ++calls;
                                 return Status::Error(Code::kNotFound, "no key for this member");
                               });
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kUnauthenticated);
    CHECK(opened.status().message().find("no key for this member") != std::string::npos);
    CHECK(calls == 1);
  }
  SECTION("a sender claiming someone else's address") {
    // Mallory seals as "alice/phone" with her own key; the lookup gives Alice's real key.
    Fixture mallory;
    mallory.recipient = DhKeyPair::FromSecret(f.recipient.secret_key.Clone());
    mallory.message_id = f.message_id;
    const Bytes forged = mallory.Seal();
    CHECK(f.Open(forged).status().code() == Code::kUnauthenticated);
  }
}

TEST_CASE("a broken inner grammar under a valid AEAD is kMalformed", "[crypto][envelope]") {
  Fixture f;
  const Signature sig{};  // never checked: parsing fails first
  const Bytes good_inner = SpecInner(f.sender_address, f.plaintext, sig);

  auto check_malformed = [&](const Bytes& inner, const char* what) {
    INFO(what);
    auto opened = f.Open(SpecSealInner(f, inner));
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kMalformed);
  };

  Bytes trailing = good_inner;
  trailing.push_back(0);
  check_malformed(trailing, "one trailing byte");
  check_malformed(Bytes(good_inner.begin(), good_inner.end() - 1), "signature one byte short");
  check_malformed({}, "empty inner");
  check_malformed(Bytes{5, 'a', 'b'}, "sender address cut short");
  check_malformed(SpecInner("", f.plaintext, sig), "empty sender address");
  check_malformed(SpecInner(std::string(65, 'x'), f.plaintext, sig), "sender address of 65 bytes");
  check_malformed(SpecInner(f.sender_address, Bytes(kMaxPlaintextBytes + 1, 0), sig),
                  "plaintext over the limit");
  Bytes big_length = good_inner;
  big_length[1 + f.sender_address.size()] = 0xff;  // u32be length far beyond the data
  check_malformed(big_length, "plaintext length beyond the data");
  CHECK(f.lookups == 0);

  // The same inner with a real signature opens: the failures above are the grammar's.
  auto good = f.Open(SpecSeal(f));
  CHECK(good.ok());
}

TEST_CASE("a low-order key on either side is kUnauthenticated", "[crypto][envelope]") {
  Fixture f;
  SealInput input = f.Input();
  input.recipient_dh_public.fill(0);
  CHECK(SealEnvelope(input).status().code() == Code::kUnauthenticated);

  Bytes envelope = f.Seal();
  std::fill(envelope.begin() + 1, envelope.begin() + 33, 0);  // all-zero ephemeral key
  CHECK(f.Open(envelope).status().code() == Code::kUnauthenticated);
}

TEST_CASE("SealEnvelope refuses out-of-range inputs with kInvalidArgument", "[crypto][envelope]") {
  Fixture f;
  SECTION("plaintext over 64 KiB") {
    f.plaintext.resize(kMaxPlaintextBytes + 1);
    CHECK(SealEnvelope(f.Input()).status().code() == Code::kInvalidArgument);
  }
  SECTION("empty or oversized addresses") {
    f.sender_address = "";
    CHECK(SealEnvelope(f.Input()).status().code() == Code::kInvalidArgument);
    f.sender_address = std::string(65, 'a');
    CHECK(SealEnvelope(f.Input()).status().code() == Code::kInvalidArgument);
    f.sender_address = "alice/phone";
    f.recipient_address = "";
    CHECK(SealEnvelope(f.Input()).status().code() == Code::kInvalidArgument);
    f.recipient_address = std::string(65, 'b');
    CHECK(SealEnvelope(f.Input()).status().code() == Code::kInvalidArgument);
  }
  SECTION("no signing key") {
    SealInput input = f.Input();
    input.sender_signing_secret = nullptr;
    CHECK(SealEnvelope(input).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("OpenEnvelope refuses bad arguments with kInvalidArgument", "[crypto][envelope]") {
  Fixture f;
  const Bytes envelope = f.Seal();
  CHECK(OpenEnvelope(envelope, "", f.recipient, f.message_id, f.Lookup()).status().code() ==
        Code::kInvalidArgument);
  CHECK(OpenEnvelope(envelope, f.recipient_address, f.recipient, f.message_id, nullptr)
            .status()
            .code() == Code::kInvalidArgument);
}

TEST_CASE("a frozen v1 envelope still opens", "[crypto][envelope][kat]") {
  const nlohmann::json kat = testing::LoadTestData("kat/envelope_v1.json");
  const DhKeyPair recipient = DhKeyPair::FromSecret(
      SecretBytes<32>::FromBytes(Hex(kat.at("recipient_dh_secret").get<std::string>())).value());
  CHECK(ToHex(recipient.public_key) == kat.at("recipient_dh_public").get<std::string>());
  const SigningKeyPair sender =
      SigningKeyPair::FromSecret(
          SecretBytes<64>::FromBytes(Hex(kat.at("sender_signing_secret").get<std::string>()))
              .value())
          .value();
  const Bytes id_bytes = Hex(kat.at("message_id").get<std::string>());
  REQUIRE(id_bytes.size() == 16);
  MessageId id;
  std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
  const std::string sender_address = kat.at("sender_address");
  const std::string recipient_address = kat.at("recipient_address");

  auto opened = OpenEnvelope(Hex(kat.at("envelope").get<std::string>()), recipient_address,
                             recipient, id, [&](std::string_view address) -> Result<SignPublicKey> {
                               if (address == sender_address) return sender.public_key;
                               return Status::Error(Code::kNotFound, "unknown sender");
                             });
  REQUIRE(opened.ok());
  CHECK(opened->sender_address == sender_address);
  CHECK(ToHex(opened->plaintext) == kat.at("plaintext").get<std::string>());
}

}  // namespace
}  // namespace liaison::crypto
