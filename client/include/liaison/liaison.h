/* liaison.h: the C API of the liaison client library (libliaison.so).
 *
 * One device's end of liaison, for C and for anything that calls C (Python ctypes, Rust, Go,
 * Swift, ...). It wraps liaison::Client (client.h) one to one; docs/integrating.md walks through
 * it and through the examples in examples/.
 *
 *   liaison_client_options options;
 *   liaison_client_options_init(&options);
 *   options.state_dir = "/var/lib/myapp/liaison";
 *   liaison_client* client = NULL;
 *   if (liaison_client_open(&options, &client) != LIAISON_OK) {
 *     fprintf(stderr, "open: %s\n", liaison_last_error());
 *   }
 *   liaison_client_send(client, "desk-dresden/1", "hello", 0, NULL);
 *   liaison_client_sync(client, NULL);
 *   liaison_inbox* inbox = NULL;
 *   if (liaison_client_inbox(client, &inbox) == LIAISON_OK) { ... inbox->messages[i]->text ... }
 *   liaison_inbox_free(inbox);
 *   liaison_client_free(client);
 *
 * Contracts that hold for every function below unless its comment says otherwise:
 *
 * Errors. A function that can fail returns a liaison_code: LIAISON_OK (0) or an error whose
 *   numeric value is that of liaison::Code (status.h) and never changes. It also records this
 *   thread's last error: the message of the failure, or the empty string after a success.
 *   liaison_last_error() returns it. The message never holds secrets or message content.
 *   A NULL handle, a NULL required pointer, a string that is not valid for its field or a struct
 *   whose struct_size is too small is LIAISON_INVALID_ARGUMENT. No C++ exception ever leaves the
 *   library: an allocation failure is LIAISON_INTERNAL with the message "out of memory", any other
 *   exception LIAISON_INTERNAL with its description.
 *
 * Ownership. Strings passed in are read during the call only (the library keeps copies).
 *   A result is returned through an out-pointer (`T** out`): the library sets `*out` to NULL on
 *   entry and to a new object on success; the caller owns it and frees it with the function
 *   named beside it (T_free, which accepts NULL). Everything reachable from a result (strings,
 *   arrays, nested structs) belongs to it and lives until it is freed. Out-pointers documented
 *   as optional may be NULL: the result is then discarded. Never allocate result structs
 *   yourself or free them otherwise: later minor versions may append fields to them (a copy by
 *   value holds only the fields your program knows, and borrows the original's pointers).
 *
 * Input structs (liaison_client_options, liaison_alert_request, liaison_report_request) start
 *   with struct_size; fill them with their _init function first (an inline function that sets
 *   struct_size to the size your program was compiled with, and the defaults). A later library
 *   accepts the sizes of earlier versions and uses defaults for fields it did not get.
 *
 * Threads. The library starts no threads and calls callbacks only on the calling thread, from
 *   inside the call that takes them. Functions without a handle may be called from any thread at
 *   any time. Calls on one liaison_client may come from several threads: they are serialised
 *   (a call waits while another runs on the same handle, e.g. for the whole of a listen); calls
 *   on different handles run in parallel. liaison_client_free must not race with other calls on
 *   that handle. A callback must not call functions on the handle that invoked it (they fail with
 *   LIAISON_INVALID_ARGUMENT); it may use other handles. At most one handle per state directory
 *   may be open at a time.
 *
 * Times are microseconds since the Unix epoch (0 = none), durations whole seconds or
 * milliseconds as named. Text is UTF-8 by convention; the library does not check it.
 *
 * Exported symbols: exactly the liaison_* functions declared here (tests/package checks this).
 * The ABI is stable within a major version (SONAME libliaison.so.MAJOR): functions and result
 * fields are only added. */
#ifndef LIAISON_LIAISON_H_
#define LIAISON_LIAISON_H_

#include <stddef.h>
#include <stdint.h>

#include "liaison/version.h"

#if defined(__GNUC__) || defined(__clang__)
#define LIAISON_API __attribute__((visibility("default")))
#else
#define LIAISON_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------------------------- */
/* Thread-safety: any thread, any time. */

