#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sonic {

// pandas stores its table metadata (column names per values block, the column order) as Python
// pickles in HDF5 string attributes; PyTables always pickles with protocol 0, a line-oriented
// text format. This is the small subset needed to read and write those attributes: None, ints,
// text strings, lists, tuples and dicts. Internal to datasets/.

struct PickleValue {
  enum class Type { kNone, kInt, kString, kList, kTuple, kDict };
  Type type = Type::kNone;
  std::int64_t integer = 0;
  std::string text;                // UTF-8
  std::vector<PickleValue> items;  // list/tuple elements; dict as key, value, key, value, ...
};

// Decodes a protocol-0 pickle. Throws Error(kInvalidArgument) on an opcode outside the subset or
// a malformed stream. GET copies the memoised value, which is exact for pandas' metadata (no
// object is modified after it is referenced again).
PickleValue Unpickle(std::string_view data);

// Writes protocol-0 pickles byte for byte as Python's pickle.dumps(value, 0) does for the
// shapes pandas uses (memo numbering included), so files we write carry pandas' own metadata.
class Pickler {
 public:
  Pickler& BeginList();                  // (l + PUT
  Pickler& BeginDict();                  // (d + PUT
  Pickler& Mark();                       // ( : opens a tuple
  Pickler& EndTuple();                   // t + PUT
  Pickler& Text(std::string_view utf8);  // V... + PUT
  Pickler& Int(std::int64_t value);
  Pickler& None();
  Pickler& Append();     // a: list.append(top)
  Pickler& SetItem();    // s: dict[key] = value
  std::string Finish();  // appends STOP

 private:
  void Put();
  std::string out_;
  int memo_ = 0;
};

// The common case: a pickled list of text strings.
std::string PickleTextList(const std::vector<std::string>& items);

}  // namespace sonic
