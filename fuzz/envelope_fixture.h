// Fixed keys and addresses for envelope_fuzzer.cc and make_corpus.cc (header only).
//
// Every key is derived from constant bytes, so the committed corpus stays valid across runs and
// builds: an envelope in fuzz/corpus/envelope/ sealed by make_corpus opens in the fuzzer.
//
// Besides the raw envelope, the fuzzer also treats its input as the *inner* plaintext of an
// envelope and seals it itself (SealInner), so that the grammar behind the AEAD (sender, length,
// plaintext, signature) is reachable by mutation. SealInner follows the v1 format in
// crypto/envelope.h independently of crypto/src/envelope.cc, with a fixed ephemeral key and nonce
// (acceptable here only because nothing is secret).
#ifndef LIAISON_FUZZ_ENVELOPE_FIXTURE_H_
#define LIAISON_FUZZ_ENVELOPE_FIXTURE_H_

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "crypto/aead.h"
#include "crypto/envelope.h"
#include "crypto/hkdf.h"
#include "crypto/keys.h"
#include "crypto/x25519.h"
#include "fuzz/fuzz_util.h"

namespace liaison::fuzz {

inline constexpr std::string_view kRecipientAddress = "bob/phone";
inline constexpr std::string_view kSenderAddress = "alice/laptop";  // the only sender the lookup knows
inline constexpr crypto::MessageId kFixtureMessageId = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                                        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

template <size_t N>
crypto::SecretBytes<N> FixedSecret(uint8_t fill) {
  std::array<uint8_t, N> bytes;
  bytes.fill(fill);
  auto secret = crypto::SecretBytes<N>::FromBytes(bytes);
  FUZZ_CHECK(secret.ok(), secret.status().ToString());
  return std::move(secret).value();
}

// The recipient's long-term X25519 key pair.
inline const crypto::DhKeyPair& RecipientKeys() {
  static const crypto::DhKeyPair keys = crypto::DhKeyPair::FromSecret(FixedSecret<crypto::kDhSecretKeyBytes>(0x42));
  return keys;
}

// The sender's Ed25519 key pair (crypto_sign_seed_keypair of 32 bytes 0x5a).
inline const crypto::SigningKeyPair& SenderSigningKeys() {
  static const crypto::SigningKeyPair keys = [] {
    const std::array<uint8_t, crypto_sign_SEEDBYTES> seed = [] {
      std::array<uint8_t, crypto_sign_SEEDBYTES> s;
      s.fill(0x5a);
      return s;
    }();
    crypto::SignPublicKey public_key;
    crypto::SecretBytes<crypto::kSignSecretKeyBytes> secret;
    FUZZ_CHECK(crypto_sign_seed_keypair(public_key.data(), secret.data(), seed.data()) == 0, "");
    auto pair = crypto::SigningKeyPair::FromSecret(std::move(secret));
    FUZZ_CHECK(pair.ok(), pair.status().ToString());
    return std::move(pair).value();
  }();
  return keys;
}

// The ephemeral key and nonce SealInner uses.
inline const crypto::DhKeyPair& InnerEphemeralKeys() {
  static const crypto::DhKeyPair keys = crypto::DhKeyPair::FromSecret(FixedSecret<crypto::kDhSecretKeyBytes>(0x7e));
  return keys;
}
inline const std::array<uint8_t, crypto::kXNonceBytes>& InnerNonce() {
  static const std::array<uint8_t, crypto::kXNonceBytes> nonce = [] {
    std::array<uint8_t, crypto::kXNonceBytes> n;
    n.fill(0x33);
    return n;
  }();
  return nonce;
}

// key = HKDF-SHA256(X25519(ephemeral_sk, recipient_pk), ephemeral_pk || recipient_pk,
//                   "liaison/v1/envelope/key", 32)
inline const crypto::AeadKey& InnerKey() {
  static const crypto::AeadKey key = [] {
    auto shared = crypto::X25519(InnerEphemeralKeys().secret_key, RecipientKeys().public_key);
    FUZZ_CHECK(shared.ok(), shared.status().ToString());
    Bytes salt(InnerEphemeralKeys().public_key.begin(), InnerEphemeralKeys().public_key.end());
    salt.insert(salt.end(), RecipientKeys().public_key.begin(), RecipientKeys().public_key.end());
    crypto::AeadKey k;
    const Status st = crypto::HkdfSha256(shared->view(), salt, AsBytes("liaison/v1/envelope/key"),
                                         std::span<uint8_t>(k.data(), k.size()));
    FUZZ_CHECK(st.ok(), st.ToString());
    return k;
  }();
  return key;
}

// ad = version | ephemeral_pk | message_id | u8 len(recipient) | recipient
inline Bytes InnerAssociatedData() {
  Bytes ad{crypto::kEnvelopeVersion1};
  ad.insert(ad.end(), InnerEphemeralKeys().public_key.begin(), InnerEphemeralKeys().public_key.end());
  ad.insert(ad.end(), kFixtureMessageId.begin(), kFixtureMessageId.end());
  ad.push_back(static_cast<uint8_t>(kRecipientAddress.size()));
  ad.insert(ad.end(), kRecipientAddress.begin(), kRecipientAddress.end());
  return ad;
}

// A v1 envelope to RecipientKeys() whose AEAD plaintext is exactly `inner`.
inline Bytes SealInner(ByteView inner) {
  auto ciphertext = crypto::XChaChaSeal(InnerKey(), InnerNonce(), inner, InnerAssociatedData());
  FUZZ_CHECK(ciphertext.ok(), ciphertext.status().ToString());
  Bytes envelope{crypto::kEnvelopeVersion1};
  envelope.insert(envelope.end(), InnerEphemeralKeys().public_key.begin(), InnerEphemeralKeys().public_key.end());
  envelope.insert(envelope.end(), InnerNonce().begin(), InnerNonce().end());
  envelope.insert(envelope.end(), ciphertext->begin(), ciphertext->end());
  return envelope;
}

// The bytes a sender signs for an envelope sealed by SealInner:
// "liaison/v1/envelope/sig" | version | ephemeral_pk | recipient_pk | message_id
// | u8 len(sender) | sender | u8 len(recipient) | recipient | plaintext
inline Bytes InnerSignedData(std::string_view sender, ByteView plaintext) {
  constexpr std::string_view kContext = "liaison/v1/envelope/sig";
  Bytes out(kContext.begin(), kContext.end());
  out.push_back(crypto::kEnvelopeVersion1);
  out.insert(out.end(), InnerEphemeralKeys().public_key.begin(), InnerEphemeralKeys().public_key.end());
  out.insert(out.end(), RecipientKeys().public_key.begin(), RecipientKeys().public_key.end());
  out.insert(out.end(), kFixtureMessageId.begin(), kFixtureMessageId.end());
  out.push_back(static_cast<uint8_t>(sender.size()));
  out.insert(out.end(), sender.begin(), sender.end());
  out.push_back(static_cast<uint8_t>(kRecipientAddress.size()));
  out.insert(out.end(), kRecipientAddress.begin(), kRecipientAddress.end());
  out.insert(out.end(), plaintext.begin(), plaintext.end());
  return out;
}

}  // namespace liaison::fuzz

#endif  // LIAISON_FUZZ_ENVELOPE_FIXTURE_H_
