// Invitations and enrollment requests: the two texts that travel between the coordinator and a
// new member outside liaison (a file, a printed QR code), docs/protocol.md section 6.
//
//   invitation := "liaison-invitation-v1:" base64url(JSON {relay_endpoint, relay_key (Z85),
//                  coordinator_key (hex), address, id (hex 16 bytes), code (hex 32 bytes),
//                  expires_at (µs)})
//   request    := "liaison-enrollment-v1:" base64url(JSON {id, address, signing_key (hex),
//                  dh_key (hex), transport_key (Z85), mac (hex)})
//
// mac = HMAC-SHA256(HKDF-SHA256(code, info "liaison/v1/enrollment-mac"), "liaison-enrollment-v1"
// | id | address | signing_key | dh_key | transport_key), fields joined by '\n'. The code never
// leaves the invitation: only someone holding it can make a request the coordinator accepts.
//
//   rotation   := "liaison-rotation-v1:" base64url(JSON {address, signing_key (hex), dh_key
//                  (hex), transport_key (Z85), signature (hex)})
//
// A device asks for new keys with a rotation request signed (Ed25519) by its *current* signing
// key over "liaison-rotation-v1" | address | signing_key | dh_key | transport_key ('\n'-joined),
// which the coordinator checks against the roster before it signs an epoch with the new keys.
//
// Thread-safety: pure functions.
#ifndef LIAISON_CLIENT_SRC_ENROLLMENT_H_
#define LIAISON_CLIENT_SRC_ENROLLMENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr std::string_view kInvitationPrefix = "liaison-invitation-v1:";
inline constexpr std::string_view kEnrollmentPrefix = "liaison-enrollment-v1:";
// Both texts stay short enough for one QR code (version 40 holds 2,953 bytes).
inline constexpr size_t kMaxEnrollmentTextBytes = 2048;

struct InvitationText {
  std::string relay_endpoint;
  std::string relay_key;        // Z85
  std::string coordinator_key;  // hex
  std::string address;          // "member/device" the new device will have
  std::array<uint8_t, 16> id{};
  std::array<uint8_t, 32> code{};  // secret
  int64_t expires_at = 0;
  ~InvitationText();
};

struct EnrollmentRequest {
  std::array<uint8_t, 16> id{};
  std::string address;
  std::array<uint8_t, 32> signing_key{};
  std::array<uint8_t, 32> dh_key{};
  std::array<uint8_t, 32> transport_key{};
  std::array<uint8_t, 32> mac{};
};

std::string EncodeInvitation(const InvitationText& invitation);
// kMalformed (prefix, base64, JSON, a field's form) naming what is wrong; kTooLarge.
Result<InvitationText> DecodeInvitation(std::string_view text);

// Builds the request for `invitation` with the new device's public keys, MAC included.
EnrollmentRequest MakeEnrollmentRequest(const InvitationText& invitation, const std::array<uint8_t, 32>& signing_key,
                                        const std::array<uint8_t, 32>& dh_key,
                                        const std::array<uint8_t, 32>& transport_key);
std::string EncodeEnrollmentRequest(const EnrollmentRequest& request);
Result<EnrollmentRequest> DecodeEnrollmentRequest(std::string_view text);
// OK if the request's MAC is right for `code` (compared in constant time); kUnauthenticated.
Status CheckEnrollmentMac(const EnrollmentRequest& request, const std::array<uint8_t, 32>& code);

inline constexpr std::string_view kRotationPrefix = "liaison-rotation-v1:";

struct RotationRequest {
  std::string address;
  std::array<uint8_t, 32> signing_key{};    // the new keys
  std::array<uint8_t, 32> dh_key{};
  std::array<uint8_t, 32> transport_key{};
  std::array<uint8_t, 64> signature{};      // by the current signing key
};

// Signs a request for the new public keys with the device's current signing key.
std::string EncodeRotationRequest(std::string_view address, const crypto::SigningKeyPair& current,
                                  const std::array<uint8_t, 32>& signing_key, const std::array<uint8_t, 32>& dh_key,
                                  const std::array<uint8_t, 32>& transport_key);
Result<RotationRequest> DecodeRotationRequest(std::string_view text);
// OK if the signature verifies under `current_signing_key`; kUnauthenticated otherwise.
Status VerifyRotationRequest(const RotationRequest& request, const std::array<uint8_t, 32>& current_signing_key);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_ENROLLMENT_H_
