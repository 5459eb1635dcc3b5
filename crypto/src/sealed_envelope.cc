#include "crypto/sealed_envelope.h"

#include <sodium.h>

#include <algorithm>
#include <span>

#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/wiped_bytes.h"
#include "crypto/x25519.h"

namespace liaison::crypto {
namespace {

constexpr std::string_view kSealInfo = "liaison/v2/envelope/seal";
constexpr uint8_t kFlagInitial = 0x01;
constexpr size_t kRosterHashBytes = 32;

bool AddressLengthOk(std::string_view address) { return !address.empty() && address.size() <= kMaxAddressBytes; }

Status Malformed(const char* what) { return Status::Error(Code::kMalformed, std::string("envelope v2: ") + what); }

// The AEAD key and nonce of one envelope, in sodium_malloc'd memory.
struct SealKeys {
  AeadKey key;
  SecretBytes<kXNonceBytes> nonce;
};

Result<SealKeys> DeriveSealKeys(const SecretBytes<kDhSecretKeyBytes>& dh_secret, ByteView dh_peer,
                                ByteView ephemeral_pk, ByteView recipient_pk) {
  LIAISON_ASSIGN_OR_RETURN(SecretBytes<32> shared, X25519(dh_secret, dh_peer));
  uint8_t salt[2 * kDhPublicKeyBytes];
  std::copy(ephemeral_pk.begin(), ephemeral_pk.end(), salt);
  std::copy(recipient_pk.begin(), recipient_pk.end(), salt + kDhPublicKeyBytes);
  uint8_t okm[kAeadKeyBytes + kXNonceBytes];
  Status derived = HkdfSha256(shared.view(), salt, AsBytes(kSealInfo), okm);
  SealKeys keys;
  std::copy(okm, okm + kAeadKeyBytes, keys.key.data());
  std::copy(okm + kAeadKeyBytes, okm + sizeof okm, keys.nonce.data());
  sodium_memzero(okm, sizeof okm);
  LIAISON_RETURN_IF_ERROR(derived);
  return keys;
}

Bytes AssociatedData(ByteView ephemeral_pk, const MessageId& message_id, std::string_view recipient) {
  Bytes ad;
  ad.reserve(1 + kDhPublicKeyBytes + message_id.size() + 1 + recipient.size());
  ad.push_back(kEnvelopeVersion2);
  ad.insert(ad.end(), ephemeral_pk.begin(), ephemeral_pk.end());
  ad.insert(ad.end(), message_id.begin(), message_id.end());
  ad.push_back(static_cast<uint8_t>(recipient.size()));
  ad.insert(ad.end(), recipient.begin(), recipient.end());
  return ad;
}

size_t UnpaddedContentBytes(const SealedContent& content) {
  return 3 + content.sender_address.size() + kRosterHashBytes +
         (content.initial ? kInitialMessageHeaderV1Bytes : 0) + 4 + content.ratchet_message.size();
}

}  // namespace

Result<size_t> EnvelopeBucket(size_t unpadded_bytes) {
  for (size_t bucket : kEnvelopeBuckets) {
    if (unpadded_bytes <= bucket) return bucket;
  }
  return Status::Error(Code::kTooLarge, "an envelope of " + std::to_string(unpadded_bytes) +
                                            " bytes is over the largest bucket (" +
                                            std::to_string(kEnvelopeBuckets.back()) + ")");
}

Result<Bytes> SealEnvelopeV2(const SealedContent& content, std::string_view recipient_address,
                             const DhPublicKey& recipient_identity, const MessageId& message_id) {
  if (!AddressLengthOk(content.sender_address)) {
    return Status::Error(Code::kInvalidArgument, "sender address must be 1..64 bytes");
  }
  if (!AddressLengthOk(recipient_address)) {
    return Status::Error(Code::kInvalidArgument, "recipient address must be 1..64 bytes");
  }
  if (content.ratchet_message.empty() || content.ratchet_message.size() > kMaxRatchetMessageBytes) {
    return Status::Error(Code::kInvalidArgument, "a ratchet message has 1.." +
                                                     std::to_string(kMaxRatchetMessageBytes) + " bytes");
  }
  if (content.initial && content.initial->version != kX3dhVersion1) {
    return Status::Error(Code::kInvalidArgument, "only v1 initial message headers can be sealed");
  }
  const size_t unpadded = UnpaddedContentBytes(content);
  LIAISON_ASSIGN_OR_RETURN(const size_t bucket, EnvelopeBucket(kEnvelopeV2HeadBytes + unpadded + kAeadTagBytes));
  const size_t padded = bucket - kEnvelopeV2HeadBytes - kAeadTagBytes;

  WipedBytes sealed;
  sealed.bytes().reserve(padded);
  sealed.AppendU8(kSealedContentVersion1);
  sealed.AppendU8(content.initial ? kFlagInitial : 0);
  sealed.AppendU8(static_cast<uint8_t>(content.sender_address.size()));
  sealed.Append(content.sender_address);
  sealed.Append(content.roster_hash);
  if (content.initial) sealed.Append(EncodeInitialMessageHeader(*content.initial));
  sealed.AppendU32Be(static_cast<uint32_t>(content.ratchet_message.size()));
  sealed.Append(content.ratchet_message);
  sealed.bytes().resize(padded, 0);

  const DhKeyPair ephemeral = DhKeyPair::Generate();
  LIAISON_ASSIGN_OR_RETURN(const SealKeys keys, DeriveSealKeys(ephemeral.secret_key, recipient_identity,
                                                               ephemeral.public_key, recipient_identity));
  const Bytes ad = AssociatedData(ephemeral.public_key, message_id, recipient_address);
  LIAISON_ASSIGN_OR_RETURN(const Bytes ciphertext, XChaChaSeal(keys.key, keys.nonce.view(), sealed.view(), ad));

  Bytes envelope;
  envelope.reserve(bucket);
  envelope.push_back(kEnvelopeVersion2);
  envelope.insert(envelope.end(), ephemeral.public_key.begin(), ephemeral.public_key.end());
  envelope.insert(envelope.end(), ciphertext.begin(), ciphertext.end());
  return envelope;
}

Result<SealedContent> OpenEnvelopeV2(ByteView envelope, std::string_view recipient_address,
                                     const DhKeyPair& recipient_identity, const MessageId& message_id) {
  if (!AddressLengthOk(recipient_address)) {
    return Status::Error(Code::kInvalidArgument, "recipient address must be 1..64 bytes");
  }
  if (envelope.empty()) return Malformed("empty");
  if (envelope[0] != kEnvelopeVersion2) {
    return Status::Error(Code::kUnsupportedVersion, "envelope version " + std::to_string(envelope[0]) +
                                                        " is not 2");
  }
  if (std::find(kEnvelopeBuckets.begin(), kEnvelopeBuckets.end(), envelope.size()) == kEnvelopeBuckets.end()) {
    return Malformed("size is not a bucket");
  }
  const ByteView ephemeral_pk = envelope.subspan(1, kDhPublicKeyBytes);
  LIAISON_ASSIGN_OR_RETURN(const SealKeys keys, DeriveSealKeys(recipient_identity.secret_key, ephemeral_pk,
                                                               ephemeral_pk, recipient_identity.public_key));
  const Bytes ad = AssociatedData(ephemeral_pk, message_id, recipient_address);
  LIAISON_ASSIGN_OR_RETURN(Bytes opened, XChaChaOpen(keys.key, keys.nonce.view(), envelope.subspan(kEnvelopeV2HeadBytes), ad));
  const WipedBytes sealed(std::move(opened));

  ByteView rest = sealed.view();
  if (rest.size() < 3) return Malformed("content too short");
  if (rest[0] != kSealedContentVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "sealed content version " + std::to_string(rest[0]) +
                                                        " is not 1");
  }
  const uint8_t flags = rest[1];
  if ((flags & ~kFlagInitial) != 0) return Malformed("unknown flags");
  const size_t sender_len = rest[2];
  rest = rest.subspan(3);
  if (sender_len == 0 || sender_len > kMaxAddressBytes) return Malformed("sender address length out of range");
  if (rest.size() < sender_len + kRosterHashBytes) return Malformed("truncated sender");
  SealedContent content;
  content.sender_address.assign(AsChars(rest.first(sender_len)));
  rest = rest.subspan(sender_len);
  std::copy_n(rest.begin(), kRosterHashBytes, content.roster_hash.begin());
  rest = rest.subspan(kRosterHashBytes);
  if (flags & kFlagInitial) {
    if (rest.size() < kInitialMessageHeaderV1Bytes) return Malformed("truncated initial message header");
    auto header = DecodeInitialMessageHeader(rest.first(kInitialMessageHeaderV1Bytes));
    if (!header.ok()) return header.status().WithContext("envelope v2");
    content.initial = std::move(header).value();
    rest = rest.subspan(kInitialMessageHeaderV1Bytes);
  }
  if (rest.size() < 4) return Malformed("truncated ratchet message length");
  const size_t message_len = static_cast<size_t>(rest[0]) << 24 | static_cast<size_t>(rest[1]) << 16 |
                             static_cast<size_t>(rest[2]) << 8 | static_cast<size_t>(rest[3]);
  rest = rest.subspan(4);
  if (message_len == 0 || message_len > kMaxRatchetMessageBytes) return Malformed("ratchet message length out of range");
  if (rest.size() < message_len) return Malformed("truncated ratchet message");
  content.ratchet_message.assign(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(message_len));
  const ByteView padding = rest.subspan(message_len);
  if (!std::all_of(padding.begin(), padding.end(), [](uint8_t b) { return b == 0; })) {
    return Malformed("non-zero padding");
  }
  // The smallest bucket that fits is the only valid one: a larger one is a second encoding.
  LIAISON_ASSIGN_OR_RETURN(const size_t bucket, EnvelopeBucket(kEnvelopeV2HeadBytes + UnpaddedContentBytes(content) + kAeadTagBytes));
  if (bucket != envelope.size()) return Malformed("padded beyond its bucket");
  return content;
}

}  // namespace liaison::crypto
