/* liaison_c_api_tests: the C API exercised from C, one test case per process.
 *
 *   liaison_c_api_tests RELAY_BIN CLI_BIN CASE      runs CASE; exit 0 iff every check held
 *   liaison_c_api_tests --list                      prints the case names, one a line
 *
 * tests/c_api/CMakeLists.txt registers each case as the ctest "c_api: CASE" and checks with
 * --list that none is left out. */
#include <stdio.h>
#include <string.h>

#include "cases.h"
#include "harness.h"

typedef struct test_case {
  const char* name;
  void (*run)(void);
} test_case;

static const test_case kCases[] = {
    {"version and values", test_version_and_values},
    {"bad arguments", test_bad_arguments},
    {"last error is per thread", test_last_error_is_per_thread},
    {"send and receive", test_send_and_receive},
    {"listen callback", test_listen_callback},
    {"relay down", test_relay_down},
    {"alerts", test_alerts},
    {"reports", test_reports},
    {"verification and revocation", test_verification_and_revocation},
};

int main(int argc, char** argv) {
  const size_t count = sizeof kCases / sizeof kCases[0];
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < count; ++i) printf("%s\n", kCases[i].name);
    return 0;
  }
  if (argc != 4) {
    fprintf(stderr, "usage: %s RELAY_BIN CLI_BIN CASE | --list\n", argv[0]);
    return 2;
  }
  harness_set_programs(argv[1], argv[2]);
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(argv[3], kCases[i].name) != 0) continue;
    kCases[i].run();
    if (harness_failures != 0) {
      fprintf(stderr, "%s: %d check(s) failed\n", kCases[i].name, harness_failures);
      return 1;
    }
    printf("%s: passed\n", kCases[i].name);
    return 0;
  }
  fprintf(stderr, "no test case \"%s\"\n", argv[3]);
  return 2;
}
