// A device's public key bundle as published to the relay (internal to client/).
//
//   bundle = version:u8 (=1) | signing_pk:32 | dh_pk:32 | signature:64
//   signature = Ed25519(signing_sk, "liaison/v1/bundle" | u8 len | address | signing_pk | dh_pk)
//
// The signature binds the DH key to the address and signing key. Until the coordinator-signed
// roster exists, the first bundle seen for an address is pinned (trust on first use).
//
// Prekey records, published with PUBLISH_PREKEYS and opaque to the relay:
//   signed_prekey_record_v1   = version:u8 (=1) | id:u32be | public:32 | signature:64   (101 bytes)
//   one_time_prekey_record_v1 = version:u8 (=1) | id:u32be | public:32                  (37 bytes)
// where signature = SignSignedPrekey(signing_sk, id, public) (crypto/x3dh.h).
#ifndef LIAISON_CLIENT_SRC_KEY_BUNDLE_H_
#define LIAISON_CLIENT_SRC_KEY_BUNDLE_H_

#include <string_view>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "crypto/x3dh.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr uint8_t kKeyBundleVersion1 = 1;
inline constexpr size_t kKeyBundleV1Bytes = 1 + 32 + 32 + 64;

struct KeyBundle {
  crypto::SignPublicKey signing_key{};
  crypto::DhPublicKey dh_key{};
};

Bytes EncodeKeyBundle(std::string_view address, const crypto::SigningKeyPair& signing, const crypto::DhPublicKey& dh);
// kUnsupportedVersion, kMalformed (wrong size) or kUnauthenticated (bad signature).
Result<KeyBundle> DecodeKeyBundle(std::string_view address, ByteView bundle);

inline constexpr uint8_t kPrekeyRecordVersion1 = 1;
inline constexpr size_t kSignedPrekeyRecordV1Bytes = 1 + 4 + 32 + 64;
inline constexpr size_t kOneTimePrekeyRecordV1Bytes = 1 + 4 + 32;

struct SignedPrekeyRecord {
  uint32_t id = 0;
  crypto::DhPublicKey public_key{};
  crypto::Signature signature{};
};

Bytes EncodeSignedPrekeyRecord(const SignedPrekeyRecord& record);
Bytes EncodeOneTimePrekeyRecord(const crypto::OneTimePrekeyPublic& record);
// kUnsupportedVersion or kMalformed (wrong size). The signature is checked by X3dhInitiate.
Result<SignedPrekeyRecord> DecodeSignedPrekeyRecord(ByteView bytes);
Result<crypto::OneTimePrekeyPublic> DecodeOneTimePrekeyRecord(ByteView bytes);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_KEY_BUNDLE_H_
