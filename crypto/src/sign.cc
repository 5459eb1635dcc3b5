#include "crypto/sign.h"

namespace liaison::crypto {

Signature SignDetached(const SecretBytes<kSignSecretKeyBytes>& secret_key, ByteView message) {
  Signature sig;
  // crypto_sign_detached returns 0 unconditionally.
  (void)crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                             secret_key.data());
  return sig;
}

Status VerifyDetached(const SignPublicKey& public_key, ByteView message, ByteView signature) {
  if (signature.size() != kSignatureBytes ||
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  public_key.data()) != 0) {
    return Status::Error(Code::kUnauthenticated, "signature verification failed");
  }
  return Status::Ok();
}

}  // namespace liaison::crypto
