// Safety numbers (client/src/safety_number.h).
#include "client/src/safety_number.h"

#include <sodium.h>

#include <cstdio>

namespace liaison::client {

std::string MemberFingerprint(const roster::Member& member) {
  Bytes input{0x00, 0x01};
  auto append = [&](std::string_view s) {
    input.push_back(static_cast<uint8_t>(s.size()));
    input.insert(input.end(), s.begin(), s.end());
  };
  append(member.id);
  for (const roster::Device& device : member.devices) {  // sorted by id in every valid epoch
    append(device.id);
    input.insert(input.end(), device.signing_key.begin(), device.signing_key.end());
    input.insert(input.end(), device.dh_key.begin(), device.dh_key.end());
  }
  uint8_t hash[crypto_hash_sha512_BYTES];
  crypto_hash_sha512(hash, input.data(), input.size());
  for (int i = 1; i < 5200; ++i) {
    crypto_hash_sha512_state state;
    crypto_hash_sha512_init(&state);
    crypto_hash_sha512_update(&state, hash, sizeof hash);
    crypto_hash_sha512_update(&state, input.data(), input.size());
    crypto_hash_sha512_final(&state, hash);
  }
  std::string digits;
  for (int chunk = 0; chunk < 6; ++chunk) {
    uint64_t value = 0;
    for (int b = 0; b < 5; ++b) value = (value << 8) | hash[chunk * 5 + b];
    char five[6];
    std::snprintf(five, sizeof five, "%05llu", static_cast<unsigned long long>(value % 100000));
    digits += five;
  }
  return digits;
}

std::string SafetyNumber(const roster::Member& a, const roster::Member& b) {
  return a.id < b.id ? MemberFingerprint(a) + MemberFingerprint(b) : MemberFingerprint(b) + MemberFingerprint(a);
}

std::string GroupDigits(const std::string& digits) {
  std::string out;
  for (size_t i = 0; i < digits.size(); i += 5) {
    if (!out.empty()) out += ' ';
    out += digits.substr(i, 5);
  }
  return out;
}

}  // namespace liaison::client
