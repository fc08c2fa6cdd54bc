#include "results/results_file.h"

#include <fmt/format.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <variant>

#include "core/error.h"
#include "core/version.h"

namespace sonic {
namespace {

// ---------------------------------------------------------------------------------------------
// HDF5 plumbing: handles, errors, types, attributes.

void SilenceHdf5ErrorPrinting() {
  // HDF5 prints its error stack to stderr by default; sonicbench puts it into the Error instead.
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t CollectErrorDescription(unsigned, const H5E_error2_t* error, void* data) {
  auto* descriptions = static_cast<std::vector<std::string>*>(data);
  if (error->desc != nullptr && error->desc[0] != '\0') descriptions->emplace_back(error->desc);
  return 0;
}

// Throws Error(kIo) naming the file and the HDF5 call, with the outermost and innermost messages
// of HDF5's error stack (what the API call was doing and the root cause).
[[noreturn]] void ThrowHdf5(const std::string& path, std::string_view call) {
  std::vector<std::string> descriptions;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectErrorDescription, &descriptions);
  H5Eclear2(H5E_DEFAULT);
  std::string detail;
  if (!descriptions.empty()) {
    detail = ": " + descriptions.front();
    if (descriptions.size() > 1) detail += " (" + descriptions.back() + ")";
  }
  Throw(ErrorKind::kIo, "{}: HDF5 {} failed{}", path, call, detail);
}

template <typename T>
T Check(T result, const std::string& path, std::string_view call) {
  if (result < 0) ThrowHdf5(path, call);
  return result;
}

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      Reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { Reset(); }

  hid_t get() const { return id_; }
  // Gives up ownership, for a close whose failure must be reported.
  hid_t Release() {
    const hid_t id = id_;
    id_ = -1;
    return id;
  }
  void Reset() {
    if (id_ >= 0) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// The file path travels with every operation so that errors name it.
struct Ctx {
  std::string path;

  Handle Type(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Tclose);
  }
  Handle Space(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Sclose);
  }
  Handle Group(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Gclose);
  }
  Handle Dataset(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Dclose);
  }
  Handle Attribute(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Aclose);
  }
  Handle Plist(hid_t id, std::string_view call) const {
    return Handle(Check(id, path, call), H5Pclose);
  }
};

// Strings are variable-length UTF-8 everywhere (attributes and table columns): no truncation of
// command lines, configs or error messages, and h5py reads them as str / bytes objects.
Handle StringType(const Ctx& ctx) {
  Handle type = ctx.Type(H5Tcopy(H5T_C_S1), "H5Tcopy(H5T_C_S1)");
  Check(H5Tset_size(type.get(), H5T_VARIABLE), ctx.path, "H5Tset_size(H5T_VARIABLE)");
  Check(H5Tset_cset(type.get(), H5T_CSET_UTF8), ctx.path, "H5Tset_cset(UTF8)");
  return type;
}

// Booleans are the enum h5py uses for numpy bool (int8 FALSE = 0, TRUE = 1).
Handle BoolType(const Ctx& ctx) {
  Handle type = ctx.Type(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create");
  std::int8_t value = 0;
  Check(H5Tenum_insert(type.get(), "FALSE", &value), ctx.path, "H5Tenum_insert(FALSE)");
  value = 1;
  Check(H5Tenum_insert(type.get(), "TRUE", &value), ctx.path, "H5Tenum_insert(TRUE)");
  return type;
}

bool Exists(const Ctx& ctx, hid_t location, const std::string& name) {
  return Check(H5Lexists(location, name.c_str(), H5P_DEFAULT), ctx.path,
               fmt::format("H5Lexists({})", name)) > 0;
}

Handle CreateAttribute(const Ctx& ctx, hid_t object, const char* name, hid_t type) {
  if (Check(H5Aexists(object, name), ctx.path, fmt::format("H5Aexists({})", name)) > 0) {
    Check(H5Adelete(object, name), ctx.path, fmt::format("H5Adelete({})", name));
  }
  Handle space = ctx.Space(H5Screate(H5S_SCALAR), "H5Screate(H5S_SCALAR)");
  return ctx.Attribute(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       fmt::format("H5Acreate2({})", name));
}

void WriteAttribute(const Ctx& ctx, hid_t object, const char* name, hid_t type, const void* value) {
  Handle attribute = CreateAttribute(ctx, object, name, type);
  Check(H5Awrite(attribute.get(), type, value), ctx.path, fmt::format("H5Awrite({})", name));
}

void WriteAttribute(const Ctx& ctx, hid_t object, const char* name, const std::string& value) {
  Handle type = StringType(ctx);
  const char* data = value.c_str();
  WriteAttribute(ctx, object, name, type.get(), &data);
}
void WriteAttribute(const Ctx& ctx, hid_t object, const char* name, std::int64_t value) {
  WriteAttribute(ctx, object, name, H5T_NATIVE_INT64, &value);
}
void WriteAttribute(const Ctx& ctx, hid_t object, const char* name, std::uint64_t value) {
  WriteAttribute(ctx, object, name, H5T_NATIVE_UINT64, &value);
}
void WriteAttribute(const Ctx& ctx, hid_t object, const char* name, double value) {
  WriteAttribute(ctx, object, name, H5T_NATIVE_DOUBLE, &value);
}
void WriteBoolAttribute(const Ctx& ctx, hid_t object, const char* name, bool value) {
  Handle type = BoolType(ctx);
  const std::int8_t data = value ? 1 : 0;
  WriteAttribute(ctx, object, name, type.get(), &data);
}

Handle OpenAttribute(const Ctx& ctx, hid_t object, const std::string& name) {
  return ctx.Attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT),
                       fmt::format("H5Aopen({})", name));
}

std::string ReadStringAttribute(const Ctx& ctx, hid_t object, const std::string& name) {
  Handle attribute = OpenAttribute(ctx, object, name);
  Handle type = StringType(ctx);
  char* data = nullptr;
  Check(H5Aread(attribute.get(), type.get(), &data), ctx.path, fmt::format("H5Aread({})", name));
  std::string value = data != nullptr ? data : "";
  H5free_memory(data);
  return value;
}

template <typename T>
T ReadNumberAttribute(const Ctx& ctx, hid_t object, const std::string& name, hid_t type) {
  Handle attribute = OpenAttribute(ctx, object, name);
  T value{};
  Check(H5Aread(attribute.get(), type, &value), ctx.path, fmt::format("H5Aread({})", name));
  return value;
}
std::int64_t ReadInt64Attribute(const Ctx& ctx, hid_t object, const std::string& name) {
  return ReadNumberAttribute<std::int64_t>(ctx, object, name, H5T_NATIVE_INT64);
}
std::uint64_t ReadUInt64Attribute(const Ctx& ctx, hid_t object, const std::string& name) {
  return ReadNumberAttribute<std::uint64_t>(ctx, object, name, H5T_NATIVE_UINT64);
}
double ReadDoubleAttribute(const Ctx& ctx, hid_t object, const std::string& name) {
  return ReadNumberAttribute<double>(ctx, object, name, H5T_NATIVE_DOUBLE);
}
bool ReadBoolAttribute(const Ctx& ctx, hid_t object, const std::string& name) {
  Handle type = BoolType(ctx);
  return ReadNumberAttribute<std::int8_t>(ctx, object, name, type.get()) != 0;
}

herr_t CollectName(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<std::string> AttributeNames(const Ctx& ctx, hid_t object) {
  std::vector<std::string> names;
  Check(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, CollectName, &names), ctx.path,
        "H5Aiterate2");
  return names;
}

