// Fuzz target: stateful MailboxStore (after libsignal's interaction.rs; reliability.md T6, T7, T9).
//
// The input is a program (fuzz/store_actions.h): puts to three mailboxes with message ids from a
// small set (so that retries hit dedup), acks of real and bogus sequence numbers, commits and
// aborts of write batches, fetches, clock steps, sweeps, close-and-reopen, freed-page release
// and key bundles, against a real LMDB store in a per-process temporary directory that is wiped
// for every input. A plain in-memory model runs alongside; after every action the store must
// agree with it:
//  - Fetch of a mailbox returns exactly the model's pending (unacknowledged, unexpired) messages
//    in sequence order, with the same ids, timestamps and bytes; never an acknowledged one;
//    a partial fetch is the right prefix, and `more` is set when deliverable messages remain.
//  - A put whose (mailbox, id) is still recorded returns the original seq and expiry.
//  - A new put gets a seq above every seq ever committed (an old ack can never hit it).
//  - Usage() equals the model's pending count and bytes (expired-but-unswept included).
//  - A put, ack or commit that returned an error changed nothing, even if its batch is then
//    committed. Uncommitted writes are invisible to readers and lost on reopen.
//  - SweepExpired removes exactly the expired records among those it looks at (the next
//    sweep_records_per_call dedup records in key order, message id then mailbox, after the last
//    one the previous sweep of this store object looked at; from the beginning after one that
//    looked at the last; more records a sweep when sweep_calls_per_pass requires it) and
//    reports the pending ones; repeated sweeps remove every expired one.
//    The dedup table, read directly, holds exactly the model's records after every action.
//  - After a full drain (ack all, expire all, sweep, release freed pages) a small put succeeds,
//    each step using the documented recovery: on kStoreFull, ReleaseFreedPages() and retry once.
//  - Broadcasts (PutBroadcast): each copy is answered as a put of it would be (dedup per
//    mailbox, also against earlier copies of the same request; quota charged envelope + body);
//    its fetch carries the body it was stored with; SharedBodies() counts exactly the bodies
//    that a pending (unacknowledged, unswept) copy refers to, so a body is stored once per
//    broadcast that stored a copy and is gone with its last copy acknowledged or swept; a
//    broadcast refused with kStoreFull would have stored a copy, and left no trace.
// A violation prints the action trace and the reason on stderr and aborts. With the environment
// variable LIAISON_FUZZ_TRACE set, the trace of every input is printed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/clock.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/store_actions.h"
#include "store/mailbox_store.h"

namespace {

using namespace liaison;
using namespace liaison::store;
using fuzz::ByteReader;
using fuzz::StoreOp;

constexpr int64_t kStart = 1'800'000'000ll * kMicrosPerSecond;
constexpr int64_t kDefaultTtl = 3600 * kMicrosPerSecond;
constexpr int64_t kMaxTtl = 86400 * kMicrosPerSecond;

const std::array<std::string, 3> kMailboxes = {"alice/phone", "bob/laptop", "carol/tablet"};
// MailboxStoreOptions::sweep_records_per_call, chosen by the seed (seed / 3 % 3): a sweep that
// stops after each record, one that stops within the few records an input makes, and one that
// never stops early.
constexpr std::array<size_t, 3> kSweepRecordsPerCall = {1, 3, 100'000};
// MailboxStoreOptions::sweep_calls_per_pass (seed / 9 % 2): one that never matters here, and
// one that makes a sweep look at half the records whenever that is more.
constexpr std::array<size_t, 2> kSweepCallsPerPass = {1'000'000, 2};
const std::array<std::string, 2> kBadAddresses = {"", std::string(65, 'x')};

// What the harness did so far in this input; printed when an invariant fails.
std::string g_trace;

#define STORE_CHECK(condition, detail)                                                  \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      std::fprintf(stderr, "store_fuzzer action trace:\n%s", g_trace.c_str());          \
      ::liaison::fuzz::Fail(__FILE__, __LINE__, #condition, (detail));                  \
    }                                                                                   \
  } while (0)

__attribute__((format(printf, 1, 2))) void Trace(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  g_trace += line;
  g_trace += '\n';
}

MessageId Id(uint8_t n) {
  MessageId id{};
  id[0] = 0xf0;
  id[15] = n;
  return id;
}

template <class T>
std::string Describe(const Result<T>& r) {
  return r.ok() ? std::string("ok") : r.status().ToString();
}

// One directory per process, under /dev/shm when it is usable (commits fsync; on tmpfs that is
// free), removed at exit. A process that aborts (a crash, or libFuzzer's -minimize_crash
// children) cannot remove its own, so each new one first removes those of dead processes:
// the name carries the pid.
class TempDir {
 public:
  TempDir() {
    std::string base = "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) base = std::filesystem::temp_directory_path().string();
    RemoveStale(base);
    std::string pattern = base + "/" + kPrefix + std::to_string(::getpid()) + "-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Removes everything inside (a fresh store for every input).
  void Wipe() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }

 private:
  static constexpr const char* kPrefix = "liaison-store-fuzz-";

  static void RemoveStale(const std::string& base) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(kPrefix, 0) != 0) continue;
      const std::string rest = name.substr(std::string_view(kPrefix).size());
      const size_t dash = rest.find('-');
      if (dash == 0 || dash == std::string::npos || rest.find_first_not_of("0123456789") != dash) continue;
      const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
  }

  std::string path_;
};

