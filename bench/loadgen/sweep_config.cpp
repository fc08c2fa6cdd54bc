#include "bench/loadgen/sweep_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <span>

#include "backends/registry.h"
#include "bench/loadgen/cpu_set.h"
#include "core/error.h"
#include "core/parse.h"
#include "models/zoo.h"
#include "service/link.h"
#include "service/metrics_scrape.h"

namespace sonic {
namespace {

// Strips TOML decoration: ["a", "b"] -> a, b and "x" -> x.
std::string Untoml(std::string_view value) {
  value = Trim(value);
  if (value.size() >= 2 && value.front() == '[' && value.back() == ']') {
    value = Trim(value.substr(1, value.size() - 2));
  }
  std::string plain;
  for (char c : value) {
    if (c != '"' && c != '\'') plain += c;
  }
  return plain;
}

// A value listed twice would give two cells with the same key: keep the first.
template <typename T>
void AppendUnique(std::vector<T>& values, const T& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}

template <typename T>
T ParseAxisNumber(std::string_view text, std::string_view key) {
  if constexpr (std::is_integral_v<T>) {
    return ParseInt(text, key);
  } else {
    return ParseDouble(text, key);
  }
}

template <typename T>
void CheckAxisValue(T value, std::string_view key, T max) {
  if (!(value > 0) || value > max) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is out of range: expected a positive value up to {}",
          key, value, max);
  }
}

// Parses "a", "a-b" or "a-b*f" items of an axis into `out`. A range's length is computed, and
// bounded, before any value is generated.
template <typename T>
void ParseAxisItem(std::string_view item, std::string_view key, T max, std::vector<T>& out) {
  const std::size_t dash = item.find('-', 1);  // a leading '-' is a sign, caught as < 1 below
  if (dash == std::string_view::npos) {
    const T value = ParseAxisNumber<T>(item, key);
    CheckAxisValue(value, key, max);
    out.push_back(value);
    return;
  }
  const std::size_t star = item.find('*', dash);
  const T first = ParseAxisNumber<T>(item.substr(0, dash), key);
  const T last = ParseAxisNumber<T>(
      item.substr(dash + 1,
                  star == std::string_view::npos ? std::string_view::npos : star - dash - 1),
      key);
  CheckAxisValue(first, key, max);
  CheckAxisValue(last, key, max);
  if (last < first) Throw(ErrorKind::kInvalidArgument, "{}: range '{}' runs backwards", key, item);
  double count = 0;
  double factor = 1;
  if (star == std::string_view::npos) {
    if constexpr (std::is_floating_point_v<T>) {
      Throw(ErrorKind::kInvalidArgument, "{}: range '{}' needs a factor, e.g. {}*2", key, item,
            item);
    }
    count = static_cast<double>(last) - static_cast<double>(first) + 1;
  } else {
    factor = ParseDouble(item.substr(star + 1), key);
    if (!(factor > 1)) {
      Throw(ErrorKind::kInvalidArgument, "{}: factor in '{}' must be more than 1", key, item);
    }
    count = std::floor(std::log(static_cast<double>(last) / static_cast<double>(first)) /
                       std::log(factor)) +
            1;
  }
  if (count + static_cast<double>(out.size()) > static_cast<double>(kMaxGridCells)) {
    Throw(ErrorKind::kInvalidArgument, "{}: range '{}' has {:.0f} values; a sweep has at most {}",
          key, item, count, kMaxGridCells);
  }
  if (star == std::string_view::npos) {
    for (T v = first; v <= last; ++v) out.push_back(v);
    return;
  }
  for (double v = static_cast<double>(first); v <= static_cast<double>(last) * (1 + 1e-12);
       v *= factor) {
    out.push_back(std::is_integral_v<T> ? static_cast<T>(std::llround(v)) : static_cast<T>(v));
  }
}

template <typename T>
std::vector<T> ParseAxis(std::string_view text, std::string_view key, T max) {
  std::vector<T> values;
  for (const std::string& item : SplitList(text, key)) ParseAxisItem<T>(item, key, max, values);
  std::vector<T> unique;
  for (T v : values) AppendUnique(unique, v);
  return unique;
}

// An axis of names (`target = local, remote`), each read by `parse`; repeats dropped.
template <typename T>
std::vector<T> ParseNameAxis(std::string_view text, std::string_view key,
                             T (*parse)(std::string_view)) {
  std::vector<T> values;
  for (const std::string& name : SplitList(text, key)) AppendUnique(values, parse(name));
  return values;
}

double ParseDoubleAtLeast(std::string_view text, std::string_view key, double min, bool inclusive) {
  const double value = ParseDouble(text, key);
  if (inclusive ? !(value >= min) : !(value > min)) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is out of range: expected {} {}", key, text,
          inclusive ? "at least" : "more than", min);
  }
  return value;
}

// Link axis items hold commas themselves (rtt_ms=10,bandwidth_gbps=1): with a custom link, items
// are split on ';'.
void ApplyLink(const std::string& v, SweepConfig& c) {
  const bool custom = v.find('=') != std::string::npos;
  for (const std::string& link : SplitList(v, "link", custom ? ';' : ',')) {
    service::ParseLink(link);
    AppendUnique(c.links, link);
  }
}

void ApplyServer(const std::string& v, SweepConfig& c) {
  c.remote.servers.clear();
  if (v.empty()) return;
  for (const std::string& address : SplitList(v, "server")) {
    ValidateServerAddress(address);
    AppendUnique(c.remote.servers, address);
  }
  c.remote.server = fmt::format("{}", fmt::join(c.remote.servers, ","));
}

void ApplyMode(const std::string& v, SweepConfig& c) {
  const std::vector<std::string> names = SplitList(v, "mode");
  if (std::find(names.begin(), names.end(), "search") != names.end()) {
    if (names.size() > 1) {
      Throw(ErrorKind::kInvalidArgument,
            "mode = {}: search runs alone (its probes are open or closed loops of their own)", v);
    }
    c.search.emplace();
    c.modes.clear();  // set by the search's cross-field rules
    return;
  }
  c.modes = ParseNameAxis(v, "mode", ParseLoadMode);
}

