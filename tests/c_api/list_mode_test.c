/* The C API against a real relay in list mode: messages both ways, the listen callback with its
 * user context (and a callback calling back into its own handle), calls from two threads on one
 * handle, and a relay that goes down (kUnavailable, the message kept queued, sent after). */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cases.h"
#include "harness.h"

/* A device `address` in `dir`/`name`, registered with the relay, its keys published (a sync) so
 * that others can start sessions with it. */
static liaison_client* make_device(harness_relay* relay, const char* dir, const char* name, const char* address,
                                   int64_t timeout_ms) {
  liaison_client_options options = harness_options(relay, harness_path(dir, name), timeout_ms);
  liaison_client* client = NULL;
  REQUIRE_OK(liaison_client_create(&options, address, &client));
  harness_relay_register(relay, client);
  REQUIRE_OK(liaison_client_sync(client, NULL));
  return client;
}

static size_t outbox_size(liaison_client* client) {
  size_t size = 0;
  REQUIRE_OK(liaison_client_outbox_size(client, &size));
  return size;
}

/* Syncs and returns the number of new messages (or aborts). */
static size_t sync_received(liaison_client* client) {
  liaison_sync_report* report = NULL;
  REQUIRE_OK(liaison_client_sync(client, &report));
  const size_t received = report->received;
  CHECK(report->rejected == 0);
  CHECK(report->error_count == 0);
  liaison_sync_report_free(report);
  return received;
}

typedef struct concurrent_reader {
  liaison_client* client;
  int failures;
} concurrent_reader;

static void* read_repeatedly(void* arg) {
  concurrent_reader* reader = arg;
  for (int i = 0; i < 25; ++i) {
    liaison_inbox* inbox = NULL;
    size_t size = 0;
    if (liaison_client_inbox(reader->client, &inbox) != LIAISON_OK || inbox->count != 2) ++reader->failures;
    liaison_inbox_free(inbox);
    if (liaison_client_outbox_size(reader->client, &size) != LIAISON_OK) ++reader->failures;
  }
  return NULL;
}

void test_send_and_receive(void) {
  harness_relay relay;
  harness_relay_init(&relay);
  harness_relay_start(&relay);
  const char* dir = harness_temp_dir();
  liaison_client* alice = make_device(&relay, dir, "alice", "alice/1", 3000);
  liaison_client* bob = make_device(&relay, dir, "bob", "bob/1", 3000);

  liaison_send_receipt* receipt = NULL;
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "Hallo Bob, Grüße aus Dresden", 0, &receipt));
  CHECK(receipt->stored == 1);
  CHECK(strlen(receipt->id) == 32);
  CHECK(outbox_size(alice) == 0);
  CHECK(sync_received(bob) == 1);
  CHECK(sync_received(bob) == 0);  /* once */

  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(bob, &inbox));
  REQUIRE(inbox->count == 1);
  const liaison_message* m = inbox->messages[0];
  CHECK_STR(m->id, receipt->id);
  CHECK_STR(m->kind, "text");
  CHECK_STR(m->sender, "alice/1");
  CHECK_STR(m->sender_name, "");  /* list mode */
  CHECK_STR(m->text, "Hallo Bob, Grüße aus Dresden");
  CHECK(m->text_size == strlen("Hallo Bob, Grüße aus Dresden"));
  CHECK(m->stored_at > 0 && m->received_at > 0);
  CHECK_STR(m->title, "");
  CHECK_STR(m->answer, "");
  CHECK(m->read_at == 0 && m->acknowledged_at == 0);
  liaison_inbox_free(inbox);
  liaison_send_receipt_free(receipt);

  /* A reply to the member (each of its devices). */
  REQUIRE_OK(liaison_client_send(bob, "alice", "Danke!", 0, NULL));
  CHECK(sync_received(alice) == 1);
  REQUIRE_OK(liaison_client_inbox(alice, &inbox));
  REQUIRE(inbox->count == 1);
  CHECK_STR(inbox->messages[0]->text, "Danke!");
  CHECK_STR(inbox->messages[0]->sender, "bob/1");
  liaison_inbox_free(inbox);

  /* Calls on one handle from two threads are serialised. */
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "zweite", 3600, NULL));  /* kept an hour at most */
  CHECK(sync_received(bob) == 1);
  concurrent_reader readers[2] = {{bob, 0}, {bob, 0}};
  pthread_t threads[2];
  for (int i = 0; i < 2; ++i) REQUIRE(pthread_create(&threads[i], NULL, read_repeatedly, &readers[i]) == 0);
  for (int i = 0; i < 2; ++i) REQUIRE(pthread_join(threads[i], NULL) == 0);
  CHECK(readers[0].failures == 0 && readers[1].failures == 0);

  liaison_client_free(alice);
  liaison_client_free(bob);
  harness_relay_stop(&relay);
}

