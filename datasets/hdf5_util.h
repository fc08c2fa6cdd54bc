#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sonic::h5 {

// Internal helpers shared by the dataset readers and writers: RAII ownership of HDF5 ids and
// errors that name the file, the object and the failing HDF5 call. Not part of the datasets seam.

// Owns one HDF5 id and closes it with the matching H5*close call. Movable, not copyable.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      Close();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { Close(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  void Close();
  hid_t id_ = H5I_INVALID_HID;
};

// Silences HDF5's own stderr error printing while alive (restoring the previous handler after):
// failures are reported through sonic::Error instead, with the innermost HDF5 message appended.
class ScopedQuietErrors {
 public:
  ScopedQuietErrors();
  ~ScopedQuietErrors();
  ScopedQuietErrors(const ScopedQuietErrors&) = delete;
  ScopedQuietErrors& operator=(const ScopedQuietErrors&) = delete;

 private:
  H5E_auto2_t previous_function_ = nullptr;
  void* previous_data_ = nullptr;
};

// Returns `id` wrapped, or throws Error(kIo) "<what>: <innermost HDF5 message>" when negative.
Handle Check(hid_t id, std::string_view what);
// Throws Error(kIo) as above when an herr_t call failed.
void CheckStatus(herr_t status, std::string_view what);

// Opens an existing file read-only. Distinguishes "no such file", "not an HDF5 file" and
// "truncated or corrupt" with messages that name the path.
Handle OpenFileForReading(const std::string& path);
// Creates (truncating) a file for writing.
Handle CreateFile(const std::string& path);

bool Exists(hid_t location, const std::string& path);

// Scalar attributes. Strings are fixed-length, NUL-terminated, with the given character set
// (PyTables writes UTF-8 for text and ASCII for pickles).
void WriteStringAttribute(hid_t object, const char* name, std::string_view value,
                          H5T_cset_t cset = H5T_CSET_UTF8);
// An attribute with a NULL dataspace and a one-byte string type: PyTables' empty TITLE.
void WriteEmptyStringAttribute(hid_t object, const char* name);
void WriteInt64Attribute(hid_t object, const char* name, std::int64_t value);
void WriteDoubleAttribute(hid_t object, const char* name, double value);

// Reads a scalar string attribute (fixed or variable length); nullopt when absent.
std::optional<std::string> ReadStringAttribute(hid_t object, const char* name);
std::optional<std::int64_t> ReadInt64Attribute(hid_t object, const char* name);

}  // namespace sonic::h5
