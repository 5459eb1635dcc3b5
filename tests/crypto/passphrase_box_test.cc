// Passphrase boxes: round trip, wrong passphrase, every changed byte, and the cost bounds.
#include <catch2/catch.hpp>

#include <sodium.h>

#include "base/bytes.h"
#include "crypto/passphrase_box.h"

using namespace liaison;
using namespace liaison::crypto;

TEST_CASE("a passphrase box opens with its passphrase and with nothing else", "[crypto][passphrase]") {
  const Bytes secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  auto box = SealWithPassphrase(secret, "Sicherheitsdialog 2026", InteractivePassphraseCost());
  REQUIRE(box.ok());
  auto opened = OpenWithPassphrase(*box, "Sicherheitsdialog 2026");
  REQUIRE(opened.ok());
  CHECK(Bytes(opened->view().begin(), opened->view().end()) == secret);
  // A fresh salt and nonce each time: the same secret seals differently.
  CHECK(*SealWithPassphrase(secret, "Sicherheitsdialog 2026", InteractivePassphraseCost()) != *box);

  CHECK(OpenWithPassphrase(*box, "sicherheitsdialog 2026").status().code() == Code::kUnauthenticated);
  CHECK(OpenWithPassphrase(*box, "").status().code() == Code::kUnauthenticated);
  CHECK(SealWithPassphrase(secret, "", InteractivePassphraseCost()).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a passphrase box with any byte changed does not open", "[crypto][passphrase]") {
  const Bytes secret(64, 0x5c);
  auto box = SealWithPassphrase(secret, "pw", InteractivePassphraseCost());
  REQUIRE(box.ok());
  // One byte of each part (each derivation costs 64 MiB of Argon2id): magic, opslimit, memlimit,
  // salt, nonce, tag, ciphertext. Cost bytes are range-checked first; the rest must fail
  // authentication.
  const size_t last = box->size() - 1;
  for (size_t i : {size_t{0}, size_t{3}, size_t{4}, size_t{11}, size_t{12}, size_t{19}, size_t{20}, size_t{35},
                   size_t{36}, size_t{59}, size_t{60}, size_t{75}, size_t{76}, last}) {
    Bytes changed = *box;
    changed[i] ^= 0x01;
    const Status status = OpenWithPassphrase(changed, "pw").status();
    INFO("byte " << i << ": " << status.ToString());
    if (i < 4) {
      CHECK(status.code() == Code::kMalformed);
    } else {
      CHECK((status.code() == Code::kUnauthenticated || status.code() == Code::kInvalidArgument));
    }
  }
  CHECK(OpenWithPassphrase(ByteView(box->data(), box->size() - 1), "pw").status().code() == Code::kUnauthenticated);
  CHECK(OpenWithPassphrase(ByteView(box->data(), 20), "pw").status().code() == Code::kMalformed);
}

TEST_CASE("a passphrase box cannot ask for a cheaper or unbounded derivation", "[crypto][passphrase]") {
  auto box = SealWithPassphrase(Bytes(32, 1), "pw", InteractivePassphraseCost());
  REQUIRE(box.ok());
  Bytes cheap = *box;
  PutBigEndian64(1, cheap.data() + 4);  // opslimit 1
  CHECK(OpenWithPassphrase(cheap, "pw").status().code() == Code::kInvalidArgument);
  Bytes huge = *box;
  PutBigEndian64(1ull << 40, huge.data() + 12);  // memlimit 1 TiB
  CHECK(OpenWithPassphrase(huge, "pw").status().code() == Code::kInvalidArgument);
  Bytes endless = *box;
  PutBigEndian64(65538, endless.data() + 4);  // 65,538 passes
  CHECK(OpenWithPassphrase(endless, "pw").status().code() == Code::kInvalidArgument);
  // A higher but accepted cost changes the derived key: the box does not open either.
  Bytes costlier = *box;
  PutBigEndian64(crypto_pwhash_OPSLIMIT_INTERACTIVE + 1, costlier.data() + 4);
  CHECK(OpenWithPassphrase(costlier, "pw").status().code() == Code::kUnauthenticated);
}