Handle CreateGroup(const Ctx& ctx, hid_t parent, const std::string& name,
                   bool track_order = false) {
  Handle plist = ctx.Plist(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(H5P_GROUP_CREATE)");
  if (track_order) {
    // Runs and cells are listed in the order they were appended, not by name.
    Check(H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          ctx.path, "H5Pset_link_creation_order");
  }
  return ctx.Group(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
                   fmt::format("H5Gcreate2({})", name));
}

Handle OpenGroup(const Ctx& ctx, hid_t parent, const std::string& name) {
  return ctx.Group(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), fmt::format("H5Gopen2({})", name));
}

Handle OpenDataset(const Ctx& ctx, hid_t parent, const std::string& name) {
  return ctx.Dataset(H5Dopen2(parent, name.c_str(), H5P_DEFAULT),
                     fmt::format("H5Dopen2({})", name));
}

hsize_t DatasetLength(const Ctx& ctx, hid_t dataset, const std::string& name) {
  Handle space = ctx.Space(H5Dget_space(dataset), fmt::format("H5Dget_space({})", name));
  hsize_t length = 0;
  Check(H5Sget_simple_extent_dims(space.get(), &length, nullptr), ctx.path,
        fmt::format("H5Sget_simple_extent_dims({})", name));
  return length;
}

