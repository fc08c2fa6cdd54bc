// A fake OpenCL ICD (vendor library) that behaves like PoCL in a container without /sys: asked
// for its platforms, it prints PoCL's message and aborts the process. The ICD loader finds it
// through OCL_ICD_VENDORS; opencl_probe_cli_test.py uses it to check that a broken platform costs
// only the OpenCL backend.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int GetPlatformIds(unsigned, void**, unsigned*) {
  std::fputs("Not enough memory to run on this device.\n", stderr);
  std::abort();
}

// The loader also asks for clGetPlatformInfo before it lists; any status but success will do.
int GetPlatformInfo(void*, unsigned, std::size_t, void*, std::size_t*) { return -30; }

}  // namespace

extern "C" void* clGetExtensionFunctionAddress(const char* name) {
  if (std::strcmp(name, "clIcdGetPlatformIDsKHR") == 0) {
    return reinterpret_cast<void*>(&GetPlatformIds);
  }
  if (std::strcmp(name, "clGetPlatformInfo") == 0) {
    return reinterpret_cast<void*>(&GetPlatformInfo);
  }
  return nullptr;
}
