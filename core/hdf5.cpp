#include "core/hdf5.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace sonic::h5 {
namespace {

void SilenceErrorPrinting() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t CollectDescription(unsigned, const H5E_error2_t* error, void* data) {
  auto* descriptions = static_cast<std::vector<std::string>*>(data);
  if (error->desc != nullptr && error->desc[0] != '\0') descriptions->emplace_back(error->desc);
  return 0;
}

// "<outermost> (<innermost>)" of the current error stack, which is then cleared.
std::string ErrorStackDetail() {
  std::vector<std::string> descriptions;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectDescription, &descriptions);
  H5Eclear2(H5E_DEFAULT);
  if (descriptions.empty()) return "no HDF5 detail";
  std::string detail = descriptions.front();
  if (descriptions.size() > 1) detail += " (" + descriptions.back() + ")";
  return detail;
}

Handle CreateScalarAttribute(hid_t object, const char* name, hid_t type, H5S_class_t space_class) {
  if (CheckTri(H5Aexists(object, name), name)) CheckStatus(H5Adelete(object, name), name);
  Handle space = Check(H5Screate(space_class), "H5Screate");
  return Check(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), name);
}

void WriteScalarAttribute(hid_t object, const char* name, hid_t type, const void* value) {
  // An attribute of the same type is overwritten in place (a run's `complete` flag, flipped at
  // every resume and close): no header space is freed or allocated.
  Handle attribute;
  if (CheckTri(H5Aexists(object, name), name)) {
    Handle existing = Check(H5Aopen(object, name, H5P_DEFAULT), name);
    Handle existing_type = Check(H5Aget_type(existing.get()), name);
    if (CheckTri(H5Tequal(existing_type.get(), type), name)) attribute = std::move(existing);
  }
  if (!attribute) attribute = CreateScalarAttribute(object, name, type, H5S_SCALAR);
  CheckStatus(H5Awrite(attribute.get(), type, value), name);
}

// The attribute and its type when it exists with a type of `type_class`.
std::optional<std::pair<Handle, Handle>> OpenAttributeOfClass(hid_t object, const char* name,
                                                              H5T_class_t type_class) {
  if (!CheckTri(H5Aexists(object, name), name)) return std::nullopt;
  Handle attribute = Check(H5Aopen(object, name, H5P_DEFAULT), name);
  Handle type = Check(H5Aget_type(attribute.get()), name);
  if (H5Tget_class(type.get()) != type_class) return std::nullopt;
  return std::make_pair(std::move(attribute), std::move(type));
}

template <typename T>
std::optional<T> ReadNumberAttribute(hid_t object, const char* name, H5T_class_t type_class,
                                     hid_t memory_type) {
  const auto opened = OpenAttributeOfClass(object, name, type_class);
  if (!opened) return std::nullopt;
  T value{};
  CheckStatus(H5Aread(opened->first.get(), memory_type, &value), name);
  return value;
}

Handle FileAccessList(FileFormat format) {
  Handle access = Check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(H5P_FILE_ACCESS)");
  if (format == FileFormat::kChecksummed) {
    CheckStatus(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_V18),
                "H5Pset_libver_bounds(1.8)");
  }
  return access;
}

Handle OpenExistingFile(const std::string& path, unsigned flags) {
  SilenceErrorPrinting();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    Throw(ErrorKind::kNotFound, "{}: no such file", path);
  }
  if (!std::filesystem::is_regular_file(path, error)) {
    Throw(ErrorKind::kInvalidArgument, "{}: not a regular file", path);
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    Throw(ErrorKind::kInvalidArgument, "{}: not an HDF5 file (no HDF5 signature)", path);
  }
  const hid_t file = H5Fopen(path.c_str(), flags, H5P_DEFAULT);
  if (file < 0) {
    Throw(ErrorKind::kInvalidArgument, "{}: HDF5 file cannot be opened, truncated or corrupt ({})",
          path, ErrorStackDetail());
  }
  return Handle(file);
}

}  // namespace

void IdCloser::operator()(hid_t id) const {
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      H5Fclose(id);
      break;
    case H5I_GROUP:
      H5Gclose(id);
      break;
    case H5I_DATASET:
      H5Dclose(id);
      break;
    case H5I_DATATYPE:
      H5Tclose(id);
      break;
    case H5I_DATASPACE:
      H5Sclose(id);
      break;
    case H5I_ATTR:
      H5Aclose(id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id);
      break;
    default:
      break;
  }
}

void ThrowError(std::string_view what) {
  Throw(ErrorKind::kIo, "{}: {}", what, ErrorStackDetail());
}

Handle Check(hid_t id, std::string_view what) {
  if (id < 0) ThrowError(what);
  return Handle(id);
}

void CheckStatus(herr_t status, std::string_view what) {
  if (status < 0) ThrowError(what);
}

bool CheckTri(htri_t result, std::string_view what) {
  if (result < 0) ThrowError(what);
  return result > 0;
}

Handle OpenFileForReading(const std::string& path) {
  return OpenExistingFile(path, H5F_ACC_RDONLY);
}

Handle OpenFileForWriting(const std::string& path) { return OpenExistingFile(path, H5F_ACC_RDWR); }

