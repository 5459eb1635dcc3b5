# Included by ctest (tests/CMakeLists.txt adds it to TEST_INCLUDE_FILES after the Catch2 tests are
# discovered): the COST of the longest tests, their seconds under ASan+UBSan on a 2-core machine.
# `ctest -j` starts tests in descending COST, so these start first and the hundreds of short tests
# fill the other core beside them; otherwise, on a fresh build directory (no
# Testing/Temporary/CTestCostData.txt yet, as in CI) they start in definition order and the
# longest one can run last, alone. Only the order changes; a name that no longer matches is ignored.
set_tests_properties(
  [==[integration:an alert to 1,000 devices stores its body once and reaches all of them]==]
  PROPERTIES COST 150)
set_tests_properties(
  [==[crypto:every bit flip, truncation and extension of 100 sealed envelopes is rejected]==]
  PROPERTIES COST 50)
set_tests_properties(
  [==[integration:a slow consumer fed 10,000 messages loses none while the relay's memory stays bounded]==]
  PROPERTIES COST 28)
set_tests_properties(
  [==[integration:the outbox goes out in the order written, and a refusal met during a later Send is reported by Sync]==]
  PROPERTIES COST 16)
set_tests_properties(
  [==[integration:the command line's alerts: acknowledgements, escalation to a deputy, a report answered by the desk]==]
  PROPERTIES COST 15)