// Writes `rows` elements of `memory_type` as a fixed-size 1-D dataset stored as `file_type`.
// Large datasets (raw records) are chunked and compressed (shuffle + deflate, which h5py reads).
void WriteArray(const Ctx& ctx, hid_t parent, const char* name, hid_t file_type, hid_t memory_type,
                hsize_t rows, const void* data) {
  Handle space = ctx.Space(H5Screate_simple(1, &rows, nullptr), "H5Screate_simple");
  Handle plist = ctx.Plist(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(H5P_DATASET_CREATE)");
  constexpr hsize_t kCompressFromRows = 1024;
  if (rows >= kCompressFromRows && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    const hsize_t chunk = std::min<hsize_t>(rows, 16384);
    Check(H5Pset_chunk(plist.get(), 1, &chunk), ctx.path, "H5Pset_chunk");
    Check(H5Pset_shuffle(plist.get()), ctx.path, "H5Pset_shuffle");
    Check(H5Pset_deflate(plist.get(), 1), ctx.path, "H5Pset_deflate");
  }
  Handle dataset = ctx.Dataset(
      H5Dcreate2(parent, name, file_type, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
      fmt::format("H5Dcreate2({})", name));
  if (rows > 0) {
    Check(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), ctx.path,
          fmt::format("H5Dwrite({})", name));
  }
}

template <typename T>
std::vector<T> ReadArray(const Ctx& ctx, hid_t parent, const char* name, hid_t memory_type) {
  Handle dataset = OpenDataset(ctx, parent, name);
  std::vector<T> rows(DatasetLength(ctx, dataset.get(), name));
  if (!rows.empty()) {
    Check(H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), ctx.path,
          fmt::format("H5Dread({})", name));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Per-cell datasets: histograms, raw records, errors, server batch sizes.

struct HistogramRow {
  std::int64_t lower_bound_ns;
  std::int64_t count;
};

Handle HistogramRowType(const Ctx& ctx) {
  Handle type = ctx.Type(H5Tcreate(H5T_COMPOUND, sizeof(HistogramRow)), "H5Tcreate(histogram)");
  Check(H5Tinsert(type.get(), "lower_bound_ns", offsetof(HistogramRow, lower_bound_ns),
                  H5T_NATIVE_INT64),
        ctx.path, "H5Tinsert(lower_bound_ns)");
  Check(H5Tinsert(type.get(), "count", offsetof(HistogramRow, count), H5T_NATIVE_INT64), ctx.path,
        "H5Tinsert(count)");
  return type;
}

void WriteHistogram(const Ctx& ctx, hid_t group, const char* name,
                    const LatencyHistogram& histogram) {
  const HistogramData data = histogram.Export();
  std::vector<HistogramRow> rows(data.count.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = {data.lower_bound_ns[i], data.count[i]};
  Handle type = HistogramRowType(ctx);
  WriteArray(ctx, group, name, type.get(), type.get(), rows.size(), rows.data());
  Handle dataset = OpenDataset(ctx, group, name);
  const hid_t d = dataset.get();
  WriteAttribute(ctx, d, "total_count", data.total_count);
  WriteAttribute(ctx, d, "sum_ns", data.sum_ns);
  WriteAttribute(ctx, d, "min_ns", data.min_ns);
  WriteAttribute(ctx, d, "max_ns", data.max_ns);
  WriteAttribute(ctx, d, "overflow_count", data.overflow_count);
  WriteAttribute(ctx, d, "sum_sq_ns2_hi", data.sum_sq_hi);
  WriteAttribute(ctx, d, "sum_sq_ns2_lo", data.sum_sq_lo);
  WriteAttribute(ctx, d, "sub_bucket_count", LatencyHistogram::kSubBucketCount);
  WriteAttribute(ctx, d, "max_value_ns", LatencyHistogram::kMaxValueNs);
  WriteAttribute(ctx, d, "relative_error", LatencyHistogram::kRelativeError);
}

LatencyHistogram ReadHistogram(const Ctx& ctx, hid_t group, const char* name) {
  Handle type = HistogramRowType(ctx);
  const auto rows = ReadArray<HistogramRow>(ctx, group, name, type.get());
  Handle dataset = OpenDataset(ctx, group, name);
  const hid_t d = dataset.get();
  if (ReadInt64Attribute(ctx, d, "sub_bucket_count") != LatencyHistogram::kSubBucketCount) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: histogram {} has a sub-bucket count this build cannot read", ctx.path, name);
  }
  HistogramData data;
  for (const HistogramRow& row : rows) {
    data.lower_bound_ns.push_back(row.lower_bound_ns);
    data.count.push_back(row.count);
  }
  data.total_count = ReadInt64Attribute(ctx, d, "total_count");
  data.sum_ns = ReadInt64Attribute(ctx, d, "sum_ns");
  data.min_ns = ReadInt64Attribute(ctx, d, "min_ns");
  data.max_ns = ReadInt64Attribute(ctx, d, "max_ns");
  data.overflow_count = ReadInt64Attribute(ctx, d, "overflow_count");
  data.sum_sq_hi = ReadUInt64Attribute(ctx, d, "sum_sq_ns2_hi");
  data.sum_sq_lo = ReadUInt64Attribute(ctx, d, "sum_sq_ns2_lo");
  try {
    return LatencyHistogram::Import(data);
  } catch (const Error& error) {
    Throw(ErrorKind::kInvalidArgument, "{}: {}: {}", ctx.path, name, error.what());
  }
}

Handle RequestRecordType(const Ctx& ctx) {
  Handle type = ctx.Type(H5Tcreate(H5T_COMPOUND, sizeof(RequestRecord)), "H5Tcreate(raw)");
  const auto insert = [&](const char* field, std::size_t offset, hid_t field_type) {
    Check(H5Tinsert(type.get(), field, offset, field_type), ctx.path,
          fmt::format("H5Tinsert({})", field));
  };
  insert("scheduled_ns", offsetof(RequestRecord, scheduled_ns), H5T_NATIVE_INT64);
  insert("sent_ns", offsetof(RequestRecord, sent_ns), H5T_NATIVE_INT64);
  insert("received_ns", offsetof(RequestRecord, received_ns), H5T_NATIVE_INT64);
  insert("worker", offsetof(RequestRecord, worker), H5T_NATIVE_INT32);
  insert("status", offsetof(RequestRecord, status), H5T_NATIVE_INT32);
  insert("server_queue_ns", offsetof(RequestRecord, server_queue_ns), H5T_NATIVE_INT64);
  insert("server_compute_ns", offsetof(RequestRecord, server_compute_ns), H5T_NATIVE_INT64);
  return type;
}

struct ErrorRow {
  const char* kind;
  std::int64_t count;
};

Handle ErrorRowType(const Ctx& ctx, hid_t string_type) {
  Handle type = ctx.Type(H5Tcreate(H5T_COMPOUND, sizeof(ErrorRow)), "H5Tcreate(errors)");
  Check(H5Tinsert(type.get(), "kind", offsetof(ErrorRow, kind), string_type), ctx.path,
        "H5Tinsert(kind)");
  Check(H5Tinsert(type.get(), "count", offsetof(ErrorRow, count), H5T_NATIVE_INT64), ctx.path,
        "H5Tinsert(count)");
  return type;
}

struct BatchSizeRow {
  std::int32_t batch_size;
  std::int64_t count;
};

Handle BatchSizeRowType(const Ctx& ctx) {
  Handle type = ctx.Type(H5Tcreate(H5T_COMPOUND, sizeof(BatchSizeRow)), "H5Tcreate(batch sizes)");
  Check(H5Tinsert(type.get(), "batch_size", offsetof(BatchSizeRow, batch_size), H5T_NATIVE_INT32),
        ctx.path, "H5Tinsert(batch_size)");
  Check(H5Tinsert(type.get(), "count", offsetof(BatchSizeRow, count), H5T_NATIVE_INT64), ctx.path,
        "H5Tinsert(count)");
  return type;
}

// The memory layout has padding after batch_size; the file layout is packed.
Handle PackedCopy(const Ctx& ctx, hid_t type) {
  Handle packed = ctx.Type(H5Tcopy(type), "H5Tcopy");
  Check(H5Tpack(packed.get()), ctx.path, "H5Tpack");
  return packed;
}

// A compound type built field by field from a row struct's members.
class CompoundType {
 public:
  CompoundType(const Ctx& ctx, std::size_t size, const char* what)
      : ctx_(ctx),
        type_(ctx.Type(H5Tcreate(H5T_COMPOUND, size), fmt::format("H5Tcreate({})", what))) {}
  CompoundType& Add(const char* field, std::size_t offset, hid_t field_type) {
    Check(H5Tinsert(type_.get(), field, offset, field_type), ctx_.path,
          fmt::format("H5Tinsert({})", field));
    return *this;
  }
  hid_t get() const { return type_.get(); }

 private:
  const Ctx& ctx_;
  Handle type_;
};

// Frees the variable-length strings HDF5 allocated while reading `rows` rows of `type`.
void ReclaimStrings(const Ctx& ctx, hid_t type, std::size_t rows, void* data) {
  if (rows == 0) return;
  const hsize_t length = rows;
  Handle space = ctx.Space(H5Screate_simple(1, &length, nullptr), "H5Screate_simple");
  H5Dvlen_reclaim(type, space.get(), H5P_DEFAULT, data);
}

// Schema v2: one row per server of a remote cell, its latency histogram beside it.
struct ServerRow {
  const char* address;
  std::int64_t requests, errors, bytes_sent, bytes_received, latency_count;
  double latency_p50_ns, latency_p99_ns, latency_mean_ns, latency_max_ns;
};

CompoundType ServerRowType(const Ctx& ctx, hid_t string_type) {
  CompoundType t(ctx, sizeof(ServerRow), "servers");
  t.Add("address", offsetof(ServerRow, address), string_type)
      .Add("requests", offsetof(ServerRow, requests), H5T_NATIVE_INT64)
      .Add("errors", offsetof(ServerRow, errors), H5T_NATIVE_INT64)
      .Add("bytes_sent", offsetof(ServerRow, bytes_sent), H5T_NATIVE_INT64)
      .Add("bytes_received", offsetof(ServerRow, bytes_received), H5T_NATIVE_INT64)
      .Add("latency_count", offsetof(ServerRow, latency_count), H5T_NATIVE_INT64)
      .Add("latency_p50_ns", offsetof(ServerRow, latency_p50_ns), H5T_NATIVE_DOUBLE)
      .Add("latency_p99_ns", offsetof(ServerRow, latency_p99_ns), H5T_NATIVE_DOUBLE)
      .Add("latency_mean_ns", offsetof(ServerRow, latency_mean_ns), H5T_NATIVE_DOUBLE)
      .Add("latency_max_ns", offsetof(ServerRow, latency_max_ns), H5T_NATIVE_DOUBLE);
  return t;
}

std::string ServerHistogramName(std::size_t i) {
  return fmt::format("server_{}_latency_histogram", i);
}

void WriteServers(const Ctx& ctx, hid_t group, const std::vector<ServerShare>& servers) {
  if (servers.empty()) return;
  Handle string_type = StringType(ctx);
  const CompoundType type = ServerRowType(ctx, string_type.get());
  std::vector<ServerRow> rows;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const ServerShare& share = servers[i];
    const LatencySummary latency = share.latency.Summary();
    rows.push_back({share.address.c_str(), share.requests, share.errors, share.bytes_sent,
                    share.bytes_received, latency.count, latency.p50_ns, latency.p99_ns,
                    latency.mean_ns, latency.max_ns});
    WriteHistogram(ctx, group, ServerHistogramName(i).c_str(), share.latency);
  }
  WriteArray(ctx, group, "servers", type.get(), type.get(), rows.size(), rows.data());
}

std::vector<ServerShare> ReadServers(const Ctx& ctx, hid_t group) {
  std::vector<ServerShare> servers;
  if (!Exists(ctx, group, "servers")) return servers;
  Handle string_type = StringType(ctx);
  const CompoundType type = ServerRowType(ctx, string_type.get());
  auto rows = ReadArray<ServerRow>(ctx, group, "servers", type.get());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ServerShare share;
    share.address = rows[i].address != nullptr ? rows[i].address : "";
    share.requests = rows[i].requests;
    share.errors = rows[i].errors;
    share.bytes_sent = rows[i].bytes_sent;
    share.bytes_received = rows[i].bytes_received;
    share.latency = ReadHistogram(ctx, group, ServerHistogramName(i).c_str());
    servers.push_back(std::move(share));
  }
  ReclaimStrings(ctx, type.get(), rows.size(), rows.data());
  return servers;
}

// Schema v2: one row per client process of a fleet cell; the alignment estimate in attributes.
struct RankRow {
  std::int32_t rank;
  const char* host;
  std::int64_t concurrency, completed_requests, error_count;
  double duration_s, throughput_requests_per_s, latency_p50_ns, latency_p99_ns;
  double client_cpu_user_s, client_cpu_sys_s;
  std::int64_t clock_offset_ns, clock_offset_uncertainty_ns, window_start_ns, window_end_ns;
};

