/* A minimal C program on liaison's C API: make a device, send a message, receive messages.
 *
 *   send_receive_c create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY
 *       makes the device and prints its card (TOML) for the relay operator to admit it:
 *       liaison-relay register RELAY_DIR CARD_FILE (list mode)
 *   send_receive_c send STATE_DIR RECIPIENT TEXT
 *       encrypts TEXT for RECIPIENT and hands it to the relay (or leaves it queued)
 *   send_receive_c receive STATE_DIR MILLISECONDS
 *       listens for pushes that long; prints "SENDER: TEXT" for each new message
 *
 * Exit status: 0 done, 1 failed (the message names the liaison error code). docs/integrating.md
 * walks through this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liaison/liaison.h"

/* Prints the failure of `what` with this thread's last error and returns 1. */
static int fail(const char* what, liaison_code code) {
  fprintf(stderr, "%s: %s: %s\n", what, liaison_code_name(code), liaison_last_error());
  return 1;
}

/* The listen callback: `user_data` is the counter main() passed in. */
static void on_message(void* user_data, const liaison_message* message) {
  size_t* received = (size_t*)user_data;
  ++*received;
  printf("%s: %s\n", message->sender, message->text);
  fflush(stdout);
}

static int create(const char* state_dir, const char* address, const char* endpoint, const char* relay_key) {
  liaison_client_options options;
  liaison_client_options_init(&options);
  options.state_dir = state_dir;
  options.relay_endpoint = endpoint;
  options.relay_public_key = relay_key;
  liaison_client* client = NULL;
  liaison_code code = liaison_client_create(&options, address, &client);
  if (code != LIAISON_OK) return fail("create", code);
  liaison_device_card* card = NULL;
  code = liaison_client_card(client, &card);
  if (code == LIAISON_OK) fputs(card->toml, stdout);
  liaison_device_card_free(card);
  liaison_client_free(client);
  return code == LIAISON_OK ? 0 : fail("card", code);
}

static int send_text(liaison_client* client, const char* recipient, const char* text) {
  liaison_send_receipt* receipt = NULL;
  const liaison_code code = liaison_client_send(client, recipient, text, 0, &receipt);
  if (code != LIAISON_OK) return fail("send", code);
  printf("%s %s\n", receipt->id, receipt->stored ? "stored" : "queued");
  liaison_send_receipt_free(receipt);
  return 0;
}

static int receive_messages(liaison_client* client, long milliseconds) {
  size_t received = 0;
  liaison_sync_report* report = NULL;
  const liaison_code code = liaison_client_listen(client, milliseconds, on_message, &received, &report);
  if (code != LIAISON_OK) return fail("listen", code);
  fprintf(stderr, "%zu new message(s), %zu rejected\n", received, report->rejected);
  liaison_sync_report_free(report);
  return 0;
}

int main(int argc, char** argv) {
  fprintf(stderr, "liaison %s (built against %s)\n", liaison_version(), LIAISON_VERSION_STRING);
  if (argc == 6 && strcmp(argv[1], "create") == 0) return create(argv[2], argv[3], argv[4], argv[5]);
  const int is_send = argc == 5 && strcmp(argv[1], "send") == 0;
  const int is_receive = argc == 4 && strcmp(argv[1], "receive") == 0;
  if (!is_send && !is_receive) {
    fprintf(stderr, "usage: %s create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY\n"
                    "       %s send STATE_DIR RECIPIENT TEXT\n"
                    "       %s receive STATE_DIR MILLISECONDS\n", argv[0], argv[0], argv[0]);
    return 2;
  }

  liaison_client_options options;
  liaison_client_options_init(&options);
  options.state_dir = argv[2];  /* the relay endpoint and key are stored in the state */
  liaison_client* client = NULL;
  const liaison_code code = liaison_client_open(&options, &client);
  if (code != LIAISON_OK) return fail("open", code);
  const int status = is_send ? send_text(client, argv[3], argv[4]) : receive_messages(client, strtol(argv[3], NULL, 10));
  liaison_client_free(client);
  return status;
}
