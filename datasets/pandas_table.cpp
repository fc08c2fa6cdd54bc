#include "datasets/pandas_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/hdf5.h"
#include "datasets/pickle.h"

namespace sonic {
namespace {

constexpr std::string_view kValuesBlockPrefix = "values_block_";

std::vector<std::string> TextList(const PickleValue& value, std::string_view what) {
  if (value.type != PickleValue::Type::kList) {
    Throw(ErrorKind::kInvalidArgument, "{} is not a pickled list", what);
  }
  std::vector<std::string> names;
  for (const PickleValue& item : value.items) {
    if (item.type == PickleValue::Type::kString) {
      names.push_back(item.text);
    } else if (item.type == PickleValue::Type::kInt) {
      names.push_back(std::to_string(item.integer));  // integer column labels
    } else {
      Throw(ErrorKind::kInvalidArgument, "{} holds a column label that is not text", what);
    }
  }
  return names;
}

// The frame's column order from the group's `non_index_axes`: [(1, [names...])].
std::optional<std::vector<std::string>> ColumnOrder(hid_t group) {
  const auto attribute = h5::ReadStringAttribute(group, "non_index_axes");
  if (!attribute) return std::nullopt;
  const PickleValue axes = Unpickle(*attribute);
  if (axes.type != PickleValue::Type::kList) return std::nullopt;
  for (const PickleValue& axis : axes.items) {
    if (axis.type == PickleValue::Type::kTuple && axis.items.size() == 2 &&
        axis.items[0].type == PickleValue::Type::kInt && axis.items[0].integer == 1) {
      return TextList(axis.items[1], "non_index_axes");
    }
  }
  return std::nullopt;
}

// Opens the group pandas wrote under `key`, checking that it is a table-format frame.
h5::Handle OpenFrameGroup(hid_t file, const std::string& path, const std::string& key) {
  if (!h5::Exists(file, "/" + key)) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: no pandas table under key '{}' (expected a file written by "
          "DataFrame.to_hdf(path, key=\"{}\", format=\"table\"))",
          path, key, key);
  }
  h5::Handle group =
      h5::Check(H5Gopen2(file, ("/" + key).c_str(), H5P_DEFAULT), path + ": /" + key);
  const auto pandas_type = h5::ReadStringAttribute(group.get(), "pandas_type");
  if (!pandas_type) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: /{} has no pandas_type attribute: not written by pandas", path, key);
  }
  if (*pandas_type != "frame_table") {
    Throw(ErrorKind::kInvalidArgument,
          "{}: /{} is a pandas '{}', expected 'frame_table' (write with format=\"table\")", path,
          key, *pandas_type);
  }
  return group;
}

// A member of the table's compound type that holds values: `width` columns.
struct ValuesField {
  std::string member;
  std::size_t width;
};

