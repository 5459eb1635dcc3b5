// The C API's exception barrier and last error (client/src/c_api_error.h): every exception a
// body throws becomes LIAISON_INTERNAL with a message, std::bad_alloc included, and the message
// lives in a fixed per-thread buffer.
#include <catch2/catch.hpp>

#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "client/src/c_api_error.h"

using namespace liaison;
using liaison::capi::Guard;

TEST_CASE("Guard passes the body's code through", "[c_api]") {
  CHECK(Guard([] { return capi::Ok(); }) == LIAISON_OK);
  CHECK(std::string(liaison_last_error()) == "");
  CHECK(Guard([] { return capi::SetLastError(LIAISON_NOT_FOUND, "no such thing"); }) == LIAISON_NOT_FOUND);
  CHECK(std::string(liaison_last_error()) == "no such thing");
  CHECK(liaison_last_error_code() == LIAISON_NOT_FOUND);
}

TEST_CASE("Guard maps std::bad_alloc to LIAISON_INTERNAL, out of memory", "[c_api]") {
  const liaison_code code = Guard([]() -> liaison_code { throw std::bad_alloc(); });
  CHECK(code == LIAISON_INTERNAL);
  CHECK(std::string(liaison_last_error()) == "out of memory");
#ifndef LIAISON_SANITIZED  // AddressSanitizer reports an impossible allocation instead of throwing
  // A real failed allocation, too.
  const liaison_code huge = Guard([]() -> liaison_code {
    std::string s;
    s.reserve(s.max_size());
    return capi::Ok();
  });
  CHECK(huge == LIAISON_INTERNAL);
#endif
}

TEST_CASE("Guard maps other exceptions to LIAISON_INTERNAL with their description", "[c_api]") {
  CHECK(Guard([]() -> liaison_code { throw std::runtime_error("zmq said no"); }) == LIAISON_INTERNAL);
  CHECK(std::string(liaison_last_error()) == "zmq said no");
  CHECK(Guard([]() -> liaison_code { throw 42; }) == LIAISON_INTERNAL);
  CHECK(std::string(liaison_last_error()) == "unknown exception");
}

TEST_CASE("the last error records a Status and cuts long messages", "[c_api]") {
  CHECK(capi::SetLastError(Status::Error(Code::kUnavailable, "relay down")) == LIAISON_UNAVAILABLE);
  CHECK(std::string(liaison_last_error()) == "relay down");
  CHECK(capi::SetLastError(Status::Ok()) == LIAISON_OK);
  CHECK(std::string(liaison_last_error()) == "");
  const std::string long_message(5000, 'x');
  capi::SetLastError(LIAISON_INTERNAL, long_message.c_str());
  CHECK(std::string(liaison_last_error()) == long_message.substr(0, capi::kMaxErrorMessage));
  capi::SetLastError(LIAISON_IO_ERROR, nullptr);
  CHECK(std::string(liaison_last_error()) == "");
}

TEST_CASE("the last error is per thread", "[c_api]") {
  capi::SetLastError(LIAISON_EXPIRED, "here");
  std::string seen_there;
  std::thread([&] {
    seen_there = liaison_last_error();
    capi::SetLastError(LIAISON_CORRUPTION, "there");
  }).join();
  CHECK(seen_there == "");
  CHECK(std::string(liaison_last_error()) == "here");
  CHECK(liaison_last_error_code() == LIAISON_EXPIRED);
}

TEST_CASE("code names follow liaison::CodeName", "[c_api]") {
  for (int c = 0; c <= 17; ++c) {
    CHECK(std::string(liaison_code_name(static_cast<liaison_code>(c))) == CodeName(static_cast<Code>(c)));
  }
  CHECK(std::string(liaison_code_name(static_cast<liaison_code>(-3))) == "unknown code");
}
