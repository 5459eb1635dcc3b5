// The implementation behind liaison::Client (client/include/liaison/client.h).
#include <sodium.h>
#include <zmq.h>

#include <filesystem>
#include <optional>
#include <zmq.hpp>

#include "base/clock.h"
#include "client/src/client_state.h"
#include "client/src/connection.h"
#include "client/src/key_bundle.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "liaison/client.h"
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
             std::array<uint8_t, 32> relay_key, std::chrono::milliseconds timeout)
      : state_(std::move(state)),
        address_(std::move(address)),
        signing_(std::move(signing)),
        dh_(std::move(dh)),
        transport_public_(transport.public_key),
        context_(1) {
    TransportKeys keys{relay_key, transport.public_key, transport.secret_key.Clone()};
    connection_ = std::make_unique<RelayConnection>(context_, std::move(endpoint), std::move(keys), timeout);
  }
  ~ClientImpl() override {
    connection_.reset();
    context_.close();
  }

  const std::string& address() const override { return address_; }

  DeviceCard Card() const override {
    return DeviceCard{address_, Z85(transport_public_), ToHex(signing_.public_key), ToHex(dh_.public_key)};
  }

  Result<SendReceipt> Send(std::string_view recipient, std::string_view text) override {
    LIAISON_RETURN_IF_ERROR(CheckAddress(recipient));
    if (text.empty() || text.size() > crypto::kMaxPlaintextBytes) {
      return Status::Error(Code::kInvalidArgument, "a message has 1 byte to 64 KiB of text");
    }
    LIAISON_ASSIGN_OR_RETURN(KeyBundle keys, ResolveContact(recipient));
    OutboxEntry entry;
    entry.message_id = crypto::RandomArray<16>();
    entry.recipient = std::string(recipient);
    entry.expires_at = SystemClock().NowMicros() + kDefaultTtlMicros;
    crypto::SealInput input{address_, &signing_.secret_key, recipient, keys.dh_key, entry.message_id, AsBytes(text)};
    LIAISON_ASSIGN_OR_RETURN(entry.envelope, crypto::SealEnvelope(input));
    LIAISON_RETURN_IF_ERROR(state_->AddToOutbox(entry));
    SendReceipt receipt{ToHex(entry.message_id), false};
    SyncReport report;
    std::optional<Status> outcome;
    if (EnsurePublished().ok()) (void)FlushOutbox(report, &entry.message_id, &outcome);  // unreachable: it waits
    if (outcome) {
      LIAISON_RETURN_IF_ERROR(*outcome);
      receipt.stored = true;
    }
    return receipt;
  }

  Result<SyncReport> Sync() override {
    SyncReport report;
    LIAISON_RETURN_IF_ERROR(EnsurePublished());
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
    return report;
  }

  Result<SyncReport> Listen(std::chrono::milliseconds duration,
                            const std::function<void(const InboxMessage&)>& on_message) override {
    SyncReport report;
    LIAISON_RETURN_IF_ERROR(EnsurePublished());
    LIAISON_RETURN_IF_ERROR(FlushOutbox(report));
    LIAISON_RETURN_IF_ERROR(ReportFailures(report));
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
    LIAISON_ASSIGN_OR_RETURN(auto stored, state_->Inbox());
    std::vector<InboxMessage> out;
    out.reserve(stored.size());
    for (auto& m : stored) out.push_back(ToInboxMessage(m));
    return out;
  }

  Result<size_t> OutboxSize() override {
    LIAISON_ASSIGN_OR_RETURN(auto outbox, state_->Outbox());
    return outbox.size();
  }

 private:
  static InboxMessage ToInboxMessage(const ReceivedMessage& m) {
    return InboxMessage{ToHex(m.message_id), m.sender, m.stored_at, m.received_at, m.text};
  }

  Status EnsurePublished() {
    const Bytes bundle = EncodeKeyBundle(address_, signing_, dh_.public_key);
    LIAISON_ASSIGN_OR_RETURN(auto published, state_->GetSelf("published_bundle"));
    if (published && *published == bundle) return Status::Ok();
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kPublishKeys, wire::PublishKeysRequest{bundle}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("publishing this device's keys"));
    return state_->PutSelf({{"published_bundle", bundle}});
  }

  // Pinned keys of `address`, fetched from the relay and pinned on first use.
  Result<KeyBundle> ResolveContact(std::string_view address) {
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

  // Sends the outbox, oldest first. Temporary refusals (3xx, 5xx, 426) stay queued. A permanent
  // refusal (other 4xx) moves the message to the failed table, reported by the next
  // ReportFailures(), except for `own` (the message the caller reports itself), which is only
  // removed; its outcome, or OK once stored, goes to `*own_outcome`.
  Status FlushOutbox(SyncReport& report, const MessageId* own = nullptr, std::optional<Status>* own_outcome = nullptr) {
    LIAISON_ASSIGN_OR_RETURN(auto outbox, state_->Outbox());
    for (size_t i = 0; i < outbox.size(); ++i) {
      const OutboxEntry& entry = outbox[i];
      wire::SendRequest send{entry.recipient, entry.message_id, static_cast<uint64_t>(entry.expires_at), entry.envelope};
      auto reply = connection_->Call(wire::FrameType::kSend, send);
      if (!reply.ok()) {
        report.still_queued += outbox.size() - i;
        return reply.status();
      }
      Status status = ReplyStatus(*reply);
      const bool permanent = reply->status >= 400 && reply->status < 500 &&
                             reply->status != static_cast<uint16_t>(wire::WireStatus::kUnsupportedVersion);
      const bool is_own = own != nullptr && *own == entry.message_id;
      if (status.ok()) {
        LIAISON_RETURN_IF_ERROR(state_->RemoveFromOutbox(entry.position));
        ++report.sent;
        if (is_own) *own_outcome = Status::Ok();
      } else if (!permanent) {
        ++report.still_queued;
      } else if (is_own) {
        LIAISON_RETURN_IF_ERROR(state_->RemoveFromOutbox(entry.position));
        *own_outcome = status;
      } else {
        LIAISON_RETURN_IF_ERROR(state_->MoveToFailed(entry, status.ToString()));
      }
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
    std::vector<ReceivedMessage> opened;
    wire::AckRequest ack;
    const int64_t now = SystemClock().NowMicros();
    for (const wire::Delivery& d : deliveries.items) {
      bool transient = false;
      auto lookup = [&](std::string_view sender) -> Result<crypto::SignPublicKey> {
        auto keys = ResolveContact(sender);
        if (!keys.ok()) {
          // Unreachable relay, or keys not yet published: the message stays on the relay and the
          // next sync tries again. Keys that fail verification make the message a forgery.
          transient = keys.status().code() != Code::kUnauthenticated;
          return keys.status();
        }
        return keys->signing_key;
      };
      auto envelope = crypto::OpenEnvelope(d.envelope, address_, dh_, d.message_id, lookup);
      if (!envelope.ok()) {
        if (transient || envelope.status().code() == Code::kUnsupportedVersion) {
          // Keep it on the relay: the sender's keys may be published later, and an envelope of a
          // newer version waits for an updated client instead of being destroyed.
          ++report.deferred;
          report.errors.push_back("delivery " + std::to_string(d.seq) + " left on the relay: " +
                                  envelope.status().ToString());
          continue;
        }
        ++report.rejected;
        report.errors.push_back("delivery " + std::to_string(d.seq) + " rejected: " + envelope.status().ToString());
        ack.seqs.push_back(d.seq);  // it can never be opened; do not let it block the mailbox
        continue;
      }
      ReceivedMessage m;
      m.message_id = envelope->message_id;
      m.sender = std::move(envelope->sender_address);
      m.stored_at = static_cast<int64_t>(d.stored_at);
      m.received_at = now;
      m.text.assign(AsChars(envelope->plaintext));
      sodium_memzero(envelope->plaintext.data(), envelope->plaintext.size());
      opened.push_back(std::move(m));
      ack.seqs.push_back(d.seq);
    }
    LIAISON_ASSIGN_OR_RETURN(std::vector<bool> fresh, state_->StoreReceived(opened));
    for (size_t i = 0; i < opened.size(); ++i) {
      if (fresh[i]) {
        ++report.received;
        if (on_message && *on_message) (*on_message)(ToInboxMessage(opened[i]));
      } else {
        ++report.duplicates;
      }
    }
    if (ack.seqs.empty()) return Status::Ok();
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kAck, ack));
    return ReplyStatus(reply).WithContext("acknowledging");
  }

  std::unique_ptr<ClientState> state_;
  std::string address_;
  crypto::SigningKeyPair signing_;
  crypto::DhKeyPair dh_;
  std::array<uint8_t, 32> transport_public_;
  zmq::context_t context_;
  std::unique_ptr<RelayConnection> connection_;
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
  return std::unique_ptr<Client>(new ClientImpl(std::move(state), std::string(AsChars(*address)), std::move(signing),
                                                crypto::DhKeyPair::FromSecret(std::move(dh_secret)),
                                                crypto::DhKeyPair::FromSecret(std::move(transport_secret)),
                                                std::move(endpoint), relay_key, options.timeout));
}

}  // namespace
}  // namespace client

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options, std::string_view address) {
  LIAISON_RETURN_IF_ERROR(client::CheckAddress(address));
  if (options.relay_endpoint.empty()) return Status::Error(Code::kInvalidArgument, "the relay endpoint is required");
  LIAISON_ASSIGN_OR_RETURN(auto relay_key, client::ParseZ85(options.relay_public_key));
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
  Status stored = state->PutSelf(entries);
  for (auto& [name, value] : entries) sodium_memzero(value.data(), value.size());
  LIAISON_RETURN_IF_ERROR(stored);
  ClientOptions open_options = options;
  open_options.relay_endpoint.clear();
  open_options.relay_public_key.clear();
  return client::Load(open_options, std::move(state));
}

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  if (!std::filesystem::exists(options.state_dir + "/data.mdb")) {
    return Status::Error(Code::kNotFound, options.state_dir + " holds no liaison device (run init)");
  }
  LIAISON_ASSIGN_OR_RETURN(auto state, client::ClientState::Open(options.state_dir));
  return client::Load(options, std::move(state));
}

}  // namespace liaison
