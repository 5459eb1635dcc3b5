// Tests for crypto/aead.h: Wycheproof ChaCha20-Poly1305 and XChaCha20-Poly1305 vectors through
// our wrappers, plus the argument and tampering contracts.
#include "crypto/aead.h"

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "crypto/random.h"
#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;
using AeadFn = std::function<Result<Bytes>(const AeadKey&, ByteView, ByteView, ByteView)>;

// Every case is run through Seal and Open. valid: Seal gives ct||tag and Open gives msg.
// invalid: Open fails (Seal of an invalid case is only required to fail for a bad nonce size,
// which it does through the same nonce check). Wrong nonce sizes count as "failed".
void RunWycheproofAead(const char* name, const char* file_name, size_t nonce_bytes,
                       const AeadFn& seal, const AeadFn& open) {
  const nlohmann::json file = testing::LoadTestData(file_name);
  testing::WycheproofTally tally(name);
  for (const auto& group : file.at("testGroups")) {
    for (const auto& tc : group.at("tests")) {
      const Bytes key_bytes = Hex(tc.at("key").get<std::string>());
      REQUIRE(key_bytes.size() == kAeadKeyBytes);
      const AeadKey key = AeadKey::FromBytes(key_bytes).value();
      const Bytes iv = Hex(tc.at("iv").get<std::string>());
      const Bytes aad = Hex(tc.at("aad").get<std::string>());
      const Bytes msg = Hex(tc.at("msg").get<std::string>());
      Bytes sealed = Hex(tc.at("ct").get<std::string>());
      const Bytes tag = Hex(tc.at("tag").get<std::string>());
      sealed.insert(sealed.end(), tag.begin(), tag.end());

      auto opened = open(key, iv, sealed, aad);
      auto ours = seal(key, iv, msg, aad);
      // A nonce of the wrong size is an argument error; anything else that fails is a tag error.
      const Code expected_failure =
          iv.size() == nonce_bytes ? Code::kUnauthenticated : Code::kInvalidArgument;
      if (!opened.ok()) CHECK(opened.status().code() == expected_failure);
      if (!ours.ok()) CHECK(ours.status().code() == Code::kInvalidArgument);
      const bool succeeded = opened.ok() && ours.ok();
      const bool matches = succeeded && *opened == msg && *ours == sealed;
      if (tc.at("result") == "invalid") {
        tally.Record(tc, opened.ok(), opened.ok() && *opened == msg);
      } else {
        tally.Record(tc, succeeded, matches);
      }
    }
  }
  tally.Finish(file);
}

TEST_CASE("wycheproof xchacha20_poly1305 through XChaChaSeal/Open", "[crypto][aead][wycheproof]") {
  RunWycheproofAead("xchacha20_poly1305", "wycheproof/xchacha20_poly1305_test.json", kXNonceBytes,
                    XChaChaSeal, XChaChaOpen);
}

TEST_CASE("wycheproof chacha20_poly1305 through ChaChaIetfSeal/Open", "[crypto][aead][wycheproof]") {
  RunWycheproofAead("chacha20_poly1305", "wycheproof/chacha20_poly1305_test.json", kIetfNonceBytes,
                    ChaChaIetfSeal, ChaChaIetfOpen);
}

struct Construction {
  const char* name;
  size_t nonce_bytes;
  AeadFn seal;
  AeadFn open;
};

std::vector<Construction> Constructions() {
  return {{"XChaCha20-Poly1305", kXNonceBytes, XChaChaSeal, XChaChaOpen},
          {"ChaCha20-Poly1305", kIetfNonceBytes, ChaChaIetfSeal, ChaChaIetfOpen}};
}

TEST_CASE("seal then open round-trips for assorted sizes", "[crypto][aead]") {
  const size_t which = GENERATE(0u, 1u);
  const size_t size = GENERATE(0u, 1u, 15u, 16u, 17u, 63u, 64u, 65u, 1000u, 65536u);
  const Construction c = Constructions().at(which);
  {
    const AeadKey key = AeadKey::Random();
    INFO(c.name << " plaintext " << size << " bytes");
    Bytes nonce(c.nonce_bytes);
    RandomBytes(nonce);
    Bytes plaintext(size);
    RandomBytes(plaintext);
    const Bytes ad = testing::ToBytes("header");
    auto sealed = c.seal(key, nonce, plaintext, ad);
    REQUIRE(sealed.ok());
    CHECK(sealed->size() == size + kAeadTagBytes);
    auto opened = c.open(key, nonce, *sealed, ad);
    REQUIRE(opened.ok());
    CHECK(*opened == plaintext);
  }
}

TEST_CASE("a wrong nonce size is kInvalidArgument for seal and open", "[crypto][aead]") {
  const AeadKey key = AeadKey::Random();
  for (const Construction& c : Constructions()) {
    for (size_t n : {size_t{0}, size_t{8}, size_t{12}, size_t{16}, size_t{24}, size_t{32}}) {
      if (n == c.nonce_bytes) continue;
      INFO(c.name << " nonce " << n << " bytes");
      const Bytes nonce(n, 1);
      CHECK(c.seal(key, nonce, Bytes(5, 2), {}).status().code() == Code::kInvalidArgument);
      CHECK(c.open(key, nonce, Bytes(21, 2), {}).status().code() == Code::kInvalidArgument);
    }
  }
}

TEST_CASE("every bit flip, truncation, wrong key, nonce or ad is kUnauthenticated",
          "[crypto][aead]") {
  for (const Construction& c : Constructions()) {
    INFO(c.name);
    const AeadKey key = AeadKey::Random();
    Bytes nonce(c.nonce_bytes);
    RandomBytes(nonce);
    const Bytes plaintext = testing::ToBytes("attack at dawn");
    const Bytes ad = testing::ToBytes("ad");
    const Bytes sealed = c.seal(key, nonce, plaintext, ad).value();

    for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
      Bytes bad = sealed;
      bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      INFO("bit " << bit);
      CHECK(c.open(key, nonce, bad, ad).status().code() == Code::kUnauthenticated);
    }
    for (size_t len = 0; len < sealed.size(); ++len) {
      INFO("truncated to " << len);
      CHECK(c.open(key, nonce, ByteView(sealed).first(len), ad).status().code() ==
            Code::kUnauthenticated);
    }
    Bytes longer = sealed;
    longer.push_back(0);
    CHECK(c.open(key, nonce, longer, ad).status().code() == Code::kUnauthenticated);
    CHECK(c.open(AeadKey::Random(), nonce, sealed, ad).status().code() == Code::kUnauthenticated);
    Bytes other_nonce = nonce;
    other_nonce[0] ^= 1;
    CHECK(c.open(key, other_nonce, sealed, ad).status().code() == Code::kUnauthenticated);
    CHECK(c.open(key, nonce, sealed, {}).status().code() == Code::kUnauthenticated);
    CHECK(c.open(key, nonce, sealed, testing::ToBytes("ae")).status().code() ==
          Code::kUnauthenticated);
  }
}

}  // namespace
}  // namespace liaison::crypto