/* The version of the loaded library, "MAJOR.MINOR.PATCH" (a static string). Any thread. */
LIAISON_API const char* liaison_version(void);
/* The same as MAJOR * 1000000 + MINOR * 1000 + PATCH, comparable with LIAISON_VERSION_NUMBER. */
LIAISON_API uint32_t liaison_version_number(void);

/* ---- Errors ----------------------------------------------------------------------------- */
/* Thread-safety: any thread, any time; the last error is the calling thread's own. */

/* Enumerations are plain ints with named constants (liaison_code, liaison_severity,
 * liaison_report_category): the same 32-bit integer in every language and ABI, and any value
 * may be passed (the library checks them) without undefined behaviour on either side. */

/* The values of liaison::Code (status.h); stable: store or transmit them freely. */
typedef int liaison_code;
enum {
  LIAISON_OK = 0,
  LIAISON_INVALID_ARGUMENT = 1,    /* the caller passed something malformed or out of range */
  LIAISON_NOT_FOUND = 2,           /* the named thing does not exist */
  LIAISON_ALREADY_EXISTS = 3,      /* creating something that is already there */
  LIAISON_CORRUPTION = 4,          /* stored or received data is inconsistent */
  LIAISON_IO_ERROR = 5,            /* the operating system refused a file or disk operation */
  LIAISON_UNAUTHENTICATED = 6,     /* a signature, MAC or key check failed */
  LIAISON_PERMISSION_DENIED = 7,   /* authenticated, but not allowed (role policy, revoked) */
  LIAISON_MAILBOX_FULL = 8,        /* the recipient's quota is used up; retry after it drains */
  LIAISON_STORE_FULL = 9,          /* the relay's store is full; retry later */
  LIAISON_UNAVAILABLE = 10,        /* the relay could not be reached or did not answer in time */
  LIAISON_UNSUPPORTED_VERSION = 11,/* a frame, envelope or record of a version this build cannot read */
  LIAISON_MALFORMED = 12,          /* bytes that do not follow the grammar (e.g. a damaged invitation) */
  LIAISON_TOO_LARGE = 13,          /* a length above its limit */
  LIAISON_DUPLICATE = 14,          /* the same message was seen before */
  LIAISON_EXPIRED = 15,            /* past its expiry time (e.g. an invitation) */
  LIAISON_INTERNAL = 16,           /* a bug, an unexpected library failure, or out of memory */
  LIAISON_CONFLICT = 17            /* does not follow what is held (stale, repeated, forked) */
};

/* A short lower-case name for `code` ("unavailable"); "unknown code" for values not listed above.
 * A static string; any thread. */
LIAISON_API const char* liaison_code_name(liaison_code code);
/* The message of this thread's last failed call, "" if the last call succeeded or none was made.
 * Valid until this thread's next call into the library; copy it to keep it. Never NULL. */
LIAISON_API const char* liaison_last_error(void);
/* The code of this thread's last call (LIAISON_OK if it succeeded or none was made). */
LIAISON_API liaison_code liaison_last_error_code(void);

/* Frees a string the library returned through a `char**` out-pointer. NULL is fine. Any thread. */
LIAISON_API void liaison_string_free(char* string);

/* ---- Alerts and reports: value types ---------------------------------------------------- */
/* Thread-safety: any thread, any time. */

typedef int liaison_severity;
enum {
  LIAISON_SEVERITY_INFO = 1,
  LIAISON_SEVERITY_WARNING = 2,
  LIAISON_SEVERITY_URGENT = 3
};

typedef int liaison_report_category;
enum {
  LIAISON_CATEGORY_THREAT_LETTER = 1,
  LIAISON_CATEGORY_SUSPICIOUS_EVENT = 2,
  LIAISON_CATEGORY_DAMAGE = 3,
  LIAISON_CATEGORY_OTHER = 4
};

/* "info", "warning", "urgent" / "threat-letter", "suspicious-event", "damage", "other"; NULL for
 * a value not listed. Static strings; any thread. */
