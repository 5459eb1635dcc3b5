// Roster epochs: signing and verification, succession (no rollback, no skip, no fork), the
// form rules of Validate, and the role policy.
#include <catch2/catch.hpp>

#include "crypto/random.h"
#include "roster/policy.h"
#include "roster/roster.h"

using namespace liaison;
using namespace liaison::roster;

namespace {

Member MakeMember(std::string id, Role role, std::vector<std::string> device_ids = {"1"}) {
  Member m;
  m.id = std::move(id);
  m.display_name = "Name of " + m.id;
  m.organisation = "Organisation";
  m.role = static_cast<uint8_t>(role);
  m.areas = {{"city:dresden"}};
  for (auto& device_id : device_ids) {
    Device d;
    d.id = device_id;
    d.signing_key = crypto::RandomArray<32>();
    d.dh_key = crypto::RandomArray<32>();
    d.transport_key = crypto::RandomArray<32>();
    m.devices.push_back(d);
  }
  return m;
}

Epoch FirstEpoch() {
  Epoch e;
  e.number = 1;
  e.issued_at = 1'800'000'000'000'000;
  e.members = {MakeMember("association-a", Role::kAssociationContact), MakeMember("desk-dresden", Role::kDesk, {"1", "2"}),
               MakeMember("kora", Role::kCoordinator)};
  return e;
}

VerifiedEpoch SignAndVerify(const Epoch& epoch, const crypto::SigningKeyPair& key) {
  auto signed_bytes = SignEpoch(epoch, key);
  REQUIRE(signed_bytes.ok());
  auto verified = VerifyEpoch(*signed_bytes, key.public_key);
  REQUIRE(verified.ok());
  return std::move(verified).value();
}

Epoch Successor(const VerifiedEpoch& held) {
  Epoch next = held.epoch;
  next.number = held.epoch.number + 1;
  next.previous_hash = held.hash;
  return next;
}

}  // namespace

TEST_CASE("a signed epoch verifies under the coordinator's key and has one encoding", "[roster]") {
  const auto coordinator = crypto::SigningKeyPair::Generate();
  const Epoch epoch = FirstEpoch();
  auto signed_bytes = SignEpoch(epoch, coordinator);
  REQUIRE(signed_bytes.ok());
  auto verified = VerifyEpoch(*signed_bytes, coordinator.public_key);
  REQUIRE(verified.ok());
  CHECK(verified->epoch.number == 1);
  CHECK(verified->epoch.members.size() == 3);
  CHECK(verified->signed_bytes == *signed_bytes);
  // Signing is deterministic and the hash covers the body: the same epoch, the same bytes and hash.
  CHECK(*SignEpoch(epoch, coordinator) == *signed_bytes);
  const auto entry = verified->epoch.Find("desk-dresden/2");
  REQUIRE(entry.has_value());
  CHECK(entry->member->role_value() == Role::kDesk);
  CHECK(entry->device->transport_key == epoch.members[1].devices[1].transport_key);
  CHECK_FALSE(verified->epoch.Find("desk-dresden/3").has_value());
  CHECK_FALSE(verified->epoch.Find("desk-dresden").has_value());
  CHECK(verified->epoch.FindByTransportKey(epoch.members[0].devices[0].transport_key)->member->id == "association-a");

  Epoch changed = epoch;
  changed.members[0].display_name = "Renamed";
  CHECK(SignAndVerify(changed, coordinator).hash != verified->hash);
}

TEST_CASE("an epoch signed by another key, or with any bit changed, is refused", "[roster]") {
  const auto coordinator = crypto::SigningKeyPair::Generate();
  const auto forger = crypto::SigningKeyPair::Generate();
  auto forged = SignEpoch(FirstEpoch(), forger);
  REQUIRE(forged.ok());
  CHECK(VerifyEpoch(*forged, coordinator.public_key).status().code() == Code::kUnauthenticated);

  auto genuine = SignEpoch(FirstEpoch(), coordinator);
  REQUIRE(genuine.ok());
  size_t refused = 0;
  for (size_t bit = 0; bit < genuine->size() * 8; ++bit) {
    Bytes flipped = *genuine;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    if (!VerifyEpoch(flipped, coordinator.public_key).ok()) ++refused;
  }
  CHECK(refused == genuine->size() * 8);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{9}, genuine->size() / 2, genuine->size() - 1}) {
    CHECK_FALSE(VerifyEpoch(ByteView(genuine->data(), cut), coordinator.public_key).ok());
  }
  Bytes extended = *genuine;
  extended.push_back(0);
  CHECK(VerifyEpoch(extended, coordinator.public_key).status().code() == Code::kMalformed);
}

