#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "datasets/image_set.h"
#include "models/graph.h"

namespace sonic {

// A tagger's physics performance measured through a target (docs/SWEEP.md "Accuracy"): labelled
// samples through a local backend at a precision, or through a KServe v2 server, their outputs
// scored by ScoreTagger (results/physics_metrics.h) against the labels and the reference
// backend's fp32 outputs on the same samples. `sonicbench accuracy` and the sweep's
// `accuracy = on` both measure with these. Untimed and synchronous: one execution or request at a
// time on the caller's thread (a backend uses its own threads). Errors throw sonic::Error.

// Labelled samples in a model's input shape, with the reference backend's fp32 outputs on them.
struct LabelledSamples {
  std::string dataset;           // the file they came from
  ImageSet set;                  // images [N, input shape] and labels
  std::vector<float> reference;  // [N, outputs per sample]
};

// The first `max_samples` of `dataset` (LoadImages: a top-tagging, NOvA or image-set file in the
// graph's input shape) and the reference backend's fp32 outputs on them (`threads` CPU threads;
// 0: all). Throws Error(kInvalidArgument) for a file without labels or with one class only.
LabelledSamples LoadLabelledSamples(const Graph& graph, const std::string& dataset,
                                    std::int64_t max_samples, int threads);

// `samples` inputs through one executable of `backend` compiled with `options`, in executions of
// at most options.max_batch: the output rows, in order.
std::vector<float> RunOnBackend(const Backend& backend, const Graph& graph, CompileOptions options,
                                std::span<const float> inputs, std::int64_t samples);

// `samples` inputs through `model` on the KServe v2 server at `address` (host:port), in requests
// of at most `batch` samples of `input_shape`: the output rows, in order. Waits up to 30 s for the
// server to be ready; a failed request throws Error(kBackend) naming the model and server.
std::vector<float> RunOnServer(const std::string& address, const std::string& model,
                               const Shape& input_shape, std::span<const float> inputs,
                               std::int64_t samples, int batch);

}  // namespace sonic
