#include "datasets/hdf5_util.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace sonic::h5 {
namespace {

herr_t CollectInnermost(unsigned n, const H5E_error2_t* error, void* data) {
  auto* message = static_cast<std::string*>(data);
  if (n == 0 && error->desc != nullptr) *message = error->desc;
  return 0;
}

// The message of the innermost frame of the current HDF5 error stack: the one that says what was
// actually wrong ("truncated file: eof = ...") rather than which API call gave up.
std::string InnermostMessage() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, CollectInnermost, &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "no HDF5 detail" : message;
}

void WriteScalarAttribute(hid_t object, const char* name, hid_t type, const void* value) {
  Handle space = Check(H5Screate(H5S_SCALAR), "H5Screate");
  if (H5Aexists(object, name) > 0) CheckStatus(H5Adelete(object, name), name);
  Handle attribute =
      Check(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), name);
  CheckStatus(H5Awrite(attribute.get(), type, value), name);
}

}  // namespace

void Handle::Close() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      break;
  }
  id_ = H5I_INVALID_HID;
}

ScopedQuietErrors::ScopedQuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &previous_function_, &previous_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

ScopedQuietErrors::~ScopedQuietErrors() {
  H5Eset_auto2(H5E_DEFAULT, previous_function_, previous_data_);
}

Handle Check(hid_t id, std::string_view what) {
  if (id < 0) Throw(ErrorKind::kIo, "{}: {}", what, InnermostMessage());
  return Handle(id);
}

void CheckStatus(herr_t status, std::string_view what) {
  if (status < 0) Throw(ErrorKind::kIo, "{}: {}", what, InnermostMessage());
}

Handle OpenFileForReading(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    Throw(ErrorKind::kNotFound, "{}: no such file", path);
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    Throw(ErrorKind::kInvalidArgument, "{}: not an HDF5 file (no HDF5 signature)", path);
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    Throw(ErrorKind::kInvalidArgument, "{}: HDF5 file cannot be opened, truncated or corrupt ({})",
          path, InnermostMessage());
  }
  return Handle(file);
}

Handle CreateFile(const std::string& path) {
  return Check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
               "creating " + path);
}

bool Exists(hid_t location, const std::string& path) {
  // H5Lexists needs every intermediate group to exist, so walk the path one link at a time.
  std::size_t start = path.front() == '/' ? 1 : 0;
  while (start <= path.size()) {
    const std::size_t end = path.find('/', start);
    const std::string prefix = path.substr(0, end);
    if (H5Lexists(location, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return true;
}

void WriteStringAttribute(hid_t object, const char* name, std::string_view value, H5T_cset_t cset) {
  Handle type = Check(H5Tcopy(H5T_C_S1), "H5Tcopy");
  // HDF5 refuses zero-sized string types; PyTables stores empty strings as size 1.
  CheckStatus(H5Tset_size(type.get(), std::max<std::size_t>(value.size(), 1)), name);
  CheckStatus(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), name);
  CheckStatus(H5Tset_cset(type.get(), cset), name);
  std::string buffer(value);
  buffer.resize(std::max<std::size_t>(value.size(), 1), '\0');
  WriteScalarAttribute(object, name, type.get(), buffer.data());
}

void WriteEmptyStringAttribute(hid_t object, const char* name) {
  Handle type = Check(H5Tcopy(H5T_C_S1), "H5Tcopy");
  CheckStatus(H5Tset_size(type.get(), 1), name);
  CheckStatus(H5Tset_cset(type.get(), H5T_CSET_UTF8), name);
  Handle space = Check(H5Screate(H5S_NULL), "H5Screate");
  Check(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), name);
}

void WriteInt64Attribute(hid_t object, const char* name, std::int64_t value) {
  WriteScalarAttribute(object, name, H5T_STD_I64LE, &value);
}

void WriteDoubleAttribute(hid_t object, const char* name, double value) {
  WriteScalarAttribute(object, name, H5T_IEEE_F64LE, &value);
}

std::optional<std::string> ReadStringAttribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attribute = Check(H5Aopen(object, name, H5P_DEFAULT), name);
  Handle type = Check(H5Aget_type(attribute.get()), name);
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  Handle space = Check(H5Aget_space(attribute.get()), name);
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) return std::string();
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle memory_type = Check(H5Tcopy(H5T_C_S1), "H5Tcopy");
    CheckStatus(H5Tset_size(memory_type.get(), H5T_VARIABLE), name);
    char* value = nullptr;
    CheckStatus(H5Aread(attribute.get(), memory_type.get(), &value), name);
    std::string result = value != nullptr ? value : "";
    H5free_memory(value);
    return result;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buffer(size + 1, '\0');
  CheckStatus(H5Aread(attribute.get(), type.get(), buffer.data()), name);
  // NUL-padded or NUL-terminated: the value ends at the first NUL (pickles contain none).
  return std::string(buffer.data(), strnlen(buffer.data(), size));
}

std::optional<std::int64_t> ReadInt64Attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attribute = Check(H5Aopen(object, name, H5P_DEFAULT), name);
  Handle type = Check(H5Aget_type(attribute.get()), name);
  if (H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  std::int64_t value = 0;
  CheckStatus(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), name);
  return value;
}

}  // namespace sonic::h5
