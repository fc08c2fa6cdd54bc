#include "results/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "results/saturation.h"

namespace sonic {
namespace {

// "850 ns", "12.3 us", "4.56 ms", "1.23 s": three significant digits are what a reader compares.
std::string FormatNs(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.3g} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g} ms", ns / 1e6);
  return fmt::format("{:.3g} s", ns / 1e9);
}

// Inferences/s with the digits that matter: "12.3", "4567", "3.24e+07".
std::string FormatRate(double per_s) {
  if (per_s < 1e3) return fmt::format("{:.1f}", per_s);
  if (per_s < 1e6) return fmt::format("{:.0f}", per_s);
  return fmt::format("{:.4g}", per_s);
}

// How the load was offered: "c=8" (closed), "1000/s poisson" (open), "offline".
std::string LoadLabel(const CellSettings& s) {
  switch (s.mode) {
    case LoadMode::kClosed:
      return fmt::format("c={}", s.concurrency);
    case LoadMode::kOpen:
      return fmt::format("{}/s {}", s.rate_hz, ArrivalProcessName(s.arrival));
    case LoadMode::kOffline:
      break;
  }
  return std::string(LoadModeName(s.mode));
}

// "remote/cloud+batching": the link unless none, and the server's dynamic batcher when on.
std::string TargetLabel(const CellSettings& s) {
  return fmt::format("{}{}{}", TargetKindName(s.target), s.link == "none" ? "" : "/" + s.link,
                     s.batched() ? "+batching" : "");
}

std::string CellLabel(const CellSettings& s) {
  return fmt::format("{} {} {} {} b={} {}{}", TargetLabel(s), s.backend, s.model, s.precision,
                     s.batch, LoadLabel(s), s.repeat > 0 ? fmt::format(" #{}", s.repeat) : "");
}

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// The relative 95% half-width of a cell's p99: the order-statistic interval's larger side plus
// the histogram's own reading error, over p99.
double P99HalfWidth(const LatencyHistogram& latency) {
  const double p99 = latency.Percentile(0.99);
  const auto [low, high] = latency.PercentileCi95(0.99);
  return std::max(p99 - low, high - p99) + p99 * LatencyHistogram::kRelativeError;
}

// The lines under a cell: its share per server (when there are several) and, for a fleet, its
// client processes (the first kListedRanks of them) and the windows' alignment.
// The line under a remote cell with server metrics: the requests and executions the server
// counted, each instance's busy fraction of the scrapes' span (its duty cycle), and the host's
// CPU and, where the server has GPUs, their utilisation and power, as means over the cell.
std::string FormatServerMetrics(const CellResult& r) {
  if (!r.server_metrics) return {};
  const ServerMetrics& m = *r.server_metrics;
  if (m.counters.empty()) {
    return fmt::format("        server metrics ({}): none: {}\n", m.endpoint,
                       m.error.empty() ? "no counter in the scrapes" : m.error);
  }
  const auto sum = [&](std::string_view prefix) {
    double total = 0;
    for (const MetricDelta& counter : m.DeltasStartingWith(prefix)) total += counter.delta;
    return total;
  };
  std::string out = fmt::format(
      "        server metrics ({}, {:.1f} s): {:.0f} requests, {:.0f} inferences, {:.0f} "
      "executions",
      m.endpoint, m.span_s, sum("nv_inference_request_success{"), sum("nv_inference_count{"),
      sum("nv_inference_exec_count{"));
  const std::vector<MetricDelta> busy = m.DeltasStartingWith("sonic_inference_instance_busy");
  for (std::size_t i = 0; i < busy.size() && m.span_s > 0; ++i) {
    out +=
        fmt::format("{} {:.2f}", i == 0 ? "; instance duty" : ",", busy[i].delta * 1e-6 / m.span_s);
  }
  if (const auto cpu = m.MeanGauge("nv_cpu_utilization")) {
    out += fmt::format("; host cpu {:.2f}", *cpu);
  }
  if (const auto gpu = m.MeanGauge("nv_gpu_utilization")) {
    out += fmt::format("; gpu {:.2f}", *gpu);
  }
  if (const auto power = m.MeanGauge("nv_gpu_power_usage")) {
    out += fmt::format(", {:.0f} W", *power);
  }
  if (!m.error.empty()) out += fmt::format(" (then: {})", m.error);
  return out + "\n";
}