LIAISON_API const char* liaison_severity_name(liaison_severity severity);
LIAISON_API const char* liaison_category_name(liaison_report_category category);
/* The inverses. LIAISON_INVALID_ARGUMENT for another name (or NULL arguments). Any thread. */
LIAISON_API liaison_code liaison_parse_severity(const char* name, liaison_severity* out);
LIAISON_API liaison_code liaison_parse_category(const char* name, liaison_report_category* out);

/* ---- The client handle ------------------------------------------------------------------ */
/* Thread-safety: create, enroll and open any thread (on different state directories);
 * liaison_client_card serialised per handle; liaison_client_free and liaison_client_address as
 * stated at each. */

/* One device on its state directory, talking to one relay. Opaque; freed by liaison_client_free. */
typedef struct liaison_client liaison_client;

typedef struct liaison_client_options {
  size_t struct_size;           /* set by liaison_client_options_init */
  const char* state_dir;        /* the device's state directory; required */
  const char* relay_endpoint;   /* e.g. "tcp://relay.example:7400": required by create; for open,
                                   NULL or "" keeps the stored one; ignored by enroll */
  const char* relay_public_key; /* the relay's CURVE key, 40 Z85 characters; as relay_endpoint */
  const char* coordinator_key;  /* create only: the coordinator's Ed25519 key (64 hex) puts the
                                   device in roster mode; NULL or "" is list mode */
  int64_t timeout_ms;           /* how long one request waits for the relay; 0 = 5000 */
} liaison_client_options;

/* Sets struct_size and every field to its default (NULLs, timeout 0 = 5000 ms). */
static inline void liaison_client_options_init(liaison_client_options* options) {
  options->struct_size = sizeof(liaison_client_options);
  options->state_dir = NULL;
  options->relay_endpoint = NULL;
  options->relay_public_key = NULL;
  options->coordinator_key = NULL;
  options->timeout_ms = 0;
}

/* Makes a new device (keys, state directory) for `address` ("member/device", 1..64 bytes) and
 * returns its handle in *out (free with liaison_client_free). Errors: LIAISON_INVALID_ARGUMENT
 * (bad address, missing endpoint or relay key, malformed relay or coordinator key),
 * LIAISON_ALREADY_EXISTS (the directory holds a device), LIAISON_CONFLICT (another handle, in
 * this or another process, has the directory open), LIAISON_IO_ERROR. Needs no relay. */
LIAISON_API liaison_code liaison_client_create(const liaison_client_options* options, const char* address,
                                               liaison_client** out);
/* Makes a new roster-mode device from a coordinator's invitation (the one line `liaison admin
 * invite` prints), taking relay endpoint, relay key, coordinator key and address from it.
 * *out_request receives the enrollment request to hand back to the coordinator (free with
 * liaison_string_free); the device is admitted once the coordinator approved it. Errors as
 * create, and LIAISON_MALFORMED (damaged invitation), LIAISON_EXPIRED (expired invitation). */
LIAISON_API liaison_code liaison_client_enroll(const liaison_client_options* options, const char* invitation,
                                               liaison_client** out, char** out_request);
/* Opens the device in options->state_dir. LIAISON_NOT_FOUND if the directory holds none,
 * LIAISON_CONFLICT if another handle has it open. */
LIAISON_API liaison_code liaison_client_open(const liaison_client_options* options, liaison_client** out);
/* Closes the handle (the state stays on disk). NULL is fine. Not concurrently with other calls
 * on the same handle. */
LIAISON_API void liaison_client_free(liaison_client* client);

/* The device's address; owned by the handle, valid until liaison_client_free. NULL for NULL.
 * Any thread, also during other calls on the handle. Records no last error. */
LIAISON_API const char* liaison_client_address(const liaison_client* client);

