/* The C test harness (harness.h). */
#define _XOPEN_SOURCE 700
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

int harness_failures = 0;

static const char* g_relay_bin = NULL;
static const char* g_cli_bin = NULL;

/* What is cleaned up at exit. */
#define HARNESS_MAX_ITEMS 256
static char* g_dirs[HARNESS_MAX_ITEMS];
static size_t g_dir_count = 0;
static char* g_strings[HARNESS_MAX_ITEMS * 4];
static size_t g_string_count = 0;
/* The pid of each relay by its slot (harness_relay.slot); -1 when not running. Kept here, not
 * in the caller's struct, which may be gone by the time exit runs the cleanup. */
static pid_t g_relay_pids[HARNESS_MAX_ITEMS];
static size_t g_relay_count = 0;
static int g_cleanup_registered = 0;

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void cleanup(void) {
  for (size_t i = 0; i < g_relay_count; ++i) {
    if (g_relay_pids[i] > 0) {
      kill(g_relay_pids[i], SIGKILL);
      waitpid(g_relay_pids[i], NULL, 0);
      g_relay_pids[i] = -1;
    }
  }
  for (size_t i = 0; i < g_dir_count; ++i) {
    nftw(g_dirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_dirs[i]);
  }
  for (size_t i = 0; i < g_string_count; ++i) free(g_strings[i]);
  g_dir_count = g_string_count = g_relay_count = 0;
}

static void ensure_cleanup(void) {
  if (!g_cleanup_registered) {
    atexit(cleanup);
    g_cleanup_registered = 1;
  }
}

static char* keep_string(char* s) {
  if (s == NULL || g_string_count == sizeof g_strings / sizeof g_strings[0]) {
    fprintf(stderr, "harness: out of string slots\n");
    exit(1);
  }
  g_strings[g_string_count++] = s;
  return s;
}

int harness_check(int ok, const char* expression, const char* file, int line) {
  if (!ok) {
    ++harness_failures;
    fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s: %s)\n", file, line, expression,
            liaison_code_name(liaison_last_error_code()), liaison_last_error());
  }
  return ok;
}

int harness_check_code(liaison_code actual, liaison_code expected, const char* expression, const char* file,
                       int line) {
  if (actual == expected) return 1;
  ++harness_failures;
  fprintf(stderr, "%s:%d: CHECK failed: %s is %d (%s), expected %d (%s); last error: %s\n", file, line, expression,
          (int)actual, liaison_code_name(actual), (int)expected, liaison_code_name(expected), liaison_last_error());
  return 0;
}

int harness_check_str(const char* actual, const char* expected, const char* expression, const char* file, int line) {
  if (actual != NULL && expected != NULL && strcmp(actual, expected) == 0) return 1;
  ++harness_failures;
  fprintf(stderr, "%s:%d: CHECK failed: %s is \"%s\", expected \"%s\"\n", file, line, expression,
          actual ? actual : "(null)", expected ? expected : "(null)");
  return 0;
}

void harness_abort(void) {
  fprintf(stderr, "harness: aborting this test case after %d failure(s)\n", harness_failures);
  exit(1);
}

void harness_set_programs(const char* relay_bin, const char* cli_bin) {
  g_relay_bin = relay_bin;
  g_cli_bin = cli_bin;
  ensure_cleanup();
}

const char* harness_temp_dir(void) {
  ensure_cleanup();
  const char* base = getenv("TMPDIR");
  char pattern[4096];
  snprintf(pattern, sizeof pattern, "%s/liaison-c-api-XXXXXX", base && *base ? base : "/tmp");
  REQUIRE(mkdtemp(pattern) != NULL);
  REQUIRE(g_dir_count < HARNESS_MAX_ITEMS);
  g_dirs[g_dir_count] = strdup(pattern);
  return g_dirs[g_dir_count++];
}

const char* harness_path(const char* dir, const char* name) {
  const size_t size = strlen(dir) + strlen(name) + 2;
  char* out = malloc(size);
  REQUIRE(out != NULL);
  snprintf(out, size, "%s/%s", dir, name);
  return keep_string(out);
}

