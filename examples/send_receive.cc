// A minimal C++ program on liaison's C API: the same three commands as send_receive.c, with
// every library object owned by a std::unique_ptr whose deleter is the object's liaison_*_free,
// and errors turned into exceptions at one place (Check).
//
//   send_receive_cpp create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY   prints the device card
//   send_receive_cpp send STATE_DIR RECIPIENT TEXT
//   send_receive_cpp receive STATE_DIR     syncs once, then prints the inbox ("SENDER: TEXT")
//
// libliaison.so exports only the C API (docs/integrating.md says why), so this is also how C++
// applications use the installed package.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "liaison/liaison.h"

namespace {

// Owning pointers for the library's objects.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Client = std::unique_ptr<liaison_client, Deleter<liaison_client, liaison_client_free>>;
using Card = std::unique_ptr<liaison_device_card, Deleter<liaison_device_card, liaison_device_card_free>>;
using SendReceipt = std::unique_ptr<liaison_send_receipt, Deleter<liaison_send_receipt, liaison_send_receipt_free>>;
using SyncReport = std::unique_ptr<liaison_sync_report, Deleter<liaison_sync_report, liaison_sync_report_free>>;
using Inbox = std::unique_ptr<liaison_inbox, Deleter<liaison_inbox, liaison_inbox_free>>;

// Throws with the code's name and this thread's last error unless `code` is LIAISON_OK.
void Check(liaison_code code, const char* what) {
  if (code != LIAISON_OK) {
    throw std::runtime_error(std::string(what) + ": " + liaison_code_name(code) + ": " + liaison_last_error());
  }
}

liaison_client_options Options(const char* state_dir) {
  liaison_client_options options;
  liaison_client_options_init(&options);
  options.state_dir = state_dir;
  return options;
}

Client Open(const char* state_dir) {
  const liaison_client_options options = Options(state_dir);
  liaison_client* client = nullptr;
  Check(liaison_client_open(&options, &client), "open");
  return Client(client);
}

void Create(const char* state_dir, const char* address, const char* endpoint, const char* relay_key) {
  liaison_client_options options = Options(state_dir);
  options.relay_endpoint = endpoint;
  options.relay_public_key = relay_key;
  liaison_client* raw = nullptr;
  Check(liaison_client_create(&options, address, &raw), "create");
  Client client(raw);
  liaison_device_card* card = nullptr;
  Check(liaison_client_card(client.get(), &card), "card");
  std::fputs(Card(card)->toml, stdout);
}

void Send(const char* state_dir, const char* recipient, const char* text) {
  Client client = Open(state_dir);
  liaison_send_receipt* receipt = nullptr;
  Check(liaison_client_send(client.get(), recipient, text, 0, &receipt), "send");
  SendReceipt owned(receipt);
  std::printf("%s %s\n", owned->id, owned->stored ? "stored" : "queued");
}

void Receive(const char* state_dir) {
  Client client = Open(state_dir);
  liaison_sync_report* report = nullptr;
  Check(liaison_client_sync(client.get(), &report), "sync");
  std::fprintf(stderr, "%zu new message(s)\n", SyncReport(report)->received);
  liaison_inbox* inbox = nullptr;
  Check(liaison_client_inbox(client.get(), &inbox), "inbox");
  Inbox owned(inbox);
  for (size_t i = 0; i < owned->count; ++i) {
    const liaison_message& m = *owned->messages[i];
    std::printf("%s: %s\n", m.sender, m.text);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "create" && argc == 6) {
      Create(argv[2], argv[3], argv[4], argv[5]);
    } else if (command == "send" && argc == 5) {
      Send(argv[2], argv[3], argv[4]);
    } else if (command == "receive" && argc == 3) {
      Receive(argv[2]);
    } else {
      std::fprintf(stderr, "usage: %s create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY | send STATE_DIR RECIPIENT TEXT"
                           " | receive STATE_DIR\n", argv[0]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
