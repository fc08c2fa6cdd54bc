#include "bench/loadgen/sweep_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "backends/registry.h"
#include "bench/loadgen/cpu_set.h"
#include "core/error.h"
#include "models/zoo.h"
#include "service/link.h"

namespace sonic {
namespace {

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// Splits a comma-separated list, trimming items; an empty item is an error.
std::vector<std::string> SplitList(std::string_view text, std::string_view key) {
  std::vector<std::string> items;
  for (std::size_t begin = 0; begin <= text.size();) {
    std::size_t comma = text.find(',', begin);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = Trim(text.substr(begin, comma - begin));
    if (item.empty()) Throw(ErrorKind::kInvalidArgument, "{}: empty item in '{}'", key, text);
    items.emplace_back(item);
    begin = comma + 1;
  }
  return items;
}

template <typename T>
T ParseNumber(std::string_view text, std::string_view key) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    Throw(ErrorKind::kInvalidArgument, "{}: '{}' is not a{} number", key, text,
          std::is_integral_v<T> ? "n integer" : "");
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value))
      Throw(ErrorKind::kInvalidArgument, "{}: '{}' is not finite", key, text);
  }
  return value;
}

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

// Parses "a", "a-b" or "a-b*f" items of an axis into `out`.
template <typename T>
void ParseAxisItem(std::string_view item, std::string_view key, std::vector<T>& out) {
  const std::size_t dash = item.find('-', 1);  // a leading '-' is a sign, caught as < 1 below
  if (dash == std::string_view::npos) {
    out.push_back(ParseNumber<T>(item, key));
    return;
  }
  const std::size_t star = item.find('*', dash);
  const T first = ParseNumber<T>(item.substr(0, dash), key);
  const T last =
      ParseNumber<T>(item.substr(dash + 1, star == std::string_view::npos ? std::string_view::npos
                                                                          : star - dash - 1),
                     key);
  if (last < first) Throw(ErrorKind::kInvalidArgument, "{}: range '{}' runs backwards", key, item);
  if (!(first > 0))
    Throw(ErrorKind::kInvalidArgument, "{}: values must be positive, got '{}'", key, item);
  if (star == std::string_view::npos) {
    if constexpr (std::is_floating_point_v<T>) {
      Throw(ErrorKind::kInvalidArgument, "{}: range '{}' needs a factor, e.g. {}*2", key, item,
            item);
    } else {
      for (T v = first; v <= last; ++v) out.push_back(v);
    }
    return;
  }
  const double factor = ParseNumber<double>(item.substr(star + 1), key);
  if (!(factor > 1)) {
    Throw(ErrorKind::kInvalidArgument, "{}: factor in '{}' must be more than 1", key, item);
  }
  for (double v = first; v <= last * (1 + 1e-12); v *= factor) {
    out.push_back(std::is_integral_v<T> ? static_cast<T>(std::llround(v)) : static_cast<T>(v));
  }
}

template <typename T>
std::vector<T> ParseAxis(std::string_view text, std::string_view key) {
  std::vector<T> values;
  for (const std::string& item : SplitList(text, key)) ParseAxisItem<T>(item, key, values);
  for (T v : values) {
    if (!(v > 0)) Throw(ErrorKind::kInvalidArgument, "{}: values must be positive, got {}", key, v);
  }
  std::vector<T> unique;
  for (T v : values) AppendUnique(unique, v);
  return unique;
}