CompoundType RankRowType(const Ctx& ctx, hid_t string_type) {
  CompoundType t(ctx, sizeof(RankRow), "ranks");
  t.Add("rank", offsetof(RankRow, rank), H5T_NATIVE_INT32)
      .Add("host", offsetof(RankRow, host), string_type)
      .Add("concurrency", offsetof(RankRow, concurrency), H5T_NATIVE_INT64)
      .Add("completed_requests", offsetof(RankRow, completed_requests), H5T_NATIVE_INT64)
      .Add("error_count", offsetof(RankRow, error_count), H5T_NATIVE_INT64)
      .Add("duration_s", offsetof(RankRow, duration_s), H5T_NATIVE_DOUBLE)
      .Add("throughput_requests_per_s", offsetof(RankRow, throughput_requests_per_s),
           H5T_NATIVE_DOUBLE)
      .Add("latency_p50_ns", offsetof(RankRow, latency_p50_ns), H5T_NATIVE_DOUBLE)
      .Add("latency_p99_ns", offsetof(RankRow, latency_p99_ns), H5T_NATIVE_DOUBLE)
      .Add("client_cpu_user_s", offsetof(RankRow, client_cpu_user_s), H5T_NATIVE_DOUBLE)
      .Add("client_cpu_sys_s", offsetof(RankRow, client_cpu_sys_s), H5T_NATIVE_DOUBLE)
      .Add("clock_offset_ns", offsetof(RankRow, clock_offset_ns), H5T_NATIVE_INT64)
      .Add("clock_offset_uncertainty_ns", offsetof(RankRow, clock_offset_uncertainty_ns),
           H5T_NATIVE_INT64)
      .Add("window_start_ns", offsetof(RankRow, window_start_ns), H5T_NATIVE_INT64)
      .Add("window_end_ns", offsetof(RankRow, window_end_ns), H5T_NATIVE_INT64);
  return t;
}

void WriteFleet(const Ctx& ctx, hid_t group, const std::optional<FleetInfo>& fleet) {
  if (!fleet) return;
  Handle string_type = StringType(ctx);
  const CompoundType type = RankRowType(ctx, string_type.get());
  std::vector<RankRow> rows;
  for (const RankSummary& r : fleet->ranks) {
    rows.push_back({r.rank, r.host.c_str(), r.concurrency, r.completed_requests, r.error_count,
                    r.duration_s, r.throughput_requests_per_s, r.latency_p50_ns, r.latency_p99_ns,
                    r.client_cpu_user_s, r.client_cpu_sys_s, r.clock_offset_ns,
                    r.clock_offset_uncertainty_ns, r.window_start_ns, r.window_end_ns});
  }
  WriteArray(ctx, group, "ranks", type.get(), type.get(), rows.size(), rows.data());
  Handle dataset = OpenDataset(ctx, group, "ranks");
  WriteAttribute(ctx, dataset.get(), "alignment_error_ns", fleet->alignment_error_ns);
  WriteAttribute(ctx, dataset.get(), "start_spread_ns", fleet->start_spread_ns);
  WriteAttribute(ctx, dataset.get(), "end_spread_ns", fleet->end_spread_ns);
}

std::optional<FleetInfo> ReadFleet(const Ctx& ctx, hid_t group) {
  if (!Exists(ctx, group, "ranks")) return std::nullopt;
  Handle string_type = StringType(ctx);
  const CompoundType type = RankRowType(ctx, string_type.get());
  auto rows = ReadArray<RankRow>(ctx, group, "ranks", type.get());
  FleetInfo fleet;
  for (const RankRow& row : rows) {
    fleet.ranks.push_back(
        {row.rank, row.host != nullptr ? row.host : "", row.concurrency, row.completed_requests,
         row.error_count, row.duration_s, row.throughput_requests_per_s, row.latency_p50_ns,
         row.latency_p99_ns, row.client_cpu_user_s, row.client_cpu_sys_s, row.clock_offset_ns,
         row.clock_offset_uncertainty_ns, row.window_start_ns, row.window_end_ns});
  }
  ReclaimStrings(ctx, type.get(), rows.size(), rows.data());
  Handle dataset = OpenDataset(ctx, group, "ranks");
  fleet.alignment_error_ns = ReadInt64Attribute(ctx, dataset.get(), "alignment_error_ns");
  fleet.start_spread_ns = ReadInt64Attribute(ctx, dataset.get(), "start_spread_ns");
  fleet.end_spread_ns = ReadInt64Attribute(ctx, dataset.get(), "end_spread_ns");
  return fleet;
}

void WriteCellGroup(const Ctx& ctx, hid_t group, const CellResult& result) {
  WriteServers(ctx, group, result.servers);
  WriteFleet(ctx, group, result.fleet);
  WriteHistogram(ctx, group, "latency_histogram", result.latency);
  WriteHistogram(ctx, group, "send_lag_histogram", result.send_lag);

  Handle record_type = RequestRecordType(ctx);
  WriteArray(ctx, group, "raw_records", record_type.get(), record_type.get(),
             result.raw_records.size(), result.raw_records.data());
  Handle records = OpenDataset(ctx, group, "raw_records");
  WriteBoolAttribute(ctx, records.get(), "truncated", result.raw_records_truncated);

  Handle string_type = StringType(ctx);
  Handle error_type = ErrorRowType(ctx, string_type.get());
  std::vector<ErrorRow> errors;
  for (const auto& [kind, count] : result.errors) errors.push_back({kind.c_str(), count});
  WriteArray(ctx, group, "errors", error_type.get(), error_type.get(), errors.size(),
             errors.data());

  Handle batch_type = BatchSizeRowType(ctx);
  Handle batch_file_type = PackedCopy(ctx, batch_type.get());
  std::vector<BatchSizeRow> batches;
  if (result.server) {
    for (const auto& [size, count] : result.server->executed_batch_sizes) {
      batches.push_back({size, count});
    }
  }
  WriteArray(ctx, group, "server_batch_sizes", batch_file_type.get(), batch_type.get(),
             batches.size(), batches.data());
}

void ReadCellGroup(const Ctx& ctx, hid_t group, bool with_raw_records, CellResult& result) {
  result.servers = ReadServers(ctx, group);
  result.fleet = ReadFleet(ctx, group);
  result.latency = ReadHistogram(ctx, group, "latency_histogram");
  result.send_lag = ReadHistogram(ctx, group, "send_lag_histogram");
  {
    Handle records = OpenDataset(ctx, group, "raw_records");
    result.raw_records_truncated = ReadBoolAttribute(ctx, records.get(), "truncated");
  }
  if (with_raw_records) {
    Handle record_type = RequestRecordType(ctx);
    result.raw_records = ReadArray<RequestRecord>(ctx, group, "raw_records", record_type.get());
  }

  Handle string_type = StringType(ctx);
  Handle error_type = ErrorRowType(ctx, string_type.get());
  auto errors = ReadArray<ErrorRow>(ctx, group, "errors", error_type.get());
  for (const ErrorRow& row : errors) result.errors[row.kind != nullptr ? row.kind : ""] = row.count;
  ReclaimStrings(ctx, error_type.get(), errors.size(), errors.data());

  Handle batch_type = BatchSizeRowType(ctx);
  const auto batches = ReadArray<BatchSizeRow>(ctx, group, "server_batch_sizes", batch_type.get());
  if (result.server) {
    for (const BatchSizeRow& row : batches)
      result.server->executed_batch_sizes[row.batch_size] = row.count;
  }
}

// ---------------------------------------------------------------------------------------------
// The cells table: one compound row per cell. Each column says how to compute its value from a
// cell and, for stored (not derived) columns, how to put it back.

using Value = std::variant<std::int64_t, double, std::string, bool>;
enum class ColumnType { kInt64, kFloat64, kString, kBool };

struct RowSource {
  std::int64_t index;
  const CellSettings& settings;
  const CellResult& result;
  LatencySummary latency;
  LatencySummary send_lag;
};

struct Column {
  std::string name;
  ColumnType type;
  std::function<Value(const RowSource&)> get;
  std::function<void(const Value&, CellRecord&)> set;  // empty for derived columns
};