/* What a coordinator (or, in list mode, `liaison-relay register`) needs to admit this device. */
typedef struct liaison_device_card {
  const char* address;
  const char* transport_key; /* CURVE public key, Z85 */
  const char* signing_key;   /* Ed25519 public key, hex */
  const char* dh_key;        /* X25519 public key, hex */
  const char* toml;          /* all of the above as the TOML card file `liaison-relay register` reads */
} liaison_device_card;
LIAISON_API liaison_code liaison_client_card(liaison_client* client, liaison_device_card** out);
LIAISON_API void liaison_device_card_free(liaison_device_card* card);

/* ---- Messages --------------------------------------------------------------------------- */
/* Thread-safety: every liaison_client_* function here is serialised per handle (see Threads);
 * the *_free functions may run on any thread, once per object. */

typedef struct liaison_send_receipt {
  const char* id; /* the message id, 32 hex characters */
  int stored;     /* 1: the relay stored every copy; 0: some wait in the outbox for the next sync */
} liaison_send_receipt;
LIAISON_API void liaison_send_receipt_free(liaison_send_receipt* receipt);

/* Encrypts `text` (NUL-terminated, 1..65536 bytes) for `recipient` (a device "member/device", or
 * a member "member": each of its devices), stores it durably in the outbox, then tries to hand it
 * to the relay. `ttl_s` is how long the relay keeps it for a recipient that does not fetch it
 * (0 = 30 days; the relay caps it at its maximum). LIAISON_OK as soon as it is queued; *out
 * (optional) says whether the relay has stored it already. Errors: LIAISON_INVALID_ARGUMENT (empty or long text, bad address),
 * LIAISON_NOT_FOUND (no keys or devices for the recipient; roster mode: not in the roster, e.g.
 * revoked), LIAISON_PERMISSION_DENIED (roster mode: the role policy forbids it, or this device
 * was refused by the relay, e.g. revoked), LIAISON_UNAUTHENTICATED (the recipient's keys fail
 * their checks; nothing queued), LIAISON_UNAVAILABLE (a session had to be started and the relay
 * is unreachable; nothing queued), or the relay's refusal of a copy for good. */
LIAISON_API liaison_code liaison_client_send(liaison_client* client, const char* recipient, const char* text,
                                             int64_t ttl_s, liaison_send_receipt** out);

/* What a sync or listen did (liaison::SyncReport). */
typedef struct liaison_sync_report {
  size_t sent;          /* outbox messages the relay acknowledged as stored */
  size_t failed;        /* messages the relay refused for good since the last report */
  size_t still_queued;  /* outbox messages still waiting (relay unreachable, full, 5xx) */
  size_t received;      /* new messages now in the inbox */
  size_t duplicates;    /* deliveries of messages already in the inbox */
  size_t rejected;      /* deliveries that failed authentication, decoding or policy (dropped) */
  size_t roster_alarms; /* roster mode: forged, rolled-back or split rosters seen (see errors) */
  uint64_t roster_epoch;/* roster mode: the newest epoch this device holds */
  size_t deferred;      /* deliveries left on the relay for later */
  size_t receipts;      /* receipts for this device's alerts and reports that counted */
  size_t escalations;   /* reminders and deputy notifications the escalation rules sent */
  size_t error_count;   /* number of entries in errors */
  const char* const* errors; /* one line per failed, rejected or deferred message */
} liaison_sync_report;
LIAISON_API void liaison_sync_report_free(liaison_sync_report* report);

/* Publishes keys if needed, sends the outbox, fetches, decrypts, stores and acknowledges
 * everything pending, and runs the escalation rules. *out (optional) receives the report.
 * LIAISON_UNAVAILABLE if the relay does not answer (outbox and inbox intact; call again later);
 * LIAISON_PERMISSION_DENIED if the relay refuses this device (e.g. revoked). */
LIAISON_API liaison_code liaison_client_sync(liaison_client* client, liaison_sync_report** out);

