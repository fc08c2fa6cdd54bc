#include "service/metrics_scrape.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic::service {
namespace {

bool NameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower;
}

// A cursor over one line; every failure names the line.
class LineParser {
 public:
  LineParser(std::string_view line, int number) : line_(line), number_(number) {}

  bool AtEnd() const { return at_ == line_.size(); }
  char Peek() const { return AtEnd() ? '\0' : line_[at_]; }
  void SkipBlanks() {
    while (!AtEnd() && (line_[at_] == ' ' || line_[at_] == '\t')) ++at_;
  }
  void Expect(char c, std::string_view where) {
    if (Peek() != c) Fail(fmt::format("'{}' {}", c, where));
    ++at_;
  }
  std::string Name(std::string_view what) {
    if (!NameStart(Peek())) Fail(what);
    const std::size_t start = at_;
    while (!AtEnd() && NameChar(line_[at_])) ++at_;
    return std::string(line_.substr(start, at_ - start));
  }
  std::string QuotedValue() {
    Expect('"', "opening a label value");
    std::string value;
    while (true) {
      if (AtEnd()) Fail("a closing '\"' of the label value");
      const char c = line_[at_++];
      if (c == '"') return value;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (AtEnd()) Fail("an escaped character after '\\'");
      const char escaped = line_[at_++];
      if (escaped == 'n') {
        value += '\n';
      } else if (escaped == '\\' || escaped == '"') {
        value += escaped;
      } else {
        Fail("\\\\, \\\" or \\n in a label value");
      }
    }
  }
  std::string_view Token() {
    const std::size_t start = at_;
    while (!AtEnd() && line_[at_] != ' ' && line_[at_] != '\t') ++at_;
    return line_.substr(start, at_ - start);
  }
  double Value() {
    const std::string_view token = Token();
    const std::string lower = Lower(token);
    if (lower == "+inf" || lower == "inf") return std::numeric_limits<double>::infinity();
    if (lower == "-inf") return -std::numeric_limits<double>::infinity();
    if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
    const std::string_view digits =
        !token.empty() && token.front() == '+' ? token.substr(1) : token;
    double value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      Fail(fmt::format("a number (or +Inf, -Inf, NaN) as the value, not '{}'", token));
    }
    return value;
  }
  [[noreturn]] void Fail(std::string_view expected) const {
    Throw(ErrorKind::kInvalidArgument, "metrics text line {}: expected {} at column {}: '{}'",
          number_, expected, at_ + 1, line_.substr(0, 200));
  }

 private:
  std::string_view line_;
  int number_;
  std::size_t at_ = 0;
};

MetricSample ParseSample(std::string_view line, int number) {
  LineParser parser(line, number);
  MetricSample sample;
  sample.name = parser.Name("a metric name");
  parser.SkipBlanks();
  if (parser.Peek() == '{') {
    parser.Expect('{', "opening the labels");
    parser.SkipBlanks();
    while (parser.Peek() != '}') {
      std::string label = parser.Name("a label name or '}'");
      parser.SkipBlanks();
      parser.Expect('=', "after a label name");
      parser.SkipBlanks();
      std::string value = parser.QuotedValue();
      if (!sample.labels.emplace(std::move(label), std::move(value)).second) {
        parser.Fail("each label once");
      }
      parser.SkipBlanks();
      if (parser.Peek() == ',') {
        parser.Expect(',', "between labels");
        parser.SkipBlanks();
      } else if (parser.Peek() != '}') {
        parser.Fail("',' or '}' after a label");
      }
    }
    parser.Expect('}', "closing the labels");
    parser.SkipBlanks();
  }
  if (parser.AtEnd()) parser.Fail("a value after the name");
  sample.value = parser.Value();
  parser.SkipBlanks();
  if (!parser.AtEnd()) {
    const std::string_view timestamp = parser.Token();
    ParseInt(timestamp, "metrics sample timestamp");
    parser.SkipBlanks();
    if (!parser.AtEnd()) parser.Fail("the end of the line after the timestamp");
  }
  return sample;
}