std::string FormatBreakdown(const CellResult& r) {
  constexpr std::size_t kListedRanks = 8;
  std::string out;
  std::int64_t total_requests = 0;
  for (const ServerShare& share : r.servers) total_requests += share.requests;
  if (r.servers.size() > 1) {
    for (const ServerShare& share : r.servers) {
      out += fmt::format(
          "        server {}: {} requests ({:.1f}%), {} errors, p50 {} p99 {}, {} bytes sent\n",
          share.address, share.requests,
          total_requests > 0 ? 100.0 * share.requests / total_requests : 0.0, share.errors,
          FormatNs(share.latency.Percentile(0.5)), FormatNs(share.latency.Percentile(0.99)),
          share.bytes_sent);
    }
  }
  if (!r.fleet) return out;
  std::set<std::string> hosts;
  for (const RankSummary& rank : r.fleet->ranks) hosts.insert(rank.host);
  out += fmt::format("        fleet: {} ranks on {} host(s), windows aligned within {}\n",
                     r.fleet->ranks.size(), hosts.size(),
                     FormatNs(static_cast<double>(r.fleet->alignment_error_ns)));
  for (std::size_t i = 0; i < r.fleet->ranks.size() && i < kListedRanks; ++i) {
    const RankSummary& rank = r.fleet->ranks[i];
    out += fmt::format(
        "        rank {} ({}): {} clients, {} requests, {} req/s, p50 {} p99 {}, cpu {:.2f} s, "
        "{} errors\n",
        rank.rank, rank.host, rank.concurrency, rank.completed_requests,
        FormatRate(rank.throughput_requests_per_s), FormatNs(rank.latency_p50_ns),
        FormatNs(rank.latency_p99_ns), rank.client_cpu_user_s + rank.client_cpu_sys_s,
        rank.error_count);
  }
  if (r.fleet->ranks.size() > kListedRanks) {
    out += fmt::format("        ... {} more ranks\n", r.fleet->ranks.size() - kListedRanks);
  }
  return out;
}

// What a cell's workflow would be run locally: its key with the deployment (target, link,
// batcher) and the threads (which auto-sizing sets per deployment) taken out.
std::string WorkflowIdentity(CellSettings s) {
  s.target = TargetKind::kLocal;
  s.link = "none";
  s.dynamic_batching.reset();
  s.threads = 0;
  return s.Key();
}

// The line under a client-workflow cell: events, event time, where the time went, and for a
// remote cell the speedup over the same workflow with local inference, when the run has it.
std::string FormatWorkflow(const CellRecord& cell,
                           const std::map<std::string, double>& local_events_per_s) {
  const CellSettings& s = cell.settings;
  const CellResult& r = cell.result;
  if (s.event_work.empty() || r.completed_events == 0) return {};
  std::string out = fmt::format(
      "        jobs ({} {}, {} x{} per event): {} events/s, {} per job; event p50 {} p99 {}; "
      "{:.0f}% in inference",
      s.event_work, ClientModeName(s.client_mode.value_or(ClientMode::kSync)), s.event_work_spread,
      s.requests_per_event, FormatRate(r.throughput_events_per_s),
      FormatRate(r.throughput_events_per_s /
                 static_cast<double>(std::max<std::int64_t>(1, s.concurrency))),
      FormatNs(r.event_time.Percentile(0.5)), FormatNs(r.event_time.Percentile(0.99)),
      100 * r.EventInferenceFraction());
  if (r.bytes_sent + r.bytes_received > 0) {
    out +=
        fmt::format("; {:.0f} bytes/event", static_cast<double>(r.bytes_sent + r.bytes_received) /
                                                static_cast<double>(r.completed_events));
  }
  for (std::size_t i = 0; i < r.instance_duty_cycles.size(); ++i) {
    out += fmt::format("{} {:.2f}", i == 0 ? "; instance duty" : ",", r.instance_duty_cycles[i]);
  }
  if (s.remote()) {
    const auto local = local_events_per_s.find(WorkflowIdentity(s));
    if (local != local_events_per_s.end() && local->second > 0) {
      out += fmt::format("; {:.2f}x the events/s of local inference",
                         r.throughput_events_per_s / local->second);
    }
  }
  return out + "\n";
}

}  // namespace

