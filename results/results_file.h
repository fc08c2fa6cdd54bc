#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "results/cell.h"

namespace sonic {

// The schema version written to every file (root attribute `schema_version`) and run;
// results/SCHEMA.md describes each version. Readers refuse files with a newer version and read
// every older one.
inline constexpr std::int64_t kResultsSchemaVersion = 6;

// What `sonicbench sysinfo` found on the host of a run, beside RunInfo::cpu_model and
// cpu_peak_gflops (the fp32 peak). Measured figures are 0 when the sweep ran without measuring
// peaks (or, for bf16 and AMX, on a CPU without the unit, or where AMX could not be measured);
// every field is 0 or empty in files written before this record existed, the AMX ones in files
// written before they were added.
struct RunSystem {
  std::int64_t cpu_cores = 0;       // physical cores of the host
  std::int64_t online_cpus = 0;     // CPUs the sweep process could run on
  std::string isa;                  // IsaNames(): "avx2 fma avx512f avx512_bf16 ..."
  std::int64_t memory_bytes = 0;    // MemTotal
  double int8_peak_gops = 0;        // all usable CPUs, MeasuredPeaks::int8_gops_all
  double bf16_peak_gflops = 0;      // MeasuredPeaks::bf16_gflops_all (AVX-512, not AMX)
  double amx_bf16_peak_gflops = 0;  // MeasuredPeaks::amx_bf16_gflops_all
  double amx_int8_peak_gops = 0;    // MeasuredPeaks::amx_int8_gops_all
  double stream_triad_gbs = 0;      // memory bandwidth, MeasuredPeaks::stream_triad_gbs

  friend bool operator==(const RunSystem&, const RunSystem&) = default;
};

// Provenance of one run (one sweep invocation) in a results file.
struct RunInfo {
  std::string run_id;                          // unique in the file; empty: ResultsWriter picks one
  std::string sonicbench_version;              // kVersion
  std::string git_commit;                      // kGitCommit
  std::string command_line;                    // the full command line, space-joined
  std::string config_text;                     // the full sweep configuration, as text
  std::map<std::string, std::uint64_t> seeds;  // "arrivals" -> 1, "inputs" -> 42, ...
  std::string host;
  std::string cpu_model;
  double cpu_peak_gflops = 0;  // measured fp32 peak; 0 when not measured
  RunSystem system;
  std::map<std::string, std::string> library_versions;  // "onednn" -> "2.6.3", "hdf5" -> ...
  std::map<std::string, std::string> device_names;      // backend -> device it ran on
  std::string start_time_utc;                           // ISO 8601, "2026-11-24T10:30:22Z"
  // Set by the reader: true when the writer closed the run normally; false when the sweep was
  // interrupted (SIGINT, crash) after its last finished cell.
  bool complete = false;

  friend bool operator==(const RunInfo&, const RunInfo&) = default;
};

// A RunInfo with what this build knows filled in: version, git commit, HDF5 library version and
// the current time. The caller adds the host facts (host name, CPU model, system: from
// `sysinfo`'s ProbeSystem), the command line, the configuration, seeds, and the backends'
// versions and devices.
RunInfo CurrentRunInfo();

// Writes one run to a results file, one cell at a time. Each AppendCell writes the cell's row and
// group and flushes the file (H5Fflush), so that a process killed between two AppendCell calls
// leaves a valid file holding every finished cell (a kill *during* AppendCell may lose that cell
// and, rarely, damage the file). Close marks the run complete. Not thread-safe: one writer per
// file, used from one thread. Write errors throw Error(kIo) naming the file and the HDF5 call;
// an existing file it is asked to extend is validated first (ValidateResultsFile), so that no
// measurement is spent on a file that cannot take it.
class ResultsWriter {
 public:
  // Creates `path` (replacing it) or, with `append`, opens it and adds a new run (creating the
  // file when it does not exist; a file of an older schema takes a run of this one and its
  // schema_version is raised, so that older readers refuse it rather than misread it). When
  // info.run_id is empty or already taken, a unique one is derived from the start time. The run's
  // id is run_id().
  static std::unique_ptr<ResultsWriter> Open(const std::string& path, const RunInfo& info,
                                             bool append);
  // Opens an existing run to add the cells it is missing (sweep --resume). Find what it holds with
  // ResultsReader::FinishedCells. Refuses (Error(kInvalidArgument)) a damaged file and a run
  // written with an older schema.
  static std::unique_ptr<ResultsWriter> Resume(const std::string& path, const std::string& run_id);

  ~ResultsWriter();  // closes without marking the run complete when Close was not called
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  // Appends the cell as the next row and group, then flushes. Returns the cell's index.
  std::int64_t AppendCell(const CellSettings& settings, const CellResult& result);
  // Replaces the last appended cell (row and group) by this one, then flushes. A fleet appends a
  // failed placeholder before each cell and replaces it with the result, so that a job killed
  // during the cell leaves it recorded. Throws Error(kInternal) when no cell was appended.
  void ReplaceLastCell(const CellSettings& settings, const CellResult& result);
  // Marks the run complete and closes the file.
  void Close();

  const std::string& run_id() const;
  std::int64_t cell_count() const;

  struct Impl;

 private:
  explicit ResultsWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a results file (opened read-only), of this schema or an older one. The file is untrusted
// input: a file that is not a readable sonicbench results file (a directory, not HDF5, damaged,
// truncated, missing attributes or datasets, a newer schema) throws Error(kInvalidArgument) with
// a message naming the file and what is wrong; a missing file or run throws Error(kNotFound).
// Schema 3 files checksum every byte they hold (results/SCHEMA.md), so damage is detected rather
// than read as wrong numbers; files of schema 2 and older keep strings in HDF5's unchecksummed
// global heap, which HDF5 itself may crash on when it is damaged.
class ResultsReader {
 public:
  explicit ResultsReader(const std::string& path);
  ~ResultsReader();
  ResultsReader(const ResultsReader&) = delete;
  ResultsReader& operator=(const ResultsReader&) = delete;

  std::int64_t schema_version() const;
  // Run ids in the order the runs were appended (oldest first).
  std::vector<std::string> ListRuns() const;
  // Throws Error(kNotFound) for an unknown run id.
  RunInfo ReadRunInfo(const std::string& run_id) const;
  // Every cell of the run in index order, with histograms, errors, server statistics and, when
  // `with_raw_records`, the raw request records.
  std::vector<CellRecord> ReadCells(const std::string& run_id, bool with_raw_records = true) const;
  // Settings key -> status of every cell already in the run (from the table only: cheap). For
  // --resume; a key appended twice reports its last status.
  std::map<std::string, CellStatus> FinishedCells(const std::string& run_id) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Reads every run of the file in full (provenance, cells, raw records) and throws what
// ResultsReader would on the first problem; returns when all of it reads back.
void ValidateResultsFile(const std::string& path);

}  // namespace sonic
