/* The C API without a running relay: version and value functions, every argument check, and the
 * per-thread last error. */
#define _XOPEN_SOURCE 700
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "harness.h"

/* A non-NULL value to preset out-pointers with, to see that failing calls clear them. */
static void* const kPoison = (void*)&harness_failures;

void test_version_and_values(void) {
  CHECK_STR(liaison_version(), LIAISON_VERSION_STRING);
  CHECK(liaison_version_number() == LIAISON_VERSION_NUMBER);
  CHECK(LIAISON_VERSION_NUMBER == LIAISON_VERSION_MAJOR * 1000000 + LIAISON_VERSION_MINOR * 1000 + LIAISON_VERSION_PATCH);

  CHECK_STR(liaison_code_name(LIAISON_OK), "ok");
  CHECK_STR(liaison_code_name(LIAISON_UNAVAILABLE), "unavailable");
  CHECK_STR(liaison_code_name(LIAISON_CONFLICT), "conflict");
  CHECK_STR(liaison_code_name((liaison_code)99), "unknown code");
  /* The numeric values are part of the ABI. */
  CHECK(LIAISON_INVALID_ARGUMENT == 1 && LIAISON_NOT_FOUND == 2 && LIAISON_PERMISSION_DENIED == 7);
  CHECK(LIAISON_UNAVAILABLE == 10 && LIAISON_INTERNAL == 16 && LIAISON_CONFLICT == 17);

  CHECK_STR(liaison_severity_name(LIAISON_SEVERITY_URGENT), "urgent");
  CHECK(liaison_severity_name((liaison_severity)0) == NULL);
  CHECK_STR(liaison_category_name(LIAISON_CATEGORY_THREAT_LETTER), "threat-letter");
  CHECK(liaison_category_name((liaison_report_category)5) == NULL);
  liaison_severity severity = LIAISON_SEVERITY_INFO;
  CHECK_CODE(liaison_parse_severity("warning", &severity), LIAISON_OK);
  CHECK(severity == LIAISON_SEVERITY_WARNING);
  CHECK_STR(liaison_last_error(), "");
  CHECK_CODE(liaison_parse_severity("loud", &severity), LIAISON_INVALID_ARGUMENT);
  CHECK(strlen(liaison_last_error()) > 0);
  CHECK(liaison_last_error_code() == LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_parse_severity(NULL, &severity), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_parse_severity("info", NULL), LIAISON_INVALID_ARGUMENT);
  liaison_report_category category = LIAISON_CATEGORY_OTHER;
  CHECK_CODE(liaison_parse_category("damage", &category), LIAISON_OK);
  CHECK(category == LIAISON_CATEGORY_DAMAGE);
  CHECK_CODE(liaison_parse_category("graffiti", &category), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_parse_category(NULL, &category), LIAISON_INVALID_ARGUMENT);

  /* Frees accept NULL. */
  liaison_string_free(NULL);
  liaison_client_free(NULL);
  liaison_device_card_free(NULL);
  liaison_send_receipt_free(NULL);
  liaison_sync_report_free(NULL);
  liaison_inbox_free(NULL);
  liaison_broadcast_receipt_free(NULL);
  liaison_alert_status_free(NULL);
  liaison_alert_list_free(NULL);
  liaison_verification_free(NULL);
  CHECK(liaison_client_address(NULL) == NULL);

  /* Receipt verification rejects what is malformed before any cryptography. */
  liaison_submission_receipt receipt;
  memset(&receipt, 0, sizeof receipt);
  CHECK_CODE(liaison_verify_submission_receipt("00", &receipt, "00"), LIAISON_INVALID_ARGUMENT);
  receipt.body_hash = "zz";
  receipt.signature = "zz";
  CHECK_CODE(liaison_verify_submission_receipt("00112233445566778899aabbccddeeff", &receipt, "00"),
             LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_verify_submission_receipt(NULL, &receipt, "00"), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_verify_submission_receipt("00", NULL, "00"), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_verify_submission_receipt("00", &receipt, NULL), LIAISON_INVALID_ARGUMENT);
}

