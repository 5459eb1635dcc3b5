#include "client/src/key_bundle.h"

#include <algorithm>

#include "crypto/sign.h"

namespace liaison::client {

namespace {
constexpr std::string_view kDomain = "liaison/v1/bundle";

Bytes SignedPart(std::string_view address, const crypto::SignPublicKey& signing, const crypto::DhPublicKey& dh) {
  Bytes out(kDomain.begin(), kDomain.end());
  out.push_back(static_cast<uint8_t>(address.size()));
  out.insert(out.end(), address.begin(), address.end());
  out.insert(out.end(), signing.begin(), signing.end());
  out.insert(out.end(), dh.begin(), dh.end());
  return out;
}
}  // namespace

Bytes EncodeKeyBundle(std::string_view address, const crypto::SigningKeyPair& signing, const crypto::DhPublicKey& dh) {
  const crypto::Signature signature =
      crypto::SignDetached(signing.secret_key, SignedPart(address, signing.public_key, dh));
  Bytes out;
  out.push_back(kKeyBundleVersion1);
  out.insert(out.end(), signing.public_key.begin(), signing.public_key.end());
  out.insert(out.end(), dh.begin(), dh.end());
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

Result<KeyBundle> DecodeKeyBundle(std::string_view address, ByteView bundle) {
  if (bundle.empty()) return Status::Error(Code::kMalformed, "empty key bundle");
  if (bundle[0] != kKeyBundleVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "key bundle version " + std::to_string(bundle[0]));
  }
  if (bundle.size() != kKeyBundleV1Bytes) return Status::Error(Code::kMalformed, "key bundle of wrong size");
  KeyBundle out;
  std::copy_n(bundle.begin() + 1, 32, out.signing_key.begin());
  std::copy_n(bundle.begin() + 33, 32, out.dh_key.begin());
  LIAISON_RETURN_IF_ERROR(crypto::VerifyDetached(out.signing_key, SignedPart(address, out.signing_key, out.dh_key),
                                                 bundle.subspan(65, 64))
                              .WithContext("key bundle of " + std::string(address)));
  return out;
}

namespace {
void AppendBe32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
uint32_t GetBe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         static_cast<uint32_t>(p[3]);
}
Status CheckRecord(ByteView bytes, size_t size, const char* what) {
  if (bytes.empty()) return Status::Error(Code::kMalformed, std::string("empty ") + what);
  if (bytes[0] != kPrekeyRecordVersion1) {
    return Status::Error(Code::kUnsupportedVersion, std::string(what) + " version " + std::to_string(bytes[0]));
  }
  if (bytes.size() != size) return Status::Error(Code::kMalformed, std::string(what) + " of wrong size");
  return Status::Ok();
}
}  // namespace

Bytes EncodeSignedPrekeyRecord(const SignedPrekeyRecord& record) {
  Bytes out{kPrekeyRecordVersion1};
  AppendBe32(out, record.id);
  out.insert(out.end(), record.public_key.begin(), record.public_key.end());
  out.insert(out.end(), record.signature.begin(), record.signature.end());
  return out;
}

Bytes EncodeOneTimePrekeyRecord(const crypto::OneTimePrekeyPublic& record) {
  Bytes out{kPrekeyRecordVersion1};
  AppendBe32(out, record.id);
  out.insert(out.end(), record.public_key.begin(), record.public_key.end());
  return out;
}

Result<SignedPrekeyRecord> DecodeSignedPrekeyRecord(ByteView bytes) {
  LIAISON_RETURN_IF_ERROR(CheckRecord(bytes, kSignedPrekeyRecordV1Bytes, "signed prekey record"));
  SignedPrekeyRecord record;
  record.id = GetBe32(bytes.data() + 1);
  std::copy_n(bytes.begin() + 5, 32, record.public_key.begin());
  std::copy_n(bytes.begin() + 37, 64, record.signature.begin());
  return record;
}

Result<crypto::OneTimePrekeyPublic> DecodeOneTimePrekeyRecord(ByteView bytes) {
  LIAISON_RETURN_IF_ERROR(CheckRecord(bytes, kOneTimePrekeyRecordV1Bytes, "one-time prekey record"));
  crypto::OneTimePrekeyPublic record;
  record.id = GetBe32(bytes.data() + 1);
  std::copy_n(bytes.begin() + 5, 32, record.public_key.begin());
  return record;
}

}  // namespace liaison::client
