#include "service/validation.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <functional>
#include <vector>

namespace sonic::service {
namespace {

const ModelSpec kSpec{"jet_cnn", "sonicbench_reference", {1, 40, 40}, {2}, 4};
const SharedMemoryRegistry kNoRegions;

inference::ModelInferRequest Good(int batch = 1) {
  inference::ModelInferRequest request;
  request.set_model_name("jet_cnn");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (const std::int64_t dim : {static_cast<std::int64_t>(batch), 1L, 40L, 40L}) {
    input->add_shape(dim);
  }
  request.add_raw_input_contents()->resize(static_cast<std::size_t>(batch) * 1600 * 4);
  return request;
}

struct Case {
  const char* name;
  std::function<void(inference::ModelInferRequest&)> spoil;
  grpc::StatusCode code;
  std::vector<const char*> message_mentions;  // what was wrong, and what was expected
};

TEST(ValidateInferRequest, AcceptsRawAndTypedContents) {
  ValidatedInput input;
  auto raw = Good(3);
  ASSERT_TRUE(ValidateInferRequest(raw, kSpec, kNoRegions, &input).ok());
  EXPECT_EQ(input.batch, 3);
  EXPECT_EQ(input.bytes, 3u * 1600 * 4);
  EXPECT_EQ(input.data, raw.raw_input_contents(0).data());  // in place, not copied

  auto typed = Good(2);
  typed.clear_raw_input_contents();
  typed.mutable_inputs(0)->mutable_contents()->mutable_fp32_contents()->Resize(3200, 0.5f);
  typed.set_model_version("1");
  typed.add_outputs()->set_name("output");
  ASSERT_TRUE(ValidateInferRequest(typed, kSpec, kNoRegions, &input).ok());
  EXPECT_EQ(input.batch, 2);
}

TEST(ValidateInferRequest, EveryBadRequestGetsItsStatusAndSaysWhatWasExpected) {
  const std::vector<Case> cases = {
      {"unknown version",
       [](auto& r) { r.set_model_version("7"); },
       grpc::StatusCode::NOT_FOUND,
       {"'7'", "available versions: 1"}},
      {"no input",
       [](auto& r) { r.clear_inputs(); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"expects 1 input", "got 0"}},
      {"two inputs",
       [](auto& r) { *r.add_inputs() = r.inputs(0); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"got 2"}},
      {"input name",
       [](auto& r) { r.mutable_inputs(0)->set_name("image"); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"'image'", "expected 'input'"}},
      {"datatype",
       [](auto& r) { r.mutable_inputs(0)->set_datatype("INT8"); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"'INT8'", "'FP32'"}},
      {"rank",
       [](auto& r) { r.mutable_inputs(0)->mutable_shape()->RemoveLast(); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"[1, 1, 40]", "[-1, 1, 40, 40]"}},
      {"dimension",
       [](auto& r) { r.mutable_inputs(0)->set_shape(2, 41); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"[1, 1, 41, 40]", "[-1, 1, 40, 40]"}},
      {"batch zero",
       [](auto& r) { r.mutable_inputs(0)->set_shape(0, 0); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"batch >= 1"}},
      {"batch over max",
       [](auto& r) { r = Good(5); },
       grpc::StatusCode::RESOURCE_EXHAUSTED,
       {"batch 5", "maximum is 4"}},
      {"byte count",
       [](auto& r) { r.mutable_raw_input_contents(0)->resize(100); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"100 bytes", "expected 6400"}},
      {"two raw entries",
       [](auto& r) { r.add_raw_input_contents(); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"2 raw_input_contents", "expected 1"}},
      {"raw and contents",
       [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"both contents and raw_input_contents"}},
      {"no data",
       [](auto& r) { r.clear_raw_input_contents(); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"0 FP32 values", "expected 1600"}},
      {"typed non-FP32",
       [](auto& r) {
         r.clear_raw_input_contents();
         r.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
       },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"non-FP32 contents"}},
      {"unknown output",
       [](auto& r) { r.add_outputs()->set_name("probabilities"); },
       grpc::StatusCode::INVALID_ARGUMENT,
       {"'probabilities'", "expected 'output'"}},
  };
  for (const Case& c : cases) {
    auto request = Good();
    c.spoil(request);
    ValidatedInput input;
    const grpc::Status status = ValidateInferRequest(request, kSpec, kNoRegions, &input);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    for (const char* mention : c.message_mentions) {
      EXPECT_NE(status.error_message().find(mention), std::string::npos)
          << c.name << ": '" << status.error_message() << "' does not mention " << mention;
    }
  }
}

TEST(WireShape, PutsTheVariableBatchFirst) {
  EXPECT_EQ(WireShape({3, 224, 224}), "[-1, 3, 224, 224]");
}

}  // namespace
}  // namespace sonic::service