/* One received message, alert or report (liaison::InboxMessage). */
typedef struct liaison_message {
  const char* id;          /* 32 hex characters; for alerts and reports what acknowledge takes */
  const char* kind;        /* "text", "alert" or "report" */
  const char* sender;      /* authenticated sender address */
  const char* sender_name; /* roster mode: the sending device's holder or member name; else "" */
  int64_t stored_at;       /* when the relay stored it */
  int64_t received_at;     /* when this device stored it */
  const char* text;        /* the message, the alert's body or the report's description */
  size_t text_size;        /* its length in bytes (text is also NUL-terminated) */
  liaison_severity severity;         /* alerts */
  liaison_report_category category;  /* reports */
  const char* title;       /* alerts; "" otherwise */
  const char* place;       /* reports; "" otherwise */
  const char* when;        /* reports; "" otherwise */
  int ack_required;        /* alerts: 1 if the sender asks for an acknowledgement; reports: 1 */
  int64_t expires_at;      /* alerts and reports */
  int64_t read_at;         /* mark_read or acknowledge recorded; 0 = unread */
  int64_t acknowledged_at;
  const char* answer;      /* this device's answer with its acknowledgement, or "" */
} liaison_message;

/* Called for each new inbox message after it is stored. `message` and everything it points to
 * are valid only during the call (copy what you keep). Must return normally: no longjmp, no C++
 * exception. Must not call functions on the listening handle (not even liaison_client_free). */
typedef void (*liaison_message_callback)(void* user_data, const liaison_message* message);

/* Subscribes to pushes for `duration_ms` and handles deliveries as they arrive, calling
 * `on_message` (optional: NULL) with `user_data` for each new message on this thread. Blocks for
 * the duration (other calls on this handle wait). *out (optional) receives the report. Errors
 * as sync; LIAISON_INVALID_ARGUMENT for a negative duration. */
LIAISON_API liaison_code liaison_client_listen(liaison_client* client, int64_t duration_ms,
                                               liaison_message_callback on_message, void* user_data,
                                               liaison_sync_report** out);

typedef struct liaison_inbox {
  size_t count;
  const liaison_message* const* messages; /* count pointers */
} liaison_inbox;
LIAISON_API void liaison_inbox_free(liaison_inbox* inbox);

/* The inbox for people: alerts first (urgent, warning, info; newest first within each), then
 * reports (newest first), then messages (oldest first). Reading it records nothing. */
LIAISON_API liaison_code liaison_client_inbox(liaison_client* client, liaison_inbox** out);
/* Messages waiting in the outbox. */
LIAISON_API liaison_code liaison_client_outbox_size(liaison_client* client, size_t* out);

/* ---- Alerts and reports (roster mode) --------------------------------------------------- */
/* Thread-safety: every liaison_client_* function here is serialised per handle (see Threads);
 * liaison_verify_submission_receipt and the *_free functions may run on any thread. */

/* What the sender's client does about silent recipients; 0 turns a rule off. */
typedef struct liaison_escalation {
  int64_t remind_after_s; /* no delivery receipt after this long: send it again to that device */
  int64_t deputy_after_s; /* ack-required alerts: no acknowledgement after this long: alert the
                             member's deputies and mark the member for a phone call */
} liaison_escalation;

typedef struct liaison_alert_request {
  size_t struct_size;          /* set by liaison_alert_request_init */
  const char* to;              /* selection: "all", or terms like "area:city:dresden role:association_contact" */
  liaison_severity severity;   /* default LIAISON_SEVERITY_INFO */
  const char* title;           /* 1..200 bytes */
  const char* body;            /* 1..16384 bytes */
  int ack_required;            /* 1: ask every recipient to acknowledge */
  int64_t ttl_s;               /* lifetime in seconds; 0 = 14 days */
  const liaison_escalation* escalation; /* NULL: the defaults of the severity (urgent: remind
                                           15 min, deputies 60 min; warning: remind 60 min) */
} liaison_alert_request;

static inline void liaison_alert_request_init(liaison_alert_request* request) {
  request->struct_size = sizeof(liaison_alert_request);
  request->to = NULL;
  request->severity = LIAISON_SEVERITY_INFO;
  request->title = NULL;
  request->body = NULL;
  request->ack_required = 0;
  request->ttl_s = 0;
  request->escalation = NULL;
}

