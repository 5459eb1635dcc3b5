// Passphrase boxes (crypto/passphrase_box.h).
#include "crypto/passphrase_box.h"

#include <sodium.h>

#include <cstring>

#include "crypto/hash.h"

namespace liaison::crypto {
namespace {

constexpr char kMagic[4] = {'L', 'P', 'B', '1'};
constexpr size_t kSaltBytes = crypto_pwhash_SALTBYTES;  // 16
constexpr size_t kHeaderBytes = 4 + 8 + 8 + kSaltBytes + crypto_secretbox_NONCEBYTES;
// The most a box may ask for: libsodium's SENSITIVE memory (1 GiB) and four times its passes
// (16), a few seconds at worst; beyond that a planted file could keep the reader busy for hours.
constexpr uint64_t kMaxMemlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
constexpr uint64_t kMaxOpslimit = 4 * crypto_pwhash_OPSLIMIT_SENSITIVE;

// The Argon2id salt: BLAKE2b-128 over the whole header, so that every header byte (magic, cost,
// salt, nonce) is bound to the key.
std::array<uint8_t, kSaltBytes> SaltFor(ByteView header) { return GenericHash<kSaltBytes>(header); }

Status DeriveKey(ByteView header, std::string_view passphrase, uint64_t opslimit, uint64_t memlimit, uint8_t* key) {
  const auto salt = SaltFor(header);
  if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase.data(), passphrase.size(), salt.data(), opslimit,
                    static_cast<size_t>(memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Error(Code::kInternal, "Argon2id could not allocate " + std::to_string(memlimit >> 20) + " MiB");
  }
  return Status::Ok();
}

}  // namespace

PassphraseCost ModeratePassphraseCost() { return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE}; }
PassphraseCost InteractivePassphraseCost() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

Result<Bytes> SealWithPassphrase(ByteView secret, std::string_view passphrase, PassphraseCost cost) {
  if (passphrase.empty()) return Status::Error(Code::kInvalidArgument, "the passphrase is empty");
  Bytes box(kHeaderBytes + crypto_secretbox_MACBYTES + secret.size());
  std::memcpy(box.data(), kMagic, 4);
  PutBigEndian64(cost.opslimit, box.data() + 4);
  PutBigEndian64(cost.memlimit, box.data() + 12);
  randombytes_buf(box.data() + 20, kSaltBytes + crypto_secretbox_NONCEBYTES);
  uint8_t* key = static_cast<uint8_t*>(sodium_malloc(crypto_secretbox_KEYBYTES));
  if (key == nullptr) return Status::Error(Code::kInternal, "sodium_malloc failed");
  Status derived = DeriveKey(ByteView(box.data(), kHeaderBytes), passphrase, cost.opslimit, cost.memlimit, key);
  if (derived.ok()) {
    crypto_secretbox_easy(box.data() + kHeaderBytes, secret.data(), secret.size(), box.data() + 20 + kSaltBytes, key);
  }
  sodium_free(key);
  LIAISON_RETURN_IF_ERROR(derived);
  return box;
}

Result<WipedBytes> OpenWithPassphrase(ByteView box, std::string_view passphrase) {
  if (box.size() < kHeaderBytes + crypto_secretbox_MACBYTES || std::memcmp(box.data(), kMagic, 4) != 0) {
    return Status::Error(Code::kMalformed, "not a liaison passphrase box (LPB1)");
  }
  const uint64_t opslimit = GetBigEndian64(box.data() + 4);
  const uint64_t memlimit = GetBigEndian64(box.data() + 12);
  const PassphraseCost least = InteractivePassphraseCost();
  if (opslimit < least.opslimit || memlimit < least.memlimit || opslimit > kMaxOpslimit || memlimit > kMaxMemlimit) {
    return Status::Error(Code::kInvalidArgument, "the box's Argon2id cost is outside the accepted range");
  }
  uint8_t* key = static_cast<uint8_t*>(sodium_malloc(crypto_secretbox_KEYBYTES));
  if (key == nullptr) return Status::Error(Code::kInternal, "sodium_malloc failed");
  Status derived = DeriveKey(box.first(kHeaderBytes), passphrase, opslimit, memlimit, key);
  WipedBytes secret(Bytes(box.size() - kHeaderBytes - crypto_secretbox_MACBYTES));
  bool opened = false;
  if (derived.ok()) {
    opened = crypto_secretbox_open_easy(secret.bytes().data(), box.data() + kHeaderBytes, box.size() - kHeaderBytes,
                                        box.data() + 20 + kSaltBytes, key) == 0;
  }
  sodium_free(key);
  LIAISON_RETURN_IF_ERROR(derived);
  if (!opened) return Status::Error(Code::kUnauthenticated, "wrong passphrase, or the key file was changed");
  return secret;
}

}  // namespace liaison::crypto
