#include "results/row_layout.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace sonic {
namespace {

std::size_t FieldSize(FieldType type, std::size_t width) {
  switch (type) {
    case FieldType::kInt32:
      return 4;
    case FieldType::kInt64:
    case FieldType::kFloat64:
      return 8;
    case FieldType::kString:
      return width == 0 ? sizeof(char*) : width;
    case FieldType::kBool:
      return 1;
  }
  return 0;
}

h5::Handle FieldHdf5Type(FieldType type, std::size_t width) {
  switch (type) {
    case FieldType::kInt32:
      return h5::Check(H5Tcopy(H5T_NATIVE_INT32), "H5Tcopy(int32)");
    case FieldType::kInt64:
      return h5::Check(H5Tcopy(H5T_NATIVE_INT64), "H5Tcopy(int64)");
    case FieldType::kFloat64:
      return h5::Check(H5Tcopy(H5T_NATIVE_DOUBLE), "H5Tcopy(double)");
    case FieldType::kString: {
      if (width > 0) return h5::FixedStringType(width);
      h5::Handle string = h5::Check(H5Tcopy(H5T_C_S1), "H5Tcopy(H5T_C_S1)");
      h5::CheckStatus(H5Tset_size(string.get(), H5T_VARIABLE), "H5Tset_size(H5T_VARIABLE)");
      h5::CheckStatus(H5Tset_cset(string.get(), H5T_CSET_UTF8), "H5Tset_cset(UTF8)");
      return string;
    }
    case FieldType::kBool:
      return h5::BoolType();
  }
  Throw(ErrorKind::kInternal, "unknown field type");
}

// Frees the variable-length strings HDF5 allocated into a buffer of rows, also after a read that
// failed half-way (the buffer starts zeroed, and HDF5 skips null pointers).
class VariableStringsReclaimer {
 public:
  VariableStringsReclaimer(const RowLayout& layout, hsize_t rows, std::byte* buffer)
      : layout_(layout), rows_(rows), buffer_(buffer) {}
  ~VariableStringsReclaimer() {
    if (rows_ == 0 || !layout_.has_variable_strings()) return;
    const hid_t space = H5Screate_simple(1, &rows_, nullptr);
    if (space < 0) return;
    H5Dvlen_reclaim(layout_.type(), space, H5P_DEFAULT, buffer_);
    H5Sclose(space);
  }
  VariableStringsReclaimer(const VariableStringsReclaimer&) = delete;
  VariableStringsReclaimer& operator=(const VariableStringsReclaimer&) = delete;

 private:
  const RowLayout& layout_;
  const hsize_t rows_;
  std::byte* buffer_;
};

}  // namespace

RowLayout::RowLayout(std::vector<Field> fields, std::vector<std::size_t> string_widths)
    : RowLayout(std::move(fields), std::move(string_widths), true) {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].type == FieldType::kString && widths_[i] == 0) {
      Throw(ErrorKind::kInternal, "field {}: a written string needs a width", fields_[i].name);
    }
  }
}

RowLayout::RowLayout(std::vector<Field> fields, std::vector<std::size_t> widths, bool)
    : fields_(std::move(fields)), widths_(std::move(widths)) {
  if (widths_.size() != fields_.size()) {
    Throw(ErrorKind::kInternal, "{} string widths for {} fields", widths_.size(), fields_.size());
  }
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].type != FieldType::kString) widths_[i] = 0;
    offsets_.push_back(size_);
    size_ += FieldSize(fields_[i].type, widths_[i]);
  }
  type_ = h5::Check(H5Tcreate(H5T_COMPOUND, size_), "H5Tcreate(compound)");
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const h5::Handle field_type = FieldHdf5Type(fields_[i].type, widths_[i]);
    h5::CheckStatus(H5Tinsert(type_.get(), fields_[i].name.c_str(), offsets_[i], field_type.get()),
                    "H5Tinsert(" + fields_[i].name + ")");
  }
}

RowLayout RowLayout::MatchingFile(std::vector<Field> fields, hid_t file_type) {
  if (H5Tget_class(file_type) != H5T_COMPOUND) {
    Throw(ErrorKind::kIo, "expected a table of compound rows");
  }
  std::vector<std::size_t> widths(fields.size(), 0);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].type != FieldType::kString) continue;
    widths[i] = 1;  // a field the file lacks: a one-byte string left empty
    const int member = H5Tget_member_index(file_type, fields[i].name.c_str());
    if (member < 0) {
      H5Eclear2(H5E_DEFAULT);
      continue;
    }
    const h5::Handle member_type = h5::Check(H5Tget_member_type(file_type, member),
                                             "H5Tget_member_type(" + fields[i].name + ")");
    if (H5Tget_class(member_type.get()) != H5T_STRING) {
      Throw(ErrorKind::kIo, "field {} is not a string", fields[i].name);
    }
    const bool variable = h5::CheckTri(H5Tis_variable_str(member_type.get()),
                                       "H5Tis_variable_str(" + fields[i].name + ")");
    widths[i] = variable ? 0 : H5Tget_size(member_type.get());
  }
  return RowLayout(std::move(fields), std::move(widths), true);
}

