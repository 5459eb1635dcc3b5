/* A tiny test harness in C for the C API tests: failure-counting checks, temporary directories
 * removed at exit, running programs, and real liaison-relay processes (list or roster mode).
 *
 * One test case runs per process (ctest starts each one), so REQUIRE simply ends the process;
 * relays started and directories made are cleaned up at exit either way. */
#ifndef LIAISON_TESTS_C_API_HARNESS_H_
#define LIAISON_TESTS_C_API_HARNESS_H_

#include <stddef.h>
#include <sys/types.h>

#include "liaison/liaison.h"

/* Checks that were false so far. */
extern int harness_failures;

/* Counts and reports a false `ok` (with the library's last error); returns `ok`. */
int harness_check(int ok, const char* expression, const char* file, int line);
/* Reports and counts `actual` != `expected` (names, codes and the last error); returns equality. */
int harness_check_code(liaison_code actual, liaison_code expected, const char* expression, const char* file, int line);
int harness_check_str(const char* actual, const char* expected, const char* expression, const char* file, int line);
/* Ends the process as failed (after cleanup). */
void harness_abort(void);

#define CHECK(cond) harness_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
#define CHECK_CODE(expr, code) harness_check_code((expr), (code), #expr, __FILE__, __LINE__)
#define CHECK_STR(actual, expected) harness_check_str((actual), (expected), #actual, __FILE__, __LINE__)
#define REQUIRE(cond) \
  do { if (!CHECK(cond)) harness_abort(); } while (0)
#define REQUIRE_OK(expr) \
  do { if (!harness_check_code((expr), LIAISON_OK, #expr, __FILE__, __LINE__)) harness_abort(); } while (0)

/* Where the programs under test are (from the command line). */
void harness_set_programs(const char* relay_bin, const char* cli_bin);

/* A new directory under $TMPDIR (or /tmp), removed with its contents at exit. Static storage. */
const char* harness_temp_dir(void);
/* "dir/name" in a new malloc'd string owned by the harness (freed at exit). */
const char* harness_path(const char* dir, const char* name);
/* Runs argv (NULL-terminated) to completion; stdout into `stdout_path` unless NULL. Returns the
 * exit code, or 128 + signal. */
int harness_run(const char* const* argv, const char* stdout_path);
/* The whole file as a malloc'd NUL-terminated string (caller frees); NULL if unreadable. */
char* harness_read_file(const char* path);
/* Its first line without the newline, like harness_read_file. */
char* harness_read_line(const char* path);
void harness_write_file(const char* path, const char* text);
void harness_sleep_ms(long milliseconds);

/* A liaison-relay process on a loopback port with its own data directory. */
typedef struct harness_relay {
  const char* dir;
  char endpoint[128];
  char public_key[64];  /* Z85, from relay.pub */
  pid_t pid;            /* > 0 while running */
  size_t slot;          /* the harness's record of it, for the cleanup at exit */
} harness_relay;

/* `liaison-relay init DIR --listen tcp://127.0.0.1:*` in a new directory (list mode). */
void harness_relay_init(harness_relay* relay);
/* Starts it and waits for DIR/endpoint; restarts keep the first endpoint. Aborts if it fails. */
void harness_relay_start(harness_relay* relay);
/* SIGTERM and wait. */
void harness_relay_stop(harness_relay* relay);
/* List mode: `liaison-relay register DIR CARD` with the device's card. */
void harness_relay_register(harness_relay* relay, liaison_client* client);

/* A roster-mode relay under a coordinator driven through the `liaison admin` command line (admin
 * directory under the relay's; passphrase through $LIAISON_ADMIN_PASSPHRASE). */
typedef struct harness_roster {
  harness_relay relay;
  const char* admin_dir;
} harness_roster;

/* Relay init, start, `liaison admin init --relay-config`, restart in roster mode. */
void harness_roster_start(harness_roster* roster);
/* Invitation for `address`, liaison_client_enroll in a new state directory, and `liaison admin
 * approve` with `approve_args` (NULL-terminated: "--role", "officer", ...). Returns the handle. */
liaison_client* harness_roster_admit(harness_roster* roster, const char* address, const char* const* approve_args);
/* `liaison admin revoke TARGET`. */
void harness_roster_revoke(harness_roster* roster, const char* target);
/* `liaison admin invite --address ADDRESS`; the invitation text (malloc'd, caller frees). */
char* harness_roster_invite(harness_roster* roster, const char* address);

/* Options for a device in `state_dir` against `relay` (timeout `timeout_ms`). */
liaison_client_options harness_options(const harness_relay* relay, const char* state_dir, int64_t timeout_ms);

#endif /* LIAISON_TESTS_C_API_HARNESS_H_ */