// Each latency-bound search of the run, in the order its first cell ran: what it found, its
// confirmation, and its probes in order.
std::string FormatSearches(const std::vector<CellRecord>& cells) {
  std::map<std::string, std::size_t> index;
  std::vector<std::vector<const CellRecord*>> searches;
  for (const CellRecord& cell : cells) {
    if (!cell.settings.search_over) continue;
    const auto [it, added] = index.emplace(cell.settings.SearchKey(), searches.size());
    if (added) searches.emplace_back();
    searches[it->second].push_back(&cell);
  }
  if (searches.empty()) return {};
  std::string out = "latency-bound searches (docs/SWEEP.md \"Latency-bound search\"):\n";
  for (const auto& search : searches) {
    const CellSettings& s = search.front()->settings;
    const bool rate = s.search_over == SearchOver::kRate;
    const auto value = [&](const CellSettings& cell) {
      return rate ? fmt::format("{:.4g}/s", cell.rate_hz)
                  : fmt::format("{} jobs", cell.concurrency);
    };
    out += fmt::format("  {} {} {} {} b={}, p{:g} <= {:g} ms: ", TargetLabel(s), s.backend, s.model,
                       s.precision, s.batch, s.latency_percentile, s.latency_bound_ms);
    const CellRecord* confirmation = search.back();
    if (confirmation->settings.search_role == SearchRole::kConfirmation) {
      const CellResult& r = confirmation->result;
      out +=
          fmt::format("{} ({} on confirmation: {}; goodput {}/s)\n", value(confirmation->settings),
                      r.bound_met.value_or(false) ? "VALID" : "INVALID", r.bound_verdict_reason,
                      FormatRate(r.GoodputPerS()));
    } else {
      const bool any_met = std::any_of(search.begin(), search.end(), [](const CellRecord* cell) {
        return cell->result.bound_met.value_or(false);
      });
      out += any_met ? "unfinished (interrupted before its confirmation run)\n"
                     : fmt::format("none within the bound ({} already misses it)\n",
                                   value(search.front()->settings));
    }
    out += "    probes:";
    for (const CellRecord* cell : search) {
      if (cell->settings.search_role != SearchRole::kProbe) continue;
      const CellResult& r = cell->result;
      out += fmt::format(" {} {}{},", value(cell->settings),
                         r.bound_met.value_or(false) ? "VALID" : "INVALID",
                         r.bound_verdict_reason.starts_with("stopped early") ? " (early)" : "");
    }
    out.back() = '\n';
  }
  return out;
}

// 1/eB as a reader compares it: "> N" (N the background samples) where no background passed.
std::string FormatRejection(double rejection, std::int64_t background) {
  return std::isinf(rejection) ? fmt::format("> {}", background) : fmt::format("{:.1f}", rejection);
}

