// A device's public key bundle as published to the relay (internal to client/).
//
//   bundle = version:u8 (=1) | signing_pk:32 | dh_pk:32 | signature:64
//   signature = Ed25519(signing_sk, "liaison/v1/bundle" | u8 len | address | signing_pk | dh_pk)
//
// The signature binds the DH key to the address and signing key. Until the coordinator-signed
// roster exists, the first bundle seen for an address is pinned (trust on first use).
#ifndef LIAISON_CLIENT_SRC_KEY_BUNDLE_H_
#define LIAISON_CLIENT_SRC_KEY_BUNDLE_H_

#include <string_view>

#include "base/bytes.h"
#include "crypto/keys.h"
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

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_KEY_BUNDLE_H_
