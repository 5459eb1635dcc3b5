/* The test cases of liaison_c_api_tests, one function each (c_api_main.c runs one by name). */
#ifndef LIAISON_TESTS_C_API_CASES_H_
#define LIAISON_TESTS_C_API_CASES_H_

/* args_test.c: no relay process. */
void test_version_and_values(void);
void test_bad_arguments(void);
void test_last_error_is_per_thread(void);
/* list_mode_test.c: a relay in list mode. */
void test_send_and_receive(void);
void test_listen_callback(void);
void test_relay_down(void);
/* roster_test.c: a relay in roster mode under `liaison admin`. */
void test_alerts(void);
void test_reports(void);
void test_verification_and_revocation(void);

#endif /* LIAISON_TESTS_C_API_CASES_H_ */