// The cells with a physics measurement (accuracy = on), each beside its speed: AUC and its change
// from the first fp32 cell of the same model and dataset, rejections, accuracy, deviation.
std::string FormatPhysics(const std::vector<CellRecord>& cells) {
  std::map<std::string, double> fp32_auc;  // model|dataset -> AUC of its first fp32 cell
  bool any = false;
  for (const CellRecord& cell : cells) {
    const std::optional<CellAccuracy>& a = cell.result.accuracy;
    if (!a) continue;
    any = true;
    if (a->error.empty() && cell.settings.precision == "fp32") {
      fp32_auc.emplace(cell.settings.model + "|" + a->dataset, a->score.roc_auc);
    }
  }
  if (!any) return {};
  std::string out =
      "physics performance (docs/SWEEP.md \"Accuracy\"; d: deviation from the reference's fp32 "
      "outputs):\n";
  out +=
      fmt::format("{:>4}  {:<20} {:<10} {:<5} {:>5} {:>12} {:>8} {:>9} {:>9} {:>9} {:>8} {:>9}\n",
                  "#", "target", "backend", "prec", "batch", "inferences/s", "AUC", "dAUC fp32",
                  "1/eB@0.3", "1/eB@0.5", "accuracy", "max|d|");
  for (const CellRecord& cell : cells) {
    const CellSettings& s = cell.settings;
    const std::optional<CellAccuracy>& a = cell.result.accuracy;
    if (!a) continue;
    const std::string speed = FormatRate(cell.result.throughput_inferences_per_s);
    if (!a->error.empty()) {
      out += fmt::format("{:>4}  {:<20} {:<10} {:<5} {:>5} {:>12} not measured: {}\n", cell.index,
                         TargetLabel(s), s.backend, s.precision, s.batch, speed, a->error);
      continue;
    }
    const TaggerScore& t = a->score;
    const auto fp32 = fp32_auc.find(s.model + "|" + a->dataset);
    const std::int64_t background = t.samples - t.signal_samples;
    out += fmt::format(
        "{:>4}  {:<20} {:<10} {:<5} {:>5} {:>12} {:>8.5f} {:>9} {:>9} {:>9} {:>8.4f} {:>9.3g}\n",
        cell.index, TargetLabel(s), s.backend, s.precision, s.batch, speed, t.roc_auc,
        fp32 == fp32_auc.end() ? "-" : fmt::format("{:+.5f}", t.roc_auc - fp32->second),
        FormatRejection(t.rejection[0], background), FormatRejection(t.rejection[1], background),
        t.accuracy, t.max_abs_deviation);
  }
  for (const CellRecord& cell : cells) {
    if (const std::optional<CellAccuracy>& a = cell.result.accuracy; a && a->error.empty()) {
      out += fmt::format("  on the first {} samples of {} ({} signal), signal: output {}\n",
                         a->score.samples, a->dataset, a->score.signal_samples, a->signal_class);
      break;
    }
  }
  return out;
}

// One series' saturation, in a few lines.
std::string FormatSaturation(const SaturationSeries& series, const ReportOptions& options) {
  const Saturation s =
      AnalyseSaturation(series.points, options.latency_budget_ms * 1e6, options.cores_per_job);
  const CellSettings& first = series.first;
  const std::string unit = first.event_work.empty() ? "inferences/s" : "events/s";
  std::string out =
      fmt::format("  {} {} {} {} b={}{}: {} to {} jobs\n", TargetLabel(first), first.backend,
                  first.model, first.precision, first.batch,
                  first.event_work.empty()
                      ? ""
                      : fmt::format(" {} {}", first.event_work,
                                    ClientModeName(first.client_mode.value_or(ClientMode::kSync))),
                  series.points.front().jobs, series.points.back().jobs);
  out += "    jobs:";
  for (const SaturationPoint& p : series.points) out += fmt::format(" {:>8}", p.jobs);
  out += fmt::format("\n    {}:", unit == "events/s" ? "ev/s" : "inf/s");
  for (const SaturationPoint& p : series.points) {
    out += fmt::format(" {:>8}", FormatRate(p.throughput_per_s));
  }
  out += "\n    p50:";
  for (const SaturationPoint& p : series.points) out += fmt::format(" {:>8}", FormatNs(p.p50_ns));
  out += "\n    p99:";
  for (const SaturationPoint& p : series.points) out += fmt::format(" {:>8}", FormatNs(p.p99_ns));
  out += fmt::format(
      "\n    plateau {} {} (at {} jobs); knee at {} jobs (the first at {:.0f}% of the plateau)",
      FormatRate(s.plateau_per_s), unit, s.plateau_jobs, s.knee_jobs, 100 * kKneeFraction);
  if (options.latency_budget_ms > 0) {
    out +=
        s.jobs_within_budget
            ? fmt::format("; p99 within {:g} ms up to {} jobs ({} {})", options.latency_budget_ms,
                          *s.jobs_within_budget, FormatRate(s.throughput_within_budget_per_s), unit)
            : fmt::format("; no job count keeps p99 within {:g} ms", options.latency_budget_ms);
  }
  if (!first.remote()) return out + "\n";  // each job its own device: nothing shared
  out += fmt::format("\n    one such server serves {} jobs: {:g} CPU cores at {:g} per job\n",
                     s.jobs_within_budget.value_or(s.knee_jobs), s.cores_per_accelerator,
                     options.cores_per_job);
  return out;
}

