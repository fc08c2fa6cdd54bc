// Integration tests: the server in-process on a free loopback port, our client and raw gRPC
// stubs against it; TLS files, TLS and bearer tokens; and `sonicbench serve` as a subprocess:
// SIGTERM draining, an empty token refused, a bounded log under a flood of malformed requests and
// failed TLS handshakes.
#include "service/server.h"

#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "backends/registry.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/random.h"
#include "core/subprocess_testing.h"
#include "models/zoo.h"
#include "service/client.h"
#include "service/http_testing.h"
#include "service/metrics_scrape.h"
#include "service/proto/grpc_service.grpc.pb.h"
#include "service/tls_testing.h"

namespace sonic::service {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
constexpr int kMaxBatch = 4;

Graph JetCnn() {
  Graph graph = BuildJetCnn();
  FoldBatchNorm(graph);
  return graph;
}

ServedModelOptions JetCnnOptions() {
  ServedModelOptions options;
  options.graph = JetCnn();
  options.name = "jet_cnn";
  options.backend = "reference";
  options.instances = 2;
  options.batching = {true, kMaxBatch, {}, 2000};
  return options;
}

std::vector<float> RandomInput(int batch, std::uint64_t seed) {
  Random random(seed);
  std::vector<float> data(static_cast<std::size_t>(batch) * 1600);
  for (float& x : data) x = static_cast<float>(random.Uniform());
  return data;
}

std::vector<float> LocalOutput(const std::vector<float>& input, int batch) {
  static const auto executable = [] {
    CompileOptions compile;
    compile.max_batch = kMaxBatch;
    return MakeBackend("reference")->Compile(JetCnn(), compile);
  }();
  std::vector<float> output(static_cast<std::size_t>(batch) * 2);
  executable->Run(input, batch, output);
  return output;
}

// InferInput refers to its shape: these outlive every request.
InferInput JetInput(const std::vector<float>& data, int batch) {
  static const std::vector<Shape> kShapes = {
      {1, 1, 40, 40}, {2, 1, 40, 40}, {3, 1, 40, 40}, {4, 1, 40, 40}};
  return {"jet_cnn", "", "input", kShapes.at(static_cast<std::size_t>(batch - 1)), data};
}

// Client options for `address`, with the given changes.
ClientOptions At(const std::string& address,
                 const std::function<void(ClientOptions&)>& change = nullptr) {
  ClientOptions options;
  options.address = address;
  if (change) change(options);
  return options;
}

inference::ModelInferRequest GoodRequest(int batch = 1) {
  inference::ModelInferRequest request;
  request.set_model_name("jet_cnn");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (const std::int64_t dim : {static_cast<std::int64_t>(batch), 1L, 40L, 40L}) {
    input->add_shape(dim);
  }
  const auto data = RandomInput(batch, 3);
  request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(data.data()),
                                           data.size() * sizeof(float));
  return request;
}

// Sends `bytes` as the request message of `method` (e.g. "ModelInfer") unchecked, as a hostile
// client could, and returns the status.
grpc::Status RawCall(grpc::GenericStub& stub, std::string_view method, const std::string& bytes) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  std::promise<grpc::Status> result;
  stub.UnaryCall(&context, fmt::format("/inference.GRPCInferenceService/{}", method), {}, &request,
                 &response, [&](grpc::Status status) { result.set_value(status); });
  return result.get_future().get();
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions options;
    options.models.push_back(JetCnnOptions());
    ServedModelOptions null_model = JetCnnOptions();
    null_model.name = "jet_null";
    null_model.backend = "null";
    options.models.push_back(null_model);
    server_ = Server::Start(std::move(options)).release();
  }
  static void TearDownTestSuite() { delete server_; }

  static grpc::Status Call(const inference::ModelInferRequest& request,
                           inference::ModelInferResponse* response = nullptr) {
    static const auto stub = inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    inference::ModelInferResponse unused;
    return stub->ModelInfer(&context, request, response != nullptr ? response : &unused);
  }

  static void ExpectGoodRequestStillServed() {
    inference::ModelInferResponse response;
    const grpc::Status status = Call(GoodRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.raw_output_contents(0).size(), 2 * sizeof(float));
  }

  static Server* server_;
};
Server* ServerTest::server_ = nullptr;

TEST_F(ServerTest, BindsLoopbackByDefault) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), fmt::format("127.0.0.1:{}", server_->port()));
}

TEST_F(ServerTest, ABusyPortIsAnError) {
  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.port = server_->port();
  try {
    Server::Start(std::move(options));
    ADD_FAILURE() << "a second server bound the same port";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable) << error.what();
  }
}