typedef struct liaison_report_request {
  size_t struct_size;               /* set by liaison_report_request_init */
  const char* desk;                 /* the desk's member id */
  liaison_report_category category; /* default LIAISON_CATEGORY_OTHER */
  const char* place;                /* 0..200 bytes; NULL = "" */
  const char* when;                 /* 0..64 bytes, as the reporter writes it; NULL = "" */
  const char* text;                 /* 1..16384 bytes */
  int64_t ttl_s;                    /* 0 = 30 days */
} liaison_report_request;

static inline void liaison_report_request_init(liaison_report_request* request) {
  request->struct_size = sizeof(liaison_report_request);
  request->desk = NULL;
  request->category = LIAISON_CATEGORY_OTHER;
  request->place = NULL;
  request->when = NULL;
  request->text = NULL;
  request->ttl_s = 0;
}

typedef struct liaison_broadcast_receipt {
  const char* id;    /* the alert's or report's id, 32 hex characters */
  size_t recipients; /* recipient devices */
  size_t stored;     /* copies the relay stored already (the rest wait in the outbox) */
} liaison_broadcast_receipt;
LIAISON_API void liaison_broadcast_receipt_free(liaison_broadcast_receipt* receipt);

/* Sends an alert to every device of every member the selection names (except this device),
 * queued durably first like send. *out (optional) receives the receipt. Errors:
 * LIAISON_INVALID_ARGUMENT (bad selection, severity, title or body; list mode),
 * LIAISON_PERMISSION_DENIED (only officers, desks and coordinators alert), LIAISON_NOT_FOUND
 * (the selection names nobody), LIAISON_UNAVAILABLE (sessions needed and the relay is down). */
LIAISON_API liaison_code liaison_client_send_alert(liaison_client* client, const liaison_alert_request* request,
                                                   liaison_broadcast_receipt** out);
/* Sends a report to every device of request->desk, tracked like an alert. Errors as send_alert;
 * LIAISON_PERMISSION_DENIED unless this member is an association contact or deputy,
 * LIAISON_NOT_FOUND if the desk is not in the roster. */
LIAISON_API liaison_code liaison_client_send_report(liaison_client* client, const liaison_report_request* request,
                                                    liaison_broadcast_receipt** out);

/* The relay's signed statement that it stored an alert or report (client.h SubmissionReceipt). */
typedef struct liaison_submission_receipt {
  const char* relay_signing_key; /* hex, 64 characters */
  const char* body_hash;         /* hex, 64 characters */
  int64_t stored_at;             /* the relay's time */
  uint32_t copies;               /* copies the relay stored in that request */
  const char* signature;         /* hex, 128 characters */
} liaison_submission_receipt;

/* Checks `receipt` for the alert or report `id` (hex) against the relay's signing key (hex,
 * relay.sign.pub). LIAISON_UNAUTHENTICATED if it does not verify, LIAISON_INVALID_ARGUMENT for
 * malformed hex or NULL. Any thread. */
LIAISON_API liaison_code liaison_verify_submission_receipt(const char* id, const liaison_submission_receipt* receipt,
                                                           const char* relay_signing_key);

/* One recipient device of an alert or report, as the sender's client knows it. */
typedef struct liaison_recipient_status {
  const char* device;        /* "member/device" */
  const char* member;
  const char* name;          /* the device's holder or the member's display name */
  const char* organisation;
  int via_escalation;        /* 1: added as a deputy by the escalation rule */
  const char* refused;       /* the relay refused this copy for good (reason); "" otherwise */
  int64_t sent_at;           /* the relay stored the copy; 0: still in the outbox */
  int64_t delivered_at;      /* receipts, by the device's clock; 0 = none yet */
  int64_t read_at;
  int64_t acknowledged_at;
  const char* answer;        /* the short answer with the acknowledgement, or "" */
  int expired;               /* 1: no delivery before the alert's expiry */
  int64_t reminded_at;       /* escalation: sent again; 0 = not */
  int64_t deputy_notified_at;/* escalation: the member's deputies were sent the alert */
  int call;                  /* escalation: 1 = phone this member */
} liaison_recipient_status;

