#include "datasets/nova.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/hdf5.h"
#include "datasets/image_ops.h"

namespace sonic {
namespace {

constexpr double kPlanePitchCm = 6.6;
constexpr double kCellWidthCm = 4.0;
constexpr double kRadiationLengthCm = 38.0;
constexpr double kMoliereRadiusCm = 10.0;
constexpr double kCriticalEnergyMeV = 90.0;
constexpr double kMipMeVPerCm = 1.7;  // visible dE/dx of a minimum-ionising particle
constexpr double kStepCm = 1.0;
constexpr std::int64_t kViewSize = kNovaPlanes * kNovaCells;

struct Point {
  double x_cm, y_cm, z_cm;
};

struct Direction {
  double x, y, z;  // unit vector
};

class EventBuilder {
 public:
  EventBuilder(Random& random, NovaEvent& event) : random_(random), event_(event) {}

  void Deposit(const Point& p, double energy_mev) {
    const auto plane = static_cast<std::int64_t>(std::floor(p.z_cm / kPlanePitchCm));
    const auto cell_x = static_cast<std::int64_t>(std::floor(p.x_cm / kCellWidthCm));
    const auto cell_y = static_cast<std::int64_t>(std::floor(p.y_cm / kCellWidthCm));
    if (plane < 0 || plane >= kNovaPlanes) return;
    if (cell_x >= 0 && cell_x < kNovaCells) {
      event_.xz[plane * kNovaCells + cell_x] += static_cast<float>(energy_mev);
    }
    if (cell_y >= 0 && cell_y < kNovaCells) {
      event_.yz[plane * kNovaCells + cell_y] += static_cast<float>(energy_mev);
    }
  }

  // A charged track: straight, dE/dx with Landau-like fluctuations (a long upper tail).
  void Track(const Point& start, const Direction& d, double length_cm, double de_dx_mev_per_cm) {
    for (double s = 0.0; s < length_cm; s += kStepCm) {
      const double fluctuation = 0.75 + random_.Exponential(4.0);
      Deposit({start.x_cm + s * d.x, start.y_cm + s * d.y, start.z_cm + s * d.z},
              de_dx_mev_per_cm * kStepCm * fluctuation);
    }
  }

  // An electromagnetic shower: energy packets at depths t ~ Gamma(a, b) radiation lengths (the
  // longitudinal profile), spread transversely by a Gaussian whose width grows with depth.
  void Shower(const Point& start, const Direction& d, double energy_mev) {
    constexpr double kB = 0.5;
    const double a = std::max(1.0, 1.0 + kB * (std::log(energy_mev / kCriticalEnergyMeV) - 0.5));
    const Direction u = Perpendicular(d);
    const Direction v = Cross(d, u);
    constexpr int kPackets = 400;
    const double visible = 0.6 * energy_mev / kPackets;  // the rest goes into inactive material
    for (int i = 0; i < kPackets; ++i) {
      const double depth_cm = Gamma(a) / kB * kRadiationLengthCm;
      const double spread_cm = 0.5 * kMoliereRadiusCm * (0.5 + depth_cm / (4 * kRadiationLengthCm));
      const double a_cm = random_.Normal(0.0, spread_cm);
      const double b_cm = random_.Normal(0.0, spread_cm);
      Deposit({start.x_cm + depth_cm * d.x + a_cm * u.x + b_cm * v.x,
               start.y_cm + depth_cm * d.y + a_cm * u.y + b_cm * v.y,
               start.z_cm + depth_cm * d.z + a_cm * u.z + b_cm * v.z},
              visible);
    }
  }

