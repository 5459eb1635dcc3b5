// The implementation behind liaison::Client (client/include/liaison/client.h).
#include <sodium.h>
#include <zmq.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <zmq.hpp>

#include "base/clock.h"
#include "client/src/client_state.h"
#include "client/src/connection.h"
#include "client/src/enrollment.h"
#include "client/src/app_message.h"
#include "client/src/broadcast_body.h"
#include "client/src/selection.h"
#include "client/src/tally.h"
#include "client/src/tracking.h"
#include "client/src/key_bundle.h"
#include "client/src/roster_view.h"
#include "client/src/safety_number.h"
#include "client/src/sessions.h"
#include "crypto/envelope.h"
#include "crypto/sealed_envelope.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "roster/policy.h"
#include "liaison/client.h"
#include "wire/broadcast.h"
#include "wire/limits.h"

namespace liaison {

std::string DeviceCard::ToToml() const {
  return "# liaison device card: give it to the coordinator to be admitted\n"
         "address = \"" + address + "\"\n"
         "transport_key = \"" + transport_key + "\"\n"
         "signing_key = \"" + signing_key + "\"\n"
         "dh_key = \"" + dh_key + "\"\n";
}

namespace client {
namespace {

constexpr int64_t kDefaultTtlMicros = 30ll * 86400 * kMicrosPerSecond;
constexpr int64_t kDefaultAlertTtlMicros = 14ll * 86400 * kMicrosPerSecond;
constexpr int64_t kDefaultReportTtlMicros = 30ll * 86400 * kMicrosPerSecond;
// A signed prekey is replaced weekly and its secret kept for 90 days after it was replaced (the
// relay's longest message lifetime), so that initial messages written to it can still be read.
constexpr int64_t kSignedPrekeyRotationMicros = 7ll * 86400 * kMicrosPerSecond;
constexpr int64_t kSignedPrekeyGraceMicros = 90ll * 86400 * kMicrosPerSecond;
// One-time prekeys are published 100 at a time and topped up when the relay holds fewer than 20.
constexpr uint32_t kOneTimePrekeyBatch = 100;
constexpr uint32_t kOneTimePrekeyLowWater = 20;

uint32_t ReadU32(const std::optional<Bytes>& value) {
  if (!value || value->size() != 4) return 0;
  return static_cast<uint32_t>((*value)[0]) << 24 | static_cast<uint32_t>((*value)[1]) << 16 |
         static_cast<uint32_t>((*value)[2]) << 8 | static_cast<uint32_t>((*value)[3]);
}
std::array<uint8_t, 4> U32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}

std::string Z85(const std::array<uint8_t, 32>& key) {
  char out[41] = {};
  zmq_z85_encode(out, key.data(), key.size());
  return out;
}

Result<std::array<uint8_t, 32>> ParseZ85(std::string_view text) {
  std::array<uint8_t, 32> key{};
  std::string copy(text);
  if (copy.size() != 40 || zmq_z85_decode(key.data(), copy.c_str()) == nullptr) {
    return Status::Error(Code::kInvalidArgument, "the relay key must be 40 characters of Z85");
  }
  return key;
}

// "an officer", "a desk": a role name for a sentence.
std::string WithArticle(std::string_view role) {
  const bool vowel = !role.empty() && std::string_view("aeiou").find(role[0]) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(role);
}

Status CheckAddress(std::string_view address) {
  if (address.empty() || address.size() > wire::kMaxAddressBytes) {
    return Status::Error(Code::kInvalidArgument, "an address has 1 to 64 bytes");
  }
  return Status::Ok();
}

template <size_t N>
Result<crypto::SecretBytes<N>> SecretFrom(ClientState& state, const char* name) {
  LIAISON_ASSIGN_OR_RETURN(auto value, state.GetSelf(name));
  if (!value) return Status::Error(Code::kCorruption, std::string("state lacks ") + name);
  auto secret = crypto::SecretBytes<N>::FromBytes(*value);
  sodium_memzero(value->data(), value->size());
  if (!secret.ok()) return Status::Error(Code::kCorruption, std::string("stored ") + name + " has the wrong size");
  return std::move(secret).value();
}

class ClientImpl final : public Client {
 public:
  ClientImpl(std::unique_ptr<ClientState> state, std::string address, crypto::SigningKeyPair signing,
             crypto::DhKeyPair dh, crypto::DhKeyPair transport, std::string endpoint,
             std::array<uint8_t, 32> relay_key, std::chrono::milliseconds timeout, Clock& clock,
             std::optional<RosterView> roster)
      : clock_(clock),
        roster_(std::move(roster)),
        state_(std::move(state)),
        address_(std::move(address)),
        signing_(std::move(signing)),
        dh_(std::move(dh)),
        transport_(std::move(transport)),
        endpoint_(std::move(endpoint)),
        relay_key_(relay_key),
        timeout_(timeout),
        context_(1) {
    Reconnect(transport_);
  }
  ~ClientImpl() override {
    connection_.reset();
    context_.close();
  }

  const std::string& address() const override { return address_; }

  DeviceCard Card() const override {
    return DeviceCard{address_, Z85(transport_.public_key), ToHex(signing_.public_key), ToHex(dh_.public_key)};
  }

  Result<SendReceipt> Send(std::string_view recipient, std::string_view text, std::chrono::seconds ttl) override {
    LIAISON_RETURN_IF_ERROR(CheckAddress(recipient));
    if (text.empty() || text.size() > kMaxTextBytes) {
      return Status::Error(Code::kInvalidArgument, "a message has 1 byte to 64 KiB of text");
    }
    LIAISON_RETURN_IF_ERROR(AdoptRotatedKeysIfApproved());
    const Status publish = EnsurePublished(false);
    // Refused at the handshake (not admitted, revoked): queueing would only hide it.
    if (publish.code() == Code::kPermissionDenied) return publish;
    const bool published = publish.ok();
    if (roster_) {
      // An unreachable relay: send under the epoch held. Refused at the handshake: say so.
      const Status updated = UpdateRoster(nullptr);
      if (updated.code() == Code::kPermissionDenied) return updated;
      LIAISON_RETURN_IF_ERROR(CheckPolicy(recipient));
    }
    LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> devices, DevicesOf(recipient));
    for (const std::string& device : devices) LIAISON_RETURN_IF_ERROR(EnsureSession(device));

    AppMessage app;
    app.message_id = crypto::NewMessageId(clock_.NowMicros());
    app.text = std::string(text);
    LIAISON_ASSIGN_OR_RETURN(crypto::WipedBytes plaintext, EncodeAppMessage(app));
    sodium_memzero(app.text.data(), app.text.size());
    const int64_t expires_at = clock_.NowMicros() + TtlMicros(ttl, kDefaultTtlMicros);
    {
      // Each device's session advances in the same commit that queues the message it encrypted:
      // a crash cannot leave a sent message whose key the stored session would use again.
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      for (const std::string& device : devices) {
        LIAISON_ASSIGN_OR_RETURN(KeyBundle keys, ResolveContact(device));
        LIAISON_ASSIGN_OR_RETURN(PeerSessions sessions, LoadSessions(txn, device));
        LIAISON_ASSIGN_OR_RETURN(OutgoingMessage out, EncryptInCurrent(sessions, plaintext.view()));
        crypto::RosterHash roster_hash{};
        if (roster_ && roster_->newest()) roster_hash = roster_->newest()->hash;
        crypto::SealedContent content{address_, roster_hash, out.initial, std::move(out.ratchet_message)};
        OutboxEntry entry;
        entry.message_id = app.message_id;
        entry.recipient = device;
        entry.expires_at = expires_at;
        LIAISON_ASSIGN_OR_RETURN(entry.envelope, crypto::SealEnvelopeV2(content, device, keys.dh_key, app.message_id));
        LIAISON_RETURN_IF_ERROR(state_->AddToOutbox(txn, entry));
        LIAISON_RETURN_IF_ERROR(StoreSessions(txn, device, sessions));
      }
      LIAISON_RETURN_IF_ERROR(txn.Commit());
    }
    SendReceipt receipt{ToHex(app.message_id), false};
    SyncReport report;
    OwnOutcome own{app.message_id};
    if (published) (void)FlushOutbox(report, &own);  // an unreachable relay leaves it queued
    LIAISON_RETURN_IF_ERROR(own.refusal);
    receipt.stored = own.stored == devices.size();
    return receipt;
  }