TEST_F(ServerTest, HealthAndMetadata) {
  Client client(At(server_->address()));
  client.WaitForReady(10'000);
  EXPECT_TRUE(client.ServerLive());
  EXPECT_TRUE(client.ServerReady());
  EXPECT_TRUE(client.ModelReady("jet_cnn"));
  EXPECT_TRUE(client.ModelReady("jet_cnn", "1"));
  EXPECT_FALSE(client.ModelReady("jet_cnn", "2"));
  EXPECT_FALSE(client.ModelReady("resnet7"));
  const RemoteServerMetadata server = client.ServerMetadata();
  EXPECT_EQ(server.name, "sonicbench");
  EXPECT_EQ(server.extensions,
            (std::vector<std::string>{"model_statistics", "system_shared_memory"}));
  const RemoteModelMetadata model = client.ModelMetadata("jet_cnn");
  EXPECT_EQ(model.name, "jet_cnn");
  EXPECT_EQ(model.platform, "sonicbench_reference");
  EXPECT_EQ(model.versions, std::vector<std::string>{"1"});
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].name, "input");
  EXPECT_EQ(model.inputs[0].datatype, "FP32");
  EXPECT_EQ(model.inputs[0].shape, (Shape{-1, 1, 40, 40}));
  ASSERT_EQ(model.outputs.size(), 1u);
  EXPECT_EQ(model.outputs[0].name, "output");
  EXPECT_EQ(model.outputs[0].shape, (Shape{-1, 2}));
  try {
    client.ModelMetadata("resnet7");
    ADD_FAILURE() << "unknown model accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(error.what()).find("jet_cnn, jet_null"), std::string::npos);
  }
}

TEST_F(ServerTest, RemoteOutputsEqualLocalOnes) {
  Client client(At(server_->address(), [&](ClientOptions& o) { o.channels = 2; }));
  for (const int batch : {1, 3, kMaxBatch}) {
    const auto input = RandomInput(batch, 100 + batch);
    std::vector<float> output;
    Shape shape;
    const RpcStatus status = client.Infer(JetInput(input, batch), &output, &shape);
    ASSERT_TRUE(status.ok()) << status.message;
    EXPECT_EQ(shape, (Shape{batch, 2}));
    const auto expected = LocalOutput(input, batch);
    ASSERT_EQ(output.size(), expected.size());
    for (std::size_t i = 0; i < output.size(); ++i) EXPECT_NEAR(output[i], expected[i], 1e-6);
  }
}

TEST_F(ServerTest, BlockingInferRepliesOnTheCallingThreadWithoutALink) {
  const auto input = RandomInput(1, 17);
  const std::vector<float> expected = LocalOutput(input, 1);
  // Runs one BlockingInfer; returns the thread its callback ran on, checks the reply.
  auto infer = [&](Client& client) {
    std::thread::id replied_on;
    std::vector<float> output;
    client.BlockingInfer(JetInput(input, 1), [&](const InferReply& reply) {
      EXPECT_TRUE(reply.status.ok()) << reply.status.message;
      replied_on = std::this_thread::get_id();
      output.assign(reply.output.begin(), reply.output.end());
    });
    EXPECT_EQ(output.size(), expected.size());
    for (std::size_t i = 0; i < output.size(); ++i) EXPECT_NEAR(output[i], expected[i], 1e-6);
    return replied_on;
  };
  Client client(At(server_->address()));
  EXPECT_EQ(infer(client), std::this_thread::get_id());
  // With an emulated link the reply comes from the link's thread, but it has come on return.
  Client linked(At(server_->address(), [](ClientOptions& o) { o.link = ParseLink("rtt_ms=5"); }));
  EXPECT_NE(infer(linked), std::this_thread::get_id());
}