  // The hadronic system at the vertex: short proton and pion prongs and diffuse energy.
  void Hadrons(const Point& vertex, double energy_mev, int prongs) {
    for (int i = 0; i < prongs; ++i) {
      const Direction d = RandomDirection(-0.3);
      if (random_.Uniform() < 0.5) {
        Track(vertex, d, random_.Uniform(5.0, 50.0), random_.Uniform(4.0, 9.0));  // proton
      } else {
        Track(vertex, d, random_.Uniform(20.0, 150.0), kMipMeVPerCm);  // charged pion
      }
    }
    const int blobs = 60;
    for (int i = 0; i < blobs; ++i) {
      Deposit({vertex.x_cm + random_.Normal(0.0, 12.0), vertex.y_cm + random_.Normal(0.0, 12.0),
               vertex.z_cm + std::abs(random_.Normal(0.0, 20.0))},
              0.3 * energy_mev / blobs);
    }
  }

  // A forward-going direction with cos(theta) to the beam above `min_cos`.
  Direction RandomDirection(double min_cos) {
    const double cos_theta = random_.Uniform(min_cos, 1.0);
    const double sin_theta = std::sqrt(1.0 - cos_theta * cos_theta);
    const double phi = random_.Uniform(-std::numbers::pi, std::numbers::pi);
    return {sin_theta * std::cos(phi), sin_theta * std::sin(phi), cos_theta};
  }

  void Noise() {
    const int hits = 3 + static_cast<int>(random_.Uniform() * 6.0);
    for (int i = 0; i < hits; ++i) {
      Deposit({random_.Uniform(0.0, kNovaCells * kCellWidthCm),
               random_.Uniform(0.0, kNovaCells * kCellWidthCm),
               random_.Uniform(0.0, kNovaPlanes * kPlanePitchCm)},
              random_.Uniform(1.0, 4.0));
    }
  }

 private:
  // Marsaglia-Tsang for shape >= 1 (the profile's shape always is).
  double Gamma(double shape) {
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      const double x = random_.Normal();
      const double t = 1.0 + c * x;
      if (t <= 0.0) continue;
      const double v = t * t * t;
      const double u = 1.0 - random_.Uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }

  static Direction Cross(const Direction& a, const Direction& b) {
    return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
  }

  static Direction Perpendicular(const Direction& d) {
    const Direction axis = std::abs(d.x) < 0.9 ? Direction{1, 0, 0} : Direction{0, 1, 0};
    Direction p = Cross(d, axis);
    const double norm = std::sqrt(p.x * p.x + p.y * p.y + p.z * p.z);
    return {p.x / norm, p.y / norm, p.z / norm};
  }