std::string FormatReport(const RunInfo& info, const std::vector<CellRecord>& cells,
                         const ReportOptions& options) {
  std::map<std::string, double> local_events_per_s;
  for (const CellRecord& cell : cells) {
    if (!cell.settings.remote() && !cell.settings.event_work.empty() &&
        cell.result.status != CellStatus::kFailed) {
      local_events_per_s[WorkflowIdentity(cell.settings)] = cell.result.throughput_events_per_s;
    }
  }
  std::string out = fmt::format("run {} ({}), {} cells\n", info.run_id,
                                info.complete ? "complete" : "interrupted", cells.size());
  out += fmt::format("  sonicbench {} ({}), started {} on {}", info.sonicbench_version,
                     info.git_commit, info.start_time_utc, info.host);
  if (!info.cpu_model.empty()) out += ", " + info.cpu_model;
  if (info.cpu_peak_gflops > 0) out += fmt::format(", peak {:.0f} GFLOP/s", info.cpu_peak_gflops);
  out += "\n";
  const RunSystem& system = info.system;
  if (system.cpu_cores > 0) {
    out += fmt::format("  host: {} cores ({} usable), {}", system.cpu_cores, system.online_cpus,
                       system.isa.empty() ? "no tracked ISA extension" : system.isa);
    if (system.int8_peak_gops > 0) out += fmt::format("; int8 {:.0f} GOP/s", system.int8_peak_gops);
    if (system.bf16_peak_gflops > 0) {
      out += fmt::format(", bf16 {:.0f} GFLOP/s", system.bf16_peak_gflops);
    }
    if (system.amx_bf16_peak_gflops > 0) {
      out += fmt::format(", amx bf16 {:.0f} GFLOP/s", system.amx_bf16_peak_gflops);
    }
    if (system.amx_int8_peak_gops > 0) {
      out += fmt::format(", amx int8 {:.0f} GOP/s", system.amx_int8_peak_gops);
    }
    if (system.stream_triad_gbs > 0) {
      out += fmt::format(", memory {:.1f} GB/s", system.stream_triad_gbs);
    }
    out += "\n";
  }
  if (!info.command_line.empty()) out += fmt::format("  command: {}\n", info.command_line);
  out +=
      fmt::format("{:>4}  {:<20} {:<10} {:<12} {:<5} {:>5} {:<16} {:>22} {:>10} {:>10} {:>6}  {}\n",
                  "#", "target", "backend", "model", "prec", "batch", "load", "inferences/s", "p50",
                  "p99", "cpu", "status");
  for (const CellRecord& cell : cells) {
    const CellSettings& s = cell.settings;
    const CellResult& r = cell.result;
    std::string status(CellStatusName(r.status));
    if (r.status == CellStatus::kFailed) status += ": " + r.error_message;
    if (r.status == CellStatus::kNotConverged) status += ": " + r.convergence_reason;
    if (r.generator_behind) status += " (generator behind)";
    if (r.bound_met) status += *r.bound_met ? "; VALID" : "; INVALID";
    if (r.latency.overflow_count() > 0) {
      status += fmt::format(" ({} latencies over {})", r.latency.overflow_count(),
                            FormatNs(static_cast<double>(LatencyHistogram::kMaxValueNs)));
    }
    const bool measured = r.latency.count() > 0;
    out += fmt::format(
        "{:>4}  {:<20} {:<10} {:<12} {:<5} {:>5} {:<16} {:>22} {:>10} {:>10} {:>6}  {}\n",
        cell.index, TargetLabel(s), s.backend, s.model, s.precision, s.batch, LoadLabel(s),
        measured ? fmt::format("{} ± {}", FormatRate(r.throughput_inferences_per_s),
                               FormatRate(r.throughput_inferences_per_s_ci95))
                 : "-",
        measured ? FormatNs(r.latency.Percentile(0.5)) : "-",
        measured ? FormatNs(r.latency.Percentile(0.99)) : "-",
        measured ? fmt::format("{:.2f}", r.ClientCpuUtilisation()) : "-", status);
    out += FormatBreakdown(r);
    out += FormatServerMetrics(r);
    out += FormatWorkflow(cell, local_events_per_s);
  }
  out += FormatSearches(cells);
  out += FormatPhysics(cells);
  const std::vector<SaturationSeries> series = SaturationSeriesOf(cells);
  if (!series.empty()) out += "saturation against jobs (docs/SIZING.md):\n";
  for (const SaturationSeries& one : series) out += FormatSaturation(one, options);
  return out;
}

