// Tests for crypto/ratchet.h: a long randomised conversation, conformance of the keys and
// messages to the documented KDFs and format, every-bit and length negatives, replays, the skip,
// store and age bounds, failed decryptions leaving the state untouched, persistence, forward
// secrecy and recovery after a stolen state, and frozen data from tests/data/kat/session/.
#include "crypto/ratchet.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using ratchet_limits::kMaxPreviousReceivingChains;
using ratchet_limits::kMaxSkip;
using ratchet_limits::kMaxSkippedKeys;
using ratchet_limits::kSkippedKeyMaxAgeMicros;
using testing::Hex;
using testing::LoadTestData;
using testing::ToBytes;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // an arbitrary "now", in microseconds

// Offsets of the serialized state v1 (format in ratchet.h).
constexpr size_t kOffFlags = 1, kOffDhsSecret = 2, kOffDhsPublic = 34, kOffDhr = 66, kOffRk = 98,
                 kOffCks = 130, kOffCkr = 162, kOffNs = 194, kOffNr = 198, kOffPn = 202,
                 kOffPreviousCount = 206;

// Alice (initiator) and Bob (responder) after X3DH, with the inputs kept for checks.
struct Session {
  SecretBytes<32> sk = SecretBytes<32>::Random();
  DhKeyPair bob_spk = DhKeyPair::Generate();
  Bytes ad = [] {
    Bytes b(64);
    RandomBytes(b);
    return b;
  }();
  RatchetState alice = RatchetInitAlice(sk, bob_spk.public_key).value();
  RatchetState bob = RatchetInitBob(sk, DhKeyPair{bob_spk.public_key, bob_spk.secret_key.Clone()});
};

Bytes Encrypt(RatchetState& s, const Session& session, std::string_view text) {
  auto m = RatchetEncrypt(s, AsBytes(text), session.ad);
  REQUIRE(m.ok());
  return std::move(m).value();
}

std::string Decrypt(RatchetState& s, const Session& session, ByteView message, int64_t now = kT0) {
  auto p = RatchetDecrypt(s, message, session.ad, now);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  return std::string(AsChars(*p));
}

// Decrypting `message` must fail and leave the state's serialization byte-identical.
Code RejectedUnchanged(RatchetState& s, ByteView message, ByteView ad, int64_t now = kT0) {
  const Bytes before = SerializeRatchetState(s);
  auto r = RatchetDecrypt(s, message, ad, now);
  REQUIRE_FALSE(r.ok());
  REQUIRE(SerializeRatchetState(s) == before);
  return r.status().code();
}

RatchetHeader HeaderOf(ByteView message) {
  auto h = DecodeRatchetHeader(message.first(kRatchetHeaderBytes));
  REQUIRE(h.ok());
  return *h;
}

