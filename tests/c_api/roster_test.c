/* The C API against a real relay in roster mode, with devices enrolled by invitation through
 * liaison_client_enroll and approved with `liaison admin`: alerts with acknowledgements, the
 * sender's tally, the relay's submission receipt and escalation; reports to a desk; safety
 * numbers, key rotation requests and a revoked member. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "harness.h"

typedef struct world {
  harness_roster roster;
  liaison_client* officer;  /* officer-dresden/1 */
  liaison_client* desk;     /* desk-dresden/1 */
  liaison_client* moschee;  /* moschee-dresden/1, association contact */
  liaison_client* verein;   /* verein-dresden/1, association contact of "Verein Dresden" */
  liaison_client* deputy;   /* verein-vertretung/1, the deputy of "Verein Dresden" */
} world;

enum { kDesk = 1, kVerein = 2 };

/* A roster relay with the officer, the mosque and the devices in `which`; each synced once
 * (keys published, roster fetched). */
static void start_world(world* w, int which) {
  memset(w, 0, sizeof *w);
  harness_roster_start(&w->roster);
  const char* officer[] = {"--role", "officer", "--name", "KHK Meyer", "--org", "PD Dresden", "--area",
                           "city:dresden", NULL};
  const char* moschee[] = {"--role", "association_contact", "--name", "Herr Yilmaz", "--org", "Moschee Dresden",
                           "--area", "city:dresden", NULL};
  w->officer = harness_roster_admit(&w->roster, "officer-dresden/1", officer);
  w->moschee = harness_roster_admit(&w->roster, "moschee-dresden/1", moschee);
  if (which & kDesk) {
    const char* desk[] = {"--role", "desk", "--name", "Kontaktstelle", "--org", "PD Dresden", "--area",
                          "city:dresden", NULL};
    w->desk = harness_roster_admit(&w->roster, "desk-dresden/1", desk);
  }
  if (which & kVerein) {
    const char* verein[] = {"--role", "association_contact", "--name", "Frau Nguyen", "--org", "Verein Dresden",
                            "--area", "city:dresden", NULL};
    const char* deputy[] = {"--role", "deputy", "--name", "Frau Owusu", "--org", "Verein Dresden", "--area",
                            "city:dresden", NULL};
    w->verein = harness_roster_admit(&w->roster, "verein-dresden/1", verein);
    w->deputy = harness_roster_admit(&w->roster, "verein-vertretung/1", deputy);
  }
  liaison_client* all[] = {w->officer, w->moschee, w->desk, w->verein, w->deputy};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
    if (all[i] != NULL) REQUIRE_OK(liaison_client_sync(all[i], NULL));
  }
}

static void stop_world(world* w) {
  liaison_client_free(w->officer);
  liaison_client_free(w->desk);
  liaison_client_free(w->moschee);
  liaison_client_free(w->verein);
  liaison_client_free(w->deputy);
  harness_relay_stop(&w->roster.relay);
}

static liaison_sync_report* sync_report(liaison_client* client) {
  liaison_sync_report* report = NULL;
  REQUIRE_OK(liaison_client_sync(client, &report));
  CHECK(report->roster_alarms == 0);
  return report;
}

