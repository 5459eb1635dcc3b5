#include "crypto/keys.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace liaison::crypto {

SigningKeyPair SigningKeyPair::Generate() {
  SigningKeyPair pair{{}, SecretBytes<kSignSecretKeyBytes>()};
  // crypto_sign_keypair cannot fail; it returns 0 unconditionally.
  (void)crypto_sign_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

Result<SigningKeyPair> SigningKeyPair::FromSecret(SecretBytes<kSignSecretKeyBytes> secret) {
  static_assert(crypto_sign_SEEDBYTES + kSignPublicKeyBytes == kSignSecretKeyBytes);
  // Recompute the whole key from the seed and compare: this catches a public half that does not
  // belong to the seed, which would make every signature fail to verify (or worse, make
  // signatures verify under a key the holder does not control).
  SigningKeyPair pair{{}, SecretBytes<kSignSecretKeyBytes>()};
  (void)crypto_sign_seed_keypair(pair.public_key.data(), pair.secret_key.data(), secret.data());
  if (!pair.secret_key.Equals(secret)) {
    return Status::Error(Code::kInvalidArgument,
                         "signing secret key: second half is not the public key of the seed");
  }
  return pair;
}

DhKeyPair DhKeyPair::Generate() { return FromSecret(SecretBytes<kDhSecretKeyBytes>::Random()); }

DhKeyPair DhKeyPair::FromSecret(SecretBytes<kDhSecretKeyBytes> secret) {
  DhKeyPair pair{{}, std::move(secret)};
  if (crypto_scalarmult_base(pair.public_key.data(), pair.secret_key.data()) != 0) {
    // Cannot happen for X25519: a clamped scalar times the base point is never the identity.
    std::fprintf(stderr, "liaison: crypto_scalarmult_base failed\n");
    std::abort();
  }
  return pair;
}

}  // namespace liaison::crypto
