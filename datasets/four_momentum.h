#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sonic {

// A four-momentum in GeV (E, px, py, pz), the layout of the top-tagging dataset's columns.
struct FourMomentum {
  double e_gev = 0.0;
  double px_gev = 0.0;
  double py_gev = 0.0;
  double pz_gev = 0.0;

  // From transverse momentum, pseudorapidity, azimuth and mass.
  static FourMomentum FromPtEtaPhiM(double pt_gev, double eta, double phi, double mass_gev) {
    const double pz_gev = pt_gev * std::sinh(eta);
    const double p2 = pt_gev * pt_gev + pz_gev * pz_gev;
    return {std::sqrt(p2 + mass_gev * mass_gev), pt_gev * std::cos(phi), pt_gev * std::sin(phi),
            pz_gev};
  }

  double pt_gev() const { return std::hypot(px_gev, py_gev); }
  double p_gev() const { return std::sqrt(px_gev * px_gev + py_gev * py_gev + pz_gev * pz_gev); }
  // Pseudorapidity; 0 for a zero vector (zero-padded constituents).
  double eta() const {
    const double pt = pt_gev();
    return pt > 0.0 ? std::asinh(pz_gev / pt) : 0.0;
  }
  double phi() const { return std::atan2(py_gev, px_gev); }
  // Invariant mass; negative m^2 from rounding of massless sums reads as 0.
  double mass_gev() const {
    const double m2 = e_gev * e_gev - px_gev * px_gev - py_gev * py_gev - pz_gev * pz_gev;
    return std::sqrt(std::max(m2, 0.0));
  }

  FourMomentum& operator+=(const FourMomentum& other) {
    e_gev += other.e_gev;
    px_gev += other.px_gev;
    py_gev += other.py_gev;
    pz_gev += other.pz_gev;
    return *this;
  }
  friend FourMomentum operator+(FourMomentum a, const FourMomentum& b) { return a += b; }
};

// Azimuthal difference a - b wrapped into [-pi, pi).
inline double DeltaPhi(double a, double b) {
  double d = a - b;
  while (d >= std::numbers::pi) d -= 2.0 * std::numbers::pi;
  while (d < -std::numbers::pi) d += 2.0 * std::numbers::pi;
  return d;
}

inline double DeltaR(double eta_a, double phi_a, double eta_b, double phi_b) {
  return std::hypot(eta_a - eta_b, DeltaPhi(phi_a, phi_b));
}

}  // namespace sonic