  Result<SyncReport> Sync() override {
    SyncReport report;
    LIAISON_RETURN_IF_ERROR(AdoptRotatedKeysIfApproved());
    LIAISON_RETURN_IF_ERROR(EnsurePublished(true));
    LIAISON_RETURN_IF_ERROR(UpdateRoster(&report));
    LIAISON_RETURN_IF_ERROR(FlushOutbox(report));
    LIAISON_RETURN_IF_ERROR(ReportFailures(report));
    uint64_t after = 0;
    while (true) {
      wire::FetchRequest fetch;
      fetch.after_seq = after;
      LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kFetch, fetch));
      LIAISON_RETURN_IF_ERROR(ReplyStatus(reply));
      LIAISON_ASSIGN_OR_RETURN(wire::Deliveries deliveries, wire::Decode<wire::Deliveries>(reply.body));
      if (deliveries.items.empty()) break;
      after = deliveries.items.back().seq;
      LIAISON_RETURN_IF_ERROR(Process(deliveries, report, nullptr));
      if (!deliveries.more) break;
    }
    // After the receipts this sync brought: a device that just confirmed is not reminded.
    LIAISON_ASSIGN_OR_RETURN(report.escalations, RunEscalation());
    return report;
  }

  Result<SyncReport> Listen(std::chrono::milliseconds duration,
                            const std::function<void(const InboxMessage&)>& on_message) override {
    SyncReport report;
    LIAISON_RETURN_IF_ERROR(AdoptRotatedKeysIfApproved());
    LIAISON_RETURN_IF_ERROR(EnsurePublished(true));
    LIAISON_RETURN_IF_ERROR(UpdateRoster(&report));
    LIAISON_RETURN_IF_ERROR(FlushOutbox(report));
    LIAISON_RETURN_IF_ERROR(ReportFailures(report));
    LIAISON_ASSIGN_OR_RETURN(report.escalations, RunEscalation());
    // The relay pushes to the connection that last said HELLO; saying it again now and then
    // re-subscribes after a reconnect (and re-sends what is unacknowledged, which dedup absorbs).
    constexpr auto kResubscribeEvery = std::chrono::seconds(5);
    auto next_hello = std::chrono::steady_clock::now();
    const auto deadline = std::chrono::steady_clock::now() + duration;
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_hello) {
        LIAISON_ASSIGN_OR_RETURN(Reply hello, connection_->Call(wire::FrameType::kHello, wire::Empty{}));
        LIAISON_RETURN_IF_ERROR(ReplyStatus(hello));
        next_hello = now + kResubscribeEvery;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, next_hello) - now);
      if (deadline <= now) break;
      LIAISON_ASSIGN_OR_RETURN(auto push, connection_->NextPush(left));
      if (!push) continue;
      LIAISON_RETURN_IF_ERROR(Process(*push, report, &on_message));
    }
    return report;
  }

  Result<std::vector<InboxMessage>> Inbox() override {
    std::vector<InboxMessage> alerts, reports, out;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
      LIAISON_ASSIGN_OR_RETURN(auto received, state_->Scan(txn, Table::kReceivedAlerts, {}));
      for (const auto& [key, value] : received) {
        LIAISON_ASSIGN_OR_RETURN(ReceivedAlertRecord record, DecodeReceivedAlert(value));
        (record.content.kind == kKindReport ? reports : alerts).push_back(ToInboxMessage(record));
      }
    }
    auto newest_first = [](const InboxMessage& a, const InboxMessage& b) { return a.received_at > b.received_at; };
    std::stable_sort(alerts.begin(), alerts.end(), [&](const InboxMessage& a, const InboxMessage& b) {
      if (a.severity != b.severity) return a.severity > b.severity;
      return newest_first(a, b);
    });
    std::stable_sort(reports.begin(), reports.end(), newest_first);
    LIAISON_ASSIGN_OR_RETURN(auto stored, state_->Inbox());
    out.reserve(alerts.size() + reports.size() + stored.size());
    for (auto& m : alerts) out.push_back(std::move(m));
    for (auto& m : reports) out.push_back(std::move(m));
    for (auto& m : stored) out.push_back(ToInboxMessage(m));
    return out;
  }
  Result<BroadcastReceipt> SendAlert(const AlertRequest& alert) override {
    LIAISON_RETURN_IF_ERROR(RequireRosterMode("alerts"));
    if (alert.title.empty() || alert.title.size() > kMaxTitleBytes) {
      return Status::Error(Code::kInvalidArgument, "an alert's title has 1 to 200 bytes");
    }
    if (alert.body.empty() || alert.body.size() > kMaxAlertTextBytes) {
      return Status::Error(Code::kInvalidArgument, "an alert's body has 1 byte to 16 KiB");
    }
    LIAISON_ASSIGN_OR_RETURN(Selection selection, ParseSelection(alert.to));
    LIAISON_RETURN_IF_ERROR(PrepareToSend());
    const int64_t now = clock_.NowMicros();
    LIAISON_ASSIGN_OR_RETURN(roster::Epoch::Entry self, roster_->Find(address_, now));
    if (!roster::IsPoliceSide(self.member->role_value())) {
      return Status::Error(Code::kPermissionDenied, "only officers, desks and coordinators send alerts; " +
                                                        WithArticle(roster::RoleName(self.member->role_value())) +
                                                        " reports to a desk instead");
    }
    std::vector<std::string> devices;
    for (const roster::Member* member : SelectMembers(roster_->newest()->epoch, selection, now)) {
      if (member->id == self.member->id) continue;
      for (const roster::Device& d : member->devices) devices.push_back(member->id + "/" + d.id);
    }
    if (devices.empty()) return Status::Error(Code::kNotFound, "the selection \"" + alert.to + "\" names no other member");
    BroadcastContent content;
    content.kind = kKindAlert;
    content.sender = address_;
    content.created_at = now;
    content.expires_at = now + TtlMicros(alert.ttl, kDefaultAlertTtlMicros);
    content.severity = static_cast<uint8_t>(alert.severity);
    content.ack_required = alert.ack_required ? 1 : 0;
    content.title = alert.title;
    content.text = alert.body;
    const EscalationRules rules = alert.escalation.value_or(DefaultEscalation(alert.severity));
    return StartBroadcast(std::move(content), devices, rules);
  }

  Result<BroadcastReceipt> SendReport(const ReportRequest& report) override {
    LIAISON_RETURN_IF_ERROR(RequireRosterMode("reports"));
    if (report.text.empty() || report.text.size() > kMaxAlertTextBytes) {
      return Status::Error(Code::kInvalidArgument, "a report's text has 1 byte to 16 KiB");
    }
    if (report.place.size() > kMaxPlaceBytes) return Status::Error(Code::kInvalidArgument, "a place has at most 200 bytes");
    if (report.when.size() > kMaxWhenBytes) return Status::Error(Code::kInvalidArgument, "a time has at most 64 bytes");
    LIAISON_RETURN_IF_ERROR(PrepareToSend());
    const int64_t now = clock_.NowMicros();
    LIAISON_ASSIGN_OR_RETURN(roster::Epoch::Entry self, roster_->Find(address_, now));
    if (roster::IsPoliceSide(self.member->role_value())) {
      return Status::Error(Code::kPermissionDenied, "reports come from association contacts and deputies; " +
                                                        WithArticle(roster::RoleName(self.member->role_value())) +
                                                        " sends an alert or a message instead");
    }
    const roster::Member* desk = roster_->newest()->epoch.FindMember(report.desk);
    if (desk == nullptr || !desk->ValidAt(now)) {
      return Status::Error(Code::kNotFound, report.desk + " is not a member in the roster");
    }
    if (desk->role_value() != roster::Role::kDesk) {
      return Status::Error(Code::kInvalidArgument, report.desk + " is " + WithArticle(roster::RoleName(desk->role_value())) +
                                                       ", not a desk; reports go to a police contact desk");
    }
    LIAISON_RETURN_IF_ERROR(CheckPolicy(report.desk));
    LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> devices, DevicesOf(report.desk));
    BroadcastContent content;
    content.kind = kKindReport;
    content.sender = address_;
    content.created_at = now;
    content.expires_at = now + TtlMicros(report.ttl, kDefaultReportTtlMicros);
    content.category = static_cast<uint8_t>(report.category);
    content.ack_required = 1;
    content.place = report.place;
    content.when = report.when;
    content.text = report.text;
    return StartBroadcast(std::move(content), devices, EscalationRules{});
  }

  Result<AlertStatus> GetAlertStatus(std::string_view id) override {
    LIAISON_ASSIGN_OR_RETURN(BroadcastId broadcast_id, FromHexArray<16>(id, "an id"));
    LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
    LIAISON_ASSIGN_OR_RETURN(auto stored, state_->Get(txn, Table::kSentAlerts, broadcast_id));
    if (!stored) return Status::Error(Code::kNotFound, "this device sent no alert or report " + std::string(id));
    LIAISON_ASSIGN_OR_RETURN(SentAlertRecord record, DecodeSentAlert(*stored));
    LIAISON_ASSIGN_OR_RETURN(std::vector<RecipientRecord> recipients, LoadRecipients(txn, broadcast_id));
    return BuildStatus(record, recipients, clock_.NowMicros(), NewestEpoch());
  }

  Result<std::vector<AlertStatus>> SentAlerts() override {
    LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
    LIAISON_ASSIGN_OR_RETURN(auto all, state_->Scan(txn, Table::kSentAlerts, {}));
    std::vector<AlertStatus> out;
    for (const auto& [key, value] : all) {
      LIAISON_ASSIGN_OR_RETURN(SentAlertRecord record, DecodeSentAlert(value));
      LIAISON_ASSIGN_OR_RETURN(std::vector<RecipientRecord> recipients, LoadRecipients(txn, record.id));
      out.push_back(BuildStatus(record, recipients, clock_.NowMicros(), NewestEpoch()));
    }
    std::stable_sort(out.begin(), out.end(), [](const AlertStatus& a, const AlertStatus& b) { return a.created_at > b.created_at; });
    return out;
  }

  Status MarkRead(std::string_view id) override { return AnswerReceived(id, kReceiptRead, ""); }

  Status Acknowledge(std::string_view id, std::string_view answer) override {
    if (answer.size() > kMaxAnswerBytes) return Status::Error(Code::kInvalidArgument, "an answer has at most 200 bytes");
    return AnswerReceived(id, kReceiptAcknowledged, answer);
  }

  Result<size_t> RunEscalation() override {
    if (!roster_) return size_t{0};
    const int64_t now = clock_.NowMicros();
    struct Work {
      SentAlertRecord alert;
      std::vector<RecipientRecord> recipients;
      EscalationPlan plan;
    };
    std::vector<Work> work;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
      LIAISON_ASSIGN_OR_RETURN(auto all, state_->Scan(txn, Table::kSentAlerts, {}));
      for (const auto& [key, value] : all) {
        LIAISON_ASSIGN_OR_RETURN(SentAlertRecord alert, DecodeSentAlert(value));
        if (now >= alert.content.expires_at) continue;
        LIAISON_ASSIGN_OR_RETURN(std::vector<RecipientRecord> recipients, LoadRecipients(txn, alert.id));
        EscalationPlan plan = PlanEscalation(alert, recipients, now, NewestEpoch());
        if (!plan.empty()) work.push_back({std::move(alert), std::move(recipients), std::move(plan)});
      }
    }
    size_t sent = 0;
    for (Work& w : work) {
      // A device whose session cannot be started now (no keys published, relay down) is tried
      // again at the next run.
      auto reachable = [&](const std::vector<std::string>& devices) {
        std::vector<std::string> out;
        for (const std::string& device : devices) {
          if (EnsureSession(device).ok()) out.push_back(device);
        }
        return out;
      };
      const std::vector<std::string> first_copies = reachable(w.plan.unqueued);
      const std::vector<std::string> reminders = reachable(w.plan.remind);
      std::vector<std::string> targets = first_copies;
      targets.insert(targets.end(), reminders.begin(), reminders.end());
      std::set<std::string> reached_members;  // whose deputies got a copy in this run
      std::vector<std::string> deputy_devices;
      for (const auto& [member, devices] : w.plan.deputies) {
        for (const std::string& device : reachable(devices)) {
          deputy_devices.push_back(device);
          reached_members.insert(member);
        }
      }
      targets.insert(targets.end(), deputy_devices.begin(), deputy_devices.end());
      const std::set<std::string> to_call(w.plan.call.begin(), w.plan.call.end());
      if (targets.empty() && to_call.empty()) continue;

      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      if (!targets.empty()) LIAISON_RETURN_IF_ERROR(QueueBroadcast(txn, w.alert.id, w.alert.content, targets));
      const std::set<std::string> queued(first_copies.begin(), first_copies.end());
      const std::set<std::string> reminded(reminders.begin(), reminders.end());
      for (RecipientRecord& r : w.recipients) {
        bool changed = false;
        if (queued.count(r.device)) {
          r.queued = 1;
          changed = true;
        }
        if (reminded.count(r.device)) {
          r.reminded_at = now;
          changed = true;
        }
        const std::string member = MemberOf(r.device);
        if (!r.via_escalation && to_call.count(member)) {
          r.call = 1;
          changed = true;
        }
        if (!r.via_escalation && reached_members.count(member) && r.deputy_notified_at == 0) {
          r.deputy_notified_at = now;
          changed = true;
        }
        if (changed) LIAISON_RETURN_IF_ERROR(PutRecipient(txn, w.alert.id, r));
      }
      for (const std::string& device : deputy_devices) {
        RecipientRecord r;
        r.device = device;
        r.via_escalation = 1;
        r.queued = 1;
        LIAISON_RETURN_IF_ERROR(PutRecipient(txn, w.alert.id, r));
      }
      LIAISON_RETURN_IF_ERROR(txn.Commit());
      sent += reminders.size() + deputy_devices.size();
    }
    if (!work.empty()) {
      SyncReport ignored;
      (void)FlushOutbox(ignored);
    }
    return sent;
  }

  Result<size_t> OutboxSize() override {
    LIAISON_ASSIGN_OR_RETURN(auto outbox, state_->Outbox());
    return outbox.size();
  }

  Result<std::string> RequestKeyRotation() override {
    if (!roster_) return Status::Error(Code::kInvalidArgument, "key rotation needs roster mode (an enrolled device)");
    LIAISON_ASSIGN_OR_RETURN(std::optional<PendingKeys> pending, LoadPendingKeys());
    if (!pending) {
      PendingKeys fresh{crypto::SigningKeyPair::Generate(), crypto::DhKeyPair::Generate(), crypto::DhKeyPair::Generate()};
      auto secret = [](const auto& key) { return Bytes(key.data(), key.data() + key.size()); };
      std::vector<std::pair<std::string, Bytes>> entries{{"pending_signing_secret", secret(fresh.signing.secret_key)},
                                                         {"pending_dh_secret", secret(fresh.dh.secret_key)},
                                                         {"pending_transport_secret", secret(fresh.transport.secret_key)}};
      Status stored = state_->PutSelf(entries);
      for (auto& [name, value] : entries) sodium_memzero(value.data(), value.size());
      LIAISON_RETURN_IF_ERROR(stored);
      pending = std::move(fresh);
    }
    return EncodeRotationRequest(address_, signing_, pending->signing.public_key, pending->dh.public_key,
                                 pending->transport.public_key);
  }

  Result<Verification> Verify(std::string_view member) override {
    LIAISON_ASSIGN_OR_RETURN(auto pair, MembersToVerify(member));
    Verification out;
    out.member = std::string(member);
    const std::string digits = SafetyNumber(*pair.first, *pair.second);
    out.safety_number = GroupDigits(digits);
    const auto& [low, high] = pair.first->id < pair.second->id ? std::make_pair(pair.first, pair.second)
                                                               : std::make_pair(pair.second, pair.first);
    out.qr_text = "liaison-safety-v1:" + low->id + ":" + high->id + ":" + digits;
    LIAISON_ASSIGN_OR_RETURN(auto recorded, state_->GetSelf("verified/" + std::string(member)));
    if (recorded) {
      out.verified = std::string(AsChars(*recorded)) == digits;
      out.changed_since_verification = !out.verified;
    }
    return out;
  }

  Status MarkVerified(std::string_view member, std::string_view confirmed) override {
    LIAISON_ASSIGN_OR_RETURN(auto pair, MembersToVerify(member));
    const std::string digits = SafetyNumber(*pair.first, *pair.second);
    std::string given;
    for (char c : confirmed) {
      if (c != ' ') given += c;
    }
    if (given.size() != digits.size() || sodium_memcmp(given.data(), digits.data(), digits.size()) != 0) {
      return Status::Error(Code::kUnauthenticated, "that is not the current safety number with " + std::string(member) +
                                                       "; do not mark it verified");
    }
    return state_->PutSelf({{"verified/" + std::string(member), Bytes(digits.begin(), digits.end())}});
  }

 private:
  using Table = ClientState::Table;

  Status RequireRosterMode(const char* what) const {
    if (!roster_) return Status::Error(Code::kInvalidArgument, std::string(what) + " need roster mode (an enrolled device)");
    return Status::Ok();
  }

  // What every send does first: adopt approved keys, publish, take newer roster epochs.
  Status PrepareToSend() {
    LIAISON_RETURN_IF_ERROR(AdoptRotatedKeysIfApproved());
    const Status publish = EnsurePublished(false);
    if (publish.code() == Code::kPermissionDenied) return publish;
    const Status updated = UpdateRoster(nullptr);
    if (updated.code() == Code::kPermissionDenied) return updated;
    if (!roster_->newest()) return Status::Error(Code::kNotFound, "this device holds no roster epoch yet (sync first)");
    return Status::Ok();
  }

  static int64_t TtlMicros(std::chrono::seconds ttl, int64_t fallback) {
    if (ttl.count() <= 0) return fallback;
    return std::min<int64_t>(ttl.count(), 90ll * 86400) * kMicrosPerSecond;
  }

  const roster::Epoch* NewestEpoch() const {
    return roster_ && roster_->newest() ? &roster_->newest()->epoch : nullptr;
  }

  Result<std::vector<RecipientRecord>> LoadRecipients(store::Txn& txn, const BroadcastId& id) {
    LIAISON_ASSIGN_OR_RETURN(auto entries, state_->Scan(txn, Table::kAlertRecipients, id));
    std::vector<RecipientRecord> out;
    for (const auto& [key, value] : entries) {
      LIAISON_ASSIGN_OR_RETURN(RecipientRecord r, DecodeRecipient(value));
      out.push_back(std::move(r));
    }
    return out;
  }

  Status PutRecipient(store::Txn& txn, const BroadcastId& id, const RecipientRecord& r) {
    LIAISON_ASSIGN_OR_RETURN(Bytes encoded, EncodeRecord(r));
    return state_->Put(txn, Table::kAlertRecipients, RecipientKey(id, r.device), encoded);
  }

  // Encrypts `plaintext` in the current session of `sessions` (the caller stores them back in the
  // same transaction) and seals it for `device` under `id`.
  Result<Bytes> SealInSession(PeerSessions& sessions, const std::string& device, const KeyBundle& keys,
                              const MessageId& id, ByteView plaintext) {
    LIAISON_ASSIGN_OR_RETURN(OutgoingMessage out, EncryptInCurrent(sessions, plaintext));
    crypto::RosterHash roster_hash{};
    if (roster_ && roster_->newest()) roster_hash = roster_->newest()->hash;
    crypto::SealedContent content{address_, roster_hash, out.initial, std::move(out.ratchet_message)};
    return crypto::SealEnvelopeV2(content, device, keys.dh_key, id);
  }

  // Records a new alert or report with its recipients and queues it; then tries to send it.
  Result<BroadcastReceipt> StartBroadcast(BroadcastContent content, const std::vector<std::string>& devices,
                                          const EscalationRules& rules) {
    // A device that never published its keys must not keep the alert from everyone else: it is
    // recorded without a copy and tried again at every Sync (RunEscalation).
    std::vector<std::string> reachable;
    Status first_failure = Status::Ok();
    for (const std::string& device : devices) {
      const Status session = EnsureSession(device);
      if (session.ok()) {
        reachable.push_back(device);
        continue;
      }
      if (session.code() != Code::kNotFound && session.code() != Code::kUnavailable) return session;
      if (first_failure.ok()) first_failure = session;
    }
    if (reachable.empty()) return first_failure.WithContext("no recipient device could be reached");
    const std::set<std::string> queued(reachable.begin(), reachable.end());
    SentAlertRecord record;
    record.id = crypto::RandomArray<16>();
    record.content = std::move(content);
    record.remind_after_micros = rules.remind_after.count() * kMicrosPerSecond;
    record.deputy_after_micros = rules.deputy_after.count() * kMicrosPerSecond;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      LIAISON_ASSIGN_OR_RETURN(Bytes encoded, EncodeRecord(record));
      LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kSentAlerts, record.id, encoded));
      for (const std::string& device : devices) {
        RecipientRecord r;
        r.device = device;
        r.queued = queued.count(device) ? 1 : 0;
        LIAISON_RETURN_IF_ERROR(PutRecipient(txn, record.id, r));
      }
      LIAISON_RETURN_IF_ERROR(QueueBroadcast(txn, record.id, record.content, reachable));
      LIAISON_RETURN_IF_ERROR(txn.Commit());
    }
    SyncReport report;
    (void)FlushOutbox(report);  // an unreachable relay leaves it queued
    BroadcastReceipt receipt{ToHex(record.id), devices.size(), 0};
    LIAISON_ASSIGN_OR_RETURN(AlertStatus status, GetAlertStatus(receipt.id));
    receipt.stored = status.sent;
    return receipt;
  }

  // Encrypts `content` once under a fresh key and queues, in `txn`, one SEND_BROADCAST (or
  // several, if the copies do not fit one frame) with a copy for each device carrying the key
  // through its session. Sessions must exist (EnsureSession).
  Status QueueBroadcast(store::Txn& txn, const BroadcastId& id, const BroadcastContent& content,
                        const std::vector<std::string>& devices) {
    const crypto::AeadKey key = crypto::AeadKey::Random();
    LIAISON_ASSIGN_OR_RETURN(Bytes body, SealBroadcastBody(content, key, id));
    const auto body_hash = BroadcastBodyHash(body);
    wire::SendBroadcastRequest request;
    request.broadcast_id = id;
    request.expires_at = static_cast<uint64_t>(content.expires_at);
    request.body = body;
    size_t request_bytes = 64 + body.size();
    auto write = [&]() -> Status {
      if (request.copies.empty()) return Status::Ok();
      LIAISON_ASSIGN_OR_RETURN(Bytes encoded, wire::Encode(request));
      LIAISON_ASSIGN_OR_RETURN(uint64_t position, state_->NextPositionIn(txn, Table::kBroadcastOutbox));
      Bytes position_key(8);
      PutBigEndian64(position, position_key.data());
      LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kBroadcastOutbox, position_key, encoded));
      request.copies.clear();
      request_bytes = 64 + body.size();
      return Status::Ok();
    };
    for (const std::string& device : devices) {
      LIAISON_ASSIGN_OR_RETURN(KeyBundle keys, ResolveContact(device));
      LIAISON_ASSIGN_OR_RETURN(PeerSessions sessions, LoadSessions(txn, device));
      AppMessage app;
      app.kind = kAppKindBroadcastKey;
      app.message_id = crypto::NewMessageId(clock_.NowMicros());
      app.broadcast_id = id;
      std::copy(key.data(), key.data() + key.size(), app.content_key.bytes.begin());
      app.body_hash = body_hash;
      LIAISON_ASSIGN_OR_RETURN(crypto::WipedBytes plaintext, EncodeAppMessage(app));
      LIAISON_ASSIGN_OR_RETURN(Bytes envelope, SealInSession(sessions, device, keys, app.message_id, plaintext.view()));
      LIAISON_RETURN_IF_ERROR(StoreSessions(txn, device, sessions));
      const size_t copy_bytes = 8 + device.size() + 16 + 8 + envelope.size();
      if (request.copies.size() == wire::kMaxBroadcastCopies || request_bytes + copy_bytes > wire::kMaxBodyBytes) {
        LIAISON_RETURN_IF_ERROR(write());
      }
      request.copies.push_back({device, app.message_id, std::move(envelope)});
      request_bytes += copy_bytes;
    }
    return write();
  }

  // Sends the queued broadcasts. Copies the relay stored (200, 208) are marked sent in their
  // recipient records; copies refused for now (3xx, 5xx, 426) stay queued; copies refused for
  // good (other 4xx) are recorded as refused. The first submission receipt is verified and kept.
  Status FlushBroadcasts(SyncReport& report) {
    std::vector<std::pair<Bytes, Bytes>> queued;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
      LIAISON_ASSIGN_OR_RETURN(queued, state_->Scan(txn, Table::kBroadcastOutbox, {}));
    }
    for (size_t i = 0; i < queued.size(); ++i) {
      LIAISON_ASSIGN_OR_RETURN(wire::SendBroadcastRequest request, wire::Decode<wire::SendBroadcastRequest>(queued[i].second));
      auto reply = connection_->Call(wire::FrameType::kSendBroadcast, request);
      if (!reply.ok()) {
        for (size_t j = i; j < queued.size(); ++j) ++report.still_queued;
        return reply.status();
      }
      const Status status = ReplyStatus(*reply);
      const int64_t now = clock_.NowMicros();
      std::vector<uint16_t> statuses(request.copies.size(), reply->status);
      std::optional<SubmissionRecord> submission;
      if (status.ok()) {
        LIAISON_ASSIGN_OR_RETURN(wire::SendBroadcastReply answer, wire::Decode<wire::SendBroadcastReply>(reply->body));
        if (answer.statuses.size() != request.copies.size()) {
          return Status::Error(Code::kMalformed, "the relay answered a broadcast with the wrong number of statuses");
        }
        statuses = answer.statuses;
        uint32_t copies = 0;
        for (uint16_t s : statuses) copies += wire::IsSuccess(s) ? 1 : 0;
        SubmissionRecord record{answer.relay_signing_key, BroadcastBodyHash(request.body), answer.stored_at, copies,
                                answer.signature};
        const Bytes signed_bytes =
            wire::SubmissionReceiptMessage(request.broadcast_id, record.body_hash, record.stored_at, record.copies);
        if (crypto::VerifyDetached(answer.relay_signing_key, signed_bytes, answer.signature).ok()) {
          submission = record;
        } else {
          report.errors.push_back("the relay's submission receipt for " + ToHex(request.broadcast_id) + " does not verify");
        }
      }
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      wire::SendBroadcastRequest rest = request;
      rest.copies.clear();
      for (size_t k = 0; k < request.copies.size(); ++k) {
        const uint16_t s = statuses[k];
        const bool stored = wire::IsSuccess(s);
        const bool permanent = s >= 400 && s < 500 && s != static_cast<uint16_t>(wire::WireStatus::kUnsupportedVersion);
        if (!stored && !permanent) {
          rest.copies.push_back(request.copies[k]);
          ++report.still_queued;
          continue;
        }
        LIAISON_ASSIGN_OR_RETURN(auto value, state_->Get(txn, Table::kAlertRecipients,
                                                         RecipientKey(request.broadcast_id, request.copies[k].recipient)));
        if (!value) continue;  // not tracked (cannot happen: records are written with the copies)
        LIAISON_ASSIGN_OR_RETURN(RecipientRecord r, DecodeRecipient(*value));
        if (stored) {
          ++report.sent;
          if (r.sent_at == 0) r.sent_at = now;
        } else {
          ++report.failed;
          r.refused = "refused by the relay (" + std::to_string(s) + ")";
          if (!status.ok()) r.refused = status.ToString().substr(0, wire::kMaxReasonBytes);
          report.errors.push_back("alert copy to " + r.device + ": " + r.refused);
        }
        LIAISON_RETURN_IF_ERROR(PutRecipient(txn, request.broadcast_id, r));
      }
      if (submission) {
        LIAISON_ASSIGN_OR_RETURN(auto value, state_->Get(txn, Table::kSentAlerts, request.broadcast_id));
        if (value) {
          LIAISON_ASSIGN_OR_RETURN(SentAlertRecord alert, DecodeSentAlert(*value));
          if (!alert.has_submission) {
            alert.has_submission = 1;
            alert.submission = *submission;
            LIAISON_ASSIGN_OR_RETURN(Bytes encoded, EncodeRecord(alert));
            LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kSentAlerts, request.broadcast_id, encoded));
          }
        }
      }
      if (rest.copies.empty()) {
        LIAISON_RETURN_IF_ERROR(state_->Delete(txn, Table::kBroadcastOutbox, queued[i].first));
      } else if (rest.copies.size() != request.copies.size()) {
        LIAISON_ASSIGN_OR_RETURN(Bytes encoded, wire::Encode(rest));
        LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kBroadcastOutbox, queued[i].first, encoded));
      }
      LIAISON_RETURN_IF_ERROR(txn.Commit());
    }
    return Status::Ok();
  }

  // MarkRead and Acknowledge: records the step on the received alert and queues the signed
  // receipt to its sender in the same commit, then tries to send it.
  Status AnswerReceived(std::string_view id_hex, uint8_t step, std::string_view answer) {
    LIAISON_ASSIGN_OR_RETURN(BroadcastId id, FromHexArray<16>(id_hex, "an id"));
    ReceivedAlertRecord record;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
      LIAISON_ASSIGN_OR_RETURN(auto value, state_->Get(txn, Table::kReceivedAlerts, id));
      if (!value) return Status::Error(Code::kNotFound, "no alert or report " + std::string(id_hex) + " was received");
      LIAISON_ASSIGN_OR_RETURN(record, DecodeReceivedAlert(*value));
    }
    if (step == kReceiptAcknowledged && record.acknowledged_at != 0) {
      return Status::Error(Code::kAlreadyExists, "already acknowledged");
    }
    if (step == kReceiptRead && record.read_at != 0) return Status::Ok();  // a read receipt goes once
    const std::string& sender = record.content.sender;
    LIAISON_RETURN_IF_ERROR(EnsureSession(sender));
    const int64_t now = clock_.NowMicros();
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      LIAISON_ASSIGN_OR_RETURN(KeyBundle keys, ResolveContact(sender));
      LIAISON_ASSIGN_OR_RETURN(PeerSessions sessions, LoadSessions(txn, sender));
      LIAISON_RETURN_IF_ERROR(QueueReceipt(txn, sessions, sender, keys, id, step, now, answer, record.content.expires_at));
      LIAISON_RETURN_IF_ERROR(StoreSessions(txn, sender, sessions));
      if (record.read_at == 0) record.read_at = now;
      if (step == kReceiptAcknowledged) {
        record.acknowledged_at = now;
        record.answer = std::string(answer);
      }
      LIAISON_ASSIGN_OR_RETURN(Bytes encoded, EncodeRecord(record));
      LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kReceivedAlerts, id, encoded));
      LIAISON_RETURN_IF_ERROR(txn.Commit());
    }
    SyncReport report;
    (void)FlushOutbox(report);  // an unreachable relay leaves the receipt queued
    return Status::Ok();
  }

  // Queues, in `txn`, a signed receipt to the alert's sender device through `sessions`.
  Status QueueReceipt(store::Txn& txn, PeerSessions& sessions, const std::string& sender, const KeyBundle& keys,
                      const BroadcastId& about, uint8_t step, int64_t at, std::string_view answer, int64_t expires_at) {
    AppMessage app;
    app.kind = kAppKindReceipt;
    app.message_id = crypto::NewMessageId(clock_.NowMicros());
    app.broadcast_id = about;
    app.step = step;
    app.at = at;
    app.answer = std::string(answer);
    app.signature = crypto::SignDetached(signing_.secret_key, ReceiptSignedBytes(about, address_, sender, step, at, answer));
    LIAISON_ASSIGN_OR_RETURN(crypto::WipedBytes plaintext, EncodeAppMessage(app));
    OutboxEntry entry;
    entry.message_id = app.message_id;
    entry.recipient = sender;
    entry.expires_at = std::max(expires_at, at + kMicrosPerSecond * 86400);
    LIAISON_ASSIGN_OR_RETURN(entry.envelope, SealInSession(sessions, sender, keys, app.message_id, plaintext.view()));
    return state_->AddToOutbox(txn, entry);
  }

  InboxMessage ToInboxMessage(const ReceivedAlertRecord& r) const {
    InboxMessage out;
    out.id = ToHex(r.id);
    out.kind = r.content.kind == kKindReport ? "report" : "alert";
    out.sender = r.content.sender;
    if (const roster::Epoch* epoch = NewestEpoch()) {
      if (auto entry = epoch->Find(r.content.sender)) {
        out.sender_name = entry->device->holder.empty() ? entry->member->display_name : entry->device->holder;
      }
    }
    out.stored_at = r.stored_at;
    out.received_at = r.received_at;
    out.text = r.content.text;
    out.severity = static_cast<Severity>(r.content.severity);
    out.category = static_cast<ReportCategory>(r.content.category);
    out.title = r.content.title;
    out.place = r.content.place;
    out.when = r.content.when;
    out.ack_required = r.content.ack_required != 0;
    out.expires_at = r.content.expires_at;
    out.read_at = r.read_at;
    out.acknowledged_at = r.acknowledged_at;
    out.answer = r.answer;
    return out;
  }

  // This device's member and `member`, from the newest roster epoch.
  Result<std::pair<const roster::Member*, const roster::Member*>> MembersToVerify(std::string_view member) {
    if (!roster_) return Status::Error(Code::kInvalidArgument, "safety numbers need roster mode (an enrolled device)");
    LIAISON_ASSIGN_OR_RETURN(roster::Epoch::Entry self, roster_->Find(address_, clock_.NowMicros()));
    const roster::Member* other = roster_->newest()->epoch.FindMember(member);
    if (other == nullptr) return Status::Error(Code::kNotFound, std::string(member) + " is not a member in the roster");
    return std::make_pair(self.member, other);
  }

  InboxMessage ToInboxMessage(const ReceivedMessage& m) const {
    InboxMessage out;
    out.id = ToHex(m.message_id);
    out.sender = m.sender;
    out.stored_at = m.stored_at;
    out.received_at = m.received_at;
    out.text = m.text;
    if (roster_ && roster_->newest()) {
      if (auto entry = roster_->newest()->epoch.Find(m.sender)) {
        out.sender_name = entry->device->holder.empty() ? entry->member->display_name : entry->device->holder;
      }
    }
    return out;
  }

  // Publishes this device's identity bundle and prekeys as needed. With `query_count`, also asks
  // the relay how many one-time prekeys it still holds and tops them up.
  Status EnsurePublished(bool query_count) {
    const Bytes bundle = EncodeKeyBundle(address_, signing_, dh_.public_key);
    LIAISON_ASSIGN_OR_RETURN(auto published, state_->GetSelf("published_bundle"));
    if (!published || *published != bundle) {
      LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kPublishKeys, wire::PublishKeysRequest{bundle}));
      LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("publishing this device's keys"));
      LIAISON_RETURN_IF_ERROR(state_->PutSelf({{"published_bundle", bundle}}));
    }
    LIAISON_RETURN_IF_ERROR(RotateSignedPrekey());
    for (int round = 0; round < 2; ++round) {
      wire::PublishPrekeysRequest request;
      uint32_t current_spk = 0, last_otk = 0;
      {
        LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
        LIAISON_ASSIGN_OR_RETURN(auto current, state_->GetSelf(txn, "current_spk"));
        LIAISON_ASSIGN_OR_RETURN(auto spk_published, state_->GetSelf(txn, "spk_published"));
        LIAISON_ASSIGN_OR_RETURN(auto otk_published, state_->GetSelf(txn, "otk_published_up_to"));
        current_spk = ReadU32(current);
        last_otk = ReadU32(otk_published);
        if (ReadU32(spk_published) != current_spk) {
          LIAISON_ASSIGN_OR_RETURN(auto spks, state_->SignedPrekeys(txn));
          for (const auto& spk : spks) {
            if (spk.id != current_spk) continue;
            request.signed_prekey = EncodeSignedPrekeyRecord(
                {spk.id, spk.public_key, crypto::SignSignedPrekey(signing_.secret_key, spk.id, spk.public_key)});
          }
          if (request.signed_prekey.empty()) return Status::Error(Code::kCorruption, "the current signed prekey is missing");
        }
        LIAISON_ASSIGN_OR_RETURN(auto unpublished,
                                 state_->OneTimePrekeysAfter(txn, last_otk, wire::kMaxOneTimePrekeysPerRequest));
        for (const auto& [id, pub] : unpublished) {
          request.one_time_prekeys.push_back({EncodeOneTimePrekeyRecord({id, pub})});
          last_otk = id;
        }
      }
      if (request.signed_prekey.empty() && request.one_time_prekeys.empty() && !query_count) return Status::Ok();
      LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kPublishPrekeys, request));
      LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("publishing this device's prekeys"));
      LIAISON_ASSIGN_OR_RETURN(wire::PrekeyCount count, wire::Decode<wire::PrekeyCount>(reply.body));
      {
        LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
        LIAISON_RETURN_IF_ERROR(state_->PutSelf(txn, "spk_published", U32(current_spk)));
        LIAISON_RETURN_IF_ERROR(state_->PutSelf(txn, "otk_published_up_to", U32(last_otk)));
        if (count.one_time_prekeys < kOneTimePrekeyLowWater && request.one_time_prekeys.empty()) {
          // New one-time prekeys are stored before they are published; a crash in between
          // publishes them on the next call (the relay ignores records it holds already).
          LIAISON_ASSIGN_OR_RETURN(auto next, state_->GetSelf(txn, "next_otk_id"));
          uint32_t id = std::max<uint32_t>(ReadU32(next), 1);
          for (uint32_t i = count.one_time_prekeys; i < kOneTimePrekeyBatch; ++i, ++id) {
            LIAISON_RETURN_IF_ERROR(state_->PutOneTimePrekey(txn, id, crypto::DhKeyPair::Generate()));
          }
          LIAISON_RETURN_IF_ERROR(state_->PutSelf(txn, "next_otk_id", U32(id)));
        } else if (request.one_time_prekeys.empty()) {
          round = 1;  // nothing more to publish
        }
        LIAISON_RETURN_IF_ERROR(txn.Commit());
      }
      query_count = false;
    }
    return Status::Ok();
  }

  // Makes a new signed prekey when there is none or the current one is older than a week, and
  // deletes replaced ones past their grace period. Local only; EnsurePublished uploads it.
  Status RotateSignedPrekey() {
    const int64_t now = clock_.NowMicros();
    LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
    LIAISON_ASSIGN_OR_RETURN(auto current_value, state_->GetSelf(txn, "current_spk"));
    const uint32_t current = ReadU32(current_value);
    LIAISON_ASSIGN_OR_RETURN(auto spks, state_->SignedPrekeys(txn));
    bool changed = false;
    uint32_t newest = current;
    int64_t current_created = INT64_MIN;
    for (const auto& spk : spks) {
      newest = std::max(newest, spk.id);
      if (spk.id == current) current_created = spk.created_at;
    }
    if (current == 0 || current_created == INT64_MIN || now - current_created >= kSignedPrekeyRotationMicros) {
      const uint32_t id = newest + 1;
      LIAISON_RETURN_IF_ERROR(state_->PutSignedPrekey(txn, id, now, crypto::DhKeyPair::Generate()));
      LIAISON_RETURN_IF_ERROR(state_->PutSelf(txn, "current_spk", U32(id)));
      changed = true;
    }
    for (const auto& spk : spks) {
      // Replaced when its successor was made; kept for the grace period after that, so that an
      // initial message written to it while this device was offline can still be read.
      if (spk.id == current) continue;
      int64_t replaced_at = INT64_MAX;
      for (const auto& other : spks) {
        if (other.id > spk.id) replaced_at = std::min(replaced_at, other.created_at);
      }
      if (replaced_at != INT64_MAX && now - replaced_at >= kSignedPrekeyGraceMicros) {
        LIAISON_RETURN_IF_ERROR(state_->DeleteSignedPrekey(txn, spk.id));
        changed = true;
      }
    }
    if (!changed) return Status::Ok();
    return txn.Commit();
  }

  // Talks to the relay with `transport`'s keys from now on (a new connection).
  void Reconnect(const crypto::DhKeyPair& transport) {
    TransportKeys keys{relay_key_, transport.public_key, transport.secret_key.Clone()};
    connection_ = std::make_unique<RelayConnection>(context_, endpoint_, std::move(keys), timeout_);
  }

  struct PendingKeys {
    crypto::SigningKeyPair signing;
    crypto::DhKeyPair dh;
    crypto::DhKeyPair transport;
  };

  // The keys RequestKeyRotation made, if a rotation is pending.
  Result<std::optional<PendingKeys>> LoadPendingKeys() {
    LIAISON_ASSIGN_OR_RETURN(auto signing_value, state_->GetSelf("pending_signing_secret"));
    if (!signing_value || signing_value->empty()) return std::optional<PendingKeys>();
    sodium_memzero(signing_value->data(), signing_value->size());
    LIAISON_ASSIGN_OR_RETURN(auto signing_secret, SecretFrom<crypto::kSignSecretKeyBytes>(*state_, "pending_signing_secret"));
    LIAISON_ASSIGN_OR_RETURN(auto dh_secret, SecretFrom<crypto::kDhSecretKeyBytes>(*state_, "pending_dh_secret"));
    LIAISON_ASSIGN_OR_RETURN(auto transport_secret, SecretFrom<crypto::kDhSecretKeyBytes>(*state_, "pending_transport_secret"));
    LIAISON_ASSIGN_OR_RETURN(auto signing, crypto::SigningKeyPair::FromSecret(std::move(signing_secret)));
    return std::optional<PendingKeys>(PendingKeys{std::move(signing), crypto::DhKeyPair::FromSecret(std::move(dh_secret)),
                                                  crypto::DhKeyPair::FromSecret(std::move(transport_secret))});
  }

  // Roster mode, with a rotation pending: once the newest epoch lists this device with the new
  // keys, makes them current in one commit (and republishes the bundle and signed prekey under
  // them); sessions made with the old identity key are no longer used to send. The relay admits
  // only the new transport key after the approval, so a refused handshake is retried with it.
  Status AdoptRotatedKeysIfApproved() {
    if (!roster_) return Status::Ok();
    LIAISON_ASSIGN_OR_RETURN(std::optional<PendingKeys> pending, LoadPendingKeys());
    if (!pending) return Status::Ok();
    Status updated = UpdateRoster(nullptr);
    bool on_new_transport = false;
    if (updated.code() == Code::kPermissionDenied) {
      Reconnect(pending->transport);
      on_new_transport = true;
      updated = UpdateRoster(nullptr);
    }
    auto entry = roster_->Find(address_, clock_.NowMicros());
    const bool approved = updated.ok() && entry.ok() && entry->device->signing_key == pending->signing.public_key &&
                          entry->device->dh_key == pending->dh.public_key &&
                          entry->device->transport_key == pending->transport.public_key;
    if (!approved) {
      if (on_new_transport) Reconnect(transport_);
      if (updated.code() == Code::kPermissionDenied) {
        return Status::Error(Code::kPermissionDenied, "the relay refuses this device's current and its new key (revoked?)");
      }
      return Status::Ok();  // not approved yet (or the relay is unreachable): carry on with the current keys
    }
    auto secret = [](const auto& key) { return Bytes(key.data(), key.data() + key.size()); };
    std::vector<std::pair<std::string, Bytes>> entries{
        {"signing_secret", secret(pending->signing.secret_key)}, {"dh_secret", secret(pending->dh.secret_key)},
        {"transport_secret", secret(pending->transport.secret_key)}, {"pending_signing_secret", {}},
        {"pending_dh_secret", {}}, {"pending_transport_secret", {}}, {"published_bundle", {}},
        {"spk_published", Bytes(4, 0)}};
    Status stored = state_->PutSelf(entries);
    for (auto& [name, value] : entries) sodium_memzero(value.data(), value.size());
    LIAISON_RETURN_IF_ERROR(stored);
    signing_ = std::move(pending->signing);
    dh_ = std::move(pending->dh);
    transport_ = std::move(pending->transport);
    if (!on_new_transport) Reconnect(transport_);
    return EnsurePublished(false);
  }

  // Roster mode: takes newer epochs from the relay. With a report, a forged, rolled-back or
  // forked roster is an alarm recorded there (the held epoch stays in force) and only an
  // unreachable relay is an error; without one, every failure is returned.
  Status UpdateRoster(SyncReport* report) {
    if (!roster_) return Status::Ok();
    auto added = roster_->Update(*state_, *connection_);
    if (report != nullptr) {
      report->roster_epoch = roster_->newest() ? roster_->newest()->epoch.number : 0;
      if (!added.ok() && added.status().code() != Code::kUnavailable) {
        ++report->roster_alarms;
        report->errors.push_back("ROSTER ALARM: " + added.status().ToString());
        return Status::Ok();
      }
    }
    return added.status();
  }

  // Roster mode: OK if this device's member may write to `recipient` (a device or a member).
  Status CheckPolicy(std::string_view recipient) {
    const int64_t now = clock_.NowMicros();
    auto self = roster_->Find(address_, now);
    if (!self.ok()) return Status::Error(Code::kPermissionDenied, "this device is not in the roster: " + self.status().message());
    const roster::Member* to = nullptr;
    if (recipient.find('/') != std::string_view::npos) {
      LIAISON_ASSIGN_OR_RETURN(roster::Epoch::Entry entry, roster_->Find(recipient, now));
      to = entry.member;
    } else {
      to = roster_->newest()->epoch.FindMember(recipient);
      if (to == nullptr) return Status::Error(Code::kNotFound, std::string(recipient) + " is not a member in the roster");
    }
    return roster::CheckMayWrite(*self->member, *to);
  }

  // The device addresses a message to `recipient` goes to: itself if it names a device
  // ("member/device"), else every device the relay lists for the member (but this one).
  Result<std::vector<std::string>> DevicesOf(std::string_view recipient) {
    if (recipient.find('/') != std::string_view::npos) return std::vector<std::string>{std::string(recipient)};
    if (roster_) {
      // The roster names the member's devices; the relay's list is not trusted.
      const roster::VerifiedEpoch* newest = roster_->newest();
      const roster::Member* member = newest ? newest->epoch.FindMember(recipient) : nullptr;
      if (member == nullptr || !member->ValidAt(clock_.NowMicros())) {
        return Status::Error(Code::kNotFound, std::string(recipient) + " is not a member in the roster");
      }
      std::vector<std::string> devices;
      for (const roster::Device& device : member->devices) {
        std::string address = member->id + "/" + device.id;
        if (address != address_) devices.push_back(std::move(address));
      }
      if (devices.empty()) return Status::Error(Code::kNotFound, std::string(recipient) + " has no other device");
      return devices;
    }
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kListDevices,
                                                            wire::ListDevicesRequest{std::string(recipient)}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("devices of " + std::string(recipient)));
    LIAISON_ASSIGN_OR_RETURN(wire::ListDevicesReply list, wire::Decode<wire::ListDevicesReply>(reply.body));
    std::vector<std::string> devices;
    const std::string prefix = std::string(recipient) + "/";
    for (auto& d : list.addresses) {
      if (d.address.compare(0, prefix.size(), prefix) != 0) {
        return Status::Error(Code::kUnauthenticated, "the relay listed a device of another member");
      }
      if (d.address != address_) devices.push_back(std::move(d.address));
    }
    if (devices.empty()) return Status::Error(Code::kNotFound, "the relay knows no device of " + std::string(recipient));
    return devices;
  }

  // Whether `session`'s X3DH associated data (IK_A || IK_B) names exactly these identity keys.
  static bool MadeWith(const Session& session, const crypto::DhPublicKey& own, const crypto::DhPublicKey& peer) {
    const auto& ad = session.associated_data;
    auto half = [&](size_t at, const crypto::DhPublicKey& key) { return std::equal(key.begin(), key.end(), ad.begin() + at); };
    return (half(0, own) && half(32, peer)) || (half(0, peer) && half(32, own));
  }

  Result<PeerSessions> LoadSessions(store::Txn& txn, std::string_view peer) {
    LIAISON_ASSIGN_OR_RETURN(auto stored, state_->GetSessions(txn, peer));
    if (!stored) return PeerSessions();
    return DecodePeerSessions(*stored);
  }

  Status StoreSessions(store::Txn& txn, std::string_view peer, const PeerSessions& sessions) {
    const crypto::WipedBytes encoded = EncodePeerSessions(sessions);
    return state_->PutSessions(txn, peer, encoded.view());
  }

  // Starts a session with `device` unless one exists: claims its prekeys from the relay, checks
  // that the identity keys are the pinned ones, and runs X3DH (which checks the signed prekey's
  // signature and aborts on failure).
  Status EnsureSession(const std::string& device) {
    LIAISON_ASSIGN_OR_RETURN(KeyBundle keys, ResolveContact(device));
    {
      // A session counts only if it was made with both sides' current identity keys: after a
      // key rotation on either side, a new one is started.
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginRead());
      LIAISON_ASSIGN_OR_RETURN(PeerSessions sessions, LoadSessions(txn, device));
      if (!sessions.empty() && MadeWith(sessions.front(), dh_.public_key, keys.dh_key)) return Status::Ok();
    }
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kClaimPrekeys, wire::ClaimPrekeysRequest{device}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("prekeys of " + device));
    LIAISON_ASSIGN_OR_RETURN(wire::ClaimPrekeysReply claim, wire::Decode<wire::ClaimPrekeysReply>(reply.body));
    if (claim.address != device) return Status::Error(Code::kUnauthenticated, "the relay answered with another device's prekeys");
    LIAISON_ASSIGN_OR_RETURN(KeyBundle claimed, DecodeKeyBundle(device, claim.identity_bundle));
    if (claimed.signing_key != keys.signing_key || claimed.dh_key != keys.dh_key) {
      return Status::Error(Code::kUnauthenticated, "the relay's identity keys for " + device + " differ from the pinned ones");
    }
    LIAISON_ASSIGN_OR_RETURN(SignedPrekeyRecord spk, DecodeSignedPrekeyRecord(claim.signed_prekey));
    crypto::PrekeyBundle bundle;
    bundle.identity_dh_public = keys.dh_key;
    bundle.identity_signing_public = keys.signing_key;
    bundle.signed_prekey_id = spk.id;
    bundle.signed_prekey_public = spk.public_key;
    bundle.signed_prekey_signature = spk.signature;
    if (!claim.one_time_prekey.empty()) {
      LIAISON_ASSIGN_OR_RETURN(bundle.one_time_prekey, DecodeOneTimePrekeyRecord(claim.one_time_prekey));
    }
    auto session = StartSession(dh_, bundle);
    if (!session.ok()) return session.status().WithContext("starting a session with " + device);
    LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
    LIAISON_ASSIGN_OR_RETURN(PeerSessions sessions, LoadSessions(txn, device));
    MakeCurrent(sessions, std::move(session).value());
    LIAISON_RETURN_IF_ERROR(StoreSessions(txn, device, sessions));
    return txn.Commit();
  }

  // The keys of `address`: in roster mode from the newest roster epoch (kNotFound if absent);
  // otherwise fetched from the relay and pinned on first use.
  Result<KeyBundle> ResolveContact(std::string_view address) {
    if (roster_) {
      LIAISON_ASSIGN_OR_RETURN(roster::Epoch::Entry entry, roster_->Find(address, clock_.NowMicros()));
      return KeyBundle{entry.device->signing_key, entry.device->dh_key};
    }
    LIAISON_ASSIGN_OR_RETURN(auto pinned, state_->GetContact(address));
    if (pinned) return DecodeKeyBundle(address, *pinned);
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kGetKeys, wire::GetKeysRequest{std::string(address)}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("keys of " + std::string(address)));
    LIAISON_ASSIGN_OR_RETURN(wire::GetKeysReply keys, wire::Decode<wire::GetKeysReply>(reply.body));
    if (keys.address != address) return Status::Error(Code::kUnauthenticated, "the relay answered with another address's keys");
    LIAISON_ASSIGN_OR_RETURN(KeyBundle bundle, DecodeKeyBundle(address, keys.bundle));
    LIAISON_RETURN_IF_ERROR(state_->PinContact(address, keys.bundle));
    return bundle;
  }

  // The message Send() reports on itself: how many of its copies (one per device) the relay
  // stored, and the first permanent refusal of one.
  struct OwnOutcome {
    MessageId id{};
    size_t stored = 0;
    Status refusal = Status::Ok();
  };

  // Sends the outbox, oldest first: several queued messages go in SEND_MANY requests (one round
  // trip for up to kMaxSendManyItems), one alone as a SEND. Temporary refusals (3xx, 5xx, 426)
  // stay queued. A permanent refusal (other 4xx) moves the message to the failed table, reported
  // by the next ReportFailures(), except for copies of `own` (the message the caller reports
  // itself), which are only removed, their outcome going to `*own`.
  Status FlushOutbox(SyncReport& report, OwnOutcome* own = nullptr) {
    LIAISON_RETURN_IF_ERROR(FlushBroadcasts(report));
    LIAISON_ASSIGN_OR_RETURN(auto outbox, state_->Outbox());
    size_t next = 0;
    while (next < outbox.size()) {
      size_t end = next + 1, bytes = outbox[next].envelope.size();
      while (relay_has_send_many_ && end < outbox.size() && end - next < wire::kMaxSendManyItems &&
             bytes + outbox[end].envelope.size() <= kMaxSendManyEnvelopeBytes) {
        bytes += outbox[end].envelope.size();
        ++end;
      }
      auto outcomes = SendGroup(outbox, next, end);
      if (!outcomes.ok()) {
        report.still_queued += outbox.size() - next;
        return outcomes.status();
      }
      if (outcomes->empty()) continue;  // the relay could not read the SEND_MANY: the same messages one by one
      // One client commit for the whole group: a crash before it only makes the next flush send
      // the group again, which the relay recognises (208).
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      for (size_t i = next; i < end; ++i) {
        LIAISON_RETURN_IF_ERROR(Settle(txn, outbox[i], (*outcomes)[i - next], report, own));
      }
      LIAISON_RETURN_IF_ERROR(txn.Commit());
      next = end;
    }
    return Status::Ok();
  }

  // What the relay answered for one queued message: its wire status, and as a Status.
  struct SendOutcome {
    uint16_t wire_status = 0;
    Status status = Status::Ok();
  };

  // Sends outbox[first, last): as one SEND, or as one SEND_MANY. Returns one outcome per message,
  // or none if the relay could not read the SEND_MANY (400: a relay older than it; 413); then
  // relay_has_send_many_ is false and nothing was stored. Errors: the relay did not answer
  // (kUnavailable), or its reply was unreadable (kMalformed).
  Result<std::vector<SendOutcome>> SendGroup(const std::vector<OutboxEntry>& outbox, size_t first, size_t last) {
    auto request = [](const OutboxEntry& e) {
      return wire::SendRequest{e.recipient, e.message_id, static_cast<uint64_t>(e.expires_at), e.envelope};
    };
    if (last - first == 1) {
      LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kSend, request(outbox[first])));
      return std::vector<SendOutcome>{{reply.status, ReplyStatus(reply)}};
    }
    wire::SendManyRequest many;
    for (size_t i = first; i < last; ++i) many.items.push_back(request(outbox[i]));
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kSendMany, many));
    const bool unreadable = reply.status == static_cast<uint16_t>(wire::WireStatus::kMalformed) ||
                            reply.status == static_cast<uint16_t>(wire::WireStatus::kTooLarge);
    if (unreadable) {
      // The relay could not take the request as a whole (a type it does not know, or limits
      // other than ours): that says nothing about each message, so each goes alone and is
      // judged alone.
      relay_has_send_many_ = false;
      return std::vector<SendOutcome>();
    }
    if (!wire::IsSuccess(reply.status)) {
      // Refused as a whole for a reason that holds for each message as it would for a SEND
      // (store full, relay failure: temporary; this device refused: permanent).
      return std::vector<SendOutcome>(last - first, SendOutcome{reply.status, ReplyStatus(reply)});
    }
    LIAISON_ASSIGN_OR_RETURN(auto answered, wire::Decode<wire::SendManyReply>(reply.body));
    if (answered.statuses.size() != last - first) {
      return Status::Error(Code::kMalformed, "the relay answered SEND_MANY with " +
                                                 std::to_string(answered.statuses.size()) + " statuses for " +
                                                 std::to_string(last - first) + " messages");
    }
    std::vector<SendOutcome> out;
    for (uint16_t status : answered.statuses) {
      out.push_back({status, wire::IsSuccess(status)
                                 ? Status::Ok()
                                 : Status::Error(wire::CodeFromWireStatus(status),
                                                 "relay answered " + std::to_string(status))});
    }
    return out;
  }

  // Records in `txn` what the relay answered for one queued message (see FlushOutbox).
  Status Settle(store::Txn& txn, const OutboxEntry& entry, const SendOutcome& outcome, SyncReport& report,
                OwnOutcome* own) {
    const bool permanent = outcome.wire_status >= 400 && outcome.wire_status < 500 &&
                           outcome.wire_status != static_cast<uint16_t>(wire::WireStatus::kUnsupportedVersion);
    const bool is_own = own != nullptr && own->id == entry.message_id;
    if (outcome.status.ok()) {
      LIAISON_RETURN_IF_ERROR(state_->RemoveFromOutbox(txn, entry.position));
      ++report.sent;
      if (is_own) ++own->stored;
    } else if (!permanent) {
      ++report.still_queued;
    } else if (is_own) {
      LIAISON_RETURN_IF_ERROR(state_->RemoveFromOutbox(txn, entry.position));
      if (own->refusal.ok()) own->refusal = outcome.status.WithContext("to " + entry.recipient);
    } else {
      LIAISON_RETURN_IF_ERROR(state_->MoveToFailed(txn, entry, outcome.status.ToString()));
    }
    return Status::Ok();
  }

  // Moves the recorded permanent refusals into `report` (failed, errors).
  Status ReportFailures(SyncReport& report) {
    LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> failures, state_->TakeFailures());
    report.failed += failures.size();
    for (auto& line : failures) report.errors.push_back(std::move(line));
    return Status::Ok();
  }

  // Opens, stores (one commit), then acknowledges a batch of deliveries.
  Status Process(const wire::Deliveries& deliveries, SyncReport& report,
                 const std::function<void(const InboxMessage&)>* on_message) {
    wire::AckRequest ack;
    const int64_t now = clock_.NowMicros();
    // A provisional delivery (pushed before the relay stored it) that cannot be taken now is
    // left alone: its stored copy follows and gets the treatment below.
    auto defer = [&](const wire::Delivery& d, const Status& why) {
      if (d.seq == wire::kProvisionalSeq) return;
      // Kept on the relay: the sender's keys may be published later, and an envelope of a newer
      // version waits for an updated client instead of being destroyed.
      ++report.deferred;
      report.errors.push_back("delivery " + std::to_string(d.seq) + " left on the relay: " + why.ToString());
    };
    auto reject = [&](const wire::Delivery& d, const Status& why) {
      if (d.seq == wire::kProvisionalSeq) return;
      ++report.rejected;
      report.errors.push_back("delivery " + std::to_string(d.seq) + " rejected: " + why.ToString());
      ack.seqs.push_back(d.seq);  // it can never be opened; do not let it block the mailbox
    };

    // Pass 1, before any write transaction (it may ask the relay for keys): open the sealed layer
    // and find the claimed sender's pinned keys.
    struct Opened {
      const wire::Delivery* delivery;
      crypto::SealedContent content;
      KeyBundle sender_keys;
      std::optional<ByteView> shared_body;  // a broadcast copy's body (a view into the delivery)
    };
    // Taken: acknowledged, or if provisional remembered so that its stored copy is acknowledged
    // without counting as a duplicate.
    auto accept = [&](const wire::Delivery& d, const std::string& sender) {
      if (d.seq != wire::kProvisionalSeq) {
        ack.seqs.push_back(d.seq);
        return;
      }
      if (provisional_taken_.size() >= kMaxProvisionalTaken) provisional_taken_.clear();  // only a count suffers
      provisional_taken_.insert({sender, d.message_id});
    };
    std::vector<Opened> sealed;
    bool roster_updated_in_batch = false;
    std::vector<ReceivedMessage> legacy;  // version 1 envelopes, signed by their sender
    for (const wire::Delivery& d : deliveries.items) {
      const uint8_t version = d.envelope.empty() ? 0 : d.envelope[0];
      if (version == crypto::kEnvelopeVersion1) {
        if (d.seq == wire::kProvisionalSeq) continue;  // taken when its stored copy arrives
        OpenLegacy(d, now, legacy, ack, defer, reject);
        continue;
      }
      ByteView envelope = d.envelope;
      std::optional<ByteView> shared_body;
      if (version == wire::kBroadcastDeliveryTag) {
        auto split = wire::SplitBroadcastDelivery(d.envelope);
        if (!split.ok()) {
          reject(d, split.status());
          continue;
        }
        envelope = split->copy;
        shared_body = split->body;
      }
      auto content = crypto::OpenEnvelopeV2(envelope, address_, dh_, d.message_id);
      if (!content.ok()) {
        if (content.status().code() == Code::kUnsupportedVersion) defer(d, content.status());
        else reject(d, content.status());
        continue;
      }
      if (roster_) {
        // The sender must be in the roster, may write to this device's member, and should have
        // written under an epoch of this device's chain; an unknown epoch after updating means
        // the relay shows members different rosters.
        auto sender = roster_->Find(content->sender_address, now);
        if (!sender.ok()) {
          reject(d, Status::Error(Code::kUnauthenticated, "sender " + sender.status().message()));
          continue;
        }
        auto self = roster_->Find(address_, now);
        const Status allowed = self.ok() ? roster::CheckMayWrite(*sender->member, *self->member) : self.status();
        if (!allowed.ok()) {
          reject(d, allowed);
          continue;
        }
        if (!roster_->Knows(content->roster_hash)) {
          if (d.seq == wire::kProvisionalSeq) continue;  // judged (and any alarm raised) on its stored copy
          if (!roster_updated_in_batch) {
            roster_updated_in_batch = true;
            (void)UpdateRoster(&report);
          }
          if (!roster_->Knows(content->roster_hash)) {
            ++report.roster_alarms;
            report.errors.push_back("ROSTER ALARM: " + content->sender_address + " wrote under roster epoch " +
                                    ToHex(content->roster_hash).substr(0, 16) +
                                    "..., which is not in this device's chain even after updating: the relay may be "
                                    "showing members different rosters (split view)");
          }
        }
      }
      auto keys = ResolveContact(content->sender_address);
      if (!keys.ok()) {
        // Unreachable relay, or keys not yet published: try again later. Keys that fail
        // verification make the message a forgery.
        if (keys.status().code() == Code::kUnauthenticated) reject(d, keys.status());
        else defer(d, keys.status());
        continue;
      }
      sealed.push_back(Opened{&d, std::move(content).value(), *keys, shared_body});
    }

    // Pass 2, one write transaction: decrypt in the sessions, store the messages, the advanced
    // sessions and the deletion of used one-time prekeys together; acknowledge after the commit.
    std::vector<ReceivedMessage> fresh;
    std::vector<ReceivedAlertRecord> fresh_alerts;
    bool queued_receipts = false;
    {
      LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state_->BeginWrite());
      std::map<std::string, PeerSessions, std::less<>> sessions;
      std::set<std::string, std::less<>> changed;
      ResponderKeys keys{&dh_,
                         [&](uint32_t id) { return state_->SignedPrekeyPair(txn, id); },
                         [&](uint32_t id) { return state_->OneTimePrekeyPair(txn, id); }};
      for (Opened& item : sealed) {
        const wire::Delivery& d = *item.delivery;
        const std::string& sender = item.content.sender_address;
        LIAISON_ASSIGN_OR_RETURN(bool seen, state_->Seen(txn, sender, d.message_id));
        if (seen) {
          if (d.seq == wire::kProvisionalSeq) continue;
          // The stored copy of a message taken from its provisional push is no duplicate.
          if (provisional_taken_.erase({sender, d.message_id}) == 0) ++report.duplicates;
          ack.seqs.push_back(d.seq);
          continue;
        }
        auto it = sessions.find(sender);
        if (it == sessions.end()) {
          auto loaded = LoadSessions(txn, sender);
          if (!loaded.ok()) {
            defer(d, loaded.status());  // a damaged local record: keep the message, say why
            continue;
          }
          it = sessions.emplace(sender, std::move(loaded).value()).first;
        }
        auto decrypted = DecryptFromPeer(it->second, item.content, item.sender_keys.dh_key, keys, now);
        if (!decrypted.ok()) {
          reject(d, decrypted.status().WithContext("from " + sender));
          continue;
        }
        changed.insert(sender);
        if (decrypted->used_one_time_prekey) {
          LIAISON_RETURN_IF_ERROR(state_->DeleteOneTimePrekey(txn, *decrypted->used_one_time_prekey));
        }
        auto app = DecodeAppMessage(decrypted->plaintext.view());
        if (!app.ok()) {
          reject(d, app.status().WithContext("from " + sender));
          continue;
        }
        if (app->message_id != d.message_id) {
          reject(d, Status::Error(Code::kUnauthenticated, "the relay delivered a message of " + sender + " under another id"));
          continue;
        }
        if ((app->kind == kAppKindBroadcastKey) != item.shared_body.has_value()) {
          reject(d, Status::Error(Code::kMalformed, "from " + sender + ": a broadcast body must come with a broadcast key, and only then"));
          continue;
        }
        if (app->kind == kAppKindBroadcastKey) {
          auto received = StoreBroadcastCopy(txn, *app, *item.shared_body, sender, d, now);
          if (!received.ok()) {
            reject(d, received.status().WithContext("alert or report from " + sender));
            continue;
          }
          // Delivered (again, for a reminder): tell the sender in this commit.
          LIAISON_RETURN_IF_ERROR(QueueReceipt(txn, it->second, sender, item.sender_keys, app->broadcast_id,
                                               kReceiptDelivered, now, "", received->first.content.expires_at));
          queued_receipts = true;
          if (received->second) {
            fresh_alerts.push_back(std::move(received->first));
          } else {
            ++report.duplicates;
          }
          accept(d, sender);
          continue;
        }
        if (app->kind == kAppKindReceipt) {
          const Status applied = TakeReceipt(txn, *app, sender, item.sender_keys);
          if (applied.code() == Code::kAlreadyExists) {
            ++report.duplicates;
          } else if (!applied.ok()) {
            reject(d, applied.WithContext("receipt from " + sender));
            continue;
          } else {
            ++report.receipts;
          }
          LIAISON_ASSIGN_OR_RETURN(bool marked, state_->MarkSeen(txn, sender, d.message_id));
          (void)marked;
          accept(d, sender);
          continue;
        }
        ReceivedMessage m;
        m.message_id = d.message_id;
        m.sender = sender;
        m.stored_at = static_cast<int64_t>(d.stored_at);
        m.received_at = now;
        m.text = std::move(app->text);
        LIAISON_ASSIGN_OR_RETURN(bool stored, state_->StoreReceived(txn, m));
        if (stored) fresh.push_back(std::move(m));
        accept(d, sender);
      }
      for (const std::string& peer : changed) LIAISON_RETURN_IF_ERROR(StoreSessions(txn, peer, sessions[peer]));
      for (ReceivedMessage& m : legacy) {
        LIAISON_ASSIGN_OR_RETURN(bool stored, state_->StoreReceived(txn, m));
        if (stored) fresh.push_back(std::move(m)); else ++report.duplicates;
      }
      LIAISON_RETURN_IF_ERROR(txn.Commit());
    }
    report.received += fresh.size() + fresh_alerts.size();
    if (on_message && *on_message) {
      for (const ReceivedAlertRecord& r : fresh_alerts) (*on_message)(ToInboxMessage(r));
      for (const ReceivedMessage& m : fresh) (*on_message)(ToInboxMessage(m));
    }
    if (!ack.seqs.empty()) {
      LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kAck, ack));
      LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("acknowledging"));
    }
    if (queued_receipts) (void)FlushOutbox(report);  // an unreachable relay leaves them queued
    return Status::Ok();
  }

  // Opens the shared body of a broadcast copy with the key the copy carried, and stores the alert
  // or report (in `txn`) unless it is held already. Returns the record and whether it is new.
  // kUnauthenticated if the body is not the one the sender committed to or the content names
  // another sender; kAlreadyExists if another sender used the id before.
  Result<std::pair<ReceivedAlertRecord, bool>> StoreBroadcastCopy(store::Txn& txn, const AppMessage& app, ByteView body,
                                                                  const std::string& sender, const wire::Delivery& d,
                                                                  int64_t now) {
    if (sodium_memcmp(BroadcastBodyHash(body).data(), app.body_hash.data(), app.body_hash.size()) != 0) {
      return Status::Error(Code::kUnauthenticated, "the body is not the one its sender sealed (replaced on the way?)");
    }
    LIAISON_ASSIGN_OR_RETURN(crypto::AeadKey key, crypto::AeadKey::FromBytes(app.content_key.bytes));
    LIAISON_ASSIGN_OR_RETURN(BroadcastContent content, OpenBroadcastBody(body, key, app.broadcast_id));
    if (content.sender != sender) {
      return Status::Error(Code::kUnauthenticated, "the body names " + content.sender + " as its sender");
    }
    LIAISON_ASSIGN_OR_RETURN(bool marked, state_->MarkSeen(txn, sender, d.message_id));
    (void)marked;
    LIAISON_ASSIGN_OR_RETURN(auto existing, state_->Get(txn, Table::kReceivedAlerts, app.broadcast_id));
    if (existing) {
      LIAISON_ASSIGN_OR_RETURN(ReceivedAlertRecord held, DecodeReceivedAlert(*existing));
      if (held.content.sender != sender) return Status::Error(Code::kAlreadyExists, "another sender used this id before");
      return std::make_pair(std::move(held), false);
    }
    ReceivedAlertRecord record;
    record.id = app.broadcast_id;
    record.content = std::move(content);
    record.stored_at = static_cast<int64_t>(d.stored_at);
    record.received_at = now;
    LIAISON_ASSIGN_OR_RETURN(Bytes encoded, EncodeRecord(record));
    LIAISON_RETURN_IF_ERROR(state_->Put(txn, Table::kReceivedAlerts, record.id, encoded));
    return std::make_pair(std::move(record), true);
  }

  // Applies a receipt for an alert or report this device sent. Errors: kUnauthenticated (the
  // signature is not the sender device's), kNotFound (no such alert), kPermissionDenied (the
  // alert was not addressed to that device), kAlreadyExists (a repeated receipt: counts once).
  Status TakeReceipt(store::Txn& txn, const AppMessage& app, const std::string& sender, const KeyBundle& keys) {
    const Bytes signed_bytes = ReceiptSignedBytes(app.broadcast_id, sender, address_, app.step, app.at, app.answer);
    LIAISON_RETURN_IF_ERROR(crypto::VerifyDetached(keys.signing_key, signed_bytes, app.signature)
                                .WithContext("the receipt's signature is not " + sender + "'s"));
    LIAISON_ASSIGN_OR_RETURN(auto alert, state_->Get(txn, Table::kSentAlerts, app.broadcast_id));
    if (!alert) return Status::Error(Code::kNotFound, "this device sent no alert or report " + ToHex(app.broadcast_id));
    LIAISON_ASSIGN_OR_RETURN(auto value, state_->Get(txn, Table::kAlertRecipients, RecipientKey(app.broadcast_id, sender)));
    if (!value) {
      return Status::Error(Code::kPermissionDenied, "alert " + ToHex(app.broadcast_id) + " was not addressed to " + sender);
    }
    LIAISON_ASSIGN_OR_RETURN(RecipientRecord r, DecodeRecipient(*value));
    if (!ApplyReceipt(r, app.step, app.at, app.answer)) return Status::Error(Code::kAlreadyExists, "a repeated receipt");
    return PutRecipient(txn, app.broadcast_id, r);
  }

  // Opens a version 1 envelope (one-shot, signed by the sender; written by clients before
  // sessions existed) into `out`.
  template <class Defer, class Reject>
  void OpenLegacy(const wire::Delivery& d, int64_t now, std::vector<ReceivedMessage>& out, wire::AckRequest& ack,
                  Defer& defer, Reject& reject) {
    bool transient = false;
    auto lookup = [&](std::string_view sender) -> Result<crypto::SignPublicKey> {
      auto keys = ResolveContact(sender);
      if (!keys.ok()) {
        transient = keys.status().code() != Code::kUnauthenticated;
        return keys.status();
      }
      return keys->signing_key;
    };
    auto envelope = crypto::OpenEnvelope(d.envelope, address_, dh_, d.message_id, lookup);
    if (!envelope.ok()) {
      if (transient) defer(d, envelope.status()); else reject(d, envelope.status());
      return;
    }
    ReceivedMessage m;
    m.message_id = envelope->message_id;
    m.sender = std::move(envelope->sender_address);
    m.stored_at = static_cast<int64_t>(d.stored_at);
    m.received_at = now;
    m.text.assign(AsChars(envelope->plaintext));
    sodium_memzero(envelope->plaintext.data(), envelope->plaintext.size());
    out.push_back(std::move(m));
    ack.seqs.push_back(d.seq);
  }

  Clock& clock_;
  std::optional<RosterView> roster_;  // set: roster mode
  std::unique_ptr<ClientState> state_;
  std::string address_;
  crypto::SigningKeyPair signing_;
  crypto::DhKeyPair dh_;
  crypto::DhKeyPair transport_;
  std::string endpoint_;
  std::array<uint8_t, 32> relay_key_;
  std::chrono::milliseconds timeout_;
  zmq::context_t context_;
  std::unique_ptr<RelayConnection> connection_;
  // Envelope bytes per SEND_MANY: with the items' addresses and ids, well under kMaxBodyBytes.
  static constexpr size_t kMaxSendManyEnvelopeBytes = 768 * 1024;
  // False, for the life of this object, once the relay answered a SEND_MANY with 400 or 413 (a
  // relay older than SEND_MANY answers 400 to the unknown frame type).
  bool relay_has_send_many_ = true;
  // Messages taken from provisional pushes whose stored copy has not arrived yet (sender, id).
  static constexpr size_t kMaxProvisionalTaken = 4096;
  std::set<std::pair<std::string, wire::MessageId>> provisional_taken_;
};

