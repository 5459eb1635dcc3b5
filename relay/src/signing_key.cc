#include "relay/signing_key.h"

#include <sodium.h>

#include <filesystem>

#include "base/bytes.h"
#include "base/file_util.h"

namespace liaison::relay {

Result<crypto::SigningKeyPair> LoadOrCreateSigningKey(const RelayConfig& config) {
  const std::string secret_path = config.SigningSecretKeyPath();
  const std::string public_path = config.SigningPublicKeyPath();
  const bool have_secret = std::filesystem::exists(secret_path);
  const bool have_public = std::filesystem::exists(public_path);
  if (!have_secret && !have_public) {
    crypto::SigningKeyPair fresh = crypto::SigningKeyPair::Generate();
    std::string hex(2 * crypto::kSignSecretKeyBytes + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), fresh.secret_key.data(), fresh.secret_key.size());
    hex.pop_back();
    Status written = WriteFileAtomically(secret_path, hex + "\n", 0600);
    sodium_memzero(hex.data(), hex.size());
    LIAISON_RETURN_IF_ERROR(written);
    LIAISON_RETURN_IF_ERROR(WriteFileAtomically(public_path, ToHex(fresh.public_key) + "\n", 0644));
    return fresh;
  }
  if (!have_secret || !have_public) {
    return Status::Error(Code::kCorruption, "only one of relay.sign.key and relay.sign.pub exists in " + config.data_dir +
                                                "; restore the other from a backup or remove both to make a new key");
  }
  LIAISON_ASSIGN_OR_RETURN(std::string text, ReadFile(secret_path, 256));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  crypto::SecretBytes<crypto::kSignSecretKeyBytes> secret;
  size_t length = 0;
  const int rc = sodium_hex2bin(secret.data(), secret.size(), text.data(), text.size(), nullptr, &length, nullptr);
  sodium_memzero(text.data(), text.size());
  if (rc != 0 || length != crypto::kSignSecretKeyBytes) {
    return Status::Error(Code::kCorruption, secret_path + " does not hold 128 hex characters");
  }
  auto pair = crypto::SigningKeyPair::FromSecret(std::move(secret));
  if (!pair.ok()) return Status::Error(Code::kCorruption, secret_path + " is not a valid Ed25519 secret key");
  LIAISON_ASSIGN_OR_RETURN(std::string public_text, ReadFile(public_path, 256));
  while (!public_text.empty() && (public_text.back() == '\n' || public_text.back() == '\r')) public_text.pop_back();
  if (public_text != ToHex(pair->public_key)) {
    return Status::Error(Code::kCorruption, public_path + " does not match relay.sign.key");
  }
  return std::move(pair).value();
}

}  // namespace liaison::relay
