#include "service/metrics_exporter.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/text_serializer.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <thread>

#include "core/clock.h"
#include "core/error.h"

namespace sonic::service {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double Microseconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }

ClientMetric Value(MetricType type, double value, std::vector<ClientMetric::Label> labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) metric.counter.value = value;
  if (type == MetricType::Gauge) metric.gauge.value = value;
  return metric;
}

// Families in a fixed order, each listed once however many models or GPUs feed it.
class Families {
 public:
  MetricFamily& Get(std::string_view name, std::string_view help, MetricType type) {
    for (MetricFamily& family : families_) {
      if (family.name == name) return family;
    }
    families_.push_back({std::string(name), std::string(help), type, {}});
    return families_.back();
  }
  void Add(std::string_view name, std::string_view help, MetricType type, double value,
           std::vector<ClientMetric::Label> labels = {}) {
    Get(name, help, type).metric.push_back(Value(type, value, std::move(labels)));
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

// Upper bounds of the batch-size histogram: the powers of two below max_batch, then max_batch.
std::vector<double> BatchBuckets(int max_batch) {
  std::vector<double> bounds;
  for (int size = 1; size < max_batch; size *= 2) bounds.push_back(size);
  bounds.push_back(std::max(max_batch, 1));
  return bounds;
}

ClientMetric BatchHistogram(const ModelMetricsInput& model,
                            std::vector<ClientMetric::Label> labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  std::vector<double> bounds = BatchBuckets(model.max_batch);
  bounds.push_back(std::numeric_limits<double>::infinity());
  for (const double bound : bounds) {
    std::uint64_t executions = 0;
    for (const auto& [batch, stats] : model.stats.batch_stats) {
      if (static_cast<double>(batch) <= bound) executions += stats.compute_infer.count;
    }
    metric.histogram.bucket.push_back({executions, bound});
  }
  for (const auto& [batch, stats] : model.stats.batch_stats) {
    metric.histogram.sample_count += stats.compute_infer.count;
    metric.histogram.sample_sum += static_cast<double>(batch * stats.compute_infer.count);
  }
  return metric;
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const std::vector<ModelMetricsInput>& models,
                                              const HostSample& host) {
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;
  Families out;
  for (const ModelMetricsInput& model : models) {
    const ModelStatsSnapshot& s = model.stats;
    const std::vector<ClientMetric::Label> labels = {{"model", s.name}, {"version", s.version}};
    out.Add("nv_inference_request_success",
            "Number of successful inference requests, all batch sizes", kCounter,
            static_cast<double>(s.success.count), labels);
    out.Add("nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
            kCounter, static_cast<double>(s.fail.count), labels);
    out.Add("nv_inference_count", "Number of inferences performed (samples, not requests)",
            kCounter, static_cast<double>(s.inference_count), labels);
    out.Add("nv_inference_exec_count", "Number of model executions performed", kCounter,
            static_cast<double>(s.execution_count), labels);
    out.Add("nv_inference_request_duration_us",
            "Cumulative end-to-end duration of successful inference requests in microseconds",
            kCounter, Microseconds(s.success.ns), labels);
    out.Add("nv_inference_queue_duration_us",
            "Cumulative inference queuing duration in microseconds", kCounter,
            Microseconds(s.queue.ns), labels);
    out.Add("nv_inference_compute_input_duration_us",
            "Cumulative compute input duration in microseconds", kCounter,
            Microseconds(s.compute_input.ns), labels);
    out.Add("nv_inference_compute_infer_duration_us",
            "Cumulative compute inference duration in microseconds", kCounter,
            Microseconds(s.compute_infer.ns), labels);
    out.Add("nv_inference_compute_output_duration_us",
            "Cumulative compute output duration in microseconds", kCounter,
            Microseconds(s.compute_output.ns), labels);
    out.Add("nv_inference_pending_request_count",
            "Instantaneous number of requests queued and not yet executing", kGauge,
            static_cast<double>(model.pending_requests), labels);
    out.Get("sonic_inference_exec_batch_size",
            "Executions by executed batch size (samples), successful executions only",
            MetricType::Histogram)
        .metric.push_back(BatchHistogram(model, labels));
    for (std::size_t i = 0; i < s.instance_busy.size(); ++i) {
      std::vector<ClientMetric::Label> instance = labels;
      instance.push_back({"instance", std::to_string(i)});
      out.Add(
          "sonic_inference_instance_busy_duration_us",
          "Cumulative time each model instance's thread spent executing, up to its responses being "
          "ready, in microseconds",
          kCounter, Microseconds(s.instance_busy[i].ns), instance);
      out.Add("sonic_inference_instance_exec_count", "Executions run by each model instance",
              kCounter, static_cast<double>(s.instance_busy[i].count), std::move(instance));
    }
  }
  if (host.cpu_utilization.has_value()) {
    out.Add("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0], all cores, last interval",
            kGauge, *host.cpu_utilization);
  }
  if (host.memory.has_value()) {
    out.Add("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes", kGauge,
            static_cast<double>(host.memory->total_bytes));
    out.Add("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes", kGauge,
            static_cast<double>(host.memory->used_bytes()));
  }
  for (const GpuSample& gpu : host.gpus) {
    const std::vector<ClientMetric::Label> labels = {{"gpu_uuid", gpu.uuid}};
    out.Add("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0]", kGauge, gpu.utilization,
            labels);
    out.Add("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", kGauge,
            static_cast<double>(gpu.memory_total_bytes), labels);
    out.Add("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", kGauge,
            static_cast<double>(gpu.memory_used_bytes), labels);
    out.Add("nv_gpu_power_usage", "GPU power usage in watts", kGauge, gpu.power_w, labels);
    out.Add("nv_gpu_power_limit", "GPU power management limit in watts", kGauge, gpu.power_limit_w,
            labels);
    out.Add("nv_energy_consumption", "GPU energy consumption in joules since the server started",
            kCounter, gpu.energy_j, labels);
  }
  return out.Take();
}

int MetricsRequestStatus(std::string_view request_head) {
  const std::string_view line = request_head.substr(0, request_head.find("\r\n"));
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    return 400;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (version != "HTTP/1.0" && version != "HTTP/1.1") return 400;
  if (method.empty() || target.empty() || target.front() != '/') return 400;
  for (const char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return 400;
  }
  if (target.substr(0, target.find('?')) != "/metrics") return 404;
  if (method != "GET") return 405;
  return 200;
}

namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Internal Server Error";
  }
}

