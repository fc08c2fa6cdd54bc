// `sonicbench dataset generate|images|info`: synthetic physics datasets (datasets/), cached
// jet and event images, and a summary of any dataset file.

#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>

#include "bench/cli/commands.h"
#include "core/error.h"
#include "datasets/image_set.h"
#include "datasets/jet_image.h"
#include "datasets/nova.h"
#include "datasets/pandas_table.h"
#include "datasets/sample_source.h"
#include "datasets/top_tagging.h"

namespace sonic::cli {
namespace {

struct GenerateArgs {
  std::string kind;
  std::int64_t jets = -1;
  std::int64_t events = -1;
  std::uint64_t seed = 1;
  int ttv = 0;
  std::string out;
};

void Generate(const GenerateArgs& args) {
  if (args.kind == "top-tagging") {
    if (args.jets < 0 || args.events >= 0) {
      Throw(ErrorKind::kInvalidArgument, "--kind top-tagging takes --jets N (not --events)");
    }
    WriteTopTaggingFile(args.out, GenerateTopTaggingJets(args.jets, args.seed, args.ttv));
    fmt::print("{}: {} jets ({} top, {} QCD), seed {}, top-tagging layout (pandas key 'table')\n",
               args.out, args.jets, (args.jets + 1) / 2, args.jets / 2, args.seed);
  } else if (args.kind == "nova") {
    if (args.events < 0 || args.jets >= 0) {
      Throw(ErrorKind::kInvalidArgument, "--kind nova takes --events N (not --jets)");
    }
    WriteNovaFile(args.out, GenerateNovaEvents(args.events, args.seed));
    fmt::print("{}: {} events (numu CC, nue CC, NC in turn), seed {}, views 2x{}x{}\n", args.out,
               args.events, args.seed, kNovaPlanes, kNovaCells);
  } else {
    Throw(ErrorKind::kInvalidArgument, "--kind {}: expected top-tagging or nova", args.kind);
  }
}

struct ImagesArgs {
  std::string in;
  std::string out;
  std::int64_t channels = 3;
  std::int64_t size = 224;
  std::string centre = "axis";
  bool rotate = false;
  bool flip = false;
  std::int64_t max = -1;
};

void Images(const ImagesArgs& args) {
  JetImageOptions options;
  options.centre = ParseJetImageCentre(args.centre);
  options.rotate = args.rotate;
  options.flip = args.flip;
  const ImageSet set =
      LoadImages(args.in, {args.channels, args.size, args.size}, options, args.max);
  WriteImageSet(args.out, set);
  fmt::print("{}: {} images {} from {} ({}): {}\n", args.out, set.size(),
             ShapeToString(set.sample_shape), args.in, set.kind, set.preprocessing);
}

void Info(const std::string& path) {
  const std::string kind = DetectDatasetKind(path);
  std::map<std::int32_t, std::int64_t> counts;
  std::string classes;
  std::string details;
  if (kind == "top-tagging") {
    // The public files hold 1.2 M jets: read them in batches rather than all at once.
    constexpr std::int64_t kBatch = 10000;
    const std::int64_t rows = PandasTableReader(path).rows();
    double constituents = 0.0;
    for (std::int64_t first = 0; first < rows; first += kBatch) {
      for (const Jet& jet : ReadTopTaggingFile(path, first, kBatch)) {
        ++counts[jet.is_signal ? 1 : 0];
        constituents += static_cast<double>(jet.constituents.size());
      }
    }
    classes = "qcd,top";
    details = fmt::format("mean constituents per jet {:.1f}",
                          rows == 0 ? 0.0 : constituents / static_cast<double>(rows));
  } else if (kind == "nova") {
    for (const NovaEvent& event : ReadNovaFile(path))
      ++counts[static_cast<std::int32_t>(event.label)];
    classes = std::string(kNovaClassNames);
    details = fmt::format("views XZ and YZ, {} planes x {} cells, MeV", kNovaPlanes, kNovaCells);
  } else {
    const ImageSet set = ReadImageSet(path);
    for (std::int32_t label : set.labels) ++counts[label];
    classes = set.class_names;
    details = fmt::format("images {} of {} from {}: {}", ShapeToString(set.sample_shape), set.kind,
                          set.source, set.preprocessing);
  }
  std::int64_t total = 0;
  std::string per_label;
  for (const auto& [label, count] : counts) {
    total += count;
    per_label += fmt::format("{}{}={}", per_label.empty() ? "" : ", ", label, count);
  }
  fmt::print("{}\n  kind     {}\n  samples  {} (labels {}; classes {})\n  {}\n", path, kind, total,
             per_label, classes, details);
}

}  // namespace

void RegisterDatasetCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("dataset", "Generate, preprocess and inspect physics datasets");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  sonicbench dataset generate --kind top-tagging --jets 10000 --seed 1 --out jets.h5\n"
      "  sonicbench dataset generate --kind nova --events 3000 --out nova.h5\n"
      "  sonicbench dataset images --in jets.h5 --out jet_images.h5 --size 40 --channels 1\n"
      "  sonicbench dataset info jets.h5\n"
      "Layouts and preprocessing: docs/DATASETS.md.");

  auto generate = std::make_shared<GenerateArgs>();
  auto* gen = cmd->add_subcommand("generate", "Generate a synthetic dataset file");
  gen->add_option("--kind", generate->kind, "top-tagging (boosted top and QCD jets) or nova")
      ->required();
  gen->add_option("--jets", generate->jets, "Jets to generate (top-tagging; half top, half QCD)")
      ->check(CLI::NonNegativeNumber);
  gen->add_option("--events", generate->events, "Events to generate (nova; classes in turn)")
      ->check(CLI::NonNegativeNumber);
  gen->add_option("--seed", generate->seed, "Generator seed (same seed, same file)");
  gen->add_option("--ttv", generate->ttv, "Value of the ttv column: 0 train, 1 test, 2 validation")
      ->check(CLI::Range(0, 2));
  gen->add_option("--out", generate->out, "Output HDF5 file")->required();
  gen->callback([generate] { Generate(*generate); });

  auto images = std::make_shared<ImagesArgs>();
  auto* img = cmd->add_subcommand(
      "images", "Preprocess a dataset file into a cached image set (images [N,C,H,W] + labels)");
  img->add_option("--in", images->in, "Top-tagging, NOvA or image-set HDF5 file")->required();
  img->add_option("--out", images->out, "Output image-set HDF5 file")->required();
  img->add_option("--size", images->size, "Image height and width in pixels (224, 40, ...)")
      ->check(CLI::PositiveNumber);
  img->add_option("--channels", images->channels, "Channels: 3 for ResNet-50, 1 for jet_cnn")
      ->check(CLI::PositiveNumber);
  img->add_option("--centre", images->centre, "Jet images: centre on axis, centroid or subjet");
  img->add_flag("--rotate", images->rotate, "Jet images: principal axis along +dphi");
  img->add_flag("--flip", images->flip, "Jet images: harder halves at positive deta and dphi");
  img->add_option("--max", images->max, "At most this many samples (default: all)");
  img->callback([images] { Images(*images); });

  auto info_path = std::make_shared<std::string>();
  auto* info = cmd->add_subcommand("info", "Summarise a dataset file: kind, samples, labels");
  info->add_option("file", *info_path, "HDF5 dataset file")->required();
  info->callback([info_path] { Info(*info_path); });
}

}  // namespace sonic::cli