// "LOW-HIGH" (Hz or jobs), LOW > 0 and HIGH >= LOW; a '-' after an exponent's 'e' is the
// exponent's sign.
void ParseSearchRange(std::string_view v, std::pair<double, double>& range) {
  std::size_t dash = std::string_view::npos;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '-' && v[i - 1] != 'e' && v[i - 1] != 'E') {
      dash = i;
      break;
    }
  }
  if (dash == std::string_view::npos) {
    Throw(ErrorKind::kInvalidArgument, "search_range = {}: expected LOW-HIGH, e.g. 10-5000", v);
  }
  range = {ParseDouble(v.substr(0, dash), "search_range low"),
           ParseDouble(v.substr(dash + 1), "search_range high")};
  if (!(range.first > 0 && range.second >= range.first)) {
    Throw(ErrorKind::kInvalidArgument, "search_range = {}: expected 0 < LOW <= HIGH, e.g. 10-5000",
          v);
  }
}

void ApplyBackend(const std::string& v, SweepConfig& c) {
  if (v.empty()) Throw(ErrorKind::kInvalidArgument, "backend is required (e.g. backend = onednn)");
  const std::vector<std::string> compiled = CompiledBackendNames();
  for (const std::string& name : SplitList(v, "backend")) {
    if (std::find(compiled.begin(), compiled.end(), name) == compiled.end()) {
      Throw(ErrorKind::kInvalidArgument, "unknown backend '{}': this build has {}", name,
            fmt::join(compiled, ", "));
    }
    AppendUnique(c.backends, name);
  }
}

void ApplyModel(const std::string& v, SweepConfig& c) {
  if (v.empty()) Throw(ErrorKind::kInvalidArgument, "model is required (e.g. model = resnet50)");
  std::vector<std::string> known;
  for (const ModelInfo& info : BuiltinModels()) known.push_back(info.name);
  for (const std::string& name : SplitList(v, "model")) {
    const bool onnx_file = name.ends_with(".onnx") && std::filesystem::is_regular_file(name);
    if (!onnx_file && std::find(known.begin(), known.end(), name) == known.end()) {
      Throw(ErrorKind::kInvalidArgument,
            "unknown model '{}': expected an existing .onnx file or a built-in model ({})", name,
            fmt::join(known, ", "));
    }
    AppendUnique(c.models, name);
  }
}

// The most client workers one process can run here: kMaxConcurrency, or less where the user's
// process limit is lower.
std::int64_t MachineConcurrencyLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NPROC, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    // Leave room for the backend's and gRPC's own threads.
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(limit.rlim_cur) - 64, 1,
                                    kMaxConcurrency);
  }
  return kMaxConcurrency;
}

std::string Format(double value) { return fmt::format("{:g}", value); }

// Every key, once: name, flag, default, help and the parser that applies a value. Defaults of the
// load keys are LoadSettings' own.
struct SweepKey {
  std::string_view name;
  std::string_view flag;
  std::string (*default_value)();
  std::string_view help;
  void (*apply)(const std::string& value, SweepConfig& config);
};

