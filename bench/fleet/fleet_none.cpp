#include "bench/fleet/fleet.h"
#include "core/error.h"

namespace sonic {

bool FleetCompiledIn() { return false; }

std::unique_ptr<FleetComm> JoinFleet() {
  if (const int ranks = LauncherRanks(); ranks > 1) {
    Throw(ErrorKind::kUnsupported,
          "started by a launcher as one of {} ranks, but this sonicbench was built without MPI "
          "(SONIC_MPI=OFF or libopenmpi-dev missing): each rank would run the whole sweep alone",
          ranks);
  }
  return nullptr;
}

}  // namespace sonic
