#include "datasets/top_tagging.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "datasets/pandas_table.h"

namespace sonic {
namespace {

constexpr double kTopWidthGeV = 1.4;
constexpr double kWWidthGeV = 2.1;
constexpr double kBottomMassGeV = 4.7;
constexpr double kMinConstituentPtGeV = 0.5;
constexpr int kTruthColumns = 6;  // truthE, truthPX, truthPY, truthPZ, ttv, is_signal_new
constexpr std::int64_t kReadBatchRows = 1024;

// Boosts `p` from the rest frame of `frame` into the frame in which `frame` has its momentum.
FourMomentum Boost(const FourMomentum& p, const FourMomentum& frame) {
  const double m = frame.mass_gev();
  const double bx = frame.px_gev / frame.e_gev;
  const double by = frame.py_gev / frame.e_gev;
  const double bz = frame.pz_gev / frame.e_gev;
  const double gamma = frame.e_gev / m;
  const double bp = bx * p.px_gev + by * p.py_gev + bz * p.pz_gev;
  const double b2 = bx * bx + by * by + bz * bz;
  const double gamma2 = b2 > 0.0 ? (gamma - 1.0) / b2 : 0.0;
  const double scale = gamma2 * bp + gamma * p.e_gev;
  return {gamma * (p.e_gev + bp), p.px_gev + scale * bx, p.py_gev + scale * by,
          p.pz_gev + scale * bz};
}

double BreitWigner(Random& random, double mass_gev, double width_gev) {
  // Cauchy by inverse transform, truncated to +-5 widths so a tail draw cannot open a channel.
  double m;
  do {
    m = mass_gev + 0.5 * width_gev * std::tan(std::numbers::pi * (random.Uniform() - 0.5));
  } while (std::abs(m - mass_gev) > 5.0 * width_gev);
  return m;
}

// Two-body decay of `parent` (mass from its four-momentum) into daughters of masses m1, m2:
// back to back in the parent's rest frame along an isotropic direction, then boosted.
std::pair<FourMomentum, FourMomentum> TwoBodyDecay(Random& random, const FourMomentum& parent,
                                                   double m1_gev, double m2_gev) {
  const double m = parent.mass_gev();
  const double p_star = std::sqrt((m * m - (m1_gev + m2_gev) * (m1_gev + m2_gev)) *
                                  (m * m - (m1_gev - m2_gev) * (m1_gev - m2_gev))) /
                        (2.0 * m);
  const double cos_theta = random.Uniform(-1.0, 1.0);
  const double sin_theta = std::sqrt(1.0 - cos_theta * cos_theta);
  const double phi = random.Uniform(-std::numbers::pi, std::numbers::pi);
  const double px = p_star * sin_theta * std::cos(phi);
  const double py = p_star * sin_theta * std::sin(phi);
  const double pz = p_star * cos_theta;
  const FourMomentum a{std::sqrt(p_star * p_star + m1_gev * m1_gev), px, py, pz};
  const FourMomentum b{std::sqrt(p_star * p_star + m2_gev * m2_gev), -px, -py, -pz};
  return {Boost(a, parent), Boost(b, parent)};
}

// Fragments a parton into massless constituents: momentum fractions from a hard-ish spectrum and
// an angular offset from a transverse kick, so soft constituents spread wider than hard ones.
void Fragment(Random& random, const FourMomentum& parton, std::vector<FourMomentum>& out) {
  const double pt = parton.pt_gev();
  const double eta = parton.eta();
  const double phi = parton.phi();
  const int count =
      2 + static_cast<int>(2.5 * std::log(pt)) + static_cast<int>(random.Uniform() * 4.0);
  double weights[64];
  double total = 0.0;
  const int n = std::min(count, 64);
  for (int i = 0; i < n; ++i) {
    weights[i] = std::pow(random.Exponential(1.0), 1.5);
    total += weights[i];
  }
  constexpr double kKickGeV = 0.8;   // transverse momentum of a fragment relative to its parton
  constexpr double kMaxAngle = 0.4;  // fragmentation stays collimated
  for (int i = 0; i < n; ++i) {
    const double fragment_pt = pt * weights[i] / total;
    const double d_eta =
        std::clamp(random.Normal(0.0, kKickGeV) / fragment_pt, -kMaxAngle, kMaxAngle);
    const double d_phi =
        std::clamp(random.Normal(0.0, kKickGeV) / fragment_pt, -kMaxAngle, kMaxAngle);
    out.push_back(FourMomentum::FromPtEtaPhiM(fragment_pt, eta + d_eta, phi + d_phi, 0.0));
  }
}

// A parton emitted from `parent` with momentum fraction z at angle theta (azimuth alpha around
// it); the parent recoils so the pair's direction is the original one.
std::pair<FourMomentum, FourMomentum> Split(const FourMomentum& parent, double z, double theta,
                                            double alpha) {
  const double pt = parent.pt_gev();
  const double eta = parent.eta();
  const double phi = parent.phi();
  const double d_eta = theta * std::cos(alpha);
  const double d_phi = theta * std::sin(alpha);
  return {
      FourMomentum::FromPtEtaPhiM((1.0 - z) * pt, eta - z * d_eta, phi - z * d_phi, 0.0),
      FourMomentum::FromPtEtaPhiM(z * pt, eta + (1.0 - z) * d_eta, phi + (1.0 - z) * d_phi, 0.0)};
}

double LogUniform(Random& random, double low, double high) {
  return low * std::exp(random.Uniform() * std::log(high / low));
}

// Soft gluons at wide angle: few GeV each, angle log-distributed up to the jet radius.
void SoftRadiation(Random& random, const FourMomentum& axis, int count, double mean_pt_gev,
                   std::vector<FourMomentum>& out) {
  const double eta = axis.eta();
  const double phi = axis.phi();
  for (int i = 0; i < count; ++i) {
    const double theta = LogUniform(random, 0.05, kJetRadius);
    const double alpha = random.Uniform(-std::numbers::pi, std::numbers::pi);
    out.push_back(FourMomentum::FromPtEtaPhiM(random.Exponential(1.0 / mean_pt_gev),
                                              eta + theta * std::cos(alpha),
                                              phi + theta * std::sin(alpha), 0.0));
  }
}

}  // namespace

FourMomentum Jet::Momentum() const {
  FourMomentum sum;
  for (const FourMomentum& c : constituents) sum += c;
  return sum;
}

std::vector<std::string> TopTaggingColumns() {
  std::vector<std::string> columns;
  columns.reserve(4 * kTopTaggingMaxConstituents + kTruthColumns);
  for (int i = 0; i < kTopTaggingMaxConstituents; ++i) {
    for (const char* component : {"E", "PX", "PY", "PZ"}) {
      columns.push_back(fmt::format("{}_{}", component, i));
    }
  }
  for (const char* name : {"truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"}) {
    columns.emplace_back(name);
  }
  return columns;
}

Jet TopTaggingGenerator::Next(bool signal) {
  std::vector<FourMomentum> particles;
  std::vector<FourMomentum> partons;
  for (;;) {
    particles.clear();
    partons.clear();
    Jet jet;
    jet.is_signal = signal;
    // The parent's pT range is wider than the jet's: out-of-cone loss and smearing move the jet.
    const double parent_pt = random_.Uniform(530.0, 700.0);
    const double parent_eta = random_.Uniform(-kJetMaxAbsEta, kJetMaxAbsEta);
    const double parent_phi = random_.Uniform(-std::numbers::pi, std::numbers::pi);
    FourMomentum axis;
    if (signal) {
      const FourMomentum top = FourMomentum::FromPtEtaPhiM(
          parent_pt, parent_eta, parent_phi, BreitWigner(random_, kTopMassGeV, kTopWidthGeV));
      const double w_mass = BreitWigner(random_, kWMassGeV, kWWidthGeV);
      const auto [b, w] = TwoBodyDecay(random_, top, kBottomMassGeV, w_mass);
      const auto [q1, q2] = TwoBodyDecay(random_, w, 0.0, 0.0);
      const double top_eta = top.eta();
      const double top_phi = top.phi();
      partons = {b, q1, q2};
      const bool contained =
          std::all_of(partons.begin(), partons.end(), [&](const FourMomentum& q) {
            return DeltaR(q.eta(), q.phi(), top_eta, top_phi) < kJetRadius;
          });
      if (!contained) continue;
      jet.truth = top;
      axis = top;
    } else {
      const FourMomentum quark =
          FourMomentum::FromPtEtaPhiM(parent_pt, parent_eta, parent_phi, 0.0);
      // One perturbative splitting with the soft and collinear enhancements dz/z, dθ/θ.
      const auto [hard, emitted] =
          Split(quark, LogUniform(random_, 0.01, 0.5), LogUniform(random_, 0.02, kJetRadius),
                random_.Uniform(-std::numbers::pi, std::numbers::pi));
      partons = {hard, emitted};
      axis = quark;
    }
    for (const FourMomentum& parton : partons) Fragment(random_, parton, particles);
    // QCD jets radiate more at wide angle (colour charge flows out of the jet); a colour-singlet
    // top decay keeps radiation between its prongs.
    SoftRadiation(random_, axis, signal ? 6 : 14, signal ? 1.0 : 2.0, particles);

    // Detector: calorimeter-like relative pT resolution, small angular smearing, a threshold.
    std::vector<FourMomentum> smeared;
    smeared.reserve(particles.size());
    for (const FourMomentum& p : particles) {
      const double pt = p.pt_gev();
      const double resolution = std::hypot(0.05, 0.5 / std::sqrt(pt));
      const double smeared_pt = pt * (1.0 + random_.Normal(0.0, resolution));
      if (smeared_pt < kMinConstituentPtGeV) continue;
      smeared.push_back(FourMomentum::FromPtEtaPhiM(smeared_pt, p.eta() + random_.Normal(0, 0.005),
                                                    p.phi() + random_.Normal(0, 0.005), 0.0));
    }

    // Jet clustering stand-in: keep constituents within R of the axis, re-centre on what was
    // kept, repeat until the axis is stable (two passes suffice at these pTs).
    double axis_eta = axis.eta();
    double axis_phi = axis.phi();
    for (int pass = 0; pass < 3; ++pass) {
      jet.constituents.clear();
      for (const FourMomentum& p : smeared) {
        if (DeltaR(p.eta(), p.phi(), axis_eta, axis_phi) < kJetRadius) {
          jet.constituents.push_back(p);
        }
      }
      const FourMomentum sum = jet.Momentum();
      if (sum.pt_gev() <= 0.0) break;
      axis_eta = sum.eta();
      axis_phi = sum.phi();
    }
    const FourMomentum momentum = jet.Momentum();
    const double jet_pt = momentum.pt_gev();
    if (jet_pt < kJetMinPtGeV || jet_pt > kJetMaxPtGeV ||
        std::abs(momentum.eta()) >= kJetMaxAbsEta) {
      continue;
    }
    std::sort(jet.constituents.begin(), jet.constituents.end(),
              [](const FourMomentum& a, const FourMomentum& b) { return a.pt_gev() > b.pt_gev(); });
    if (jet.constituents.size() > kTopTaggingMaxConstituents) {
      jet.constituents.resize(kTopTaggingMaxConstituents);
    }
    return jet;
  }
}

std::vector<Jet> GenerateTopTaggingJets(std::int64_t jets, std::uint64_t seed, int ttv) {
  if (jets < 0) Throw(ErrorKind::kInvalidArgument, "jet count {} is negative", jets);
  TopTaggingGenerator generator(seed);
  std::vector<Jet> out;
  out.reserve(jets);
  for (std::int64_t i = 0; i < jets; ++i) {
    out.push_back(generator.Next(i % 2 == 0));
    out.back().ttv = ttv;
  }
  return out;
}

void WriteTopTaggingFile(const std::string& path, std::span<const Jet> jets) {
  const std::vector<std::string> columns = TopTaggingColumns();
  const std::size_t width = columns.size();
  PandasTableWriter writer(path, "table", columns);
  constexpr std::size_t kBatch = 1024;
  std::vector<double> rows;
  for (std::size_t start = 0; start < jets.size(); start += kBatch) {
    const std::size_t count = std::min(kBatch, jets.size() - start);
    rows.assign(count * width, 0.0);
    for (std::size_t j = 0; j < count; ++j) {
      const Jet& jet = jets[start + j];
      double* row = rows.data() + j * width;
      const std::size_t n =
          std::min<std::size_t>(jet.constituents.size(), kTopTaggingMaxConstituents);
      for (std::size_t i = 0; i < n; ++i) {
        const FourMomentum& c = jet.constituents[i];
        row[4 * i + 0] = c.e_gev;
        row[4 * i + 1] = c.px_gev;
        row[4 * i + 2] = c.py_gev;
        row[4 * i + 3] = c.pz_gev;
      }
      double* truth = row + std::ptrdiff_t{4} * kTopTaggingMaxConstituents;
      truth[0] = jet.truth.e_gev;
      truth[1] = jet.truth.px_gev;
      truth[2] = jet.truth.py_gev;
      truth[3] = jet.truth.pz_gev;
      truth[4] = jet.ttv;
      truth[5] = jet.is_signal ? 1.0 : 0.0;
    }
    writer.Append(rows);
  }
  writer.Close();
}

std::vector<Jet> ReadTopTaggingFile(const std::string& path, std::int64_t first,
                                    std::int64_t max_jets) {
  const PandasTableReader reader(path, "table");
  auto require = [&](const std::string& name) {
    const auto column = reader.FindColumn(name);
    if (!column) {
      Throw(ErrorKind::kInvalidArgument,
            "{}: table has no column '{}': not the top-tagging layout (E_i, PX_i, PY_i, PZ_i, "
            "truth*, ttv, is_signal_new)",
            path, name);
    }
    return *column;
  };
  // Constituent columns by name, so any column order and block structure reads the same.
  std::vector<std::size_t> momentum_columns;
  for (int i = 0;; ++i) {
    const std::string e = fmt::format("E_{}", i);
    if (i > 0 && !reader.FindColumn(e)) break;
    for (const char* component : {"E", "PX", "PY", "PZ"}) {
      momentum_columns.push_back(require(fmt::format("{}_{}", component, i)));
    }
  }
  const std::size_t label_column = require("is_signal_new");
  std::vector<std::optional<std::size_t>> truth_columns;
  for (const char* name : {"truthE", "truthPX", "truthPY", "truthPZ", "ttv"}) {
    truth_columns.push_back(reader.FindColumn(name));
  }
  if (first < 0 || first > reader.rows()) {
    Throw(ErrorKind::kInvalidArgument, "{}: first jet {} outside the file's {} jets", path, first,
          reader.rows());
  }
  const std::int64_t count =
      max_jets < 0 ? reader.rows() - first : std::min(max_jets, reader.rows() - first);
  const std::size_t width = reader.columns().size();
  const std::size_t constituents = momentum_columns.size() / 4;
  std::vector<Jet> jets;
  jets.reserve(count);
  std::vector<double> rows;
  for (std::int64_t start = 0; start < count; start += kReadBatchRows) {
    const std::int64_t batch = std::min(kReadBatchRows, count - start);
    rows.resize(batch * width);
    reader.Read(first + start, batch, rows);
    for (std::int64_t r = 0; r < batch; ++r) {
      const double* row = rows.data() + r * width;
      Jet jet;
      for (std::size_t i = 0; i < constituents; ++i) {
        const FourMomentum c{row[momentum_columns[4 * i]], row[momentum_columns[4 * i + 1]],
                             row[momentum_columns[4 * i + 2]], row[momentum_columns[4 * i + 3]]};
        // Zero padding: the public files pad with exact zeros after the last constituent.
        if (c.e_gev == 0.0 && c.px_gev == 0.0 && c.py_gev == 0.0 && c.pz_gev == 0.0) continue;
        jet.constituents.push_back(c);
      }
      auto value = [&](std::size_t k) { return truth_columns[k] ? row[*truth_columns[k]] : 0.0; };
      jet.truth = {value(0), value(1), value(2), value(3)};
      jet.ttv = static_cast<int>(value(4));
      const double label = row[label_column];
      if (label != 0.0 && label != 1.0) {
        Throw(ErrorKind::kInvalidArgument, "{}: jet {} has is_signal_new = {}, expected 0 or 1",
              path, first + start + r, label);
      }
      jet.is_signal = label == 1.0;
      jets.push_back(std::move(jet));
    }
  }
  return jets;
}

}  // namespace sonic