Result<std::unique_ptr<Client>> Load(const ClientOptions& options, std::unique_ptr<ClientState> state) {
  LIAISON_ASSIGN_OR_RETURN(auto address, state->GetSelf("address"));
  if (!address) return Status::Error(Code::kNotFound, options.state_dir + " holds no liaison device (run init)");
  LIAISON_ASSIGN_OR_RETURN(auto signing_secret, SecretFrom<crypto::kSignSecretKeyBytes>(*state, "signing_secret"));
  LIAISON_ASSIGN_OR_RETURN(auto dh_secret, SecretFrom<crypto::kDhSecretKeyBytes>(*state, "dh_secret"));
  LIAISON_ASSIGN_OR_RETURN(auto transport_secret, SecretFrom<crypto::kDhSecretKeyBytes>(*state, "transport_secret"));
  LIAISON_ASSIGN_OR_RETURN(auto signing, crypto::SigningKeyPair::FromSecret(std::move(signing_secret)));
  std::string endpoint = options.relay_endpoint;
  if (endpoint.empty()) {
    LIAISON_ASSIGN_OR_RETURN(auto stored, state->GetSelf("relay_endpoint"));
    if (!stored) return Status::Error(Code::kCorruption, "state lacks the relay endpoint");
    endpoint.assign(AsChars(*stored));
  }
  std::array<uint8_t, 32> relay_key{};
  if (!options.relay_public_key.empty()) {
    LIAISON_ASSIGN_OR_RETURN(relay_key, ParseZ85(options.relay_public_key));
  } else {
    LIAISON_ASSIGN_OR_RETURN(auto stored, state->GetSelf("relay_key"));
    if (!stored || stored->size() != 32) return Status::Error(Code::kCorruption, "state lacks the relay key");
    std::copy(stored->begin(), stored->end(), relay_key.begin());
  }
  std::optional<RosterView> roster;
  LIAISON_ASSIGN_OR_RETURN(auto coordinator, state->GetSelf("coordinator_key"));
  if (coordinator) {
    if (coordinator->size() != 32) return Status::Error(Code::kCorruption, "the stored coordinator key is not 32 bytes");
    roster::PublicKey key{};
    std::copy(coordinator->begin(), coordinator->end(), key.begin());
    LIAISON_ASSIGN_OR_RETURN(roster, RosterView::Load(*state, key));
  }
  return std::unique_ptr<Client>(new ClientImpl(std::move(state), std::string(AsChars(*address)), std::move(signing),
                                                crypto::DhKeyPair::FromSecret(std::move(dh_secret)),
                                                crypto::DhKeyPair::FromSecret(std::move(transport_secret)),
                                                std::move(endpoint), relay_key, options.timeout,
                                                options.clock != nullptr ? *options.clock : SystemClock(),
                                                std::move(roster)));
}

}  // namespace
}  // namespace client

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options, std::string_view address) {
  LIAISON_RETURN_IF_ERROR(client::CheckAddress(address));
  if (options.relay_endpoint.empty()) return Status::Error(Code::kInvalidArgument, "the relay endpoint is required");
  LIAISON_ASSIGN_OR_RETURN(auto relay_key, client::ParseZ85(options.relay_public_key));
  Bytes coordinator_key;
  if (!options.coordinator_key.empty()) {
    coordinator_key.resize(32);
    size_t length = 0;
    if (options.coordinator_key.size() != 64 ||
        sodium_hex2bin(coordinator_key.data(), 32, options.coordinator_key.data(), 64, nullptr, &length, nullptr) != 0 ||
        length != 32) {
      return Status::Error(Code::kInvalidArgument, "the coordinator key must be 64 hex characters");
    }
  }
  LIAISON_ASSIGN_OR_RETURN(auto state, client::ClientState::Open(options.state_dir));
  LIAISON_ASSIGN_OR_RETURN(auto existing, state->GetSelf("address"));
  if (existing) return Status::Error(Code::kAlreadyExists, options.state_dir + " already holds a device");
  auto signing = crypto::SigningKeyPair::Generate();
  auto dh = crypto::DhKeyPair::Generate();
  auto transport = crypto::DhKeyPair::Generate();
  auto secret_bytes = [](const auto& secret) { return Bytes(secret.data(), secret.data() + secret.size()); };
  std::vector<std::pair<std::string, Bytes>> entries{
      {"address", Bytes(address.begin(), address.end())},
      {"signing_secret", secret_bytes(signing.secret_key)},
      {"dh_secret", secret_bytes(dh.secret_key)},
      {"transport_secret", secret_bytes(transport.secret_key)},
      {"relay_endpoint", Bytes(options.relay_endpoint.begin(), options.relay_endpoint.end())},
      {"relay_key", Bytes(relay_key.begin(), relay_key.end())},
  };
  if (!coordinator_key.empty()) entries.emplace_back("coordinator_key", coordinator_key);
  Status stored = state->PutSelf(entries);
  for (auto& [name, value] : entries) sodium_memzero(value.data(), value.size());
  LIAISON_RETURN_IF_ERROR(stored);
  ClientOptions open_options = options;
  open_options.relay_endpoint.clear();
  open_options.relay_public_key.clear();
  return client::Load(open_options, std::move(state));
}

