// The input language of store_fuzzer.cc, shared with make_corpus.cc (header only).
//
//   input  = seed:u64le | action*
//   action = op:u8 | arguments (bytes listed per op below; a missing byte reads as 0)
//
// A write refused with kStoreFull reads one more byte (bit 0: commit the batch anyway).
//
// The seed picks one of kStoreConfigs (seed % 3) and seeds the generator of envelope and key
// bundle contents. Every argument byte is reduced modulo the size of the table it indexes, so
// every byte string is a valid program.
#ifndef LIAISON_FUZZ_STORE_ACTIONS_H_
#define LIAISON_FUZZ_STORE_ACTIONS_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/clock.h"

namespace liaison::fuzz {

enum class StoreOp : uint8_t {
  kPut = 0,                // mailbox, id, expiry, size: WriteBatch::Put in the open batch (opened if none)
  kAck = 1,                // mailbox, count, then count x (kind, pick): WriteBatch::Ack
  kCommit = 2,             // commit the open batch
  kAbort = 3,              // drop the open batch uncommitted
  kFetch = 4,              // mailbox, after kind, pick, max_items, max_bytes: checked page of Fetch
  kAdvanceClock = 5,       // amount
  kSweep = 6,              // max_entries (commits an open batch first)
  kReopen = 7,             // drop the open batch, close the store, open it again
  kReleaseFreedPages = 8,  // (commits an open batch first)
  kPutKeyBundle = 9,       // address, size
  kDrain = 10,             // ack all, expire all, sweep, release; then a small put must succeed
  kPutBroadcast = 11,      // targets, id, expiry, copy size, body size: WriteBatch::PutBroadcast
};
inline constexpr uint8_t kStoreOpCount = 12;

// mailbox argument: 0..2 = the three mailboxes, 3 = an invalid address (empty or 65 bytes).
inline constexpr uint8_t kMailboxChoices = 4;
inline constexpr uint8_t kMessageIdChoices = 6;  // a small set so that retries (dedup) are common

// expiry argument for kPut: requested expires_at relative to now.
enum class ExpiryChoice : uint8_t {
  kDefault = 0,      // 0: the store's default TTL
  kPastByOne = 1,    // now - 1
  kNow = 2,          // now (already expired)
  kNowPlusOne = 3,   // now + 1 us
  kSecond = 4,       // now + 1 s
  kHour = 5,         // now + 1 h
  kTwoDays = 6,      // now + 2 days (clamped to the max TTL)
  kInt64Max = 7,     // INT64_MAX (clamped)
  kInt64Min = 8,     // INT64_MIN (expired)
};
inline constexpr uint8_t kExpiryChoices = 9;

inline constexpr std::array<size_t, 8> kEnvelopeSizes = {0, 1, 16, 100, 700, 3000, 20000, 65000};
inline constexpr std::array<int64_t, 8> kClockSteps = {
    0, 1, kMicrosPerSecond, 59 * 60 * kMicrosPerSecond, 3600 * kMicrosPerSecond,
    3600 * kMicrosPerSecond + 1, 86400 * kMicrosPerSecond, 2 * 86400 * kMicrosPerSecond};

// kind argument of each sequence number in kAck.
enum class AckSeqChoice : uint8_t {
  kPendingOfMailbox = 0,  // one of the mailbox's pending seqs (pick selects which)
  kAnyStored = 1,         // any seq the model still knows (acked, other mailbox, expired)
  kNotYetAssigned = 2,    // max seq + 1 or + 2: the seq a future put will get
  kExtreme = 3,           // 0 or UINT64_MAX
};
inline constexpr uint8_t kAckSeqChoices = 4;
inline constexpr uint8_t kMaxSeqsPerAck = 4;

// after kind argument of kFetch.
enum class AfterChoice : uint8_t {
  kZero = 0,
  kStoredSeq = 1,       // a seq the model knows (pick selects)
  kStoredSeqMinus1 = 2,
  kMaxSeq = 3,
  kUint64Max = 4,
  kUint64MaxMinus1 = 5,
};
inline constexpr uint8_t kAfterChoices = 6;
inline constexpr std::array<size_t, 5> kFetchMaxItems = {1, 2, 3, 256, 0};
inline constexpr std::array<size_t, 5> kFetchMaxBytes = {0, 1, 1000, 70000, SIZE_MAX};
inline constexpr std::array<size_t, 4> kSweepMaxEntries = {0, 1, 2, 1000};
inline constexpr std::array<size_t, 4> kKeyBundleSizes = {0, 1, 129, 4096};

// targets argument of kPutBroadcast: bits 0..3 give a copy to mailbox choice 0..3, in that order
// (3 is the invalid address; bit 5 picks which one); bit 4 repeats the first copy at the end (a
// retry inside one request). Every copy carries the id argument: ids are per mailbox, so the
// copies are distinct messages, the same arguments again retry the whole broadcast, and more
// target bits retry it in part. The body of size 0 is refused (kInvalidArgument).
inline constexpr uint8_t kBroadcastRepeatFirst = 1 << 4;
inline constexpr uint8_t kBroadcastOtherBadAddress = 1 << 5;
inline constexpr std::array<size_t, 4> kCopySizes = {1, 16, 100, 700};
inline constexpr std::array<size_t, 6> kBodySizes = {0, 1, 100, 3000, 20000, 40000};

struct StoreConfig {
  size_t map_size_bytes;
  uint64_t max_mailbox_messages;
  uint64_t max_mailbox_bytes;
};
// Small maps so that kStoreFull happens; small quotas so that kMailboxFull does.
inline constexpr std::array<StoreConfig, 3> kStoreConfigs = {{
    {256 << 10, 4, 64 << 10},
    {1 << 20, 8, 128 << 10},
    {4 << 20, 3, 16 << 10},
}};

}  // namespace liaison::fuzz

#endif  // LIAISON_FUZZ_STORE_ACTIONS_H_
