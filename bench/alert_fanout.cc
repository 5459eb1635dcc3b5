// What one alert to N recipient devices costs on this machine, split as issue 5 asks: the
// sender's client (the body encrypted once, then per device: its session record decoded, the key
// copy encrypted in the ratchet and sealed, the record encoded; then the client's one durable
// LMDB commit of sessions, tracking records and the queued request), and the relay (decoding the
// SEND_BROADCAST body, the store's PutBroadcast of the body and N copies, the durable commit,
// the submission receipt's signature). For comparison, the relay's cost for the same content as
// N separate envelopes in one commit. Real LMDB on disk under $TMPDIR (fsync'd), real crypto; no
// network (the round trip over loopback CURVE is measured by the relay benchmarks of issue 7).
//
// Usage: liaison-bench-alerts [devices] [runs]   (defaults 1000 and 10)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.h"
#include "client/src/app_message.h"
#include "client/src/broadcast_body.h"
#include "client/src/client_state.h"
#include "client/src/sessions.h"
#include "client/src/tracking.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/sealed_envelope.h"
#include "crypto/sign.h"
#include "store/mailbox_store.h"
#include "wire/broadcast.h"
#include "wire/codec.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::client;
using Steady = std::chrono::steady_clock;

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench failed: %s\n", what);
    std::exit(1);
  }
}

double MillisSince(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Peer {
  std::string address;
  crypto::DhKeyPair identity = crypto::DhKeyPair::Generate();
  Bytes sessions;  // the officer's stored peer_sessions_v1 for this device
};

}  // namespace