// Every member except the index is a values block (an array: several columns of one dtype,
// named by `<member>_kind`) or a data column (a scalar named after its column). Appends each
// field's column names to `block_columns`, in member order.
std::vector<ValuesField> ReadValuesFields(hid_t file_type, hid_t dataset, const std::string& path,
                                          const std::string& table_path,
                                          std::vector<std::string>& block_columns) {
  std::vector<ValuesField> fields;
  const int members = H5Tget_nmembers(file_type);
  for (int m = 0; m < members; ++m) {
    char* raw_name = H5Tget_member_name(file_type, m);
    const std::string member = raw_name;
    H5free_memory(raw_name);
    if (member == "index") continue;
    h5::Handle member_type = h5::Check(H5Tget_member_type(file_type, m), member);
    std::size_t width = 1;
    hid_t element = member_type.get();
    h5::Handle super;
    if (H5Tget_class(member_type.get()) == H5T_ARRAY) {
      if (H5Tget_array_ndims(member_type.get()) != 1) {
        Throw(ErrorKind::kInvalidArgument, "{}: field '{}' is not a one-dimensional block", path,
              member);
      }
      hsize_t dims = 0;
      H5Tget_array_dims2(member_type.get(), &dims);
      width = dims;
      super = h5::Check(H5Tget_super(member_type.get()), member);
      element = super.get();
    }
    const H5T_class_t element_class = H5Tget_class(element);
    if (element_class != H5T_INTEGER && element_class != H5T_FLOAT) {
      Throw(ErrorKind::kUnsupported,
            "{}: field '{}' is not numeric (string or object columns are not supported)", path,
            member);
    }
    std::vector<std::string> names;
    if (member.starts_with(kValuesBlockPrefix)) {
      const std::string kind_name = member + "_kind";
      const auto kind = h5::ReadStringAttribute(dataset, kind_name.c_str());
      if (!kind) {
        Throw(ErrorKind::kInvalidArgument, "{}: {} lacks the '{}' attribute naming its columns",
              path, table_path, kind_name);
      }
      names = TextList(Unpickle(*kind), kind_name);
      if (names.size() != width) {
        Throw(ErrorKind::kInvalidArgument, "{}: {} names {} columns but the block holds {}", path,
              kind_name, names.size(), width);
      }
    } else {
      if (width != 1) {
        Throw(ErrorKind::kInvalidArgument, "{}: field '{}' is an array but not a values block",
              path, member);
      }
      names.push_back(member);
    }
    block_columns.insert(block_columns.end(), names.begin(), names.end());
    fields.push_back({member, width});
  }
  return fields;
}

// The compound of float64s (arrays for the blocks) that the fields are read into, `columns`
// doubles per row.
h5::Handle MemoryType(const std::vector<ValuesField>& fields, std::size_t columns) {
  h5::Handle memory_type =
      h5::Check(H5Tcreate(H5T_COMPOUND, sizeof(double) * columns), "H5Tcreate");
  std::size_t offset = 0;
  for (const ValuesField& field : fields) {
    h5::Handle type;
    if (field.width == 1 && !field.member.starts_with(kValuesBlockPrefix)) {
      type = h5::Check(H5Tcopy(H5T_NATIVE_DOUBLE), "H5Tcopy");
    } else {
      const hsize_t dims = field.width;
      type = h5::Check(H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &dims), "H5Tarray_create2");
    }
    h5::CheckStatus(
        H5Tinsert(memory_type.get(), field.member.c_str(), offset * sizeof(double), type.get()),
        "H5Tinsert");
    offset += field.width;
  }
  return memory_type;
}

}  // namespace

struct PandasTableReader::State {
  std::string path;
  h5::Handle file;
  h5::Handle dataset;
  h5::Handle memory_type;  // compound of float64 arrays, one member per values field
  std::size_t row_doubles = 0;
  std::vector<std::string> columns;
  std::vector<std::size_t> offsets;  // per column: its position in a memory row, in doubles
  std::int64_t rows = 0;
  std::unordered_map<std::string, std::size_t> index_of;
};

