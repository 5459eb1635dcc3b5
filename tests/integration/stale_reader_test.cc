// Readers killed inside a read transaction pin old pages (LMDB pitfall L4). The relay clears
// their slots at start (and every minute), after which freed pages are reused again.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;

namespace {

uint64_t FileBytes(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

// Sends `count` envelopes of `size` bytes and has the recipient acknowledge them all.
void Churn(client::RelayConnection& sender, client::RelayConnection& recipient, const std::string& to, int count,
           size_t size) {
  for (int i = 0; i < count; ++i) {
    wire::SendRequest send;
    send.recipient = to;
    send.message_id = crypto::RandomArray<16>();
    send.envelope = Bytes(size, 0x7e);
    REQUIRE(client::ReplyStatus(*sender.Call(wire::FrameType::kSend, send)).ok());
  }
  DrainMailbox(recipient);
}

// A relay with a sender and a recipient, started; `reader_check_seconds` 0 keeps relay.toml's.
struct ChurnRelay {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  RawDevice sender{"sender/1"}, recipient{"recipient/1"};
  zmq::context_t context;
  std::string store, file;
  explicit ChurnRelay(int reader_check_seconds = 0) {
    if (reader_check_seconds > 0) {
      relay.EditConfig("reader_check_seconds = 60", "reader_check_seconds = " + std::to_string(reader_check_seconds));
    }
    relay.Register(sender.address, sender.TransportZ85());
    relay.Register(recipient.address, recipient.TransportZ85());
    relay.Start();
    store = relay.data_dir() + "/store";
    file = store + "/data.mdb";
  }
  // Kills three readers inside read transactions and churns three rounds while they pin pages.
  // Returns the file size when they died.
  uint64_t PinWithDeadReaders(client::RelayConnection& out, client::RelayConnection& in) {
    Churn(out, in, recipient.address, 20, 16 * 1024);
    for (int i = 0; i < 3; ++i) CHECK(RunProgram({LIAISON_STALE_READER_BIN, store}) == 128 + SIGKILL);
    const uint64_t pinned_start = FileBytes(file);
    for (int round = 0; round < 3; ++round) Churn(out, in, recipient.address, 20, 16 * 1024);
    return pinned_start;
  }
};

}  // namespace

TEST_CASE("stale readers left by killed processes are cleared and the store stops growing", "[integration][store]") {
  ChurnRelay r;
  auto& [dir, relay, sender, recipient, context, store, file] = r;
  {
    auto out = sender.Connect(context, relay);
    auto in = recipient.Connect(context, relay);
    // While the dead readers pin the old snapshot, freed pages cannot be reused: the file grows.
    const uint64_t pinned_start = r.PinWithDeadReaders(*out, *in);
    CHECK(FileBytes(file) > pinned_start);
  }
  relay.Stop();
  relay.Start();  // clears the stale slots
  auto out = sender.Connect(context, relay);
  auto in = recipient.Connect(context, relay);
  Churn(*out, *in, recipient.address, 20, 16 * 1024);
  Churn(*out, *in, recipient.address, 20, 16 * 1024);
  const uint64_t settled = FileBytes(file);
  for (int round = 0; round < 5; ++round) Churn(*out, *in, recipient.address, 20, 16 * 1024);
  INFO("data.mdb " << settled << " bytes after clearing, " << FileBytes(file) << " after 5 more rounds");
  CHECK(FileBytes(file) == settled);
}

TEST_CASE("the running relay clears stale readers periodically, without a restart", "[integration][store]") {
  ChurnRelay r(/*reader_check_seconds=*/1);
  auto& [dir, relay, sender, recipient, context, store, file] = r;
  auto out = sender.Connect(context, relay);
  auto in = recipient.Connect(context, relay);
  const uint64_t pinned_start = r.PinWithDeadReaders(*out, *in);
  // Without the periodic check (60 s by default) the file would keep growing from here on.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  Churn(*out, *in, recipient.address, 20, 16 * 1024);
  Churn(*out, *in, recipient.address, 20, 16 * 1024);
  const uint64_t settled = FileBytes(file);
  for (int round = 0; round < 5; ++round) Churn(*out, *in, recipient.address, 20, 16 * 1024);
  INFO("data.mdb " << pinned_start << " bytes when the readers died, " << settled << " after the check, "
                   << FileBytes(file) << " after 5 more rounds");
  CHECK(FileBytes(file) == settled);
}
