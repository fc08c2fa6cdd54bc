#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/four_momentum.h"

namespace sonic {

// Where the image window is centred.
enum class JetImageCentre {
  kJetAxis,        // the jet's momentum direction (the paper's choice; the default)
  kPtCentroid,     // the pT-weighted centroid of the constituents in (η, φ)
  kLeadingSubjet,  // the pT-weighted centroid of the constituents within ΔR < 0.2 of the hardest
};

std::string_view JetImageCentreName(JetImageCentre centre);  // "axis", "centroid", "subjet"
// Throws Error(kInvalidArgument) naming the accepted names.
JetImageCentre ParseJetImageCentre(std::string_view name);

// Jet-image preprocessing as in Duarte et al. 2019: a square window in (Δη, Δφ) around the
// centre, each pixel the summed constituent pT divided by the jet pT, the one channel copied
// into every channel. Layout [channels, height, width]; the row grows with Δφ, the column with
// Δη; pixels are 2 * half_width / size wide and pixel (height / 2, width / 2) is centred on the
// centre, so the window is [-half_width, half_width) shifted by half a pixel for even sizes.
struct JetImageOptions {
  std::int64_t channels = 3;
  std::int64_t height = 224;
  std::int64_t width = 224;
  double half_width = 1.0;  // in η and in φ (radians)
  JetImageCentre centre = JetImageCentre::kJetAxis;
  // Rotate about the centre so the pT-weighted principal axis points along +Δφ (the rows).
  bool rotate = false;
  // Reflect so that the half-planes Δη > 0 and Δφ > 0 hold at least as much pT as their mirror
  // images (the second hardest part of the jet always lands in the same quadrant).
  bool flip = false;
};

// One line for provenance: "224x224x3 window=1 centre=axis rotate=0 flip=0 pixel=pT/jet_pT".
std::string DescribeJetImageOptions(const JetImageOptions& options);

// Makes jet images with reusable scratch space: one per thread, not thread-safe.
class JetImager {
 public:
  // Throws Error(kInvalidArgument) for non-positive sizes or window.
  explicit JetImager(const JetImageOptions& options);

  const JetImageOptions& options() const { return options_; }
  std::size_t image_size() const;  // channels * height * width

  // Writes the whole image (zeros included) for one jet. Constituents with zero pT (the
  // dataset's padding) are skipped; the jet pT is that of the sum of all constituents, so pixel
  // sums are the pT fraction inside the window. A jet with no pT gives an all-zero image.
  // image.size() must equal image_size().
  void Make(std::span<const FourMomentum> constituents, std::span<float> image);

 private:
  JetImageOptions options_;
  std::vector<double> pt_, eta_, phi_;  // scratch, per constituent
};

}  // namespace sonic
