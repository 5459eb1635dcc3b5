#include "crypto/aead.h"

#include <string>

namespace liaison::crypto {
namespace {

// The libsodium entry points of one AEAD construction, so that both share one wrapper.
struct Construction {
  const char* name;
  size_t nonce_bytes;
  size_t max_message_bytes;
  int (*encrypt)(unsigned char* c, unsigned long long* clen_p, const unsigned char* m,
                 unsigned long long mlen, const unsigned char* ad, unsigned long long adlen,
                 const unsigned char* nsec, const unsigned char* npub, const unsigned char* k);
  int (*decrypt)(unsigned char* m, unsigned long long* mlen_p, unsigned char* nsec,
                 const unsigned char* c, unsigned long long clen, const unsigned char* ad,
                 unsigned long long adlen, const unsigned char* npub, const unsigned char* k);
};

const Construction kXChaCha = {
    "XChaCha20-Poly1305", kXNonceBytes, crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX,
    crypto_aead_xchacha20poly1305_ietf_encrypt, crypto_aead_xchacha20poly1305_ietf_decrypt};
const Construction kChaChaIetf = {
    "ChaCha20-Poly1305", kIetfNonceBytes, crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX,
    crypto_aead_chacha20poly1305_ietf_encrypt, crypto_aead_chacha20poly1305_ietf_decrypt};

Status CheckNonce(const Construction& c, ByteView nonce) {
  if (nonce.size() != c.nonce_bytes) {
    return Status::Error(Code::kInvalidArgument, std::string(c.name) + " nonce must be " +
                                                     std::to_string(c.nonce_bytes) +
                                                     " bytes, got " + std::to_string(nonce.size()));
  }
  return Status::Ok();
}

Result<Bytes> Seal(const Construction& c, const AeadKey& key, ByteView nonce, ByteView plaintext,
                   ByteView ad) {
  LIAISON_RETURN_IF_ERROR(CheckNonce(c, nonce));
  if (plaintext.size() > c.max_message_bytes) {
    return Status::Error(Code::kInvalidArgument, std::string(c.name) + " plaintext too long");
  }
  Bytes out(plaintext.size() + kAeadTagBytes);
  unsigned long long out_len = 0;
  if (c.encrypt(out.data(), &out_len, plaintext.data(), plaintext.size(), ad.data(), ad.size(),
                nullptr, nonce.data(), key.data()) != 0 ||
      out_len != out.size()) {
    return Status::Error(Code::kInternal, std::string(c.name) + " encryption failed");
  }
  return out;
}

Result<Bytes> Open(const Construction& c, const AeadKey& key, ByteView nonce, ByteView ciphertext,
                   ByteView ad) {
  LIAISON_RETURN_IF_ERROR(CheckNonce(c, nonce));
  if (ciphertext.size() < kAeadTagBytes) {
    return Status::Error(Code::kUnauthenticated, std::string(c.name) + " decryption failed");
  }
  Bytes out(ciphertext.size() - kAeadTagBytes);
  unsigned long long out_len = 0;
  // libsodium computes and checks the tag first; on failure it zeroes `out` and returns -1.
  if (c.decrypt(out.data(), &out_len, nullptr, ciphertext.data(), ciphertext.size(), ad.data(),
                ad.size(), nonce.data(), key.data()) != 0 ||
      out_len != out.size()) {
    return Status::Error(Code::kUnauthenticated, std::string(c.name) + " decryption failed");
  }
  return out;
}

}  // namespace

Result<Bytes> XChaChaSeal(const AeadKey& key, ByteView nonce, ByteView plaintext, ByteView ad) {
  return Seal(kXChaCha, key, nonce, plaintext, ad);
}
Result<Bytes> XChaChaOpen(const AeadKey& key, ByteView nonce, ByteView ciphertext, ByteView ad) {
  return Open(kXChaCha, key, nonce, ciphertext, ad);
}
Result<Bytes> ChaChaIetfSeal(const AeadKey& key, ByteView nonce, ByteView plaintext, ByteView ad) {
  return Seal(kChaChaIetf, key, nonce, plaintext, ad);
}
Result<Bytes> ChaChaIetfOpen(const AeadKey& key, ByteView nonce, ByteView ciphertext, ByteView ad) {
  return Open(kChaChaIetf, key, nonce, ciphertext, ad);
}

}  // namespace liaison::crypto