std::string FormatCsv(const std::vector<CellRecord>& cells) {
  std::string out =
      "index,status,converged,target,link,backend,model,precision,batch,mode,concurrency,"
      "rate_hz,arrival,repeat,threads,inputs,server_address,duration_s,completed_requests,"
      "completed_inferences,throughput_inferences_per_s,throughput_inferences_per_s_ci95,"
      "throughput_requests_per_s,throughput_requests_per_s_ci95,latency_count,latency_p50_ns,"
      "latency_p90_ns,latency_p95_ns,latency_p99_ns,latency_p999_ns,latency_mean_ns,"
      "latency_std_ns,latency_min_ns,latency_max_ns,send_lag_p50_ns,send_lag_p99_ns,"
      "send_lag_max_ns,generator_behind,client_cpu_user_s,client_cpu_sys_s,"
      "client_cpu_utilisation,error_count,bytes_sent,bytes_received,error_message,"
      "convergence_reason,dynamic_batching,backend_settings,accuracy_dataset,roc_auc,"
      "background_rejection_at_0_3,background_rejection_at_0_5,accuracy,"
      "output_max_abs_deviation\n";
  for (const CellRecord& cell : cells) {
    const CellSettings& s = cell.settings;
    const CellResult& r = cell.result;
    const LatencySummary l = r.latency.Summary();
    const LatencySummary lag = r.send_lag.Summary();
    std::int64_t errors = 0;
    for (const auto& [kind, count] : r.errors) errors += count;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},", cell.index,
                       CellStatusName(r.status), r.converged ? 1 : 0, TargetKindName(s.target),
                       CsvField(s.link), CsvField(s.backend), CsvField(s.model),
                       CsvField(s.precision), s.batch, LoadModeName(s.mode), s.concurrency,
                       s.rate_hz, ArrivalProcessName(s.arrival), s.repeat, s.threads,
                       CsvField(s.inputs), CsvField(s.server_address));
    out += fmt::format("{},{},{},{},{},{},{},", r.duration_s, r.completed_requests,
                       r.completed_inferences, r.throughput_inferences_per_s,
                       r.throughput_inferences_per_s_ci95, r.throughput_requests_per_s,
                       r.throughput_requests_per_s_ci95);
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},", l.count, l.p50_ns, l.p90_ns,
                       l.p95_ns, l.p99_ns, l.p999_ns, l.mean_ns, l.std_ns, l.min_ns, l.max_ns,
                       lag.p50_ns, lag.p99_ns, lag.max_ns);
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},", r.generator_behind ? 1 : 0,
                       r.client_cpu_user_s, r.client_cpu_sys_s, r.ClientCpuUtilisation(), errors,
                       r.bytes_sent, r.bytes_received, CsvField(r.error_message),
                       CsvField(r.convergence_reason), DynamicBatchingName(s.dynamic_batching),
                       CsvField(r.backend_settings));
    // Cells without a (successful) physics measurement leave its fields empty; +inf is "inf".
    if (r.accuracy && r.accuracy->error.empty()) {
      const TaggerScore& t = r.accuracy->score;
      out += fmt::format("{},{},{},{},{},{}\n", CsvField(r.accuracy->dataset), t.roc_auc,
                         t.rejection[0], t.rejection[1], t.accuracy, t.max_abs_deviation);
    } else {
      out += ",,,,,\n";
    }
  }
  return out;
}

