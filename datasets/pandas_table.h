#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sonic {

// Reads a pandas DataFrame stored with to_hdf(path, key, format="table") through the HDF5 C
// API: a PyTables table at /<key>/table whose compound rows hold an `index` field and one or
// more `values_block_N` array fields (one per dtype), with each block's column names pickled in
// the `values_block_N_kind` attribute and the frame's column order in the group's
// `non_index_axes` attribute. Numeric columns of any integer or float type are returned as
// float64, in the frame's column order. The public top-tagging files (one float64 block of 806
// columns) read unchanged. Construction validates the layout and throws Error with the path and
// what was wrong (not HDF5, truncated, no such key, not a table-format frame, missing names).
// Not thread-safe; reads are independent of one another.
class PandasTableReader {
 public:
  explicit PandasTableReader(const std::string& path, const std::string& key = "table");
  ~PandasTableReader();
  PandasTableReader(PandasTableReader&&) noexcept;
  PandasTableReader& operator=(PandasTableReader&&) noexcept;

  const std::string& path() const;
  const std::vector<std::string>& columns() const;
  std::int64_t rows() const;
  std::optional<std::size_t> FindColumn(std::string_view name) const;

  // Reads rows [first_row, first_row + count) into `out` (row-major, columns() order);
  // out.size() must be count * columns().size(). Throws Error(kInvalidArgument) for a range
  // outside the table and Error(kIo) when HDF5 cannot read the data (a truncated file).
  void Read(std::int64_t first_row, std::int64_t count, std::span<double> out) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes the same layout pandas writes for an all-float64 frame with a default RangeIndex (one
// values block), attributes and pickled metadata included, so that pd.read_hdf(path, key) reads
// it back. Rows are appended in batches; Close() (or the destructor) finalises the row count.
class PandasTableWriter {
 public:
  PandasTableWriter(const std::string& path, const std::string& key,
                    std::vector<std::string> columns);
  ~PandasTableWriter();
  PandasTableWriter(const PandasTableWriter&) = delete;
  PandasTableWriter& operator=(const PandasTableWriter&) = delete;

  // Appends values.size() / columns rows (row-major, the constructor's column order).
  void Append(std::span<const double> values);
  void Close();
  std::int64_t rows() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sonic
