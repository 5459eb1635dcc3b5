#include "crypto/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <string>
#include <utility>

#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "crypto/wiped_bytes.h"
#include "crypto/x25519.h"

namespace liaison::crypto {
namespace {

constexpr std::string_view kKeyInfo = "liaison/v1/envelope/key";
constexpr std::string_view kSignatureContext = "liaison/v1/envelope/sig";
constexpr size_t kEphemeralOffset = 1;
constexpr size_t kNonceOffset = kEphemeralOffset + kDhPublicKeyBytes;
constexpr size_t kCiphertextOffset = kNonceOffset + kXNonceBytes;
static_assert(kCiphertextOffset == 57);
static_assert(kMaxPlaintextBytes <= UINT32_MAX && kMaxAddressBytes <= UINT8_MAX);

bool AddressLengthOk(std::string_view address) {
  return !address.empty() && address.size() <= kMaxAddressBytes;
}

// key = HKDF-SHA256(X25519(dh_secret, dh_peer), ephemeral_pk || recipient_dh_pk, kKeyInfo, 32).
Result<AeadKey> DeriveKey(const SecretBytes<kDhSecretKeyBytes>& dh_secret, ByteView dh_peer,
                          ByteView ephemeral_pk, ByteView recipient_dh_pk) {
  LIAISON_ASSIGN_OR_RETURN(SecretBytes<32> shared, X25519(dh_secret, dh_peer));
  uint8_t salt[2 * kDhPublicKeyBytes];
  std::copy(ephemeral_pk.begin(), ephemeral_pk.end(), salt);
  std::copy(recipient_dh_pk.begin(), recipient_dh_pk.end(), salt + kDhPublicKeyBytes);
  AeadKey key;
  LIAISON_RETURN_IF_ERROR(HkdfSha256(shared.view(), salt, AsBytes(kKeyInfo),
                                     std::span<uint8_t>(key.data(), key.size())));
  return key;
}

Bytes AssociatedData(ByteView ephemeral_pk, const MessageId& message_id,
                     std::string_view recipient_address) {
  Bytes ad;
  ad.reserve(1 + kDhPublicKeyBytes + message_id.size() + 1 + recipient_address.size());
  ad.push_back(kEnvelopeVersion1);
  ad.insert(ad.end(), ephemeral_pk.begin(), ephemeral_pk.end());
  ad.insert(ad.end(), message_id.begin(), message_id.end());
  ad.push_back(static_cast<uint8_t>(recipient_address.size()));
  ad.insert(ad.end(), recipient_address.begin(), recipient_address.end());
  return ad;
}

// The bytes the sender signs (see the format in envelope.h). Contains the plaintext, so it is
// returned in a buffer that wipes itself.
void SignedData(ByteView ephemeral_pk, ByteView recipient_dh_pk, const MessageId& message_id,
                std::string_view sender, std::string_view recipient, ByteView plaintext,
                WipedBytes& out) {
  out.bytes().reserve(kSignatureContext.size() + 1 + 2 * kDhPublicKeyBytes + message_id.size() +
                      1 + sender.size() + 1 + recipient.size() + plaintext.size());
  out.Append(kSignatureContext);
  out.AppendU8(kEnvelopeVersion1);
  out.Append(ephemeral_pk);
  out.Append(recipient_dh_pk);
  out.Append(message_id);
  out.AppendU8(static_cast<uint8_t>(sender.size()));
  out.Append(sender);
  out.AppendU8(static_cast<uint8_t>(recipient.size()));
  out.Append(recipient);
  out.Append(plaintext);
}

Status Malformed(const char* what) {
  return Status::Error(Code::kMalformed, std::string("envelope v1: ") + what);
}

}  // namespace

Result<Bytes> SealEnvelope(const SealInput& input) {
  if (!AddressLengthOk(input.sender_address)) {
    return Status::Error(Code::kInvalidArgument, "sender address must be 1..64 bytes");
  }
  if (!AddressLengthOk(input.recipient_address)) {
    return Status::Error(Code::kInvalidArgument, "recipient address must be 1..64 bytes");
  }
  if (input.plaintext.size() > kMaxPlaintextBytes) {
    return Status::Error(Code::kInvalidArgument,
                         "plaintext of " + std::to_string(input.plaintext.size()) +
                             " bytes is over the limit of " + std::to_string(kMaxPlaintextBytes));
  }
  if (input.sender_signing_secret == nullptr) {
    return Status::Error(Code::kInvalidArgument, "no sender signing key");
  }

  const DhKeyPair ephemeral = DhKeyPair::Generate();
  LIAISON_ASSIGN_OR_RETURN(const AeadKey key,
                           DeriveKey(ephemeral.secret_key, input.recipient_dh_public,
                                     ephemeral.public_key, input.recipient_dh_public));

  Signature signature;
  {
    WipedBytes signed_data;
    SignedData(ephemeral.public_key, input.recipient_dh_public, input.message_id,
               input.sender_address, input.recipient_address, input.plaintext, signed_data);
    signature = SignDetached(*input.sender_signing_secret, signed_data.view());
  }

  WipedBytes inner;
  inner.bytes().reserve(1 + input.sender_address.size() + 4 + input.plaintext.size() +
                        kSignatureBytes);
  inner.AppendU8(static_cast<uint8_t>(input.sender_address.size()));
  inner.Append(input.sender_address);
  inner.AppendU32Be(static_cast<uint32_t>(input.plaintext.size()));
  inner.Append(input.plaintext);
  inner.Append(signature);

  const auto nonce = RandomArray<kXNonceBytes>();
  const Bytes ad = AssociatedData(ephemeral.public_key, input.message_id, input.recipient_address);
  LIAISON_ASSIGN_OR_RETURN(const Bytes ciphertext, XChaChaSeal(key, nonce, inner.view(), ad));

  Bytes envelope;
  envelope.reserve(kCiphertextOffset + ciphertext.size());
  envelope.push_back(kEnvelopeVersion1);
  envelope.insert(envelope.end(), ephemeral.public_key.begin(), ephemeral.public_key.end());
  envelope.insert(envelope.end(), nonce.begin(), nonce.end());
  envelope.insert(envelope.end(), ciphertext.begin(), ciphertext.end());
  return envelope;
}

Result<OpenedEnvelope> OpenEnvelope(ByteView envelope, std::string_view recipient_address,
                                    const DhKeyPair& recipient, const MessageId& expected_message_id,
                                    const SenderKeyLookup& lookup_sender) {
  if (!AddressLengthOk(recipient_address)) {
    return Status::Error(Code::kInvalidArgument, "recipient address must be 1..64 bytes");
  }
  if (!lookup_sender) {
    return Status::Error(Code::kInvalidArgument, "no sender key lookup");
  }
  if (envelope.empty()) return Malformed("empty");
  if (envelope[0] != kEnvelopeVersion1) {
    return Status::Error(Code::kUnsupportedVersion,
                         "envelope version " + std::to_string(envelope[0]) + " (this build reads 1)");
  }
  if (envelope.size() < kMinEnvelopeV1Bytes) return Malformed("too short");
  if (envelope.size() > kMaxEnvelopeV1Bytes) return Malformed("over the size limit");

  const ByteView ephemeral_pk = envelope.subspan(kEphemeralOffset, kDhPublicKeyBytes);
  const ByteView nonce = envelope.subspan(kNonceOffset, kXNonceBytes);
  const ByteView ciphertext = envelope.subspan(kCiphertextOffset);

  LIAISON_ASSIGN_OR_RETURN(const AeadKey key, DeriveKey(recipient.secret_key, ephemeral_pk,
                                                        ephemeral_pk, recipient.public_key));
  const Bytes ad = AssociatedData(ephemeral_pk, expected_message_id, recipient_address);
  LIAISON_ASSIGN_OR_RETURN(Bytes inner_bytes, XChaChaOpen(key, nonce, ciphertext, ad));
  const WipedBytes inner(std::move(inner_bytes));

  // inner = u8 len(sender) | sender | u32be len(plaintext) | plaintext | signature:64
  ByteView rest = inner.view();
  if (rest.empty()) return Malformed("inner: missing sender length");
  const size_t sender_len = rest[0];
  rest = rest.subspan(1);
  if (sender_len == 0 || sender_len > kMaxAddressBytes) {
    return Malformed("inner: sender address length out of range");
  }
  if (rest.size() < sender_len + 4) return Malformed("inner: truncated sender address");
  const std::string_view sender = AsChars(rest.first(sender_len));
  rest = rest.subspan(sender_len);
  const size_t plaintext_len = static_cast<size_t>(rest[0]) << 24 |
                               static_cast<size_t>(rest[1]) << 16 |
                               static_cast<size_t>(rest[2]) << 8 | static_cast<size_t>(rest[3]);
  rest = rest.subspan(4);
  if (plaintext_len > kMaxPlaintextBytes) return Malformed("inner: plaintext over the limit");
  if (rest.size() < plaintext_len + kSignatureBytes) return Malformed("inner: truncated");
  if (rest.size() > plaintext_len + kSignatureBytes) return Malformed("inner: trailing bytes");
  const ByteView plaintext = rest.first(plaintext_len);
  const ByteView signature = rest.subspan(plaintext_len);

  Result<SignPublicKey> sender_key = lookup_sender(sender);
  if (!sender_key.ok()) {
    return Status::Error(Code::kUnauthenticated, "sender key lookup failed")
        .WithContext(sender_key.status().ToString());
  }
  {
    WipedBytes signed_data;
    SignedData(ephemeral_pk, recipient.public_key, expected_message_id, sender, recipient_address,
               plaintext, signed_data);
    LIAISON_RETURN_IF_ERROR(VerifyDetached(*sender_key, signed_data.view(), signature));
  }

  OpenedEnvelope opened;
  opened.sender_address = std::string(sender);
  opened.message_id = expected_message_id;
  opened.plaintext.assign(plaintext.begin(), plaintext.end());
  return opened;
}

}  // namespace liaison::crypto