/* Every function that takes a handle refuses NULL, and clears its out-pointers. */
static void check_null_handle(void) {
  liaison_device_card* card = kPoison;
  CHECK_CODE(liaison_client_card(NULL, &card), LIAISON_INVALID_ARGUMENT);
  CHECK(card == NULL);
  CHECK(strstr(liaison_last_error(), "NULL") != NULL);
  liaison_send_receipt* receipt = kPoison;
  CHECK_CODE(liaison_client_send(NULL, "bob/1", "hi", 0, &receipt), LIAISON_INVALID_ARGUMENT);
  CHECK(receipt == NULL);
  liaison_sync_report* report = kPoison;
  CHECK_CODE(liaison_client_sync(NULL, &report), LIAISON_INVALID_ARGUMENT);
  CHECK(report == NULL);
  report = kPoison;
  CHECK_CODE(liaison_client_listen(NULL, 10, NULL, NULL, &report), LIAISON_INVALID_ARGUMENT);
  CHECK(report == NULL);
  liaison_inbox* inbox = kPoison;
  CHECK_CODE(liaison_client_inbox(NULL, &inbox), LIAISON_INVALID_ARGUMENT);
  CHECK(inbox == NULL);
  size_t size = 7;
  CHECK_CODE(liaison_client_outbox_size(NULL, &size), LIAISON_INVALID_ARGUMENT);
  CHECK(size == 0);
  liaison_alert_request alert;
  liaison_alert_request_init(&alert);
  liaison_broadcast_receipt* broadcast = kPoison;
  CHECK_CODE(liaison_client_send_alert(NULL, &alert, &broadcast), LIAISON_INVALID_ARGUMENT);
  CHECK(broadcast == NULL);
  liaison_report_request report_request;
  liaison_report_request_init(&report_request);
  broadcast = kPoison;
  CHECK_CODE(liaison_client_send_report(NULL, &report_request, &broadcast), LIAISON_INVALID_ARGUMENT);
  CHECK(broadcast == NULL);
  liaison_alert_status* status = kPoison;
  CHECK_CODE(liaison_client_alert_status(NULL, "00", &status), LIAISON_INVALID_ARGUMENT);
  CHECK(status == NULL);
  liaison_alert_list* list = kPoison;
  CHECK_CODE(liaison_client_sent_alerts(NULL, &list), LIAISON_INVALID_ARGUMENT);
  CHECK(list == NULL);
  CHECK_CODE(liaison_client_mark_read(NULL, "00"), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_acknowledge(NULL, "00", NULL), LIAISON_INVALID_ARGUMENT);
  size = 7;
  CHECK_CODE(liaison_client_run_escalation(NULL, &size), LIAISON_INVALID_ARGUMENT);
  CHECK(size == 0);
  char* text = kPoison;
  CHECK_CODE(liaison_client_request_key_rotation(NULL, &text), LIAISON_INVALID_ARGUMENT);
  CHECK(text == NULL);
  liaison_verification* verification = kPoison;
  CHECK_CODE(liaison_client_verify(NULL, "bob", &verification), LIAISON_INVALID_ARGUMENT);
  CHECK(verification == NULL);
  CHECK_CODE(liaison_client_mark_verified(NULL, "bob", "1"), LIAISON_INVALID_ARGUMENT);
}