void WriteCsv(const std::string& path, const std::vector<CellRecord>& cells) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) Throw(ErrorKind::kIo, "{}: cannot open for writing", path);
  file << FormatCsv(cells);
  file.close();
  if (!file) Throw(ErrorKind::kIo, "{}: write failed", path);
}

Comparison Compare(const std::vector<CellRecord>& base, const std::vector<CellRecord>& next,
                   double threshold) {
  // Last cell of a key wins; keys keep the order of their first appearance.
  const auto index = [](const std::vector<CellRecord>& cells, std::vector<std::string>& order) {
    std::map<std::string, const CellRecord*> by_key;
    for (const CellRecord& cell : cells) {
      const std::string key = cell.settings.Key();
      if (!by_key.contains(key)) order.push_back(key);
      by_key[key] = &cell;
    }
    return by_key;
  };
  std::vector<std::string> base_order, next_order;
  const auto base_by_key = index(base, base_order);
  const auto next_by_key = index(next, next_order);

  Comparison comparison;
  for (const std::string& key : base_order) {
    const CellRecord& b = *base_by_key.at(key);
    CellChange change;
    change.key = key;
    change.settings = b.settings;
    change.base_throughput = b.result.throughput_inferences_per_s;
    change.base_p99_ns = b.result.latency.Percentile(0.99);
    const auto found = next_by_key.find(key);
    if (found == next_by_key.end()) {
      change.kind = CellChange::Kind::kMissing;
      ++comparison.missing;
    } else if (b.result.status == CellStatus::kFailed) {
      change.kind = CellChange::Kind::kNotComparable;
    } else if (found->second->result.status == CellStatus::kFailed) {
      change.kind = CellChange::Kind::kNewFailure;
      change.regression = true;
    } else {
      const CellResult& br = b.result;
      const CellResult& nr = found->second->result;
      change.new_throughput = nr.throughput_inferences_per_s;
      change.new_p99_ns = nr.latency.Percentile(0.99);
      if (br.throughput_inferences_per_s > 0) {
        const double drop = br.throughput_inferences_per_s - nr.throughput_inferences_per_s;
        const double noise =
            std::hypot(br.throughput_inferences_per_s_ci95, nr.throughput_inferences_per_s_ci95);
        change.throughput_change = -drop / br.throughput_inferences_per_s;
        change.throughput_noise = noise / br.throughput_inferences_per_s;
        change.throughput_regression =
            drop > threshold * br.throughput_inferences_per_s && drop > noise;
      }
      if (br.latency.count() > 0 && nr.latency.count() > 0 && change.base_p99_ns > 0) {
        const double rise = change.new_p99_ns - change.base_p99_ns;
        const double noise = std::hypot(P99HalfWidth(br.latency), P99HalfWidth(nr.latency));
        change.p99_change = rise / change.base_p99_ns;
        change.p99_noise = noise / change.base_p99_ns;
        change.latency_regression = rise > threshold * change.base_p99_ns && rise > noise;
      }
      change.regression = change.throughput_regression || change.latency_regression;
    }
    comparison.regression = comparison.regression || change.regression;
    comparison.changes.push_back(std::move(change));
  }
  for (const std::string& key : next_order) {
    if (base_by_key.contains(key)) continue;
    CellChange change;
    change.kind = CellChange::Kind::kAdded;
    change.key = key;
    change.settings = next_by_key.at(key)->settings;
    change.new_throughput = next_by_key.at(key)->result.throughput_inferences_per_s;
    change.new_p99_ns = next_by_key.at(key)->result.latency.Percentile(0.99);
    comparison.changes.push_back(std::move(change));
  }
  return comparison;
}