template <typename T>
constexpr ColumnType ColumnTypeOf() {
  if constexpr (std::is_same_v<T, std::string>) return ColumnType::kString;
  if constexpr (std::is_same_v<T, double>) return ColumnType::kFloat64;
  if constexpr (std::is_same_v<T, bool>) return ColumnType::kBool;
  if constexpr (std::is_same_v<T, std::int64_t>) return ColumnType::kInt64;
}

template <typename T>
Column SettingColumn(std::string name, T CellSettings::*member) {
  return {std::move(name), ColumnTypeOf<T>(),
          [member](const RowSource& row) { return Value(row.settings.*member); },
          [member](const Value& value, CellRecord& cell) {
            cell.settings.*member = std::get<T>(value);
          }};
}

template <typename T>
Column ResultColumn(std::string name, T CellResult::*member) {
  return {
      std::move(name), ColumnTypeOf<T>(),
      [member](const RowSource& row) { return Value(row.result.*member); },
      [member](const Value& value, CellRecord& cell) { cell.result.*member = std::get<T>(value); }};
}

Column ServerColumn(std::string name, std::int64_t ServerStats::*member) {
  return {std::move(name), ColumnType::kInt64,
          [member](const RowSource& row) {
            return Value(row.result.server ? (*row.result.server).*member : std::int64_t{0});
          },
          [member](const Value& value, CellRecord& cell) {
            if (cell.result.server) (*cell.result.server).*member = std::get<std::int64_t>(value);
          }};
}

Column DerivedColumn(std::string name, ColumnType type,
                     std::function<Value(const RowSource&)> get) {
  return {std::move(name), type, std::move(get), {}};
}

void AddSummaryColumns(std::vector<Column>& columns, const std::string& prefix,
                       LatencySummary RowSource::*summary) {
  const auto add = [&](const char* suffix, double LatencySummary::*field) {
    columns.push_back(DerivedColumn(
        prefix + suffix, ColumnType::kFloat64,
        [summary, field](const RowSource& row) { return Value(row.*summary.*field); }));
  };
  columns.push_back(
      DerivedColumn(prefix + "_count", ColumnType::kInt64,
                    [summary](const RowSource& row) { return Value((row.*summary).count); }));
  add("_p50_ns", &LatencySummary::p50_ns);
  add("_p90_ns", &LatencySummary::p90_ns);
  add("_p95_ns", &LatencySummary::p95_ns);
  add("_p99_ns", &LatencySummary::p99_ns);
  add("_p999_ns", &LatencySummary::p999_ns);
  add("_mean_ns", &LatencySummary::mean_ns);
  add("_std_ns", &LatencySummary::std_ns);
  add("_min_ns", &LatencySummary::min_ns);
  add("_max_ns", &LatencySummary::max_ns);
}

// Schema v1 columns, in file order. Documented in results/SCHEMA.md; only append.
const std::vector<Column>& CellColumns() {
  static const std::vector<Column> columns = [] {
    using S = CellSettings;
    using R = CellResult;
    std::vector<Column> c;
    c.push_back(DerivedColumn("index", ColumnType::kInt64,
                              [](const RowSource& row) { return Value(row.index); }));
    c.push_back(DerivedColumn("key", ColumnType::kString,
                              [](const RowSource& row) { return Value(row.settings.Key()); }));
    c.push_back(
        {"status", ColumnType::kString,
         [](const RowSource& row) { return Value(std::string(CellStatusName(row.result.status))); },
         [](const Value& value, CellRecord& cell) {
           cell.result.status = ParseCellStatus(std::get<std::string>(value));
         }});
    c.push_back(ResultColumn("error_message", &R::error_message));
    c.push_back(ResultColumn("converged", &R::converged));
    c.push_back(ResultColumn("convergence_reason", &R::convergence_reason));
    c.push_back(SettingColumn("target", &S::target));
    c.push_back(SettingColumn("link", &S::link));
    c.push_back(SettingColumn("backend", &S::backend));
    c.push_back(SettingColumn("model", &S::model));
    c.push_back(SettingColumn("precision", &S::precision));
    c.push_back(SettingColumn("batch", &S::batch));
    c.push_back(SettingColumn("mode", &S::mode));
    c.push_back(SettingColumn("concurrency", &S::concurrency));
    c.push_back(SettingColumn("rate_hz", &S::rate_hz));
    c.push_back(SettingColumn("arrival", &S::arrival));
    c.push_back(SettingColumn("repeat", &S::repeat));
    c.push_back(SettingColumn("threads", &S::threads));
    c.push_back(SettingColumn("inputs", &S::inputs));
    c.push_back(SettingColumn("server_address", &S::server_address));
    c.push_back(ResultColumn("warmup_duration_s", &R::warmup_duration_s));
    c.push_back(ResultColumn("warmup_requests", &R::warmup_requests));
    c.push_back(ResultColumn("duration_s", &R::duration_s));
    c.push_back(ResultColumn("completed_requests", &R::completed_requests));
    c.push_back(ResultColumn("completed_inferences", &R::completed_inferences));
    c.push_back(ResultColumn("throughput_inferences_per_s", &R::throughput_inferences_per_s));
    c.push_back(
        ResultColumn("throughput_inferences_per_s_ci95", &R::throughput_inferences_per_s_ci95));
    c.push_back(ResultColumn("throughput_requests_per_s", &R::throughput_requests_per_s));
    c.push_back(ResultColumn("throughput_requests_per_s_ci95", &R::throughput_requests_per_s_ci95));
    AddSummaryColumns(c, "latency", &RowSource::latency);
    c.push_back(DerivedColumn(
        "latency_overflow_count", ColumnType::kInt64,
        [](const RowSource& row) { return Value(row.result.latency.overflow_count()); }));
    AddSummaryColumns(c, "send_lag", &RowSource::send_lag);
    c.push_back(ResultColumn("generator_behind", &R::generator_behind));
    c.push_back(ResultColumn("client_cpu_user_s", &R::client_cpu_user_s));
    c.push_back(ResultColumn("client_cpu_sys_s", &R::client_cpu_sys_s));
    c.push_back(DerivedColumn(
        "client_cpu_utilisation", ColumnType::kFloat64,
        [](const RowSource& row) { return Value(row.result.ClientCpuUtilisation()); }));
    c.push_back(DerivedColumn("error_count", ColumnType::kInt64, [](const RowSource& row) {
      std::int64_t total = 0;
      for (const auto& [kind, count] : row.result.errors) total += count;
      return Value(total);
    }));
    c.push_back(ResultColumn("bytes_sent", &R::bytes_sent));
    c.push_back(ResultColumn("bytes_received", &R::bytes_received));
    c.push_back({"server_stats", ColumnType::kBool,
                 [](const RowSource& row) { return Value(row.result.server.has_value()); },
                 [](const Value& value, CellRecord& cell) {
                   if (std::get<bool>(value)) cell.result.server.emplace();
                 }});
    c.push_back(ServerColumn("server_request_count", &ServerStats::request_count));
    c.push_back(ServerColumn("server_inference_count", &ServerStats::inference_count));
    c.push_back(ServerColumn("server_execution_count", &ServerStats::execution_count));
    c.push_back(ServerColumn("server_queue_ns", &ServerStats::queue_ns));
    c.push_back(ServerColumn("server_compute_input_ns", &ServerStats::compute_input_ns));
    c.push_back(ServerColumn("server_compute_infer_ns", &ServerStats::compute_infer_ns));
    c.push_back(ServerColumn("server_compute_output_ns", &ServerStats::compute_output_ns));
    c.push_back(DerivedColumn("raw_record_count", ColumnType::kInt64, [](const RowSource& row) {
      return Value(static_cast<std::int64_t>(row.result.raw_records.size()));
    }));
    c.push_back(ResultColumn("raw_records_truncated", &R::raw_records_truncated));
    c.push_back(SettingColumn("dynamic_batching", &S::dynamic_batching));
    return c;
  }();
  return columns;
}