// The seed of a randomised test: LIAISON_TEST_SEED if set (to reproduce a failure), else random.
uint64_t TestSeed() {
  if (const char* env = std::getenv("LIAISON_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
}

bool Contains(ByteView haystack, ByteView needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// ---- The specification's functions, written here from ratchet.h's comment alone ------------

struct RootStep {
  SecretBytes<32> rk, ck;
};
RootStep SpecKdfRk(ByteView rk, ByteView dh_out) {
  SecretBytes<64> okm;
  REQUIRE(
      HkdfSha256(dh_out, rk, ToBytes("liaison/v1/ratchet/rk"), std::span<uint8_t>(okm.data(), 64))
          .ok());
  RootStep out;
  std::copy_n(okm.data(), 32, out.rk.data());
  std::copy_n(okm.data() + 32, 32, out.ck.data());
  return out;
}
std::array<uint8_t, 32> SpecSeed(ByteView ck) { return HmacSha256(ck, Bytes{0x01}); }
std::array<uint8_t, 32> SpecNextCk(ByteView ck) { return HmacSha256(ck, Bytes{0x02}); }
Result<Bytes> SpecOpen(ByteView seed, ByteView message, ByteView ad) {
  SecretBytes<56> okm;
  const Bytes zeros(32, 0);
  REQUIRE(
      HkdfSha256(seed, zeros, ToBytes("liaison/v1/ratchet/mk"), std::span<uint8_t>(okm.data(), 56))
          .ok());
  AeadKey key;
  std::copy_n(okm.data(), 32, key.data());
  Bytes full_ad(ad.begin(), ad.end());
  full_ad.insert(full_ad.end(), message.begin(), message.begin() + kRatchetHeaderBytes);
  return XChaChaOpen(key, ByteView(okm.data() + 32, 24), message.subspan(kRatchetHeaderBytes),
                     full_ad);
}

// ---- The conversation ----------------------------------------------------------------------

TEST_CASE(
    "a 10,000-message conversation with random interleaving, reordering and delays "
    "decrypts every message exactly once",
    "[crypto][ratchet]") {
  const uint64_t seed = TestSeed();
  INFO("seed " << seed << " (rerun with LIAISON_TEST_SEED=" << seed << " to reproduce)");
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
  };

  struct InFlight {
    size_t id;
    Bytes message;
  };
  constexpr size_t kMessages = 10'000;
  constexpr size_t kWindow = 24;  // a delivery picks one of the 24 oldest messages in flight
  Session s;
  RatchetState* party[2] = {&s.alice, &s.bob};  // direction d: party[d] -> party[1 - d]
  std::deque<InFlight> in_flight[2];
  std::deque<InFlight> delivered[2];  // the last few, for replays
  std::vector<std::string> plaintexts;
  std::vector<int> decrypted;  // per id: how many times it decrypted
  // Per direction, the sender's ratchet keys in the order the receiver first saw them: a replay
  // is kDuplicate while its key is the receiver's current one or among the last
  // kMaxPreviousReceivingChains before it, and a (rejected) unknown key after that.
  std::vector<DhPublicKey> seen_keys[2];
  int64_t now = kT0;
  size_t replays = 0, restarts = 0, max_skipped = 0, chain_steps = 0;

  while (plaintexts.size() < kMessages || !in_flight[0].empty() || !in_flight[1].empty()) {
    now += static_cast<int64_t>(uniform(60'000'000));  // 0..60 s between events
    const uint64_t action = uniform(100);
    if (action < 9 && plaintexts.size() < kMessages) {
      // A burst of 1..16 messages from one side (people write in bursts; each change of
      // direction costs the receiver a DH ratchet step).
      const int d = static_cast<int>(uniform(2));
      if (!party[d]->CanSend()) continue;  // Bob only after Alice's first message arrived
      for (uint64_t burst = 1 + uniform(16); burst > 0 && plaintexts.size() < kMessages; --burst) {
        const size_t id = plaintexts.size();
        std::string text =
            std::to_string(id) + ":" + std::string(uniform(80), static_cast<char>('a' + id % 26));
        in_flight[d].push_back(InFlight{id, Encrypt(*party[d], s, text)});
        plaintexts.push_back(std::move(text));
        decrypted.push_back(0);
      }
    } else if (action < 95) {
      const int d = !in_flight[0].empty() && (in_flight[1].empty() || uniform(2) == 0) ? 0 : 1;
      if (in_flight[d].empty()) continue;
      const size_t pick = uniform(std::min(kWindow, in_flight[d].size()));
      InFlight m = std::move(in_flight[d][pick]);
      in_flight[d].erase(in_flight[d].begin() + static_cast<std::ptrdiff_t>(pick));
      INFO("message " << m.id << " direction " << d);
      REQUIRE(Decrypt(*party[1 - d], s, m.message, now) == plaintexts[m.id]);
      ++decrypted[m.id];
      const DhPublicKey key = HeaderOf(m.message).dh_public;
      if (std::find(seen_keys[d].begin(), seen_keys[d].end(), key) == seen_keys[d].end()) {
        seen_keys[d].push_back(key);
        ++chain_steps;
      }
      max_skipped = std::max(max_skipped, party[1 - d]->SkippedKeyCount());
      delivered[d].push_back(std::move(m));
      if (delivered[d].size() > 32) delivered[d].pop_front();
    } else if (action < 98) {
      const int d = static_cast<int>(uniform(2));
      if (delivered[d].empty()) continue;
      const InFlight& m = delivered[d][uniform(delivered[d].size())];
      INFO("replay of message " << m.id);
      const DhPublicKey key = HeaderOf(m.message).dh_public;
      const size_t age = static_cast<size_t>(
          seen_keys[d].end() - std::find(seen_keys[d].begin(), seen_keys[d].end(), key));
      REQUIRE(RejectedUnchanged(*party[1 - d], m.message, s.ad, now) ==
              (age <= kMaxPreviousReceivingChains + 1 ? Code::kDuplicate : Code::kUnauthenticated));
      ++replays;
    } else {
      // A restart: the party's state goes through its serialization.
      const int p = static_cast<int>(uniform(2));
      Bytes blob = SerializeRatchetState(*party[p]);
      auto restored = ParseRatchetState(blob);
      REQUIRE(restored.ok());
      *party[p] = std::move(restored).value();
      ++restarts;
    }
  }
  CHECK(plaintexts.size() == kMessages);
  CHECK(std::all_of(decrypted.begin(), decrypted.end(), [](int n) { return n == 1; }));
  CHECK(replays > 100);
  CHECK(restarts > 100);
  CHECK(chain_steps > 100);
  CHECK(max_skipped > 0);
  CHECK(s.alice.SkippedKeyCount() == 0);
  CHECK(s.bob.SkippedKeyCount() == 0);
  WARN("seed " << seed << ": " << chain_steps << " receiving chains, " << replays << " replays, "
               << restarts << " restarts, at most " << max_skipped << " skipped keys held");
}

TEST_CASE("headers carry the sender's ratchet key, pn and n as the specification says",
          "[crypto][ratchet]") {
  Session s;
  REQUIRE(s.alice.CanSend());
  REQUIRE_FALSE(s.bob.CanSend());
  const DhPublicKey a1 = s.alice.SendingRatchetPublic();
  std::vector<Bytes> first;
  for (int i = 0; i < 3; ++i) first.push_back(Encrypt(s.alice, s, "a" + std::to_string(i)));
  for (uint32_t i = 0; i < 3; ++i) {
    const RatchetHeader h = HeaderOf(first[i]);
    CHECK(h.version == kRatchetVersion1);
    CHECK(h.dh_public == a1);
    CHECK(h.pn == 0);
    CHECK(h.n == i);
  }
  for (const Bytes& m : first) Decrypt(s.bob, s, m);
  REQUIRE(s.bob.CanSend());
  CHECK(s.bob.SendingRatchetPublic() != s.bob_spk.public_key);  // a fresh key, not the prekey
  const Bytes r0 = Encrypt(s.bob, s, "r0");
  const Bytes r1 = Encrypt(s.bob, s, "r1");
  CHECK(HeaderOf(r0).dh_public == s.bob.SendingRatchetPublic());
  CHECK((HeaderOf(r0).pn == 0 && HeaderOf(r0).n == 0 && HeaderOf(r1).n == 1));
  CHECK(Decrypt(s.alice, s, r1) == "r1");
  CHECK(Decrypt(s.alice, s, r0) == "r0");
  const Bytes a = Encrypt(s.alice, s, "next chain");
  CHECK(HeaderOf(a).dh_public != a1);
  CHECK(HeaderOf(a).pn == 3);
  CHECK(HeaderOf(a).n == 0);
  CHECK(Decrypt(s.bob, s, a) == "next chain");
}

TEST_CASE("keys and messages follow the documented KDFs and format (independent derivation)",
          "[crypto][ratchet]") {
  Session s;
  const Bytes alice_blob = SerializeRatchetState(s.alice);
  const auto alice_dhs =
      SecretBytes<32>::FromBytes(ByteView(alice_blob).subspan(kOffDhsSecret, 32)).value();
  // RatchetInitAlice: (RK, CKs) = KDF_RK(SK, DH(DHs, Bob's signed prekey)).
  const SecretBytes<32> dh = X25519(alice_dhs, s.bob_spk.public_key).value();
  const RootStep root = SpecKdfRk(s.sk.view(), dh.view());
  CHECK(ToHex(ByteView(alice_blob).subspan(kOffRk, 32)) == ToHex(root.rk.view()));
  CHECK(ToHex(ByteView(alice_blob).subspan(kOffCks, 32)) == ToHex(root.ck.view()));

  // Message i of the chain opens with the key and nonce derived from seed i alone.
  std::array<uint8_t, 32> ck;
  std::copy_n(root.ck.data(), 32, ck.begin());
  for (int i = 0; i < 4; ++i) {
    const std::string text = "message " + std::to_string(i);
    const Bytes m = Encrypt(s.alice, s, text);
    CHECK(m.size() == kRatchetHeaderBytes + text.size() + kAeadTagBytes);
    auto opened = SpecOpen(SpecSeed(ck), m, s.ad);
    REQUIRE(opened.ok());
    CHECK(AsChars(*opened) == text);
    ck = SpecNextCk(ck);
  }
  // The sending chain key in the state is the fourth successor.
  CHECK(ToHex(ByteView(SerializeRatchetState(s.alice)).subspan(kOffCks, 32)) == ToHex(ck));
}

// ---- Negatives -----------------------------------------------------------------------------

TEST_CASE("bit flips in 100 messages' headers and ciphertexts are rejected and change nothing",
          "[crypto][ratchet]") {
  // Flipping every bit of all 100 messages (about 73,000 decryptions) takes some 40 s on the
  // machine this was written on, because each attempt derives keys in sodium_malloc'd memory
  // and a flipped ratchet key costs a DH ratchet attempt. So the bits are covered
  // systematically instead: every bit of the version, pn and n fields of every message; of the
  // ratchet public key the bits b with b % 32 == i % 32 in message i; of the ciphertext (tag
  // included) the bits b with b % 16 == i % 16. Across the 100 messages, eleven of which start
  // a new chain, every bit position is flipped at least three times (ratchet key) or six times
  // (ciphertext): about 10,500 decryptions.
  Session s;
  std::vector<int> flipped_positions(kRatchetHeaderBytes * 8 + 1024, 0);
  size_t flips = 0;
  size_t message_bits = 0;
  for (size_t i = 0; i < 100; ++i) {
    if (i % 10 == 5) {  // a reply, so that Alice's next message starts a new chain
      Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
    }
    const std::string text = "message number " + std::to_string(i) + " of the flip test";
    const Bytes good = Encrypt(s.alice, s, text);
    const RatchetHeader header = HeaderOf(good);
    message_bits = good.size() * 8;
    for (size_t bit = 0; bit < good.size() * 8; ++bit) {
      const bool version = bit < 8;
      const bool key = bit >= 8 && bit < 8 + 256;
      const bool counters = bit >= 8 + 256 && bit < kRatchetHeaderBytes * 8;
      const bool ciphertext = bit >= kRatchetHeaderBytes * 8;
      if ((key && bit % 32 != i % 32) || (ciphertext && bit % 16 != i % 16)) continue;
      Bytes bad = good;
      bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      INFO("message " << i << " (pn " << header.pn << ", n " << header.n << "), bit " << bit);
      const Code code = RejectedUnchanged(s.bob, bad, s.ad);
      if (version) {
        REQUIRE(code == Code::kUnsupportedVersion);
      } else if (key || ciphertext) {
        REQUIRE(code == Code::kUnauthenticated);
      } else {
        REQUIRE(counters);
        // pn or n: a number below the chain's next is a replay, one too far ahead breaks the
        // skip bound, any other fails the AEAD (the header is authenticated).
        REQUIRE((code == Code::kUnauthenticated || code == Code::kTooLarge ||
                 code == Code::kDuplicate));
      }
      ++flipped_positions[bit];
      ++flips;
    }
    REQUIRE(Decrypt(s.bob, s, good) == text);
  }
  for (size_t bit = 0; bit < message_bits; ++bit) {
    INFO("bit position " << bit);
    CHECK(flipped_positions[bit] >= 3);
  }
  WARN(flips << " flipped messages rejected");
}

TEST_CASE("truncated and extended messages are rejected and change nothing", "[crypto][ratchet]") {
  Session s;
  Decrypt(s.bob, s, Encrypt(s.alice, s, "first"));
  Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
  for (const std::string text : {"", "x", "a longer message of some forty-odd bytes..."}) {
    const Bytes good = Encrypt(s.alice, s, text);  // a new chain for Bob, then the same chain
    for (size_t len = 0; len < good.size(); ++len) {
      INFO("truncated to " << len);
      const Code code = RejectedUnchanged(s.bob, ByteView(good).first(len), s.ad);
      CHECK(code ==
            (len < kRatchetMessageOverheadBytes ? Code::kMalformed : Code::kUnauthenticated));
    }
    for (size_t extra = 1; extra <= 64; ++extra) {
      Bytes longer = good;
      longer.resize(good.size() + extra, static_cast<uint8_t>(extra));
      INFO("extended by " << extra);
      CHECK(RejectedUnchanged(s.bob, longer, s.ad) == Code::kUnauthenticated);
    }
    Bytes huge = good;
    huge.resize(kMaxRatchetMessageBytes + 1);
    CHECK(RejectedUnchanged(s.bob, huge, s.ad) == Code::kTooLarge);
    CHECK(Decrypt(s.bob, s, good) == text);
  }
}

TEST_CASE("a failed decryption leaves the serialized state byte-identical", "[crypto][ratchet]") {
  Session s;
  Decrypt(s.bob, s, Encrypt(s.alice, s, "one"));
  Decrypt(s.alice, s, Encrypt(s.bob, s, "two"));
  const Bytes skipped = Encrypt(s.alice, s, "skipped");  // Bob will hold its key
  const Bytes next = Encrypt(s.alice, s, "next");
  Decrypt(s.bob, s, next);
  REQUIRE(s.bob.SkippedKeyCount() == 1);
  const Bytes pending = Encrypt(s.alice, s, "pending");

  Bytes wrong_ad = s.ad;
  wrong_ad[10] ^= 0x20;
  CHECK(RejectedUnchanged(s.bob, pending, wrong_ad) == Code::kUnauthenticated);
  CHECK(RejectedUnchanged(s.bob, skipped, wrong_ad) == Code::kUnauthenticated);  // skipped key
  CHECK(RejectedUnchanged(s.bob, pending, Bytes{}) == Code::kUnauthenticated);

  Session other;  // a message from another session
  CHECK(RejectedUnchanged(s.bob, Encrypt(other.alice, other, "elsewhere"), s.ad) ==
        Code::kUnauthenticated);

  // A forged message with a fresh ratchet key: the whole DH ratchet step runs, then the AEAD
  // fails; the step's new keys and skipped keys (pn and n within the bounds) are discarded.
  RatchetHeader forged{kRatchetVersion1, DhKeyPair::Generate().public_key, 7, 9};
  const auto forged_header = EncodeRatchetHeader(forged);
  Bytes forged_message(forged_header.begin(), forged_header.end());
  forged_message.resize(kRatchetHeaderBytes + 40, 0xAB);
  CHECK(RejectedUnchanged(s.bob, forged_message, s.ad) == Code::kUnauthenticated);
  // The same with the current ratchet key and a number ahead: skipped keys are staged, then
  // discarded.
  RatchetHeader ahead = HeaderOf(pending);
  ahead.n += 50;
  Bytes ahead_message = pending;
  const auto ahead_header = EncodeRatchetHeader(ahead);
  std::copy(ahead_header.begin(), ahead_header.end(), ahead_message.begin());
  CHECK(RejectedUnchanged(s.bob, ahead_message, s.ad) == Code::kUnauthenticated);
  // A low-order ratchet key.
  RatchetHeader low = forged;
  low.dh_public = {};
  const auto low_header = EncodeRatchetHeader(low);
  Bytes low_message(low_header.begin(), low_header.end());
  low_message.resize(kRatchetHeaderBytes + 40, 0);
  CHECK(RejectedUnchanged(s.bob, low_message, s.ad) == Code::kUnauthenticated);
  // Alice's own message sent back to her.
  CHECK(RejectedUnchanged(s.alice, pending, s.ad) == Code::kUnauthenticated);
  // Random bytes behind a valid version byte: with random counters the skip bound refuses it;
  // with small counters a DH ratchet step with a random key runs, and the AEAD refuses it.
  Bytes noise(100);
  RandomBytes(noise);
  noise[0] = kRatchetVersion1;
  noise[33] = noise[37] = 0xff;
  CHECK(RejectedUnchanged(s.bob, noise, s.ad) == Code::kTooLarge);
  std::fill(noise.begin() + 33, noise.begin() + 41, uint8_t{0});
  CHECK(RejectedUnchanged(s.bob, noise, s.ad) == Code::kUnauthenticated);

  // Nothing was lost: both real messages still decrypt.
  CHECK(Decrypt(s.bob, s, pending) == "pending");
  CHECK(Decrypt(s.bob, s, skipped) == "skipped");
}

TEST_CASE("replayed messages are rejected as kDuplicate", "[crypto][ratchet]") {
  Session s;
  const Bytes m0 = Encrypt(s.alice, s, "m0");
  const Bytes m1 = Encrypt(s.alice, s, "m1");
  const Bytes m2 = Encrypt(s.alice, s, "m2");
  Decrypt(s.bob, s, m0);
  CHECK(RejectedUnchanged(s.bob, m0, s.ad) == Code::kDuplicate);  // in order, same chain
  Decrypt(s.bob, s, m2);
  Decrypt(s.bob, s, m1);                                          // from the skipped keys
  CHECK(RejectedUnchanged(s.bob, m1, s.ad) == Code::kDuplicate);  // skipped key used up
  CHECK(RejectedUnchanged(s.bob, m2, s.ad) == Code::kDuplicate);

  // After a ratchet step in each direction, the old chain's messages are still duplicates.
  Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
  const Bytes n0 = Encrypt(s.alice, s, "n0");
  Decrypt(s.bob, s, n0);
  for (const Bytes* m : {&m0, &m1, &m2, &n0}) {
    CHECK(RejectedUnchanged(s.bob, *m, s.ad) == Code::kDuplicate);
  }
  // ... also after a restart.
  auto restored = ParseRatchetState(SerializeRatchetState(s.bob));
  REQUIRE(restored.ok());
  for (const Bytes* m : {&m0, &m1, &m2, &n0}) {
    CHECK(RejectedUnchanged(*restored, *m, s.ad) == Code::kDuplicate);
  }
}

TEST_CASE("older receiving chains are remembered for replays up to the bound",
          "[crypto][ratchet]") {
  Session s;
  std::vector<Bytes> firsts;  // the first message of each of Alice's chains
  for (size_t chain = 0; chain < kMaxPreviousReceivingChains + 2; ++chain) {
    firsts.push_back(Encrypt(s.alice, s, "chain " + std::to_string(chain)));
    Decrypt(s.bob, s, firsts.back());
    Decrypt(s.alice, s, Encrypt(s.bob, s, "ack"));
  }
  // The current chain and the last kMaxPreviousReceivingChains before it: kDuplicate. The one
  // before those is forgotten: its replay is taken for a new ratchet key and fails the AEAD.
  for (size_t chain = 0; chain < firsts.size(); ++chain) {
    INFO("chain " << chain);
    const Code code = RejectedUnchanged(s.bob, firsts[chain], s.ad);
    CHECK(code == (chain == 0 ? Code::kUnauthenticated : Code::kDuplicate));
  }
}

// ---- Bounds --------------------------------------------------------------------------------

TEST_CASE("the skip bound is enforced per chain, with the state unchanged", "[crypto][ratchet]") {
  Session s;
  SECTION("the first message of a chain may skip exactly kMaxSkip") {
    std::vector<Bytes> m;
    for (uint32_t i = 0; i <= kMaxSkip + 1; ++i) m.push_back(Encrypt(s.alice, s, "m"));
    CHECK(RejectedUnchanged(s.bob, m[kMaxSkip + 1], s.ad) == Code::kTooLarge);
    CHECK(s.bob.SkippedKeyCount() == 0);
    Decrypt(s.bob, s, m[kMaxSkip]);
    CHECK(s.bob.SkippedKeyCount() == kMaxSkip);
    CHECK(Decrypt(s.bob, s, m[0]) == "m");
    CHECK(Decrypt(s.bob, s, m[kMaxSkip + 1]) == "m");
  }
  SECTION("the rest of the previous chain (pn) is bounded too") {
    std::vector<Bytes> m;
    for (uint32_t i = 0; i <= kMaxSkip + 1; ++i) m.push_back(Encrypt(s.alice, s, "m"));
    Decrypt(s.bob, s, m[0]);  // Bob's Nr = 1; Alice's chain has kMaxSkip + 2 messages
    Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
    const Bytes next_chain = Encrypt(s.alice, s, "next chain");
    REQUIRE(HeaderOf(next_chain).pn == kMaxSkip + 2);
    CHECK(RejectedUnchanged(s.bob, next_chain, s.ad) == Code::kTooLarge);  // kMaxSkip + 1 left
    Decrypt(s.bob, s, m[1]);  // now exactly kMaxSkip are left
    CHECK(Decrypt(s.bob, s, next_chain) == "next chain");
    CHECK(s.bob.SkippedKeyCount() == kMaxSkip);
  }
  SECTION("a new chain's own gap is bounded") {
    Decrypt(s.bob, s, Encrypt(s.alice, s, "first"));
    Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
    std::vector<Bytes> m;
    for (uint32_t i = 0; i <= kMaxSkip + 1; ++i) m.push_back(Encrypt(s.alice, s, "m"));
    CHECK(RejectedUnchanged(s.bob, m[kMaxSkip + 1], s.ad) == Code::kTooLarge);
    CHECK(Decrypt(s.bob, s, m[kMaxSkip]) == "m");
  }
  SECTION("a forged n far ahead costs nothing and changes nothing") {
    const Bytes m0 = Encrypt(s.alice, s, "m0");
    Decrypt(s.bob, s, m0);
    for (const uint32_t n : {kMaxSkip + 2, uint32_t{0x7fffffff}, UINT32_MAX - 1, UINT32_MAX}) {
      RatchetHeader h = HeaderOf(m0);
      h.n = n;
      Bytes forged = m0;
      const auto hb = EncodeRatchetHeader(h);
      std::copy(hb.begin(), hb.end(), forged.begin());
      INFO("n " << n);
      CHECK(RejectedUnchanged(s.bob, forged, s.ad) == Code::kTooLarge);
    }
  }
}

TEST_CASE("a message needing kMaxSkip + 1 skips in the current chain fails with kTooLarge",
          "[crypto][ratchet]") {
  Session s;
  std::vector<Bytes> m;
  for (uint32_t i = 0; i <= kMaxSkip + 2; ++i) m.push_back(Encrypt(s.alice, s, std::to_string(i)));
  Decrypt(s.bob, s, m[0]);  // Nr = 1
  CHECK(RejectedUnchanged(s.bob, m[kMaxSkip + 2], s.ad) == Code::kTooLarge);
  CHECK(s.bob.SkippedKeyCount() == 0);
  CHECK(Decrypt(s.bob, s, m[kMaxSkip + 1]) == std::to_string(kMaxSkip + 1));  // exactly kMaxSkip
  CHECK(s.bob.SkippedKeyCount() == kMaxSkip);
}

TEST_CASE("the skipped-key store is bounded in total; the oldest keys are evicted",
          "[crypto][ratchet]") {
  Session s;
  // Three chains of Alice's, each of kMaxSkip + 1 messages of which Bob receives only the last.
  std::vector<std::vector<Bytes>> chains;
  for (int c = 0; c < 3; ++c) {
    chains.emplace_back();
    for (uint32_t i = 0; i <= kMaxSkip; ++i) {
      chains.back().push_back(
          Encrypt(s.alice, s, "c" + std::to_string(c) + "/" + std::to_string(i)));
    }
    Decrypt(s.bob, s, chains.back().back());
    CHECK(s.bob.SkippedKeyCount() == std::min(kMaxSkippedKeys, (c + 1) * size_t{kMaxSkip}));
    Decrypt(s.alice, s, Encrypt(s.bob, s, "reply"));
  }
  // Chain 0's keys were the oldest and are gone; chains 1 and 2 are held.
  CHECK(RejectedUnchanged(s.bob, chains[0][0], s.ad) == Code::kDuplicate);
  CHECK(RejectedUnchanged(s.bob, chains[0][kMaxSkip - 1], s.ad) == Code::kDuplicate);
  CHECK(Decrypt(s.bob, s, chains[1][0]) == "c1/0");
  CHECK(Decrypt(s.bob, s, chains[2][kMaxSkip - 1]) == "c2/" + std::to_string(kMaxSkip - 1));
  CHECK(s.bob.SkippedKeyCount() == kMaxSkippedKeys - 2);
}

TEST_CASE("skipped keys expire once the injected time has passed their age", "[crypto][ratchet]") {
  Session s;
  std::vector<Bytes> m;
  for (int i = 0; i < 5; ++i) m.push_back(Encrypt(s.alice, s, "m" + std::to_string(i)));
  Decrypt(s.bob, s, m[3], kT0);  // m0, m1, m2 skipped at kT0
  REQUIRE(s.bob.SkippedKeyCount() == 3);
  // Exactly the maximum age is still fine.
  CHECK(Decrypt(s.bob, s, m[0], kT0 + kSkippedKeyMaxAgeMicros) == "m0");
  // One microsecond later the key has expired; the failure changes nothing.
  const int64_t late = kT0 + kSkippedKeyMaxAgeMicros + 1;
  CHECK(RejectedUnchanged(s.bob, m[1], s.ad, late) == Code::kExpired);
  CHECK(s.bob.SkippedKeyCount() == 2);
  // A clock that went backwards does not expire anything.
  CHECK(RejectedUnchanged(s.bob, m[1], Bytes{}, kT0 - 1) == Code::kUnauthenticated);

  SECTION("DropExpiredSkippedKeys drops them") {
    CHECK(DropExpiredSkippedKeys(s.bob, kT0 + kSkippedKeyMaxAgeMicros) == 0);
    CHECK(DropExpiredSkippedKeys(s.bob, late) == 2);
    CHECK(s.bob.SkippedKeyCount() == 0);
  }
  SECTION("the next successful decryption drops them") {
    CHECK(Decrypt(s.bob, s, m[4], late) == "m4");
    CHECK(s.bob.SkippedKeyCount() == 0);
  }
  CHECK(RejectedUnchanged(s.bob, m[1], s.ad, late) == Code::kDuplicate);
  CHECK(RejectedUnchanged(s.bob, m[2], s.ad, kT0) == Code::kDuplicate);
}

TEST_CASE("encryption refuses what it cannot send, without changing the state",
          "[crypto][ratchet]") {
  Session s;
  const Bytes bob_before = SerializeRatchetState(s.bob);
  auto early = RatchetEncrypt(s.bob, AsBytes("too early"), s.ad);
  CHECK(early.status().code() == Code::kInvalidArgument);
  CHECK(SerializeRatchetState(s.bob) == bob_before);

  const Bytes alice_before = SerializeRatchetState(s.alice);
  const Bytes big(ratchet_limits::kMaxPlaintextBytes + 1, 'x');
  CHECK(RatchetEncrypt(s.alice, big, s.ad).status().code() == Code::kInvalidArgument);
  CHECK(SerializeRatchetState(s.alice) == alice_before);
  const Bytes largest(ratchet_limits::kMaxPlaintextBytes, 'y');
  auto m = RatchetEncrypt(s.alice, largest, s.ad);
  REQUIRE(m.ok());
  CHECK(m->size() == kMaxRatchetMessageBytes);
  auto p = RatchetDecrypt(s.bob, *m, s.ad, kT0);
  REQUIRE(p.ok());
  CHECK(*p == largest);
}

TEST_CASE("a low-order signed prekey is refused by RatchetInitAlice", "[crypto][ratchet]") {
  const auto sk = SecretBytes<32>::Random();
  CHECK(RatchetInitAlice(sk, DhPublicKey{}).status().code() == Code::kUnauthenticated);
}

// ---- Persistence ---------------------------------------------------------------------------

TEST_CASE("a state serialized and restored mid-conversation continues (restart)",
          "[crypto][ratchet]") {
  Session s;
  std::vector<Bytes> held;  // messages still in flight across the restart
  Decrypt(s.bob, s, Encrypt(s.alice, s, "hello"));
  Decrypt(s.alice, s, Encrypt(s.bob, s, "hi"));
  held.push_back(Encrypt(s.alice, s, "held 1"));
  held.push_back(Encrypt(s.alice, s, "held 2"));
  Decrypt(s.bob, s, Encrypt(s.alice, s, "after held"));
  held.push_back(Encrypt(s.bob, s, "held from bob"));
  REQUIRE(s.bob.SkippedKeyCount() == 2);

  Bytes alice_blob = SerializeRatchetState(s.alice);
  Bytes bob_blob = SerializeRatchetState(s.bob);
  {
    // Destroy the live states: only the bytes survive the "restart".
    RatchetState gone_a = std::move(s.alice);
    RatchetState gone_b = std::move(s.bob);
  }
  auto alice = ParseRatchetState(alice_blob);
  auto bob = ParseRatchetState(bob_blob);
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  CHECK(SerializeRatchetState(*alice) == alice_blob);
  CHECK(SerializeRatchetState(*bob) == bob_blob);
  CHECK(bob->SkippedKeyCount() == 2);
  s.alice = std::move(alice).value();
  s.bob = std::move(bob).value();

  CHECK(Decrypt(s.bob, s, held[1]) == "held 2");
  CHECK(Decrypt(s.alice, s, held[2]) == "held from bob");
  CHECK(Decrypt(s.bob, s, held[0]) == "held 1");
  for (int round = 0; round < 5; ++round) {
    CHECK(Decrypt(s.bob, s, Encrypt(s.alice, s, "a" + std::to_string(round))) ==
          "a" + std::to_string(round));
    CHECK(Decrypt(s.alice, s, Encrypt(s.bob, s, "b" + std::to_string(round))) ==
          "b" + std::to_string(round));
  }
}

TEST_CASE("ParseRatchetState is bounded and rejects anything this build could not have written",
          "[crypto][ratchet]") {
  Session s;
  Decrypt(s.bob, s, Encrypt(s.alice, s, "one"));
  Decrypt(s.alice, s, Encrypt(s.bob, s, "two"));
  Encrypt(s.alice, s, "lost");
  Decrypt(s.bob, s, Encrypt(s.alice, s, "three"));
  Encrypt(s.alice, s, "lost");
  Encrypt(s.alice, s, "lost");
  Decrypt(s.bob, s, Encrypt(s.alice, s, "four"));
  const Bytes good = SerializeRatchetState(s.bob);
  REQUIRE(s.bob.SkippedKeyCount() == 3);
  const size_t skipped_count_at = kOffPreviousCount + 2 + 32;  // one previous chain
  REQUIRE(good[kOffPreviousCount + 1] == 1);
  REQUIRE(good[skipped_count_at + 1] == 3);
  const size_t entry_bytes = 32 + 4 + 8 + 32;
  REQUIRE(good.size() == skipped_count_at + 2 + 3 * entry_bytes);

  auto code = [](const Bytes& b) { return ParseRatchetState(b).status().code(); };
  for (size_t len = 0; len < good.size(); ++len) {
    INFO("truncated to " << len);
    CHECK(code(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len))) ==
          Code::kCorruption);
  }
  Bytes longer = good;
  longer.push_back(0);
  CHECK(code(longer) == Code::kCorruption);
  Bytes version = good;
  version[0] = 2;
  CHECK(code(version) == Code::kUnsupportedVersion);
  Bytes flags = good;
  flags[kOffFlags] |= 0x08;
  CHECK(code(flags) == Code::kCorruption);
  Bytes mismatch = good;
  mismatch[kOffDhsPublic] ^= 1;
  CHECK(code(mismatch) == Code::kCorruption);
  // Counts over their limits are refused before anything is allocated for them.
  Bytes many_skipped = good;
  many_skipped[skipped_count_at] = 0xff;
  many_skipped[skipped_count_at + 1] = 0xff;
  CHECK(code(many_skipped) == Code::kCorruption);
  Bytes many_previous = good;
  many_previous[kOffPreviousCount] = 0xff;
  CHECK(code(many_previous) == Code::kCorruption);
  // The same skipped key twice.
  Bytes duplicate = good;
  std::copy_n(good.begin() + static_cast<std::ptrdiff_t>(skipped_count_at + 2), entry_bytes,
              duplicate.begin() + static_cast<std::ptrdiff_t>(skipped_count_at + 2 + entry_bytes));
  CHECK(code(duplicate) == Code::kCorruption);

  // Bob's initial state has no DHr and no chains: bytes there, or counters, are refused.
  Session fresh;
  const Bytes initial = SerializeRatchetState(fresh.bob);
  REQUIRE(initial[kOffFlags] == 0);
  REQUIRE(ParseRatchetState(initial).ok());
  for (const size_t at : {kOffDhr, kOffCks, kOffCkr + 31, kOffNs + 3, kOffNr, kOffPn + 3}) {
    Bytes stray = initial;
    stray[at] = 1;
    INFO("byte " << at);
    CHECK(code(stray) == Code::kCorruption);
  }
  Bytes receive_without_dhr = initial;
  receive_without_dhr[kOffFlags] = 0x04;
  CHECK(code(receive_without_dhr) == Code::kCorruption);
}

