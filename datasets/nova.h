#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace sonic {

// NOvA-like neutrino event images: two detector views, XZ (top) and YZ (side), each 100 planes
// along the beam (z) by 80 cells across it, holding the visible energy deposited per cell in MeV.
// Planes are 6.6 cm apart and cells 4 cm wide; the detector material is low-Z (radiation length
// 38 cm, Moliere radius 10 cm), as in NOvA's liquid-scintillator cells.
inline constexpr std::int64_t kNovaPlanes = 100;
inline constexpr std::int64_t kNovaCells = 80;

enum class NovaClass : std::int32_t {
  kNuMuCC = 0,  // a long, straight muon track plus a hadronic system at the vertex
  kNuECC = 1,   // an electromagnetic shower plus a hadronic system
  kNC = 2,      // hadronic activity only (short prongs, diffuse energy, sometimes a pi0)
};
inline constexpr std::string_view kNovaClassNames = "numu_cc,nue_cc,nc";

struct NovaEvent {
  NovaClass label = NovaClass::kNC;
  std::vector<float> xz;  // [kNovaPlanes][kNovaCells], MeV
  std::vector<float> yz;  // [kNovaPlanes][kNovaCells], MeV
};

// Generates events by stepping charged tracks through the detector in 1 cm steps (MIP dE/dx for
// muons and pions, higher for protons, Landau-like fluctuations) and electromagnetic showers
// from a Gamma longitudinal profile with a depth-growing transverse spread; plus a few noise
// hits. Deterministic for a seed. Not thread-safe: one per thread.
class NovaGenerator {
 public:
  explicit NovaGenerator(std::uint64_t seed) : random_(seed) {}
  NovaEvent Next(NovaClass label);

 private:
  Random random_;
};

// `events` events, the classes cycling numu CC, nue CC, NC.
std::vector<NovaEvent> GenerateNovaEvents(std::int64_t events, std::uint64_t seed);

// File layout: root attributes sonic_dataset = "nova", class_names, units = "MeV"; datasets
// `xz`, `yz` [N, 100, 80] float32 and `labels` [N] int32.
void WriteNovaFile(const std::string& path, std::span<const NovaEvent> events);
// Reads events [first, first + max_events) (max_events < 0: to the end). Throws
// Error(kInvalidArgument) for a file of another layout.
std::vector<NovaEvent> ReadNovaFile(const std::string& path, std::int64_t first = 0,
                                    std::int64_t max_events = -1);

// Maps an event onto a [C, H, W] network input (3x224x224 for ResNet-50): channel 0 the XZ view,
// channel 1 the YZ view, channel 2 their mean (with C = 1: the mean alone); each view scaled by
// the event's largest cell energy (pixels in [0, 1]) and resized bilinearly from 100 planes
// (rows) x 80 cells (columns). Throws Error(kUnsupported) for C other than 1 or 3.
void NovaToImage(const NovaEvent& event, const Shape& shape, std::span<float> image);

}  // namespace sonic