struct Record {
  int mailbox = 0;
  uint8_t id = 0;
  int64_t stored_at = 0;
  int64_t expires_at = 0;
  Bytes envelope;
  bool pending = true;  // false once acknowledged; the record stays until swept (dedup)
  int body = -1;        // a broadcast copy: the key of its body in Model::bodies
};

struct Model {
  std::map<uint64_t, Record> records;  // every message whose dedup record is stored
  uint64_t max_seq = 0;                // highest seq ever committed
  std::map<std::string, Bytes> bundles;
  std::map<int, Bytes> bodies;         // every broadcast body a record refers to (or referred to)
  int next_body = 0;

  const Bytes* Body(const Record& r) const { return r.body >= 0 ? &bodies.at(r.body) : nullptr; }
  // What the store holds and charges for a message: its envelope, and a copy's body.
  size_t Charged(const Record& r) const { return r.envelope.size() + (r.body >= 0 ? bodies.at(r.body).size() : 0); }

  MailboxUsage Usage(int mailbox) const {
    MailboxUsage u;
    for (const auto& [seq, r] : records) {
      if (r.pending && r.mailbox == mailbox) {
        u.messages += 1;
        u.bytes += Charged(r);
      }
    }
    return u;
  }
  // The bodies a pending copy refers to: exactly those the store must still hold.
  MailboxUsage SharedBodies() const {
    std::set<int> live;
    for (const auto& [seq, r] : records) {
      if (r.pending && r.body >= 0) live.insert(r.body);
    }
    MailboxUsage u;
    for (int key : live) {
      u.messages += 1;
      u.bytes += bodies.at(key).size();
    }
    return u;
  }
  const std::pair<const uint64_t, Record>* Dedup(int mailbox, uint8_t id) const {
    for (const auto& entry : records) {
      if (entry.second.mailbox == mailbox && entry.second.id == id) return &entry;
    }
    return nullptr;
  }
  std::vector<uint64_t> PendingSeqs(int mailbox) const {
    std::vector<uint64_t> out;
    for (const auto& [seq, r] : records) {
      if (r.pending && r.mailbox == mailbox) out.push_back(seq);
    }
    return out;
  }
};