namespace sonic::service {
namespace {

// A POSIX shared-memory object for the test, removed at the end.
class ShmObject {
 public:
  ShmObject(std::string key, std::size_t bytes) : key_(std::move(key)) {
    const int fd = shm_open(key_.c_str(), O_CREAT | O_RDWR, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
    close(fd);
  }
  ~ShmObject() { shm_unlink(key_.c_str()); }
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

inference::SystemSharedMemoryRegisterRequest RegisterRequest(const std::string& name,
                                                             const std::string& key,
                                                             std::size_t offset,
                                                             std::size_t bytes) {
  inference::SystemSharedMemoryRegisterRequest request;
  request.set_name(name);
  request.set_key(key);
  request.set_offset(offset);
  request.set_byte_size(bytes);
  return request;
}

TEST(SharedMemoryRegistry, RegisterResolveAndUnregister) {
  const ShmObject object(fmt::format("/sonic_validation_test_{}", getpid()), 1 << 16);
  SharedMemoryRegistry regions;
  ASSERT_TRUE(regions.Register(RegisterRequest("in", object.key(), 0, 6400)).ok());
  ASSERT_TRUE(regions.Register(RegisterRequest("out", object.key(), 8192, 64)).ok());
  EXPECT_EQ(regions.Register(RegisterRequest("in", object.key(), 0, 8)).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  const grpc::Status too_big = regions.Register(RegisterRequest("big", object.key(), 0, 1 << 20));
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_big.error_message().find("65536 bytes"), std::string::npos)
      << too_big.error_message();
  EXPECT_EQ(regions.Register(RegisterRequest("x", "/sonic_no_such_object", 0, 8)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  inference::SystemSharedMemoryStatusResponse status;
  ASSERT_TRUE(regions.Status("", &status).ok());
  EXPECT_EQ(status.regions().size(), 2u);
  EXPECT_EQ(status.regions().at("out").offset(), 8192u);

  auto request = Good(1);
  request.clear_raw_input_contents();
  auto& in = *request.mutable_inputs(0)->mutable_parameters();
  in["shared_memory_region"].set_string_param("in");
  in["shared_memory_byte_size"].set_int64_param(6400);
  auto* output = request.add_outputs();
  output->set_name("output");
  auto& out = *output->mutable_parameters();
  out["shared_memory_region"].set_string_param("out");
  out["shared_memory_byte_size"].set_int64_param(8);
  ValidatedInput input;
  ASSERT_TRUE(ValidateInferRequest(request, kSpec, regions, &input).ok());
  ASSERT_NE(input.output.data, nullptr);
  EXPECT_EQ(input.output.bytes, 8u);
  EXPECT_EQ(input.bytes, 6400u);

  // Unregistering keeps the mapping alive for the request that holds it.
  ASSERT_TRUE(regions.Unregister("").ok());
  const_cast<char*>(input.data)[0] = 1;
  input.output.data[7] = 1;
  EXPECT_EQ(regions.Unregister("in").error_code(), grpc::StatusCode::NOT_FOUND);
  ValidatedInput again;
  EXPECT_EQ(ValidateInferRequest(request, kSpec, regions, &again).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(SharedMemoryRegistry, WrongSizesAreRejected) {
  const ShmObject object(fmt::format("/sonic_validation_sizes_{}", getpid()), 1 << 16);
  SharedMemoryRegistry regions;
  ASSERT_TRUE(regions.Register(RegisterRequest("in", object.key(), 0, 6400)).ok());
  auto request = Good(1);
  request.clear_raw_input_contents();
  auto& in = *request.mutable_inputs(0)->mutable_parameters();
  in["shared_memory_region"].set_string_param("in");
  in["shared_memory_byte_size"].set_int64_param(6000);
  ValidatedInput input;
  grpc::Status status = ValidateInferRequest(request, kSpec, regions, &input);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("expected 6400"), std::string::npos)
      << status.error_message();
  in["shared_memory_byte_size"].set_int64_param(6400);
  in["shared_memory_offset"].set_int64_param(8);
  status = ValidateInferRequest(request, kSpec, regions, &input);
  EXPECT_NE(status.error_message().find("exceed"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace sonic::service
