// What a session costs on this machine, in process (no relay, no disk): starting one (X3DH and
// the first ratchet step on both sides) and each message after that (ratchet, sealed envelope,
// and the stored form written and read back as the client does per message).
//
// Usage: liaison-bench-sessions [messages]   (default 20000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/src/app_message.h"
#include "client/src/sessions.h"
#include "crypto/random.h"
#include "crypto/sealed_envelope.h"
#include "crypto/sign.h"

using namespace liaison;
using namespace liaison::client;
using Clock = std::chrono::steady_clock;

namespace {

double MicrosSince(Clock::time_point start, size_t n) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(n);
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench failed: %s\n", what);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const size_t messages = argc > 1 ? std::stoul(argv[1]) : 20000;
  const size_t starts = 2000;
  constexpr int64_t kNow = 1'800'000'000'000'000;
  const auto alice_identity = crypto::DhKeyPair::Generate();
  const auto bob_signing = crypto::SigningKeyPair::Generate();
  const auto bob_identity = crypto::DhKeyPair::Generate();
  const auto bob_spk = crypto::DhKeyPair::Generate();
  const auto bob_otk = crypto::DhKeyPair::Generate();
  crypto::PrekeyBundle bundle;
  bundle.identity_dh_public = bob_identity.public_key;
  bundle.identity_signing_public = bob_signing.public_key;
  bundle.signed_prekey_id = 1;
  bundle.signed_prekey_public = bob_spk.public_key;
  bundle.signed_prekey_signature = crypto::SignSignedPrekey(bob_signing.secret_key, 1, bob_spk.public_key);
  bundle.one_time_prekey = crypto::OneTimePrekeyPublic{1, bob_otk.public_key};
  ResponderKeys keys{&bob_identity,
                     [&](uint32_t) { return Result<crypto::DhKeyPair>(crypto::DhKeyPair::FromSecret(bob_spk.secret_key.Clone())); },
                     [&](uint32_t) { return Result<crypto::DhKeyPair>(crypto::DhKeyPair::FromSecret(bob_otk.secret_key.Clone())); }};
  AppMessage app;
  app.message_id = crypto::RandomArray<16>();
  app.text = std::string(100, 'x');
  const crypto::WipedBytes plaintext = EncodeAppMessage(app).value();

  // Session start: initiator side (claim verified, X3DH, ratchet init, first encrypt).
  std::vector<crypto::SealedContent> firsts;
  firsts.reserve(starts);
  auto t = Clock::now();
  for (size_t i = 0; i < starts; ++i) {
    PeerSessions alice;
    auto session = StartSession(alice_identity, bundle);
    Check(session.ok(), "start");
    MakeCurrent(alice, std::move(session).value());
    auto out = EncryptInCurrent(alice, plaintext.view());
    Check(out.ok(), "first encrypt");
    firsts.push_back({"alice/1", {}, out->initial, std::move(out->ratchet_message)});
  }
  const double start_initiator = MicrosSince(t, starts);
  t = Clock::now();
  for (size_t i = 0; i < starts; ++i) {
    PeerSessions bob;
    Check(DecryptFromPeer(bob, firsts[i], alice_identity.public_key, keys, kNow).ok(), "first decrypt");
  }
  const double start_responder = MicrosSince(t, starts);

  // Steady state: one session, alternating directions every 10 messages (a DH step each turn).
  PeerSessions alice, bob;
  MakeCurrent(alice, StartSession(alice_identity, bundle).value());
  double encrypt_us = 0, seal_us = 0, open_us = 0, decrypt_us = 0, persist_us = 0;
  size_t envelope_bytes = 0;
  for (size_t i = 0; i < messages; ++i) {
    const bool from_alice = (i / 10) % 2 == 0 || i < 10;
    PeerSessions& from = from_alice ? alice : bob;
    PeerSessions& to = from_alice ? bob : alice;
    const crypto::DhKeyPair& recipient = from_alice ? bob_identity : alice_identity;
    const crypto::DhPublicKey& sender_identity = from_alice ? alice_identity.public_key : bob_identity.public_key;
    auto t0 = Clock::now();
    auto out = EncryptInCurrent(from, plaintext.view());
    Check(out.ok(), "encrypt");
    auto t1 = Clock::now();
    crypto::SealedContent content{from_alice ? "alice/1" : "bob/1", {}, out->initial, std::move(out->ratchet_message)};
    auto envelope = crypto::SealEnvelopeV2(content, "r/1", recipient.public_key, app.message_id);
    Check(envelope.ok(), "seal");
    envelope_bytes += envelope->size();
    auto t2 = Clock::now();
    auto opened = crypto::OpenEnvelopeV2(*envelope, "r/1", recipient, app.message_id);
    Check(opened.ok(), "open");
    auto t3 = Clock::now();
    Check(DecryptFromPeer(to, *opened, sender_identity, keys, kNow).ok(), "decrypt");
    auto t4 = Clock::now();
    // What the client does per message on each side: encode the sessions for LMDB; on the next
    // batch they are decoded again.
    auto stored = EncodePeerSessions(to);
    Check(DecodePeerSessions(stored.view()).ok(), "decode sessions");
    auto t5 = Clock::now();
    using us = std::chrono::duration<double, std::micro>;
    encrypt_us += us(t1 - t0).count();
    seal_us += us(t2 - t1).count();
    open_us += us(t3 - t2).count();
    decrypt_us += us(t4 - t3).count();
    persist_us += us(t5 - t4).count();
  }
  const double n = static_cast<double>(messages);
  std::printf("session start (%zu runs): initiator %.1f us (X3DH with one-time prekey, ratchet init, first encrypt), "
              "responder %.1f us (X3DH, ratchet init, first decrypt)\n",
              starts, start_initiator, start_responder);
  std::printf("per message (%zu messages, 100-byte text, direction changes every 10): ratchet encrypt %.1f us, "
              "seal %.1f us, open %.1f us, ratchet decrypt %.1f us, session record encode+decode %.1f us; "
              "sender %.1f us, recipient %.1f us; mean envelope %.0f bytes\n",
              messages, encrypt_us / n, seal_us / n, open_us / n, decrypt_us / n, persist_us / n,
              (encrypt_us + seal_us) / n, (open_us + decrypt_us + persist_us) / n,
              static_cast<double>(envelope_bytes) / n);
  return 0;
}