std::size_t ColumnSize(ColumnType type) {
  switch (type) {
    case ColumnType::kInt64:
    case ColumnType::kFloat64:
      return 8;
    case ColumnType::kString:
      return sizeof(char*);
    case ColumnType::kBool:
      return 1;
  }
  return 0;
}

// A packed compound type over a subset of the columns (all of them to write; a few to read
// cheaply). Values are copied in and out with memcpy, so the packing needs no alignment.
struct RowLayout {
  std::vector<const Column*> columns;
  std::vector<std::size_t> offsets;
  std::size_t size = 0;
  Handle type;
  Handle string_type;
  Handle bool_type;

  RowLayout(const Ctx& ctx, std::vector<const Column*> selected)
      : columns(std::move(selected)), string_type(StringType(ctx)), bool_type(BoolType(ctx)) {
    for (const Column* column : columns) {
      offsets.push_back(size);
      size += ColumnSize(column->type);
    }
    type = ctx.Type(H5Tcreate(H5T_COMPOUND, size), "H5Tcreate(cells)");
    for (std::size_t i = 0; i < columns.size(); ++i) {
      Check(
          H5Tinsert(type.get(), columns[i]->name.c_str(), offsets[i], FieldType(columns[i]->type)),
          ctx.path, fmt::format("H5Tinsert({})", columns[i]->name));
    }
  }

  hid_t FieldType(ColumnType type) const {
    switch (type) {
      case ColumnType::kInt64:
        return H5T_NATIVE_INT64;
      case ColumnType::kFloat64:
        return H5T_NATIVE_DOUBLE;
      case ColumnType::kString:
        return string_type.get();
      case ColumnType::kBool:
        return bool_type.get();
    }
    return -1;
  }

  // The row points into `values` strings: keep them alive until the row is written.
  void Pack(const std::vector<Value>& values, std::byte* row) const {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      std::byte* field = row + offsets[i];
      std::visit(
          [field](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
              const char* pointer = v.c_str();
              std::memcpy(field, &pointer, sizeof pointer);
            } else if constexpr (std::is_same_v<T, bool>) {
              const std::int8_t flag = v ? 1 : 0;
              std::memcpy(field, &flag, 1);
            } else {
              std::memcpy(field, &v, sizeof v);
            }
          },
          values[i]);
    }
  }

  Value Unpack(const std::byte* row, std::size_t i) const {
    const std::byte* field = row + offsets[i];
    switch (columns[i]->type) {
      case ColumnType::kInt64: {
        std::int64_t v;
        std::memcpy(&v, field, sizeof v);
        return v;
      }
      case ColumnType::kFloat64: {
        double v;
        std::memcpy(&v, field, sizeof v);
        return v;
      }
      case ColumnType::kString: {
        const char* v;
        std::memcpy(&v, field, sizeof v);
        return std::string(v != nullptr ? v : "");
      }
      case ColumnType::kBool: {
        std::int8_t v;
        std::memcpy(&v, field, 1);
        return v != 0;
      }
    }
    return std::int64_t{0};
  }
};

std::vector<const Column*> AllColumns() {
  std::vector<const Column*> all;
  for (const Column& column : CellColumns()) all.push_back(&column);
  return all;
}

const Column* FindColumn(const std::string& name) {
  for (const Column& column : CellColumns()) {
    if (column.name == name) return &column;
  }
  Throw(ErrorKind::kInternal, "no cells column named {}", name);
}

// Reads every row of the cells table into values, one vector per row, in layout column order.
std::vector<std::vector<Value>> ReadRows(const Ctx& ctx, hid_t table, const RowLayout& layout) {
  const hsize_t rows = DatasetLength(ctx, table, "cells");
  std::vector<std::vector<Value>> values(rows);
  if (rows == 0) return values;
  std::vector<std::byte> buffer(rows * layout.size);
  Check(H5Dread(table, layout.type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), ctx.path,
        "H5Dread(cells)");
  for (hsize_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < layout.columns.size(); ++i) {
      values[r].push_back(layout.Unpack(buffer.data() + r * layout.size, i));
    }
  }
  Handle space = ctx.Space(H5Screate_simple(1, &rows, nullptr), "H5Screate_simple");
  H5Dvlen_reclaim(layout.type.get(), space.get(), H5P_DEFAULT, buffer.data());
  return values;
}

// ---------------------------------------------------------------------------------------------
// Runs.

constexpr const char* kRunsGroup = "runs";
constexpr const char* kSystemGroup = "system";  // RunSystem; absent in older files
constexpr const char* kCellsTable = "cells";
constexpr const char* kCellGroups = "cell";

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// "2026-11-24T10:30:22Z" -> "20261124T103022Z": a run id that sorts by time and needs no quoting.
std::string RunIdFromTime(const std::string& start_time_utc) {
  std::string id;
  for (char c : start_time_utc) {
    if (c != '-' && c != ':') id += c;
  }
  return id.empty() ? "run" : id;
}

void CheckSchema(const Ctx& ctx, hid_t file) {
  if (Check(H5Aexists(file, "schema_version"), ctx.path, "H5Aexists(schema_version)") <= 0) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: not a sonicbench results file (no root attribute schema_version)", ctx.path);
  }
  const std::int64_t version = ReadInt64Attribute(ctx, file, "schema_version");
  if (version > kResultsSchemaVersion) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: results schema version {} is newer than this sonicbench reads ({})", ctx.path,
          version, kResultsSchemaVersion);
  }
}

void WriteRunInfo(const Ctx& ctx, hid_t run, const RunInfo& info) {
  WriteAttribute(ctx, run, "run_id", info.run_id);
  WriteAttribute(ctx, run, "sonicbench_version", info.sonicbench_version);
  WriteAttribute(ctx, run, "git_commit", info.git_commit);
  WriteAttribute(ctx, run, "command_line", info.command_line);
  WriteAttribute(ctx, run, "config_text", info.config_text);
  WriteAttribute(ctx, run, "host", info.host);
  WriteAttribute(ctx, run, "cpu_model", info.cpu_model);
  WriteAttribute(ctx, run, "cpu_peak_gflops", info.cpu_peak_gflops);
  WriteAttribute(ctx, run, "start_time_utc", info.start_time_utc);
  WriteAttribute(ctx, run, "schema_version", kResultsSchemaVersion);
  WriteBoolAttribute(ctx, run, "complete", false);
  Handle seeds = CreateGroup(ctx, run, "seeds");
  for (const auto& [name, seed] : info.seeds) WriteAttribute(ctx, seeds.get(), name.c_str(), seed);
  Handle libraries = CreateGroup(ctx, run, "library_versions");
  for (const auto& [name, version] : info.library_versions) {
    WriteAttribute(ctx, libraries.get(), name.c_str(), version);
  }
  Handle devices = CreateGroup(ctx, run, "device_names");
  for (const auto& [name, device] : info.device_names) {
    WriteAttribute(ctx, devices.get(), name.c_str(), device);
  }
  Handle system = CreateGroup(ctx, run, kSystemGroup);
  const RunSystem& s = info.system;
  WriteAttribute(ctx, system.get(), "cpu_cores", s.cpu_cores);
  WriteAttribute(ctx, system.get(), "online_cpus", s.online_cpus);
  WriteAttribute(ctx, system.get(), "isa", s.isa);
  WriteAttribute(ctx, system.get(), "memory_bytes", s.memory_bytes);
  WriteAttribute(ctx, system.get(), "int8_peak_gops", s.int8_peak_gops);
  WriteAttribute(ctx, system.get(), "bf16_peak_gflops", s.bf16_peak_gflops);
  WriteAttribute(ctx, system.get(), "stream_triad_gbs", s.stream_triad_gbs);
}