class Harness {
 public:
  Harness(const TempDir& dir, uint64_t seed)
      : dir_(dir), clock_(kStart), rng_(seed), config_(fuzz::kStoreConfigs[seed % fuzz::kStoreConfigs.size()]) {
    options_.path = dir.path();
    options_.map_size_bytes = config_.map_size_bytes;
    options_.max_mailbox_messages = config_.max_mailbox_messages;
    options_.max_mailbox_bytes = config_.max_mailbox_bytes;
    options_.default_ttl_micros = kDefaultTtl;
    options_.max_ttl_micros = kMaxTtl;
    options_.sweep_records_per_call = kSweepRecordsPerCall[seed / fuzz::kStoreConfigs.size() % kSweepRecordsPerCall.size()];
    options_.sweep_calls_per_pass = kSweepCallsPerPass[seed / 9 % kSweepCallsPerPass.size()];
    Trace("config: map %zu bytes, %llu messages and %llu bytes per mailbox, sweeps of %zu records or a pass in %zu",
          config_.map_size_bytes, static_cast<unsigned long long>(config_.max_mailbox_messages),
          static_cast<unsigned long long>(config_.max_mailbox_bytes), options_.sweep_records_per_call,
          options_.sweep_calls_per_pass);
    dir_.Wipe();
    Open();
  }
  ~Harness() {
    batch_.reset();
    store_.reset();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  void Run(ByteReader& r) {
    while (!r.empty()) {
      const auto op = static_cast<StoreOp>(r.U8() % fuzz::kStoreOpCount);
      switch (op) {
        case StoreOp::kPut: Put(r); break;
        case StoreOp::kAck: Ack(r); break;
        case StoreOp::kCommit: Trace("commit"); CommitBatch(); break;
        case StoreOp::kAbort:
          Trace("abort");
          batch_.reset();
          break;
        case StoreOp::kFetch: Fetch(r); break;
        case StoreOp::kAdvanceClock: {
          const int64_t step = r.Pick(fuzz::kClockSteps);
          Trace("advance clock by %lld us", static_cast<long long>(step));
          clock_.Advance(step);
          break;
        }
        case StoreOp::kSweep: Sweep(r.Pick(fuzz::kSweepMaxEntries)); break;
        case StoreOp::kReopen:
          Trace("reopen");
          batch_.reset();
          store_.reset();
          Open();
          break;
        case StoreOp::kReleaseFreedPages: ReleaseFreedPages(); break;
        case StoreOp::kPutKeyBundle: PutKeyBundle(r); break;
        case StoreOp::kDrain: Drain(); break;
        case StoreOp::kPutBroadcast: PutBroadcast(r); break;
      }
      CheckState();
    }
  }

 private:
  void Open() {
    auto opened = MailboxStore::Open(options_, clock_);
    STORE_CHECK(opened.ok(), "opening the store: " + Describe(opened));
    store_ = std::move(opened).value();
    sweep_resume_after_.reset();  // a new store object sweeps from the beginning
  }

  // The dedup key the store gives a record: message id | mailbox (u8 length | address).
  static Bytes DedupKey(const Record& rec) {
    const MessageId id = Id(rec.id);
    const std::string& address = kMailboxes[rec.mailbox];
    Bytes key(id.begin(), id.end());
    key.push_back(static_cast<uint8_t>(address.size()));
    key.insert(key.end(), address.begin(), address.end());
    return key;
  }

  const std::string& Address(uint8_t choice, int* mailbox) {
    *mailbox = choice % fuzz::kMailboxChoices;
    if (*mailbox < 3) return kMailboxes[*mailbox];
    return kBadAddresses[choice / fuzz::kMailboxChoices % kBadAddresses.size()];
  }

  void BeginIfNeeded() {
    if (batch_) return;
    auto begun = store_->BeginWrite();
    STORE_CHECK(begun.ok(), "BeginWrite: " + Describe(begun));
    batch_.emplace(std::move(begun).value());
    staged_ = committed_;
  }

  void CommitBatch() {
    if (!batch_) return;
    const Status st = batch_->Commit();
    batch_.reset();
    if (st.ok()) {
      committed_ = std::move(staged_);
      return;
    }
    Trace("  commit failed: %s", st.ToString().c_str());
    STORE_CHECK(st.code() == Code::kStoreFull, "Commit: " + st.ToString());
  }

  // A write failed with kStoreFull. Either the store refused it before writing (the batch can
  // still commit) or LMDB ran out of pages inside it (the batch cannot). Sometimes try to commit
  // anyway: if that succeeds, the batch's other writes are committed and the failed one must have
  // left no trace (CheckState compares with staged_, which never saw it); if it fails, nothing
  // changed. Then do what the header tells callers to do (release freed pages).
  void AfterStoreFull(ByteReader& r) {
    if (r.U8() & 1) {
      const Status st = batch_->Commit();
      Trace("  commit after store full: %s", st.ToString().c_str());
      batch_.reset();
      if (st.ok()) committed_ = std::move(staged_);
    }
    batch_.reset();
    const Status released = store_->ReleaseFreedPages();
    Trace("  release freed pages: %s", released.ToString().c_str());
    STORE_CHECK(released.ok() || released.code() == Code::kStoreFull, "ReleaseFreedPages: " + released.ToString());
  }

  static int64_t Requested(fuzz::ExpiryChoice expiry, int64_t now) {
    switch (expiry) {
      case fuzz::ExpiryChoice::kDefault: return 0;
      case fuzz::ExpiryChoice::kPastByOne: return now - 1;
      case fuzz::ExpiryChoice::kNow: return now;
      case fuzz::ExpiryChoice::kNowPlusOne: return now + 1;
      case fuzz::ExpiryChoice::kSecond: return now + kMicrosPerSecond;
      case fuzz::ExpiryChoice::kHour: return now + 3600 * kMicrosPerSecond;
      case fuzz::ExpiryChoice::kTwoDays: return now + 2 * kMaxTtl;
      case fuzz::ExpiryChoice::kInt64Max: return INT64_MAX;
      case fuzz::ExpiryChoice::kInt64Min: return INT64_MIN;
    }
    return 0;
  }
  // The expiry the store gives a message that asked for `requested`.
  static int64_t Expected(int64_t requested, int64_t now) {
    const int64_t expires_at = requested == 0 ? now + kDefaultTtl : requested;
    return std::min(expires_at, now + kMaxTtl);
  }

  void Put(ByteReader& r) {
    int mailbox = 0;
    const std::string& address = Address(r.U8(), &mailbox);
    const uint8_t id = r.U8() % fuzz::kMessageIdChoices;
    const auto expiry = static_cast<fuzz::ExpiryChoice>(r.U8() % fuzz::kExpiryChoices);
    const size_t size = r.Pick(fuzz::kEnvelopeSizes);
    const Bytes envelope = rng_.RandomBytes(size);
    const int64_t now = clock_.NowMicros();
    const int64_t requested = Requested(expiry, now);
    BeginIfNeeded();
    Result<PutResult> got = batch_->Put({address, Id(id), requested, envelope});
    Trace("put mailbox %d id %u expires_at %lld size %zu: %s", mailbox, id, static_cast<long long>(requested), size,
          got.ok() ? ("seq " + std::to_string(got->seq) + (got->duplicate ? " (duplicate)" : "")).c_str()
                   : got.status().ToString().c_str());

    // The model's answer, in the order the store checks.
    if (mailbox == 3) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kInvalidArgument, "put to a bad address: " + Describe(got));
      return;
    }
    const int64_t expires_at = Expected(requested, now);
    if (expires_at <= now) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kExpired, "put of an expired message: " + Describe(got));
      return;
    }
    if (const auto* original = staged_.Dedup(mailbox, id)) {
      STORE_CHECK(got.ok() && got->duplicate, "a retried put was not recognised: " + Describe(got));
      STORE_CHECK(got->seq == original->first, "a retried put returned seq " + std::to_string(got->seq) +
                                                    ", the original is " + std::to_string(original->first));
      STORE_CHECK(got->expires_at == original->second.expires_at, "a retried put returned another expiry");
      return;
    }
    const MailboxUsage usage = staged_.Usage(mailbox);
    if (usage.messages + 1 > config_.max_mailbox_messages || usage.bytes + size > config_.max_mailbox_bytes) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kMailboxFull,
                  "put over the quota (" + std::to_string(usage.messages) + " messages, " +
                      std::to_string(usage.bytes) + " bytes held): " + Describe(got));
      return;
    }
    if (!got.ok()) {
      STORE_CHECK(got.status().code() == Code::kStoreFull, "put: " + got.status().ToString());
      AfterStoreFull(r);
      return;
    }
    STORE_CHECK(!got->duplicate, "a new message was reported as a duplicate");
    STORE_CHECK(got->seq > staged_.max_seq, "seq " + std::to_string(got->seq) + " is not above every seq used (" +
                                                 std::to_string(staged_.max_seq) + ")");
    STORE_CHECK(got->expires_at == expires_at, "expires_at " + std::to_string(got->expires_at) + ", expected " +
                                                   std::to_string(expires_at));
    staged_.records[got->seq] = Record{mailbox, id, now, expires_at, envelope, true};
    staged_.max_seq = got->seq;
  }

  // One broadcast in the open batch. The model answers each copy in the order the store checks
  // (address, expiry, dedup against the staged state including the earlier copies, quota
  // charged envelope + body); the body exists once if any copy is new.
  void PutBroadcast(ByteReader& r) {
    const uint8_t targets = r.U8();
    const uint8_t id = r.U8() % fuzz::kMessageIdChoices;
    const auto expiry = static_cast<fuzz::ExpiryChoice>(r.U8() % fuzz::kExpiryChoices);
    const size_t copy_size = r.Pick(fuzz::kCopySizes);
    const Bytes body = rng_.RandomBytes(r.Pick(fuzz::kBodySizes));
    const int64_t now = clock_.NowMicros();
    const int64_t requested = Requested(expiry, now);

    struct Copy {
      int mailbox;
      std::string address;
      Bytes envelope;
    };
    std::vector<Copy> copies;
    for (uint8_t k = 0; k < 4; ++k) {
      if ((targets >> k & 1) == 0) continue;
      const uint8_t choice = k == 3 && (targets & fuzz::kBroadcastOtherBadAddress) != 0 ? 3 + fuzz::kMailboxChoices : k;
      int mailbox = 0;
      const std::string& address = Address(choice, &mailbox);
      copies.push_back({mailbox, address, rng_.RandomBytes(copy_size)});
    }
    if ((targets & fuzz::kBroadcastRepeatFirst) != 0 && !copies.empty()) {
      copies.push_back({copies[0].mailbox, copies[0].address, rng_.RandomBytes(copy_size)});
    }
    std::vector<BroadcastCopy> request;
    for (const Copy& c : copies) request.push_back({c.address, Id(id), c.envelope});

    BeginIfNeeded();
    Result<BroadcastOutcome> got = batch_->PutBroadcast({requested, body, request});
    std::string list;
    for (const Copy& c : copies) list += " " + std::to_string(c.mailbox);
    std::string answers;
    if (got.ok()) {
      for (const auto& one : *got) {
        answers += " " + (one.ok() ? std::to_string(one->seq) + (one->duplicate ? "(dup)" : "")
                                   : std::string(CodeName(one.status().code())));
      }
    }
    Trace("put broadcast to mailboxes%s id %u expires_at %lld copy size %zu body size %zu: %s%s", list.c_str(), id,
          static_cast<long long>(requested), copy_size, body.size(), got.ok() ? "ok:" : got.status().ToString().c_str(),
          answers.c_str());

    if (body.empty()) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kInvalidArgument, "a broadcast without a body: " + Describe(got));
      return;
    }
    if (got.ok()) STORE_CHECK(got->size() == copies.size(), std::to_string(got->size()) + " outcomes for " +
                                                                std::to_string(copies.size()) + " copies");
    Model next = staged_;
    const int body_key = next.next_body++;
    next.bodies[body_key] = body;
    const int64_t expires_at = Expected(requested, now);
    size_t stored = 0;
    for (size_t i = 0; i < copies.size(); ++i) {
      const Copy& c = copies[i];
      const Result<PutResult>* one = got.ok() ? &(*got)[i] : nullptr;
      const std::string where = "broadcast copy " + std::to_string(i) + " to mailbox " + std::to_string(c.mailbox);
      auto expect_refused = [&](Code code, const char* why) {
        if (one != nullptr) {
          STORE_CHECK(!one->ok() && one->status().code() == code, where + " (" + why + "): " + Describe(*one));
        }
      };
      if (c.mailbox == 3) {
        expect_refused(Code::kInvalidArgument, "bad address");
        continue;
      }
      if (expires_at <= now) {
        expect_refused(Code::kExpired, "expired");
        continue;
      }
      if (const auto* original = next.Dedup(c.mailbox, id)) {
        if (one != nullptr) {
          STORE_CHECK(one->ok() && (*one)->duplicate, where + ": a retried copy was not recognised: " + Describe(*one));
          STORE_CHECK((*one)->seq == original->first, where + ": a retried copy returned seq " +
                                                          std::to_string((*one)->seq) + ", the original is " +
                                                          std::to_string(original->first));
          STORE_CHECK((*one)->expires_at == original->second.expires_at, where + ": a retried copy returned another expiry");
        }
        continue;
      }
      const MailboxUsage usage = next.Usage(c.mailbox);
      if (usage.messages + 1 > config_.max_mailbox_messages ||
          usage.bytes + c.envelope.size() + body.size() > config_.max_mailbox_bytes) {
        expect_refused(Code::kMailboxFull, "over the quota");
        continue;
      }
      ++stored;
      uint64_t seq = next.max_seq + 1;  // a placeholder while the whole broadcast is refused
      if (one != nullptr) {
        STORE_CHECK(one->ok(), where + ": a copy that fits was refused: " + Describe(*one));
        STORE_CHECK(!(*one)->duplicate, where + ": a new copy was reported as a duplicate");
        STORE_CHECK((*one)->seq > next.max_seq, where + ": seq " + std::to_string((*one)->seq) +
                                                     " is not above every seq used (" + std::to_string(next.max_seq) + ")");
        STORE_CHECK((*one)->expires_at == expires_at, where + ": expires_at " + std::to_string((*one)->expires_at) +
                                                           ", expected " + std::to_string(expires_at));
        seq = (*one)->seq;
      }
      next.records[seq] = Record{c.mailbox, id, now, expires_at, c.envelope, true, body_key};
      next.max_seq = seq;
    }
    if (!got.ok()) {
      STORE_CHECK(got.status().code() == Code::kStoreFull, "put broadcast: " + got.status().ToString());
      STORE_CHECK(stored > 0, "a broadcast that would store no copy (all duplicates or refused) was refused: " +
                                  got.status().ToString());
      AfterStoreFull(r);
      return;
    }
    if (stored == 0) next.bodies.erase(body_key);
    staged_ = std::move(next);
  }

  void Ack(ByteReader& r) {
    int mailbox = 0;
    const std::string& address = Address(r.U8(), &mailbox);
    const size_t count = 1 + r.U8() % fuzz::kMaxSeqsPerAck;
    BeginIfNeeded();
    std::vector<uint64_t> seqs;
    for (size_t i = 0; i < count; ++i) {
      const auto kind = static_cast<fuzz::AckSeqChoice>(r.U8() % fuzz::kAckSeqChoices);
      const uint8_t pick = r.U8();
      const std::vector<uint64_t> pending = mailbox < 3 ? staged_.PendingSeqs(mailbox) : std::vector<uint64_t>{};
      switch (kind) {
        case fuzz::AckSeqChoice::kPendingOfMailbox:
          if (!pending.empty()) {
            seqs.push_back(pending[pick % pending.size()]);
            break;
          }
          [[fallthrough]];
        case fuzz::AckSeqChoice::kAnyStored:
          if (!staged_.records.empty()) {
            auto it = staged_.records.begin();
            std::advance(it, pick % staged_.records.size());
            seqs.push_back(it->first);
          } else {
            seqs.push_back(staged_.max_seq);
          }
          break;
        case fuzz::AckSeqChoice::kNotYetAssigned: seqs.push_back(staged_.max_seq + 1 + pick % 2); break;
        case fuzz::AckSeqChoice::kExtreme: seqs.push_back(pick & 1 ? UINT64_MAX : 0); break;
      }
    }
    Result<uint32_t> got = batch_->Ack(address, seqs);
    std::string list;
    for (uint64_t s : seqs) list += " " + std::to_string(s);
    Trace("ack mailbox %d seqs%s: %s", mailbox, list.c_str(),
          got.ok() ? ("removed " + std::to_string(*got)).c_str() : got.status().ToString().c_str());
    if (mailbox == 3) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kInvalidArgument, "ack for a bad address: " + Describe(got));
      return;
    }
    if (!got.ok()) {
      STORE_CHECK(got.status().code() == Code::kStoreFull, "ack: " + got.status().ToString());
      AfterStoreFull(r);
      return;
    }
    uint32_t expected = 0;
    for (uint64_t seq : seqs) {
      auto it = staged_.records.find(seq);
      if (it != staged_.records.end() && it->second.pending && it->second.mailbox == mailbox) {
        it->second.pending = false;
        ++expected;
      }
    }
    STORE_CHECK(*got == expected, "ack removed " + std::to_string(*got) + ", expected " + std::to_string(expected));
  }

  void Fetch(ByteReader& r) {
    int mailbox = 0;
    const std::string& address = Address(r.U8(), &mailbox);
    const auto after_kind = static_cast<fuzz::AfterChoice>(r.U8() % fuzz::kAfterChoices);
    const uint8_t pick = r.U8();
    const size_t max_items = r.Pick(fuzz::kFetchMaxItems);
    const size_t max_bytes = r.Pick(fuzz::kFetchMaxBytes);
    uint64_t after = 0;
    switch (after_kind) {
      case fuzz::AfterChoice::kZero: after = 0; break;
      case fuzz::AfterChoice::kStoredSeq:
      case fuzz::AfterChoice::kStoredSeqMinus1:
        if (!committed_.records.empty()) {
          auto it = committed_.records.begin();
          std::advance(it, pick % committed_.records.size());
          after = it->first - (after_kind == fuzz::AfterChoice::kStoredSeqMinus1 ? 1 : 0);
        }
        break;
      case fuzz::AfterChoice::kMaxSeq: after = committed_.max_seq; break;
      case fuzz::AfterChoice::kUint64Max: after = UINT64_MAX; break;
      case fuzz::AfterChoice::kUint64MaxMinus1: after = UINT64_MAX - 1; break;
    }
    bool more = false;
    auto got = store_->Fetch(address, after, max_items, max_bytes, &more);
    Trace("fetch mailbox %d after %llu max_items %zu max_bytes %zu: %s", mailbox,
          static_cast<unsigned long long>(after), max_items, max_bytes,
          got.ok() ? (std::to_string(got->size()) + " messages" + (more ? ", more" : "")).c_str()
                   : got.status().ToString().c_str());
    if (mailbox == 3) {
      STORE_CHECK(!got.ok() && got.status().code() == Code::kInvalidArgument, "fetch of a bad address: " + Describe(got));
      return;
    }
    STORE_CHECK(got.ok(), "fetch: " + got.status().ToString());

    // The deliverable messages after `after`, and the page the store should cut from them.
    const int64_t now = clock_.NowMicros();
    std::vector<const std::pair<const uint64_t, Record>*> deliverable;
    for (const auto& entry : committed_.records) {
      const Record& rec = entry.second;
      if (rec.pending && rec.mailbox == mailbox && entry.first > after && rec.expires_at > now) {
        deliverable.push_back(&entry);
      }
    }
    size_t page = 0, bytes = 0;
    while (page < deliverable.size() && page < max_items) {
      const size_t next = committed_.Charged(deliverable[page]->second);
      if (page > 0 && bytes + next > max_bytes) break;
      bytes += next;
      ++page;
    }
    STORE_CHECK(got->size() == page, "fetch after " + std::to_string(after) + " returned " +
                                         std::to_string(got->size()) + " messages, expected " +
                                         std::to_string(page) + " (of " + std::to_string(deliverable.size()) +
                                         " deliverable with seq > after)");
    CompareMessages(committed_, *got, deliverable, page, "fetch page");
    if (max_items == 0) {
      // Nothing to return; mailbox_store.h promises nothing about `more` here.
    } else if (page < deliverable.size()) {
      STORE_CHECK(more, "fetch returned a partial page without setting more");
    } else if (more) {
      // Allowed only if pending (expired, unswept) entries follow: the store cannot tell cheaply.
      const uint64_t last = page > 0 ? (*got)[page - 1].seq : after;
      bool any_after = false;
      for (uint64_t seq : committed_.PendingSeqs(mailbox)) any_after |= seq > last;
      STORE_CHECK(any_after, "fetch set more with nothing pending after seq " + std::to_string(last));
    }
  }

  void CompareMessages(const Model& model, const std::vector<StoredMessage>& got,
                       const std::vector<const std::pair<const uint64_t, Record>*>& expected, size_t count,
                       const char* what) {
    for (size_t i = 0; i < count && i < got.size(); ++i) {
      const StoredMessage& m = got[i];
      const uint64_t seq = expected[i]->first;
      const Record& rec = expected[i]->second;
      const std::string where = std::string(what) + " item " + std::to_string(i) + " seq " + std::to_string(m.seq);
      STORE_CHECK(m.seq == seq, where + ": expected seq " + std::to_string(seq));
      STORE_CHECK(m.message_id == Id(rec.id), where + ": message id differs");
      STORE_CHECK(m.stored_at == rec.stored_at, where + ": stored_at differs");
      STORE_CHECK(m.expires_at == rec.expires_at, where + ": expires_at differs");
      STORE_CHECK(m.envelope == rec.envelope, where + ": envelope differs (" + std::to_string(m.envelope.size()) +
                                                  " bytes, expected " + std::to_string(rec.envelope.size()) + ")");
      const Bytes* body = model.Body(rec);
      STORE_CHECK(m.shared_body.has_value() == (body != nullptr),
                  where + (body != nullptr ? ": a broadcast copy came without its body" : ": a message came with a body"));
      if (body != nullptr) {
        STORE_CHECK(*m.shared_body == *body, where + ": the copy came with another body (" +
                                                 std::to_string(m.shared_body->size()) + " bytes, expected " +
                                                 std::to_string(body->size()) + ")");
      }
    }
  }

  // Sweep, release and drain take the write lock themselves: finish the open batch first (a
  // thread may hold only one write transaction).
  void FinishBatch() { CommitBatch(); }

  // Returns false if the sweep failed (with kStoreFull, the one failure allowed).
  bool Sweep(size_t max_entries) {
    FinishBatch();
    const int64_t now = clock_.NowMicros();
    // The records the store looks at, in its order, and where the next sweep starts.
    std::map<Bytes, uint64_t> by_key;  // dedup key -> seq
    for (const auto& [seq, rec] : committed_.records) by_key.emplace(DedupKey(rec), seq);
    auto it = sweep_resume_after_ ? by_key.upper_bound(*sweep_resume_after_) : by_key.begin();
    std::optional<Bytes> resume_after;
    std::vector<uint64_t> expired;
    const size_t calls = options_.sweep_calls_per_pass;
    const size_t max_looked_at = std::max(options_.sweep_records_per_call, (by_key.size() + calls - 1) / calls);
    size_t looked_at = 0;
    for (; max_entries > 0 && it != by_key.end(); ++it) {
      ++looked_at;
      if (committed_.records.at(it->second).expires_at <= now) expired.push_back(it->second);
      if (expired.size() == max_entries || looked_at == max_looked_at) {
        if (std::next(it) != by_key.end()) resume_after = it->first;
        break;
      }
    }
    size_t pending = 0;
    for (uint64_t seq : expired) pending += committed_.records.at(seq).pending ? 1 : 0;

    Result<size_t> got = store_->SweepExpired(max_entries);
    Trace("sweep max %zu: %s", max_entries, got.ok() ? ("removed " + std::to_string(*got)).c_str()
                                                     : got.status().ToString().c_str());
    if (!got.ok()) {
      STORE_CHECK(got.status().code() == Code::kStoreFull, "sweep: " + got.status().ToString());
      return false;
    }
    STORE_CHECK(*got == pending, "sweep removed " + std::to_string(*got) + " pending messages, expected " +
                                     std::to_string(pending) + " of " + std::to_string(expired.size()) + " expired");
    for (uint64_t seq : expired) committed_.records.erase(seq);
    if (max_entries > 0) sweep_resume_after_ = resume_after;
    return true;
  }

  void ReleaseFreedPages() {
    FinishBatch();
    const Status st = store_->ReleaseFreedPages();
    Trace("release freed pages: %s", st.ToString().c_str());
    STORE_CHECK(st.ok() || st.code() == Code::kStoreFull, "ReleaseFreedPages: " + st.ToString());
  }

  void PutKeyBundle(ByteReader& r) {
    int mailbox = 0;
    const std::string& address = Address(r.U8(), &mailbox);
    const Bytes bundle = rng_.RandomBytes(r.Pick(fuzz::kKeyBundleSizes));
    BeginIfNeeded();
    const Status st = batch_->PutKeyBundle(address, bundle);
    Trace("put key bundle mailbox %d size %zu: %s", mailbox, bundle.size(), st.ToString().c_str());
    if (mailbox == 3) {
      STORE_CHECK(st.code() == Code::kInvalidArgument, "key bundle for a bad address: " + st.ToString());
      return;
    }
    if (!st.ok()) {
      STORE_CHECK(st.code() == Code::kStoreFull, "PutKeyBundle: " + st.ToString());
      AfterStoreFull(r);
      return;
    }
    staged_.bundles[address] = bundle;
  }

  // Runs `write` (one batch, committed inside) and, if it fails with kStoreFull, does what
  // mailbox_store.h tells callers to do: ReleaseFreedPages(), then retry once. An ack on a nearly
  // full map can need that too (deleting copies pages before it frees any).
  Status WithRetry(const char* what, const std::function<Status()>& write) {
    Status st = write();
    Trace("  %s: %s", what, st.ToString().c_str());
    if (st.code() != Code::kStoreFull) return st;
    const Status released = store_->ReleaseFreedPages();
    Trace("  release freed pages: %s", released.ToString().c_str());
    st = write();
    Trace("  retry %s: %s", what, st.ToString().c_str());
    return st;
  }

  // T5 as a property: once everything is acknowledged, expired and swept (each step with the
  // documented release-and-retry on kStoreFull), the store must take a small message again,
  // whatever happened before.
  void Drain() {
    Trace("drain");
    FinishBatch();
    const Status acked = WithRetry("ack everything", [this] {
      BeginIfNeeded();
      for (int mailbox = 0; mailbox < 3; ++mailbox) {
        const std::vector<uint64_t> seqs = staged_.PendingSeqs(mailbox);
        if (seqs.empty()) continue;
        Result<uint32_t> got = batch_->Ack(kMailboxes[mailbox], seqs);
        if (!got.ok()) {
          batch_.reset();
          return got.status();
        }
        STORE_CHECK(*got == seqs.size(), "drain: ack removed " + std::to_string(*got) + " of " +
                                             std::to_string(seqs.size()));
        for (uint64_t seq : seqs) staged_.records.at(seq).pending = false;
      }
      const Status st = batch_->Commit();
      batch_.reset();
      if (st.ok()) committed_ = std::move(staged_);
      return st;
    });
    STORE_CHECK(acked.ok(), "drain: cannot acknowledge, even after releasing freed pages: " + acked.ToString());

    clock_.Advance(kMaxTtl + 1);
    // Everything has expired: each sweep removes all it looks at, so one more sweep than the
    // records over the records per call finds them all, unless one fails; a failed sweep
    // (kStoreFull) is followed by the release of freed pages, once.
    size_t sweeps_left = committed_.records.size() / options_.sweep_records_per_call + 2;
    bool released_once = false;
    while (!committed_.records.empty() && sweeps_left > 0) {
      if (Sweep(SIZE_MAX)) {
        --sweeps_left;
        continue;
      }
      if (released_once) break;
      const Status released = store_->ReleaseFreedPages();
      Trace("  release freed pages: %s", released.ToString().c_str());
      released_once = true;
    }
    STORE_CHECK(committed_.records.empty(), "drain: cannot sweep, even after releasing freed pages");
    for (int i = 0; i < 2; ++i) {
      const Status st = store_->ReleaseFreedPages();
      Trace("  release freed pages: %s", st.ToString().c_str());
      STORE_CHECK(st.ok(), "drain: ReleaseFreedPages on an empty store: " + st.ToString());
    }

    const Bytes envelope = rng_.RandomBytes(100);
    const Status stored = WithRetry("put 100 bytes", [this, &envelope] {
      BeginIfNeeded();
      const int64_t now = clock_.NowMicros();
      Result<PutResult> got = batch_->Put({kMailboxes[0], Id(0), 0, envelope});
      if (!got.ok()) {
        batch_.reset();
        return got.status();
      }
      STORE_CHECK(!got->duplicate && got->seq > staged_.max_seq, "drain: a put to an empty store was a duplicate or reused a seq");
      staged_.records[got->seq] = Record{0, 0, now, now + kDefaultTtl, envelope, true};
      staged_.max_seq = got->seq;
      const Status st = batch_->Commit();
      batch_.reset();
      if (st.ok()) committed_ = std::move(staged_);
      return st;
    });
    STORE_CHECK(stored.ok(), "drain: an empty store refuses a 100-byte message, even after releasing freed pages: " +
                                 stored.ToString());
  }

  // The committed state, read back in full (also while a batch is open: its writes must not show).
  void CheckState() {
    const int64_t now = clock_.NowMicros();
    auto shared = store_->SharedBodies();
    STORE_CHECK(shared.ok(), "SharedBodies: " + Describe(shared));
    const MailboxUsage expected_shared = committed_.SharedBodies();
    STORE_CHECK(shared->messages == expected_shared.messages && shared->bytes == expected_shared.bytes,
                "the store holds " + std::to_string(shared->messages) + " broadcast bodies of " +
                    std::to_string(shared->bytes) + " bytes, the model " + std::to_string(expected_shared.messages) +
                    " of " + std::to_string(expected_shared.bytes));
    for (int mailbox = 0; mailbox < 3; ++mailbox) {
      const std::string& address = kMailboxes[mailbox];
      auto usage = store_->Usage(address);
      STORE_CHECK(usage.ok(), "Usage: " + Describe(usage));
      const MailboxUsage expected = committed_.Usage(mailbox);
      STORE_CHECK(usage->messages == expected.messages && usage->bytes == expected.bytes,
                  "mailbox " + std::to_string(mailbox) + " usage " + std::to_string(usage->messages) + " messages " +
                      std::to_string(usage->bytes) + " bytes, model " + std::to_string(expected.messages) + "/" +
                      std::to_string(expected.bytes));

      bool more = true;
      auto got = store_->Fetch(address, 0, SIZE_MAX, SIZE_MAX, &more);
      STORE_CHECK(got.ok(), "Fetch: " + Describe(got));
      std::vector<const std::pair<const uint64_t, Record>*> deliverable;
      for (const auto& entry : committed_.records) {
        if (entry.second.pending && entry.second.mailbox == mailbox && entry.second.expires_at > now) {
          deliverable.push_back(&entry);
        }
      }
      if (got->size() != deliverable.size()) {
        std::string have, want;
        for (const auto& m : *got) {
          have += " " + std::to_string(m.seq);
          auto it = committed_.records.find(m.seq);
          if (it == committed_.records.end()) {
            have += "(unknown)";
          } else if (!it->second.pending) {
            have += "(ACKED)";
          } else if (it->second.expires_at <= now) {
            have += "(expired)";
          }
        }
        for (const auto* e : deliverable) want += " " + std::to_string(e->first);
        STORE_CHECK(false, "mailbox " + std::to_string(mailbox) + " delivers seqs [" + have + " ], model [" + want + " ]");
      }
      CompareMessages(committed_, *got, deliverable, deliverable.size(), "full fetch");
      STORE_CHECK(!more, "a fetch of everything set more");

      auto bundle = store_->GetKeyBundle(address);
      STORE_CHECK(bundle.ok(), "GetKeyBundle: " + Describe(bundle));
      auto it = committed_.bundles.find(address);
      if (it == committed_.bundles.end()) {
        STORE_CHECK(!bundle->has_value(), "a key bundle that was never committed is visible");
      } else {
        STORE_CHECK(bundle->has_value() && **bundle == it->second, "the key bundle differs from the committed one");
      }
    }
    CheckDedupTable();
  }

  // The store's dedup table (its documented layout, read directly) holds exactly the model's
  // records: so a sweep that removed other records than the model's is caught at once, even when
  // nothing else would show it yet.
  void CheckDedupTable() {
    std::map<Bytes, Bytes> expected;  // dedup key -> seq:u64be | expires_at:u64be
    for (const auto& [seq, rec] : committed_.records) {
      Bytes value(16);
      PutBigEndian64(seq, value.data());
      PutBigEndian64(static_cast<uint64_t>(rec.expires_at), value.data() + 8);
      expected.emplace(DedupKey(rec), std::move(value));
    }
    std::map<Bytes, Bytes> held;
    auto txn = store::Txn::BeginRead(store_->env());
    STORE_CHECK(txn.ok(), "a read transaction: " + Describe(txn));
    auto dedup = txn->OpenDb("dedup_by_id", 0);
    STORE_CHECK(dedup.ok(), "the dedup table: " + Describe(dedup));
    auto cursor = store::Cursor::Open(*txn, *dedup);
    STORE_CHECK(cursor.ok(), "a dedup cursor: " + Describe(cursor));
    auto entry = cursor->First();
    for (; entry.ok() && *entry; entry = cursor->Next()) {
      held.emplace(Bytes((*entry)->key.begin(), (*entry)->key.end()), Bytes((*entry)->value.begin(), (*entry)->value.end()));
    }
    STORE_CHECK(entry.ok(), "reading the dedup table: " + Describe(entry));
    STORE_CHECK(held == expected, "the dedup table holds " + std::to_string(held.size()) + " records, the model " +
                                      std::to_string(expected.size()) + " (or their seqs or expiries differ)");
  }

  const TempDir& dir_;
  FakeClock clock_;
  fuzz::SplitMix64 rng_;
  fuzz::StoreConfig config_;
  MailboxStoreOptions options_;
  std::unique_ptr<MailboxStore> store_;
  std::optional<Bytes> sweep_resume_after_;  // the model of the store's sweep position
  std::optional<WriteBatch> batch_;
  Model committed_;
  Model staged_;  // committed_ plus the open batch's writes; meaningful while batch_ is set
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const TempDir dir;
  if (size < 8) return 0;
  ByteReader reader(liaison::ByteView(data, size));
  const uint64_t seed = reader.U64();
  g_trace.clear();
  {
    Harness harness(dir, seed);
    harness.Run(reader);
  }
  if (liaison::fuzz::TraceEnabled()) std::fprintf(stderr, "%s---\n", g_trace.c_str());
  return 0;
}