bool RowLayout::has_variable_strings() const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].type == FieldType::kString && widths_[i] == 0) return true;
  }
  return false;
}

void RowLayout::Pack(const std::vector<Value>& values, std::byte* row) const {
  std::memset(row, 0, size_);
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    std::byte* field = row + offsets_[i];
    switch (fields_[i].type) {
      case FieldType::kInt32: {
        const auto v = static_cast<std::int32_t>(std::get<std::int64_t>(values[i]));
        std::memcpy(field, &v, sizeof v);
        break;
      }
      case FieldType::kInt64:
        std::memcpy(field, &std::get<std::int64_t>(values[i]), 8);
        break;
      case FieldType::kFloat64:
        std::memcpy(field, &std::get<double>(values[i]), 8);
        break;
      case FieldType::kString: {
        const std::string& text = std::get<std::string>(values[i]);
        if (text.size() > widths_[i]) {
          Throw(ErrorKind::kInternal, "field {}: {} bytes do not fit in {}", fields_[i].name,
                text.size(), widths_[i]);
        }
        std::memcpy(field, text.data(), text.size());
        break;
      }
      case FieldType::kBool: {
        const std::int8_t flag = std::get<bool>(values[i]) ? 1 : 0;
        std::memcpy(field, &flag, 1);
        break;
      }
    }
  }
}

Value RowLayout::Unpack(const std::byte* row, std::size_t field) const {
  const std::byte* bytes = row + offsets_[field];
  switch (fields_[field].type) {
    case FieldType::kInt32: {
      std::int32_t v;
      std::memcpy(&v, bytes, sizeof v);
      return std::int64_t{v};
    }
    case FieldType::kInt64: {
      std::int64_t v;
      std::memcpy(&v, bytes, sizeof v);
      return v;
    }
    case FieldType::kFloat64: {
      double v;
      std::memcpy(&v, bytes, sizeof v);
      return v;
    }
    case FieldType::kString: {
      if (widths_[field] > 0) {
        return h5::FixedStringValue(reinterpret_cast<const char*>(bytes), widths_[field]);
      }
      const char* v;
      std::memcpy(&v, bytes, sizeof v);
      return std::string(v != nullptr ? v : "");
    }
    case FieldType::kBool: {
      std::int8_t v;
      std::memcpy(&v, bytes, 1);
      return v != 0;
    }
  }
  return std::int64_t{0};
}

std::vector<std::size_t> StringWidths(const std::vector<Field>& fields,
                                      const std::vector<std::vector<Value>>& rows) {
  std::vector<std::size_t> widths(fields.size(), 1);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].type != FieldType::kString) continue;
      widths[i] = std::max(widths[i], h5::FixedStringSize(std::get<std::string>(row[i])));
    }
  }
  return widths;
}

void WriteRows(hid_t parent, const char* name, const std::vector<Field>& fields,
               const std::vector<std::vector<Value>>& rows) {
  const RowLayout layout(fields, StringWidths(fields, rows));
  std::vector<std::byte> buffer(rows.size() * layout.size());
  for (std::size_t r = 0; r < rows.size(); ++r) layout.Pack(rows[r], &buffer[r * layout.size()]);
  h5::WriteArray(parent, name, layout.type(), layout.type(), rows.size(), buffer.data());
}

std::vector<std::vector<Value>> ReadRows(hid_t dataset, const std::vector<Field>& fields,
                                         std::string_view what) {
  const h5::Handle file_type =
      h5::Check(H5Dget_type(dataset), fmt::format("H5Dget_type({})", what));
  const RowLayout layout = RowLayout::MatchingFile(fields, file_type.get());
  const hsize_t rows = h5::DatasetLength(dataset, what);
  h5::CheckPlausibleSize(dataset, rows, layout.size(), what);
  std::vector<std::byte> buffer(rows * layout.size());
  const VariableStringsReclaimer reclaimer(layout, rows, buffer.data());
  h5::ReadWhole(dataset, layout.type(), rows, buffer.data(), what);
  std::vector<std::vector<Value>> values(rows);
  for (hsize_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      values[r].push_back(layout.Unpack(&buffer[r * layout.size()], i));
    }
  }
  return values;
}

}  // namespace sonic