Handle OpenFile(const Ctx& ctx, unsigned flags) {
  SilenceHdf5ErrorPrinting();
  return Handle(Check(H5Fopen(ctx.path.c_str(), flags, H5P_DEFAULT), ctx.path, "H5Fopen"),
                H5Fclose);
}

Handle OpenRun(const Ctx& ctx, hid_t file, const std::string& run_id) {
  Handle runs = OpenGroup(ctx, file, kRunsGroup);
  if (run_id.empty() || run_id.find('/') != std::string::npos || !Exists(ctx, runs.get(), run_id)) {
    Throw(ErrorKind::kNotFound, "{}: no run '{}' in the file", ctx.path, run_id);
  }
  return OpenGroup(ctx, runs.get(), run_id);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

RunInfo CurrentRunInfo() {
  RunInfo info;
  info.sonicbench_version = kVersion;
  info.git_commit = kGitCommit;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.host = host;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto start = line.find_first_not_of(" \t", line.find(':') + 1);
    if (start != std::string::npos) info.cpu_model = line.substr(start);
    break;
  }
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  info.library_versions["hdf5"] = fmt::format("{}.{}.{}", major, minor, release);
  info.start_time_utc = UtcNow();
  return info;
}

struct ResultsWriter::Impl {
  Ctx ctx;
  std::string run_id;
  Handle file;
  Handle run;
  Handle table;
  Handle cell_groups;
  std::int64_t cell_count = 0;
  RowLayout layout;

  Impl(Ctx c, Handle f) : ctx(std::move(c)), file(std::move(f)), layout(ctx, AllColumns()) {}
  // Writes cell `index` (a new one, or one of the first cell_count to replace) and flushes.
  void WriteCell(std::int64_t index, const CellSettings& settings, const CellResult& result);
};

ResultsWriter::ResultsWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsWriter::~ResultsWriter() = default;

std::unique_ptr<ResultsWriter> ResultsWriter::Open(const std::string& path, const RunInfo& info,
                                                   bool append) {
  SilenceHdf5ErrorPrinting();
  const Ctx ctx{path};
  Handle file;
  if (append && std::filesystem::exists(path)) {
    file = OpenFile(ctx, H5F_ACC_RDWR);
    CheckSchema(ctx, file.get());
  } else {
    // The default (earliest) format keeps the superblock free of the "open for writing" flag that
    // newer formats set, so a file whose writer was killed still opens without h5clear.
    file = Handle(
        Check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path, "H5Fcreate"),
        H5Fclose);
    WriteAttribute(ctx, file.get(), "schema_version", kResultsSchemaVersion);
    WriteAttribute(ctx, file.get(), "format", std::string("sonicbench results"));
    CreateGroup(ctx, file.get(), kRunsGroup, /*track_order=*/true);
  }
  auto impl = std::make_unique<Impl>(ctx, std::move(file));
  Handle runs = OpenGroup(ctx, impl->file.get(), kRunsGroup);

  RunInfo stored = info;
  if (stored.start_time_utc.empty()) stored.start_time_utc = UtcNow();
  std::string base = stored.run_id.empty() ? RunIdFromTime(stored.start_time_utc) : stored.run_id;
  if (base.find('/') != std::string::npos || base == "." || base == "..") {
    Throw(ErrorKind::kInvalidArgument, "run id '{}' must not contain '/' nor be '.' or '..'", base);
  }
  stored.run_id = base;
  for (int suffix = 2; Exists(ctx, runs.get(), stored.run_id); ++suffix) {
    stored.run_id = fmt::format("{}-{}", base, suffix);
  }
  impl->run_id = stored.run_id;
  impl->run = CreateGroup(ctx, runs.get(), stored.run_id);
  WriteRunInfo(ctx, impl->run.get(), stored);

  const hsize_t zero = 0;
  const hsize_t unlimited = H5S_UNLIMITED;
  Handle space = ctx.Space(H5Screate_simple(1, &zero, &unlimited), "H5Screate_simple(cells)");
  Handle plist = ctx.Plist(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(H5P_DATASET_CREATE)");
  const hsize_t chunk = 32;
  Check(H5Pset_chunk(plist.get(), 1, &chunk), path, "H5Pset_chunk(cells)");
  impl->table = ctx.Dataset(H5Dcreate2(impl->run.get(), kCellsTable, impl->layout.type.get(),
                                       space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
                            "H5Dcreate2(cells)");
  impl->cell_groups = CreateGroup(ctx, impl->run.get(), kCellGroups, /*track_order=*/true);
  Check(H5Fflush(impl->file.get(), H5F_SCOPE_GLOBAL), path, "H5Fflush");
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(std::move(impl)));
}

std::unique_ptr<ResultsWriter> ResultsWriter::Resume(const std::string& path,
                                                     const std::string& run_id) {
  const Ctx ctx{path};
  Handle file = OpenFile(ctx, H5F_ACC_RDWR);
  CheckSchema(ctx, file.get());
  auto impl = std::make_unique<Impl>(ctx, std::move(file));
  impl->run_id = run_id;
  impl->run = OpenRun(ctx, impl->file.get(), run_id);
  impl->table = OpenDataset(ctx, impl->run.get(), kCellsTable);
  impl->cell_groups = OpenGroup(ctx, impl->run.get(), kCellGroups);
  impl->cell_count = static_cast<std::int64_t>(DatasetLength(ctx, impl->table.get(), kCellsTable));
  WriteBoolAttribute(ctx, impl->run.get(), "complete", false);
  Check(H5Fflush(impl->file.get(), H5F_SCOPE_GLOBAL), path, "H5Fflush");
  return std::unique_ptr<ResultsWriter>(new ResultsWriter(std::move(impl)));
}

std::int64_t ResultsWriter::AppendCell(const CellSettings& settings, const CellResult& result) {
  const std::int64_t index = impl_->cell_count;
  impl_->WriteCell(index, settings, result);
  ++impl_->cell_count;
  return index;
}

void ResultsWriter::ReplaceLastCell(const CellSettings& settings, const CellResult& result) {
  if (impl_->cell_count == 0) {
    Throw(ErrorKind::kInternal, "{}: no cell to replace in run {}", impl_->ctx.path, impl_->run_id);
  }
  impl_->WriteCell(impl_->cell_count - 1, settings, result);
}

