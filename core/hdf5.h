#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/owned.h"

namespace sonic::h5 {

// The project's one HDF5 layer, used by datasets/ and results/: ownership of HDF5 ids, files,
// groups, scalar attributes and 1-D datasets, with one error policy. HDF5's own printing of its
// error stack is switched off for the whole process by the first file this layer opens or
// creates; every failed HDF5 call throws sonic::Error(kIo) "<what>: <outermost HDF5 message>
// (<innermost>)", i.e. what the call was doing and the root cause. Not thread-safe (nor is the
// HDF5 build): one thread uses HDF5 at a time.

// Closes an id with the H5?close that matches its type (file, group, dataset, type, space,
// attribute, property list).
struct IdCloser {
  void operator()(hid_t id) const;
};
using Handle = Owned<hid_t, IdCloser, H5I_INVALID_HID>;

// Throws Error(kIo) as described above, from the current HDF5 error stack (then cleared).
[[noreturn]] void ThrowError(std::string_view what);
// Returns `id` owned, or throws when it is negative.
Handle Check(hid_t id, std::string_view what);
// Throws when an herr_t call failed.
void CheckStatus(herr_t status, std::string_view what);
// The answer of an htri_t call (H5Lexists, H5Aexists, H5Tis_variable_str); throws when it failed.
bool CheckTri(htri_t result, std::string_view what);

// Opens an existing file. Distinguishes "no such file" (kNotFound), "not a regular file", "not
// an HDF5 file" and "truncated or corrupt" (kInvalidArgument), with messages that name the path.
Handle OpenFileForReading(const std::string& path);
Handle OpenFileForWriting(const std::string& path);

enum class FileFormat {
  kEarliest,  // HDF5's default, readable by any HDF5 (what PyTables writes)
  // Every structure HDF5 reads to find data carries a checksum that it verifies on each read: a
  // 1.8 superblock, and objects in the 1.10 format (object headers, so attributes and compact
  // datasets; group indexes and heaps; chunk indexes, which in the 1.8 format are unchecksummed
  // B-trees that can silently point a read at the wrong bytes). HDF5 1.10 and newer read it. The
  // 1.10 superblock is avoided on purpose: it carries an "open for writing" flag that a writer
  // killed mid-run leaves set, after which HDF5 refuses the file until h5clear.
  kChecksummed,
};
// Creates (truncating) a file for writing.
Handle CreateFile(const std::string& path, FileFormat format = FileFormat::kEarliest);
// Sets the format of the objects created from now on in `file`, opened by OpenFileForWriting;
// its superblock stays as it is.
void UseFormatForNewObjects(hid_t file, FileFormat format);

// True when every link of the '/'-separated path exists (false as soon as one does not).
bool Exists(hid_t location, const std::string& path);
// A group; with `track_order`, its links are listed in creation order (LinkNames).
Handle CreateGroup(hid_t parent, const std::string& name, bool track_order = false);
Handle OpenGroup(hid_t parent, const std::string& name);
Handle OpenDataset(hid_t parent, const std::string& name);
// Names of a group's links, in creation order (the group must track it) or by name.
std::vector<std::string> LinkNames(hid_t group, H5_index_t order);
// Names of an object's attributes, by name.
std::vector<std::string> AttributeNames(hid_t object);

// Types. Booleans are the int8 enum h5py uses for numpy bool (FALSE = 0, TRUE = 1). Fixed-length
// strings are UTF-8, `size` bytes (at least 1), NUL-padded: numpy's S<size>.
Handle BoolType();
// A compound type of `size` bytes with these members (a struct's fields, by offsetof).
struct CompoundMember {
  const char* name;
  std::size_t offset;
  hid_t type;
};
Handle CompoundType(std::size_t size, std::initializer_list<CompoundMember> members);
Handle FixedStringType(std::size_t size, H5T_str_t pad = H5T_STR_NULLPAD);
// Bytes needed to store `text` in a fixed-length string type (at least 1: HDF5 has no size 0).
std::size_t FixedStringSize(std::string_view text);
// The text of a fixed-length string field: up to the first NUL, at most `size` bytes.
std::string FixedStringValue(const char* field, std::size_t size);

// Scalar attributes, replacing one of the same name. Strings are fixed-length and NUL-terminated
// with the given character set (PyTables writes UTF-8 for text and ASCII for pickles): attribute
// data then lives in the object header, which kChecksummed files checksum (variable-length
// strings would live in HDF5's unchecksummed global heap).
void WriteStringAttribute(hid_t object, const char* name, std::string_view value,
                          H5T_cset_t cset = H5T_CSET_UTF8);
// An attribute with a NULL dataspace and a one-byte string type: PyTables' empty TITLE.
void WriteEmptyStringAttribute(hid_t object, const char* name);
void WriteInt64Attribute(hid_t object, const char* name, std::int64_t value);
void WriteUInt64Attribute(hid_t object, const char* name, std::uint64_t value);
void WriteDoubleAttribute(hid_t object, const char* name, double value);
void WriteBoolAttribute(hid_t object, const char* name, bool value);

// Scalar attributes; nullopt when absent or of another type class (a string where a number is
// expected). Strings may be fixed or variable length (files of older writers).
std::optional<std::string> ReadStringAttribute(hid_t object, const char* name);
std::optional<std::int64_t> ReadInt64Attribute(hid_t object, const char* name);
std::optional<std::uint64_t> ReadUInt64Attribute(hid_t object, const char* name);
std::optional<double> ReadDoubleAttribute(hid_t object, const char* name);
std::optional<bool> ReadBoolAttribute(hid_t object, const char* name);

// Writes `rows` elements of `memory_type` as a 1-D dataset stored as `file_type`, every byte
// under a checksum: up to 16 KiB compact (inside the checksummed object header), larger chunked
// with a Fletcher-32 checksum per chunk, and from 1024 rows also compressed (shuffle + deflate,
// which h5py reads).
void WriteArray(hid_t parent, const char* name, hid_t file_type, hid_t memory_type, hsize_t rows,
                const void* data);
// The length of a 1-D dataset.
hsize_t DatasetLength(hid_t dataset, std::string_view what);
// Reads all `length` elements of a 1-D dataset as `memory_type` into `data`. Callers size `data`
// after CheckPlausibleSize: a damaged header must not make them allocate terabytes.
void ReadWhole(hid_t dataset, hid_t memory_type, hsize_t length, void* data, std::string_view what);
// Throws Error(kIo) unless `count` elements of `element_size` bytes can come out of the file that
// holds `object`: at most what the file's size allows at deflate's best ratio.
void CheckPlausibleSize(hid_t object, std::uint64_t count, std::size_t element_size,
                        std::string_view what);

template <typename T>
std::vector<T> ReadArray(hid_t parent, const char* name, hid_t memory_type) {
  Handle dataset = OpenDataset(parent, name);
  const hsize_t length = DatasetLength(dataset.get(), name);
  CheckPlausibleSize(dataset.get(), length, sizeof(T), name);
  std::vector<T> rows(length);
  ReadWhole(dataset.get(), memory_type, length, rows.data(), name);
  return rows;
}

}  // namespace sonic::h5