Result<std::unique_ptr<Client>> Client::Enroll(const ClientOptions& options, std::string_view invitation_text,
                                               std::string* request) {
  if (request == nullptr) return Status::Error(Code::kInvalidArgument, "Enroll needs somewhere to put the request");
  LIAISON_ASSIGN_OR_RETURN(client::InvitationText invitation, client::DecodeInvitation(invitation_text));
  const int64_t now = (options.clock != nullptr ? *options.clock : SystemClock()).NowMicros();
  if (now >= invitation.expires_at) {
    return Status::Error(Code::kExpired, "this invitation has expired; ask the coordinator for a new one");
  }
  ClientOptions create = options;
  create.relay_endpoint = invitation.relay_endpoint;
  create.relay_public_key = invitation.relay_key;
  create.coordinator_key = invitation.coordinator_key;
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<Client> device, Create(create, invitation.address));
  const DeviceCard card = device->Card();
  std::array<uint8_t, 32> signing{}, dh{}, transport{};
  auto signing_bytes = FromHex(card.signing_key);
  auto dh_bytes = FromHex(card.dh_key);
  if (!signing_bytes.ok() || !dh_bytes.ok() || signing_bytes->size() != 32 || dh_bytes->size() != 32 ||
      zmq_z85_decode(transport.data(), card.transport_key.c_str()) == nullptr) {
    return Status::Error(Code::kInternal, "the new device's card does not parse");
  }
  std::copy(signing_bytes->begin(), signing_bytes->end(), signing.begin());
  std::copy(dh_bytes->begin(), dh_bytes->end(), dh.begin());
  *request = client::EncodeEnrollmentRequest(client::MakeEnrollmentRequest(invitation, signing, dh, transport));
  return device;
}

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (!std::filesystem::exists(options.state_dir + "/data.mdb")) {
    return Status::Error(Code::kNotFound, options.state_dir + " holds no liaison device (run init)");
  }
  LIAISON_ASSIGN_OR_RETURN(auto state, client::ClientState::Open(options.state_dir));
  return client::Load(options, std::move(state));
}

}  // namespace liaison