bool GateFails(const Comparison& comparison, bool allow_missing) {
  return comparison.regression || (comparison.missing > 0 && !allow_missing);
}

std::string FormatComparison(const Comparison& comparison, double threshold, bool allow_missing) {
  std::string out =
      fmt::format("{:<48} {:>34} {:>36}  {}\n", "cell", "inferences/s base -> new (change ± noise)",
                  "p99 base -> new (change ± noise)", "verdict");
  int regressions = 0;
  for (const CellChange& c : comparison.changes) {
    std::string throughput = "-", latency = "-", verdict;
    switch (c.kind) {
      case CellChange::Kind::kCompared:
        throughput =
            fmt::format("{:.1f} -> {:.1f} ({:+.1f}% ± {:.1f}%)", c.base_throughput,
                        c.new_throughput, 100 * c.throughput_change, 100 * c.throughput_noise);
        latency = fmt::format("{} -> {} ({:+.1f}% ± {:.1f}%)", FormatNs(c.base_p99_ns),
                              FormatNs(c.new_p99_ns), 100 * c.p99_change, 100 * c.p99_noise);
        verdict = c.throughput_regression && c.latency_regression ? "REGRESSION (throughput, p99)"
                  : c.throughput_regression                       ? "REGRESSION (throughput)"
                  : c.latency_regression                          ? "REGRESSION (p99)"
                                                                  : "ok";
        break;
      case CellChange::Kind::kNewFailure:
        verdict = "REGRESSION (failed in new)";
        break;
      case CellChange::Kind::kMissing:
        verdict = "missing in new";
        break;
      case CellChange::Kind::kAdded:
        verdict = "new cell";
        break;
      case CellChange::Kind::kNotComparable:
        verdict = "failed in base: not compared";
        break;
    }
    if (c.regression) ++regressions;
    out += fmt::format("{:<48} {:>34} {:>36}  {}\n", CellLabel(c.settings), throughput, latency,
                       verdict);
  }
  const std::size_t cells = comparison.changes.size();
  std::string verdict =
      comparison.regression
          ? fmt::format("REGRESSION: {} of {} cells worse by more than {:.3g}% and beyond noise",
                        regressions, cells, 100 * threshold)
          : fmt::format("no regression beyond {:.3g}% and noise in {} cells", 100 * threshold,
                        cells);
  if (comparison.missing > 0) {
    const std::string missing =
        fmt::format("{} of {} cells missing in new", comparison.missing, cells);
    verdict = allow_missing           ? fmt::format("{}; {} (allowed)", verdict, missing)
              : comparison.regression ? fmt::format("{}; MISSING: {}", verdict, missing)
                                      : fmt::format(
                                            "MISSING: {} (--allow-missing accepts "
                                            "that); {}",
                                            missing, verdict);
  }
  return out + verdict + "\n";
}

}  // namespace sonic
