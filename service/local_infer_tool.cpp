// Test helper for the interoperability test: runs a built-in model in-process on float32 samples
// read from a file and writes the outputs, so that a Python client's remote answer can be
// compared with local inference on the same samples.
//   service_local_infer MODEL BACKEND BATCH INPUT.bin OUTPUT.bin
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "core/error.h"
#include "core/parse.h"
#include "models/zoo.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    fmt::print(stderr, "usage: {} MODEL BACKEND BATCH INPUT.bin OUTPUT.bin\n", argv[0]);
    return 2;
  }
  try {
    sonic::Graph graph = sonic::BuildModel(argv[1]);
    sonic::FoldBatchNorm(graph);
    const int batch = static_cast<int>(sonic::ParseIntInRange(argv[3], "BATCH", 1, 1 << 20));
    sonic::CompileOptions compile;
    compile.max_batch = batch;
    const auto executable = sonic::MakeBackend(argv[2])->Compile(graph, compile);
    std::vector<float> input(
        static_cast<std::size_t>(batch * sonic::NumElements(graph.input_shape())));
    std::vector<float> output(
        static_cast<std::size_t>(batch * sonic::NumElements(graph.output_shape())));
    std::ifstream in(argv[4], std::ios::binary);
    in.read(reinterpret_cast<char*>(input.data()), static_cast<std::streamsize>(input.size() * 4));
    if (in.gcount() != static_cast<std::streamsize>(input.size() * 4)) {
      sonic::Throw(sonic::ErrorKind::kIo, "{}: expected {} bytes", argv[4], input.size() * 4);
    }
    executable->Run(input, batch, output);
    std::ofstream out(argv[5], std::ios::binary);
    out.write(reinterpret_cast<const char*>(output.data()),
              static_cast<std::streamsize>(output.size() * 4));
    return out ? 0 : 1;
  } catch (const sonic::Error& error) {
    fmt::print(stderr, "service_local_infer: {}\n", error.what());
    return 1;
  }
}