/* The sender's tally of one alert or report (liaison::AlertStatus). */
typedef struct liaison_alert_status {
  const char* id;
  const char* kind;                  /* "alert" or "report" */
  liaison_severity severity;         /* alerts */
  liaison_report_category category;  /* reports */
  const char* title;                 /* alerts: the title; reports: the category and place */
  int ack_required;
  int64_t created_at;
  int64_t expires_at;
  size_t sent, delivered, read, acknowledged, expired, pending, refused;  /* totals */
  size_t recipient_count;
  const liaison_recipient_status* const* recipients; /* recipient_count pointers, by device */
  const liaison_submission_receipt* submission;      /* NULL until the relay's receipt arrived */
} liaison_alert_status;
LIAISON_API void liaison_alert_status_free(liaison_alert_status* status);

typedef struct liaison_alert_list {
  size_t count;
  const liaison_alert_status* const* alerts; /* count pointers, newest first */
} liaison_alert_list;
LIAISON_API void liaison_alert_list_free(liaison_alert_list* list);

/* The tally of an alert or report this device sent. LIAISON_NOT_FOUND for an unknown id,
 * LIAISON_INVALID_ARGUMENT for one that is not 32 hex characters. */
LIAISON_API liaison_code liaison_client_alert_status(liaison_client* client, const char* id,
                                                     liaison_alert_status** out);
/* Every alert and report this device sent, newest first. */
LIAISON_API liaison_code liaison_client_sent_alerts(liaison_client* client, liaison_alert_list** out);
/* Records that a person saw the received alert or report `id` and queues a read receipt (once).
 * LIAISON_NOT_FOUND if no such alert or report was received. */
LIAISON_API liaison_code liaison_client_mark_read(liaison_client* client, const char* id);
/* Acknowledges the received alert or report `id` with an optional answer (NULL or 0..200 bytes)
 * and queues the signed receipt to its sender (marks it read too). LIAISON_ALREADY_EXISTS for a
 * second acknowledgement, LIAISON_NOT_FOUND for an unknown id. */
LIAISON_API liaison_code liaison_client_acknowledge(liaison_client* client, const char* id, const char* answer);
/* Runs the escalation rules of the alerts this device sent (sync and listen do too). *out
 * (optional) receives how many reminders and deputy notifications it sent or queued. */
LIAISON_API liaison_code liaison_client_run_escalation(liaison_client* client, size_t* out);

/* ---- Keys and safety numbers (roster mode) ---------------------------------------------- */
/* Thread-safety: every liaison_client_* function here is serialised per handle (see Threads);
 * liaison_verification_free may run on any thread. */

/* Makes new keys for this device, kept aside until the coordinator approves them, and returns
 * the rotation request for `liaison admin approve-rotation` in *out_request (free with
 * liaison_string_free). Until approved it returns the same request. */
LIAISON_API liaison_code liaison_client_request_key_rotation(liaison_client* client, char** out_request);

typedef struct liaison_verification {
  const char* member;
  const char* safety_number;      /* 60 digits in 12 groups of 5; the same on both sides */
  const char* qr_text;            /* "liaison-safety-v1:<member>:<member>:<60 digits>" */
  int verified;                   /* 1: mark_verified recorded exactly this number */
  int changed_since_verification; /* 1: a number was recorded, but a key changed since */
} liaison_verification;
LIAISON_API void liaison_verification_free(liaison_verification* verification);

/* The safety number with `member` (a member id) from the newest roster epoch. LIAISON_NOT_FOUND
 * if either member is not in the roster; LIAISON_INVALID_ARGUMENT in list mode. */
LIAISON_API liaison_code liaison_client_verify(liaison_client* client, const char* member,
                                               liaison_verification** out);
/* Records that the number was compared and matched; `safety_number` is what the person
 * confirmed (spaces ignored). LIAISON_UNAUTHENTICATED if it is not the current number. */
LIAISON_API liaison_code liaison_client_mark_verified(liaison_client* client, const char* member,
                                                      const char* safety_number);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* LIAISON_LIAISON_H_ */