PandasTableReader::PandasTableReader(const std::string& path, const std::string& key)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = path;
  s.file = h5::OpenFileForReading(path);
  h5::Handle group = OpenFrameGroup(s.file.get(), path, key);
  const std::string table_path = "/" + key + "/table";
  if (!h5::Exists(s.file.get(), table_path)) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is missing", path, table_path);
  }
  s.dataset =
      h5::Check(H5Dopen2(s.file.get(), table_path.c_str(), H5P_DEFAULT), path + ": " + table_path);
  h5::Handle file_type = h5::Check(H5Dget_type(s.dataset.get()), table_path);
  if (H5Tget_class(file_type.get()) != H5T_COMPOUND) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is not a compound (table) dataset", path,
          table_path);
  }
  h5::Handle space = h5::Check(H5Dget_space(s.dataset.get()), table_path);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is not one-dimensional", path, table_path);
  }
  hsize_t rows = 0;
  H5Sget_simple_extent_dims(space.get(), &rows, nullptr);
  s.rows = static_cast<std::int64_t>(rows);

  std::vector<std::string> block_columns;
  const std::vector<ValuesField> fields =
      ReadValuesFields(file_type.get(), s.dataset.get(), path, table_path, block_columns);
  if (fields.empty()) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} holds no value columns", path, table_path);
  }
  s.memory_type = MemoryType(fields, block_columns.size());
  s.row_doubles = block_columns.size();

  std::unordered_map<std::string, std::size_t> block_position;
  for (std::size_t i = 0; i < block_columns.size(); ++i) {
    if (!block_position.emplace(block_columns[i], i).second) {
      Throw(ErrorKind::kInvalidArgument, "{}: column '{}' appears twice", path, block_columns[i]);
    }
  }
  std::vector<std::string> order = ColumnOrder(group.get()).value_or(block_columns);
  if (order.size() != block_columns.size()) {
    Throw(ErrorKind::kInvalidArgument, "{}: non_index_axes lists {} columns but the blocks hold {}",
          path, order.size(), block_columns.size());
  }
  for (const std::string& name : order) {
    const auto found = block_position.find(name);
    if (found == block_position.end()) {
      Throw(ErrorKind::kInvalidArgument, "{}: column '{}' of non_index_axes is in no block", path,
            name);
    }
    s.index_of.emplace(name, s.columns.size());
    s.columns.push_back(name);
    s.offsets.push_back(found->second);
  }
}

PandasTableReader::~PandasTableReader() = default;
PandasTableReader::PandasTableReader(PandasTableReader&&) noexcept = default;
PandasTableReader& PandasTableReader::operator=(PandasTableReader&&) noexcept = default;

const std::string& PandasTableReader::path() const { return state_->path; }
const std::vector<std::string>& PandasTableReader::columns() const { return state_->columns; }
std::int64_t PandasTableReader::rows() const { return state_->rows; }

std::optional<std::size_t> PandasTableReader::FindColumn(std::string_view name) const {
  const auto found = state_->index_of.find(std::string(name));
  if (found == state_->index_of.end()) return std::nullopt;
  return found->second;
}

void PandasTableReader::Read(std::int64_t first_row, std::int64_t count,
                             std::span<double> out) const {
  const State& s = *state_;
  if (first_row < 0 || count < 0 || first_row + count > s.rows) {
    Throw(ErrorKind::kInvalidArgument, "{}: rows [{}, {}) outside the table's {} rows", s.path,
          first_row, first_row + count, s.rows);
  }
  if (out.size() != static_cast<std::size_t>(count) * s.columns.size()) {
    Throw(ErrorKind::kInternal, "PandasTableReader::Read: output holds {} values, need {}",
          out.size(), count * s.columns.size());
  }
  if (count == 0) return;
  std::vector<double> buffer(static_cast<std::size_t>(count) * s.row_doubles);
  h5::Handle file_space = h5::Check(H5Dget_space(s.dataset.get()), "H5Dget_space");
  const hsize_t start = first_row;
  const hsize_t length = count;
  h5::CheckStatus(
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &length, nullptr),
      "H5Sselect_hyperslab");
  h5::Handle memory_space = h5::Check(H5Screate_simple(1, &length, nullptr), "H5Screate_simple");
  h5::CheckStatus(H5Dread(s.dataset.get(), s.memory_type.get(), memory_space.get(),
                          file_space.get(), H5P_DEFAULT, buffer.data()),
                  fmt::format("{}: reading rows [{}, {}) (truncated or corrupt file?)", s.path,
                              first_row, first_row + count));
  const std::size_t columns = s.columns.size();
  for (std::int64_t row = 0; row < count; ++row) {
    const double* in = buffer.data() + row * s.row_doubles;
    double* row_out = out.data() + row * columns;
    for (std::size_t c = 0; c < columns; ++c) row_out[c] = in[s.offsets[c]];
  }
}

struct PandasTableWriter::State {
  std::string path;
  std::vector<std::string> columns;
  h5::Handle file;
  h5::Handle dataset;
  h5::Handle type;
  std::size_t row_bytes = 0;
  std::int64_t rows = 0;
  bool closed = false;
};

