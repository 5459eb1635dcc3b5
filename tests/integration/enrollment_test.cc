// Membership through the library: the coordinator's key sealed under a passphrase, invitations,
// enrollment requests, approval into signed epochs published to a real relay, single-use and
// expiring codes, and revocation.
#include <catch2/catch.hpp>

#include "base/clock.h"
#include "base/file_util.h"
#include "client/src/client_state.h"
#include "client/src/enrollment.h"
#include "client/src/sessions.h"
#include "crypto/keys.h"
#include "liaison/coordinator.h"
#include "relay_process_util.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

struct CoordinatedRelay {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  FakeClock clock{SystemClock().NowMicros()};
  std::unique_ptr<Coordinator> coordinator;

  CoordinatedRelay() {
    relay.Start();  // learn the endpoint, which restarts keep
    relay.Stop();
    CoordinatorOptions options;
    options.admin_dir = dir.Sub("admin");
    options.passphrase = "Sicherheitsdialog Dresden";
    options.relay_endpoint = relay.endpoint();
    options.relay_public_key = relay.public_key();
    options.clock = &clock;
    options.light_key_protection = true;
    auto created = Coordinator::Init(options);
    REQUIRE(created.ok());
    coordinator = std::move(created).value();
    relay.EditConfig("# coordinator_key = \"64 hex characters\"", "coordinator_key = \"" + coordinator->public_key() + "\"");
    relay.EditConfig("# coordinator_transport_key = \"40 Z85 characters\"",
                     "coordinator_transport_key = \"" + coordinator->transport_key() + "\"");
    relay.Start();
  }

  // Invites, enrolls and approves a device; returns it.
  std::unique_ptr<Client> Admit(const std::string& address, const std::string& role) {
    auto invitation = coordinator->Invite(address, 72h);
    REQUIRE(invitation.ok());
    std::string request;
    auto client = Client::Enroll(OptionsFor(relay, dir.Sub(address.substr(0, address.find('/')) + "-" + address.substr(address.find('/') + 1))),
                                 *invitation, &request);
    REQUIRE(client.ok());
    auto epoch = coordinator->Approve(request, {role, "Test " + address, "Test e.V.", {"city:dresden"}, ""});
    INFO(epoch.status().ToString());
    REQUIRE(epoch.ok());
    return std::move(client).value();
  }
};

}  // namespace

TEST_CASE("invited, enrolled and approved devices exchange messages; revoked ones cannot", "[integration][enrollment]") {
  CoordinatedRelay c;
  auto association = c.Admit("moschee-dresden/1", "association_contact");
  auto officer = c.Admit("officer-dresden/1", "officer");
  REQUIRE(association->Sync()->roster_epoch == 2);
  REQUIRE(officer->Sync()->roster_epoch == 2);
  REQUIRE(association->Send("officer-dresden", "Drohbrief im Briefkasten").ok());
  CHECK(officer->Sync()->received == 1);

  auto members = c.coordinator->Members();
  REQUIRE(members.ok());
  REQUIRE(members->size() == 2);
  CHECK((*members)[0].id == "moschee-dresden");
  CHECK((*members)[0].role == "association_contact");
  CHECK((*members)[0].areas == std::vector<std::string>{"city:dresden"});

  auto revoked = c.coordinator->Revoke("moschee-dresden");
  REQUIRE(revoked.ok());
  CHECK(*revoked == 3);
  auto refused = association->Send("officer-dresden", "noch da?");
  CHECK_FALSE(refused.ok());
  REQUIRE(officer->Sync()->roster_epoch == 3);
  CHECK(officer->Send("moschee-dresden/1", "?").status().code() == Code::kNotFound);
}

