#include "relay/zap_handler.h"

#include <spdlog/spdlog.h>

#include <array>
#include <vector>

namespace liaison::relay {

Status ZapHandler::Start() {
  zmq::socket_t socket(context_, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kUnavailable, std::string("cannot bind the ZAP endpoint: ") + e.what());
  }
  stop_ = false;
  thread_ = std::thread(&ZapHandler::Run, this, std::move(socket));
  return Status::Ok();
}

void ZapHandler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Run(zmq::socket_t socket) {
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> parts;
      while (true) {
        zmq::message_t part;
        if (!socket.recv(part, zmq::recv_flags::none)) break;
        const bool more = part.more();
        if (parts.size() < 16) parts.push_back(std::move(part));
        if (!more) break;
      }
      // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
      std::string status_code = "500", status_text = "malformed ZAP request", user_id;
      std::string request_id = parts.size() > 1 ? parts[1].to_string() : "";
      if (parts.size() >= 6 && parts[0].to_string_view() == "1.0") {
        const std::string domain = parts[2].to_string();
        const std::string mechanism = parts[5].to_string();
        status_code = "400";
        if (domain != kZapDomain) {
          status_text = "wrong ZAP domain";
        } else if (mechanism != "CURVE") {
          status_text = "only CURVE is accepted";
        } else if (parts.size() != 7 || parts[6].size() != 32) {
          status_text = "malformed CURVE credentials";
        } else {
          TransportKey key{};
          std::memcpy(key.data(), parts[6].data(), 32);
          Status reload = registry_.ReloadIfChanged();
          if (!reload.ok()) spdlog::warn("device list not reloaded: {}", reload.ToString());
          if (auto address = registry_.AddressOf(key)) {
            status_code = "200";
            status_text = "OK";
            user_id = *address;
          } else {
            status_text = "transport key not registered";
          }
        }
      }
      if (status_code == "200") {
        ++accepted_;
        spdlog::debug("zap: admitted {}", user_id);
      } else {
        ++refused_;
        spdlog::info("zap: refused a connection ({})", status_text);
      }
      const std::array<std::string, 6> reply{"1.0", request_id, status_code, status_text, user_id, ""};
      for (size_t i = 0; i < reply.size(); ++i) {
        socket.send(zmq::buffer(reply[i]), i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("zap: {}", e.what());
    }
  }
}

}  // namespace liaison::relay
