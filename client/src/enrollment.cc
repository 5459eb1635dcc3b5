// Invitation and enrollment-request texts (client/src/enrollment.h).
#include "client/src/enrollment.h"

#include <sodium.h>
#include <zmq.h>

#include <nlohmann/json.hpp>

#include "crypto/hkdf.h"
#include "crypto/sign.h"

namespace liaison::client {
namespace {

std::string Base64Url(std::string_view data) {
  std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<nlohmann::json> ParseText(std::string_view text, std::string_view prefix, std::string_view what) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() > kMaxEnrollmentTextBytes) return Status::Error(Code::kTooLarge, std::string(what) + " is too long");
  if (text.substr(0, prefix.size()) != prefix) {
    return Status::Error(Code::kMalformed, std::string(what) + " must start with \"" + std::string(prefix) + "\"");
  }
  text.remove_prefix(prefix.size());
  std::string decoded(text.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), text.data(), text.size(),
                        nullptr, &length, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return Status::Error(Code::kMalformed, std::string(what) + " is not valid base64url");
  }
  decoded.resize(length);
  auto json = nlohmann::json::parse(decoded, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::Error(Code::kMalformed, std::string(what) + " does not hold a JSON object");
  return json;
}

Result<std::string> StringField(const nlohmann::json& json, const char* name, size_t max) {
  auto it = json.find(name);
  if (it == json.end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > max) {
    return Status::Error(Code::kMalformed, std::string("field \"") + name + "\" is missing or not a string of 1 to " +
                                               std::to_string(max) + " characters");
  }
  return it->get<std::string>();
}

template <size_t N>
Result<std::array<uint8_t, N>> HexField(const nlohmann::json& json, const char* name) {
  LIAISON_ASSIGN_OR_RETURN(std::string hex, StringField(json, name, 2 * N));
  auto bytes = FromHex(hex);
  if (!bytes.ok() || bytes->size() != N) {
    return Status::Error(Code::kMalformed, std::string("field \"") + name + "\" must be " + std::to_string(2 * N) + " hex digits");
  }
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Result<std::array<uint8_t, 32>> Z85Field(const nlohmann::json& json, const char* name) {
  LIAISON_ASSIGN_OR_RETURN(std::string z85, StringField(json, name, 40));
  std::array<uint8_t, 32> out{};
  if (z85.size() != 40 || zmq_z85_decode(out.data(), z85.c_str()) == nullptr) {
    return Status::Error(Code::kMalformed, std::string("field \"") + name + "\" must be a 40-character Z85 key");
  }
  return out;
}

std::string Z85(const std::array<uint8_t, 32>& key) {
  char out[41] = {};
  zmq_z85_encode(out, key.data(), key.size());
  return out;
}

std::array<uint8_t, 32> Mac(const EnrollmentRequest& r, const std::array<uint8_t, 32>& code) {
  uint8_t key[32];
  static constexpr std::string_view kInfo = "liaison/v1/enrollment-mac";
  (void)crypto::HkdfSha256(code, {}, AsBytes(kInfo), std::span<uint8_t>(key, 32));
  const std::string message = "liaison-enrollment-v1\n" + ToHex(r.id) + "\n" + r.address + "\n" + ToHex(r.signing_key) +
                              "\n" + ToHex(r.dh_key) + "\n" + Z85(r.transport_key);
  auto mac = crypto::HmacSha256(ByteView(key, 32), AsBytes(message));
  sodium_memzero(key, sizeof key);
  return mac;
}

}  // namespace

InvitationText::~InvitationText() { sodium_memzero(code.data(), code.size()); }

std::string EncodeInvitation(const InvitationText& i) {
  std::string code_hex = ToHex(i.code);
  nlohmann::json json{{"relay_endpoint", i.relay_endpoint}, {"relay_key", i.relay_key},
                      {"coordinator_key", i.coordinator_key}, {"address", i.address},
                      {"id", ToHex(i.id)},                  {"code", code_hex},
                      {"expires_at", i.expires_at}};
  std::string dumped = json.dump();
  std::string out = std::string(kInvitationPrefix) + Base64Url(dumped);
  sodium_memzero(code_hex.data(), code_hex.size());
  sodium_memzero(dumped.data(), dumped.size());
  return out;
}

Result<InvitationText> DecodeInvitation(std::string_view text) {
  LIAISON_ASSIGN_OR_RETURN(nlohmann::json json, ParseText(text, kInvitationPrefix, "an invitation"));
  InvitationText i;
  LIAISON_ASSIGN_OR_RETURN(i.relay_endpoint, StringField(json, "relay_endpoint", 256));
  LIAISON_ASSIGN_OR_RETURN(i.relay_key, StringField(json, "relay_key", 40));
  LIAISON_ASSIGN_OR_RETURN(i.coordinator_key, StringField(json, "coordinator_key", 64));
  LIAISON_ASSIGN_OR_RETURN(i.address, StringField(json, "address", 64));
  LIAISON_ASSIGN_OR_RETURN(i.id, HexField<16>(json, "id"));
  LIAISON_ASSIGN_OR_RETURN(i.code, HexField<32>(json, "code"));
  auto expires = json.find("expires_at");
  if (expires == json.end() || !expires->is_number_integer()) {
    return Status::Error(Code::kMalformed, "field \"expires_at\" is missing or not an integer");
  }
  i.expires_at = expires->get<int64_t>();
  return i;
}

EnrollmentRequest MakeEnrollmentRequest(const InvitationText& invitation, const std::array<uint8_t, 32>& signing_key,
                                        const std::array<uint8_t, 32>& dh_key,
                                        const std::array<uint8_t, 32>& transport_key) {
  EnrollmentRequest r;
  r.id = invitation.id;
  r.address = invitation.address;
  r.signing_key = signing_key;
  r.dh_key = dh_key;
  r.transport_key = transport_key;
  r.mac = Mac(r, invitation.code);
  return r;
}

std::string EncodeEnrollmentRequest(const EnrollmentRequest& r) {
  nlohmann::json json{{"id", ToHex(r.id)},       {"address", r.address},
                      {"signing_key", ToHex(r.signing_key)}, {"dh_key", ToHex(r.dh_key)},
                      {"transport_key", Z85(r.transport_key)}, {"mac", ToHex(r.mac)}};
  return std::string(kEnrollmentPrefix) + Base64Url(json.dump());
}

Result<EnrollmentRequest> DecodeEnrollmentRequest(std::string_view text) {
  LIAISON_ASSIGN_OR_RETURN(nlohmann::json json, ParseText(text, kEnrollmentPrefix, "an enrollment request"));
  EnrollmentRequest r;
  LIAISON_ASSIGN_OR_RETURN(r.id, HexField<16>(json, "id"));
  LIAISON_ASSIGN_OR_RETURN(r.address, StringField(json, "address", 64));
  LIAISON_ASSIGN_OR_RETURN(r.signing_key, HexField<32>(json, "signing_key"));
  LIAISON_ASSIGN_OR_RETURN(r.dh_key, HexField<32>(json, "dh_key"));
  LIAISON_ASSIGN_OR_RETURN(r.transport_key, Z85Field(json, "transport_key"));
  LIAISON_ASSIGN_OR_RETURN(r.mac, HexField<32>(json, "mac"));
  return r;
}

Status CheckEnrollmentMac(const EnrollmentRequest& request, const std::array<uint8_t, 32>& code) {
  const auto expected = Mac(request, code);
  if (crypto_verify_32(expected.data(), request.mac.data()) != 0) {
    return Status::Error(Code::kUnauthenticated, "the enrollment request was not made with this invitation's code");
  }
  return Status::Ok();
}

namespace {

std::string RotationMessage(std::string_view address, const std::array<uint8_t, 32>& signing_key,
                            const std::array<uint8_t, 32>& dh_key, const std::array<uint8_t, 32>& transport_key) {
  return "liaison-rotation-v1\n" + std::string(address) + "\n" + ToHex(signing_key) + "\n" + ToHex(dh_key) + "\n" +
         Z85(transport_key);
}

}  // namespace

std::string EncodeRotationRequest(std::string_view address, const crypto::SigningKeyPair& current,
                                  const std::array<uint8_t, 32>& signing_key, const std::array<uint8_t, 32>& dh_key,
                                  const std::array<uint8_t, 32>& transport_key) {
  const auto signature =
      crypto::SignDetached(current.secret_key, AsBytes(RotationMessage(address, signing_key, dh_key, transport_key)));
  nlohmann::json json{{"address", std::string(address)},   {"signing_key", ToHex(signing_key)},
                      {"dh_key", ToHex(dh_key)},           {"transport_key", Z85(transport_key)},
                      {"signature", ToHex(signature)}};
  return std::string(kRotationPrefix) + Base64Url(json.dump());
}

Result<RotationRequest> DecodeRotationRequest(std::string_view text) {
  LIAISON_ASSIGN_OR_RETURN(nlohmann::json json, ParseText(text, kRotationPrefix, "a key rotation request"));
  RotationRequest r;
  LIAISON_ASSIGN_OR_RETURN(r.address, StringField(json, "address", 64));
  LIAISON_ASSIGN_OR_RETURN(r.signing_key, HexField<32>(json, "signing_key"));
  LIAISON_ASSIGN_OR_RETURN(r.dh_key, HexField<32>(json, "dh_key"));
  LIAISON_ASSIGN_OR_RETURN(r.transport_key, Z85Field(json, "transport_key"));
  LIAISON_ASSIGN_OR_RETURN(r.signature, HexField<64>(json, "signature"));
  return r;
}

Status VerifyRotationRequest(const RotationRequest& r, const std::array<uint8_t, 32>& current_signing_key) {
  return crypto::VerifyDetached(current_signing_key,
                                AsBytes(RotationMessage(r.address, r.signing_key, r.dh_key, r.transport_key)), r.signature)
      .WithContext("the rotation request is not signed by the device's current key");
}

}  // namespace liaison::client