// ---- Forward secrecy and recovery ----------------------------------------------------------

TEST_CASE(
    "forward secrecy: after decrypting message k the state holds no key for k or "
    "earlier messages",
    "[crypto][ratchet]") {
  Session s;
  // Alice's chain derived independently from her initial state (format and KDFs in ratchet.h).
  const Bytes alice_blob = SerializeRatchetState(s.alice);
  std::array<uint8_t, 32> ck;
  std::copy_n(alice_blob.begin() + kOffCks, 32, ck.begin());
  std::vector<std::array<uint8_t, 32>> seeds, chain_keys;
  std::vector<Bytes> m;
  for (int i = 0; i < 6; ++i) {
    chain_keys.push_back(ck);
    seeds.push_back(SpecSeed(ck));
    ck = SpecNextCk(ck);
    m.push_back(Encrypt(s.alice, s, "m" + std::to_string(i)));
  }
  const int k = 4;
  for (const int i : {0, 1, 3, 4, 2}) Decrypt(s.bob, s, m[i]);  // m2 arrives late
  REQUIRE(s.bob.SkippedKeyCount() == 0);

  const Bytes bob_blob = SerializeRatchetState(s.bob);
  // The state's receiving chain key is the one after message k, and no seed or chain key of
  // messages 0..k is anywhere in it.
  CHECK(ToHex(ByteView(bob_blob).subspan(kOffCkr, 32)) == ToHex(chain_keys[k + 1]));
  for (int i = 0; i <= k; ++i) {
    INFO("message " << i);
    CHECK_FALSE(Contains(bob_blob, seeds[i]));
    CHECK_FALSE(Contains(bob_blob, chain_keys[i]));
    CHECK(RejectedUnchanged(s.bob, m[i], s.ad) == Code::kDuplicate);
  }
  // Sanity: the seeds really are the message keys (the derivation above is not vacuous).
  CHECK(SpecOpen(seeds[2], m[2], s.ad).ok());
  CHECK(Decrypt(s.bob, s, m[5]) == "m5");
}

