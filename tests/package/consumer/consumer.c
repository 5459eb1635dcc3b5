/* The external consumer of the installed package: prints liaison_version(), checks it against
 * the installed version.h, and makes one failing call to see the library's error path work.
 * Exit 0 when all holds. */
#include <liaison/liaison.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  printf("%s\n", liaison_version());
  if (strcmp(liaison_version(), LIAISON_VERSION_STRING) != 0 || liaison_version_number() != LIAISON_VERSION_NUMBER) {
    fprintf(stderr, "library %s, header %s\n", liaison_version(), LIAISON_VERSION_STRING);
    return 1;
  }
  liaison_client* client = NULL;
  if (liaison_client_open(NULL, &client) != LIAISON_INVALID_ARGUMENT || liaison_last_error()[0] == '\0') {
    fprintf(stderr, "liaison_client_open(NULL) did not fail as documented\n");
    return 1;
  }
  return 0;
}