int main(int argc, char** argv) {
  const size_t devices = argc > 1 ? std::stoul(argv[1]) : 1000;
  const size_t runs = argc > 2 ? std::stoul(argv[2]) : 10;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/liaison-bench-alerts-XXXXXX";
  Check(mkdtemp(dir.data()) != nullptr, "mkdtemp");

  // Sessions as the officer holds them after a first alert: one per device, set up by X3DH.
  const auto officer_identity = crypto::DhKeyPair::Generate();
  const auto peer_signing = crypto::SigningKeyPair::Generate();
  const auto spk = crypto::DhKeyPair::Generate();
  std::vector<Peer> peers(devices);
  for (size_t i = 0; i < devices; ++i) {
    peers[i].address = "verein-" + std::to_string(i) + "/1";
    crypto::PrekeyBundle bundle;
    bundle.identity_dh_public = peers[i].identity.public_key;
    bundle.identity_signing_public = peer_signing.public_key;
    bundle.signed_prekey_id = 1;
    bundle.signed_prekey_public = spk.public_key;
    bundle.signed_prekey_signature = crypto::SignSignedPrekey(peer_signing.secret_key, 1, spk.public_key);
    PeerSessions sessions;
    auto session = StartSession(officer_identity, bundle);
    Check(session.ok(), "start session");
    MakeCurrent(sessions, std::move(session).value());
    const crypto::WipedBytes encoded = EncodePeerSessions(sessions);
    peers[i].sessions.assign(encoded.view().begin(), encoded.view().end());
  }
  auto state = ClientState::Open(dir + "/officer");
  Check(state.ok(), "client state");

  BroadcastContent content;
  content.kind = kKindAlert;
  content.sender = "officer-meyer/1";
  content.created_at = SystemClock().NowMicros();
  content.expires_at = content.created_at + 14ll * 86400 * kMicrosPerSecond;
  content.severity = 3;
  content.ack_required = 1;
  content.title = "Versammlung am Samstag";
  content.text = std::string(2000, 'x');

  std::vector<double> body_ms, copies_ms, client_commit_ms, decode_ms, store_ms, commit_ms, sign_ms, separate_ms;
  size_t request_bytes = 0, copy_bytes = 0, body_bytes = 0;
  for (size_t run = 0; run < runs; ++run) {
    // --- the sender's client ---------------------------------------------------------------
    const BroadcastId id = crypto::RandomArray<16>();
    auto t = Steady::now();
    const crypto::AeadKey key = crypto::AeadKey::Random();
    auto body = SealBroadcastBody(content, key, id);
    Check(body.ok(), "seal body");
    const auto body_hash = BroadcastBodyHash(*body);
    body_ms.push_back(MillisSince(t));
    body_bytes = body->size();

    t = Steady::now();
    wire::SendBroadcastRequest request;
    request.broadcast_id = id;
    request.expires_at = static_cast<uint64_t>(content.expires_at);
    request.body = *body;
    std::vector<crypto::WipedBytes> records;
    records.reserve(devices);
    for (Peer& peer : peers) {
      auto sessions = DecodePeerSessions(peer.sessions);
      Check(sessions.ok(), "decode sessions");
      AppMessage app;
      app.kind = kAppKindBroadcastKey;
      app.message_id = crypto::RandomArray<16>();
      app.broadcast_id = id;
      std::copy(key.data(), key.data() + key.size(), app.content_key.bytes.begin());
      app.body_hash = body_hash;
      auto plaintext = EncodeAppMessage(app);
      Check(plaintext.ok(), "encode key copy");
      auto out = EncryptInCurrent(*sessions, plaintext->view());
      Check(out.ok(), "ratchet encrypt");
      crypto::SealedContent sealed{content.sender, {}, out->initial, std::move(out->ratchet_message)};
      auto envelope = crypto::SealEnvelopeV2(sealed, peer.address, peer.identity.public_key, app.message_id);
      Check(envelope.ok(), "seal copy");
      copy_bytes = envelope->size();
      records.push_back(EncodePeerSessions(*sessions));
      request.copies.push_back({peer.address, app.message_id, std::move(envelope).value()});
    }
    copies_ms.push_back(MillisSince(t));

    t = Steady::now();
    {
      auto txn = (*state)->BeginWrite();
      Check(txn.ok(), "client txn");
      SentAlertRecord alert;
      alert.id = id;
      alert.content = content;
      auto encoded_alert = EncodeRecord(alert);
      Check(encoded_alert.ok() && (*state)->Put(*txn, ClientState::Table::kSentAlerts, id, *encoded_alert).ok(), "alert");
      for (size_t i = 0; i < devices; ++i) {
        Check((*state)->PutSessions(*txn, peers[i].address, records[i].view()).ok(), "sessions");
        RecipientRecord r;
        r.device = peers[i].address;
        auto encoded = EncodeRecord(r);
        Check(encoded.ok() && (*state)->Put(*txn, ClientState::Table::kAlertRecipients, RecipientKey(id, r.device), *encoded).ok(),
              "recipient");
      }
      auto encoded_request = wire::Encode(request);
      Check(encoded_request.ok(), "encode request");
      request_bytes = encoded_request->size();
      Bytes position(8);
      PutBigEndian64(run, position.data());
      Check((*state)->Put(*txn, ClientState::Table::kBroadcastOutbox, position, *encoded_request).ok(), "outbox");
      Check(txn->Commit().ok(), "client commit");
    }
    client_commit_ms.push_back(MillisSince(t));

    // --- the relay -------------------------------------------------------------------------
    auto encoded = wire::Encode(request);
    Check(encoded.ok(), "encode");
    store::MailboxStoreOptions options;
    options.path = dir + "/relay-" + std::to_string(run);
    std::filesystem::create_directories(options.path);
    auto relay_store = store::MailboxStore::Open(options, SystemClock());
    Check(relay_store.ok(), "relay store");
    t = Steady::now();
    auto decoded = wire::Decode<wire::SendBroadcastRequest>(*encoded);
    Check(decoded.ok(), "decode request");
    decode_ms.push_back(MillisSince(t));
    t = Steady::now();
    auto batch = (*relay_store)->BeginWrite();
    Check(batch.ok(), "batch");
    std::vector<store::BroadcastCopy> copies;
    copies.reserve(devices);
    for (const auto& c : decoded->copies) copies.push_back({c.recipient, c.message_id, c.envelope});
    auto put = batch->PutBroadcast({static_cast<int64_t>(decoded->expires_at), decoded->body, copies});
    Check(put.ok(), "put broadcast");
    store_ms.push_back(MillisSince(t));
    t = Steady::now();
    Check(batch->Commit().ok(), "relay commit");
    commit_ms.push_back(MillisSince(t));
    const auto relay_key = crypto::SigningKeyPair::Generate();
    t = Steady::now();
    const auto signature = crypto::SignDetached(
        relay_key.secret_key, wire::SubmissionReceiptMessage(decoded->broadcast_id, crypto::GenericHash<32>(decoded->body),
                                                             1, static_cast<uint32_t>(devices)));
    sign_ms.push_back(MillisSince(t));
    (void)signature;

    // The same content as N separate messages (a 4 KiB envelope each) in one commit.
    options.path = dir + "/separate-" + std::to_string(run);
    std::filesystem::create_directories(options.path);
    auto separate_store = store::MailboxStore::Open(options, SystemClock());
    Check(separate_store.ok(), "separate store");
    const Bytes envelope(4096, 0x5a);
    t = Steady::now();
    auto separate = (*separate_store)->BeginWrite();
    Check(separate.ok(), "separate batch");
    for (const Peer& peer : peers) {
      store::PutRequest one{peer.address, crypto::RandomArray<16>(), 0, envelope};
      Check(separate->Put(one).ok(), "separate put");
    }
    Check(separate->Commit().ok(), "separate commit");
    separate_ms.push_back(MillisSince(t));
  }
  std::filesystem::remove_all(dir);

  const double client = Median(body_ms) + Median(copies_ms) + Median(client_commit_ms);
  const double relay = Median(decode_ms) + Median(store_ms) + Median(commit_ms) + Median(sign_ms);
  std::printf("one alert to %zu devices (2,000-byte body, sessions established), median of %zu runs:\n", devices, runs);
  std::printf("  client: body encrypted once %.2f ms (%zu bytes); %zu key copies %.1f ms (%.1f us each, %zu bytes "
              "each); durable commit of sessions, records and the %zu-byte request %.1f ms; total %.1f ms\n",
              Median(body_ms), body_bytes, devices, Median(copies_ms), 1000.0 * Median(copies_ms) / double(devices),
              copy_bytes, request_bytes, Median(client_commit_ms), client);
  std::printf("  relay: decode %.2f ms, PutBroadcast %.2f ms, durable commit %.2f ms, receipt signature %.3f ms; "
              "total %.2f ms\n",
              Median(decode_ms), Median(store_ms), Median(commit_ms), Median(sign_ms), relay);
  std::printf("  relay, the same content as %zu separate 4 KiB envelopes in one durable commit: %.2f ms (%.1fx)\n",
              devices, Median(separate_ms), Median(separate_ms) / (Median(store_ms) + Median(commit_ms)));
  return 0;
}
