#include "datasets/jet_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace sonic {
namespace {

constexpr double kSubjetRadius = 0.2;

}  // namespace

std::string_view JetImageCentreName(JetImageCentre centre) {
  switch (centre) {
    case JetImageCentre::kJetAxis:
      return "axis";
    case JetImageCentre::kPtCentroid:
      return "centroid";
    case JetImageCentre::kLeadingSubjet:
      return "subjet";
  }
  return "unknown";
}

JetImageCentre ParseJetImageCentre(std::string_view name) {
  for (JetImageCentre centre :
       {JetImageCentre::kJetAxis, JetImageCentre::kPtCentroid, JetImageCentre::kLeadingSubjet}) {
    if (name == JetImageCentreName(centre)) return centre;
  }
  Throw(ErrorKind::kInvalidArgument,
        "unknown jet-image centre '{}' (expected axis, centroid or subjet)", name);
}

std::string DescribeJetImageOptions(const JetImageOptions& options) {
  return fmt::format("{}x{}x{} window={} centre={} rotate={:d} flip={:d} pixel=pT/jet_pT",
                     options.height, options.width, options.channels, options.half_width,
                     JetImageCentreName(options.centre), options.rotate, options.flip);
}

JetImager::JetImager(const JetImageOptions& options) : options_(options) {
  if (options.channels <= 0 || options.height <= 0 || options.width <= 0) {
    Throw(ErrorKind::kInvalidArgument, "jet image size {}x{}x{} must be positive", options.height,
          options.width, options.channels);
  }
  if (!(options.half_width > 0.0)) {
    Throw(ErrorKind::kInvalidArgument, "jet image half width {} must be positive",
          options.half_width);
  }
}

std::size_t JetImager::image_size() const {
  return static_cast<std::size_t>(options_.channels * options_.height * options_.width);
}

void JetImager::Make(std::span<const FourMomentum> constituents, std::span<float> image) {
  if (image.size() != image_size()) {
    Throw(ErrorKind::kInvalidArgument, "jet image buffer holds {} floats, expected {}",
          image.size(), image_size());
  }
  const std::int64_t height = options_.height;
  const std::int64_t width = options_.width;
  const std::size_t plane = static_cast<std::size_t>(height * width);
  std::fill(image.begin(), image.begin() + plane, 0.0f);

  pt_.clear();
  eta_.clear();
  phi_.clear();
  FourMomentum jet;
  std::size_t hardest = 0;
  for (const FourMomentum& c : constituents) {
    const double pt = c.pt_gev();
    if (pt == 0.0) continue;
    jet += c;
    if (pt > (pt_.empty() ? 0.0 : pt_[hardest])) hardest = pt_.size();
    pt_.push_back(pt);
    eta_.push_back(std::asinh(c.pz_gev / pt));
    phi_.push_back(std::atan2(c.py_gev, c.px_gev));
  }
  const double jet_pt = jet.pt_gev();
  const std::size_t n = pt_.size();
  if (n > 0 && jet_pt > 0.0) {
    double centre_eta = jet.eta();
    double centre_phi = jet.phi();
    if (options_.centre != JetImageCentre::kJetAxis) {
      // Both alternatives are pT-weighted centroids: of everything, or of the leading subjet.
      const double seed_eta =
          options_.centre == JetImageCentre::kLeadingSubjet ? eta_[hardest] : centre_eta;
      const double seed_phi =
          options_.centre == JetImageCentre::kLeadingSubjet ? phi_[hardest] : centre_phi;
      double sum_pt = 0.0, sum_eta = 0.0, sum_phi = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double d_eta = eta_[i] - seed_eta;
        const double d_phi = DeltaPhi(phi_[i], seed_phi);
        if (options_.centre == JetImageCentre::kLeadingSubjet &&
            d_eta * d_eta + d_phi * d_phi >= kSubjetRadius * kSubjetRadius) {
          continue;
        }
        sum_pt += pt_[i];
        sum_eta += pt_[i] * d_eta;
        sum_phi += pt_[i] * d_phi;
      }
      centre_eta = seed_eta + sum_eta / sum_pt;
      centre_phi = seed_phi + sum_phi / sum_pt;
    }
    // From here eta_/phi_ hold offsets from the centre.
    for (std::size_t i = 0; i < n; ++i) {
      eta_[i] -= centre_eta;
      phi_[i] = DeltaPhi(phi_[i], centre_phi);
    }
    if (options_.rotate) {
      double see = 0.0, spp = 0.0, sep = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        see += pt_[i] * eta_[i] * eta_[i];
        spp += pt_[i] * phi_[i] * phi_[i];
        sep += pt_[i] * eta_[i] * phi_[i];
      }
      // Major principal axis at angle theta from +Δη; turn it onto +Δφ.
      const double theta = 0.5 * std::atan2(2.0 * sep, see - spp);
      const double turn = 0.5 * std::numbers::pi - theta;
      const double c = std::cos(turn), s = std::sin(turn);
      for (std::size_t i = 0; i < n; ++i) {
        const double e = eta_[i], p = phi_[i];
        eta_[i] = c * e - s * p;
        phi_[i] = s * e + c * p;
      }
    }
    if (options_.flip) {
      double eta_balance = 0.0, phi_balance = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        eta_balance += eta_[i] > 0.0 ? pt_[i] : (eta_[i] < 0.0 ? -pt_[i] : 0.0);
        phi_balance += phi_[i] > 0.0 ? pt_[i] : (phi_[i] < 0.0 ? -pt_[i] : 0.0);
      }
      const double eta_sign = eta_balance < 0.0 ? -1.0 : 1.0;
      const double phi_sign = phi_balance < 0.0 ? -1.0 : 1.0;
      for (std::size_t i = 0; i < n; ++i) {
        eta_[i] *= eta_sign;
        phi_[i] *= phi_sign;
      }
    }
    // Pixel j is centred at (j - width / 2) * pixel: offset by half a pixel before flooring.
    const double column_scale = static_cast<double>(width) / (2.0 * options_.half_width);
    const double row_scale = static_cast<double>(height) / (2.0 * options_.half_width);
    // width / 2 in integers, as in the pixel centres above (rounded down for an odd size).
    const std::int64_t center_column = width / 2;
    const std::int64_t center_row = height / 2;
    const double column_offset = static_cast<double>(center_column) + 0.5;
    const double row_offset = static_cast<double>(center_row) + 0.5;
    const double inverse_jet_pt = 1.0 / jet_pt;
    for (std::size_t i = 0; i < n; ++i) {
      const double column = std::floor(eta_[i] * column_scale + column_offset);
      const double row = std::floor(phi_[i] * row_scale + row_offset);
      if (column < 0.0 || column >= static_cast<double>(width) || row < 0.0 ||
          row >= static_cast<double>(height)) {
        continue;
      }
      image[static_cast<std::size_t>(row) * width + static_cast<std::size_t>(column)] +=
          static_cast<float>(pt_[i] * inverse_jet_pt);
    }
  }
  for (std::int64_t channel = 1; channel < options_.channels; ++channel) {
    std::copy(image.begin(), image.begin() + plane, image.begin() + channel * plane);
  }
}

}  // namespace sonic