// `name` with its value, from a "# TYPE name type" line; nothing for other comments.
void ParseComment(std::string_view line, ScrapedMetrics* metrics) {
  std::vector<std::string_view> words;
  for (std::size_t at = 1; at < line.size();) {
    const std::size_t start = line.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t", start), line.size());
    words.push_back(line.substr(start, end - start));
    at = end;
  }
  if (words.size() >= 3 && words[0] == "TYPE") {
    metrics->types[std::string(words[1])] = std::string(words[2]);
  }
}

// A socket closed when this goes out of scope.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool WaitFor(int fd, decltype(pollfd::events) events, std::int64_t deadline_ns) {
  while (true) {
    const std::int64_t left_ms = (deadline_ns - MonotonicNs()) / 1'000'000;
    if (left_ms <= 0) return false;
    pollfd poller{fd, events, 0};
    const int ready = poll(&poller, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

std::string Fetch(const MetricsUrl& url, std::chrono::milliseconds timeout) {
  const std::string where = url.ToString();
  const std::int64_t deadline_ns =
      MonotonicNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error =
          getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
      error != 0) {
    Throw(ErrorKind::kUnavailable, "metrics {}: cannot resolve '{}': {}", where, url.host,
          gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string failure = "no address";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    Socket socket(::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           address->ai_protocol));
    if (socket.fd() < 0) {
      failure = std::strerror(errno);
      continue;
    }
    if (connect(socket.fd(), address->ai_addr, address->ai_addrlen) != 0 && errno != EINPROGRESS) {
      failure = std::strerror(errno);
      continue;
    }
    if (!WaitFor(socket.fd(), POLLOUT, deadline_ns)) {
      failure = "timed out connecting";
      continue;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      failure = std::strerror(error);
      continue;
    }
    const std::string host =
        url.host.find(':') != std::string::npos ? fmt::format("[{}]", url.host) : url.host;
    const std::string request = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        url.path, host, url.port);
    for (std::size_t sent = 0; sent < request.size();) {
      if (!WaitFor(socket.fd(), POLLOUT, deadline_ns)) {
        Throw(ErrorKind::kUnavailable, "metrics {}: timed out sending the request", where);
      }
      const ssize_t n =
          send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        Throw(ErrorKind::kUnavailable, "metrics {}: send: {}", where, std::strerror(errno));
      }
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    std::string response;
    char buffer[16384];
    while (true) {
      if (!WaitFor(socket.fd(), POLLIN, deadline_ns)) {
        Throw(ErrorKind::kUnavailable, "metrics {}: no complete response within {} ms", where,
              timeout.count());
      }
      const ssize_t n = recv(socket.fd(), buffer, sizeof(buffer), 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        Throw(ErrorKind::kUnavailable, "metrics {}: recv: {}", where, std::strerror(errno));
      }
      response.append(buffer, static_cast<std::size_t>(n));
      if (response.size() > kMaxResponseBytes) {
        Throw(ErrorKind::kUnavailable, "metrics {}: response larger than {} bytes", where,
              kMaxResponseBytes);
      }
    }
    try {
      return HttpResponseBody(response);
    } catch (const Error& error) {
      throw Error(error.kind(), fmt::format("metrics {}: {}", where, error.what()));
    }
  }
  Throw(ErrorKind::kUnavailable, "metrics {}: cannot connect: {}", where, failure);
}

}  // namespace

std::optional<double> ScrapedMetrics::Find(std::string_view name,
                                           const std::map<std::string, std::string>& labels) const {
  for (const MetricSample& sample : samples) {
    if (sample.name != name) continue;
    bool all = true;
    for (const auto& [key, value] : labels) {
      const auto it = sample.labels.find(key);
      all = all && it != sample.labels.end() && it->second == value;
    }
    if (all) return sample.value;
  }
  return std::nullopt;
}