static const liaison_recipient_status* find_recipient(const liaison_alert_status* status, const char* device) {
  for (size_t i = 0; i < status->recipient_count; ++i) {
    if (strcmp(status->recipients[i]->device, device) == 0) return status->recipients[i];
  }
  return NULL;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The receipt verifies under the relay's key in relay.sign.pub, and fails when altered. */
static void check_submission_receipt(const world* w, const char* id, const liaison_submission_receipt* receipt) {
  REQUIRE(receipt != NULL);
  char* key = harness_read_line(harness_path(w->roster.relay.dir, "relay.sign.pub"));
  REQUIRE(key != NULL);
  CHECK_STR(receipt->relay_signing_key, key);
  CHECK(receipt->copies >= 1);
  CHECK_CODE(liaison_verify_submission_receipt(id, receipt, key), LIAISON_OK);
  liaison_submission_receipt altered = *receipt;
  altered.copies = receipt->copies + 1;
  CHECK_CODE(liaison_verify_submission_receipt(id, &altered, key), LIAISON_UNAUTHENTICATED);
  CHECK_CODE(liaison_verify_submission_receipt("00112233445566778899aabbccddeeff", receipt, key),
             LIAISON_UNAUTHENTICATED);
  free(key);
}

void test_alerts(void) {
  world w;
  start_world(&w, kVerein);

  /* Refusals first: the wrong role, nobody selected, a malformed selection, a long title. */
  liaison_alert_request alert;
  liaison_alert_request_init(&alert);
  alert.to = "area:city:dresden role:association_contact";
  alert.severity = LIAISON_SEVERITY_URGENT;
  alert.title = "Hinweis auf Drohlage";
  alert.body = "Bitte heute keine Veranstaltungen ohne Ruecksprache.";
  alert.ack_required = 1;
  const liaison_escalation rules = {1, 2};  /* remind after 1 s, deputies after 2 s */
  alert.escalation = &rules;
  liaison_broadcast_receipt* receipt = NULL;
  CHECK_CODE(liaison_client_send_alert(w.moschee, &alert, &receipt), LIAISON_PERMISSION_DENIED);
  CHECK(receipt == NULL);
  liaison_alert_request other = alert;
  other.to = "member:nobody";
  CHECK_CODE(liaison_client_send_alert(w.officer, &other, &receipt), LIAISON_NOT_FOUND);
  other.to = "colour:blue";
  CHECK_CODE(liaison_client_send_alert(w.officer, &other, &receipt), LIAISON_INVALID_ARGUMENT);
  char long_title[210];
  memset(long_title, 't', 201);
  long_title[201] = '\0';
  other = alert;
  other.title = long_title;
  CHECK_CODE(liaison_client_send_alert(w.officer, &other, &receipt), LIAISON_INVALID_ARGUMENT);
  other = alert;
  other.body = "";
  CHECK_CODE(liaison_client_send_alert(w.officer, &other, &receipt), LIAISON_INVALID_ARGUMENT);

  REQUIRE_OK(liaison_client_send_alert(w.officer, &alert, &receipt));
  const double sent_at = now_seconds();
  CHECK(receipt->recipients == 2);  /* moschee-dresden/1, verein-dresden/1 */
  CHECK(receipt->stored == 2);
  char id[40];
  snprintf(id, sizeof id, "%s", receipt->id);
  CHECK(strlen(id) == 32);
  liaison_broadcast_receipt_free(receipt);

  /* The mosque reads and acknowledges; the Verein stays offline. */
  liaison_sync_report* report = sync_report(w.moschee);
  CHECK(report->received == 1);
  liaison_sync_report_free(report);
  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(w.moschee, &inbox));
  REQUIRE(inbox->count == 1);
  const liaison_message* m = inbox->messages[0];
  CHECK_STR(m->id, id);
  CHECK_STR(m->kind, "alert");
  CHECK_STR(m->sender, "officer-dresden/1");
  CHECK_STR(m->sender_name, "KHK Meyer");
  CHECK(m->severity == LIAISON_SEVERITY_URGENT);
  CHECK_STR(m->title, "Hinweis auf Drohlage");
  CHECK_STR(m->text, "Bitte heute keine Veranstaltungen ohne Ruecksprache.");
  CHECK(m->ack_required == 1);
  CHECK(m->expires_at > m->stored_at);
  CHECK(m->read_at == 0 && m->acknowledged_at == 0);
  liaison_inbox_free(inbox);
  REQUIRE_OK(liaison_client_mark_read(w.moschee, id));
  REQUIRE_OK(liaison_client_mark_read(w.moschee, id));  /* a read receipt goes once; no error */
  REQUIRE_OK(liaison_client_acknowledge(w.moschee, id, "Verstanden"));
  CHECK_CODE(liaison_client_acknowledge(w.moschee, id, NULL), LIAISON_ALREADY_EXISTS);
  REQUIRE_OK(liaison_client_inbox(w.moschee, &inbox));
  REQUIRE(inbox->count == 1);
  CHECK(inbox->messages[0]->read_at > 0 && inbox->messages[0]->acknowledged_at > 0);
  CHECK_STR(inbox->messages[0]->answer, "Verstanden");
  liaison_inbox_free(inbox);
  REQUIRE_OK(liaison_client_sync(w.moschee, NULL));

  /* The officer's tally. */
  report = sync_report(w.officer);
  CHECK(report->receipts >= 1);
  size_t escalations = report->escalations;
  liaison_sync_report_free(report);
  liaison_alert_status* status = NULL;
  REQUIRE_OK(liaison_client_alert_status(w.officer, id, &status));
  CHECK_STR(status->id, id);
  CHECK_STR(status->kind, "alert");
  CHECK(status->severity == LIAISON_SEVERITY_URGENT);
  CHECK_STR(status->title, "Hinweis auf Drohlage");
  CHECK(status->ack_required == 1);
  CHECK(status->created_at > 0 && status->expires_at > status->created_at);
  CHECK(status->sent == 2);
  CHECK(status->acknowledged == 1);
  const liaison_recipient_status* mosque = find_recipient(status, "moschee-dresden/1");
  REQUIRE(mosque != NULL);
  CHECK_STR(mosque->member, "moschee-dresden");
  CHECK_STR(mosque->organisation, "Moschee Dresden");
  CHECK(mosque->sent_at > 0 && mosque->delivered_at > 0 && mosque->read_at > 0 && mosque->acknowledged_at > 0);
  CHECK_STR(mosque->answer, "Verstanden");
  CHECK_STR(mosque->refused, "");
  const liaison_recipient_status* verein = find_recipient(status, "verein-dresden/1");
  REQUIRE(verein != NULL);
  CHECK(verein->sent_at > 0 && verein->delivered_at == 0 && verein->acknowledged_at == 0);
  check_submission_receipt(&w, id, status->submission);
  liaison_alert_status_free(status);

  liaison_alert_list* list = NULL;
  REQUIRE_OK(liaison_client_sent_alerts(w.officer, &list));
  REQUIRE(list->count == 1);
  CHECK_STR(list->alerts[0]->id, id);
  CHECK(list->alerts[0]->recipient_count == 2);
  liaison_alert_list_free(list);

  /* Past both intervals: the Verein is reminded, its deputy alerted, and it is marked for a call. */
  const double wait = sent_at + 2.5 - now_seconds();
  if (wait > 0) harness_sleep_ms((long)(wait * 1000));
  size_t ran = 0;
  REQUIRE_OK(liaison_client_run_escalation(w.officer, &ran));
  escalations += ran;
  CHECK(escalations >= 2);  /* the reminder and the deputy's copy, in this run or the sync's */
  REQUIRE_OK(liaison_client_run_escalation(w.officer, &ran));
  CHECK(ran == 0);  /* each rule fires once */
  REQUIRE_OK(liaison_client_alert_status(w.officer, id, &status));
  verein = find_recipient(status, "verein-dresden/1");
  REQUIRE(verein != NULL);
  CHECK(verein->reminded_at > 0);
  CHECK(verein->deputy_notified_at > 0);
  CHECK(verein->call == 1);
  CHECK(verein->via_escalation == 0);
  const liaison_recipient_status* deputy = find_recipient(status, "verein-vertretung/1");
  REQUIRE(deputy != NULL);
  CHECK(deputy->via_escalation == 1);
  CHECK(find_recipient(status, "moschee-dresden/1")->call == 0);
  liaison_alert_status_free(status);
  report = sync_report(w.deputy);
  CHECK(report->received == 1);
  liaison_sync_report_free(report);
  REQUIRE_OK(liaison_client_inbox(w.deputy, &inbox));
  REQUIRE(inbox->count == 1);
  CHECK_STR(inbox->messages[0]->kind, "alert");
  CHECK_STR(inbox->messages[0]->id, id);
  liaison_inbox_free(inbox);

  stop_world(&w);
}