/* The user context of the listen callback. */
typedef struct listen_context {
  liaison_client* self;   /* the listening handle */
  liaison_client* other;  /* another handle */
  size_t calls;
  char texts[4][64];
  liaison_code reentrant;  /* what a call on `self` from inside the callback returned */
  liaison_code on_other;   /* what a call on `other` returned */
} listen_context;

static void on_message(void* user_data, const liaison_message* message) {
  listen_context* context = user_data;
  if (context->calls < 4) snprintf(context->texts[context->calls], sizeof context->texts[0], "%s", message->text);
  ++context->calls;
  context->reentrant = liaison_client_sync(context->self, NULL);
  size_t size = 0;
  context->on_other = liaison_client_outbox_size(context->other, &size);
}

void test_listen_callback(void) {
  harness_relay relay;
  harness_relay_init(&relay);
  harness_relay_start(&relay);
  const char* dir = harness_temp_dir();
  liaison_client* alice = make_device(&relay, dir, "alice", "alice/1", 3000);
  liaison_client* bob = make_device(&relay, dir, "bob", "bob/1", 3000);
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "eins", 0, NULL));
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "zwei", 0, NULL));

  listen_context context;
  memset(&context, 0, sizeof context);
  context.self = bob;
  context.other = alice;
  context.reentrant = LIAISON_OK;
  context.on_other = LIAISON_INTERNAL;
  liaison_sync_report* report = NULL;
  REQUIRE_OK(liaison_client_listen(bob, 1500, on_message, &context, &report));
  CHECK_STR(liaison_last_error(), "");  /* the listen's own outcome, not the callback's calls */
  CHECK(report->received == 2);
  CHECK(context.calls == 2);
  CHECK((strcmp(context.texts[0], "eins") == 0 && strcmp(context.texts[1], "zwei") == 0) ||
        (strcmp(context.texts[0], "zwei") == 0 && strcmp(context.texts[1], "eins") == 0));
  CHECK_CODE(context.reentrant, LIAISON_INVALID_ARGUMENT);  /* refused, not deadlocked */
  CHECK_CODE(context.on_other, LIAISON_OK);
  liaison_sync_report_free(report);

  /* Without a callback, messages are stored all the same. */
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "drei", 0, NULL));
  REQUIRE_OK(liaison_client_listen(bob, 700, NULL, NULL, &report));
  CHECK(report->received == 1);
  liaison_sync_report_free(report);
  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(bob, &inbox));
  CHECK(inbox->count == 3);
  liaison_inbox_free(inbox);

  liaison_client_free(alice);
  liaison_client_free(bob);
  harness_relay_stop(&relay);
}

void test_relay_down(void) {
  harness_relay relay;
  harness_relay_init(&relay);
  harness_relay_start(&relay);
  const char* dir = harness_temp_dir();
  liaison_client* alice = make_device(&relay, dir, "alice", "alice/1", 500);
  liaison_client* bob = make_device(&relay, dir, "bob", "bob/1", 500);
  liaison_client* carol = make_device(&relay, dir, "carol", "carol/1", 500);
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "vorher", 0, NULL));  /* starts the session */
  CHECK(sync_received(bob) == 1);

  harness_relay_stop(&relay);
  /* With a session, the message is queued durably and the send succeeds. */
  liaison_send_receipt* receipt = NULL;
  REQUIRE_OK(liaison_client_send(alice, "bob/1", "waehrenddessen", 0, &receipt));
  CHECK(receipt->stored == 0);
  liaison_send_receipt_free(receipt);
  CHECK(outbox_size(alice) == 1);
  liaison_sync_report* report = (liaison_sync_report*)&relay;  /* poison: must be cleared */
  CHECK_CODE(liaison_client_sync(alice, &report), LIAISON_UNAVAILABLE);
  CHECK(report == NULL);
  CHECK(strlen(liaison_last_error()) > 0);
  CHECK(outbox_size(alice) == 1);  /* kept */
  /* Without a session, one has to be started through the relay: refused, nothing queued. */
  CHECK_CODE(liaison_client_send(alice, "carol/1", "neu", 0, &receipt), LIAISON_UNAVAILABLE);
  CHECK(receipt == NULL);
  CHECK(outbox_size(alice) == 1);
  CHECK_CODE(liaison_client_sync(bob, NULL), LIAISON_UNAVAILABLE);
  CHECK_CODE(liaison_client_listen(bob, 100, NULL, NULL, NULL), LIAISON_UNAVAILABLE);

  harness_relay_start(&relay);
  REQUIRE_OK(liaison_client_sync(alice, &report));
  CHECK(report->sent == 1);
  CHECK(report->still_queued == 0);
  liaison_sync_report_free(report);
  CHECK(outbox_size(alice) == 0);
  CHECK(sync_received(bob) == 1);
  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(bob, &inbox));
  REQUIRE(inbox->count == 2);
  CHECK_STR(inbox->messages[1]->text, "waehrenddessen");
  liaison_inbox_free(inbox);

  liaison_client_free(alice);
  liaison_client_free(bob);
  liaison_client_free(carol);
  harness_relay_stop(&relay);
}
