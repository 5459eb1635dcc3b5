#include "crypto/x3dh.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "crypto/hkdf.h"
#include "crypto/sign.h"
#include "crypto/x25519.h"

namespace liaison::crypto {
namespace {

constexpr std::string_view kSpkSignatureContext = "liaison/v1/spk";
constexpr std::string_view kX3dhInfo = "liaison/v1/x3dh";
constexpr uint8_t kFlagOneTimePrekey = 0x01;

// ikm = F | DH1 | DH2 | DH3 [| DH4]; the buffer is sized for four DH outputs.
constexpr size_t kDhBytes = 32;
constexpr size_t kFBytes = 32;
constexpr size_t kMaxIkmBytes = kFBytes + 4 * kDhBytes;

void PutU32Be(uint32_t v, uint8_t* out) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

uint32_t GetU32Be(const uint8_t* in) {
  return static_cast<uint32_t>(in[0]) << 24 | static_cast<uint32_t>(in[1]) << 16 |
         static_cast<uint32_t>(in[2]) << 8 | static_cast<uint32_t>(in[3]);
}

// Appends bytes at a moving position of a fixed-size output; the sizes are compile-time facts of
// the grammars, so an overrun is a bug caught by the final position check in each encoder.
class Writer {
 public:
  explicit Writer(std::span<uint8_t> out) : out_(out) {}
  void U8(uint8_t v) { out_[pos_++] = v; }
  void U32(uint32_t v) {
    PutU32Be(v, out_.data() + pos_);
    pos_ += 4;
  }
  void Raw(ByteView b) {
    std::copy(b.begin(), b.end(), out_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ += b.size();
  }
  void Zeros(size_t n) {
    std::fill_n(out_.begin() + static_cast<std::ptrdiff_t>(pos_), n, uint8_t{0});
    pos_ += n;
  }
  size_t pos() const { return pos_; }

 private:
  std::span<uint8_t> out_;
  size_t pos_ = 0;
};

// Reads from a view whose total length the caller has already checked.
class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  uint8_t U8() { return in_[pos_++]; }
  uint32_t U32() {
    const uint32_t v = GetU32Be(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  template <size_t N>
  std::array<uint8_t, N> Array() {
    std::array<uint8_t, N> a;
    std::copy_n(in_.begin() + static_cast<std::ptrdiff_t>(pos_), N, a.begin());
    pos_ += N;
    return a;
  }
  bool ZerosFollow(size_t n) const {
    return std::all_of(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                       in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n),
                       [](uint8_t b) { return b == 0; });
  }
  void Skip(size_t n) { pos_ += n; }

 private:
  ByteView in_;
  size_t pos_ = 0;
};

Status Malformed(const char* what, const std::string& detail) {
  return Status::Error(Code::kMalformed, std::string(what) + ": " + detail);
}

// Common front of both decoders: exact length and a known version.
Status CheckFront(ByteView bytes, size_t expected, const char* what) {
  if (bytes.empty()) return Malformed(what, "empty");
  if (bytes[0] != kX3dhVersion1) {
    return Status::Error(
        Code::kUnsupportedVersion,
        std::string(what) + " version " + std::to_string(bytes[0]) + " (this build reads 1)");
  }
  if (bytes.size() != expected) {
    return Malformed(
        what, "length " + std::to_string(bytes.size()) + ", expected " + std::to_string(expected));
  }
  return Status::Ok();
}

std::array<uint8_t, kSpkSignatureContext.size() + 4 + kDhPublicKeyBytes> SpkSignedData(
    uint32_t id, const DhPublicKey& spk) {
  std::array<uint8_t, kSpkSignatureContext.size() + 4 + kDhPublicKeyBytes> data;
  Writer w(data);
  w.Raw(AsBytes(kSpkSignatureContext));
  w.U32(id);
  w.Raw(spk);
  return data;
}

// The KDF input under construction: F followed by the DH outputs, in secret memory.
class KdfInput {
 public:
  KdfInput() { std::fill_n(ikm_.data(), kFBytes, uint8_t{0xFF}); }

  // Appends X25519(secret, peer); kUnauthenticated for a low-order peer key.
  Status AppendDh(const SecretBytes<kDhSecretKeyBytes>& secret, const DhPublicKey& peer) {
    LIAISON_ASSIGN_OR_RETURN(const SecretBytes<32> dh, X25519(secret, peer));
    std::copy_n(dh.data(), kDhBytes, ikm_.data() + used_);
    used_ += kDhBytes;
    return Status::Ok();
  }

