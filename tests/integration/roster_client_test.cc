// Clients in roster mode against a real relay: members and keys come only from coordinator-
// signed epochs; a forged roster, a rollback and a split view raise roster alarms; the role
// policy is enforced again on receipt; a revoked member gets nothing more.
#include <catch2/catch.hpp>

#include <lmdb.h>

#include <string>
#include <vector>

#include "base/bytes.h"
#include "relay_process_util.h"
#include "store/lmdb.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;

namespace {

std::vector<std::string> Texts(Client& client) {
  auto inbox = client.Inbox();
  REQUIRE(inbox.ok());
  std::vector<std::string> out;
  for (auto& m : *inbox) out.push_back(m.text);
  return out;
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& needle) {
  for (auto& line : lines) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

// What a relay operator with write access to its disk could do: forget roster epoch `number`,
// so that the relay serves the one before it as its newest. The relay must be stopped.
void DeleteRelayRosterEpoch(const RelayProcess& relay, uint64_t number) {
  store::EnvOptions options;
  options.path = relay.data_dir() + "/store";
  auto env = store::Env::Open(options);
  REQUIRE(env.ok());
  auto txn = store::Txn::BeginWrite(**env);
  REQUIRE(txn.ok());
  auto dbi = txn->OpenDb("roster", 0);
  REQUIRE(dbi.ok());
  uint8_t key[8];
  PutBigEndian64(number, key);
  auto deleted = txn->Del(*dbi, ByteView(key, 8));
  REQUIRE(deleted.ok());
  REQUIRE(*deleted);
  REQUIRE(txn->Commit().ok());
}

// A roster-mode relay with an officer and an association contact in epoch 1 (not synced yet).
struct OfficerAndAssociation : RosterRelay {
  std::unique_ptr<Client> officer =
      MakeRosterClient(relay, coordinator, dir.Sub("officer"), "officer-dresden/1", roster::Role::kOfficer);
  std::unique_ptr<Client> association = MakeRosterClient(relay, coordinator, dir.Sub("association"),
                                                         "moschee-dresden/1", roster::Role::kAssociationContact);
  OfficerAndAssociation() { coordinator.PublishNext(relay); }
};

}  // namespace

TEST_CASE("roster-mode clients exchange messages with keys taken from the signed roster", "[integration][roster]") {
  OfficerAndAssociation o;
  auto& officer = o.officer;
  auto& association = o.association;

  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->roster_epoch == 1);
  CHECK(report->roster_alarms == 0);
  REQUIRE(association->Sync().ok());
  REQUIRE(association->Send("officer-dresden", "Drohbrief erhalten").ok());
  report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(report->roster_alarms == 0);
  REQUIRE(officer->Send("moschee-dresden/1", "Wir melden uns").ok());
  CHECK(association->Sync()->received == 1);
  CHECK(Texts(*association) == std::vector<std::string>{"Wir melden uns"});

  // A name the roster does not know is refused before anything is encrypted.
  auto unknown = officer->Send("nobody/1", "?");
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK_THAT(unknown.status().message(), Catch::Contains("not in the roster"));
}

TEST_CASE("a relay serving a forged roster cannot get a client to encrypt to a member it added",
          "[integration][roster]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  TestCoordinator genuine;
  TestCoordinator forger;  // the relay operator, who configured the relay with a key of its own
  forger.Configure(relay);
  relay.Start();
  auto officer = MakeRosterClient(relay, genuine, dir.Sub("officer"), "officer-dresden/1", roster::Role::kOfficer);
  RawDevice intruder{"intruder/1"};
  forger.members = genuine.members;
  forger.Add(intruder, roster::Role::kAssociationContact);
  forger.PublishNext(relay);
  zmq::context_t context;
  auto intruder_connection = intruder.Connect(context, relay);
  PublishRawKeys(*intruder_connection, intruder);

  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->roster_alarms == 1);
  CHECK(report->roster_epoch == 0);
  CHECK(AnyContains(report->errors, "not signed by the coordinator"));
  auto sent = officer->Send("intruder/1", "geheim");
  CHECK(sent.status().code() == Code::kPermissionDenied);  // not even this device is in a valid roster
  auto to_member = officer->Send("intruder", "geheim");
  CHECK_FALSE(to_member.ok());
  CHECK(DrainMailbox(*intruder_connection) == 0);
}

TEST_CASE("a relay that withholds the newest epoch is caught by the sender's and the recipient's client",
          "[integration][roster]") {
  OfficerAndAssociation o;
  RelayProcess& relay = o.relay;
  TestCoordinator& coordinator = o.coordinator;
  auto& officer = o.officer;
  auto& association = o.association;
  REQUIRE(association->Sync()->roster_epoch == 1);
  RawDevice desk{"desk-dresden/1"};
  coordinator.Add(desk, roster::Role::kDesk);
  coordinator.PublishNext(relay);
  REQUIRE(officer->Sync()->roster_epoch == 2);

  // The operator makes the relay forget epoch 2: the association would now be shown epoch 1.
  relay.Stop();
  DeleteRelayRosterEpoch(relay, 2);
  relay.Start();

  REQUIRE(officer->Send("moschee-dresden/1", "Bitte um Rückruf").ok());  // sealed with epoch 2's hash
  auto at_officer = officer->Sync();
  REQUIRE(at_officer.ok());
  CHECK(at_officer->roster_alarms == 1);
  CHECK(at_officer->roster_epoch == 2);  // the rollback is refused
  CHECK(AnyContains(at_officer->errors, "rolled the roster back"));

  auto at_association = association->Sync();
  REQUIRE(at_association.ok());
  CHECK(at_association->received == 1);
  CHECK(at_association->roster_epoch == 1);
  CHECK(at_association->roster_alarms == 1);
  CHECK(AnyContains(at_association->errors, "split view"));
}