// The keys, in canonical order, with their defaults ("" = required).
struct KeySpec {
  std::string_view key;
  std::string_view default_value;
};
constexpr KeySpec kKeys[] = {
    {"target", "local"},
    {"link", "none"},
    {"dynamic_batching", "off"},
    {"server", ""},
    {"server_policy", "round_robin"},
    {"instances", "1"},
    {"max_queue_delay_us", "500"},
    {"server_max_batch", "0"},
    {"channels", "1"},
    {"backend", ""},
    {"model", ""},
    {"precision", "fp32"},
    {"batch", "1"},
    {"mode", "closed"},
    {"concurrency", "1"},
    {"rate_hz", ""},
    {"arrival", "constant"},
    {"repeats", "1"},
    {"threads", "0"},
    {"device", ""},
    {"inputs", "random"},
    {"seed", "1"},
    {"warmup_s", "1"},
    {"warmup_requests", "0"},
    {"min_duration_s", "5"},
    {"min_requests", "100"},
    {"max_duration_s", "60"},
    {"ci_percent", "5"},
    {"sub_windows", "10"},
    {"stop_after_failures", "16"},
    {"raw_record_cap", "100000"},
    {"max_send_lag_us", "1000"},
    {"client_cpus", ""},
    {"backend_cpus", ""},
};

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
  for (const KeySpec& spec : kKeys) {
    const int d = EditDistance(key, spec.key);
    if (d < best_distance) best_distance = d, best = spec.key;
  }
  std::vector<std::string_view> names;
  for (const KeySpec& spec : kKeys) names.push_back(spec.key);
  return best.empty()
             ? fmt::format("unknown key '{}' (known keys: {})", key, fmt::join(names, ", "))
             : fmt::format("unknown key '{}' (did you mean '{}'?)", key, best);
}

}  // namespace

std::vector<std::int64_t> ParseIntAxis(std::string_view text, std::string_view key) {
  return ParseAxis<std::int64_t>(text, key);
}

std::vector<double> ParseRateAxis(std::string_view text, std::string_view key) {
  return ParseAxis<double>(text, key);
}

ConfigEntries ParseConfigText(std::string_view text, std::string_view origin) {
  ConfigEntries entries;
  std::vector<std::string> problems;
  int line_number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty() || line == "[sweep]") continue;
    const std::string where = fmt::format("{}:{}", origin, line_number);
    if (line.front() == '[') {
      problems.push_back(
          fmt::format("{}: unknown section '{}' (only [sweep] is accepted)", where, line));
      continue;
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      problems.push_back(fmt::format("{}: expected 'key = value', got '{}'", where, line));
      continue;
    }
    const std::string_view key = Trim(line.substr(0, equals));
    const std::string value = Untoml(line.substr(equals + 1));
    if (key.empty() || value.empty()) {
      problems.push_back(fmt::format("{}: expected 'key = value', got '{}'", where, line));
      continue;
    }
    for (const ConfigEntry& entry : entries) {
      if (entry.key == key) {
        problems.push_back(fmt::format("{}: '{}' is set twice (first at {}): one axis per line",
                                       where, key, entry.origin));
      }
    }
    entries.push_back({std::string(key), value, where});
  }
  if (!problems.empty()) {
    Throw(ErrorKind::kInvalidArgument, "invalid sweep config:\n  {}", fmt::join(problems, "\n  "));
  }
  return entries;
}

