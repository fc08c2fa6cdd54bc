#pragma once

#include <utility>

namespace sonic {

// Owns one C handle (an HDF5 id, a FILE*, a file descriptor, an OpenCL or cuDNN object) and
// releases it with `Deleter` when
// it is destroyed, reset or assigned over. Movable, not copyable. `kNone` is the value that owns
// nothing (nullptr for pointers, -1 for descriptors and HDF5 ids); the deleter never sees it.
// `Deleter` is a stateless callable taking the handle; its result is ignored, so a release whose
// failure must be reported is done by the caller after release(). Not thread-safe.
template <typename T, typename Deleter, T kNone = T{}>
class Owned {
 public:
  Owned() = default;
  explicit Owned(T handle) : handle_(handle) {}
  Owned(Owned&& other) noexcept : handle_(other.release()) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  T get() const { return handle_; }
  explicit operator bool() const { return handle_ != kNone; }
  // Gives up ownership without releasing.
  T release() { return std::exchange(handle_, kNone); }
  // Releases the handle owned so far (if any) and owns `handle` instead.
  void reset(T handle = kNone) {
    const T previous = std::exchange(handle_, handle);
    if (previous != kNone) Deleter{}(previous);
  }
  // Releases the handle owned so far and lends the storage to a C call's out-parameter, which
  // then owns what the call creates (`clEnqueue...(..., event.receive())`).
  T* receive() {
    reset();
    return &handle_;
  }

 private:
  T handle_ = kNone;
};

// The deleter that calls a C release function, e.g. Owned<cl_mem, CallRelease<clReleaseMemObject>>.
template <auto kRelease>
struct CallRelease {
  template <typename T>
  void operator()(T handle) const {
    kRelease(handle);
  }
};

}  // namespace sonic