TEST_CASE(
    "recovery: a stolen state cannot follow the session after a DH ratchet step in each "
    "direction",
    "[crypto][ratchet]") {
  Session s;
  Decrypt(s.bob, s, Encrypt(s.alice, s, "before"));  // Bob: DHr = A1, DHs = B1

  // The thief copies Bob's whole state, including B1's secret and the receiving chain.
  const Bytes stolen_blob = SerializeRatchetState(s.bob);
  RatchetState stale = ParseRatchetState(stolen_blob).value();     // kept as it was stolen
  RatchetState tracking = ParseRatchetState(stolen_blob).value();  // fed every message

  // The compromise is real: the thief reads the rest of Alice's current chain ...
  const Bytes a0 = Encrypt(s.alice, s, "a0");
  CHECK(Decrypt(tracking, s, a0) == "a0");
  Decrypt(s.bob, s, a0);
  // ... and the chain Alice starts against B1, whose secret it holds (her ratchet step).
  Decrypt(s.alice, s, Encrypt(s.bob, s, "b0"));  // Alice learns B1 and steps to A2
  const Bytes a1 = Encrypt(s.alice, s, "a1");
  REQUIRE(HeaderOf(a1).dh_public != HeaderOf(a0).dh_public);
  CHECK(Decrypt(tracking, s, a1) == "a1");
  CHECK(Decrypt(stale, s, a1) == "a1");
  Decrypt(s.bob, s, a1);  // Bob's ratchet step: a fresh B2 that the thief never learns
  Decrypt(s.alice, s, Encrypt(s.bob, s, "b1"));  // Alice steps to A3 against B2

  // After that step in each direction, Alice's messages are out of the thief's reach, whether
  // it kept its copy as stolen or kept feeding it.
  for (int i = 0; i < 3; ++i) {
    const Bytes a = Encrypt(s.alice, s, "after " + std::to_string(i));
    INFO("message " << i << " after recovery");
    CHECK(RejectedUnchanged(tracking, a, s.ad) == Code::kUnauthenticated);
    CHECK(RejectedUnchanged(stale, a, s.ad) == Code::kUnauthenticated);
    CHECK(Decrypt(s.bob, s, a) == "after " + std::to_string(i));
  }
}