SweepConfig BuildSweepConfig(const ConfigEntries& entries) {
  std::map<std::string, const ConfigEntry*> latest;
  std::vector<std::string> problems;
  for (const ConfigEntry& entry : entries) {
    const bool known = std::any_of(std::begin(kKeys), std::end(kKeys),
                                   [&](const KeySpec& s) { return s.key == entry.key; });
    if (!known) {
      problems.push_back(fmt::format("{}: {}", entry.origin, UnknownKeyMessage(entry.key)));
      continue;
    }
    latest[entry.key] = &entry;
  }
  auto value_of = [&](std::string_view key) -> std::string {
    const auto it = latest.find(std::string(key));
    if (it != latest.end()) return it->second->value;
    for (const KeySpec& spec : kKeys) {
      if (spec.key == key) return std::string(spec.default_value);
    }
    return {};
  };
  auto origin_of = [&](std::string_view key) -> std::string {
    const auto it = latest.find(std::string(key));
    return it != latest.end() ? it->second->origin : fmt::format("default {}", key);
  };
  // Runs one key's parser, turning its error into a problem line with the key's origin.
  auto check = [&](std::string_view key, const std::function<void(const std::string&)>& parse) {
    try {
      parse(value_of(key));
    } catch (const Error& error) {
      problems.push_back(fmt::format("{}: {}", origin_of(key), error.what()));
    }
  };

  SweepConfig config;
  check("target", [&](const std::string& v) {
    for (const std::string& target : SplitList(v, "target")) {
      if (target != "local" && target != "remote") {
        Throw(ErrorKind::kInvalidArgument, "unknown target '{}': expected local or remote", target);
      }
      AppendUnique(config.targets, target);
    }
  });
  check("link", [&](const std::string& v) {
    // Custom links hold commas themselves (rtt_ms=10,bandwidth_gbps=1): axis items are split on
    // ';' when one is present, else on ','.
    const bool custom = v.find('=') != std::string::npos;
    std::vector<std::string> items;
    if (custom) {
      std::size_t start = 0;
      while (start <= v.size()) {
        const std::size_t end = std::min(v.find(';', start), v.size());
        std::string item(v.substr(start, end - start));
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) items.push_back(item);
        start = end + 1;
      }
    } else {
      items = SplitList(v, "link");
    }
    for (const std::string& link : items) {
      service::ParseLink(link);
      AppendUnique(config.links, link);
    }
  });
  check("dynamic_batching", [&](const std::string& v) {
    for (const std::string& mode : SplitList(v, "dynamic_batching")) {
      if (mode != "on" && mode != "off") {
        Throw(ErrorKind::kInvalidArgument, "dynamic_batching '{}': expected on, off or both", mode);
      }
      AppendUnique(config.dynamic_batching, mode);
    }
  });
  check("server", [&](const std::string& v) {
    config.remote.servers.clear();
    if (v.empty()) return;
    for (const std::string& address : SplitList(v, "server")) {
      if (address.find(':') == std::string::npos) {
        Throw(ErrorKind::kInvalidArgument, "server '{}': expected host:port[,host:port...]",
              address);
      }
      AppendUnique(config.remote.servers, address);
    }
    config.remote.server = fmt::format("{}", fmt::join(config.remote.servers, ","));
  });
  check("server_policy",
        [&](const std::string& v) { config.remote.policy = ParseServerPolicy(v); });
  check("instances", [&](const std::string& v) {
    config.remote.instances = static_cast<int>(ParseIntAxis(v, "instances").front());
  });
  check("max_queue_delay_us", [&](const std::string& v) {
    config.remote.max_queue_delay_us = std::stoll(v);
    if (config.remote.max_queue_delay_us < 0) {
      Throw(ErrorKind::kInvalidArgument, "max_queue_delay_us {} must not be negative", v);
    }
  });
  check("server_max_batch", [&](const std::string& v) {
    config.remote.max_batch = std::stoll(v);
    if (config.remote.max_batch < 0) {
      Throw(ErrorKind::kInvalidArgument, "server_max_batch {} must not be negative", v);
    }
  });
  check("channels", [&](const std::string& v) {
    config.remote.channels = static_cast<int>(ParseIntAxis(v, "channels").front());
  });
  check("backend", [&](const std::string& v) {
    if (v.empty())
      Throw(ErrorKind::kInvalidArgument, "backend is required (e.g. backend = onednn)");
    const std::vector<std::string> compiled = CompiledBackendNames();
    for (const std::string& name : SplitList(v, "backend")) {
      if (std::find(compiled.begin(), compiled.end(), name) == compiled.end()) {
        Throw(ErrorKind::kInvalidArgument, "unknown backend '{}': this build has {}", name,
              fmt::join(compiled, ", "));
      }
      AppendUnique(config.backends, name);
    }
  });
  check("model", [&](const std::string& v) {
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
      AppendUnique(config.models, name);
    }
  });
  check("precision", [&](const std::string& v) {
    for (const std::string& name : SplitList(v, "precision")) {
      AppendUnique(config.precisions, ParsePrecision(name));
    }
  });
  check("batch", [&](const std::string& v) { config.batches = ParseIntAxis(v, "batch"); });
  check("mode", [&](const std::string& v) {
    for (const std::string& name : SplitList(v, "mode"))
      AppendUnique(config.modes, ParseLoadMode(name));
  });
  check("concurrency",
        [&](const std::string& v) { config.concurrencies = ParseIntAxis(v, "concurrency"); });
  check("rate_hz", [&](const std::string& v) {
    if (!v.empty()) config.rates_hz = ParseRateAxis(v, "rate_hz");
  });
  check("arrival", [&](const std::string& v) { config.load.arrival = ParseArrivalProcess(v); });
  check("repeats", [&](const std::string& v) {
    config.repeats = ParseNumber<std::int64_t>(v, "repeats");
    if (config.repeats < 1) Throw(ErrorKind::kInvalidArgument, "repeats must be at least 1");
  });
  check("threads", [&](const std::string& v) {
    config.threads = ParseNumber<std::int64_t>(v, "threads");
    if (config.threads < 0) Throw(ErrorKind::kInvalidArgument, "threads must be 0 (auto) or more");
  });
  check("device", [&](const std::string& v) { config.device = v; });
  check("inputs", [&](const std::string& v) {
    if (v != "random" && !std::filesystem::is_regular_file(v)) {
      Throw(ErrorKind::kInvalidArgument,
            "inputs '{}': expected random (seeded tensors) or an existing dataset file (.h5)", v);
    }
    config.inputs = v;
  });
  check("seed", [&](const std::string& v) { config.seed = ParseNumber<std::uint64_t>(v, "seed"); });
  LoadSettings& load = config.load;
  check("warmup_s",
        [&](const std::string& v) { load.warmup_s = ParseNumber<double>(v, "warmup_s"); });
  check("warmup_requests", [&](const std::string& v) {
    load.warmup_requests = ParseNumber<std::int64_t>(v, "warmup_requests");
  });
  check("min_duration_s", [&](const std::string& v) {
    load.min_duration_s = ParseNumber<double>(v, "min_duration_s");
  });
  check("min_requests", [&](const std::string& v) {
    load.min_requests = ParseNumber<std::int64_t>(v, "min_requests");
  });
  check("max_duration_s", [&](const std::string& v) {
    load.max_duration_s = ParseNumber<double>(v, "max_duration_s");
  });
  check("ci_percent", [&](const std::string& v) {
    load.ci_fraction = ParseNumber<double>(v, "ci_percent") / 100;
  });
  check("sub_windows", [&](const std::string& v) {
    load.sub_windows = static_cast<int>(ParseNumber<std::int64_t>(v, "sub_windows"));
  });
  check("stop_after_failures", [&](const std::string& v) {
    load.stop_after_failures = ParseNumber<std::int64_t>(v, "stop_after_failures");
  });
  check("raw_record_cap", [&](const std::string& v) {
    const auto cap = ParseNumber<std::int64_t>(v, "raw_record_cap");
    if (cap < 0) Throw(ErrorKind::kInvalidArgument, "raw_record_cap must be 0 or more");
    load.raw_record_cap = static_cast<std::size_t>(cap);
  });
  check("max_send_lag_us", [&](const std::string& v) {
    load.max_send_lag_s = ParseNumber<double>(v, "max_send_lag_us") * 1e-6;
  });
  check("client_cpus", [&](const std::string& v) {
    if (!v.empty()) load.client_cpus = ParseCpuList(v);
  });
  check("backend_cpus", [&](const std::string& v) {
    if (!v.empty()) load.backend_cpus = ParseCpuList(v);
  });

  // Cross-field rules, checked once each field parsed.
  const bool open =
      std::find(config.modes.begin(), config.modes.end(), LoadMode::kOpen) != config.modes.end();
  if (open && config.rates_hz.empty()) {
    problems.push_back(
        fmt::format("{}: mode open needs rate_hz (e.g. rate_hz = 100, 200)", origin_of("mode")));
  }
  if (!open && !config.rates_hz.empty()) {
    problems.push_back(
        fmt::format("{}: rate_hz is only used with mode = open", origin_of("rate_hz")));
  }
  if (problems.empty()) {
    LoadSettings probe = load;
    probe.mode = open ? LoadMode::kOpen : LoadMode::kClosed;
    probe.rate_hz = open ? config.rates_hz.front() : 0;
    try {
      ValidateLoadSettings(probe);
    } catch (const Error& error) {
      problems.push_back(error.what());
    }
  }
  if (!problems.empty()) {
    Throw(ErrorKind::kInvalidArgument, "invalid sweep configuration:\n  {}",
          fmt::join(problems, "\n  "));
  }

  std::string& text = config.canonical_text;
  text = "[sweep]\n";
  for (const KeySpec& spec : kKeys) {
    const std::string value = value_of(spec.key);
    if (!value.empty()) text += fmt::format("{} = {}\n", spec.key, value);
  }
  return config;
}

