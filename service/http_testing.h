#pragma once

// Test support: plain TCP clients of a loopback HTTP endpoint that behave as a broken or hostile
// client would -- raw bytes instead of a request, a connection that never sends anything.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sonic::service {

// A TCP connection to 127.0.0.1:port (-1 when it cannot connect), with a 10 s receive timeout.
inline int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes`, half-closes unless told not to, and returns all that comes back before the
// server closes (or 10 s pass).
inline std::string RawHttpExchange(int port, std::string_view bytes, bool half_close = true) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  std::string response;
  send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (half_close) shutdown(fd, SHUT_WR);
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
    response.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return response;
}

// The first line of an HTTP response ("HTTP/1.1 200 OK"); empty for none.
inline std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

}  // namespace sonic::service