TEST_CASE("invitation codes are single-use, expire, and bind the request's keys", "[integration][enrollment]") {
  CoordinatedRelay c;
  auto invitation = c.coordinator->Invite("verein-a/1", 1h);
  REQUIRE(invitation.ok());
  std::string request;
  auto device = Client::Enroll(OptionsFor(c.relay, c.dir.Sub("a")), *invitation, &request);
  REQUIRE(device.ok());

  SECTION("a request whose keys were changed does not carry a valid MAC") {
    auto decoded = client::DecodeEnrollmentRequest(request);
    REQUIRE(decoded.ok());
    decoded->transport_key[0] ^= 1;  // someone else's transport key under the stolen request
    auto result = c.coordinator->Approve(client::EncodeEnrollmentRequest(*decoded), {"association_contact", "", "", {}, ""});
    CHECK(result.status().code() == Code::kUnauthenticated);
    CHECK(c.coordinator->Approve(request, {"association_contact", "", "", {}, ""}).ok());  // the genuine one still works
  }
  SECTION("a code is used once") {
    REQUIRE(c.coordinator->Approve(request, {"association_contact", "", "", {}, ""}).ok());
    auto again = c.coordinator->Approve(request, {"association_contact", "", "", {}, ""});
    CHECK(again.status().code() == Code::kAlreadyExists);
    CHECK_THAT(again.status().message(), Catch::Contains("used already"));
  }
  SECTION("an expired code is refused by the coordinator") {
    c.clock.Advance(2 * 3600 * kMicrosPerSecond);
    auto late = c.coordinator->Approve(request, {"association_contact", "", "", {}, ""});
    CHECK(late.status().code() == Code::kExpired);
    CHECK_THAT(late.status().message(), Catch::Contains("expired"));
    CHECK(c.coordinator->Members()->empty());
  }
  SECTION("an expired invitation is refused by the enrolling device") {
    auto short_lived = c.coordinator->Invite("verein-b/1", 1h);
    REQUIRE(short_lived.ok());
    FakeClock later(SystemClock().NowMicros() + 2 * 3600 * kMicrosPerSecond);
    ClientOptions options = OptionsFor(c.relay, c.dir.Sub("b"));
    options.clock = &later;
    std::string ignored;
    CHECK(Client::Enroll(options, *short_lived, &ignored).status().code() == Code::kExpired);
  }
  SECTION("an unknown invitation and a damaged text") {
    auto decoded = client::DecodeEnrollmentRequest(request);
    REQUIRE(decoded.ok());
    decoded->id[0] ^= 1;
    CHECK(c.coordinator->Approve(client::EncodeEnrollmentRequest(*decoded), {"officer", "", "", {}, ""}).status().code() ==
          Code::kNotFound);
    CHECK(c.coordinator->Approve("liaison-enrollment-v1:!!!", {"officer", "", "", {}, ""}).status().code() == Code::kMalformed);
    CHECK(c.coordinator->Approve(*invitation, {"officer", "", "", {}, ""}).status().code() == Code::kMalformed);
  }
}

TEST_CASE("the coordinator's key opens only with its passphrase", "[integration][enrollment]") {
  CoordinatedRelay c;
  CoordinatorOptions options;
  options.admin_dir = c.dir.Sub("admin");
  options.passphrase = "sicherheitsdialog dresden";
  CHECK(Coordinator::Open(options).status().code() == Code::kUnauthenticated);
  options.passphrase = "Sicherheitsdialog Dresden";
  auto reopened = Coordinator::Open(options);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->public_key() == c.coordinator->public_key());
  options.relay_endpoint = "tcp://127.0.0.1:1";
  options.relay_public_key = c.relay.public_key();
  CHECK(Coordinator::Init(options).status().code() == Code::kAlreadyExists);
  // The key file does not hold the key in the clear: a libsodium Ed25519 secret key ends with
  // the public key's 32 raw bytes, which would then appear in it.
  auto file = ReadFile(c.dir.Sub("admin") + "/coordinator.key", 4096);
  REQUIRE(file.ok());
  auto public_key = FromHex(c.coordinator->public_key());
  REQUIRE(public_key.ok());
  CHECK(file->find(std::string(public_key->begin(), public_key->end())) == std::string::npos);
  CHECK(file->rfind("LPB1", 0) == 0);
}