std::vector<SweepCell> ExpandCells(const SweepConfig& config) {
  const std::size_t usable_cpus = config.load.backend_cpus.empty()
                                      ? CurrentThreadCpus().size()
                                      : config.load.backend_cpus.size();
  std::vector<SweepCell> cells;
  const std::vector<std::string> local_only{""};
  for (const std::string& target : config.targets)
    for (const std::string& link :
         target == "remote" ? config.links : std::vector<std::string>{"none"})
      for (const std::string& batching : target == "remote" ? config.dynamic_batching : local_only)
        for (const std::string& backend : config.backends)
          for (const std::string& model : config.models)
            for (Precision precision : config.precisions)
              for (std::int64_t batch : config.batches)
                for (LoadMode mode : config.modes)
                  for (std::int64_t concurrency : config.concurrencies) {
                    const std::vector<double> rates =
                        mode == LoadMode::kOpen ? config.rates_hz : std::vector<double>{0.0};
                    for (double rate_hz : rates)
                      for (std::int64_t repeat = 0; repeat < config.repeats; ++repeat) {
                        SweepCell cell;
                        CellSettings& s = cell.settings;
                        s.target = target;
                        s.link = link;
                        s.dynamic_batching = batching;
                        s.server_address = target == "remote" ? config.remote.server : "";
                        s.backend = backend;
                        s.model = model;
                        s.precision = std::string(PrecisionName(precision));
                        s.batch = batch;
                        s.mode = std::string(LoadModeName(mode));
                        s.concurrency = concurrency;
                        s.rate_hz = rate_hz;
                        s.arrival = std::string(ArrivalProcessName(config.load.arrival));
                        s.repeat = repeat;
                        // Auto threads share the usable CPUs between the concurrent executables
                        // instead of oversubscribing them.
                        // A remote cell's executables are the server's instances.
                        const std::int64_t sharers =
                            target == "remote" ? config.remote.instances : concurrency;
                        s.threads = config.threads > 0
                                        ? config.threads
                                        : std::max<std::int64_t>(
                                              1, static_cast<std::int64_t>(usable_cpus) / sharers);
                        s.inputs = config.inputs;
                        cell.load = config.load;
                        cell.remote = config.remote;
                        cell.device = config.device;
                        cell.load.mode = mode;
                        cell.load.concurrency = static_cast<int>(concurrency);
                        cell.load.rate_hz = rate_hz;
                        cell.load.arrival_seed = config.seed + static_cast<std::uint64_t>(repeat);
                        cells.push_back(std::move(cell));
                      }
                  }
  return cells;
}

}  // namespace sonic