ScrapedMetrics ParseMetricsText(std::string_view text) {
  ScrapedMetrics metrics;
  int number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '#') {
      ParseComment(line, &metrics);
      continue;
    }
    metrics.samples.push_back(ParseSample(line, number));
  }
  return metrics;
}

std::string MetricsUrl::ToString() const {
  return fmt::format("http://{}:{}{}",
                     host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host, port,
                     path);
}

MetricsUrl ParseMetricsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  auto fail = [&](std::string_view why) {
    Throw(ErrorKind::kInvalidArgument,
          "metrics URL '{}': {} (expected http://HOST:PORT[/PATH], e.g. "
          "http://127.0.0.1:8002/metrics)",
          url, why);
  };
  if (url.substr(0, kScheme.size()) != kScheme) {
    fail(url.substr(0, 8) == "https://" ? "https is not supported"
                                        : "it does not start with http://");
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  MetricsUrl parsed;
  if (slash != std::string_view::npos) parsed.path = std::string(rest.substr(slash));
  std::size_t colon = std::string_view::npos;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail("no ']' after the IPv6 address");
    parsed.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') fail("expected ':' after ']'");
      colon = close + 1;
    }
  } else {
    colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
  }
  if (parsed.host.empty()) fail("no host");
  if (colon == std::string_view::npos) fail("no port");
  parsed.port = static_cast<int>(ParseIntInRange(authority.substr(colon + 1), "port", 1, 65535));
  return parsed;
}

std::string HttpResponseBody(std::string_view response) {
  const std::size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    Throw(ErrorKind::kInvalidArgument, "the HTTP response has no end of headers ({} bytes)",
          response.size());
  }
  const std::string_view head = response.substr(0, header_end);
  std::string_view body = response.substr(header_end + 4);
  const std::string_view status_line = head.substr(0, head.find("\r\n"));
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    Throw(ErrorKind::kInvalidArgument, "not an HTTP status line: '{}'", status_line.substr(0, 100));
  }
  if (status_line.substr(9, 3) != "200") {
    Throw(ErrorKind::kUnavailable, "HTTP status '{}' (expected 200)", status_line.substr(9));
  }
  const std::string lower_head = Lower(head);
  if (lower_head.find("\r\ntransfer-encoding: chunked") == std::string::npos) {
    if (const std::size_t at = lower_head.find("\r\ncontent-length:"); at != std::string::npos) {
      const std::size_t start = at + 17;
      const std::size_t end = lower_head.find("\r\n", start);
      const std::uint64_t length =
          ParseUnsigned(lower_head.substr(start, end - start), "Content-Length");
      if (length > body.size()) {
        Throw(ErrorKind::kInvalidArgument, "the HTTP body has {} of its {} bytes", body.size(),
              length);
      }
      body = body.substr(0, length);
    }
    return std::string(body);
  }
  std::string decoded;
  while (true) {
    const std::size_t line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) {
      Throw(ErrorKind::kInvalidArgument, "a chunked HTTP body ends inside a chunk size");
    }
    std::string_view size_text = body.substr(0, line_end);
    size_text = size_text.substr(0, size_text.find(';'));
    std::size_t size = 0;
    const auto [end, error] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || error != std::errc() || end != size_text.data() + size_text.size()) {
      Throw(ErrorKind::kInvalidArgument, "chunk size '{}' is not hexadecimal", size_text);
    }
    body.remove_prefix(line_end + 2);
    if (size == 0) return decoded;
    if (size > body.size()) {
      Throw(ErrorKind::kInvalidArgument, "a chunked HTTP body ends inside a chunk");
    }
    decoded.append(body.substr(0, size));
    body.remove_prefix(std::min(size + 2, body.size()));
  }
}

ScrapedMetrics ScrapeMetrics(const MetricsUrl& url, std::chrono::milliseconds timeout) {
  const std::string body = Fetch(url, timeout);
  try {
    return ParseMetricsText(body);
  } catch (const Error& error) {
    throw Error(error.kind(), fmt::format("metrics {}: {}", url.ToString(), error.what()));
  }
}

}  // namespace sonic::service
