#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "datasets/four_momentum.h"

namespace sonic {

// Boosted-jet samples in the layout of the public top-tagging reference dataset (Kasieczka et
// al., arXiv:1902.09914): a pandas table under key "table" with, per jet, up to 200 constituent
// four-momenta (GeV) pT-ordered and zero-padded, in the public files' column order
// E_0, PX_0, PY_0, PZ_0, E_1, ... PZ_199, then truthE, truthPX, truthPY, truthPZ (the top quark
// for signal jets, zero for QCD), ttv (0 train, 1 test, 2 validation) and is_signal_new (1 top,
// 0 QCD); all float64 in one values block, as in the public files.

inline constexpr int kTopTaggingMaxConstituents = 200;
inline constexpr double kTopMassGeV = 173.0;
inline constexpr double kWMassGeV = 80.4;
inline constexpr double kJetRadius = 0.8;  // anti-kT R of the reference dataset
inline constexpr double kJetMinPtGeV = 550.0;
inline constexpr double kJetMaxPtGeV = 650.0;
inline constexpr double kJetMaxAbsEta = 2.0;

struct Jet {
  std::vector<FourMomentum> constituents;  // pT-ordered, no zero padding
  FourMomentum truth;                      // the top quark (signal), zero (QCD)
  bool is_signal = false;
  int ttv = 0;

  FourMomentum Momentum() const;  // the jet: sum of its constituents
};

// The column names of the layout above, in order (806 for 200 constituents).
std::vector<std::string> TopTaggingColumns();

// A synthetic, physically shaped jet generator; deterministic for a seed on every platform.
// QCD: one hard parton with a perturbative splitting (z and angle log-distributed) plus soft,
// wide-angle radiation. Top: t -> bW, W -> qq' with two-body decays in the rest frames at random
// angles, Breit-Wigner masses around 173 and 80.4 GeV, boosted to the lab; every quark inside
// R = 0.8 of the top direction, as the reference dataset requires. Each parton fragments into
// several massless constituents (momentum fractions z, angular spread from a transverse kick);
// constituents are smeared (calorimeter-like pT resolution, small angular smearing), those below
// 0.5 GeV dropped, those within ΔR < 0.8 of the jet axis kept (the axis iterated to stability),
// and jets outside pT 550-650 GeV or |η| < 2 regenerated. Not thread-safe: one per thread.
class TopTaggingGenerator {
 public:
  explicit TopTaggingGenerator(std::uint64_t seed) : random_(seed) {}
  Jet Next(bool signal);

 private:
  Random random_;
};

// `jets` jets, signal and QCD alternating (exactly half each, signal first for odd counts).
std::vector<Jet> GenerateTopTaggingJets(std::int64_t jets, std::uint64_t seed, int ttv = 0);

// Writes jets in the reference layout (constituents beyond 200 are dropped, the hardest kept).
void WriteTopTaggingFile(const std::string& path, std::span<const Jet> jets);

// Reads jets [first, first + max_jets) (max_jets < 0: to the end) from a file in the reference
// layout, ours or the public one. Needs E_i, PX_i, PY_i, PZ_i for i = 0.. (any count) and
// is_signal_new; truth and ttv columns are read when present. Throws Error(kInvalidArgument)
// naming the missing column for a table of another layout.
std::vector<Jet> ReadTopTaggingFile(const std::string& path, std::int64_t first = 0,
                                    std::int64_t max_jets = -1);

}  // namespace sonic
