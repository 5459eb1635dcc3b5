#include "crypto/x25519.h"

#include <string>

namespace liaison::crypto {

Result<SecretBytes<32>> X25519(const SecretBytes<kDhSecretKeyBytes>& secret, ByteView peer_public) {
  if (peer_public.size() != kDhPublicKeyBytes) {
    return Status::Error(Code::kInvalidArgument, "X25519 public key must be 32 bytes, got " +
                                                     std::to_string(peer_public.size()));
  }
  SecretBytes<32> shared;
  if (crypto_scalarmult(shared.data(), secret.data(), peer_public.data()) != 0) {
    return Status::Error(Code::kUnauthenticated, "X25519 with a low-order public key");
  }
  return shared;
}

}  // namespace liaison::crypto
