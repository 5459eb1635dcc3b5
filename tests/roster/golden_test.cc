// Golden file of roster epochs, version 1 (tests/data/kat/roster/epochs_v1.json): two signed
// epochs of a chain under a frozen coordinator key. Relays and clients store epochs for good and
// serve them to every member, so later versions must still verify, decode and chain these.
//
// Written once by this test with LIAISON_WRITE_GOLDEN=<path> set; never regenerate it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "roster/roster.h"

using namespace liaison;
using namespace liaison::roster;

namespace {

Bytes Hex(const nlohmann::json& j) {
  auto bytes = FromHex(j.get<std::string>());
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}

void WriteGolden(const char* path) {
  const auto coordinator = crypto::SigningKeyPair::Generate();
  Epoch first;
  first.number = 1;
  first.issued_at = 1'800'000'000'000'000;
  Member desk;
  desk.id = "desk-dresden";
  desk.display_name = "Kontaktstelle PD Dresden";
  desk.organisation = "Polizeidirektion Dresden";
  desk.role = static_cast<uint8_t>(Role::kDesk);
  desk.areas = {{"city:dresden"}};
  for (const char* id : {"1", "2"}) {
    Device d;
    d.id = id;
    d.signing_key = crypto::SigningKeyPair::Generate().public_key;
    d.dh_key = crypto::DhKeyPair::Generate().public_key;
    d.transport_key = crypto::DhKeyPair::Generate().public_key;
    d.holder = std::string(id) == "1" ? "KHK Weber" : "POK Schulz";
    desk.devices.push_back(d);
  }
  Member mosque;
  mosque.id = "moschee-dresden";
  mosque.display_name = "Herr Yılmaz";
  mosque.organisation = "Moscheegemeinde Dresden e.V.";
  mosque.role = static_cast<uint8_t>(Role::kAssociationContact);
  mosque.areas = {{"city:dresden"}, {"district:neustadt"}};
  mosque.valid_until = 1'900'000'000'000'000;
  Device m;
  m.id = "1";
  m.signing_key = crypto::SigningKeyPair::Generate().public_key;
  m.dh_key = crypto::DhKeyPair::Generate().public_key;
  m.transport_key = crypto::DhKeyPair::Generate().public_key;
  mosque.devices.push_back(m);
  first.members = {desk, mosque};
  auto first_signed = SignEpoch(first, coordinator);
  REQUIRE(first_signed.ok());
  auto first_verified = VerifyEpoch(*first_signed, coordinator.public_key);
  REQUIRE(first_verified.ok());
  Epoch second = first;
  second.number = 2;
  second.previous_hash = first_verified->hash;
  second.issued_at += 1;
  second.members.pop_back();  // the association revoked
  auto second_signed = SignEpoch(second, coordinator);
  REQUIRE(second_signed.ok());
  auto second_verified = VerifyEpoch(*second_signed, coordinator.public_key);
  REQUIRE(second_verified.ok());
  nlohmann::json g{{"coordinator_key", ToHex(coordinator.public_key)},
                   {"epoch_1", ToHex(*first_signed)},
                   {"epoch_1_hash", ToHex(first_verified->hash)},
                   {"epoch_2", ToHex(*second_signed)},
                   {"epoch_2_hash", ToHex(second_verified->hash)}};
  std::ofstream(path) << g.dump(1) << "\n";
}

}  // namespace

TEST_CASE("golden: frozen roster epochs of version 1 verify, decode and chain", "[roster][golden]") {
  if (const char* path = std::getenv("LIAISON_WRITE_GOLDEN")) WriteGolden(path);
  std::ifstream in(std::string(LIAISON_TEST_DATA_DIR) + "/kat/roster/epochs_v1.json");
  REQUIRE(in.good());
  const nlohmann::json g = nlohmann::json::parse(in);
  const Bytes key_bytes = Hex(g["coordinator_key"]);
  PublicKey coordinator{};
  REQUIRE(key_bytes.size() == 32);
  std::copy(key_bytes.begin(), key_bytes.end(), coordinator.begin());

  auto first = VerifyEpoch(Hex(g["epoch_1"]), coordinator);
  REQUIRE(first.ok());
  CHECK(ToHex(first->hash) == g["epoch_1_hash"].get<std::string>());
  CHECK(first->epoch.number == 1);
  REQUIRE(first->epoch.members.size() == 2);
  const auto desk = first->epoch.Find("desk-dresden/2");
  REQUIRE(desk.has_value());
  CHECK(desk->member->role_value() == Role::kDesk);
  CHECK(desk->device->holder == "POK Schulz");
  const Member* mosque = first->epoch.FindMember("moschee-dresden");
  REQUIRE(mosque != nullptr);
  CHECK(mosque->display_name == "Herr Yılmaz");
  CHECK(mosque->role_value() == Role::kAssociationContact);
  CHECK(mosque->areas.size() == 2);
  CHECK(mosque->valid_until == 1'900'000'000'000'000u);

  auto second = VerifyEpoch(Hex(g["epoch_2"]), coordinator);
  REQUIRE(second.ok());
  CHECK(ToHex(second->hash) == g["epoch_2_hash"].get<std::string>());
  CHECK(CheckSuccessor(nullptr, *first).ok());
  CHECK(CheckSuccessor(&*first, *second).ok());
  CHECK(second->epoch.FindMember("moschee-dresden") == nullptr);
}
