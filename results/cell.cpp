#include "results/cell.h"

#include <fmt/format.h>

#include "core/error.h"

namespace sonic {

std::string CellSettings::Key() const {
  // fmt's "{}" prints a double in its shortest round-trip form, so equal rates give equal keys.
  return fmt::format(
             "target={};link={};backend={};model={};precision={};batch={};mode={};concurrency={};"
             "rate_hz={};arrival={};threads={};inputs={};repeat={}",
             target, link, backend, model, precision, batch, mode, concurrency, rate_hz, arrival,
             threads, inputs, repeat) +
         (dynamic_batching.empty() ? "" : ";dynamic_batching=" + dynamic_batching) +
         (event_work.empty()
              ? ""
              : fmt::format(";event_work={};event_work_spread={};requests_per_event={};"
                            "client_mode={}",
                            event_work, event_work_spread, requests_per_event, client_mode));
}

std::string_view CellStatusName(CellStatus status) {
  switch (status) {
    case CellStatus::kOk:
      return "ok";
    case CellStatus::kFailed:
      return "failed";
    case CellStatus::kNotConverged:
      return "not_converged";
  }
  return "unknown";
}

CellStatus ParseCellStatus(std::string_view name) {
  for (CellStatus status : {CellStatus::kOk, CellStatus::kFailed, CellStatus::kNotConverged}) {
    if (CellStatusName(status) == name) return status;
  }
  Throw(ErrorKind::kInvalidArgument,
        "unknown cell status '{}': expected ok, failed or not_converged", name);
}

}  // namespace sonic