  // SK = HKDF-SHA256(ikm, 32 zero bytes, kX3dhInfo, 32).
  Result<X3dhSharedSecret> DeriveSharedSecret() const {
    const uint8_t salt[kHmacSha256Bytes] = {};
    X3dhSharedSecret sk;
    LIAISON_RETURN_IF_ERROR(HkdfSha256(ByteView(ikm_.data(), used_), salt, AsBytes(kX3dhInfo),
                                       std::span<uint8_t>(sk.data(), sk.size())));
    return sk;
  }

 private:
  SecretBytes<kMaxIkmBytes> ikm_;  // wiped on destruction, whatever path returns
  size_t used_ = kFBytes;
};

X3dhAssociatedData AssociatedData(const DhPublicKey& initiator, const DhPublicKey& responder) {
  X3dhAssociatedData ad;
  std::copy(initiator.begin(), initiator.end(), ad.begin());
  std::copy(responder.begin(), responder.end(), ad.begin() + kDhPublicKeyBytes);
  return ad;
}

Status UnsupportedVersion(const char* what, uint8_t version) {
  return Status::Error(
      Code::kUnsupportedVersion,
      std::string(what) + " version " + std::to_string(version) + " (this build speaks 1)");
}

}  // namespace

Signature SignSignedPrekey(const SecretBytes<kSignSecretKeyBytes>& signing_secret,
                           uint32_t signed_prekey_id, const DhPublicKey& signed_prekey_public) {
  return SignDetached(signing_secret, SpkSignedData(signed_prekey_id, signed_prekey_public));
}

Status VerifySignedPrekey(const SignPublicKey& signing_public, uint32_t signed_prekey_id,
                          const DhPublicKey& signed_prekey_public, const Signature& signature) {
  return VerifyDetached(signing_public, SpkSignedData(signed_prekey_id, signed_prekey_public),
                        signature);
}

std::array<uint8_t, kPrekeyBundleV1Bytes> EncodePrekeyBundle(const PrekeyBundle& bundle) {
  std::array<uint8_t, kPrekeyBundleV1Bytes> out;
  Writer w(out);
  w.U8(bundle.version);
  w.U8(bundle.one_time_prekey ? kFlagOneTimePrekey : 0);
  w.Raw(bundle.identity_dh_public);
  w.Raw(bundle.identity_signing_public);
  w.U32(bundle.signed_prekey_id);
  w.Raw(bundle.signed_prekey_public);
  w.Raw(bundle.signed_prekey_signature);
  if (bundle.one_time_prekey) {
    w.U32(bundle.one_time_prekey->id);
    w.Raw(bundle.one_time_prekey->public_key);
  } else {
    w.Zeros(4 + kDhPublicKeyBytes);
  }
  assert(w.pos() == out.size());
  return out;
}

Result<PrekeyBundle> DecodePrekeyBundle(ByteView bytes) {
  constexpr const char* kWhat = "prekey bundle";
  LIAISON_RETURN_IF_ERROR(CheckFront(bytes, kPrekeyBundleV1Bytes, kWhat));
  Reader r(bytes);
  PrekeyBundle bundle;
  bundle.version = r.U8();
  const uint8_t flags = r.U8();
  if ((flags & ~kFlagOneTimePrekey) != 0) return Malformed(kWhat, "unknown flags");
  bundle.identity_dh_public = r.Array<kDhPublicKeyBytes>();
  bundle.identity_signing_public = r.Array<kSignPublicKeyBytes>();
  bundle.signed_prekey_id = r.U32();
  bundle.signed_prekey_public = r.Array<kDhPublicKeyBytes>();
  bundle.signed_prekey_signature = r.Array<kSignatureBytes>();
  if (flags & kFlagOneTimePrekey) {
    OneTimePrekeyPublic opk;
    opk.id = r.U32();
    opk.public_key = r.Array<kDhPublicKeyBytes>();
    bundle.one_time_prekey = opk;
  } else if (!r.ZerosFollow(4 + kDhPublicKeyBytes)) {
    return Malformed(kWhat, "bytes in an absent one-time prekey");
  }
  return bundle;
}

std::array<uint8_t, kInitialMessageHeaderV1Bytes> EncodeInitialMessageHeader(
    const InitialMessageHeader& header) {
  std::array<uint8_t, kInitialMessageHeaderV1Bytes> out;
  Writer w(out);
  w.U8(header.version);
  w.U8(header.one_time_prekey_id ? kFlagOneTimePrekey : 0);
  w.Raw(header.initiator_identity_dh_public);
  w.Raw(header.ephemeral_public);
  w.U32(header.signed_prekey_id);
  w.U32(header.one_time_prekey_id.value_or(0));
  assert(w.pos() == out.size());
  return out;
}

Result<InitialMessageHeader> DecodeInitialMessageHeader(ByteView bytes) {
  constexpr const char* kWhat = "initial message header";
  LIAISON_RETURN_IF_ERROR(CheckFront(bytes, kInitialMessageHeaderV1Bytes, kWhat));
  Reader r(bytes);
  InitialMessageHeader header;
  header.version = r.U8();
  const uint8_t flags = r.U8();
  if ((flags & ~kFlagOneTimePrekey) != 0) return Malformed(kWhat, "unknown flags");
  header.initiator_identity_dh_public = r.Array<kDhPublicKeyBytes>();
  header.ephemeral_public = r.Array<kDhPublicKeyBytes>();
  header.signed_prekey_id = r.U32();
  if (flags & kFlagOneTimePrekey) {
    header.one_time_prekey_id = r.U32();
  } else if (!r.ZerosFollow(4)) {
    return Malformed(kWhat, "bytes in an absent one-time prekey id");
  }
  return header;
}

Result<X3dhInitiatorOutput> X3dhInitiate(const DhKeyPair& identity, const PrekeyBundle& bundle) {
  if (bundle.version != kX3dhVersion1) return UnsupportedVersion("prekey bundle", bundle.version);
  // Abort before any DH if the signed prekey is not the device's (X3DH section 3.3).
  LIAISON_RETURN_IF_ERROR(VerifySignedPrekey(bundle.identity_signing_public,
                                             bundle.signed_prekey_id, bundle.signed_prekey_public,
                                             bundle.signed_prekey_signature)
                              .WithContext("signed prekey"));

  const DhKeyPair ephemeral = DhKeyPair::Generate();
  KdfInput ikm;
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(identity.secret_key, bundle.signed_prekey_public));
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(ephemeral.secret_key, bundle.identity_dh_public));
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(ephemeral.secret_key, bundle.signed_prekey_public));
  if (bundle.one_time_prekey) {
    LIAISON_RETURN_IF_ERROR(ikm.AppendDh(ephemeral.secret_key, bundle.one_time_prekey->public_key));
  }
  LIAISON_ASSIGN_OR_RETURN(X3dhSharedSecret sk, ikm.DeriveSharedSecret());

  InitialMessageHeader header;
  header.version = kX3dhVersion1;
  header.initiator_identity_dh_public = identity.public_key;
  header.ephemeral_public = ephemeral.public_key;
  header.signed_prekey_id = bundle.signed_prekey_id;
  if (bundle.one_time_prekey) header.one_time_prekey_id = bundle.one_time_prekey->id;
  return X3dhInitiatorOutput{
      std::move(sk), AssociatedData(identity.public_key, bundle.identity_dh_public), header};
}

