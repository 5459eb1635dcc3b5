# ctest "c_api: every case registered": the cases `liaison_c_api_tests --list` prints are exactly
# those CMakeLists.txt registers.  cmake -DPROGRAM=... -DEXPECTED="a|b|c" -P check_cases.cmake
execute_process(COMMAND ${PROGRAM} --list OUTPUT_VARIABLE listed RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --list failed: ${rc}")
endif()
string(STRIP "${listed}" listed)
string(REPLACE "\n" ";" listed "${listed}")
string(REPLACE "|" ";" expected "${EXPECTED}")
list(SORT listed)
list(SORT expected)
if(NOT listed STREQUAL expected)
  message(FATAL_ERROR "test cases in the program: ${listed}\nregistered with ctest: ${expected}")
endif()