TEST_CASE("a device rotates its keys through an approved epoch and new sessions use them", "[integration][enrollment]") {
  CoordinatedRelay c;
  auto association = c.Admit("moschee-dresden/1", "association_contact");
  auto officer = c.Admit("officer-dresden/1", "officer");
  REQUIRE(association->Sync().ok());
  REQUIRE(officer->Sync().ok());
  REQUIRE(association->Send("officer-dresden/1", "vor dem Schlüsselwechsel").ok());
  REQUIRE(officer->Sync()->received == 1);
  const DeviceCard before = association->Card();
  const std::string number_before = officer->Verify("moschee-dresden")->safety_number;

  auto request = association->RequestKeyRotation();
  REQUIRE(request.ok());
  CHECK(*association->RequestKeyRotation() == *request);  // the same pending keys until approved
  CHECK(association->Card().transport_key == before.transport_key);  // nothing changes yet

  // Only the device's current key can ask: a request signed by another device is refused.
  auto other = officer->RequestKeyRotation();
  REQUIRE(other.ok());
  auto forged = client::DecodeRotationRequest(*other);
  REQUIRE(forged.ok());
  forged->address = "moschee-dresden/1";
  CHECK(c.coordinator->ApproveRotation(client::EncodeRotationRequest(forged->address, crypto::SigningKeyPair::Generate(),
                                                                     forged->signing_key, forged->dh_key,
                                                                     forged->transport_key))
            .status()
            .code() == Code::kUnauthenticated);

  auto epoch = c.coordinator->ApproveRotation(*request);
  REQUIRE(epoch.ok());
  CHECK(*epoch == 3);
  // The relay now admits only the new transport key; the device switches on its next sync.
  auto report = association->Sync();
  INFO((report.ok() ? std::string() : report.status().ToString()));
  REQUIRE(report.ok());
  CHECK(report->roster_epoch == 3);
  const DeviceCard after = association->Card();
  CHECK(after.transport_key != before.transport_key);
  CHECK(after.signing_key != before.signing_key);
  CHECK(after.dh_key != before.dh_key);

  // Both directions work in new sessions under the new keys, also after a restart of the device.
  REQUIRE(officer->Sync()->roster_epoch == 3);
  CHECK(officer->Verify("moschee-dresden")->safety_number != number_before);
  REQUIRE(officer->Send("moschee-dresden/1", "nach dem Schlüsselwechsel").ok());
  association.reset();
  auto reopened = Client::Open(OptionsFor(c.relay, c.dir.Sub("moschee-dresden-1")));
  REQUIRE(reopened.ok());
  auto at_association = (*reopened)->Sync();
  REQUIRE(at_association.ok());
  CHECK(at_association->received == 1);
  CHECK(at_association->rejected == 0);
  REQUIRE((*reopened)->Send("officer-dresden/1", "angekommen").ok());
  auto at_officer = officer->Sync();
  REQUIRE(at_officer.ok());
  CHECK(at_officer->received == 1);
  CHECK(at_officer->rejected == 0);

  // The officer started a new session with the new identity key instead of going on in the old.
  officer.reset();
  auto state = client::ClientState::Open(c.dir.Sub("officer-dresden-1"));
  REQUIRE(state.ok());
  auto txn = (*state)->BeginRead();
  REQUIRE(txn.ok());
  auto stored = (*state)->GetSessions(*txn, "moschee-dresden/1");
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  auto sessions = client::DecodePeerSessions(**stored);
  REQUIRE(sessions.ok());
  CHECK(sessions->size() == 2);
  auto new_dh = FromHex(after.dh_key);
  REQUIRE(new_dh.ok());
  const auto& ad = sessions->front().associated_data;
  CHECK((std::equal(new_dh->begin(), new_dh->end(), ad.begin()) || std::equal(new_dh->begin(), new_dh->end(), ad.begin() + 32)));
}
