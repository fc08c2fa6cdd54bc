#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "service/proto/grpc_service.pb.h"

namespace sonic::service {

// A registered POSIX shared-memory region (Triton's system shared-memory extension), mapped
// read-write into the server. Unmapped when the last holder lets go, so a region unregistered
// while a request still reads or writes it stays valid for that request.
struct SharedMemoryRegion {
  std::string name;
  std::string key;  // shm_open name
  std::size_t offset = 0;
  std::size_t byte_size = 0;
  char* mapping = nullptr;  // the whole object from 0 to offset + byte_size
  std::size_t mapping_bytes = 0;

  ~SharedMemoryRegion();
  char* data() const { return mapping + offset; }
};

// Where one tensor's bytes are when a request names a region in its parameters.
struct SharedTensor {
  char* data = nullptr;  // null: the tensor travels in the message
  std::size_t bytes = 0;
  std::shared_ptr<const SharedMemoryRegion> region;  // keeps the mapping alive
};

// The regions clients registered. Thread-safe.
class SharedMemoryRegistry {
 public:
  // ALREADY_EXISTS for a name in use; INVALID_ARGUMENT when the object cannot be opened or is
  // smaller than offset + byte_size (the message names the key and the sizes).
  grpc::Status Register(const inference::SystemSharedMemoryRegisterRequest& request);
  // Empty name: every region. NOT_FOUND for an unknown name.
  grpc::Status Unregister(const std::string& name);
  // Empty name: every region. NOT_FOUND for an unknown name.
  grpc::Status Status(const std::string& name,
                      inference::SystemSharedMemoryStatusResponse* response) const;

  // Reads the parameters "shared_memory_region", "shared_memory_byte_size" and
  // "shared_memory_offset" of tensor `tensor`. No region parameter: OK with out->data null.
  // For an input the byte size must equal `needed_bytes`; for an output it must hold at least
  // that many. INVALID_ARGUMENT names what is wrong (unknown region, sizes out of range).
  grpc::Status Resolve(const google::protobuf::Map<std::string, inference::InferParameter>& params,
                       std::string_view tensor, std::size_t needed_bytes, bool is_input,
                       SharedTensor* out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>, std::less<>> regions_;
};

}  // namespace sonic::service