void test_reports(void) {
  world w;
  start_world(&w, kDesk);
  liaison_report_request report_request;
  liaison_report_request_init(&report_request);
  report_request.desk = "desk-dresden";
  report_request.category = LIAISON_CATEGORY_THREAT_LETTER;
  report_request.place = "Moschee, Hauptstrasse 1";
  report_request.when = "gestern 19:30";
  report_request.text = "Drohbrief im Briefkasten";
  liaison_broadcast_receipt* receipt = NULL;
  /* Refusals: officers do not report; the desk must exist and be a desk; place at most 200. */
  CHECK_CODE(liaison_client_send_report(w.officer, &report_request, &receipt), LIAISON_PERMISSION_DENIED);
  liaison_report_request other = report_request;
  other.desk = "nobody";
  CHECK_CODE(liaison_client_send_report(w.moschee, &other, &receipt), LIAISON_NOT_FOUND);
  other.desk = "officer-dresden";
  CHECK_CODE(liaison_client_send_report(w.moschee, &other, &receipt), LIAISON_INVALID_ARGUMENT);
  char long_place[210];
  memset(long_place, 'p', 201);
  long_place[201] = '\0';
  other = report_request;
  other.place = long_place;
  CHECK_CODE(liaison_client_send_report(w.moschee, &other, &receipt), LIAISON_INVALID_ARGUMENT);
  CHECK(receipt == NULL);

  REQUIRE_OK(liaison_client_send_report(w.moschee, &report_request, &receipt));
  CHECK(receipt->recipients == 1);
  CHECK(receipt->stored == 1);
  char id[40];
  snprintf(id, sizeof id, "%s", receipt->id);
  liaison_broadcast_receipt_free(receipt);

  liaison_sync_report* report = sync_report(w.desk);
  CHECK(report->received == 1);
  liaison_sync_report_free(report);
  liaison_inbox* inbox = NULL;
  REQUIRE_OK(liaison_client_inbox(w.desk, &inbox));
  REQUIRE(inbox->count == 1);
  const liaison_message* m = inbox->messages[0];
  CHECK_STR(m->id, id);
  CHECK_STR(m->kind, "report");
  CHECK_STR(m->sender, "moschee-dresden/1");
  CHECK_STR(m->sender_name, "Herr Yilmaz");
  CHECK(m->category == LIAISON_CATEGORY_THREAT_LETTER);
  CHECK_STR(m->place, "Moschee, Hauptstrasse 1");
  CHECK_STR(m->when, "gestern 19:30");
  CHECK_STR(m->text, "Drohbrief im Briefkasten");
  CHECK(m->ack_required == 1);
  liaison_inbox_free(inbox);
  REQUIRE_OK(liaison_client_acknowledge(w.desk, id, NULL));
  REQUIRE_OK(liaison_client_sync(w.desk, NULL));

  report = sync_report(w.moschee);
  CHECK(report->receipts >= 1);
  liaison_sync_report_free(report);
  liaison_alert_status* status = NULL;
  REQUIRE_OK(liaison_client_alert_status(w.moschee, id, &status));
  CHECK_STR(status->kind, "report");
  CHECK(status->category == LIAISON_CATEGORY_THREAT_LETTER);
  CHECK(status->recipient_count == 1);
  CHECK(status->acknowledged == 1);
  REQUIRE(status->recipient_count == 1);
  CHECK_STR(status->recipients[0]->device, "desk-dresden/1");
  CHECK(status->recipients[0]->acknowledged_at > 0);
  CHECK_STR(status->recipients[0]->answer, "");
  check_submission_receipt(&w, id, status->submission);
  liaison_alert_status_free(status);
  stop_world(&w);
}