  Random& random_;
  NovaEvent& event_;
};

}  // namespace

NovaEvent NovaGenerator::Next(NovaClass label) {
  NovaEvent event;
  event.label = label;
  event.xz.assign(kViewSize, 0.0f);
  event.yz.assign(kViewSize, 0.0f);
  EventBuilder builder(random_, event);
  const Point vertex{random_.Uniform(0.2, 0.8) * kNovaCells * kCellWidthCm,
                     random_.Uniform(0.2, 0.8) * kNovaCells * kCellWidthCm,
                     random_.Uniform(0.05, 0.3) * kNovaPlanes * kPlanePitchCm};
  const double neutrino_mev = random_.Uniform(1000.0, 3000.0);
  const double inelasticity = random_.Uniform(0.1, 0.5);
  const double hadronic_mev = inelasticity * neutrino_mev;
  switch (label) {
    case NovaClass::kNuMuCC: {
      // A 1-2.7 GeV muon ranges out after several metres: most of the detector's length.
      const double muon_mev = neutrino_mev - hadronic_mev;
      builder.Track(vertex, builder.RandomDirection(0.85), muon_mev / 2.0, kMipMeVPerCm);
      builder.Hadrons(vertex, hadronic_mev, 1 + static_cast<int>(random_.Uniform() * 3.0));
      break;
    }
    case NovaClass::kNuECC:
      builder.Shower(vertex, builder.RandomDirection(0.85), neutrino_mev - hadronic_mev);
      builder.Hadrons(vertex, hadronic_mev, 1 + static_cast<int>(random_.Uniform() * 3.0));
      break;
    case NovaClass::kNC: {
      builder.Hadrons(vertex, hadronic_mev * 2.0, 2 + static_cast<int>(random_.Uniform() * 4.0));
      if (random_.Uniform() < 0.4) {
        // A pi0: two photons converting about a radiation length from the vertex.
        for (int photon = 0; photon < 2; ++photon) {
          const auto d = builder.RandomDirection(0.0);
          const double gap_cm = random_.Exponential(1.0 / (9.0 / 7.0 * kRadiationLengthCm));
          builder.Shower(
              {vertex.x_cm + gap_cm * d.x, vertex.y_cm + gap_cm * d.y, vertex.z_cm + gap_cm * d.z},
              d, random_.Uniform(100.0, 400.0));
        }
      }
      break;
    }
  }
  builder.Noise();
  return event;
}

std::vector<NovaEvent> GenerateNovaEvents(std::int64_t events, std::uint64_t seed) {
  if (events < 0) Throw(ErrorKind::kInvalidArgument, "event count {} is negative", events);
  NovaGenerator generator(seed);
  std::vector<NovaEvent> out;
  out.reserve(events);
  for (std::int64_t i = 0; i < events; ++i) {
    out.push_back(generator.Next(static_cast<NovaClass>(i % 3)));
  }
  return out;
}

void WriteNovaFile(const std::string& path, std::span<const NovaEvent> events) {
  h5::Handle file = h5::CreateFile(path);
  const hid_t root = file.get();
  h5::WriteStringAttribute(root, "sonic_dataset", "nova");
  h5::WriteStringAttribute(root, "class_names", kNovaClassNames);
  h5::WriteStringAttribute(root, "units", "MeV");
  const hsize_t dims[3] = {events.size(), kNovaPlanes, kNovaCells};
  std::vector<float> buffer(events.size() * kViewSize);
  for (const char* view : {"xz", "yz"}) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& data = view[0] == 'x' ? events[i].xz : events[i].yz;
      std::copy(data.begin(), data.end(), buffer.begin() + i * kViewSize);
    }
    h5::Handle space = h5::Check(H5Screate_simple(3, dims, nullptr), "H5Screate_simple");
    h5::Handle dataset = h5::Check(
        H5Dcreate2(root, view, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        path + ": creating " + view);
    h5::CheckStatus(
        H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
        path + ": writing " + view);
  }
  std::vector<std::int32_t> labels;
  for (const NovaEvent& event : events) labels.push_back(static_cast<std::int32_t>(event.label));
  h5::Handle space = h5::Check(H5Screate_simple(1, dims, nullptr), "H5Screate_simple");
  h5::Handle dataset = h5::Check(
      H5Dcreate2(root, "labels", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      path + ": creating labels");
  h5::CheckStatus(
      H5Dwrite(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data()),
      path + ": writing labels");
}

std::vector<NovaEvent> ReadNovaFile(const std::string& path, std::int64_t first,
                                    std::int64_t max_events) {
  h5::Handle file = h5::OpenFileForReading(path);
  const hid_t root = file.get();
  if (h5::ReadStringAttribute(root, "sonic_dataset").value_or("") != "nova") {
    Throw(ErrorKind::kInvalidArgument,
          "{}: not a NOvA-like event file (attribute sonic_dataset = 'nova' missing)", path);
  }
  auto open = [&](const char* name, int rank) {
    if (!h5::Exists(root, name))
      Throw(ErrorKind::kInvalidArgument, "{}: no '{}' dataset", path, name);
    h5::Handle dataset = h5::Check(H5Dopen2(root, name, H5P_DEFAULT), path + ": " + name);
    h5::Handle space = h5::Check(H5Dget_space(dataset.get()), path + ": " + name);
    hsize_t dims[3] = {};
    if (H5Sget_simple_extent_ndims(space.get()) != rank) {
      Throw(ErrorKind::kInvalidArgument, "{}: '{}' has the wrong rank", path, name);
    }
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    if (rank == 3 && (dims[1] != kNovaPlanes || dims[2] != kNovaCells)) {
      Throw(ErrorKind::kInvalidArgument, "{}: '{}' is not [N, {}, {}]", path, name, kNovaPlanes,
            kNovaCells);
    }
    return std::pair(std::move(dataset), dims[0]);
  };
  auto [labels_dataset, total] = open("labels", 1);
  if (first < 0 || first > static_cast<std::int64_t>(total)) {
    Throw(ErrorKind::kInvalidArgument, "{}: first event {} outside the file's {}", path, first,
          total);
  }
  const hsize_t count = max_events < 0
                            ? total - first
                            : std::min<hsize_t>(total - first, static_cast<hsize_t>(max_events));
  std::vector<NovaEvent> events(count);
  if (count == 0) return events;
  auto read = [&](hid_t dataset, int rank, hid_t memory_type, void* out, const std::string& what) {
    h5::Handle space = h5::Check(H5Dget_space(dataset), what);
    const hsize_t start[3] = {static_cast<hsize_t>(first), 0, 0};
    const hsize_t extent[3] = {count, kNovaPlanes, kNovaCells};
    h5::CheckStatus(
        H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr), what);
    h5::Handle memory = h5::Check(H5Screate_simple(rank, extent, nullptr), what);
    h5::CheckStatus(H5Dread(dataset, memory_type, memory.get(), space.get(), H5P_DEFAULT, out),
                    path + ": reading " + what + " (truncated or corrupt file?)");
  };
  std::vector<std::int32_t> labels(count);
  read(labels_dataset.get(), 1, H5T_NATIVE_INT32, labels.data(), "labels");
  std::vector<float> buffer(count * kViewSize);
  for (const char* view : {"xz", "yz"}) {
    auto [dataset, rows] = open(view, 3);
    if (rows != total) {
      Throw(ErrorKind::kInvalidArgument, "{}: '{}' holds {} events, labels {}", path, view, rows,
            total);
    }
    read(dataset.get(), 3, H5T_NATIVE_FLOAT, buffer.data(), view);
    for (hsize_t i = 0; i < count; ++i) {
      auto& data = view[0] == 'x' ? events[i].xz : events[i].yz;
      data.assign(buffer.begin() + i * kViewSize, buffer.begin() + (i + 1) * kViewSize);
    }
  }
  for (hsize_t i = 0; i < count; ++i) {
    if (labels[i] < 0 || labels[i] > 2) {
      Throw(ErrorKind::kInvalidArgument, "{}: event {} has label {}, expected 0, 1 or 2", path,
            first + i, labels[i]);
    }
    events[i].label = static_cast<NovaClass>(labels[i]);
  }
  return events;
}

void NovaToImage(const NovaEvent& event, const Shape& shape, std::span<float> image) {
  if (shape.size() != 3 || (shape[0] != 1 && shape[0] != 3)) {
    Throw(ErrorKind::kUnsupported, "NOvA events map onto [1 or 3, H, W] inputs, not {}",
          ShapeToString(shape));
  }
  float peak = 0.0f;
  for (std::int64_t i = 0; i < kViewSize; ++i) peak = std::max({peak, event.xz[i], event.yz[i]});
  const float scale = peak > 0.0f ? 1.0f / peak : 0.0f;
  std::vector<float> views(3 * kViewSize);
  for (std::int64_t i = 0; i < kViewSize; ++i) {
    views[i] = event.xz[i] * scale;
    views[kViewSize + i] = event.yz[i] * scale;
    views[2 * kViewSize + i] = 0.5f * (views[i] + views[kViewSize + i]);
  }
  const std::span<const float> all(views);
  ConvertImage(shape[0] == 3 ? all : all.subspan(2 * kViewSize, kViewSize),
               {shape[0], kNovaPlanes, kNovaCells}, image, shape);
}

}  // namespace sonic