TEST_CASE("an epoch is accepted only as the direct successor of the one held", "[roster]") {
  const auto coordinator = crypto::SigningKeyPair::Generate();
  const VerifiedEpoch first = SignAndVerify(FirstEpoch(), coordinator);
  CHECK(CheckSuccessor(nullptr, first).ok());

  const VerifiedEpoch second = SignAndVerify(Successor(first), coordinator);
  CHECK(CheckSuccessor(&first, second).ok());

  SECTION("nothing held: only epoch 1") {
    CHECK(CheckSuccessor(nullptr, second).code() == Code::kConflict);
  }
  SECTION("a repeated number") {
    CHECK(CheckSuccessor(&second, second).code() == Code::kConflict);
    CHECK_THAT(CheckSuccessor(&second, second).message(), Catch::Contains("rollback"));
  }
  SECTION("an older number") {
    CHECK(CheckSuccessor(&second, first).code() == Code::kConflict);
  }
  SECTION("a skipped number") {
    Epoch third = Successor(second);
    third.number = 4;
    const VerifiedEpoch skipping = SignAndVerify(third, coordinator);
    CHECK(CheckSuccessor(&second, skipping).code() == Code::kConflict);
    CHECK_THAT(CheckSuccessor(&second, skipping).message(), Catch::Contains("skips"));
  }
  SECTION("a wrong previous hash (a fork)") {
    Epoch other = FirstEpoch();
    other.members.pop_back();
    const VerifiedEpoch other_first = SignAndVerify(other, coordinator);
    const VerifiedEpoch fork = SignAndVerify(Successor(other_first), coordinator);
    CHECK(CheckSuccessor(&first, fork).code() == Code::kConflict);
    CHECK_THAT(CheckSuccessor(&first, fork).message(), Catch::Contains("fork"));
  }
}

TEST_CASE("Validate refuses epochs that are not well formed, naming the fault", "[roster]") {
  const auto coordinator = crypto::SigningKeyPair::Generate();
  Epoch epoch = FirstEpoch();
  REQUIRE(Validate(epoch).ok());
  auto refused = [&](const Epoch& e, const std::string& needle) {
    const Status status = Validate(e);
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::Contains(needle));
    CHECK_FALSE(SignEpoch(e, coordinator).ok());
  };
  SECTION("number 0") { epoch.number = 0; refused(epoch, "numbered from 1"); }
  SECTION("epoch 1 with a previous hash") { epoch.previous_hash[3] = 1; refused(epoch, "previous hash"); }
  SECTION("epoch 2 without one") { epoch.number = 2; refused(epoch, "previous hash"); }
  SECTION("members unsorted") { std::swap(epoch.members[0], epoch.members[1]); refused(epoch, "sorted"); }
  SECTION("a member twice") { epoch.members[1] = epoch.members[0]; epoch.members[1].devices[0].transport_key[0] ^= 1; refused(epoch, "sorted"); }
  SECTION("a bad member id") { epoch.members[0].id = "Association A"; refused(epoch, "may contain only"); }
  SECTION("an unknown role") { epoch.members[0].role = 9; refused(epoch, "unknown role"); }
  SECTION("no device") { epoch.members[0].devices.clear(); refused(epoch, "devices"); }
  SECTION("devices unsorted") { std::swap(epoch.members[1].devices[0], epoch.members[1].devices[1]); refused(epoch, "devices must be sorted"); }
  SECTION("a shared transport key") {
    epoch.members[2].devices[0].transport_key = epoch.members[0].devices[0].transport_key;
    refused(epoch, "transport key");
  }
  SECTION("a bad area") { epoch.members[0].areas = {{"dresden"}}; refused(epoch, "kind:value"); }
  SECTION("an unknown version") {
    epoch.version = 2;
    CHECK(Validate(epoch).code() == Code::kUnsupportedVersion);
  }
}

TEST_CASE("roles decide who may write to whom", "[roster][policy]") {
  const Role all[] = {Role::kOfficer, Role::kDesk, Role::kAssociationContact, Role::kDeputy, Role::kCoordinator};
  for (Role sender : all) {
    for (Role recipient : all) {
      const bool association_to_association = !IsPoliceSide(sender) && !IsPoliceSide(recipient);
      CHECK(MayWrite(sender, recipient) == !association_to_association);
    }
  }
  CHECK_FALSE(IsPoliceSide(Role::kAssociationContact));
  CHECK_FALSE(IsPoliceSide(Role::kDeputy));
  const Member a = MakeMember("association-a", Role::kAssociationContact);
  const Member b = MakeMember("association-b", Role::kDeputy);
  const Member desk = MakeMember("desk-dresden", Role::kDesk);
  const Status refused = CheckMayWrite(a, b);
  CHECK(refused.code() == Code::kPermissionDenied);
  CHECK_THAT(refused.message(), Catch::Contains("association-a") && Catch::Contains("association-b"));
  CHECK(CheckMayWrite(a, desk).ok());
  CHECK(CheckMayWrite(desk, b).ok());
  for (Role role : all) CHECK(*ParseRole(RoleName(role)) == role);
  CHECK(ParseRole("admin").status().code() == Code::kInvalidArgument);
}
