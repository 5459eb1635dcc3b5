// Safety numbers: what two members compare face to face to know that their devices encrypt to
// each other's real keys (docs/protocol.md section 6).
//
// Each member's fingerprint is 30 digits from SHA-512 iterated 5,200 times (as Signal's) over
// version 0x0001 | member id | for each device, sorted by id: device id | signing key | DH key.
// The safety number is both fingerprints, the smaller member id's first: 60 digits, the same on
// both sides, and different as soon as any device key of either member changes.
//
// Thread-safety: pure functions.
#ifndef LIAISON_CLIENT_SRC_SAFETY_NUMBER_H_
#define LIAISON_CLIENT_SRC_SAFETY_NUMBER_H_

#include <string>

#include "roster/roster.h"

namespace liaison::client {

// 30 decimal digits.
std::string MemberFingerprint(const roster::Member& member);
// 60 decimal digits.
std::string SafetyNumber(const roster::Member& a, const roster::Member& b);
// "12345 67890 ..." in 12 groups of 5.
std::string GroupDigits(const std::string& digits);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_SAFETY_NUMBER_H_
