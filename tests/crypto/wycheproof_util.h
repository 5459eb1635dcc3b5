// Test helpers for the crypto tests: loading Wycheproof vectors and other JSON test data, hex
// literals, and tallying how a run of Wycheproof cases agreed with each case's "result".
#ifndef LIAISON_TESTS_CRYPTO_WYCHEPROOF_UTIL_H_
#define LIAISON_TESTS_CRYPTO_WYCHEPROOF_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.h"

namespace liaison::crypto::testing {

// Parses LIAISON_TEST_DATA_DIR "/" + relative_path. A missing or unparsable file FAILs the
// current test (it never skips).
nlohmann::json LoadTestData(const std::string& relative_path);

// Parses hex, FAILing the current test on bad hex.
Bytes Hex(const std::string& hex);

// The bytes of `s`, as an owned buffer.
inline Bytes ToBytes(std::string_view s) {
  const ByteView view = AsBytes(s);
  return Bytes(view.begin(), view.end());
}

// Counts the cases of one Wycheproof file and the disagreements with their expected result.
class WycheproofTally {
 public:
  explicit WycheproofTally(std::string name) : name_(std::move(name)) {}

  // Records one case. `succeeded`: our wrapper accepted the input (and produced an output).
  // `output_matches`: that output is the expected one (ignored when !succeeded).
  // valid: must succeed with the expected output. invalid: must fail. acceptable: may do either,
  // but a success must still give the expected output.
  void Record(const nlohmann::json& test_case, bool succeeded, bool output_matches);

  // Prints "wycheproof <name>: N cases, D disagreements, A acceptable" and CHECKs that D is 0
  // and that N equals the file's numberOfTests.
  void Finish(const nlohmann::json& file);

 private:
  std::string name_;
  size_t cases_ = 0;
  size_t acceptable_ = 0;
  size_t acceptable_rejected_ = 0;
  std::vector<int> disagreements_;  // tcIds
};

}  // namespace liaison::crypto::testing

#endif  // LIAISON_TESTS_CRYPTO_WYCHEPROOF_UTIL_H_