TEST_F(ServerTest, ConcurrentRequestsAreBatchedAndSplitBackCorrectly) {
  Client client(At(server_->address(), [&](ClientOptions& o) { o.channels = 2; }));
  const ModelStatsSnapshot before = client.ModelStatistics("jet_cnn");
  constexpr int kRequests = 48;
  std::vector<std::vector<float>> inputs, outputs(kRequests);
  for (int i = 0; i < kRequests; ++i) inputs.push_back(RandomInput(1 + i % 2, 1000 + i));
  std::mutex mutex;
  std::condition_variable all_done;
  int done = 0, failed = 0;
  for (int i = 0; i < kRequests; ++i) {
    client.AsyncInfer(JetInput(inputs[i], 1 + i % 2), [&, i](const InferReply& reply) {
      std::lock_guard lock(mutex);
      if (reply.status.ok()) {
        outputs[i].assign(reply.output.begin(), reply.output.end());
      } else {
        ++failed;
      }
      ++done;
      all_done.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_done.wait_for(lock, 60s, [&] { return done == kRequests; }));
  }
  EXPECT_EQ(failed, 0);
  for (int i = 0; i < kRequests; ++i) {
    const auto expected = LocalOutput(inputs[i], 1 + i % 2);
    ASSERT_EQ(outputs[i].size(), expected.size()) << i;
    for (std::size_t j = 0; j < expected.size(); ++j) EXPECT_NEAR(outputs[i][j], expected[j], 1e-6);
  }
  const ModelStatsSnapshot delta = Delta(before, client.ModelStatistics("jet_cnn"));
  EXPECT_EQ(delta.success.count, static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(delta.inference_count, 72u);
  EXPECT_LT(delta.execution_count, static_cast<std::uint64_t>(kRequests));  // some combined
  std::uint64_t executed = 0;
  for (const auto& [batch, stats] : delta.batch_stats) {
    EXPECT_LE(batch, static_cast<std::uint64_t>(kMaxBatch));
    executed += batch * stats.compute_infer.count;
  }
  EXPECT_EQ(executed, 72u);
  const ClientCounters counters = client.counters();
  EXPECT_EQ(counters.ok, static_cast<std::uint64_t>(kRequests));
  EXPECT_GT(counters.bytes_sent, static_cast<std::uint64_t>(kRequests) * 6400);
  EXPECT_GT(counters.bytes_received, static_cast<std::uint64_t>(kRequests) * 8);
}

struct BadCase {
  const char* name;
  std::function<void(inference::ModelInferRequest&)> spoil;
  grpc::StatusCode code;
  const char* mention;
};

TEST_F(ServerTest, EveryBadRequestGetsItsStatusAndTheServerGoesOn) {
  Client client(At(server_->address()));
  const ModelStatsSnapshot before = client.ModelStatistics("jet_cnn");
  const std::vector<BadCase> cases = {
      {"unknown model", [](auto& r) { r.set_model_name("resnet7"); }, grpc::StatusCode::NOT_FOUND,
       "this server serves: jet_cnn, jet_null"},
      {"unknown version", [](auto& r) { r.set_model_version("3"); }, grpc::StatusCode::NOT_FOUND,
       "available versions: 1"},
      {"input name", [](auto& r) { r.mutable_inputs(0)->set_name("x"); },
       grpc::StatusCode::INVALID_ARGUMENT, "expected 'input'"},
      {"datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FP16"); },
       grpc::StatusCode::INVALID_ARGUMENT, "expected 'FP32'"},
      {"shape", [](auto& r) { r.mutable_inputs(0)->set_shape(3, 32); },
       grpc::StatusCode::INVALID_ARGUMENT, "expected [-1, 1, 40, 40]"},
      {"byte count", [](auto& r) { r.mutable_raw_input_contents(0)->resize(6000); },
       grpc::StatusCode::INVALID_ARGUMENT, "expected 6400"},
      {"batch over max", [](auto& r) { r = GoodRequest(kMaxBatch + 1); },
       grpc::StatusCode::RESOURCE_EXHAUSTED, "the maximum is 4"},
  };
  for (const BadCase& c : cases) {
    auto request = GoodRequest();
    c.spoil(request);
    const grpc::Status status = Call(request);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.mention), std::string::npos)
        << c.name << ": " << status.error_message();
    ExpectGoodRequestStillServed();
  }

  // Malformed: bytes that are not a ModelInferRequest, sent with a generic stub.
  {
    grpc::GenericStub generic(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    const grpc::Status status =
        RawCall(generic, "ModelInfer", "\x0a\xff\xff\xff\xff\x0f not protobuf");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("not a valid inference.ModelInferRequest"),
              std::string::npos)
        << status.error_message();
    ExpectGoodRequestStillServed();
  }

  // Oversized: more than the largest batch could ever need.
  {
    auto request = GoodRequest();
    request.mutable_raw_input_contents(0)->resize(8u << 20);
    const grpc::Status status = Call(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    ExpectGoodRequestStillServed();
  }

  const ModelStatsSnapshot delta = Delta(before, client.ModelStatistics("jet_cnn"));
  // Failures count against a model once it is found: the five requests that reached validation
  // (not the unknown model or version, nor the malformed or oversized messages).
  EXPECT_EQ(delta.fail.count, 5u);
  EXPECT_EQ(delta.success.count, 9u);
  const ClientCounters counters = client.counters();
  EXPECT_EQ(counters.requests, 0u);
}