static liaison_verification* verify(liaison_client* client, const char* member) {
  liaison_verification* verification = NULL;
  REQUIRE_OK(liaison_client_verify(client, member, &verification));
  return verification;
}

void test_verification_and_revocation(void) {
  world w;
  start_world(&w, 0);

  liaison_verification* at_officer = verify(w.officer, "moschee-dresden");
  liaison_verification* at_mosque = verify(w.moschee, "officer-dresden");
  CHECK_STR(at_officer->member, "moschee-dresden");
  CHECK_STR(at_officer->safety_number, at_mosque->safety_number);
  CHECK_STR(at_officer->qr_text, at_mosque->qr_text);
  CHECK(strlen(at_officer->safety_number) == 60 + 11);
  CHECK(at_officer->verified == 0 && at_officer->changed_since_verification == 0);
  char wrong[80];
  snprintf(wrong, sizeof wrong, "%s", at_officer->safety_number);
  wrong[0] = wrong[0] == '1' ? '2' : '1';
  CHECK_CODE(liaison_client_mark_verified(w.officer, "moschee-dresden", wrong), LIAISON_UNAUTHENTICATED);
  REQUIRE_OK(liaison_client_mark_verified(w.officer, "moschee-dresden", at_mosque->safety_number));
  liaison_verification_free(at_officer);
  liaison_verification_free(at_mosque);
  at_officer = verify(w.officer, "moschee-dresden");
  CHECK(at_officer->verified == 1);
  liaison_verification_free(at_officer);
  liaison_verification* none = NULL;
  CHECK_CODE(liaison_client_verify(w.officer, "nobody", &none), LIAISON_NOT_FOUND);
  CHECK(none == NULL);

  /* A key rotation request, the same until the coordinator approves it. */
  char* rotation = NULL;
  char* again = NULL;
  REQUIRE_OK(liaison_client_request_key_rotation(w.officer, &rotation));
  REQUIRE_OK(liaison_client_request_key_rotation(w.officer, &again));
  CHECK(strlen(rotation) > 0);
  CHECK_STR(again, rotation);
  liaison_string_free(rotation);
  liaison_string_free(again);

  /* Revocation: the officer no longer sends to the mosque, and the mosque's device is refused. */
  REQUIRE_OK(liaison_client_send(w.officer, "moschee-dresden/1", "vorher", 0, NULL));
  liaison_sync_report* report = sync_report(w.officer);
  const uint64_t epoch_before = report->roster_epoch;
  liaison_sync_report_free(report);
  harness_roster_revoke(&w.roster, "moschee-dresden");
  report = sync_report(w.officer);
  CHECK(report->roster_epoch == epoch_before + 1);
  liaison_sync_report_free(report);
  liaison_send_receipt* receipt = NULL;
  CHECK_CODE(liaison_client_send(w.officer, "moschee-dresden/1", "nachher", 0, &receipt), LIAISON_NOT_FOUND);
  CHECK(receipt == NULL);
  CHECK(strstr(liaison_last_error(), "roster") != NULL);
  CHECK_CODE(liaison_client_send(w.moschee, "officer-dresden/1", "noch da?", 0, &receipt), LIAISON_PERMISSION_DENIED);
  CHECK(receipt == NULL);
  size_t queued = 9;
  REQUIRE_OK(liaison_client_outbox_size(w.moschee, &queued));
  CHECK(queued == 0);  /* refused, not queued */
  CHECK_CODE(liaison_client_sync(w.moschee, NULL), LIAISON_PERMISSION_DENIED);

  stop_world(&w);
}
