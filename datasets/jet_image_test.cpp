#include "datasets/jet_image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "datasets/top_tagging.h"

namespace sonic {
namespace {

FourMomentum Massless(double pt_gev, double eta, double phi) {
  return {pt_gev * std::cosh(eta), pt_gev * std::cos(phi), pt_gev * std::sin(phi),
          pt_gev * std::sinh(eta)};
}

double Sum(std::span<const float> values) {
  return std::accumulate(values.begin(), values.end(), 0.0);
}

float Pixel(const std::vector<float>& image, const JetImageOptions& o, std::int64_t channel,
            std::int64_t row, std::int64_t column) {
  return image[(channel * o.height + row) * o.width + column];
}

TEST(JetImageTest, TheJetAxisLandsInTheCentrePixel) {
  // A hard constituent and soft ones placed symmetrically around it in η and φ at η = 0, where
  // pz is odd in η: the jet axis is exactly the hard constituent's direction.
  const double phi0 = 2.9;
  const std::vector<FourMomentum> jet = {Massless(500, 0.0, phi0), Massless(30, 0.0, phi0 + 0.5),
                                         Massless(30, 0.0, phi0 - 0.5), Massless(20, 0.4, phi0),
                                         Massless(20, -0.4, phi0)};
  for (const std::int64_t size : {224, 40, 41}) {
    JetImageOptions options;
    options.height = options.width = size;
    options.channels = size == 40 ? 1 : 3;
    JetImager imager(options);
    std::vector<float> image(imager.image_size());
    imager.Make(jet, image);
    double px = 0, py = 0;
    for (const auto& c : jet) {
      px += c.px_gev;
      py += c.py_gev;
    }
    const double jet_pt = std::hypot(px, py);
    EXPECT_NEAR(Pixel(image, options, 0, size / 2, size / 2), 500 / jet_pt, 1e-6) << size;
    // Δφ = ±0.5 is a quarter of the window away: rows size/2 ± size/4.
    const auto offset = static_cast<std::int64_t>(std::floor(0.5 * size / 2.0 + 0.5));
    EXPECT_NEAR(Pixel(image, options, 0, size / 2 + offset, size / 2), 30 / jet_pt, 1e-6);
    EXPECT_NEAR(Pixel(image, options, 0, size / 2 - offset, size / 2), 30 / jet_pt, 1e-6);
  }
}

TEST(JetImageTest, AProbeAlongTheAxisOfAGeneratedJetLandsInTheCentrePixel) {
  // Adding a massless constituent parallel to the jet's momentum leaves the axis unchanged, so
  // the only pixel that changes must be the centre one.
  const auto jets = GenerateTopTaggingJets(20, 4);
  for (const std::int64_t size : {224, 40}) {
    JetImageOptions options;
    options.height = options.width = size;
    options.channels = 1;
    JetImager imager(options);
    std::vector<float> before(imager.image_size()), after(imager.image_size());
    for (const Jet& jet : jets) {
      double px = 0, py = 0, pz = 0;
      for (const auto& c : jet.constituents) {
        px += c.px_gev;
        py += c.py_gev;
        pz += c.pz_gev;
      }
      const double pt = std::hypot(px, py);
      std::vector<FourMomentum> probed = jet.constituents;
      probed.push_back(Massless(5.0, std::asinh(pz / pt), std::atan2(py, px)));
      imager.Make(jet.constituents, before);
      imager.Make(probed, after);
      // The probe adds 5 GeV to the jet pT along its axis: every pixel rescales by
      // pt / (pt + 5) and only the centre one gains the probe.
      const double scale = pt / (pt + 5.0);
      for (std::int64_t row = 0; row < size; ++row) {
        for (std::int64_t column = 0; column < size; ++column) {
          const double expected = Pixel(before, options, 0, row, column) * scale +
                                  (row == size / 2 && column == size / 2 ? 5.0 / (pt + 5.0) : 0.0);
          EXPECT_NEAR(Pixel(after, options, 0, row, column), expected, 1e-5);
        }
      }
    }
  }
}

TEST(JetImageTest, PixelSumIsThePtFractionInsideTheWindow) {
  // Constituents at known offsets from a reference direction, some far outside the window;
  // the expectation is computed from the four-vectors alone.
  const double eta0 = -1.1, phi0 = -3.0;  // φ window wraps through -π
  const std::vector<std::pair<double, double>> offsets = {
      {0.0, 0.0}, {0.3, -0.2}, {-0.6, 0.5}, {0.85, 0.85}, {1.4, 0.0}, {0.0, -1.6}, {-1.3, 1.3}};
  const std::vector<double> pts_gev = {300, 80, 40, 30, 60, 50, 20};
  std::vector<FourMomentum> jet;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    jet.push_back(Massless(pts_gev[i], eta0 + offsets[i].first, phi0 + offsets[i].second));
  }
  double e = 0, px = 0, py = 0, pz = 0;
  for (const auto& c : jet) {
    e += c.e_gev;
    px += c.px_gev;
    py += c.py_gev;
    pz += c.pz_gev;
  }
  const double jet_pt = std::hypot(px, py);
  const double axis_eta = std::asinh(pz / jet_pt);
  const double axis_phi = std::atan2(py, px);
  double inside = 0;
  for (const auto& c : jet) {
    const double c_pt = std::hypot(c.px_gev, c.py_gev);
    const double d_eta = std::asinh(c.pz_gev / c_pt) - axis_eta;
    const double d_phi = std::remainder(std::atan2(c.py_gev, c.px_gev) - axis_phi, 2 * M_PI);
    // Offsets are chosen well clear of the window edge (|Δ| = 1) so the half-pixel shift of
    // the grid cannot matter.
    ASSERT_GT(std::abs(std::abs(d_eta) - 1.0), 0.05);
    ASSERT_GT(std::abs(std::abs(d_phi) - 1.0), 0.05);
    if (std::abs(d_eta) < 1.0 && std::abs(d_phi) < 1.0) inside += c_pt;
  }
  ASSERT_LT(inside / jet_pt, 0.99);  // the test means something only if some pT is outside
  for (const std::int64_t size : {224, 40}) {
    JetImageOptions options;
    options.height = options.width = size;
    JetImager imager(options);
    std::vector<float> image(imager.image_size());
    imager.Make(jet, image);
    const std::size_t plane = size * size;
    EXPECT_NEAR(Sum(std::span(image).first(plane)), inside / jet_pt, 1e-5);
    for (int channel = 1; channel < 3; ++channel) {
      EXPECT_TRUE(
          std::equal(image.begin(), image.begin() + plane, image.begin() + channel * plane));
    }
  }
}

TEST(JetImageTest, GeneratedJetsLieWhollyInsideForEveryOption) {
  // Constituents are within ΔR < 0.8 of the axis, so centring on the axis (with or without
  // rotation and flips, which keep distances) keeps all of them in the window.
  const auto jets = GenerateTopTaggingJets(50, 9);
  for (const bool rotate : {false, true}) {
    for (const bool flip : {false, true}) {
      JetImageOptions options;
      options.rotate = rotate;
      options.flip = flip;
      options.channels = 1;
      options.height = options.width = 40;
      JetImager imager(options);
      std::vector<float> image(imager.image_size());
      for (const Jet& jet : jets) {
        double scalar_pt = 0, px = 0, py = 0;
        for (const auto& c : jet.constituents) {
          scalar_pt += std::hypot(c.px_gev, c.py_gev);
          px += c.px_gev;
          py += c.py_gev;
        }
        imager.Make(jet.constituents, image);
        EXPECT_NEAR(Sum(image), scalar_pt / std::hypot(px, py), 1e-4);
      }
    }
  }
}

TEST(JetImageTest, RotationTurnsThePrincipalAxisOntoPhi) {
  const std::vector<FourMomentum> jet = {Massless(300, 0.4, 1.0), Massless(300, -0.4, 1.0)};
  JetImageOptions options;
  options.channels = 1;
  options.height = options.width = 40;
  options.rotate = true;
  JetImager imager(options);
  std::vector<float> image(imager.image_size());
  imager.Make(jet, image);
  for (std::int64_t row = 0; row < 40; ++row) {
    for (std::int64_t column = 0; column < 40; ++column) {
      if (column != 20) {
        EXPECT_EQ(Pixel(image, options, 0, row, column), 0.0f);
      }
    }
  }
  EXPECT_NEAR(Sum(image), 1.0, 1e-5);
}

TEST(JetImageTest, FlipPutsTheHarderSideAtPositiveOffsets) {
  const std::vector<FourMomentum> jet = {Massless(300, -0.3, 1.0 - 0.2),
                                         Massless(100, 0.3, 1.0 + 0.2)};
  JetImageOptions options;
  options.channels = 1;
  options.height = options.width = 40;
  options.centre = JetImageCentre::kLeadingSubjet;
  options.flip = true;
  JetImager imager(options);
  std::vector<float> image(imager.image_size());
  imager.Make(jet, image);
  // Centred on the hard constituent; the softer one (at Δη = +0.6, Δφ = +0.4) must stay in the
  // positive quadrant and the hard one in the centre pixel.
  EXPECT_GT(Pixel(image, options, 0, 20, 20), 0.7f);
  EXPECT_GT(Pixel(image, options, 0, 20 + 8, 20 + 12), 0.2f);
}

TEST(JetImageTest, RejectsABufferOfTheWrongSize) {
  JetImager imager(JetImageOptions{});
  std::vector<float> image(10);
  EXPECT_THROW(imager.Make({}, image), Error);
  EXPECT_THROW(ParseJetImageCentre("middle"), Error);
}

}  // namespace
}  // namespace sonic
