#include "datasets/top_tagging.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace sonic {
namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Jet mass from the constituents, computed here from E^2 - p^2 rather than through Jet helpers.
double MassGeV(const Jet& jet) {
  double e = 0, px = 0, py = 0, pz = 0;
  for (const FourMomentum& c : jet.constituents) {
    e += c.e_gev;
    px += c.px_gev;
    py += c.py_gev;
    pz += c.pz_gev;
  }
  return std::sqrt(std::max(0.0, e * e - px * px - py * py - pz * pz));
}

TEST(TopTaggingGeneratorTest, TopJetsPeakAtTheTopMassQcdJetsFallBelow) {
  TopTaggingGenerator generator(7);
  std::vector<double> top_masses, qcd_masses;
  for (int i = 0; i < 2000; ++i) {
    top_masses.push_back(MassGeV(generator.Next(true)));
    qcd_masses.push_back(MassGeV(generator.Next(false)));
  }
  const double top_median = Median(top_masses);
  const double qcd_median = Median(qcd_masses);
  EXPECT_GT(top_median, 150.0);
  EXPECT_LT(top_median, 200.0);
  EXPECT_LT(qcd_median, 120.0);
  // Falling: the QCD mass distribution has most jets below the top window.
  const auto qcd_in_top_window = std::count_if(qcd_masses.begin(), qcd_masses.end(),
                                               [](double m) { return m > 150.0 && m < 200.0; });
  EXPECT_LT(qcd_in_top_window, 2000 / 5);
  RecordProperty("top_median_mass_gev", std::to_string(top_median));
  RecordProperty("qcd_median_mass_gev", std::to_string(qcd_median));
}

TEST(TopTaggingGeneratorTest, JetsAreInsideTheAcceptanceAndOrdered) {
  TopTaggingGenerator generator(3);
  for (int i = 0; i < 500; ++i) {
    const Jet jet = generator.Next(i % 2 == 0);
    ASSERT_FALSE(jet.constituents.empty());
    ASSERT_LE(jet.constituents.size(), 200u);
    double px = 0, py = 0, pz = 0;
    for (const FourMomentum& c : jet.constituents) {
      px += c.px_gev;
      py += c.py_gev;
      pz += c.pz_gev;
    }
    const double pt = std::hypot(px, py);
    const double eta = std::asinh(pz / pt);
    const double phi = std::atan2(py, px);
    EXPECT_GE(pt, 550.0);
    EXPECT_LE(pt, 650.0);
    EXPECT_LT(std::abs(eta), 2.0);
    for (std::size_t k = 0; k < jet.constituents.size(); ++k) {
      const FourMomentum& c = jet.constituents[k];
      const double c_pt = std::hypot(c.px_gev, c.py_gev);
      const double d_phi = std::remainder(std::atan2(c.py_gev, c.px_gev) - phi, 2 * M_PI);
      // The axis of the kept constituents can move slightly from the last clustering pass.
      EXPECT_LT(std::hypot(std::asinh(c.pz_gev / c_pt) - eta, d_phi), 0.8 + 0.05);
      if (k > 0) {
        EXPECT_LE(c_pt, std::hypot(jet.constituents[k - 1].px_gev, jet.constituents[k - 1].py_gev));
      }
    }
    if (jet.is_signal) {
      EXPECT_NEAR(jet.truth.mass_gev(), 173.0, 7.0);
    } else {
      EXPECT_EQ(jet.truth.e_gev, 0.0);
    }
  }
}

TEST(TopTaggingGeneratorTest, SameSeedSameJets) {
  const auto a = GenerateTopTaggingJets(20, 11);
  const auto b = GenerateTopTaggingJets(20, 11);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].constituents.size(), b[i].constituents.size());
    EXPECT_EQ(a[i].constituents[0].e_gev, b[i].constituents[0].e_gev);
  }
}

TEST(TopTaggingFileTest, WriteThenReadGivesTheSameJets) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sonic_top_tagging_" + std::to_string(::getpid()) + ".h5");
  const auto jets = GenerateTopTaggingJets(37, 5, 2);
  WriteTopTaggingFile(path.string(), jets);
  const auto back = ReadTopTaggingFile(path.string());
  ASSERT_EQ(back.size(), jets.size());
  for (std::size_t i = 0; i < jets.size(); ++i) {
    EXPECT_EQ(back[i].is_signal, jets[i].is_signal);
    EXPECT_EQ(back[i].ttv, 2);
    EXPECT_EQ(back[i].truth.pz_gev, jets[i].truth.pz_gev);
    ASSERT_EQ(back[i].constituents.size(), jets[i].constituents.size());
    for (std::size_t k = 0; k < jets[i].constituents.size(); ++k) {
      EXPECT_EQ(back[i].constituents[k].px_gev, jets[i].constituents[k].px_gev);
    }
  }
  const auto slice = ReadTopTaggingFile(path.string(), 30, 100);
  ASSERT_EQ(slice.size(), 7u);
  EXPECT_EQ(slice[0].constituents[0].e_gev, jets[30].constituents[0].e_gev);
  std::filesystem::remove(path);
}

TEST(TopTaggingFileTest, ColumnsFollowThePublicLayout) {
  const auto columns = TopTaggingColumns();
  ASSERT_EQ(columns.size(), 806u);
  EXPECT_EQ(columns[0], "E_0");
  EXPECT_EQ(columns[3], "PZ_0");
  EXPECT_EQ(columns[4], "E_1");
  EXPECT_EQ(columns[799], "PZ_199");
  EXPECT_EQ(columns[800], "truthE");
  EXPECT_EQ(columns[805], "is_signal_new");
}

}  // namespace
}  // namespace sonic