// ---- Frozen data (tests/data/kat/session/, see its README) ---------------------------------

TEST_CASE("golden: ratchet header v1 encodings decode to their fields and encode back",
          "[crypto][ratchet]") {
  const nlohmann::json file = LoadTestData("kat/session/ratchet_header_v1.json");
  REQUIRE(file.at("cases").size() >= 3);
  for (const nlohmann::json& c : file.at("cases")) {
    INFO(c.at("name").get<std::string>());
    const nlohmann::json& f = c.at("fields");
    RatchetHeader fields;
    fields.version = f.at("version").get<uint8_t>();
    const Bytes dh = Hex(f.at("dh_public").get<std::string>());
    REQUIRE(dh.size() == 32);
    std::copy(dh.begin(), dh.end(), fields.dh_public.begin());
    fields.pn = f.at("pn").get<uint32_t>();
    fields.n = f.at("n").get<uint32_t>();
    const Bytes encoding = Hex(c.at("encoding").get<std::string>());
    CHECK(ToHex(EncodeRatchetHeader(fields)) == ToHex(encoding));
    auto decoded = DecodeRatchetHeader(encoding);
    REQUIRE(decoded.ok());
    CHECK(*decoded == fields);
  }
  // Decoder bounds on a frozen encoding.
  const Bytes enc = Hex(file.at("cases")[0].at("encoding").get<std::string>());
  for (size_t len = 0; len < enc.size(); ++len) {
    CHECK(DecodeRatchetHeader(ByteView(enc).first(len)).status().code() == Code::kMalformed);
  }
  Bytes longer = enc;
  longer.push_back(0);
  CHECK(DecodeRatchetHeader(longer).status().code() == Code::kMalformed);
  Bytes v2 = enc;
  v2[0] = 2;
  CHECK(DecodeRatchetHeader(v2).status().code() == Code::kUnsupportedVersion);
}

