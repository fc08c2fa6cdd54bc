#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <ctime>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/hdf5.h"
#include "core/version.h"
#include "results/file_errors.h"
#include "results/groups.h"
#include "results/results_file.h"
#include "results/row_layout.h"
#include "results/schema.h"

namespace sonic {
namespace {

// A new cells table starts with strings this wide; a longer value widens its column.
constexpr std::size_t kInitialStringWidth = 16;
constexpr const char* kWidenedCellsTable = "cells.widened";

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// "2026-11-24T10:30:22Z" -> "20261124T103022Z": a run id that sorts by time and needs no quoting.
std::string RunIdFromTime(const std::string& start_time_utc) {
  std::string id;
  for (char c : start_time_utc) {
    if (c != '-' && c != ':') id += c;
  }
  return id.empty() ? "run" : id;
}

void Flush(hid_t file) { h5::CheckStatus(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush"); }

// The extendible cells table (chunks of 32 rows, each under a Fletcher-32 checksum) holding
// `rows` packed rows of `layout` from `data`.
h5::Handle CreateCellsTable(hid_t run, const char* name, const RowLayout& layout, hsize_t rows,
                            const void* data) {
  const hsize_t unlimited = H5S_UNLIMITED;
  const h5::Handle space =
      h5::Check(H5Screate_simple(1, &rows, &unlimited), "H5Screate_simple(cells)");
  const h5::Handle plist =
      h5::Check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(H5P_DATASET_CREATE)");
  const hsize_t chunk = 32;
  h5::CheckStatus(H5Pset_chunk(plist.get(), 1, &chunk), "H5Pset_chunk(cells)");
  h5::CheckStatus(H5Pset_fletcher32(plist.get()), "H5Pset_fletcher32(cells)");
  h5::Handle table = h5::Check(
      H5Dcreate2(run, name, layout.type(), space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
      fmt::format("H5Dcreate2({})", name));
  if (rows > 0) {
    h5::CheckStatus(H5Dwrite(table.get(), layout.type(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                    fmt::format("H5Dwrite({})", name));
  }
  return table;
}

void DeleteLink(hid_t group, const std::string& name) {
  h5::CheckStatus(H5Ldelete(group, name.c_str(), H5P_DEFAULT), fmt::format("H5Ldelete({})", name));
}

void MoveLink(hid_t group, const std::string& from, const std::string& to) {
  h5::CheckStatus(H5Lmove(group, from.c_str(), group, to.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                  fmt::format("H5Lmove({} -> {})", from, to));
}

}  // namespace

RunInfo CurrentRunInfo() {
  RunInfo info;
  info.sonicbench_version = kVersion;
  info.git_commit = kGitCommit;
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  info.library_versions["hdf5"] = fmt::format("{}.{}.{}", major, minor, release);
  info.start_time_utc = UtcNow();
  return info;
}

struct ResultsWriter::Impl {
  std::string path;
  std::string run_id;
  h5::Handle file;
  h5::Handle run;
  h5::Handle table;
  h5::Handle cell_groups;
  std::int64_t cell_count = 0;
  std::optional<RowLayout> layout;  // of the cells table

  template <typename Body>
  auto Write(Body&& body) {
    return WithFileContext(path, /*reading=*/false, std::forward<Body>(body));
  }
  // Writes cell `index` (a new one, or one of the first cell_count to replace) and flushes.
  void WriteCell(std::int64_t index, const CellSettings& settings, const CellResult& result);
  // Rewrites the cells table with string columns at least `needed` wide, when one is narrower.
  void WidenTableFor(const std::vector<std::size_t>& needed);
};

ResultsWriter::ResultsWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsWriter::~ResultsWriter() = default;

std::unique_ptr<ResultsWriter> ResultsWriter::Open(const std::string& path, const RunInfo& info,
                                                   bool append) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->Write([&] {
    if (append && std::filesystem::exists(path)) {
      ValidateResultsFile(path);
      impl->file = h5::OpenFileForWriting(path);
      h5::UseFormatForNewObjects(impl->file.get(), h5::FileFormat::kChecksummed);
      const auto version = h5::ReadInt64Attribute(impl->file.get(), "schema_version");
      if (version.value_or(0) < kResultsSchemaVersion) {
        h5::WriteInt64Attribute(impl->file.get(), "schema_version", kResultsSchemaVersion);
      }
    } else {
      impl->file = h5::CreateFile(path, h5::FileFormat::kChecksummed);
      h5::WriteInt64Attribute(impl->file.get(), "schema_version", kResultsSchemaVersion);
      h5::WriteStringAttribute(impl->file.get(), "format", schema::kFormatName);
      h5::CreateGroup(impl->file.get(), schema::kRunsGroup, /*track_order=*/true);
    }
    const h5::Handle runs = h5::OpenGroup(impl->file.get(), schema::kRunsGroup);

    RunInfo stored = info;
    if (stored.start_time_utc.empty()) stored.start_time_utc = UtcNow();
    const std::string base =
        stored.run_id.empty() ? RunIdFromTime(stored.start_time_utc) : stored.run_id;
    if (base.find('/') != std::string::npos || base == "." || base == "..") {
      Throw(ErrorKind::kInvalidArgument, "run id '{}' must not contain '/' nor be '.' or '..'",
            base);
    }
    stored.run_id = base;
    for (int suffix = 2; h5::Exists(runs.get(), stored.run_id); ++suffix) {
      stored.run_id = fmt::format("{}-{}", base, suffix);
    }
    impl->run_id = stored.run_id;
    impl->run = h5::CreateGroup(runs.get(), stored.run_id);
    WriteRunInfo(impl->run.get(), stored);

    const std::vector<Field> fields = schema::FieldsOf(schema::CellColumns());
    impl->layout.emplace(fields, std::vector<std::size_t>(fields.size(), kInitialStringWidth));
    impl->table = CreateCellsTable(impl->run.get(), schema::kCellsTable, *impl->layout, 0, nullptr);
    impl->cell_groups = h5::CreateGroup(impl->run.get(), schema::kCellGroups, /*track_order=*/true);
    Flush(impl->file.get());
  });
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(std::move(impl)));
}

std::unique_ptr<ResultsWriter> ResultsWriter::Resume(const std::string& path,
                                                     const std::string& run_id) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->run_id = run_id;
  impl->Write([&] {
    ValidateResultsFile(path);
    impl->file = h5::OpenFileForWriting(path);
    h5::UseFormatForNewObjects(impl->file.get(), h5::FileFormat::kChecksummed);
    const h5::Handle runs = h5::OpenGroup(impl->file.get(), schema::kRunsGroup);
    if (run_id.empty() || run_id.find('/') != std::string::npos ||
        !h5::Exists(runs.get(), run_id)) {
      Throw(ErrorKind::kNotFound, "no run '{}' in the file", run_id);
    }
    impl->run = h5::OpenGroup(runs.get(), run_id);
    const std::int64_t version =
        h5::ReadInt64Attribute(impl->run.get(), "schema_version").value_or(0);
    if (version < kResultsSchemaVersion) {
      Throw(ErrorKind::kInvalidArgument,
            "run {} was written with results schema {}; this sonicbench continues runs of schema "
            "{} only: measure it again into a new run (sweep --append)",
            run_id, version, kResultsSchemaVersion);
    }
    impl->table = h5::OpenDataset(impl->run.get(), schema::kCellsTable);
    impl->cell_groups = h5::OpenGroup(impl->run.get(), schema::kCellGroups);
    impl->cell_count =
        static_cast<std::int64_t>(h5::DatasetLength(impl->table.get(), schema::kCellsTable));
    const h5::Handle file_type = h5::Check(H5Dget_type(impl->table.get()), "H5Dget_type(cells)");
    impl->layout.emplace(
        RowLayout::MatchingFile(schema::FieldsOf(schema::CellColumns()), file_type.get()));
    h5::WriteBoolAttribute(impl->run.get(), "complete", false);
    Flush(impl->file.get());
  });
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(std::move(impl)));
}

std::int64_t ResultsWriter::AppendCell(const CellSettings& settings, const CellResult& result) {
  const std::int64_t index = impl_->cell_count;
  impl_->Write([&] { impl_->WriteCell(index, settings, result); });
  ++impl_->cell_count;
  return index;
}

void ResultsWriter::ReplaceLastCell(const CellSettings& settings, const CellResult& result) {
  if (impl_->cell_count == 0) {
    Throw(ErrorKind::kInternal, "{}: no cell to replace in run {}", impl_->path, impl_->run_id);
  }
  impl_->Write([&] { impl_->WriteCell(impl_->cell_count - 1, settings, result); });
}

void ResultsWriter::Impl::WidenTableFor(const std::vector<std::size_t>& needed) {
  std::vector<std::size_t> widths;
  bool wider = false;
  for (std::size_t i = 0; i < needed.size(); ++i) {
    widths.push_back(layout->string_width(i));
    if (needed[i] > widths[i]) {
      widths[i] = std::bit_ceil(needed[i]);
      wider = true;
    }
  }
  if (!wider) return;
  // The rows so far are copied into a wider table beside this one, which then takes its name: a
  // kill in between leaves the old table or the new one under "cells" (or, between the two link
  // operations, only the new one under its own name).
  const std::vector<Field>& fields = layout->fields();
  const auto rows = ReadRows(table.get(), fields, schema::kCellsTable);
  RowLayout widened(fields, widths);
  std::vector<std::byte> buffer(rows.size() * widened.size());
  for (std::size_t r = 0; r < rows.size(); ++r) widened.Pack(rows[r], &buffer[r * widened.size()]);
  if (h5::Exists(run.get(), kWidenedCellsTable)) DeleteLink(run.get(), kWidenedCellsTable);
  CreateCellsTable(run.get(), kWidenedCellsTable, widened, rows.size(), buffer.data());
  table.reset();
  DeleteLink(run.get(), schema::kCellsTable);
  MoveLink(run.get(), kWidenedCellsTable, schema::kCellsTable);
  table = h5::OpenDataset(run.get(), schema::kCellsTable);
  layout.emplace(std::move(widened));
}

void ResultsWriter::Impl::WriteCell(std::int64_t index, const CellSettings& settings,
                                    const CellResult& result) {
  const std::string name = std::to_string(index);
  // The group first, then the row: a row always has its group. A group left without a row by a
  // writer killed in between is replaced here. A replaced cell's new group is written aside and
  // then moved over the old one, so that the row is without a group only between two link
  // operations.
  const bool replace = index < cell_count;
  const std::string target = replace ? name + ".new" : name;
  if (h5::Exists(cell_groups.get(), target)) DeleteLink(cell_groups.get(), target);
  {
    const h5::Handle group = h5::CreateGroup(cell_groups.get(), target);
    WriteCellGroup(group.get(), result);
  }
  if (replace) {
    DeleteLink(cell_groups.get(), name);
    MoveLink(cell_groups.get(), target, name);
  }

  const schema::CellRow source{index,
                               settings,
                               result,
                               result.latency.Summary(),
                               result.send_lag.Summary(),
                               result.event_time.Summary()};
  const std::vector<Value> values = schema::ValuesOf(schema::CellColumns(), source);
  WidenTableFor(StringWidths(layout->fields(), {values}));
  std::vector<std::byte> row(layout->size());
  layout->Pack(values, row.data());

  const hsize_t new_length = static_cast<hsize_t>(std::max(index + 1, cell_count));
  h5::CheckStatus(H5Dset_extent(table.get(), &new_length), "H5Dset_extent(cells)");
  const h5::Handle file_space = h5::Check(H5Dget_space(table.get()), "H5Dget_space(cells)");
  const hsize_t start = static_cast<hsize_t>(index);
  const hsize_t count = 1;
  h5::CheckStatus(
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
      "H5Sselect_hyperslab(cells)");
  const h5::Handle memory_space =
      h5::Check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  h5::CheckStatus(H5Dwrite(table.get(), layout->type(), memory_space.get(), file_space.get(),
                           H5P_DEFAULT, row.data()),
                  "H5Dwrite(cells)");
  Flush(file.get());
}

void ResultsWriter::Close() {
  Impl& m = *impl_;
  if (!m.file) return;
  m.Write([&] {
    h5::WriteBoolAttribute(m.run.get(), "complete", true);
    m.table.reset();
    m.cell_groups.reset();
    m.run.reset();
    Flush(m.file.get());
    h5::CheckStatus(H5Fclose(m.file.release()), "H5Fclose");
  });
}

const std::string& ResultsWriter::run_id() const { return impl_->run_id; }
std::int64_t ResultsWriter::cell_count() const { return impl_->cell_count; }

}  // namespace sonic
