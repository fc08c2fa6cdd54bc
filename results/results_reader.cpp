#include <fmt/format.h>

#include "core/error.h"
#include "core/hdf5.h"
#include "results/file_errors.h"
#include "results/groups.h"
#include "results/results_file.h"
#include "results/row_layout.h"
#include "results/schema.h"

namespace sonic {
namespace {

h5::Handle OpenRun(hid_t file, const std::string& run_id) {
  const h5::Handle runs = h5::OpenGroup(file, schema::kRunsGroup);
  if (run_id.empty() || run_id.find('/') != std::string::npos || run_id == "." ||
      !h5::Exists(runs.get(), run_id)) {
    Throw(ErrorKind::kNotFound, "no run '{}' in the file", run_id);
  }
  return h5::OpenGroup(runs.get(), run_id);
}

}  // namespace

struct ResultsReader::Impl {
  std::string path;
  h5::Handle file;
  std::int64_t schema_version = 0;

  template <typename Body>
  auto Read(Body&& body) const {
    return WithFileContext(path, /*reading=*/true, std::forward<Body>(body));
  }
};

ResultsReader::ResultsReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->Read([&] {
    impl_->file = h5::OpenFileForReading(path);
    const auto version = h5::ReadInt64Attribute(impl_->file.get(), "schema_version");
    if (!version) {
      Throw(ErrorKind::kInvalidArgument,
            "{}: not a sonicbench results file (no integer root attribute schema_version)", path);
    }
    if (*version > kResultsSchemaVersion) {
      Throw(ErrorKind::kInvalidArgument,
            "{}: results schema version {} is newer than this sonicbench reads ({})", path,
            *version, kResultsSchemaVersion);
    }
    impl_->schema_version = *version;
  });
}

ResultsReader::~ResultsReader() = default;

std::int64_t ResultsReader::schema_version() const { return impl_->schema_version; }

std::vector<std::string> ResultsReader::ListRuns() const {
  return impl_->Read([&] {
    const h5::Handle runs = h5::OpenGroup(impl_->file.get(), schema::kRunsGroup);
    return h5::LinkNames(runs.get(), H5_INDEX_CRT_ORDER);
  });
}

RunInfo ResultsReader::ReadRunInfo(const std::string& run_id) const {
  return impl_->Read([&] {
    const h5::Handle run = OpenRun(impl_->file.get(), run_id);
    return sonic::ReadRunInfo(run.get());
  });
}

std::vector<CellRecord> ResultsReader::ReadCells(const std::string& run_id,
                                                 bool with_raw_records) const {
  return impl_->Read([&] {
    const h5::Handle run = OpenRun(impl_->file.get(), run_id);
    const h5::Handle table = h5::OpenDataset(run.get(), schema::kCellsTable);
    const h5::Handle groups = h5::OpenGroup(run.get(), schema::kCellGroups);
    const auto& columns = schema::CellColumns();
    const auto rows = ReadRows(table.get(), schema::FieldsOf(columns), schema::kCellsTable);
    std::vector<CellRecord> cells(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      CellRecord& cell = cells[r];
      cell.index = static_cast<std::int64_t>(r);
      try {
        schema::SetFromRow(columns, rows[r], cell);
        const h5::Handle group = h5::OpenGroup(groups.get(), std::to_string(r));
        ReadCellGroup(group.get(), with_raw_records, cell.result);
      } catch (const Error& error) {
        throw Error(error.kind(), fmt::format("run {}, cell {}: {}", run_id, r, error.what()));
      }
    }
    return cells;
  });
}

std::map<std::string, CellStatus> ResultsReader::FinishedCells(const std::string& run_id) const {
  return impl_->Read([&] {
    const h5::Handle run = OpenRun(impl_->file.get(), run_id);
    const h5::Handle table = h5::OpenDataset(run.get(), schema::kCellsTable);
    const std::vector<Field> fields{schema::CellColumn("key").field,
                                    schema::CellColumn("status").field};
    std::map<std::string, CellStatus> finished;
    for (const auto& row : ReadRows(table.get(), fields, schema::kCellsTable)) {
      finished[std::get<std::string>(row[0])] = ParseCellStatus(std::get<std::string>(row[1]));
    }
    return finished;
  });
}

void ValidateResultsFile(const std::string& path) {
  const ResultsReader reader(path);
  for (const std::string& run : reader.ListRuns()) {
    reader.ReadRunInfo(run);
    reader.ReadCells(run, /*with_raw_records=*/true);
  }
}

}  // namespace sonic
