#include "crypto/ratchet.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/hkdf.h"
#include "crypto/x25519.h"

namespace liaison::crypto {

using ratchet_limits::kMaxPreviousReceivingChains;
using ratchet_limits::kMaxSkip;
using ratchet_limits::kMaxSkippedKeys;
using ratchet_limits::kSkippedKeyMaxAgeMicros;

namespace {

constexpr std::string_view kRootKdfInfo = "liaison/v1/ratchet/rk";
constexpr std::string_view kMessageKdfInfo = "liaison/v1/ratchet/mk";
constexpr uint8_t kChainMessageByte = 0x01;
constexpr uint8_t kChainNextByte = 0x02;
constexpr size_t kKeyBytes = 32;  // RK, CK, mk_seed

constexpr uint8_t kStateVersion1 = 1;
constexpr uint8_t kFlagDhr = 0x01, kFlagCks = 0x02, kFlagCkr = 0x04;
constexpr size_t kStateFixedBytes = 1 + 1 + 6 * kKeyBytes + 3 * 4;
constexpr size_t kSkippedEntryBytes = kDhPublicKeyBytes + 4 + 8 + kKeyBytes;
static_assert(kMaxSkippedKeys <= UINT16_MAX && kMaxPreviousReceivingChains <= UINT16_MAX);
static_assert(kMaxSkip < UINT32_MAX);

using Key = SecretBytes<kKeyBytes>;

// ---- Big-endian helpers --------------------------------------------------------------------

void PutU32Be(uint32_t v, uint8_t* out) {
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v);
}
uint32_t GetU32Be(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | in[i];
  return v;
}

// Appends to a Bytes reserved to its final size by the caller, so that it never reallocates and
// leaves no unwiped copy of secret bytes behind.
class Appender {
 public:
  explicit Appender(Bytes& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    uint8_t b[4];
    PutU32Be(v, b);
    Raw(ByteView(b, 4));
  }
  void I64(int64_t v) {
    const uint64_t u = static_cast<uint64_t>(v);
    for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<uint8_t>(u >> shift));
  }
  void Raw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Zeros(size_t n) { out_.insert(out_.end(), n, uint8_t{0}); }
  // The n bytes at `p`, or n zero bytes for an absent field (p == nullptr).
  void RawOrZeros(const uint8_t* p, size_t n) {
    if (p != nullptr) {
      Raw(ByteView(p, n));
    } else {
      Zeros(n);
    }
  }

 private:
  Bytes& out_;
};

