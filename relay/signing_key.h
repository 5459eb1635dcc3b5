// The relay's Ed25519 signing key, with which it signs submission receipts for alerts and
// reports (wire/broadcast.h). Separate from its CURVE key: a receipt must be checkable by a
// third party from a published public key, without any transport in between.
//
// Files in the data directory: relay.sign.key (0600, 128 hex characters: libsodium's 64-byte
// secret key) and relay.sign.pub (0644, 64 hex characters).
//
// Thread-safety: LoadOrCreateSigningKey touches files; call it from one thread.
#ifndef LIAISON_RELAY_SIGNING_KEY_H_
#define LIAISON_RELAY_SIGNING_KEY_H_

#include <string>

#include "crypto/keys.h"
#include "liaison/status.h"
#include "relay/config.h"

namespace liaison::relay {

// Reads the relay's signing key, or makes one and writes both files (durably) if neither file
// exists, as for a data directory made before receipts existed. Errors: kCorruption (a file is
// damaged, or only one of the two exists), kIoError.
Result<crypto::SigningKeyPair> LoadOrCreateSigningKey(const RelayConfig& config);

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_SIGNING_KEY_H_
