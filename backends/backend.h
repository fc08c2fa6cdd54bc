#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "models/graph.h"

namespace sonic {

enum class DeviceKind { kNone, kCpu, kGpu, kFpga };
std::string_view DeviceKindName(DeviceKind kind);  // "none", "cpu", "gpu", "fpga"

// Where the time of one Run went, as the device saw it (ns). A backend that cannot tell leaves a
// field at -1. Measured by the backend (device events, or host timers around its own phases).
struct DeviceTiming {
  std::int64_t upload_ns = -1;
  std::int64_t compute_ns = -1;
  std::int64_t download_ns = -1;
};

struct CompileOptions {
  int max_batch = 1;  // Run accepts any batch in [1, max_batch]
  Precision precision = Precision::kFp32;
  int threads = 0;  // CPU threads per Executable; 0: all available cores
  // Which of the backend's devices (Backend::device_forms(): "0:0", "cuda:1"); empty: the first.
  std::string device;
  // How the backend runs, "key=value,..." (Backend::option_forms(): "conv=direct",
  // "latency_us=1500"); empty: its defaults.
  std::string backend_options;
  // Calibration inputs for int8 (float32, batch-first, per-sample shape = graph input shape).
  // Empty: the backend uses seeded random inputs in [0, 1).
  std::span<const float> calibration;
};

// A graph compiled for one device, precision and maximum batch.
// Contract: Run() is called by one thread at a time (one Executable per worker: make as many as
// there are concurrent workers); it is allocation-free in steady state and does no timing of its
// own beyond DeviceTiming; the caller times it. Inputs and outputs are float32, batch first, in
// the graph's per-sample shapes. Compile() did every untimed thing (weight upload, reorders,
// algorithm choice, workspace) up front.
class Executable {
 public:
  Executable(Shape input_shape, Shape output_shape, int max_batch)
      : input_shape_(std::move(input_shape)),
        output_shape_(std::move(output_shape)),
        max_batch_(max_batch) {}
  virtual ~Executable() = default;
  Executable(const Executable&) = delete;
  Executable& operator=(const Executable&) = delete;

  // Runs `batch` samples. Throws Error(kInvalidArgument) when the batch is outside
  // [1, max_batch] or a span's size is not batch × per-sample elements; Error(kBackend) when the
  // device fails, Error(kResourceExhausted) when it runs out of memory (ThrowVendorError).
  // `timing` may be null.
  void Run(std::span<const float> input, int batch, std::span<float> output,
           DeviceTiming* timing = nullptr);

  const Shape& input_shape() const { return input_shape_; }    // per sample
  const Shape& output_shape() const { return output_shape_; }  // per sample
  int max_batch() const { return max_batch_; }

 protected:
  // Sizes have been checked.
  virtual void DoRun(const float* input, int batch, float* output, DeviceTiming* timing) = 0;

 private:
  Shape input_shape_;
  Shape output_shape_;
  int max_batch_;
};

// A device family (reference loops, oneDNN, cuDNN, OpenCL, ...). Thread-safe: Compile may be called
// from several threads; each call returns an independent Executable.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual DeviceKind device_kind() const = 0;
  virtual std::string device_name() const = 0;      // e.g. the CPU model or GPU name
  virtual std::string library_version() const = 0;  // e.g. "oneDNN 2.6.3"
  virtual std::vector<Precision> precisions() const = 0;
  // Empty when usable here; otherwise why not (e.g. "no CUDA device").
  virtual std::string unavailable_reason() const { return {}; }
  // The forms CompileOptions::device accepts, for `sonicbench backends`, e.g. "N | cuda:N";
  // empty: the backend has one device and takes no selector.
  virtual std::string device_forms() const { return {}; }
  // The forms CompileOptions::backend_options accepts, e.g. "conv=winograd|direct,
  // idle=default|passive|active|spin:<duration>"; empty: the backend takes none.
  virtual std::string option_forms() const { return {}; }
  // Process-wide settings in effect that change this backend's timings, in the backend options'
  // own syntax (e.g. "idle=spin:3ms"), for recording beside each measurement; empty: none.
  virtual std::string settings() const { return {}; }
  // Checks CompileOptions::device and ::backend_options as Compile would read them, before any
  // work and without touching a device: Error(kInvalidArgument) naming the backend, the item and
  // the accepted forms. Refuses any selector or option the backend has no forms for, then asks
  // DoValidateOptions.
  void ValidateOptions(std::string_view device, std::string_view backend_options) const;

  // Compiles `graph` (shapes inferred; batch norm folded or not). Throws Error(kUnsupported) for a
  // precision or op this backend lacks (CheckGraph), naming it; Error(kInvalidArgument) for bad
  // options (a max_batch below 1, negative threads, ValidateOptions), checked here before
  // DoCompile.
  std::unique_ptr<Executable> Compile(const Graph& graph, const CompileOptions& options) const;

  bool Supports(Precision precision) const;

  // Why this backend cannot run `node` of `graph` at `precision` (empty when it can): the op, or
  // the form of it (rank, attribute) its DoCompile does not handle. Pure: no device is touched.
  // The default is the CNN core every backend runs: Conv2D, standalone BatchNorm and the pools
  // on [C, H, W] (no ceil_mode), ReLU, Add, Flatten, and Dense and Softmax on rank-1 values.
  virtual std::string UnsupportedReason(const Graph& graph, const Node& node,
                                        Precision precision) const;
  // Throws Error(kUnsupported) naming the first node this backend cannot run, its op, the
  // backend and why, then kSupportHint (Compile calls it before DoCompile).
  void CheckGraph(const Graph& graph, Precision precision) const;
  // Where a user finds what each backend runs; the end of CheckGraph's message.
  static constexpr std::string_view kSupportHint =
      " (`sonicbench models --onnx FILE` lists what each backend runs)";

 protected:
  // The backend's own reading of a selector and options it has forms for; throws as
  // ValidateOptions. The default accepts them.
  virtual void DoValidateOptions(std::string_view /*device*/,
                                 std::string_view /*backend_options*/) const {}
  // Compile once the checks above passed.
  virtual std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                                const CompileOptions& options) const = 0;
};

// The one mapping of a failed vendor call (oneDNN, CUDA, cuDNN, cuBLAS, OpenCL) to an error, used
// by every backend: Error(kResourceExhausted) when the call ran out of device or host memory (a
// smaller batch, model or precision may fit), Error(kBackend) otherwise. `message` names the call
// and the vendor's status.
[[noreturn]] void ThrowVendorError(bool out_of_memory, std::string_view message);

// The one reader of CompileOptions::backend_options: "key=value" items separated by commas, each
// key one of `keys` and given at most once, each value non-empty. Throws Error(kInvalidArgument)
// naming `backend`, the item and `forms` (the backend's option_forms()). Pure.
std::map<std::string, std::string, std::less<>> ParseBackendOptions(
    std::string_view text, std::string_view backend, std::initializer_list<std::string_view> keys,
    std::string_view forms);

}  // namespace sonic