// Reads from a view whose total length the caller has checked before each read.
class Cursor {
 public:
  explicit Cursor(ByteView in) : in_(in) {}
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t U8() { return in_[pos_++]; }
  uint16_t U16() {
    const uint16_t v = static_cast<uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    const uint32_t v = GetU32Be(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  int64_t I64() {
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = u << 8 | in_[pos_ + static_cast<size_t>(i)];
    pos_ += 8;
    return static_cast<int64_t>(u);
  }
  ByteView Take(size_t n) {
    const ByteView v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  DhPublicKey Public() {
    DhPublicKey k;
    const ByteView v = Take(k.size());
    std::copy(v.begin(), v.end(), k.begin());
    return k;
  }

 private:
  ByteView in_;
  size_t pos_ = 0;
};

bool AllZero(ByteView b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

// ---- Secret storage for skipped keys ----------------------------------------------------------

// Fixed 32-byte slots of secret memory, carved out of page-sized SecretBytes blocks. One
// SecretBytes per key would cost a memory mapping (plus guard pages) per key: 2,000 skipped keys
// in each of a few dozen sessions would exhaust the process's mappings (vm.max_map_count).
class SecretSlots {
 public:
  static constexpr size_t kSlotsPerBlock = 64;
  using Block = SecretBytes<kSlotsPerBlock * kKeyBytes>;

  // A free slot's index. May add a block (throws std::bad_alloc like SecretBytes).
  uint32_t Allocate() {
    if (free_.empty()) AddBlock();
    const uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  // Makes sure that the next `n` Allocate calls need no new block (may throw std::bad_alloc).
  void Reserve(size_t n) {
    while (free_.size() < n) AddBlock();
  }
  // Wipes the slot and makes it available again.
  void Free(uint32_t slot) {
    sodium_memzero(At(slot), kKeyBytes);
    free_.push_back(slot);
  }
  // Releases every block (sodium_free wipes them).
  void Clear() {
    blocks_.clear();
    free_.clear();
  }
  uint8_t* At(uint32_t slot) {
    return blocks_[slot / kSlotsPerBlock].data() + (slot % kSlotsPerBlock) * kKeyBytes;
  }
  const uint8_t* At(uint32_t slot) const {
    return blocks_[slot / kSlotsPerBlock].data() + (slot % kSlotsPerBlock) * kKeyBytes;
  }

 private:
  void AddBlock() {
    blocks_.emplace_back();
    const size_t base = (blocks_.size() - 1) * kSlotsPerBlock;
    for (size_t i = kSlotsPerBlock; i-- > 0;) free_.push_back(static_cast<uint32_t>(base + i));
  }

  std::vector<Block> blocks_;
  std::vector<uint32_t> free_;
};

// True if a key stored at `stored_at` is past its age at `now` (exactly the maximum age is not).
// Computed without signed overflow for any pair of int64 values.
bool IsExpired(int64_t stored_at, int64_t now) {
  if (now <= stored_at) return false;
  const uint64_t age = static_cast<uint64_t>(now) - static_cast<uint64_t>(stored_at);
  return age > static_cast<uint64_t>(kSkippedKeyMaxAgeMicros);
}

// MKSKIPPED: message-key seeds indexed by (ratchet public key, message number), oldest first.
class SkippedKeys {
 public:
  struct Entry {
    DhPublicKey dh;
    uint32_t n;
    int64_t stored_at;
    uint32_t slot;
  };

  size_t size() const { return entries_.size(); }
  const Entry& entry(size_t i) const { return entries_[i]; }
  const uint8_t* Seed(size_t i) const { return slots_.At(entries_[i].slot); }

  // Makes room for `n` more entries' secrets, so that the next `n` Add calls allocate no secret
  // memory (may throw std::bad_alloc).
  void Reserve(size_t n) { slots_.Reserve(n); }

  // Appends an entry (newest) with a copy of the 32-byte `seed`.
  void Add(const DhPublicKey& dh, uint32_t n, int64_t stored_at, const uint8_t* seed) {
    const uint32_t slot = slots_.Allocate();
    std::copy_n(seed, kKeyBytes, slots_.At(slot));
    entries_.push_back(Entry{dh, n, stored_at, slot});
  }

  std::optional<size_t> Find(const DhPublicKey& dh, uint32_t n) const {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].n == n && entries_[i].dh == dh) return i;
    }
    return std::nullopt;
  }

  void Erase(size_t i) {
    slots_.Free(entries_[i].slot);
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    if (entries_.empty()) slots_.Clear();
  }

  // Removes the entries older than kSkippedKeyMaxAgeMicros at `now`; returns how many.
  size_t DropExpired(int64_t now) {
    const auto expired = [now](const Entry& e) { return IsExpired(e.stored_at, now); };
    for (const Entry& e : entries_) {
      if (expired(e)) slots_.Free(e.slot);
    }
    const auto end = std::remove_if(entries_.begin(), entries_.end(), expired);
    const size_t dropped = static_cast<size_t>(entries_.end() - end);
    entries_.erase(end, entries_.end());
    if (entries_.empty()) slots_.Clear();
    return dropped;
  }

  // Removes the oldest entries until at most `max` are left.
  void EvictOldestBeyond(size_t max) {
    if (entries_.size() <= max) return;
    const auto end = entries_.begin() + static_cast<std::ptrdiff_t>(entries_.size() - max);
    for (auto it = entries_.begin(); it != end; ++it) slots_.Free(it->slot);
    entries_.erase(entries_.begin(), end);
    if (entries_.empty()) slots_.Clear();
  }

 private:
  std::deque<Entry> entries_;
  SecretSlots slots_;
};

// ---- KDFs ----------------------------------------------------------------------------------

// KDF_RK(rk, dh_out): writes 64 bytes to `out`: the new root key, then the chain key.
Status KdfRk(ByteView rk, ByteView dh_out, uint8_t* out) {
  return HkdfSha256(dh_out, rk, AsBytes(kRootKdfInfo), std::span<uint8_t>(out, 2 * kKeyBytes));
}

// KDF_CK(ck): writes the next chain key to `next_ck` (which may be `ck` itself) and the message
// key seed to `seed`. All three point to 32 bytes of secret memory.
void KdfCk(const uint8_t* ck, uint8_t* next_ck, uint8_t* seed) {
  const uint8_t message_byte[1] = {kChainMessageByte};
  const uint8_t next_byte[1] = {kChainNextByte};
  std::array<uint8_t, kHmacSha256Bytes> s = HmacSha256(ByteView(ck, kKeyBytes), message_byte);
  std::array<uint8_t, kHmacSha256Bytes> n = HmacSha256(ByteView(ck, kKeyBytes), next_byte);
  std::copy(s.begin(), s.end(), seed);
  std::copy(n.begin(), n.end(), next_ck);
  sodium_memzero(s.data(), s.size());
  sodium_memzero(n.data(), n.size());
}

Bytes Concat(ByteView a, ByteView b) {
  Bytes out;
  out.reserve(a.size() + b.size());
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Status Corrupt(const std::string& what) {
  return Status::Error(Code::kCorruption, "ratchet state: " + what);
}

// Where one operation keeps its temporaries inside Workspace::scratch.
constexpr size_t kScratchCk = 0;           // 32: the chain key being advanced
constexpr size_t kScratchSeed = 32;        // 32: a message key seed
constexpr size_t kScratchMessageKey = 64;  // 56: AEAD key, then nonce
constexpr size_t kScratchRoot1 = 128;      // 64: KDF_RK output of the receiving step
constexpr size_t kScratchRoot2 = 192;      // 64: KDF_RK output of the sending step
constexpr size_t kScratchBytes = 256;

// Secret memory for one operation's temporaries. Every SecretBytes is its own sodium_malloc
// mapping, which costs system calls and page faults (about 165 us per allocation and release on
// the machine this was written on), so each state allocates its workspace once instead of a
// handful of keys per message. Not part of the state: never serialized, written before it is
// read, and wiped at the end of every operation (WipeOnExit).
struct Workspace {
  SecretBytes<kScratchBytes> scratch;
  AeadKey aead_key;

  uint8_t* at(size_t offset) { return scratch.data() + offset; }
};

class WipeOnExit {
 public:
  explicit WipeOnExit(Workspace& w) : w_(w) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() {
    sodium_memzero(w_.scratch.data(), kScratchBytes);
    sodium_memzero(w_.aead_key.data(), kAeadKeyBytes);
  }

 private:
  Workspace& w_;
};

// The AEAD key and nonce of the message whose seed is at kScratchSeed: HKDF(mk_seed, 32 zero
// bytes, kMessageKdfInfo, 56) into kScratchMessageKey, the key copied to w.aead_key. Returns the
// nonce (a view into the scratch).
Result<ByteView> DeriveMessageKey(Workspace& w) {
  static constexpr uint8_t kZeroSalt[kHmacSha256Bytes] = {};
  uint8_t* okm = w.at(kScratchMessageKey);
  LIAISON_RETURN_IF_ERROR(HkdfSha256(ByteView(w.at(kScratchSeed), kKeyBytes), kZeroSalt,
                                     AsBytes(kMessageKdfInfo),
                                     std::span<uint8_t>(okm, kAeadKeyBytes + kXNonceBytes)));
  std::copy_n(okm, kAeadKeyBytes, w.aead_key.data());
  return ByteView(okm + kAeadKeyBytes, kXNonceBytes);
}

Result<Bytes> OpenWithSeed(Workspace& w, ByteView ciphertext, ByteView ad) {
  LIAISON_ASSIGN_OR_RETURN(const ByteView nonce, DeriveMessageKey(w));
  return XChaChaOpen(w.aead_key, nonce, ciphertext, ad);
}

void CopyKey(const uint8_t* from, Key& to) { std::copy_n(from, kKeyBytes, to.data()); }
void CopyKey(const uint8_t* from, std::optional<Key>& to) {
  if (!to) to.emplace();
  CopyKey(from, *to);
}

}  // namespace

// ---- The state -----------------------------------------------------------------------------

struct RatchetState::Impl {
  DhKeyPair dhs;                         // DHs
  std::optional<DhPublicKey> dhr;        // DHr
  Key rk;                                // RK
  std::optional<Key> cks;                // CKs
  std::optional<Key> ckr;                // CKr
  uint32_t ns = 0, nr = 0, pn = 0;       // Ns, Nr, PN
  std::deque<DhPublicKey> previous_dhr;  // earlier DHr values, oldest first
  SkippedKeys skipped;                   // MKSKIPPED
  Workspace work;                        // not state: temporaries of one operation

  explicit Impl(DhKeyPair dhs_in) : dhs(std::move(dhs_in)) {}
};

// The one place outside RatchetState that reads and writes its fields.
struct RatchetStateAccess {
  using Impl = RatchetState::Impl;
  static Impl& Of(RatchetState& s) { return *s.impl_; }
  static const Impl& Of(const RatchetState& s) { return *s.impl_; }
  static RatchetState Make(std::unique_ptr<Impl> impl) { return RatchetState(std::move(impl)); }
};
using StateImpl = RatchetStateAccess::Impl;

RatchetState::RatchetState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RatchetState::RatchetState(RatchetState&&) noexcept = default;
RatchetState& RatchetState::operator=(RatchetState&&) noexcept = default;
RatchetState::~RatchetState() = default;

bool RatchetState::CanSend() const { return impl_->cks.has_value(); }
const DhPublicKey& RatchetState::SendingRatchetPublic() const { return impl_->dhs.public_key; }
size_t RatchetState::SkippedKeyCount() const { return impl_->skipped.size(); }

// ---- Header --------------------------------------------------------------------------------

std::array<uint8_t, kRatchetHeaderBytes> EncodeRatchetHeader(const RatchetHeader& header) {
  std::array<uint8_t, kRatchetHeaderBytes> out;
  out[0] = header.version;
  std::copy(header.dh_public.begin(), header.dh_public.end(), out.begin() + 1);
  PutU32Be(header.pn, out.data() + 1 + kDhPublicKeyBytes);
  PutU32Be(header.n, out.data() + 1 + kDhPublicKeyBytes + 4);
  return out;
}

Result<RatchetHeader> DecodeRatchetHeader(ByteView bytes) {
  if (bytes.empty()) return Status::Error(Code::kMalformed, "ratchet header: empty");
  if (bytes[0] != kRatchetVersion1) {
    return Status::Error(
        Code::kUnsupportedVersion,
        "ratchet message version " + std::to_string(bytes[0]) + " (this build reads 1)");
  }
  if (bytes.size() != kRatchetHeaderBytes) {
    return Status::Error(Code::kMalformed, "ratchet header: length " +
                                               std::to_string(bytes.size()) + ", expected 41");
  }
  RatchetHeader header;
  header.version = bytes[0];
  std::copy_n(bytes.begin() + 1, kDhPublicKeyBytes, header.dh_public.begin());
  header.pn = GetU32Be(bytes.data() + 1 + kDhPublicKeyBytes);
  header.n = GetU32Be(bytes.data() + 1 + kDhPublicKeyBytes + 4);
  return header;
}

// ---- Initialisation ------------------------------------------------------------------------

Result<RatchetState> RatchetInitAlice(const SecretBytes<32>& shared_secret,
                                      const DhPublicKey& responder_signed_prekey) {
  auto impl = std::make_unique<StateImpl>(DhKeyPair::Generate());
  impl->dhr = responder_signed_prekey;
  Workspace& w = impl->work;
  const WipeOnExit wipe(w);
  LIAISON_ASSIGN_OR_RETURN(const SecretBytes<32> dh,
                           X25519(impl->dhs.secret_key, responder_signed_prekey));
  LIAISON_RETURN_IF_ERROR(KdfRk(shared_secret.view(), dh.view(), w.at(kScratchRoot1)));
  CopyKey(w.at(kScratchRoot1), impl->rk);
  CopyKey(w.at(kScratchRoot1 + kKeyBytes), impl->cks);
  return RatchetStateAccess::Make(std::move(impl));
}

RatchetState RatchetInitBob(const SecretBytes<32>& shared_secret, DhKeyPair signed_prekey) {
  auto impl = std::make_unique<StateImpl>(std::move(signed_prekey));
  CopyKey(shared_secret.data(), impl->rk);
  return RatchetStateAccess::Make(std::move(impl));
}

// ---- Encrypt -------------------------------------------------------------------------------

Result<Bytes> RatchetEncrypt(RatchetState& state, ByteView plaintext, ByteView associated_data) {
  StateImpl& s = RatchetStateAccess::Of(state);
  if (!s.cks) {
    return Status::Error(Code::kInvalidArgument,
                         "no sending chain yet: the responder sends after its first decryption");
  }
  if (plaintext.size() > ratchet_limits::kMaxPlaintextBytes) {
    return Status::Error(Code::kInvalidArgument,
                         "plaintext of " + std::to_string(plaintext.size()) +
                             " bytes is over the limit of " +
                             std::to_string(ratchet_limits::kMaxPlaintextBytes));
  }
  if (s.ns == UINT32_MAX) {
    return Status::Error(Code::kTooLarge, "sending chain exhausted; start a new session");
  }

  // Staged in the workspace: the chain advances only once the message exists.
  Workspace& w = s.work;
  const WipeOnExit wipe(w);
  KdfCk(s.cks->data(), w.at(kScratchCk), w.at(kScratchSeed));
  const RatchetHeader header{kRatchetVersion1, s.dhs.public_key, s.pn, s.ns};
  const auto header_bytes = EncodeRatchetHeader(header);
  LIAISON_ASSIGN_OR_RETURN(const ByteView nonce, DeriveMessageKey(w));
  LIAISON_ASSIGN_OR_RETURN(
      const Bytes ciphertext,
      XChaChaSeal(w.aead_key, nonce, plaintext, Concat(associated_data, header_bytes)));

  CopyKey(w.at(kScratchCk), *s.cks);
  ++s.ns;
  return Concat(header_bytes, ciphertext);
}

// ---- Decrypt -------------------------------------------------------------------------------

namespace {

// Derives the keys of messages [from, until) of a receiving chain whose key is at kScratchCk
// into `staged`, advancing that chain key. REQUIRES until - from <= kMaxSkip (checked by the
// caller before any work).
void SkipInto(SkippedKeys& staged, Workspace& w, uint32_t from, uint32_t until,
              const DhPublicKey& dh, int64_t now) {
  for (uint32_t n = from; n < until; ++n) {
    KdfCk(w.at(kScratchCk), w.at(kScratchCk), w.at(kScratchSeed));
    staged.Add(dh, n, now, w.at(kScratchSeed));
  }
}

// Copies the staged keys into the state's store, then applies the age and size bounds. The
// first step of every commit: the only one that allocates secret memory, before anything changes.
void CommitSkipped(SkippedKeys& store, const SkippedKeys& staged, int64_t now) {
  store.Reserve(staged.size());
  for (size_t i = 0; i < staged.size(); ++i) {
    const SkippedKeys::Entry& e = staged.entry(i);
    store.Add(e.dh, e.n, e.stored_at, staged.Seed(i));
  }
  store.DropExpired(now);
  store.EvictOldestBeyond(kMaxSkippedKeys);
}

Status TooManySkipped(uint64_t skips) {
  return Status::Error(Code::kTooLarge, "message would skip " + std::to_string(skips) +
                                            " keys in one chain (limit " +
                                            std::to_string(kMaxSkip) + ")");
}

Status Duplicate() {
  return Status::Error(Code::kDuplicate, "message key already used or no longer held");
}

}  // namespace

Result<Bytes> RatchetDecrypt(RatchetState& state, ByteView message, ByteView associated_data,
                             int64_t now_micros) {
  StateImpl& s = RatchetStateAccess::Of(state);
  if (message.empty()) return Status::Error(Code::kMalformed, "ratchet message: empty");
  if (message[0] != kRatchetVersion1) return DecodeRatchetHeader(message.first(1)).status();
  if (message.size() < kRatchetMessageOverheadBytes) {
    return Status::Error(Code::kMalformed, "ratchet message: too short");
  }
  if (message.size() > kMaxRatchetMessageBytes) {
    return Status::Error(Code::kTooLarge, "ratchet message: over the size limit");
  }
  const ByteView header_bytes = message.first(kRatchetHeaderBytes);
  const ByteView ciphertext = message.subspan(kRatchetHeaderBytes);
  LIAISON_ASSIGN_OR_RETURN(const RatchetHeader h, DecodeRatchetHeader(header_bytes));
  if (h.n == UINT32_MAX) return TooManySkipped(h.n);

  // Everything up to the first derivation is decided from the header alone, without work.
  const std::optional<size_t> skipped_index = s.skipped.Find(h.dh_public, h.n);
  const bool current_chain = !skipped_index && s.dhr && h.dh_public == *s.dhr;
  if (skipped_index) {
    if (IsExpired(s.skipped.entry(*skipped_index).stored_at, now_micros)) {
      return Status::Error(Code::kExpired, "the skipped key of this message has expired");
    }
  } else if (current_chain) {
    // The initiator's first DHr is the responder's signed prekey, which never sends.
    if (!s.ckr) return Status::Error(Code::kUnauthenticated, "no receiving chain for this key");
    if (h.n < s.nr) return Duplicate();
    if (h.n - s.nr > kMaxSkip) return TooManySkipped(h.n - s.nr);
  } else {
    // A replay from an earlier receiving chain whose keys are all gone.
    if (std::find(s.previous_dhr.begin(), s.previous_dhr.end(), h.dh_public) !=
        s.previous_dhr.end()) {
      return Duplicate();
    }
    // A new ratchet key. As the specification checks Nr + MAX_SKIP < until before skipping.
    if (h.pn > s.nr && h.pn - s.nr > kMaxSkip) return TooManySkipped(h.pn - s.nr);
    if (h.n > kMaxSkip) return TooManySkipped(h.n);
  }

  const Bytes ad = Concat(associated_data, header_bytes);
  Workspace& w = s.work;
  const WipeOnExit wipe(w);

  // 1. A message whose key was skipped earlier.
  if (skipped_index) {
    std::copy_n(s.skipped.Seed(*skipped_index), kKeyBytes, w.at(kScratchSeed));
    LIAISON_ASSIGN_OR_RETURN(Bytes plaintext, OpenWithSeed(w, ciphertext, ad));
    s.skipped.Erase(*skipped_index);
    s.skipped.DropExpired(now_micros);
    return plaintext;
  }

  SkippedKeys staged;

  // 2. The next messages of the current receiving chain.
  if (current_chain) {
    std::copy_n(s.ckr->data(), kKeyBytes, w.at(kScratchCk));
    SkipInto(staged, w, s.nr, h.n, h.dh_public, now_micros);
    KdfCk(w.at(kScratchCk), w.at(kScratchCk), w.at(kScratchSeed));
    LIAISON_ASSIGN_OR_RETURN(Bytes plaintext, OpenWithSeed(w, ciphertext, ad));

    CommitSkipped(s.skipped, staged, now_micros);
    CopyKey(w.at(kScratchCk), *s.ckr);
    s.nr = h.n + 1;
    return plaintext;
  }

  // 3. A new ratchet key: finish the old receiving chain up to pn, then the receiving half of
  // the DH ratchet step (RK, CKr = KDF_RK(RK, DH(DHs, DHr'))), then the message. The sending half
  // (a new DHs; RK, CKs = KDF_RK(RK, DH(DHs', DHr'))) depends on nothing the AEAD checks, so it
  // runs only once the message has authenticated: a forged header costs one DH, not three.
  if (s.ckr) {
    std::copy_n(s.ckr->data(), kKeyBytes, w.at(kScratchCk));
    SkipInto(staged, w, s.nr, h.pn, *s.dhr, now_micros);
  }
  uint8_t* const root1 = w.at(kScratchRoot1);  // RK' | CKr'
  {
    LIAISON_ASSIGN_OR_RETURN(const SecretBytes<32> dh, X25519(s.dhs.secret_key, h.dh_public));
    LIAISON_RETURN_IF_ERROR(KdfRk(s.rk.view(), dh.view(), root1));
  }
  std::copy_n(root1 + kKeyBytes, kKeyBytes, w.at(kScratchCk));
  SkipInto(staged, w, 0, h.n, h.dh_public, now_micros);
  KdfCk(w.at(kScratchCk), w.at(kScratchCk), w.at(kScratchSeed));
  LIAISON_ASSIGN_OR_RETURN(Bytes plaintext, OpenWithSeed(w, ciphertext, ad));

  DhKeyPair dhs = DhKeyPair::Generate();
  uint8_t* const root2 = w.at(kScratchRoot2);  // RK'' | CKs'
  {
    LIAISON_ASSIGN_OR_RETURN(const SecretBytes<32> dh, X25519(dhs.secret_key, h.dh_public));
    LIAISON_RETURN_IF_ERROR(KdfRk(ByteView(root1, kKeyBytes), dh.view(), root2));
  }

  // Commit. Secret memory is allocated first, so that nothing changes if it runs out.
  std::optional<Key> fresh_cks, fresh_ckr;  // the chains' first keys, before the first step
  if (!s.cks) fresh_cks.emplace();
  if (!s.ckr) fresh_ckr.emplace();
  CommitSkipped(s.skipped, staged, now_micros);
  if (fresh_cks) s.cks = std::move(fresh_cks);
  if (fresh_ckr) s.ckr = std::move(fresh_ckr);
  if (s.dhr) {
    s.previous_dhr.push_back(*s.dhr);
    while (s.previous_dhr.size() > kMaxPreviousReceivingChains) s.previous_dhr.pop_front();
  }
  s.dhr = h.dh_public;
  s.pn = s.ns;
  s.ns = 0;
  s.nr = h.n + 1;
  CopyKey(root2, s.rk);
  CopyKey(root2 + kKeyBytes, *s.cks);
  CopyKey(w.at(kScratchCk), *s.ckr);
  s.dhs = std::move(dhs);
  return plaintext;
}

size_t DropExpiredSkippedKeys(RatchetState& state, int64_t now_micros) {
  return RatchetStateAccess::Of(state).skipped.DropExpired(now_micros);
}

// ---- Serialization -------------------------------------------------------------------------

Bytes SerializeRatchetState(const RatchetState& state) {
  const StateImpl& s = RatchetStateAccess::Of(state);
  Bytes out;
  out.reserve(kStateFixedBytes + 2 + s.previous_dhr.size() * kDhPublicKeyBytes + 2 +
              s.skipped.size() * kSkippedEntryBytes);
  Appender a(out);
  a.U8(kStateVersion1);
  a.U8(static_cast<uint8_t>((s.dhr ? kFlagDhr : 0) | (s.cks ? kFlagCks : 0) |
                            (s.ckr ? kFlagCkr : 0)));
  a.Raw(s.dhs.secret_key.view());
  a.Raw(s.dhs.public_key);
  a.RawOrZeros(s.dhr ? s.dhr->data() : nullptr, kDhPublicKeyBytes);
  a.Raw(s.rk.view());
  a.RawOrZeros(s.cks ? s.cks->data() : nullptr, kKeyBytes);
  a.RawOrZeros(s.ckr ? s.ckr->data() : nullptr, kKeyBytes);
  a.U32(s.ns);
  a.U32(s.nr);
  a.U32(s.pn);
  a.U16(static_cast<uint16_t>(s.previous_dhr.size()));
  for (const DhPublicKey& k : s.previous_dhr) a.Raw(k);
  a.U16(static_cast<uint16_t>(s.skipped.size()));
  for (size_t i = 0; i < s.skipped.size(); ++i) {
    const SkippedKeys::Entry& e = s.skipped.entry(i);
    a.Raw(e.dh);
    a.U32(e.n);
    a.I64(e.stored_at);
    a.Raw(ByteView(s.skipped.Seed(i), kKeyBytes));
  }
  assert(out.size() == kStateFixedBytes + 2 + s.previous_dhr.size() * kDhPublicKeyBytes + 2 +
                           s.skipped.size() * kSkippedEntryBytes);
  return out;
}

Result<RatchetState> ParseRatchetState(ByteView bytes) {
  if (bytes.empty()) return Corrupt("empty");
  if (bytes[0] != kStateVersion1) {
    return Status::Error(
        Code::kUnsupportedVersion,
        "ratchet state version " + std::to_string(bytes[0]) + " (this build reads 1)");
  }
  if (bytes.size() < kStateFixedBytes + 2) return Corrupt("truncated");

  // Read and check everything before allocating anything.
  Cursor c(bytes);
  c.U8();
  const uint8_t flags = c.U8();
  if ((flags & ~(kFlagDhr | kFlagCks | kFlagCkr)) != 0) return Corrupt("unknown flags");
  const bool has_dhr = flags & kFlagDhr, has_cks = flags & kFlagCks, has_ckr = flags & kFlagCkr;
  const ByteView dhs_secret = c.Take(kDhSecretKeyBytes);
  const DhPublicKey dhs_public = c.Public();
  const DhPublicKey dhr = c.Public();
  const ByteView rk = c.Take(kKeyBytes);
  const ByteView cks = c.Take(kKeyBytes);
  const ByteView ckr = c.Take(kKeyBytes);
  const uint32_t ns = c.U32(), nr = c.U32(), pn = c.U32();
  if (!has_dhr && !AllZero(dhr)) return Corrupt("bytes in an absent DHr");
  if ((!has_cks && !AllZero(cks)) || (!has_ckr && !AllZero(ckr))) {
    return Corrupt("bytes in an absent chain key");
  }
  if (has_ckr && !has_dhr) return Corrupt("receiving chain without DHr");
  if (!has_cks && (ns != 0 || pn != 0)) return Corrupt("counters without a sending chain");
  if (!has_ckr && nr != 0) return Corrupt("counter without a receiving chain");

  const size_t previous_count = c.U16();
  if (previous_count > kMaxPreviousReceivingChains) return Corrupt("too many previous chains");
  if (c.remaining() < previous_count * kDhPublicKeyBytes + 2) return Corrupt("truncated");
  const ByteView previous = c.Take(previous_count * kDhPublicKeyBytes);
  const size_t skipped_count = c.U16();
  if (skipped_count > kMaxSkippedKeys) return Corrupt("too many skipped keys");
  if (c.remaining() != skipped_count * kSkippedEntryBytes) {
    return Corrupt("length does not match the skipped key count");
  }

  LIAISON_ASSIGN_OR_RETURN(SecretBytes<kDhSecretKeyBytes> secret,
                           SecretBytes<kDhSecretKeyBytes>::FromBytes(dhs_secret));
  DhKeyPair dhs = DhKeyPair::FromSecret(std::move(secret));
  if (dhs.public_key != dhs_public) return Corrupt("DHs public key does not match its secret");

  auto impl = std::make_unique<StateImpl>(std::move(dhs));
  StateImpl& s = *impl;
  if (has_dhr) s.dhr = dhr;
  CopyKey(rk.data(), s.rk);
  if (has_cks) CopyKey(cks.data(), s.cks);
  if (has_ckr) CopyKey(ckr.data(), s.ckr);
  s.ns = ns;
  s.nr = nr;
  s.pn = pn;
  Cursor p(previous);
  for (size_t i = 0; i < previous_count; ++i) s.previous_dhr.push_back(p.Public());

  std::vector<std::pair<uint32_t, DhPublicKey>> seen;
  seen.reserve(skipped_count);
  for (size_t i = 0; i < skipped_count; ++i) {
    const DhPublicKey dh = c.Public();
    const uint32_t n = c.U32();
    const int64_t stored_at = c.I64();
    const ByteView seed = c.Take(kKeyBytes);
    s.skipped.Add(dh, n, stored_at, seed.data());
    seen.emplace_back(n, dh);
  }
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
    return Corrupt("duplicate skipped key");
  }
  return RatchetStateAccess::Make(std::move(impl));
}

}  // namespace liaison::crypto