Result<X3dhResponderOutput> X3dhRespond(const DhKeyPair& identity,
                                        const InitialMessageHeader& header,
                                        const PrekeyLookup& signed_prekeys,
                                        const PrekeyLookup& one_time_prekeys) {
  if (header.version != kX3dhVersion1) {
    return UnsupportedVersion("initial message header", header.version);
  }
  if (!signed_prekeys) return Status::Error(Code::kInvalidArgument, "no signed prekey lookup");
  if (header.one_time_prekey_id && !one_time_prekeys) {
    return Status::Error(Code::kInvalidArgument, "no one-time prekey lookup");
  }

  LIAISON_ASSIGN_OR_RETURN(DhKeyPair spk, signed_prekeys(header.signed_prekey_id));
  std::optional<DhKeyPair> opk;
  if (header.one_time_prekey_id) {
    LIAISON_ASSIGN_OR_RETURN(opk, one_time_prekeys(*header.one_time_prekey_id));
  }

  KdfInput ikm;
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(spk.secret_key, header.initiator_identity_dh_public));
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(identity.secret_key, header.ephemeral_public));
  LIAISON_RETURN_IF_ERROR(ikm.AppendDh(spk.secret_key, header.ephemeral_public));
  if (opk) LIAISON_RETURN_IF_ERROR(ikm.AppendDh(opk->secret_key, header.ephemeral_public));
  LIAISON_ASSIGN_OR_RETURN(X3dhSharedSecret sk, ikm.DeriveSharedSecret());

  return X3dhResponderOutput{
      std::move(sk), AssociatedData(header.initiator_identity_dh_public, identity.public_key),
      std::move(spk), header.one_time_prekey_id};
}

}  // namespace liaison::crypto