TEST_CASE("the recipient's client enforces the role policy and stops trusting a revoked member",
          "[integration][roster]") {
  RosterRelay r;
  RelayProcess& relay = r.relay;
  TestCoordinator& coordinator = r.coordinator;
  const TempDir& dir = r.dir;
  auto first = MakeRosterClient(relay, coordinator, dir.Sub("first"), "verein-a/1", roster::Role::kAssociationContact);
  auto second = MakeRosterClient(relay, coordinator, dir.Sub("second"), "verein-b/1", roster::Role::kDesk);
  auto officer = MakeRosterClient(relay, coordinator, dir.Sub("officer"), "officer-dresden/1", roster::Role::kOfficer);
  coordinator.PublishNext(relay);
  REQUIRE(second->Sync().ok());
  REQUIRE(officer->Sync().ok());

  // Written while verein-b was a desk, read after it became an association contact.
  REQUIRE(first->Send("verein-b/1", "an den Tisch").ok());
  REQUIRE(coordinator.members[2].id == "verein-b");
  coordinator.members[2].role = static_cast<uint8_t>(roster::Role::kAssociationContact);
  coordinator.PublishNext(relay);
  auto report = second->Sync();
  REQUIRE(report.ok());
  CHECK(report->roster_epoch == 2);
  CHECK(report->received == 0);
  CHECK(report->rejected == 1);
  CHECK(AnyContains(report->errors, "may not write to"));
  // The sender's client refuses it too now, before the relay would.
  auto again = first->Send("verein-b/1", "noch einmal");
  CHECK(again.status().code() == Code::kPermissionDenied);

  // Revocation: the officer stops sending to a member removed from the roster.
  REQUIRE(officer->Send("verein-a/1", "vorher").ok());
  coordinator.Remove("verein-a");
  coordinator.PublishNext(relay);
  REQUIRE(officer->Sync()->roster_epoch == 3);
  auto after = officer->Send("verein-a/1", "nachher");
  CHECK(after.status().code() == Code::kNotFound);
}

TEST_CASE("a message to a desk reaches every officer's device, and a desk answer names its officer",
          "[integration][roster]") {
  RosterRelay r;
  auto weber = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("weber"), "desk-dresden/1", roster::Role::kDesk);
  auto schulz = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("schulz"), "desk-dresden/2", roster::Role::kDesk);
  auto association = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("association"), "moschee-dresden/1",
                                      roster::Role::kAssociationContact);
  REQUIRE(r.coordinator.members[0].id == "desk-dresden");
  r.coordinator.members[0].display_name = "Kontaktstelle PD Dresden";
  r.coordinator.members[0].devices[0].holder = "KHK Weber";
  r.coordinator.members[0].devices[1].holder = "POK Schulz";
  r.coordinator.PublishNext(r.relay);
  REQUIRE(weber->Sync().ok());
  REQUIRE(schulz->Sync().ok());

  REQUIRE(association->Send("desk-dresden", "Verdächtiges Fahrzeug vor der Moschee").ok());
  CHECK(weber->Sync()->received == 1);
  CHECK(schulz->Sync()->received == 1);
  CHECK(weber->Inbox()->at(0).sender_name == "Test moschee-dresden");  // no holder: the member's name

  REQUIRE(schulz->Send("moschee-dresden/1", "Wir schicken eine Streife").ok());
  REQUIRE(association->Sync()->received == 1);
  auto inbox = association->Inbox();
  REQUIRE(inbox.ok());
  REQUIRE(inbox->size() == 1);
  CHECK((*inbox)[0].sender == "desk-dresden/2");
  CHECK((*inbox)[0].sender_name == "POK Schulz");
}

TEST_CASE("safety numbers are the same on both sides, recorded when confirmed, and change with a key",
          "[integration][roster]") {
  OfficerAndAssociation r;
  auto& officer = r.officer;
  auto& association = r.association;
  REQUIRE(officer->Sync().ok());
  REQUIRE(association->Sync().ok());

  auto at_officer = officer->Verify("moschee-dresden");
  auto at_association = association->Verify("officer-dresden");
  REQUIRE(at_officer.ok());
  REQUIRE(at_association.ok());
  CHECK(at_officer->safety_number == at_association->safety_number);
  CHECK(at_officer->qr_text == at_association->qr_text);
  CHECK(at_officer->safety_number.size() == 60 + 11);
  CHECK_FALSE(at_officer->verified);

  std::string wrong = at_officer->safety_number;
  wrong[0] = wrong[0] == '1' ? '2' : '1';
  CHECK(officer->MarkVerified("moschee-dresden", wrong).code() == Code::kUnauthenticated);
  CHECK_FALSE(officer->Verify("moschee-dresden")->verified);
  REQUIRE(officer->MarkVerified("moschee-dresden", at_association->safety_number).ok());
  CHECK(officer->Verify("moschee-dresden")->verified);

  // The association's device is replaced (new keys under the same address).
  r.coordinator.Remove("moschee-dresden");
  auto replacement = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("replacement"), "moschee-dresden/1",
                                      roster::Role::kAssociationContact);
  r.coordinator.PublishNext(r.relay);
  REQUIRE(officer->Sync()->roster_epoch == 2);
  auto after = officer->Verify("moschee-dresden");
  REQUIRE(after.ok());
  CHECK(after->safety_number != at_officer->safety_number);
  CHECK_FALSE(after->verified);
  CHECK(after->changed_since_verification);
  CHECK(officer->Verify("nobody").status().code() == Code::kNotFound);
}