/* Options, create, open and enroll. */
static void check_handles(const harness_relay* relay, const char* dir) {
  liaison_client* client = kPoison;
  liaison_client_options options = harness_options(relay, harness_path(dir, "a"), 200);

  CHECK_CODE(liaison_client_create(NULL, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  CHECK(client == NULL);
  CHECK_CODE(liaison_client_create(&options, "alice/1", NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_create(&options, NULL, &client), LIAISON_INVALID_ARGUMENT);
  liaison_client_options uninitialised = options;
  uninitialised.struct_size = 0;  /* what a zeroed struct without _init holds */
  CHECK_CODE(liaison_client_create(&uninitialised, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  CHECK(strstr(liaison_last_error(), "struct_size") != NULL);
  liaison_client_options no_dir = options;
  no_dir.state_dir = NULL;
  CHECK_CODE(liaison_client_create(&no_dir, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  liaison_client_options negative = options;
  negative.timeout_ms = -1;
  CHECK_CODE(liaison_client_create(&negative, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  liaison_client_options bad_key = options;
  bad_key.relay_public_key = "not a Z85 key";
  CHECK_CODE(liaison_client_create(&bad_key, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  liaison_client_options bad_coordinator = options;
  bad_coordinator.coordinator_key = "xyz";
  CHECK_CODE(liaison_client_create(&bad_coordinator, "alice/1", &client), LIAISON_INVALID_ARGUMENT);
  /* Bad addresses: empty and longer than 64 bytes. */
  CHECK_CODE(liaison_client_create(&options, "", &client), LIAISON_INVALID_ARGUMENT);
  char long_address[80];
  memset(long_address, 'a', 70);
  long_address[70] = '\0';
  CHECK_CODE(liaison_client_create(&options, long_address, &client), LIAISON_INVALID_ARGUMENT);
  CHECK(client == NULL);

  liaison_client_options missing = options;
  missing.state_dir = harness_path(dir, "nobody");
  CHECK_CODE(liaison_client_open(&missing, &client), LIAISON_NOT_FOUND);
  CHECK(client == NULL);
  CHECK_CODE(liaison_client_open(&options, NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_open(NULL, &client), LIAISON_INVALID_ARGUMENT);

  char* request = kPoison;
  liaison_client_options enroll = options;
  enroll.state_dir = harness_path(dir, "enrolled");
  CHECK_CODE(liaison_client_enroll(&enroll, "liaison-invitation-v1:garbage", &client, &request), LIAISON_MALFORMED);
  CHECK(client == NULL && request == NULL);
  CHECK_CODE(liaison_client_enroll(&enroll, NULL, &client, &request), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_enroll(&enroll, "x", &client, NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_enroll(&enroll, "x", NULL, &request), LIAISON_INVALID_ARGUMENT);

  REQUIRE_OK(liaison_client_create(&options, "alice/1", &client));
  CHECK_STR(liaison_last_error(), "");  /* a success clears the last error */
  CHECK_STR(liaison_client_address(client), "alice/1");
  liaison_client* again = kPoison;
  /* While a client has the state directory open, no second one may open it. */
  CHECK_CODE(liaison_client_create(&options, "alice/1", &again), LIAISON_CONFLICT);
  CHECK(again == NULL);
  liaison_client_free(client);
  again = kPoison;
  CHECK_CODE(liaison_client_create(&options, "alice/1", &again), LIAISON_ALREADY_EXISTS);
  CHECK(again == NULL);
  /* Reopened from the stored endpoint and key. */
  liaison_client_options reopen;
  liaison_client_options_init(&reopen);
  reopen.state_dir = options.state_dir;
  REQUIRE_OK(liaison_client_open(&reopen, &client));
  CHECK_STR(liaison_client_address(client), "alice/1");
  liaison_client_free(client);
}

/* The calls on a live handle that fail before reaching the relay. */
static void check_client_arguments(liaison_client* client) {
  liaison_device_card* card = NULL;
  CHECK_CODE(liaison_client_card(client, NULL), LIAISON_INVALID_ARGUMENT);
  REQUIRE_OK(liaison_client_card(client, &card));
  CHECK_STR(card->address, "alice/1");
  CHECK(strlen(card->transport_key) == 40);
  CHECK(strlen(card->signing_key) == 64 && strlen(card->dh_key) == 64);
  CHECK(strstr(card->toml, card->transport_key) != NULL);
  liaison_device_card_free(card);

  liaison_send_receipt* receipt = kPoison;
  CHECK_CODE(liaison_client_send(client, "bob/1", "", 0, &receipt), LIAISON_INVALID_ARGUMENT);  /* empty text */
  CHECK(receipt == NULL);
  CHECK_CODE(liaison_client_send(client, "bob/1", NULL, 0, &receipt), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_send(client, NULL, "hi", 0, &receipt), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_send(client, "", "hi", 0, &receipt), LIAISON_INVALID_ARGUMENT);  /* bad address */
  CHECK_CODE(liaison_client_send(client, "bob/1", "hi", -1, &receipt), LIAISON_INVALID_ARGUMENT);  /* ttl */
  char* big = malloc(65537 + 1);
  REQUIRE(big != NULL);
  memset(big, 'x', 65537);
  big[65537] = '\0';
  CHECK_CODE(liaison_client_send(client, "bob/1", big, 0, &receipt), LIAISON_INVALID_ARGUMENT);
  free(big);

  CHECK_CODE(liaison_client_listen(client, -1, NULL, NULL, NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_inbox(client, NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_outbox_size(client, NULL), LIAISON_INVALID_ARGUMENT);
  size_t outbox = 9;
  REQUIRE_OK(liaison_client_outbox_size(client, &outbox));
  CHECK(outbox == 0);
  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(client, &inbox));
  CHECK(inbox->count == 0);
  liaison_inbox_free(inbox);

  /* Invalid ids, unknown ids. */
  liaison_alert_status* status = kPoison;
  CHECK_CODE(liaison_client_alert_status(client, "not hex", &status), LIAISON_INVALID_ARGUMENT);
  CHECK(status == NULL);
  CHECK_CODE(liaison_client_alert_status(client, "00112233445566778899aabbccddeeff", &status), LIAISON_NOT_FOUND);
  CHECK_CODE(liaison_client_alert_status(client, NULL, &status), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_alert_status(client, "00", NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_mark_read(client, "00112233445566778899aabbccddeeff"), LIAISON_NOT_FOUND);
  CHECK_CODE(liaison_client_mark_read(client, "1234"), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_mark_read(client, NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_acknowledge(client, "00112233445566778899aabbccddeeff", "ok"), LIAISON_NOT_FOUND);
  CHECK_CODE(liaison_client_acknowledge(client, NULL, NULL), LIAISON_INVALID_ARGUMENT);
  char answer[260];
  memset(answer, 'a', 250);
  answer[250] = '\0';
  CHECK_CODE(liaison_client_acknowledge(client, "00112233445566778899aabbccddeeff", answer), LIAISON_INVALID_ARGUMENT);
  liaison_alert_list* list = NULL;
  CHECK_CODE(liaison_client_sent_alerts(client, NULL), LIAISON_INVALID_ARGUMENT);
  REQUIRE_OK(liaison_client_sent_alerts(client, &list));
  CHECK(list->count == 0);
  liaison_alert_list_free(list);
  size_t escalations = 9;
  REQUIRE_OK(liaison_client_run_escalation(client, &escalations));
  CHECK(escalations == 0);  /* list mode: no rules */
  REQUIRE_OK(liaison_client_run_escalation(client, NULL));

  /* Alerts, reports, safety numbers and key rotation are roster-mode features. */
  liaison_alert_request alert;
  liaison_alert_request_init(&alert);
  alert.to = "all";
  alert.title = "t";
  alert.body = "b";
  liaison_broadcast_receipt* broadcast = kPoison;
  CHECK_CODE(liaison_client_send_alert(client, &alert, &broadcast), LIAISON_INVALID_ARGUMENT);  /* list mode */
  CHECK(broadcast == NULL);
  CHECK_CODE(liaison_client_send_alert(client, NULL, &broadcast), LIAISON_INVALID_ARGUMENT);
  liaison_alert_request bad = alert;
  bad.struct_size = 0;
  CHECK_CODE(liaison_client_send_alert(client, &bad, &broadcast), LIAISON_INVALID_ARGUMENT);
  bad = alert;
  bad.severity = (liaison_severity)9;
  CHECK_CODE(liaison_client_send_alert(client, &bad, &broadcast), LIAISON_INVALID_ARGUMENT);
  CHECK(strstr(liaison_last_error(), "severity") != NULL);
  bad = alert;
  bad.title = NULL;
  CHECK_CODE(liaison_client_send_alert(client, &bad, &broadcast), LIAISON_INVALID_ARGUMENT);
  bad = alert;
  bad.ttl_s = -5;
  CHECK_CODE(liaison_client_send_alert(client, &bad, &broadcast), LIAISON_INVALID_ARGUMENT);
  liaison_escalation negative = {-1, 0};
  bad = alert;
  bad.escalation = &negative;
  CHECK_CODE(liaison_client_send_alert(client, &bad, &broadcast), LIAISON_INVALID_ARGUMENT);

  liaison_report_request report;
  liaison_report_request_init(&report);
  report.desk = "desk";
  report.text = "t";
  CHECK_CODE(liaison_client_send_report(client, &report, &broadcast), LIAISON_INVALID_ARGUMENT);  /* list mode */
  CHECK_CODE(liaison_client_send_report(client, NULL, &broadcast), LIAISON_INVALID_ARGUMENT);
  liaison_report_request bad_report = report;
  bad_report.category = (liaison_report_category)0;
  CHECK_CODE(liaison_client_send_report(client, &bad_report, &broadcast), LIAISON_INVALID_ARGUMENT);
  bad_report = report;
  bad_report.struct_size = 1;
  CHECK_CODE(liaison_client_send_report(client, &bad_report, &broadcast), LIAISON_INVALID_ARGUMENT);
  bad_report = report;
  bad_report.text = NULL;
  CHECK_CODE(liaison_client_send_report(client, &bad_report, &broadcast), LIAISON_INVALID_ARGUMENT);

  liaison_verification* verification = kPoison;
  CHECK_CODE(liaison_client_verify(client, "bob", &verification), LIAISON_INVALID_ARGUMENT);  /* list mode */
  CHECK(verification == NULL);
  CHECK_CODE(liaison_client_verify(client, NULL, &verification), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_verify(client, "bob", NULL), LIAISON_INVALID_ARGUMENT);
  CHECK(liaison_client_mark_verified(client, "bob", "12345") != LIAISON_OK);
  CHECK_CODE(liaison_client_mark_verified(client, NULL, "1"), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_mark_verified(client, "bob", NULL), LIAISON_INVALID_ARGUMENT);
  CHECK_CODE(liaison_client_request_key_rotation(client, NULL), LIAISON_INVALID_ARGUMENT);
  char* rotation = kPoison;
  CHECK(liaison_client_request_key_rotation(client, &rotation) != LIAISON_OK);  /* list mode */
  CHECK(rotation == NULL);
}

void test_bad_arguments(void) {
  harness_relay relay;
  harness_relay_init(&relay);  /* for a valid relay key; never started */
  strcpy(relay.endpoint, "tcp://127.0.0.1:9");
  const char* dir = harness_temp_dir();
  check_null_handle();
  check_handles(&relay, dir);
  liaison_client_options options = harness_options(&relay, harness_path(dir, "a"), 200);
  liaison_client* client = NULL;
  REQUIRE_OK(liaison_client_open(&options, &client));
  check_client_arguments(client);
  liaison_client_free(client);
}

/* A failure on one thread leaves another thread's last error alone. */
static void* fail_on_other_thread(void* result) {
  liaison_severity severity;
  const liaison_code code = liaison_parse_severity("nonsense", &severity);
  const int ok = code == LIAISON_INVALID_ARGUMENT && liaison_last_error_code() == LIAISON_INVALID_ARGUMENT &&
                 strlen(liaison_last_error()) > 0;
  *(int*)result = ok;
  return NULL;
}

void test_last_error_is_per_thread(void) {
  liaison_severity severity;
  REQUIRE_OK(liaison_parse_severity("urgent", &severity));
  CHECK_CODE(liaison_parse_category("unknown", NULL), LIAISON_INVALID_ARGUMENT);
  char before[1100];
  strcpy(before, liaison_last_error());
  int other_ok = 0;
  pthread_t thread;
  REQUIRE(pthread_create(&thread, NULL, fail_on_other_thread, &other_ok) == 0);
  REQUIRE(pthread_join(thread, NULL) == 0);
  CHECK(other_ok);
  CHECK_STR(liaison_last_error(), before);  /* this thread's message is unchanged */
  CHECK(liaison_last_error_code() == LIAISON_INVALID_ARGUMENT);
  REQUIRE_OK(liaison_parse_severity("info", &severity));
  CHECK_STR(liaison_last_error(), "");
  CHECK(liaison_last_error_code() == LIAISON_OK);
}