Handle CreateFile(const std::string& path, FileFormat format) {
  SilenceErrorPrinting();
  Handle access = FileAccessList(format);
  Handle file =
      Check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), "creating " + path);
  UseFormatForNewObjects(file.get(), format);
  return file;
}

void UseFormatForNewObjects(hid_t file, FileFormat format) {
  if (format == FileFormat::kChecksummed) {
    // Raising the bounds of an open file leaves its superblock as it is.
    CheckStatus(H5Fset_libver_bounds(file, H5F_LIBVER_V110, H5F_LIBVER_V110),
                "H5Fset_libver_bounds(1.10)");
  }
}

bool Exists(hid_t location, const std::string& path) {
  // H5Lexists needs every intermediate group to exist, so walk the path one link at a time.
  std::size_t start = path.front() == '/' ? 1 : 0;
  while (start <= path.size()) {
    const std::size_t end = path.find('/', start);
    const std::string prefix = path.substr(0, end);
    if (!CheckTri(H5Lexists(location, prefix.c_str(), H5P_DEFAULT), "H5Lexists(" + prefix + ")")) {
      return false;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return true;
}

Handle CreateGroup(hid_t parent, const std::string& name, bool track_order) {
  Handle plist = Check(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(H5P_GROUP_CREATE)");
  if (track_order) {
    CheckStatus(
        H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  }
  return Check(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
               "H5Gcreate2(" + name + ")");
}

Handle OpenGroup(hid_t parent, const std::string& name) {
  return Check(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), "H5Gopen2(" + name + ")");
}

Handle OpenDataset(hid_t parent, const std::string& name) {
  return Check(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), "H5Dopen2(" + name + ")");
}

std::vector<std::string> LinkNames(hid_t group, H5_index_t order) {
  std::vector<std::string> names;
  hsize_t position = 0;
  const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  CheckStatus(H5Literate(group, order, H5_ITER_INC, &position, collect, &names), "H5Literate2");
  return names;
}

std::vector<std::string> AttributeNames(hid_t object) {
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  CheckStatus(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
              "H5Aiterate2");
  return names;
}

Handle BoolType() {
  Handle type = Check(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create");
  std::int8_t value = 0;
  CheckStatus(H5Tenum_insert(type.get(), "FALSE", &value), "H5Tenum_insert(FALSE)");
  value = 1;
  CheckStatus(H5Tenum_insert(type.get(), "TRUE", &value), "H5Tenum_insert(TRUE)");
  return type;
}

Handle CompoundType(std::size_t size, std::initializer_list<CompoundMember> members) {
  Handle type = Check(H5Tcreate(H5T_COMPOUND, size), "H5Tcreate(compound)");
  for (const CompoundMember& member : members) {
    CheckStatus(H5Tinsert(type.get(), member.name, member.offset, member.type),
                std::string("H5Tinsert(") + member.name + ")");
  }
  return type;
}

Handle FixedStringType(std::size_t size, H5T_str_t pad) {
  Handle type = Check(H5Tcopy(H5T_C_S1), "H5Tcopy(H5T_C_S1)");
  CheckStatus(H5Tset_size(type.get(), std::max<std::size_t>(size, 1)), "H5Tset_size");
  CheckStatus(H5Tset_strpad(type.get(), pad), "H5Tset_strpad");
  CheckStatus(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset(UTF8)");
  return type;
}

std::size_t FixedStringSize(std::string_view text) { return std::max<std::size_t>(text.size(), 1); }

std::string FixedStringValue(const char* field, std::size_t size) {
  return std::string(field, strnlen(field, size));
}

void WriteStringAttribute(hid_t object, const char* name, std::string_view value, H5T_cset_t cset) {
  Handle type = FixedStringType(FixedStringSize(value), H5T_STR_NULLTERM);
  CheckStatus(H5Tset_cset(type.get(), cset), name);
  std::string buffer(value);
  buffer.resize(FixedStringSize(value), '\0');
  WriteScalarAttribute(object, name, type.get(), buffer.data());
}

void WriteEmptyStringAttribute(hid_t object, const char* name) {
  Handle type = FixedStringType(1, H5T_STR_NULLTERM);
  CreateScalarAttribute(object, name, type.get(), H5S_NULL);
}

void WriteInt64Attribute(hid_t object, const char* name, std::int64_t value) {
  WriteScalarAttribute(object, name, H5T_STD_I64LE, &value);
}

void WriteUInt64Attribute(hid_t object, const char* name, std::uint64_t value) {
  WriteScalarAttribute(object, name, H5T_STD_U64LE, &value);
}

void WriteDoubleAttribute(hid_t object, const char* name, double value) {
  WriteScalarAttribute(object, name, H5T_IEEE_F64LE, &value);
}

void WriteBoolAttribute(hid_t object, const char* name, bool value) {
  Handle type = BoolType();
  const std::int8_t data = value ? 1 : 0;
  WriteScalarAttribute(object, name, type.get(), &data);
}

std::optional<std::string> ReadStringAttribute(hid_t object, const char* name) {
  const auto opened = OpenAttributeOfClass(object, name, H5T_STRING);
  if (!opened) return std::nullopt;
  const auto& [attribute, type] = *opened;
  Handle space = Check(H5Aget_space(attribute.get()), name);
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) return std::string();
  if (CheckTri(H5Tis_variable_str(type.get()), name)) {
    Handle memory_type = Check(H5Tcopy(H5T_C_S1), "H5Tcopy");
    CheckStatus(H5Tset_size(memory_type.get(), H5T_VARIABLE), name);
    CheckStatus(H5Tset_cset(memory_type.get(), H5Tget_cset(type.get())), name);
    char* value = nullptr;
    const herr_t status = H5Aread(attribute.get(), memory_type.get(), &value);
    const std::string result = value != nullptr ? value : "";
    H5free_memory(value);
    CheckStatus(status, name);
    return result;
  }
  const std::size_t size = H5Tget_size(type.get());
  CheckPlausibleSize(attribute.get(), size, 1, name);
  std::vector<char> buffer(size + 1, '\0');
  CheckStatus(H5Aread(attribute.get(), type.get(), buffer.data()), name);
  // NUL-padded or NUL-terminated: the value ends at the first NUL (pickles contain none).
  return FixedStringValue(buffer.data(), size);
}

std::optional<std::int64_t> ReadInt64Attribute(hid_t object, const char* name) {
  return ReadNumberAttribute<std::int64_t>(object, name, H5T_INTEGER, H5T_NATIVE_INT64);
}

std::optional<std::uint64_t> ReadUInt64Attribute(hid_t object, const char* name) {
  return ReadNumberAttribute<std::uint64_t>(object, name, H5T_INTEGER, H5T_NATIVE_UINT64);
}

std::optional<double> ReadDoubleAttribute(hid_t object, const char* name) {
  return ReadNumberAttribute<double>(object, name, H5T_FLOAT, H5T_NATIVE_DOUBLE);
}

std::optional<bool> ReadBoolAttribute(hid_t object, const char* name) {
  Handle type = BoolType();
  const auto value = ReadNumberAttribute<std::int8_t>(object, name, H5T_ENUM, type.get());
  if (!value) return std::nullopt;
  return *value != 0;
}

void WriteArray(hid_t parent, const char* name, hid_t file_type, hid_t memory_type, hsize_t rows,
                const void* data) {
  Handle space = Check(H5Screate_simple(1, &rows, nullptr), "H5Screate_simple");
  Handle plist = Check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(H5P_DATASET_CREATE)");
  constexpr std::size_t kCompactBytes = std::size_t{16} * 1024;
  constexpr hsize_t kCompressFromRows = 1024;
  if (rows * H5Tget_size(file_type) <= kCompactBytes) {
    CheckStatus(H5Pset_layout(plist.get(), H5D_COMPACT), "H5Pset_layout(compact)");
  } else {
    const hsize_t chunk = std::min<hsize_t>(rows, 16384);
    CheckStatus(H5Pset_chunk(plist.get(), 1, &chunk), "H5Pset_chunk");
    if (rows >= kCompressFromRows && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
      CheckStatus(H5Pset_shuffle(plist.get()), "H5Pset_shuffle");
      CheckStatus(H5Pset_deflate(plist.get(), 1), "H5Pset_deflate");
    }
    CheckStatus(H5Pset_fletcher32(plist.get()), "H5Pset_fletcher32");
  }
  Handle dataset =
      Check(H5Dcreate2(parent, name, file_type, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
            std::string("H5Dcreate2(") + name + ")");
  if (rows > 0) {
    CheckStatus(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                std::string("H5Dwrite(") + name + ")");
  }
}

hsize_t DatasetLength(hid_t dataset, std::string_view what) {
  Handle space = Check(H5Dget_space(dataset), fmt::format("H5Dget_space({})", what));
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    Throw(ErrorKind::kIo, "{}: expected a 1-D dataset", what);
  }
  hsize_t length = 0;
  CheckStatus(H5Sget_simple_extent_dims(space.get(), &length, nullptr),
              fmt::format("H5Sget_simple_extent_dims({})", what));
  return length;
}

void ReadWhole(hid_t dataset, hid_t memory_type, hsize_t length, void* data,
               std::string_view what) {
  if (length == 0) return;
  CheckStatus(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
              fmt::format("H5Dread({})", what));
}

void CheckPlausibleSize(hid_t object, std::uint64_t count, std::size_t element_size,
                        std::string_view what) {
  // zlib's deflate expands at most 1032:1, and nothing else this layer writes compresses.
  constexpr std::uint64_t kBestRatio = 1032;
  Handle file = Check(H5Iget_file_id(object), "H5Iget_file_id");
  hsize_t file_size = 0;
  CheckStatus(H5Fget_filesize(file.get(), &file_size), "H5Fget_filesize");
  const std::uint64_t limit = (file_size + 1) * kBestRatio;
  if (element_size > 0 && count > limit / element_size) {
    Throw(ErrorKind::kIo, "{}: claims {} elements of {} bytes, more than a {}-byte file can hold",
          what, count, element_size, file_size);
  }
}

}  // namespace sonic::h5