TEST_F(ServerTest, ClientCountsErrorsByKind) {
  Client client(At(server_->address()));
  const auto input = RandomInput(1, 5);
  InferInput wrong = JetInput(input, 1);
  wrong.model = "nope";
  EXPECT_EQ(client.Infer(wrong, nullptr).code, static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_TRUE(client.Infer(JetInput(input, 1), nullptr).ok());
  const ClientCounters counters = client.counters();
  EXPECT_EQ(counters.requests, 2u);
  EXPECT_EQ(counters.ok, 1u);
  EXPECT_EQ(counters.ErrorsByKind(), (std::map<std::string, std::uint64_t>{{"NOT_FOUND", 1}}));
  InferInput no_data = JetInput(input, 1);
  no_data.data = {};
  EXPECT_THROW(client.AsyncInfer(no_data, nullptr), Error);
}

TEST_F(ServerTest, EmulatedLinkDelaysWithoutHoldingOthersBack) {
  Client client(
      At(server_->address(), [&](ClientOptions& o) { o.link = ParseLink("rtt_ms=100"); }));
  const auto input = RandomInput(1, 9);
  InferInput request = JetInput(input, 1);
  request.model = "jet_null";
  constexpr int kRequests = 8;
  std::atomic<int> done{0};
  std::promise<void> all;
  const std::int64_t start_ns = MonotonicNs();
  for (int i = 0; i < kRequests; ++i) {
    client.AsyncInfer(request, [&](const InferReply& reply) {
      EXPECT_TRUE(reply.status.ok()) << reply.status.message;
      if (++done == kRequests) all.set_value();
    });
  }
  all.get_future().wait();
  const std::int64_t elapsed_ns = MonotonicNs() - start_ns;
  EXPECT_GE(elapsed_ns, 100'000'000);
  EXPECT_LT(elapsed_ns, 2 * 100'000'000);  // eight in parallel, not one after another
}

TEST(ClientRetries, BoundedRetriesOnUnavailable) {
  // A port nothing listens on: bind one, learn its number, close it.
  int port = 0;
  {
    ServerOptions options;
    options.models.push_back(JetCnnOptions());
    auto server = Server::Start(std::move(options));
    port = server->port();
  }
  Client client(At(fmt::format("127.0.0.1:{}", port), [](ClientOptions& o) { o.max_retries = 2; }));
  const auto input = RandomInput(1, 1);
  const RpcStatus status = client.Infer(JetInput(input, 1), nullptr);
  EXPECT_EQ(status.code, static_cast<int>(grpc::StatusCode::UNAVAILABLE)) << status.message;
  const ClientCounters counters = client.counters();
  EXPECT_EQ(counters.retries, 2u);
  EXPECT_EQ(counters.ErrorsByKind().at("UNAVAILABLE"), 1u);
  EXPECT_THROW(client.WaitForReady(100), Error);
}

TEST(ClientDeadline, SlowAnswerEndsInDeadlineExceeded) {
  // A 2 s queue delay holds a lone request far past the client's 200 ms deadline.
  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.models.back().batching = {true, kMaxBatch, {}, 2'000'000};
  auto server = Server::Start(std::move(options));
  Client client(At(server->address(), [](ClientOptions& o) { o.deadline_ms = 200; }));
  client.WaitForReady(10'000);
  const auto input = RandomInput(1, 2);
  const std::int64_t start_ns = MonotonicNs();
  const RpcStatus status = client.Infer(JetInput(input, 1), nullptr);
  EXPECT_EQ(status.code, static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED)) << status.message;
  EXPECT_LT(MonotonicNs() - start_ns, 1'500'000'000);
  EXPECT_EQ(client.counters().ErrorsByKind().at("DEADLINE_EXCEEDED"), 1u);
}

// TLS with a self-signed certificate made by openssl at test time, and a bearer token.
TEST(ServerSecurity, TlsAndTokenAreEnforced) {
  const auto dir = TestDirectory("tls");
  const auto made = MakeSelfSignedCertificate(dir, "server");
  if (!made) GTEST_SKIP() << "openssl could not make a certificate";
  const std::string &cert = made->cert_file, &key = made->key_file;
  std::ifstream cert_file(cert);
  std::stringstream pem;
  pem << cert_file.rdbuf();

  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  options.token = "s3cret";
  auto server = Server::Start(std::move(options));
  const auto input = RandomInput(1, 11);

  Client good(At(server->address(), [&](ClientOptions& o) {
    o.tls_root_certs_pem = pem.str();
    o.token = "s3cret";
  }));
  good.WaitForReady(10'000);
  std::vector<float> output;
  ASSERT_TRUE(good.Infer(JetInput(input, 1), &output).ok());
  EXPECT_NEAR(output[0], LocalOutput(input, 1)[0], 1e-6);
  EXPECT_EQ(good.ModelMetadata("jet_cnn").name, "jet_cnn");

  Client wrong_token(At(server->address(), [&](ClientOptions& o) {
    o.tls_root_certs_pem = pem.str();
    o.token = "guess";
  }));
  const RpcStatus denied = wrong_token.Infer(JetInput(input, 1), nullptr);
  EXPECT_EQ(denied.code, static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) << denied.message;
  EXPECT_THROW(wrong_token.ModelMetadata("jet_cnn"), Error);
  Client no_token(
      At(server->address(), [&](ClientOptions& o) { o.tls_root_certs_pem = pem.str(); }));
  EXPECT_EQ(no_token.Infer(JetInput(input, 1), nullptr).code,
            static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));

  Client plaintext(At(server->address(), [&](ClientOptions& o) {
    o.max_retries = 0;
    o.token = "s3cret";
  }));
  EXPECT_EQ(plaintext.Infer(JetInput(input, 1), nullptr).code,
            static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  std::filesystem::remove_all(dir);
}

// A certificate or key gRPC cannot use is named with its problem before anything compiles, not
// reported as a port that cannot be bound (the cases one by one are in tls_test.cpp).
TEST(ServerSecurity, ABadCertificateOrKeyIsNamedNotMistakenForABusyPort) {
  const auto dir = TestDirectory("bad_tls");
  const auto first = MakeSelfSignedCertificate(dir, "first");
  const auto second = MakeSelfSignedCertificate(dir, "second");
  if (!first || !second) GTEST_SKIP() << "openssl could not make a certificate";
  const std::string garbage = (dir / "garbage.pem").string();
  std::ofstream(garbage) << "not PEM\n";
  struct Case {
    std::string cert, key, named, problem;
  };
  const std::vector<Case> cases = {
      {first->cert_file, second->key_file, second->key_file, "not hold the private key"},
      {garbage, first->key_file, garbage, "no PEM certificate"},
      {first->cert_file, garbage, garbage, "no PEM private key"},
  };
  for (const Case& c : cases) {
    ServerOptions options;
    options.models.push_back(JetCnnOptions());
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    try {
      Server::Start(std::move(options));
      ADD_FAILURE() << "served TLS with certificate " << c.cert << " and key " << c.key;
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << message;
      EXPECT_NE(message.find(c.named), std::string::npos) << message;
      EXPECT_NE(message.find(c.problem), std::string::npos) << message;
      EXPECT_EQ(message.find("cannot listen"), std::string::npos) << message;
    }
  }
  std::filesystem::remove_all(dir);
}

// Exactly one authorization entry counts: with two, one right and one wrong, a proxy in front of
// the server could have checked the other one.
TEST(ServerSecurity, ExactlyOneAuthorizationEntryIsAccepted) {
  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.token = "s3cret";
  auto server = Server::Start(std::move(options));
  const auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  auto live = [&](const std::vector<std::string>& authorizations) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    for (const std::string& value : authorizations) context.AddMetadata("authorization", value);
    inference::ServerLiveResponse response;
    return stub->ServerLive(&context, {}, &response).error_code();
  };
  EXPECT_EQ(live({"Bearer s3cret"}), grpc::StatusCode::OK);
  EXPECT_EQ(live({}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(live({"Bearer guess"}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(live({"Bearer s3cret", "Bearer guess"}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(live({"Bearer guess", "Bearer s3cret"}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(live({"Bearer s3cret", "Bearer s3cret"}), grpc::StatusCode::UNAUTHENTICATED);
  // ModelInfer checks the same way.
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer guess");
  context.AddMetadata("authorization", "Bearer s3cret");
  inference::ModelInferResponse response;
  EXPECT_EQ(stub->ModelInfer(&context, GoodRequest(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// `sonicbench serve` as a subprocess: SIGTERM lets requests already queued finish, then it
// prints the statistics and exits 0.
TEST(ServeCommand, SigtermDrainsInFlightRequests) {
  // A 1 s queue delay keeps the requests queued on the server when SIGTERM arrives.
  Subprocess serve({SONICBENCH_BIN, "serve", "--model", "jet_cnn", "--backend", "reference",
                    "--port", "0", "--max-batch", "8", "--max-queue-delay-us", "1000000"});
  const std::regex listening("listening on (127\\.0\\.0\\.1:[0-9]+)");
  const std::string banner = serve.ReadUntil(listening, 60s);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, listening)) << banner;
  Client client(At(match[1].str()));
  client.WaitForReady(10'000);

  constexpr int kRequests = 5;
  const auto input = RandomInput(1, 21);
  std::atomic<int> ok{0}, done{0};
  std::promise<void> all;
  for (int i = 0; i < kRequests; ++i) {
    client.AsyncInfer(JetInput(input, 1), [&](const InferReply& reply) {
      if (reply.status.ok()) ++ok;
      if (++done == kRequests) all.set_value();
    });
  }
  // Wait until the server has them queued (it counts nothing until they run, so give the
  // requests time to arrive), then ask it to stop.
  std::this_thread::sleep_for(500ms);
  const std::int64_t terminate_ns = MonotonicNs();
  serve.Signal(SIGTERM);
  const int exit_code = serve.Wait();
  ASSERT_EQ(all.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_LT(MonotonicNs() - terminate_ns, 4'000'000'000);  // drained, not timed out
  EXPECT_EQ(exit_code, 0);
  const std::string& output = serve.output();
  EXPECT_NE(output.find("SIGTERM received, draining"), std::string::npos) << output;
  EXPECT_NE(output.find("5 requests ok, 0 failed"), std::string::npos) << output;
  // Nothing answers any more.
  Client after(At(match[1].str(), [&](ClientOptions& o) { o.max_retries = 0; }));
  EXPECT_EQ(after.Infer(JetInput(input, 1), nullptr).code,
            static_cast<int>(grpc::StatusCode::UNAVAILABLE));
}

// `sonicbench serve` with its stderr sent to `stderr_path` (through sh) and its stdout read by
// the test.
Subprocess ServeWithStderrTo(const std::string& stderr_path, std::vector<std::string> serve_args) {
  std::vector<std::string> argv = {"/bin/sh", "-c",
                                   fmt::format("exec \"$0\" \"$@\" 2>'{}'", stderr_path),
                                   SONICBENCH_BIN, "serve"};
  argv.insert(argv.end(), serve_args.begin(), serve_args.end());
  return Subprocess(std::move(argv));
}

std::string ReadText(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// How many messages of `library` the shutdown report of `sonicbench serve` says were held back.
std::uint64_t HeldBack(const std::string& serve_output, const std::string& library) {
  const std::regex counted(
      fmt::format("([0-9]+) more message\\(s\\) from {} \\S+ counted, not logged", library));
  std::uint64_t held_back = 0;
  for (auto it = std::sregex_iterator(serve_output.begin(), serve_output.end(), counted);
       it != std::sregex_iterator(); ++it) {
    held_back += std::stoull((*it)[1].str());
  }
  return held_back;
}

// An empty --token (an unset variable, say) is refused instead of serving without authentication.
TEST(ServeCommand, AnEmptyTokenIsRefused) {
  const auto dir = TestDirectory("empty_token");
  const std::string errors = (dir / "stderr.txt").string();
  Subprocess serve = ServeWithStderrTo(
      errors, {"--model", "jet_cnn", "--backend", "reference", "--port", "0", "--token", ""});
  const std::string& output = serve.ReadUntil(std::regex("listening on"), 60s);
  if (output.find("listening on") != std::string::npos) {
    ADD_FAILURE() << "served with an empty token: " << output;
    serve.Signal(SIGTERM);
  }
  EXPECT_EQ(serve.Wait(), 2);  // a usage error
  const std::string message = ReadText(errors);
  EXPECT_NE(message.find("--token is empty"), std::string::npos) << message;
  std::filesystem::remove_all(dir);
}

// Protobuf writes one line to stderr for every message it fails to parse because a string field
// holds invalid UTF-8. A client sending such messages at will must not fill the server's log: the
// first from each place in protobuf is logged, the rest counted and reported at shutdown.
TEST(ServeCommand, MalformedRequestsCannotFillTheLog) {
  const auto dir = TestDirectory("log_flood");
  const std::string errors = (dir / "stderr.txt").string();
  Subprocess serve =
      ServeWithStderrTo(errors, {"--model", "jet_cnn", "--backend", "reference", "--port", "0"});
  const std::regex listening("listening on (127\\.0\\.0\\.1:[0-9]+)");
  const std::string banner = serve.ReadUntil(listening, 60s);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, listening)) << banner;
  const std::string address = match[1].str();
  Client client(At(address));
  client.WaitForReady(10'000);
  const std::size_t logged_before = ReadText(errors).size();

  // Field 1 (the model's name) of both request types: a string of 4 bytes that are not UTF-8.
  const std::string invalid_utf8_name = "\x0a\x04\xff\xfe\xfd\xfc";
  grpc::GenericStub generic(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  constexpr int kInfers = 500, kMetadata = 50;
  for (int i = 0; i < kInfers; ++i) {
    const grpc::Status status = RawCall(generic, "ModelInfer", invalid_utf8_name);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  for (int i = 0; i < kMetadata; ++i) {
    EXPECT_FALSE(RawCall(generic, "ModelMetadata", invalid_utf8_name).ok());
  }
  const auto input = RandomInput(1, 23);
  EXPECT_TRUE(client.Infer(JetInput(input, 1), nullptr).ok());  // still serving

  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  const std::string log = ReadText(errors).substr(logged_before);
  const std::vector<std::string> lines = Lines(log);
  EXPECT_LE(lines.size(), 2u) << log;  // at most one line per place in protobuf's code
  for (const std::string& line : lines) {
    EXPECT_NE(line.find("invalid UTF-8"), std::string::npos) << line;
  }
  // Every message either logged or counted in the shutdown report.
  EXPECT_EQ(HeldBack(serve.output(), "protobuf") + lines.size(),
            static_cast<std::uint64_t>(kInfers + kMetadata))
      << serve.output();
  std::filesystem::remove_all(dir);
}

// gRPC writes an error line for every failed TLS handshake: a client opening connections that
// speak plaintext to a TLS server must not fill its log either.
TEST(ServeCommand, FailedTlsHandshakesCannotFillTheLog) {
  const auto dir = TestDirectory("handshake_flood");
  const auto made = MakeSelfSignedCertificate(dir, "server");
  if (!made) GTEST_SKIP() << "openssl could not make a certificate";
  const std::string errors = (dir / "stderr.txt").string();
  Subprocess serve =
      ServeWithStderrTo(errors, {"--model", "jet_cnn", "--backend", "reference", "--port", "0",
                                 "--tls-cert", made->cert_file, "--tls-key", made->key_file});
  const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  const std::string banner = serve.ReadUntil(listening, 60s);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, listening)) << banner;
  const std::size_t logged_before = ReadText(errors).size();

  constexpr int kConnections = 100;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(static_cast<std::uint16_t>(std::stoi(match[1].str())));
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof(server)), 0);
    const std::string plaintext = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(write(fd, plaintext.data(), plaintext.size()),
              static_cast<ssize_t>(plaintext.size()));
    char reply[256];
    while (read(fd, reply, sizeof(reply)) > 0) {
    }  // until the server, its handshake failed, closes the connection
    close(fd);
  }

  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  const std::vector<std::string> lines = Lines(ReadText(errors).substr(logged_before));
  EXPECT_LE(lines.size(), 2u) << ReadText(errors);  // one per place in gRPC's code
  EXPECT_GT(HeldBack(serve.output(), "grpc"), 0u) << serve.output();
  std::filesystem::remove_all(dir);
}

// --- The metrics endpoint -----------------------------------------------------------------

TEST_F(ServerTest, MetricsAreOffUnlessAskedFor) { EXPECT_EQ(server_->metrics(), nullptr); }

std::unique_ptr<Server> StartWithMetrics() {
  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.metrics_port = 0;
  return Server::Start(std::move(options));
}

// Runs `count` requests of batch 1 + i % kMaxBatch, `in_flight` at a time, each output checked
// against the local one; returns how many failed or were wrong.
int InferAndCheck(Client& client, int count, int in_flight) {
  std::vector<std::vector<float>> inputs, expected;
  for (int batch = 1; batch <= kMaxBatch; ++batch) {
    inputs.push_back(RandomInput(batch, 500 + batch));
    expected.push_back(LocalOutput(inputs.back(), batch));
  }
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0, done = 0, bad = 0;
  std::unique_lock lock(mutex);
  for (int i = 0; i < count; ++i) {
    if (!changed.wait_for(lock, 60s, [&] { return started - done < in_flight; })) break;
    ++started;
    const int batch = 1 + i % kMaxBatch;
    lock.unlock();
    client.AsyncInfer(JetInput(inputs[batch - 1], batch), [&, batch](const InferReply& reply) {
      bool right = reply.status.ok() && reply.output.size() == expected[batch - 1].size();
      for (std::size_t j = 0; right && j < reply.output.size(); ++j) {
        right = std::abs(reply.output[j] - expected[batch - 1][j]) < 1e-6;
      }
      std::lock_guard done_lock(mutex);
      bad += right ? 0 : 1;
      ++done;
      changed.notify_all();
    });
    lock.lock();
  }
  changed.wait_for(lock, 60s, [&] { return done == started; });
  return bad + (count - done);
}

// The counters behind the endpoint are the statistics RPC's: with no traffic in between, every
// value agrees exactly (durations: the RPC's ns = the metric's us x 1000).
TEST(ServerMetrics, EqualTheStatisticsRpcExactly) {
  const auto server = StartWithMetrics();
  ASSERT_NE(server->metrics(), nullptr);
  EXPECT_EQ(server->metrics()->url(),
            fmt::format("http://127.0.0.1:{}/metrics", server->metrics()->port()));
  Client client(At(server->address(), [](ClientOptions& o) { o.channels = 2; }));
  client.WaitForReady(10'000);
  EXPECT_EQ(InferAndCheck(client, 40, 8), 0);
  inference::ModelInferRequest wrong_shape = GoodRequest();
  wrong_shape.mutable_inputs(0)->set_shape(1, 2);
  const auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    EXPECT_FALSE(stub->ModelInfer(&context, wrong_shape, &response).ok());
  }

  const ModelStatsSnapshot rpc = client.ModelStatistics("jet_cnn");
  const ScrapedMetrics scraped = ScrapeMetrics(ParseMetricsUrl(server->metrics()->url()), 10s);
  const std::map<std::string, std::string> model = {{"model", "jet_cnn"}, {"version", "1"}};
  auto value = [&](const char* name) {
    const std::optional<double> found = scraped.Find(name, model);
    EXPECT_TRUE(found.has_value()) << name;
    return found.value_or(-1);
  };
  auto ns = [&](const char* name) {
    return static_cast<std::uint64_t>(std::llround(value(name) * 1e3));
  };
  EXPECT_EQ(rpc.success.count, 40u);
  EXPECT_EQ(rpc.fail.count, 3u);
  EXPECT_EQ(value("nv_inference_request_success"), static_cast<double>(rpc.success.count));
  EXPECT_EQ(value("nv_inference_request_failure"), static_cast<double>(rpc.fail.count));
  EXPECT_EQ(value("nv_inference_count"), static_cast<double>(rpc.inference_count));
  EXPECT_EQ(value("nv_inference_exec_count"), static_cast<double>(rpc.execution_count));
  EXPECT_EQ(ns("nv_inference_request_duration_us"), rpc.success.ns);
  EXPECT_EQ(ns("nv_inference_queue_duration_us"), rpc.queue.ns);
  EXPECT_EQ(ns("nv_inference_compute_input_duration_us"), rpc.compute_input.ns);
  EXPECT_EQ(ns("nv_inference_compute_infer_duration_us"), rpc.compute_infer.ns);
  EXPECT_EQ(ns("nv_inference_compute_output_duration_us"), rpc.compute_output.ns);
  EXPECT_EQ(value("nv_inference_pending_request_count"), 0.0);
  std::uint64_t executions = 0, samples = 0;
  for (const auto& [batch, stats] : rpc.batch_stats) {
    executions += stats.compute_infer.count;
    samples += batch * stats.compute_infer.count;
  }
  EXPECT_EQ(value("sonic_inference_exec_batch_size_count"), static_cast<double>(executions));
  EXPECT_EQ(value("sonic_inference_exec_batch_size_sum"), static_cast<double>(samples));
  // Two instances, which between them ran every execution.
  const double on_0 = *scraped.Find("sonic_inference_instance_exec_count", {{"instance", "0"}});
  const double on_1 = *scraped.Find("sonic_inference_instance_exec_count", {{"instance", "1"}});
  EXPECT_EQ(on_0 + on_1, static_cast<double>(rpc.execution_count));
  EXPECT_GT(*scraped.Find("sonic_inference_instance_busy_duration_us", {{"instance", "0"}}) +
                *scraped.Find("sonic_inference_instance_busy_duration_us", {{"instance", "1"}}),
            0.0);
  EXPECT_TRUE(scraped.Find("nv_cpu_utilization").has_value());
  EXPECT_FALSE(scraped.Find("nv_gpu_utilization").has_value());  // no model on cudnn
}

TEST(ServerMetrics, ABusyMetricsPortIsAnError) {
  const auto first = StartWithMetrics();
  ServerOptions options;
  options.models.push_back(JetCnnOptions());
  options.metrics_port = first->metrics()->port();
  try {
    Server::Start(std::move(options));
    ADD_FAILURE() << "a second server bound the same metrics port";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable) << error.what();
    EXPECT_NE(std::string(error.what()).find("metrics"), std::string::npos) << error.what();
  }
}

// Scrapers hammering the endpoint (bounded: a few threads, a few hundred scrapes), clients sending
// it garbage and idle connections do not disturb inference: every request succeeds with the right
// output, none fails, and afterwards the endpoint still agrees with the statistics RPC.
TEST(ServerMetrics, ScrapeStormAndMalformedRequestsLeaveInferenceAlone) {
  const auto server = StartWithMetrics();
  const int metrics_port = server->metrics()->port();
  const MetricsUrl url = ParseMetricsUrl(server->metrics()->url());
  Client client(At(server->address(), [](ClientOptions& o) { o.channels = 2; }));
  client.WaitForReady(10'000);

  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(ConnectLoopback(metrics_port));
  std::atomic<bool> inferring{true};
  std::atomic<int> scrape_errors{0}, scrapes{0}, wrong_answers{0};
  std::vector<std::thread> storm;
  for (int t = 0; t < 4; ++t) {
    storm.emplace_back([&] {
      for (int i = 0; i < 150 && inferring.load(); ++i) {
        try {
          ScrapeMetrics(url, 10s);
          ++scrapes;
        } catch (const Error&) {
          ++scrape_errors;
        }
      }
    });
  }
  storm.emplace_back([&] {
    const std::vector<std::pair<std::string, std::string>> garbage = {
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"s, "HTTP/1.1 400 Bad Request"},
        {"GET /metrics HTTP/9\r\n\r\n", "HTTP/1.1 400 Bad Request"},
        {"DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
        {"GET /metrics HTTP/1.1\r\nX: " + std::string(100'000, 'x') + "\r\n\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large"},
        {"GET /metr", ""}};
    for (int i = 0; i < 40 && inferring.load(); ++i) {
      for (const auto& [request, status] : garbage) {
        if (StatusLine(RawHttpExchange(metrics_port, request)) != status) ++wrong_answers;
      }
    }
  });
  const int bad = InferAndCheck(client, 400, 16);
  inferring = false;
  for (std::thread& thread : storm) thread.join();
  for (const int fd : idle) close(fd);

  EXPECT_EQ(bad, 0);
  EXPECT_EQ(scrape_errors.load(), 0);
  EXPECT_EQ(wrong_answers.load(), 0);
  EXPECT_GT(scrapes.load(), 0);
  const ModelStatsSnapshot rpc = client.ModelStatistics("jet_cnn");
  EXPECT_EQ(rpc.success.count, 400u);
  EXPECT_EQ(rpc.fail.count, 0u);
  const ScrapedMetrics after = ScrapeMetrics(url, 10s);
  EXPECT_EQ(after.Find("nv_inference_request_success"), 400.0);
  EXPECT_EQ(std::llround(*after.Find("nv_inference_request_duration_us") * 1e3),
            static_cast<long long>(rpc.success.ns));
}

// `sonicbench serve --metrics-port 0` says where its metrics are, and serves them there.
TEST(ServeCommand, MetricsPortIsAnnouncedAndServed) {
  Subprocess serve({SONICBENCH_BIN, "serve", "--model", "jet_cnn", "--backend", "reference",
                    "--port", "0", "--metrics-port", "0"});
  const std::regex announced("metrics on (http://127\\.0\\.0\\.1:[0-9]+/metrics)");
  const std::string banner = serve.ReadUntil(announced, 60s);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, announced)) << banner;
  const ScrapedMetrics scraped = ScrapeMetrics(ParseMetricsUrl(match[1].str()), 10s);
  EXPECT_EQ(scraped.Find("nv_inference_request_success", {{"model", "jet_cnn"}}), 0.0);
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
}

}  // namespace
}  // namespace sonic::service
