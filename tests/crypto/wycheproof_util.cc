#include "wycheproof_util.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace liaison::crypto::testing {

nlohmann::json LoadTestData(const std::string& relative_path) {
  const std::string path = std::string(LIAISON_TEST_DATA_DIR) + "/" + relative_path;
  std::ifstream in(path);
  if (!in) FAIL("test data file missing: " << path);
  nlohmann::json parsed = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) FAIL("test data file is not valid JSON: " << path);
  return parsed;
}

Bytes Hex(const std::string& hex) {
  Result<Bytes> bytes = FromHex(hex);
  if (!bytes.ok()) FAIL("bad hex in test data: " << bytes.status().ToString());
  return std::move(bytes).value();
}

void WycheproofTally::Record(const nlohmann::json& test_case, bool succeeded,
                             bool output_matches) {
  ++cases_;
  const std::string result = test_case.at("result").get<std::string>();
  bool agrees = false;
  if (result == "valid") {
    agrees = succeeded && output_matches;
  } else if (result == "invalid") {
    agrees = !succeeded;
  } else if (result == "acceptable") {
    ++acceptable_;
    if (!succeeded) ++acceptable_rejected_;
    agrees = !succeeded || output_matches;
  }
  if (!agrees) disagreements_.push_back(test_case.at("tcId").get<int>());
}

void WycheproofTally::Finish(const nlohmann::json& file) {
  std::printf("wycheproof %s: %zu cases, %zu disagreements, %zu acceptable (%zu of them rejected)\n",
              name_.c_str(), cases_, disagreements_.size(), acceptable_, acceptable_rejected_);
  std::fflush(stdout);
  std::ostringstream ids;
  for (int id : disagreements_) ids << id << ' ';
  INFO("disagreeing tcIds: " << ids.str());
  CHECK(disagreements_.empty());
  CHECK(cases_ == file.at("numberOfTests").get<size_t>());
}

}  // namespace liaison::crypto::testing