std::string Response(int status, std::string_view content_type, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
      status, Reason(status), content_type, body.size(), status == 405 ? "Allow: GET\r\n" : "",
      body);
}

// Opens a listening TCP socket on host:port; throws Error(kUnavailable) saying why not.
int Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      error != 0) {
    Throw(ErrorKind::kUnavailable, "metrics: cannot resolve bind address '{}': {}", host,
          gai_strerror(error));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string failure = "no address";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          address->ai_protocol);
    if (fd < 0) {
      failure = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR lets a restarted server bind past TIME_WAIT; without SO_REUSEPORT a second
    // live listener on the port is still refused.
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, address->ai_addr, address->ai_addrlen) == 0 && listen(fd, 128) == 0) return fd;
    failure = std::strerror(errno);
    close(fd);
  }
  Throw(ErrorKind::kUnavailable, "metrics: cannot listen on {}:{}: {}", host, port, failure);
}

class Collector {
 public:
  Collector(MetricsExporter::ModelsFn models, bool gpus)
      : models_(std::move(models)), host_(gpus) {}
  std::string Text() {
    return prometheus::TextSerializer().Serialize(BuildMetricFamilies(models_(), host_.Sample()));
  }
  const std::string& gpu_status() const { return host_.gpu_status(); }

 private:
  MetricsExporter::ModelsFn models_;
  HostSampler host_;
};

}  // namespace

// One client connection: its request head as it arrives, then the response as it leaves.
struct Connection {
  int fd = -1;
  std::int64_t deadline_ns = 0;
  std::string head;
  std::string response;  // non-empty once the head is complete
  std::size_t sent = 0;
};

struct MetricsExporter::Impl {
  Impl(ModelsFn models, bool gpus) : collector(std::move(models), gpus) {}

  std::string host;  // as a URL writes it
  int port = 0;
  int listen_fd = -1;
  int wake_fd = -1;  // an eventfd: written once to stop the loop
  Collector collector;
  std::atomic<std::uint64_t> scrapes{0};
  std::thread loop;

  std::string Answer(std::string_view head, int status) {
    if (status == 0) status = MetricsRequestStatus(head);
    std::string body;
    if (status == 200) {
      try {
        body = collector.Text();
        scrapes.fetch_add(1);
      } catch (const std::exception& error) {  // bad_alloc and the like: this scrape fails
        status = 500;
        body = fmt::format("metrics: {}\n", error.what());
      }
    } else {
      body = fmt::format("{} {}: this endpoint serves GET /metrics\n", status, Reason(status));
    }
    return Response(
        status,
        status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
        body);
  }

