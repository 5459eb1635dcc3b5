// Secrets at rest under a passphrase: Argon2id (crypto_pwhash) derives a key that seals the
// secret with XSalsa20-Poly1305 (crypto_secretbox). Used for the coordinator's key file.
//
//   box := "LPB1" | opslimit:u64be | memlimit:u64be | salt:16 | nonce:24 | secretbox(secret)
//
// The cost parameters travel in the box so that a later build can raise its defaults and still
// open older files. The header is bound to the key: the Argon2id salt is BLAKE2b-128 of the whole
// header (magic, costs, random salt, nonce), so a changed byte yields another key and the box
// fails to open; costs outside a fixed range are refused before any derivation.
//
// Thread-safety: pure functions; each call allocates Argon2id's memory (memlimit bytes).
#ifndef LIAISON_CRYPTO_PASSPHRASE_BOX_H_
#define LIAISON_CRYPTO_PASSPHRASE_BOX_H_

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "crypto/wiped_bytes.h"
#include "liaison/status.h"

namespace liaison::crypto {

// Argon2id cost. kModerate (libsodium's MODERATE: 3 passes, 256 MiB, about a second here) is
// for keys that are opened rarely and by a person, such as the coordinator's.
struct PassphraseCost {
  uint64_t opslimit;
  uint64_t memlimit;
};
PassphraseCost ModeratePassphraseCost();
// libsodium's INTERACTIVE (2 passes, 64 MiB): the least the reader accepts.
PassphraseCost InteractivePassphraseCost();

// Seals `secret` under `passphrase`. kInvalidArgument for an empty passphrase; kInternal if
// Argon2id cannot get its memory.
Result<Bytes> SealWithPassphrase(ByteView secret, std::string_view passphrase, PassphraseCost cost);

// Opens a box. kUnauthenticated for a wrong passphrase or any change to the box (deliberately
// not distinguished); kMalformed for a box too short or with the wrong magic;
// kInvalidArgument for cost parameters below InteractivePassphraseCost() or above 1 GiB / 16
// passes (a file cannot make the reader do endless or trivially cheap work).
Result<WipedBytes> OpenWithPassphrase(ByteView box, std::string_view passphrase);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_PASSPHRASE_BOX_H_