int harness_run(const char* const* argv, const char* stdout_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdout_path != NULL) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, NULL, (char* const*)argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    fprintf(stderr, "harness: cannot start %s: %s\n", argv[0], strerror(rc));
    harness_abort();
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char* harness_read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t size = 0, capacity = 4096;
  char* out = malloc(capacity);
  size_t n;
  while (out != NULL && (n = fread(out + size, 1, capacity - size - 1, f)) > 0) {
    size += n;
    if (capacity - size < 2) {
      char* bigger = realloc(out, capacity * 2);
      if (bigger == NULL) {
        free(out);
        out = NULL;
        break;
      }
      out = bigger;
      capacity *= 2;
    }
  }
  fclose(f);
  if (out != NULL) out[size] = '\0';
  return out;
}

char* harness_read_line(const char* path) {
  char* text = harness_read_file(path);
  if (text != NULL) text[strcspn(text, "\r\n")] = '\0';
  return text;
}

void harness_write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  REQUIRE(f != NULL);
  REQUIRE(fputs(text, f) >= 0);
  REQUIRE(fclose(f) == 0);
}

void harness_sleep_ms(long milliseconds) {
  struct timespec t = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

void harness_relay_init(harness_relay* relay) {
  REQUIRE(g_relay_bin != NULL);
  memset(relay, 0, sizeof *relay);
  relay->pid = -1;
  relay->dir = harness_path(harness_temp_dir(), "relay");
  const char* argv[] = {g_relay_bin, "init", relay->dir, "--listen", "tcp://127.0.0.1:*", NULL};
  REQUIRE(harness_run(argv, "/dev/null") == 0);
  char* key = harness_read_line(harness_path(relay->dir, "relay.pub"));
  REQUIRE(key != NULL && strlen(key) < sizeof relay->public_key);
  strcpy(relay->public_key, key);
  free(key);
  REQUIRE(g_relay_count < HARNESS_MAX_ITEMS);
  relay->slot = g_relay_count++;
  g_relay_pids[relay->slot] = -1;
}

void harness_relay_start(harness_relay* relay) {
  REQUIRE(relay->pid <= 0);
  const char* endpoint_file = harness_path(relay->dir, "endpoint");
  remove(endpoint_file);
  const char* argv[] = {g_relay_bin, "run", relay->dir, "--listen", relay->endpoint, NULL};
  if (relay->endpoint[0] == '\0') argv[3] = NULL;  /* first start: the port from relay.toml (*) */
  REQUIRE(posix_spawn(&relay->pid, g_relay_bin, NULL, NULL, (char* const*)argv, environ) == 0);
  g_relay_pids[relay->slot] = relay->pid;
  for (int i = 0; i < 1000; ++i) { /* 20 s */
    char* text = harness_read_file(endpoint_file);
    const size_t length = text ? strlen(text) : 0;
    if (length > 0 && text[length - 1] == '\n') {
      text[length - 1] = '\0';
      REQUIRE(length < sizeof relay->endpoint);
      strcpy(relay->endpoint, text);
      free(text);
      return;
    }
    free(text);
    int status = 0;
    if (waitpid(relay->pid, &status, WNOHANG) == relay->pid) {
      relay->pid = g_relay_pids[relay->slot] = -1;
      fprintf(stderr, "harness: liaison-relay exited during start-up\n");
      harness_abort();
    }
    harness_sleep_ms(20);
  }
  fprintf(stderr, "harness: liaison-relay did not bind within 20 s\n");
  harness_abort();
}

void harness_relay_stop(harness_relay* relay) {
  REQUIRE(relay->pid > 0);
  kill(relay->pid, SIGTERM);
  waitpid(relay->pid, NULL, 0);
  relay->pid = g_relay_pids[relay->slot] = -1;
}

void harness_relay_register(harness_relay* relay, liaison_client* client) {
  liaison_device_card* card = NULL;
  REQUIRE_OK(liaison_client_card(client, &card));
  char name[128];
  snprintf(name, sizeof name, "card-%zu.toml", g_string_count);
  const char* path = harness_path(relay->dir, name);
  harness_write_file(path, card->toml);
  liaison_device_card_free(card);
  const char* argv[] = {g_relay_bin, "register", relay->dir, path, NULL};
  REQUIRE(harness_run(argv, "/dev/null") == 0);
}

liaison_client_options harness_options(const harness_relay* relay, const char* state_dir, int64_t timeout_ms) {
  liaison_client_options options;
  liaison_client_options_init(&options);
  options.state_dir = state_dir;
  options.relay_endpoint = relay->endpoint;
  options.relay_public_key = relay->public_key;
  options.timeout_ms = timeout_ms;
  return options;
}

/* `liaison admin --admin DIR ARGS...` (ARGS NULL-terminated, at most 24); exit code. */
static int run_admin(harness_roster* roster, const char* const* args) {
  const char* argv[32] = {g_cli_bin, "admin", "--admin", roster->admin_dir};
  size_t n = 4;
  for (size_t i = 0; args[i] != NULL; ++i) {
    REQUIRE(n < 31);
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  return harness_run(argv, "/dev/null");
}

void harness_roster_start(harness_roster* roster) {
  REQUIRE(g_cli_bin != NULL);
  harness_relay_init(&roster->relay);
  harness_relay_start(&roster->relay);
  roster->admin_dir = harness_path(harness_temp_dir(), "admin");
  setenv("LIAISON_ADMIN_PASSPHRASE", "c api test passphrase", 1);
  const char* init[] = {"init", "--relay", roster->relay.endpoint, "--relay-key-file",
                        harness_path(roster->relay.dir, "relay.pub"), "--relay-config",
                        harness_path(roster->relay.dir, "relay.toml"), "--light-kdf", NULL};
  REQUIRE(run_admin(roster, init) == 0);
  harness_relay_stop(&roster->relay);
  harness_relay_start(&roster->relay);  /* now in roster mode, on the same endpoint */
}

char* harness_roster_invite(harness_roster* roster, const char* address) {
  char name[160];
  snprintf(name, sizeof name, "invitation-%zu", g_string_count);
  const char* path = harness_path(roster->admin_dir, name);
  const char* invite[] = {"invite", "--address", address, "--out", path, NULL};
  REQUIRE(run_admin(roster, invite) == 0);
  char* invitation = harness_read_line(path);
  REQUIRE(invitation != NULL && invitation[0] != '\0');
  return invitation;
}

liaison_client* harness_roster_admit(harness_roster* roster, const char* address, const char* const* approve_args) {
  char* invitation = harness_roster_invite(roster, address);
  char name[160];
  snprintf(name, sizeof name, "device-%zu", g_string_count);
  const char* state_dir = harness_path(harness_temp_dir(), name);
  liaison_client_options options = harness_options(&roster->relay, state_dir, 5000);
  liaison_client* client = NULL;
  char* request = NULL;
  REQUIRE_OK(liaison_client_enroll(&options, invitation, &client, &request));
  free(invitation);
  CHECK_STR(liaison_client_address(client), address);
  snprintf(name, sizeof name, "request-%zu", g_string_count);
  const char* request_path = harness_path(roster->admin_dir, name);
  harness_write_file(request_path, request);
  liaison_string_free(request);
  const char* args[24] = {"approve", request_path};
  size_t n = 2;
  for (size_t i = 0; approve_args[i] != NULL; ++i) {
    REQUIRE(n < 23);
    args[n++] = approve_args[i];
  }
  args[n] = NULL;
  REQUIRE(run_admin(roster, args) == 0);
  return client;
}

void harness_roster_revoke(harness_roster* roster, const char* target) {
  const char* revoke[] = {"revoke", target, NULL};
  REQUIRE(run_admin(roster, revoke) == 0);
}
