#include "service/shared_memory.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sonic::service {
namespace {

template <typename... Args>
grpc::Status Invalid(fmt::format_string<Args...> format, Args&&... args) {
  return {grpc::StatusCode::INVALID_ARGUMENT, fmt::format(format, std::forward<Args>(args)...)};
}

}  // namespace

SharedMemoryRegion::~SharedMemoryRegion() {
  if (mapping != nullptr) munmap(mapping, mapping_bytes);
}

grpc::Status SharedMemoryRegistry::Register(
    const inference::SystemSharedMemoryRegisterRequest& request) {
  if (request.name().empty()) return Invalid("shared-memory region needs a name");
  {
    std::lock_guard lock(mutex_);
    if (regions_.count(request.name()) != 0) {
      return {grpc::StatusCode::ALREADY_EXISTS,
              fmt::format("shared-memory region '{}' is already registered", request.name())};
    }
  }
  const int fd = shm_open(request.key().c_str(), O_RDWR, 0);
  if (fd < 0) {
    return Invalid("cannot open shared-memory object '{}' for region '{}': {}", request.key(),
                   request.name(), std::strerror(errno));
  }
  struct stat info {};
  const std::size_t end = request.offset() + request.byte_size();
  if (fstat(fd, &info) != 0 || static_cast<std::size_t>(info.st_size) < end ||
      request.byte_size() == 0) {
    close(fd);
    return Invalid(
        "shared-memory object '{}' has {} bytes; region '{}' needs offset {} + {} bytes "
        "(byte_size > 0)",
        request.key(), info.st_size, request.name(), request.offset(), request.byte_size());
  }
  void* mapping = mmap(nullptr, end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapping == MAP_FAILED) {
    return Invalid("cannot map shared-memory object '{}': {}", request.key(), std::strerror(errno));
  }
  auto region = std::make_shared<SharedMemoryRegion>();
  region->name = request.name();
  region->key = request.key();
  region->offset = request.offset();
  region->byte_size = request.byte_size();
  region->mapping = static_cast<char*>(mapping);
  region->mapping_bytes = end;
  std::lock_guard lock(mutex_);
  if (!regions_.emplace(request.name(), std::move(region)).second) {
    return {grpc::StatusCode::ALREADY_EXISTS,
            fmt::format("shared-memory region '{}' is already registered", request.name())};
  }
  return grpc::Status::OK;
}

grpc::Status SharedMemoryRegistry::Unregister(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (name.empty()) {
    regions_.clear();
    return grpc::Status::OK;
  }
  if (regions_.erase(name) == 0) {
    return {grpc::StatusCode::NOT_FOUND,
            fmt::format("no shared-memory region named '{}' is registered", name)};
  }
  return grpc::Status::OK;
}

grpc::Status SharedMemoryRegistry::Status(
    const std::string& name, inference::SystemSharedMemoryStatusResponse* response) const {
  std::lock_guard lock(mutex_);
  for (const auto& [region_name, region] : regions_) {
    if (!name.empty() && region_name != name) continue;
    auto& status = (*response->mutable_regions())[region_name];
    status.set_name(region_name);
    status.set_key(region->key);
    status.set_offset(region->offset);
    status.set_byte_size(region->byte_size);
  }
  if (!name.empty() && response->regions().empty()) {
    return {grpc::StatusCode::NOT_FOUND,
            fmt::format("no shared-memory region named '{}' is registered", name)};
  }
  return grpc::Status::OK;
}

grpc::Status SharedMemoryRegistry::Resolve(
    const google::protobuf::Map<std::string, inference::InferParameter>& params,
    std::string_view tensor, std::size_t needed_bytes, bool is_input, SharedTensor* out) const {
  const auto region_param = params.find("shared_memory_region");
  if (region_param == params.end()) return grpc::Status::OK;
  const auto size_param = params.find("shared_memory_byte_size");
  const auto offset_param = params.find("shared_memory_offset");
  if (size_param == params.end() || size_param->second.int64_param() < 0 ||
      (offset_param != params.end() && offset_param->second.int64_param() < 0)) {
    return Invalid(
        "tensor '{}' names shared-memory region '{}' without a valid "
        "shared_memory_byte_size (and optional shared_memory_offset)",
        tensor, region_param->second.string_param());
  }
  const auto bytes = static_cast<std::size_t>(size_param->second.int64_param());
  const auto offset = offset_param == params.end()
                          ? std::size_t{0}
                          : static_cast<std::size_t>(offset_param->second.int64_param());
  std::shared_ptr<const SharedMemoryRegion> region;
  {
    std::lock_guard lock(mutex_);
    const auto it = regions_.find(region_param->second.string_param());
    if (it == regions_.end()) {
      return Invalid("tensor '{}' names shared-memory region '{}', which is not registered", tensor,
                     region_param->second.string_param());
    }
    region = it->second;
  }
  if (offset + bytes > region->byte_size) {
    return Invalid("tensor '{}': offset {} + {} bytes exceed shared-memory region '{}' of {} bytes",
                   tensor, offset, bytes, region->name, region->byte_size);
  }
  if (is_input ? bytes != needed_bytes : bytes < needed_bytes) {
    return Invalid("tensor '{}' in shared-memory region '{}' has {} bytes; expected {}{}", tensor,
                   region->name, bytes, is_input ? "" : "at least ", needed_bytes);
  }
  *out = {region->data() + offset, needed_bytes, std::move(region)};
  return grpc::Status::OK;
}

}  // namespace sonic::service