void ResultsWriter::Impl::WriteCell(std::int64_t index, const CellSettings& settings,
                                    const CellResult& result) {
  const std::string name = std::to_string(index);
  // The group first, then the row: a row always has its group. A group left without a row by a
  // writer killed in between is replaced here. A replaced cell's new group is written aside and
  // then moved over the old one, so that the row is without a group only between two link
  // operations.
  const bool replace = index < cell_count;
  const std::string target = replace ? name + ".new" : name;
  if (Exists(ctx, cell_groups.get(), target)) {
    Check(H5Ldelete(cell_groups.get(), target.c_str(), H5P_DEFAULT), ctx.path,
          fmt::format("H5Ldelete(cell/{})", target));
  }
  {
    Handle group = CreateGroup(ctx, cell_groups.get(), target);
    WriteCellGroup(ctx, group.get(), result);
  }
  if (replace) {
    Check(H5Ldelete(cell_groups.get(), name.c_str(), H5P_DEFAULT), ctx.path,
          fmt::format("H5Ldelete(cell/{})", name));
    Check(H5Lmove(cell_groups.get(), target.c_str(), cell_groups.get(), name.c_str(), H5P_DEFAULT,
                  H5P_DEFAULT),
          ctx.path, fmt::format("H5Lmove(cell/{})", name));
  }

  const RowSource source{index, settings, result, result.latency.Summary(),
                         result.send_lag.Summary()};
  std::vector<Value> values;
  for (const Column* column : layout.columns) values.push_back(column->get(source));
  std::vector<std::byte> row(layout.size);
  layout.Pack(values, row.data());

  const hsize_t new_length = static_cast<hsize_t>(std::max(index + 1, cell_count));
  Check(H5Dset_extent(table.get(), &new_length), ctx.path, "H5Dset_extent(cells)");
  Handle file_space = ctx.Space(H5Dget_space(table.get()), "H5Dget_space(cells)");
  const hsize_t start = static_cast<hsize_t>(index);
  const hsize_t count = 1;
  Check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
        ctx.path, "H5Sselect_hyperslab(cells)");
  Handle memory_space = ctx.Space(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  Check(H5Dwrite(table.get(), layout.type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                 row.data()),
        ctx.path, "H5Dwrite(cells)");
  Check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), ctx.path, "H5Fflush");
}

void ResultsWriter::Close() {
  Impl& m = *impl_;
  if (m.file.get() < 0) return;
  WriteBoolAttribute(m.ctx, m.run.get(), "complete", true);
  m.table.Reset();
  m.cell_groups.Reset();
  m.run.Reset();
  Check(H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL), m.ctx.path, "H5Fflush");
  const hid_t file = m.file.Release();
  Check(H5Fclose(file), m.ctx.path, "H5Fclose");
}

const std::string& ResultsWriter::run_id() const { return impl_->run_id; }
std::int64_t ResultsWriter::cell_count() const { return impl_->cell_count; }

// ---------------------------------------------------------------------------------------------

struct ResultsReader::Impl {
  Ctx ctx;
  Handle file;
  std::int64_t schema_version = 0;
};

ResultsReader::ResultsReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->ctx.path = path;
  if (!std::filesystem::exists(path)) {
    Throw(ErrorKind::kNotFound, "{}: no such results file", path);
  }
  impl_->file = OpenFile(impl_->ctx, H5F_ACC_RDONLY);
  CheckSchema(impl_->ctx, impl_->file.get());
  impl_->schema_version = ReadInt64Attribute(impl_->ctx, impl_->file.get(), "schema_version");
}

ResultsReader::~ResultsReader() = default;

std::int64_t ResultsReader::schema_version() const { return impl_->schema_version; }

namespace {
herr_t CollectLinkName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> ResultsReader::ListRuns() const {
  const Ctx& ctx = impl_->ctx;
  Handle runs = OpenGroup(ctx, impl_->file.get(), kRunsGroup);
  std::vector<std::string> names;
  hsize_t position = 0;
  Check(H5Literate(runs.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, &position, CollectLinkName, &names),
        ctx.path, "H5Literate2(runs)");
  return names;
}

RunInfo ResultsReader::ReadRunInfo(const std::string& run_id) const {
  const Ctx& ctx = impl_->ctx;
  Handle run = OpenRun(ctx, impl_->file.get(), run_id);
  const hid_t r = run.get();
  RunInfo info;
  info.run_id = ReadStringAttribute(ctx, r, "run_id");
  info.sonicbench_version = ReadStringAttribute(ctx, r, "sonicbench_version");
  info.git_commit = ReadStringAttribute(ctx, r, "git_commit");
  info.command_line = ReadStringAttribute(ctx, r, "command_line");
  info.config_text = ReadStringAttribute(ctx, r, "config_text");
  info.host = ReadStringAttribute(ctx, r, "host");
  info.cpu_model = ReadStringAttribute(ctx, r, "cpu_model");
  info.cpu_peak_gflops = ReadDoubleAttribute(ctx, r, "cpu_peak_gflops");
  info.start_time_utc = ReadStringAttribute(ctx, r, "start_time_utc");
  info.complete = ReadBoolAttribute(ctx, r, "complete");
  Handle seeds = OpenGroup(ctx, r, "seeds");
  for (const std::string& name : AttributeNames(ctx, seeds.get())) {
    info.seeds[name] = ReadUInt64Attribute(ctx, seeds.get(), name);
  }
  Handle libraries = OpenGroup(ctx, r, "library_versions");
  for (const std::string& name : AttributeNames(ctx, libraries.get())) {
    info.library_versions[name] = ReadStringAttribute(ctx, libraries.get(), name);
  }
  Handle devices = OpenGroup(ctx, r, "device_names");
  for (const std::string& name : AttributeNames(ctx, devices.get())) {
    info.device_names[name] = ReadStringAttribute(ctx, devices.get(), name);
  }
  if (Exists(ctx, r, kSystemGroup)) {
    Handle system = OpenGroup(ctx, r, kSystemGroup);
    RunSystem& s = info.system;
    s.cpu_cores = ReadInt64Attribute(ctx, system.get(), "cpu_cores");
    s.online_cpus = ReadInt64Attribute(ctx, system.get(), "online_cpus");
    s.isa = ReadStringAttribute(ctx, system.get(), "isa");
    s.memory_bytes = ReadInt64Attribute(ctx, system.get(), "memory_bytes");
    s.int8_peak_gops = ReadDoubleAttribute(ctx, system.get(), "int8_peak_gops");
    s.bf16_peak_gflops = ReadDoubleAttribute(ctx, system.get(), "bf16_peak_gflops");
    s.stream_triad_gbs = ReadDoubleAttribute(ctx, system.get(), "stream_triad_gbs");
  }
  return info;
}

std::vector<CellRecord> ResultsReader::ReadCells(const std::string& run_id,
                                                 bool with_raw_records) const {
  const Ctx& ctx = impl_->ctx;
  Handle run = OpenRun(ctx, impl_->file.get(), run_id);
  Handle table = OpenDataset(ctx, run.get(), kCellsTable);
  Handle groups = OpenGroup(ctx, run.get(), kCellGroups);
  const RowLayout layout(ctx, AllColumns());
  const auto rows = ReadRows(ctx, table.get(), layout);
  std::vector<CellRecord> cells(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    CellRecord& cell = cells[r];
    cell.index = static_cast<std::int64_t>(r);
    for (std::size_t i = 0; i < layout.columns.size(); ++i) {
      if (layout.columns[i]->set) layout.columns[i]->set(rows[r][i], cell);
    }
    Handle group = OpenGroup(ctx, groups.get(), std::to_string(r));
    ReadCellGroup(ctx, group.get(), with_raw_records, cell.result);
  }
  return cells;
}

std::map<std::string, CellStatus> ResultsReader::FinishedCells(const std::string& run_id) const {
  const Ctx& ctx = impl_->ctx;
  Handle run = OpenRun(ctx, impl_->file.get(), run_id);
  Handle table = OpenDataset(ctx, run.get(), kCellsTable);
  const RowLayout layout(ctx, {FindColumn("key"), FindColumn("status")});
  std::map<std::string, CellStatus> finished;
  for (const auto& row : ReadRows(ctx, table.get(), layout)) {
    finished[std::get<std::string>(row[0])] = ParseCellStatus(std::get<std::string>(row[1]));
  }
  return finished;
}

}  // namespace sonic