PandasTableWriter::PandasTableWriter(const std::string& path, const std::string& key,
                                     std::vector<std::string> columns)
    : state_(std::make_unique<State>()) {
  if (columns.empty()) Throw(ErrorKind::kInvalidArgument, "{}: a table needs columns", path);
  if (key.empty() || key.find('/') != std::string::npos) {
    Throw(ErrorKind::kInvalidArgument, "{}: key '{}' must be one plain name", path, key);
  }
  State& s = *state_;
  s.path = path;
  s.columns = std::move(columns);
  s.file = h5::CreateFile(path);

  // The attributes PyTables and pandas put on each node; pandas dispatches on pandas_type and
  // table_type, PyTables on CLASS/VERSION, and the pickles carry the column names.
  const hid_t root = s.file.get();
  h5::WriteStringAttribute(root, "CLASS", "GROUP");
  h5::WriteStringAttribute(root, "PYTABLES_FORMAT_VERSION", "2.1");
  h5::WriteEmptyStringAttribute(root, "TITLE");
  h5::WriteStringAttribute(root, "VERSION", "1.0");

  h5::Handle group =
      h5::Check(H5Gcreate2(s.file.get(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), key);
  const hid_t g = group.get();
  h5::WriteStringAttribute(g, "CLASS", "GROUP");
  h5::WriteEmptyStringAttribute(g, "TITLE");
  h5::WriteStringAttribute(g, "VERSION", "1.0");
  h5::WriteStringAttribute(g, "data_columns", PickleTextList({}), H5T_CSET_ASCII);
  h5::WriteStringAttribute(g, "encoding", "UTF-8");
  h5::WriteStringAttribute(g, "errors", "strict");
  h5::WriteStringAttribute(
      g, "index_cols",
      Pickler().BeginList().Mark().Int(0).Text("index").EndTuple().Append().Finish(),
      H5T_CSET_ASCII);
  // info = {1: {'names': [None], 'type': 'Index'}, 'index': {}, 'values_block_0': {}}
  Pickler info;
  info.BeginDict().Int(1).BeginDict().Text("names").BeginList().None().Append().SetItem();
  info.Text("type").Text("Index").SetItem().SetItem();
  info.Text("index").BeginDict().SetItem();
  info.Text("values_block_0").BeginDict().SetItem();
  h5::WriteStringAttribute(g, "info", info.Finish(), H5T_CSET_ASCII);
  h5::WriteInt64Attribute(g, "levels", 1);
  h5::WriteStringAttribute(g, "nan_rep", "nan");
  Pickler axes;
  axes.BeginList().Mark().Int(1).BeginList();
  for (const std::string& column : s.columns) axes.Text(column).Append();
  axes.EndTuple().Append();
  h5::WriteStringAttribute(g, "non_index_axes", axes.Finish(), H5T_CSET_ASCII);
  h5::WriteStringAttribute(g, "pandas_type", "frame_table");
  h5::WriteStringAttribute(g, "pandas_version", "0.15.2");
  h5::WriteStringAttribute(g, "table_type", "appendable_frame");
  h5::WriteStringAttribute(g, "values_cols", PickleTextList({"values_block_0"}), H5T_CSET_ASCII);

  const hsize_t width = s.columns.size();
  h5::Handle block_type =
      h5::Check(H5Tarray_create2(H5T_IEEE_F64LE, 1, &width), "H5Tarray_create2");
  s.row_bytes = sizeof(std::int64_t) + width * sizeof(double);
  s.type = h5::Check(H5Tcreate(H5T_COMPOUND, s.row_bytes), "H5Tcreate");
  h5::CheckStatus(H5Tinsert(s.type.get(), "index", 0, H5T_STD_I64LE), "H5Tinsert");
  h5::CheckStatus(H5Tinsert(s.type.get(), "values_block_0", sizeof(std::int64_t), block_type.get()),
                  "H5Tinsert");

  const hsize_t initial = 0;
  const hsize_t unlimited = H5S_UNLIMITED;
  h5::Handle space = h5::Check(H5Screate_simple(1, &initial, &unlimited), "H5Screate_simple");
  h5::Handle properties = h5::Check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  // About 512 KiB per chunk, like PyTables' own choice for tables of this row size.
  const hsize_t chunk_rows = std::max<hsize_t>(1, hsize_t{512} * 1024 / s.row_bytes);
  h5::CheckStatus(H5Pset_chunk(properties.get(), 1, &chunk_rows), "H5Pset_chunk");
  s.dataset = h5::Check(
      H5Dcreate2(g, "table", s.type.get(), space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
      path + ": creating /" + key + "/table");
  const hid_t d = s.dataset.get();
  h5::WriteStringAttribute(d, "CLASS", "TABLE");
  h5::WriteInt64Attribute(d, "FIELD_0_FILL", 0);
  h5::WriteStringAttribute(d, "FIELD_0_NAME", "index");
  h5::WriteDoubleAttribute(d, "FIELD_1_FILL", 0.0);
  h5::WriteStringAttribute(d, "FIELD_1_NAME", "values_block_0");
  h5::WriteInt64Attribute(d, "NROWS", 0);
  h5::WriteEmptyStringAttribute(d, "TITLE");
  h5::WriteStringAttribute(d, "VERSION", "2.7");
  h5::WriteStringAttribute(d, "index_kind", "integer");
  h5::WriteStringAttribute(d, "values_block_0_dtype", "float64");
  h5::WriteStringAttribute(d, "values_block_0_kind", PickleTextList(s.columns), H5T_CSET_ASCII);
  h5::WriteStringAttribute(d, "values_block_0_meta", Pickler().None().Finish(), H5T_CSET_ASCII);
}

PandasTableWriter::~PandasTableWriter() {
  try {
    Close();
  } catch (const Error&) {
    // A destructor cannot report; callers who need the error call Close() themselves.
  }
}

void PandasTableWriter::Append(std::span<const double> values) {
  State& s = *state_;
  if (s.closed) Throw(ErrorKind::kInternal, "{}: Append after Close", s.path);
  const std::size_t width = s.columns.size();
  if (values.size() % width != 0) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} values is not a whole number of {}-column rows",
          s.path, values.size(), width);
  }
  const hsize_t count = values.size() / width;
  if (count == 0) return;
  std::vector<unsigned char> buffer(count * s.row_bytes);
  for (hsize_t row = 0; row < count; ++row) {
    unsigned char* out = buffer.data() + row * s.row_bytes;
    const std::int64_t index = s.rows + static_cast<std::int64_t>(row);
    std::memcpy(out, &index, sizeof(index));
    std::memcpy(out + sizeof(index), values.data() + row * width, width * sizeof(double));
  }
  const hsize_t start = s.rows;
  const hsize_t total = start + count;
  h5::CheckStatus(H5Dset_extent(s.dataset.get(), &total), "H5Dset_extent");
  h5::Handle file_space = h5::Check(H5Dget_space(s.dataset.get()), "H5Dget_space");
  h5::CheckStatus(
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
      "H5Sselect_hyperslab");
  h5::Handle memory_space = h5::Check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  // The file type is little-endian with native-sized members: on the x86-64 and AArch64 hosts
  // sonicbench supports it is also the memory layout, so no conversion runs.
  h5::CheckStatus(H5Dwrite(s.dataset.get(), s.type.get(), memory_space.get(), file_space.get(),
                           H5P_DEFAULT, buffer.data()),
                  s.path + ": writing rows");
  s.rows = static_cast<std::int64_t>(total);
}

void PandasTableWriter::Close() {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  h5::WriteInt64Attribute(s.dataset.get(), "NROWS", s.rows);
  s.dataset = h5::Handle();
  s.type = h5::Handle();
  h5::CheckStatus(H5Fflush(s.file.get(), H5F_SCOPE_LOCAL), s.path + ": flushing");
  s.file = h5::Handle();
}

std::int64_t PandasTableWriter::rows() const { return state_->rows; }

}  // namespace sonic