  // Reads what `connection` has sent; false when it is finished with (closed, or gone).
  bool Read(Connection& connection) {
    char buffer[4096];
    while (true) {
      const ssize_t n = recv(connection.fd, buffer, sizeof(buffer), 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      connection.head.append(buffer, static_cast<std::size_t>(n));
      if (const std::size_t end = connection.head.find("\r\n\r\n"); end != std::string::npos) {
        connection.head.resize(end);
        connection.response = Answer(connection.head, 0);
        return true;
      }
      if (connection.head.size() > kMaxRequestBytes) {
        connection.response = Answer({}, 431);
        return true;
      }
    }
  }

  // Sends what is left of the response; false when it is all sent (or the client is gone).
  static bool Write(Connection& connection) {
    while (connection.sent < connection.response.size()) {
      const ssize_t n = send(connection.fd, connection.response.data() + connection.sent,
                             connection.response.size() - connection.sent, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      connection.sent += static_cast<std::size_t>(n);
    }
    shutdown(connection.fd, SHUT_WR);
    return false;
  }

  void Run() {
    std::vector<Connection> connections;
    std::vector<pollfd> pollers;
    while (true) {
      pollers.assign({{wake_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}});
      std::int64_t next_deadline_ns = std::numeric_limits<std::int64_t>::max();
      for (const Connection& connection : connections) {
        const auto events =
            static_cast<decltype(pollfd::events)>(connection.response.empty() ? POLLIN : POLLOUT);
        pollers.push_back({connection.fd, events, 0});
        next_deadline_ns = std::min(next_deadline_ns, connection.deadline_ns);
      }
      const std::int64_t wait_ms =
          connections.empty()
              ? -1
              : std::max<std::int64_t>(0, (next_deadline_ns - MonotonicNs()) / 1'000'000 + 1);
      if (poll(pollers.data(), pollers.size(), static_cast<int>(wait_ms)) < 0 && errno != EINTR) {
        continue;
      }
      if (pollers[0].revents != 0) break;
      const std::int64_t now_ns = MonotonicNs();
      std::vector<Connection> kept;
      for (std::size_t i = 0; i < connections.size(); ++i) {
        Connection& connection = connections[i];
        bool open = now_ns < connection.deadline_ns;
        if (open && pollers[i + 2].revents != 0) {
          open = connection.response.empty() ? Read(connection) : true;
          if (open && !connection.response.empty()) open = Write(connection);
        }
        if (open) {
          kept.push_back(std::move(connection));
        } else {
          close(connection.fd);
        }
      }
      connections = std::move(kept);
      if ((pollers[1].revents & POLLIN) != 0) {
        while (true) {
          const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) break;
          if (connections.size() >= kMaxConnections) {
            close(fd);  // the storm beyond the bound is turned away unanswered
            continue;
          }
          connections.push_back({fd, now_ns + kConnectionTimeoutMs * 1'000'000ll, {}, {}, 0});
        }
      }
    }
    for (const Connection& connection : connections) close(connection.fd);
  }
};

MetricsExporter::MetricsExporter(const MetricsExporterOptions& options, ModelsFn models)
    : impl_(std::make_unique<Impl>(std::move(models), options.gpus)) {
  if (options.port < 0 || options.port > 65535) {
    Throw(ErrorKind::kInvalidArgument, "metrics: port {} outside [0, 65535]", options.port);
  }
  const std::string& bind_address = options.bind_address;
  impl_->host = bind_address.find(':') != std::string::npos && bind_address.front() != '['
                    ? fmt::format("[{}]", bind_address)
                    : bind_address;
  const std::string bare =
      bind_address.front() == '[' ? bind_address.substr(1, bind_address.size() - 2) : bind_address;
  impl_->listen_fd = Listen(bare, options.port);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&bound), &length);
  impl_->port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (impl_->wake_fd < 0) {
    close(impl_->listen_fd);
    Throw(ErrorKind::kUnavailable, "metrics: eventfd: {}", std::strerror(errno));
  }
  impl_->loop = std::thread([this] { impl_->Run(); });
}

MetricsExporter::~MetricsExporter() {
  const std::uint64_t one = 1;
  if (write(impl_->wake_fd, &one, sizeof(one)) < 0) std::abort();  // the loop could not stop
  impl_->loop.join();
  close(impl_->listen_fd);
  close(impl_->wake_fd);
}

int MetricsExporter::port() const { return impl_->port; }

std::string MetricsExporter::url() const {
  const bool any = impl_->host == "0.0.0.0" || impl_->host == "[::]";
  return fmt::format("http://{}:{}/metrics", any ? "127.0.0.1" : impl_->host, impl_->port);
}

const std::string& MetricsExporter::gpu_status() const { return impl_->collector.gpu_status(); }

std::uint64_t MetricsExporter::scrapes() const { return impl_->scrapes.load(); }

}  // namespace sonic::service
