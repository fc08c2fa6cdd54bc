#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace sonic {

// A small seeded generator whose sequence is the same on every platform and standard library
// (std::normal_distribution is not), so that seeded weights, inputs and arrival times reproduce
// exactly. Not thread-safe: one per thread. SplitMix64 seeding, xoshiro256** stream.
class Random {
 public:
  explicit Random(std::uint64_t seed) {
    for (auto& word : state_) word = SplitMix(seed);
  }

  std::uint64_t NextU64() {
    const std::uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }

  // Standard normal (Box-Muller; the second value is discarded to keep the state simple).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

  // Exponential with the given rate (for Poisson arrivals).
  double Exponential(double rate) { return -std::log(1.0 - Uniform()) / rate; }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t SplitMix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4];
};

}  // namespace sonic
