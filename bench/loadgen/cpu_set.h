#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sonic {

// A set of logical CPU numbers for pinning threads (--client-cpus, --backend-cpus).
// Plain value; empty means "not pinned".
using CpuList = std::vector<int>;

// Parses a Linux cpu-list ("0", "0-3", "0,2,4-7"). Throws Error(kInvalidArgument) for bad syntax,
// a CPU this machine does not have, or an empty list. The result is sorted and unique.
CpuList ParseCpuList(std::string_view text);
std::string CpuListToString(const CpuList& cpus);  // "0,2-3"; "" for an empty list

// Pins the calling thread to `cpus` (pthread_setaffinity_np); an empty list is a no-op.
// Threads the caller creates afterwards inherit the mask. Throws Error(kInvalidArgument) naming
// the CPUs when the kernel refuses the mask (e.g. outside the process's cpuset).
void PinCurrentThread(const CpuList& cpus);

// The CPUs the calling thread may run on now.
CpuList CurrentThreadCpus();

}  // namespace sonic