TEST_CASE("golden: frozen v1 session messages and states still decrypt and parse",
          "[crypto][ratchet]") {
  // Written by an independent implementation of the initiator (see the README next to the
  // file) and by liaison's responder, then frozen: a later build must read them all.
  const nlohmann::json file = LoadTestData("kat/session/ratchet_session_v1.json");
  auto hex = [&](const char* name) { return Hex(file.at(name).get<std::string>()); };
  auto text = [&](const char* name) { return file.at(name).get<std::string>(); };
  const Bytes ad = hex("associated_data");
  const int64_t now = file.at("now_micros").get<int64_t>();
  const auto sk = SecretBytes<32>::FromBytes(hex("shared_secret")).value();
  DhKeyPair spk = DhKeyPair::FromSecret(
      SecretBytes<32>::FromBytes(hex("responder_signed_prekey_secret")).value());

  // The responder from scratch reads the initiator's first two messages, out of order.
  RatchetState bob = RatchetInitBob(sk, std::move(spk));
  auto p1 = RatchetDecrypt(bob, hex("initiator_message_1"), ad, now);
  REQUIRE(p1.ok());
  CHECK(AsChars(*p1) == text("initiator_plaintext_1"));
  auto p0 = RatchetDecrypt(bob, hex("initiator_message_0"), ad, now);
  REQUIRE(p0.ok());
  CHECK(AsChars(*p0) == text("initiator_plaintext_0"));

  // A frozen responder state (after message 1, so holding message 0's skipped key, and after
  // one reply) parses, serializes to the same bytes, and reads message 0.
  const Bytes responder_state = hex("responder_state");
  auto frozen_bob = ParseRatchetState(responder_state);
  REQUIRE(frozen_bob.ok());
  CHECK(ToHex(SerializeRatchetState(*frozen_bob)) == ToHex(responder_state));
  CHECK(frozen_bob->SkippedKeyCount() == 1);
  auto p0_again = RatchetDecrypt(*frozen_bob, hex("initiator_message_0"), ad, now);
  REQUIRE(p0_again.ok());
  CHECK(AsChars(*p0_again) == text("initiator_plaintext_0"));
  CHECK(RatchetDecrypt(*frozen_bob, hex("initiator_message_1"), ad, now).status().code() ==
        Code::kDuplicate);

  // A frozen initiator state, written by the independent implementation in the documented
  // format, parses and reads the responder's reply.
  const Bytes initiator_state = hex("initiator_state");
  auto alice = ParseRatchetState(initiator_state);
  REQUIRE(alice.ok());
  CHECK(ToHex(SerializeRatchetState(*alice)) == ToHex(initiator_state));
  auto reply = RatchetDecrypt(*alice, hex("responder_reply"), ad, now);
  REQUIRE(reply.ok());
  CHECK(AsChars(*reply) == text("responder_reply_plaintext"));
}

}  // namespace
}  // namespace liaison::crypto