const SweepKey kKeys[] = {
    {"target", "--target", [] { return std::string("local"); },
     "Targets: local (in-process), remote (the KServe v2 service)",
     [](const std::string& v, SweepConfig& c) {
       c.targets = ParseNameAxis(v, "target", ParseTargetKind);
     }},
    {"link", "--link", [] { return std::string("none"); },
     "Remote: emulated links none, edge, cloud or rtt_ms=R,bandwidth_gbps=B (';' between custom)",
     ApplyLink},
    {"dynamic_batching", "--dynamic-batching", [] { return std::string("off"); },
     "Remote, embedded server: batcher off, on or both",
     [](const std::string& v, SweepConfig& c) {
       c.dynamic_batching = ParseNameAxis(v, "dynamic_batching", ParseDynamicBatching);
     }},
    {"server", "--server", [] { return std::string(); },
     "Remote: host:port of running servers, comma-separated (default: start one)", ApplyServer},
    {"server_policy", "--server-policy", [] { return std::string("round_robin"); },
     "Several servers: round_robin or least_loaded",
     [](const std::string& v, SweepConfig& c) { c.remote.policy = ParseServerPolicy(v); }},
    {"instances", "--instances", [] { return std::string("1"); },
     "Embedded server: model instances",
     [](const std::string& v, SweepConfig& c) {
       c.remote.instances = static_cast<int>(ParseIntInRange(v, "instances", 1, 1024));
     }},
    {"max_queue_delay_us", "--max-queue-delay-us", [] { return std::string("500"); },
     "Embedded server: batcher queue delay",
     [](const std::string& v, SweepConfig& c) {
       c.remote.max_queue_delay_us = ParseIntInRange(v, "max_queue_delay_us", 0, 10'000'000);
     }},
    {"server_max_batch", "--server-max-batch", [] { return std::string("0"); },
     "Embedded server: max batch (0: auto)",
     [](const std::string& v, SweepConfig& c) {
       c.remote.max_batch = ParseIntInRange(v, "server_max_batch", 0, kMaxBatch);
     }},
    {"channels", "--channels", [] { return std::string("1"); }, "Remote: client gRPC connections",
     [](const std::string& v, SweepConfig& c) {
       c.remote.channels = static_cast<int>(ParseIntInRange(v, "channels", 1, 1024));
     }},
    {"backend", "--backend", [] { return std::string(); }, "Backends, e.g. onednn,reference",
     ApplyBackend},
    {"model", "--model", [] { return std::string(); }, "Built-in models, e.g. resnet50,jet_cnn",
     ApplyModel},
    {"precision", "--precision", [] { return std::string("fp32"); }, "Precisions, e.g. fp32,bf16",
     [](const std::string& v, SweepConfig& c) {
       for (const std::string& name : SplitList(v, "precision")) {
         AppendUnique(c.precisions, ParsePrecision(name));
       }
     }},
    {"batch", "--batch", [] { return std::string("1"); }, "Batch sizes: 1,2,4 or 1-64*2",
     [](const std::string& v, SweepConfig& c) { c.batches = ParseIntAxis(v, "batch", kMaxBatch); }},
    {"mode", "--mode", [] { return std::string("closed"); },
     "Load modes: closed, open, offline; or search (a latency-bound search, alone)", ApplyMode},
    {"concurrency", "--concurrency", [] { return std::string("1"); },
     "Client workers (closed, offline) or most in flight (open)",
     [](const std::string& v, SweepConfig& c) {
       c.concurrencies = ParseIntAxis(v, "concurrency", MachineConcurrencyLimit());
     }},
    {"rate_hz", "--rate", [] { return std::string(); },
     "Open-loop rates in Hz: 100,200 or 100-1600*2",
     [](const std::string& v, SweepConfig& c) {
       if (!v.empty()) c.rates_hz = ParseRateAxis(v, "rate_hz");
     }},
    {"event_work", "--event-work", [] { return std::string(); },
     "Client workflow: each client a job whose events do none, cpu:MS or elsewhere:MS of work",
     [](const std::string& v, SweepConfig& c) {
       if (v.empty()) return;
       for (const std::string& item : SplitList(v, "event_work")) {
         AppendUnique(c.event_works, ParseEventWork(item));
       }
     }},
    {"event_work_spread", "--event-work-spread", [] { return std::string("fixed"); },
     "Client workflow: work per event fixed, exponential or lognormal:CV",
     [](const std::string& v, SweepConfig& c) {
       EventWork spread;
       ParseEventWorkSpread(v, spread);
       for (EventWork& work : c.event_works) {
         work.spread = spread.spread;
         work.cv = spread.cv;
       }
     }},
    {"requests_per_event", "--requests-per-event", [] { return std::string("1"); },
     "Client workflow: requests per event",
     [](const std::string& v, SweepConfig& c) {
       c.requests_per_event =
           static_cast<int>(ParseIntInRange(v, "requests_per_event", 1, kMaxRequestsPerEvent));
     }},
    {"client_mode", "--client-mode", [] { return std::string("sync"); },
     "Client workflow: sync (work, then inference), async (both at once) or both",
     [](const std::string& v, SweepConfig& c) {
       c.client_modes = ParseNameAxis(v, "client_mode", ParseClientMode);
     }},
    {"arrival", "--arrival", [] { return std::string("constant"); },
     "Open-loop arrivals: constant or poisson",
     [](const std::string& v, SweepConfig& c) { c.load.arrival = ParseArrivalProcess(v); }},
    {"search_over", "--search-over", [] { return std::string("rate"); },
     "mode = search: rate (the Poisson rate) or jobs (closed-loop clients)",
     [](const std::string& v, SweepConfig& c) {
       const SearchOver over = ParseSearchOver(v);
       if (c.search) c.search->over = over;
     }},
    {"latency_bound_ms", "--latency-bound-ms", [] { return std::string(); },
     "mode = search: the latency bound, in ms, that latency_percentile of requests must meet",
     [](const std::string& v, SweepConfig& c) {
       if (!v.empty()) c.latency_bound_ms = ParseDoubleAtLeast(v, "latency_bound_ms", 0, false);
     }},
    {"latency_percentile", "--latency-percentile", [] { return std::string("99"); },
     "mode = search: the percentile held to the bound, in (0, 100)",
     [](const std::string& v, SweepConfig& c) {
       c.latency_percentile = ParseDouble(v, "latency_percentile");
       if (!(c.latency_percentile > 0 && c.latency_percentile < 100)) {
         Throw(ErrorKind::kInvalidArgument,
               "latency_percentile = {}: expected more than 0 and less than 100, e.g. 99", v);
       }
     }},
    {"search_range", "--search-range", [] { return std::string(); },
     "mode = search: LOW-HIGH, in Hz or jobs (default 10-100000 Hz, 1-1024 jobs)",
     [](const std::string& v, SweepConfig& c) {
       if (!v.empty()) ParseSearchRange(v, c.search_range);
     }},
    {"search_tolerance", "--search-tolerance", [] { return Format(SearchPlan{}.tolerance); },
     "mode = search: stop when the gap is this fraction of the value found (rate)",
     [](const std::string& v, SweepConfig& c) {
       const double tolerance = ParseDoubleAtLeast(v, "search_tolerance", 0, false);
       if (c.search) c.search->tolerance = tolerance;
     }},
    {"search_max_probes", "--search-max-probes",
     [] { return fmt::format("{}", SearchPlan{}.max_probes); },
     "mode = search: the most probes before the confirmation run",
     [](const std::string& v, SweepConfig& c) {
       const auto probes = static_cast<int>(ParseIntInRange(v, "search_max_probes", 1, 1000));
       if (c.search) c.search->max_probes = probes;
     }},
    {"metrics_url", "--metrics-url", [] { return std::string("auto"); },
     "Remote: the server's Prometheus endpoint: auto (the embedded server's), none, or a URL",
     [](const std::string& v, SweepConfig& c) {
       if (v != "auto" && v != "none") service::ParseMetricsUrl(v);
       c.remote.metrics_url = v;
     }},
    {"metrics_interval_ms", "--metrics-interval-ms", [] { return std::string("500"); },
     "Remote: how often the server's gauges are scraped during a cell",
     [](const std::string& v, SweepConfig& c) {
       c.remote.metrics_interval_ms =
           static_cast<int>(ParseIntInRange(v, "metrics_interval_ms", 10, 3'600'000));
     }},
    {"repeats", "--repeats", [] { return std::string("1"); }, "Repeats of every cell",
     [](const std::string& v, SweepConfig& c) {
       c.repeats = ParseIntInRange(v, "repeats", 1, kMaxGridCells);
     }},
    {"threads", "--threads", [] { return std::string("0"); },
     "Backend threads per executable (0: usable CPUs / concurrency)",
     [](const std::string& v, SweepConfig& c) {
       c.threads = ParseIntInRange(v, "threads", 0, 1024);
     }},
    {"device", "--device", [] { return std::string(); },
     "Which device of the backend (sonicbench backends lists the forms), e.g. 0:0 or cuda:1",
     [](const std::string& v, SweepConfig& c) { c.device = v; }},
    {"backend_options", "--backend-options", [] { return std::string(); },
     "How the backend runs (sonicbench backends lists the forms), e.g. conv=direct for onednn",
     [](const std::string& v, SweepConfig& c) { c.backend_options = v; }},
    {"inputs", "--inputs", [] { return std::string("random"); },
     "Request inputs: random, a dataset file (sonicbench dataset) or a raw float32 file",
     [](const std::string& v, SweepConfig& c) {
       if (v != "random" && !std::filesystem::is_regular_file(v)) {
         Throw(ErrorKind::kInvalidArgument,
               "inputs '{}': expected random (seeded tensors), an existing dataset file (.h5) or "
               "an existing raw float32 file",
               v);
       }
       c.inputs = v;
     }},
    {"calibration", "--calibration", [] { return std::string("auto"); },
     "int8 calibration data: auto (the inputs file; random inputs when inputs = random), random, "
     "or a dataset or raw float32 file of the model's inputs",
     [](const std::string& v, SweepConfig& c) {
       if (v != "auto" && v != "random" && !std::filesystem::is_regular_file(v)) {
         Throw(ErrorKind::kInvalidArgument,
               "calibration '{}': expected auto, random or an existing dataset or raw float32 "
               "file",
               v);
       }
       c.calibration = v;
     }},
    {"accuracy", "--accuracy", [] { return std::string("off"); },
     "on: after each cell's load, its labelled inputs through the same target, judged in "
     "physics terms (ROC AUC, background rejection, accuracy, deviation from fp32)",
     [](const std::string& v, SweepConfig& c) {
       c.accuracy = ParseNameIn(kOnOffNames, v, "accuracy");
     }},
    {"accuracy_samples", "--accuracy-samples", [] { return std::string("4000"); },
     "accuracy = on: the labelled samples evaluated (the first of the inputs file)",
     [](const std::string& v, SweepConfig& c) {
       c.accuracy_samples = ParseIntInRange(v, "accuracy_samples", 2, 10'000'000);
     }},
    {"signal_class", "--signal-class", [] { return std::string("1"); },
     "accuracy = on: the output column that scores signal (label 1)",
     [](const std::string& v, SweepConfig& c) {
       c.signal_class = ParseIntInRange(v, "signal_class", 0, 1'000'000);
     }},
    {"seed", "--seed", [] { return std::string("1"); }, "Seed of arrivals and inputs",
     [](const std::string& v, SweepConfig& c) { c.seed = ParseUnsigned(v, "seed"); }},
    {"warmup_s", "--warmup-s", [] { return Format(LoadSettings{}.warmup_s); },
     "Warm-up seconds per cell",
     [](const std::string& v, SweepConfig& c) {
       c.load.warmup_s = ParseDoubleAtLeast(v, "warmup_s", 0, true);
     }},
    {"warmup_requests", "--warmup-requests",
     [] { return fmt::format("{}", LoadSettings{}.warmup_requests); }, "Warm-up requests per cell",
     [](const std::string& v, SweepConfig& c) {
       c.load.warmup_requests = ParseIntInRange(v, "warmup_requests", 0, INT64_MAX);
     }},
    {"min_duration_s", "--min-duration-s", [] { return Format(LoadSettings{}.min_duration_s); },
     "Minimum measured seconds per cell",
     [](const std::string& v, SweepConfig& c) {
       c.load.min_duration_s = ParseDoubleAtLeast(v, "min_duration_s", 0, false);
     }},
    {"min_requests", "--min-requests",
     [] { return fmt::format("{}", LoadSettings{}.min_requests); },
     "Minimum measured requests per cell",
     [](const std::string& v, SweepConfig& c) {
       c.load.min_requests = ParseIntInRange(v, "min_requests", 0, INT64_MAX);
     }},
    {"max_duration_s", "--max-duration-s", [] { return Format(LoadSettings{}.max_duration_s); },
     "Maximum measured seconds (then: not converged)",
     [](const std::string& v, SweepConfig& c) {
       c.load.max_duration_s = ParseDoubleAtLeast(v, "max_duration_s", 0, false);
     }},
    {"ci_percent", "--ci-percent", [] { return Format(100 * LoadSettings{}.ci_fraction); },
     "Throughput 95% CI half-width to converge, in percent",
     [](const std::string& v, SweepConfig& c) {
       c.load.ci_fraction = ParseDoubleAtLeast(v, "ci_percent", 0, false) / 100;
     }},
    {"sub_windows", "--sub-windows", [] { return fmt::format("{}", LoadSettings{}.sub_windows); },
     "Batch-means sub-windows in the minimum duration",
     [](const std::string& v, SweepConfig& c) {
       c.load.sub_windows = static_cast<int>(ParseIntInRange(v, "sub_windows", 2, 100'000));
     }},
    {"stop_after_failures", "--stop-after-failures",
     [] { return fmt::format("{}", LoadSettings{}.stop_after_failures); },
     "Stop a cell after this many requests in a row failed (0: never)",
     [](const std::string& v, SweepConfig& c) {
       c.load.stop_after_failures = ParseIntInRange(v, "stop_after_failures", 0, INT64_MAX);
     }},
    {"raw_record_cap", "--raw-record-cap",
     [] { return fmt::format("{}", LoadSettings{}.raw_record_cap); },
     "Raw request records kept per cell",
     [](const std::string& v, SweepConfig& c) {
       c.load.raw_record_cap =
           static_cast<std::size_t>(ParseIntInRange(v, "raw_record_cap", 0, 100'000'000));
     }},
    {"max_send_lag_us", "--max-send-lag-us",
     [] { return Format(1e6 * LoadSettings{}.max_send_lag_s); },
     "Open loop: p99 send lag above which it is behind",
     [](const std::string& v, SweepConfig& c) {
       c.load.max_send_lag_s = ParseDoubleAtLeast(v, "max_send_lag_us", 0, false) * 1e-6;
     }},
    {"client_cpus", "--client-cpus", [] { return std::string(); },
     "Pin client workers to these CPUs, e.g. 0",
     [](const std::string& v, SweepConfig& c) {
       if (!v.empty()) c.load.client_cpus = ParseCpuList(v);
     }},
    {"backend_cpus", "--backend-cpus", [] { return std::string(); },
     "Pin backend threads to these CPUs, e.g. 1",
     [](const std::string& v, SweepConfig& c) {
       if (!v.empty()) c.load.backend_cpus = ParseCpuList(v);
     }},
};

const SweepKey* FindKey(std::string_view name) {
  for (const SweepKey& key : kKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// Levenshtein distance, for "did you mean".
int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(std::string_view key) {
  std::string_view best;
  int best_distance = 3;
  for (const SweepKey& spec : kKeys) {
    const int d = EditDistance(key, spec.name);
    if (d < best_distance) best_distance = d, best = spec.name;
  }
  std::vector<std::string_view> names;
  for (const SweepKey& spec : kKeys) names.push_back(spec.name);
  return best.empty()
             ? fmt::format("unknown key '{}' (known keys: {})", key, fmt::join(names, ", "))
             : fmt::format("unknown key '{}' (did you mean '{}'?)", key, best);
}

// Keys that only client workflows use: set without event_work, they would be ignored.
// Keys that only a physics measurement (accuracy = on) uses.
constexpr std::string_view kAccuracyOnlyKeys[] = {"accuracy_samples", "signal_class"};

constexpr std::string_view kWorkflowOnlyKeys[] = {"event_work_spread", "requests_per_event",
                                                  "client_mode"};

// Keys that only a latency-bound search uses.
constexpr std::string_view kSearchOnlyKeys[] = {"search_over",        "latency_bound_ms",
                                                "latency_percentile", "search_range",
                                                "search_tolerance",   "search_max_probes"};

// mode = search: the plan's range and the probes' load mode, or what is wrong. `given` says
// whether the config set a key to other than its default (the canonical text --resume reads
// holds every default). A rate search sends Poisson arrivals whatever `arrival` says.
std::vector<std::string> SearchRules(SweepConfig& config,
                                     const std::function<bool(std::string_view)>& given) {
  std::vector<std::string> problems;
  SearchPlan& plan = *config.search;
  const bool rate = plan.over == SearchOver::kRate;
  if (!(config.latency_bound_ms > 0)) {
    problems.emplace_back("mode = search needs latency_bound_ms (e.g. latency_bound_ms = 20)");
  }
  const auto [low, high] = config.search_range.first > 0
                               ? config.search_range
                               : (rate ? std::pair(10.0, 100'000.0) : std::pair(1.0, 1'024.0));
  plan.low = low;
  plan.high = high;
  if (rate) {
    if (given("rate_hz")) {
      problems.emplace_back("rate_hz is not used by a rate search: search_range sets the rates");
    }
    if (high > kMaxRateHz) {
      problems.push_back(fmt::format("search_range: {} Hz is above {} Hz", high, kMaxRateHz));
    }
    config.load.arrival = ArrivalProcess::kPoisson;
    config.modes = {LoadMode::kOpen};
    config.rates_hz = {low};
  } else {
    if (given("concurrency")) {
      problems.emplace_back("concurrency is what a jobs search varies: give search_range");
    }
    if (low != std::floor(low) || high != std::floor(high) ||
        high > static_cast<double>(MachineConcurrencyLimit())) {
      problems.push_back(fmt::format("search_range = {}-{}: expected whole jobs, 1 to {}", low,
                                     high, MachineConcurrencyLimit()));
    }
    config.modes = {LoadMode::kClosed};
    config.concurrencies = {static_cast<std::int64_t>(low)};
  }
  config.load.latency_bound = LoadSettings::LatencyBound{
      std::llround(config.latency_bound_ms * 1e6), config.latency_percentile};
  return problems;
}

// Keys that only remote cells use: set on a grid without remote cells, they would be ignored.
constexpr std::string_view kRemoteOnlyKeys[] = {
    "link",        "dynamic_batching",   "server",           "server_policy",
    "instances",   "max_queue_delay_us", "server_max_batch", "channels",
    "metrics_url", "metrics_interval_ms"};

// The number of cells ExpandCells would make, capped at kMaxGridCells + 1. Each factor is at most
// kMaxGridCells and the running count is capped after each step, so nothing overflows.
std::int64_t CountCells(const SweepConfig& config) {
  constexpr std::int64_t kCap = kMaxGridCells + 1;
  std::int64_t per_load = 0;
  for (LoadMode mode : config.modes) {
    per_load += mode == LoadMode::kOpen ? static_cast<std::int64_t>(config.rates_hz.size()) : 1;
  }
  std::int64_t total = 0;
  for (TargetKind target : config.targets) {
    std::int64_t n = 1;
    std::vector<std::size_t> factors = {config.backends.size(),
                                        config.models.size(),
                                        config.precisions.size(),
                                        config.batches.size(),
                                        config.concurrencies.size(),
                                        std::max<std::size_t>(1, config.event_works.size()),
                                        std::max<std::size_t>(1, config.client_modes.size()),
                                        static_cast<std::size_t>(per_load),
                                        static_cast<std::size_t>(config.repeats)};
    if (target == TargetKind::kRemote) {
      factors.push_back(config.links.size());
      factors.push_back(config.dynamic_batching.size());
    }
    for (std::size_t factor : factors) n = std::min(n * static_cast<std::int64_t>(factor), kCap);
    total = std::min(total + n, kCap);
  }
  return total;
}

}  // namespace

const std::vector<SweepKeyInfo>& SweepKeys() {
  static const std::vector<SweepKeyInfo> infos = [] {
    std::vector<SweepKeyInfo> list;
    for (const SweepKey& key : kKeys) {
      list.push_back({key.name, key.flag, key.default_value(), key.help});
    }
    return list;
  }();
  return infos;
}

std::vector<std::int64_t> ParseIntAxis(std::string_view text, std::string_view key,
                                       std::int64_t max) {
  return ParseAxis<std::int64_t>(text, key, max);
}

std::vector<double> ParseRateAxis(std::string_view text, std::string_view key) {
  return ParseAxis<double>(text, key, kMaxRateHz);
}

ConfigEntries ParseConfigText(std::string_view text, std::string_view origin) {
  ConfigEntries entries;
  std::string part;  // the section the lines are in
  int line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", origin, line_number);
    auto problem = [&](std::string message) {
      entries.push_back({"", "", where, std::move(message), part});
    };
    if (line.front() == '[') {
      if (line == "[sweep]") {
        part.clear();
      } else if (line.starts_with("[sweep.") && line.ends_with(']') && line.size() > 8 &&
                 std::all_of(line.begin() + 7, line.end() - 1, [](char c) {
                   return std::islower(static_cast<unsigned char>(c)) != 0 ||
                          std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '_';
                 })) {
        part = std::string(line.substr(7, line.size() - 8));
      } else {
        problem(fmt::format(
            "unknown section '{}' (expected [sweep] or [sweep.PART], PART in a-z, 0-9, _)", line));
      }
      continue;
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      problem(fmt::format("expected 'key = value', got '{}'", line));
      continue;
    }
    const std::string_view key = Trim(line.substr(0, equals));
    const std::string value = Untoml(line.substr(equals + 1));
    if (key.empty() || value.empty()) {
      problem(fmt::format("expected 'key = value', got '{}'", line));
      continue;
    }
    const auto first = std::find_if(entries.begin(), entries.end(), [&](const ConfigEntry& entry) {
      return entry.key == key && entry.part == part;
    });
    if (first != entries.end()) {
      problem(
          fmt::format("'{}' is set twice (first at {}): one axis per line", key, first->origin));
      continue;
    }
    entries.push_back({std::string(key), value, where, "", part});
  }
  return entries;
}

namespace {

// What the cross-field rules read of the config's entries (the last entry of each key).
struct EntryView {
  const std::map<std::string, const ConfigEntry*>& latest;

  // Where a key's value came from: "sweep.conf:3", "--batch", or "default KEY".
  std::string Origin(std::string_view key) const {
    const auto it = latest.find(std::string(key));
    return it != latest.end() ? it->second->origin : fmt::format("default {}", key);
  }
  // The value the config set for a key other than its default; nullptr otherwise. The canonical
  // text --resume reads holds every default, so "set to the default" is "not set".
  const ConfigEntry* Given(std::string_view key) const {
    const auto it = latest.find(std::string(key));
    return it != latest.end() && it->second->value != FindKey(key)->default_value() ? it->second
                                                                                    : nullptr;
  }
};

// Keys set although nothing of the grid uses them (`used` false): each a problem saying `why`.
void UnusedKeyProblems(const EntryView& entries, std::span<const std::string_view> keys, bool used,
                       std::string_view why, std::vector<std::string>& problems) {
  if (used) return;
  for (std::string_view key : keys) {
    if (const ConfigEntry* entry = entries.Given(key)) {
      problems.push_back(fmt::format("{}: {} = {} {}", entry->origin, key, entry->value, why));
    }
  }
}

// The rules between fields, once each has parsed; a search's first, since it sets the modes.
void CrossFieldProblems(SweepConfig& config, const EntryView& entries,
                        std::vector<std::string>& problems) {
  if (config.search) {
    const auto given = [&](std::string_view key) { return entries.Given(key) != nullptr; };
    for (std::string& problem : SearchRules(config, given)) {
      problems.push_back(fmt::format("{}: {}", entries.Origin("mode"), problem));
    }
  }
  UnusedKeyProblems(entries, kSearchOnlyKeys, config.search.has_value(),
                    "applies to mode = search only (add mode = search and latency_bound_ms)",
                    problems);
  for (const std::string& backend : config.backends) {
    try {
      MakeBackend(backend)->ValidateOptions(config.device, config.backend_options);
    } catch (const Error& error) {
      problems.push_back(fmt::format(
          "{}: {}", entries.Origin(config.backend_options.empty() ? "device" : "backend_options"),
          error.what()));
    }
  }
  const bool open =
      std::find(config.modes.begin(), config.modes.end(), LoadMode::kOpen) != config.modes.end();
  if (open && config.rates_hz.empty()) {
    problems.push_back(fmt::format("{}: mode open needs rate_hz (e.g. rate_hz = 100, 200)",
                                   entries.Origin("mode")));
  }
  if (!open && !config.rates_hz.empty()) {
    problems.push_back(
        fmt::format("{}: rate_hz is only used with mode = open", entries.Origin("rate_hz")));
  }
  const bool remote = std::find(config.targets.begin(), config.targets.end(),
                                TargetKind::kRemote) != config.targets.end();
  UnusedKeyProblems(entries, kRemoteOnlyKeys, remote,
                    "applies to remote cells only, and no target is remote (add target = remote)",
                    problems);
  UnusedKeyProblems(entries, kWorkflowOnlyKeys, !config.event_works.empty(),
                    "applies to client workflows only, and there is none (add event_work, e.g. "
                    "event_work = elsewhere:20)",
                    problems);
  UnusedKeyProblems(entries, kAccuracyOnlyKeys, config.accuracy,
                    "applies to physics measurements only (add accuracy = on)", problems);
  if (config.accuracy && config.inputs == "random") {
    problems.push_back(fmt::format(
        "{}: accuracy = on judges the cells' outputs against labels: set inputs to a labelled "
        "dataset file (sonicbench dataset generate)",
        entries.Origin("accuracy")));
  }
  if (!config.event_works.empty() &&
      (config.modes.size() != 1 || config.modes.front() != LoadMode::kClosed)) {
    problems.push_back(fmt::format("{}: event_work needs mode = closed (each client is a job)",
                                   entries.Origin("mode")));
  }
  if (!(config.load.max_duration_s >= config.load.min_duration_s)) {
    problems.push_back(fmt::format("{}: max_duration_s = {} is less than min_duration_s = {}",
                                   entries.Origin("max_duration_s"), config.load.max_duration_s,
                                   config.load.min_duration_s));
  }
}

}  // namespace

namespace {

// One grid: the entries of one part (and the common ones), problems collected.
SweepConfig BuildPart(const ConfigEntries& entries, std::vector<std::string>& problems) {
  std::map<std::string, const ConfigEntry*> latest;
  const std::size_t first_problem = problems.size();
  for (const ConfigEntry& entry : entries) {
    if (!entry.problem.empty()) {
      problems.push_back(fmt::format("{}: {}", entry.origin, entry.problem));
    } else if (FindKey(entry.key) == nullptr) {
      problems.push_back(fmt::format("{}: {}", entry.origin, UnknownKeyMessage(entry.key)));
    } else {
      latest[entry.key] = &entry;
    }
  }
  auto value_of = [&](const SweepKey& key) -> std::string {
    const auto it = latest.find(std::string(key.name));
    return it != latest.end() ? it->second->value : key.default_value();
  };
  auto origin_of = [&](std::string_view key) -> std::string {
    const auto it = latest.find(std::string(key));
    return it != latest.end() ? it->second->origin : fmt::format("default {}", key);
  };

  SweepConfig config;
  for (const SweepKey& key : kKeys) {
    try {
      key.apply(value_of(key), config);
    } catch (const Error& error) {
      problems.push_back(fmt::format("{}: {}", origin_of(key.name), error.what()));
    }
  }

  CrossFieldProblems(config, EntryView{latest}, problems);
  if (problems.size() == first_problem) {
    const bool open =
        std::find(config.modes.begin(), config.modes.end(), LoadMode::kOpen) != config.modes.end();
    LoadSettings probe = config.load;
    probe.mode = open ? LoadMode::kOpen : LoadMode::kClosed;
    probe.rate_hz = open ? config.rates_hz.front() : 0;
    if (!config.event_works.empty()) {
      probe.workflow = EventWorkflow{config.event_works.front(), config.requests_per_event,
                                     config.client_modes.back()};
      probe.concurrency = static_cast<int>(
          *std::max_element(config.concurrencies.begin(), config.concurrencies.end()));
    }
    try {
      ValidateLoadSettings(probe);
    } catch (const Error& error) {
      problems.push_back(error.what());
    }
  }
  std::string& text = config.canonical_text;
  text = "[sweep]\n";
  for (const SweepKey& key : kKeys) {
    const std::string value = value_of(key);
    if (!value.empty()) text += fmt::format("{} = {}\n", key.name, value);
  }
  return config;
}

}  // namespace

SweepConfig BuildSweepConfig(const ConfigEntries& entries) {
  std::vector<std::string> part_names;
  for (const ConfigEntry& entry : entries) {
    if (!entry.part.empty() &&
        std::find(part_names.begin(), part_names.end(), entry.part) == part_names.end()) {
      part_names.push_back(entry.part);
    }
  }
  std::vector<std::string> problems;
  SweepConfig config;
  if (part_names.empty()) {
    config = BuildPart(entries, problems);
  } else {
    for (const std::string& name : part_names) {
      ConfigEntries part;
      for (const ConfigEntry& entry : entries) {
        if (entry.part.empty() || entry.part == name) part.push_back(entry);
      }
      std::vector<std::string> part_problems;
      config.parts.push_back(BuildPart(part, part_problems));
      for (std::string& problem : part_problems) {
        // A common line's problem is every part's: say it once.
        if (std::find(problems.begin(), problems.end(), problem) == problems.end()) {
          problems.push_back(std::move(problem));
        }
      }
    }
    const std::vector<SweepConfig> parts = std::move(config.parts);
    config = parts.front();
    config.parts = parts;
    config.part_names = part_names;
    config.backends.clear();
    config.canonical_text.clear();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      for (const std::string& backend : parts[i].backends) AppendUnique(config.backends, backend);
      if (parts[i].search) config.search = parts[i].search;
      // Each part complete (every key), so that --resume needs no common section.
      config.canonical_text +=
          fmt::format("[sweep.{}]{}", part_names[i], parts[i].canonical_text.substr(7));
    }
  }
  if (problems.empty()) {
    std::int64_t cells = 0;
    for (const SweepConfig& part :
         config.parts.empty() ? std::vector<SweepConfig>{config} : config.parts) {
      cells += CountCells(part);
    }
    if (cells > kMaxGridCells) {
      problems.push_back(fmt::format(
          "the grid has more than {0} cells; a sweep has at most {0} (split it into several "
          "sweeps)",
          kMaxGridCells));
    }
  }
  if (!problems.empty()) {
    Throw(ErrorKind::kInvalidArgument, "invalid sweep configuration:\n  {}",
          fmt::join(problems, "\n  "));
  }
  return config;
}

namespace {

// Replaces each cell by one per value of an axis, in the axis' order: expanding the axes from the
// outermost to the innermost gives the run order.
template <typename Values, typename Apply>
void ExpandAxis(std::vector<SweepCell>& cells, const Values& values_of, const Apply& apply) {
  std::vector<SweepCell> expanded;
  for (const SweepCell& cell : cells) {
    for (const auto& value : values_of(cell)) {
      SweepCell copy = cell;
      apply(copy, value);
      expanded.push_back(std::move(copy));
    }
  }
  cells = std::move(expanded);
}

bool IsRemote(const SweepCell& cell) { return cell.settings.remote(); }

}  // namespace

std::vector<std::string> RandomlyCalibratedModels(const std::vector<SweepCell>& cells) {
  std::vector<std::string> models;
  for (const SweepCell& cell : cells) {
    const CellSettings& s = cell.settings;
    const bool ours = !s.remote() || cell.remote.servers.empty();
    if (ours && s.precision == PrecisionName(Precision::kInt8) && s.backend != "null" &&
        cell.calibration == "random" &&
        std::find(models.begin(), models.end(), s.model) == models.end()) {
      models.push_back(s.model);
    }
  }
  return models;
}

std::string CalibrationOf(const SweepConfig& config) {
  if (config.calibration != "auto") return config.calibration;
  return config.inputs;  // "random" or a file
}

std::vector<SweepCell> ExpandCells(const SweepConfig& config) {
  if (!config.parts.empty()) {
    std::vector<SweepCell> cells;
    for (const SweepConfig& part : config.parts) {
      std::vector<SweepCell> more = ExpandCells(part);
      cells.insert(cells.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
    }
    return cells;
  }
  const std::size_t usable_cpus = config.load.backend_cpus.empty()
                                      ? CurrentThreadCpus().size()
                                      : config.load.backend_cpus.size();
  SweepCell base;
  base.load = config.load;
  base.remote = config.remote;
  base.device = config.device;
  base.backend_options = config.backend_options;
  base.settings.arrival = config.load.arrival;
  base.settings.inputs = config.inputs;
  base.calibration = CalibrationOf(config);
  if (config.accuracy) {
    base.accuracy = AccuracySpec{config.accuracy_samples, config.signal_class};
  }
  std::vector<SweepCell> cells = {base};
  const auto all = [](const auto& values) {
    return [&values](const SweepCell&) { return values; };
  };
  const auto only = [](auto value) { return std::vector<decltype(value)>{value}; };

  ExpandAxis(cells, all(config.targets), [&](SweepCell& c, TargetKind target) {
    c.settings.target = target;
    c.settings.server_address = c.settings.remote() ? config.remote.server : "";
  });
  ExpandAxis(
      cells,
      [&](const SweepCell& c) { return IsRemote(c) ? config.links : only(std::string("none")); },
      [](SweepCell& c, const std::string& link) { c.settings.link = link; });
  ExpandAxis(
      cells,
      [&](const SweepCell& c) {
        return IsRemote(c) ? std::vector<std::optional<bool>>(config.dynamic_batching.begin(),
                                                              config.dynamic_batching.end())
                           : only(std::optional<bool>());
      },
      [](SweepCell& c, std::optional<bool> batching) { c.settings.dynamic_batching = batching; });
  ExpandAxis(cells, all(config.backends),
             [](SweepCell& c, const std::string& backend) { c.settings.backend = backend; });
  ExpandAxis(cells, all(config.models),
             [](SweepCell& c, const std::string& model) { c.settings.model = model; });
  ExpandAxis(cells, all(config.precisions), [](SweepCell& c, Precision precision) {
    c.settings.precision = std::string(PrecisionName(precision));
  });
  ExpandAxis(cells, all(config.batches),
             [](SweepCell& c, std::int64_t batch) { c.settings.batch = batch; });
  ExpandAxis(cells, all(config.modes), [](SweepCell& c, LoadMode mode) {
    c.settings.mode = mode;
    c.load.mode = mode;
  });
  if (!config.event_works.empty()) {
    ExpandAxis(cells, all(config.event_works), [&](SweepCell& c, const EventWork& work) {
      c.settings.event_work = EventWorkName(work);
      c.settings.event_work_spread = EventWorkSpreadName(work);
      c.settings.requests_per_event = config.requests_per_event;
      c.load.workflow = EventWorkflow{work, config.requests_per_event, ClientMode::kSync};
    });
    ExpandAxis(cells, all(config.client_modes), [](SweepCell& c, ClientMode mode) {
      c.settings.client_mode = mode;
      c.load.workflow->mode = mode;
    });
  }
  ExpandAxis(cells, all(config.concurrencies), [&](SweepCell& c, std::int64_t concurrency) {
    c.settings.concurrency = concurrency;
    c.load.concurrency = static_cast<int>(concurrency);
    // Auto threads share the usable CPUs between the concurrent executables instead of
    // oversubscribing them. A remote cell's executables are the server's instances.
    const std::int64_t sharers = IsRemote(c) ? config.remote.instances : concurrency;
    c.settings.threads =
        config.threads > 0
            ? config.threads
            : std::max<std::int64_t>(1, static_cast<std::int64_t>(usable_cpus) / sharers);
  });
  ExpandAxis(
      cells,
      [&](const SweepCell& c) {
        return c.load.mode == LoadMode::kOpen ? config.rates_hz : only(0.0);
      },
      [](SweepCell& c, double rate_hz) {
        c.settings.rate_hz = rate_hz;
        c.load.rate_hz = rate_hz;
      });
  std::vector<std::int64_t> repeats(static_cast<std::size_t>(config.repeats));
  std::iota(repeats.begin(), repeats.end(), 0);
  ExpandAxis(cells, all(repeats), [&](SweepCell& c, std::int64_t repeat) {
    c.settings.repeat = repeat;
    c.load.arrival_seed = config.seed + static_cast<std::uint64_t>(repeat);
  });
  if (config.search) {
    for (SweepCell& c : cells) {
      c.search = config.search;
      if (config.search->over == SearchOver::kJobs && config.threads == 0 && !IsRemote(c)) {
        c.search->auto_thread_cpus = static_cast<std::int64_t>(usable_cpus);
      }
      c.settings.search_over = config.search->over;
      c.settings.latency_bound_ms = config.latency_bound_ms;
      c.settings.latency_percentile = config.latency_percentile;
      c.settings.search_role = SearchRole::kProbe;
    }
  }
  return cells;
}

}  // namespace sonic
