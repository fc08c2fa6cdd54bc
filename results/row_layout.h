#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/hdf5.h"

namespace sonic {

// Tables of a results file whose rows mix numbers and strings (the cells table, servers, ranks,
// errors): one packed HDF5 compound type per table, values copied in and out with memcpy.
// Internal to results/.

using Value = std::variant<std::int64_t, double, std::string, bool>;  // int32 fields: int64

enum class FieldType { kInt32, kInt64, kFloat64, kString, kBool };

struct Field {
  std::string name;
  FieldType type;
};

class RowLayout {
 public:
  // For writing: strings are fixed-length, `string_widths[i]` bytes for field i (ignored for
  // other types). The file type is this type.
  RowLayout(std::vector<Field> fields, std::vector<std::size_t> string_widths);
  // For reading `fields` from a table of compound type `file_type`: each string as the file
  // stores it (fixed-length of its width, or variable-length in files of schema 2 and older); a
  // field the file lacks reads as 0, false or "".
  static RowLayout MatchingFile(std::vector<Field> fields, hid_t file_type);

  const std::vector<Field>& fields() const { return fields_; }
  hid_t type() const { return type_.get(); }
  std::size_t size() const { return size_; }
  // The width of a fixed-length string field; 0 for variable-length strings and other types.
  std::size_t string_width(std::size_t field) const { return widths_[field]; }
  bool has_variable_strings() const;

  // `row` must be size() bytes.
  void Pack(const std::vector<Value>& values, std::byte* row) const;
  Value Unpack(const std::byte* row, std::size_t field) const;

 private:
  RowLayout(std::vector<Field> fields, std::vector<std::size_t> widths, bool);
  std::vector<Field> fields_;
  std::vector<std::size_t> widths_;  // 0: variable-length string
  std::vector<std::size_t> offsets_;
  std::size_t size_ = 0;
  h5::Handle type_;
};

// The fixed string width each field needs to hold every row's value (1 for non-strings).
std::vector<std::size_t> StringWidths(const std::vector<Field>& fields,
                                      const std::vector<std::vector<Value>>& rows);

// Writes `rows` (values in `fields` order) as the 1-D dataset `name` (h5::WriteArray's layout),
// strings as wide as the longest value.
void WriteRows(hid_t parent, const char* name, const std::vector<Field>& fields,
               const std::vector<std::vector<Value>>& rows);
// Reads every row of the 1-D compound dataset, values in `fields` order.
std::vector<std::vector<Value>> ReadRows(hid_t dataset, const std::vector<Field>& fields,
                                         std::string_view what);

}  // namespace sonic
