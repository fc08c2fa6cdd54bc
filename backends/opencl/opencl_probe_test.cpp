// The OpenCL device probe (opencl_probe.h): what the parent makes of every way the child can end,
// and, where a platform is installed, that the probe lists what an in-process listing lists.
#include "backends/opencl/opencl_probe.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "backends/opencl/cl_runtime.h"

namespace sonic::cl {
namespace {

// waitpid's status for a child that exited with `code` or was killed by `signal` (Linux layout).
int Exited(int code) { return code << 8; }
int Killed(int signal) { return signal; }

OpenClDeviceInfo Info(int platform, int device, std::string name) {
  OpenClDeviceInfo info;
  info.platform_index = platform;
  info.device_index = device;
  info.platform_name = "Portable Computing Language";
  info.platform_version = "OpenCL 3.0 PoCL 3.1+debian  Linux, Release";
  info.device_name = std::move(name);
  info.device_type = "cpu";
  info.device_version = "OpenCL 3.0 PoCL HSTR: cpu";
  return info;
}

TEST(OpenClProbe, DevicesSurviveThePipe) {
  const std::vector<OpenClDeviceInfo> devices = {Info(0, 0, "pthread-cpu"),
                                                 Info(1, 2, "board, with comma")};
  const OpenClProbe probe = InterpretProbe(Exited(0), false, EncodeProbeResult(devices), "");
  EXPECT_EQ(probe.failure, "");
  ASSERT_EQ(probe.devices.size(), 2u);
  EXPECT_EQ(probe.devices[1].platform_index, 1);
  EXPECT_EQ(probe.devices[1].device_index, 2);
  EXPECT_EQ(probe.devices[1].device_name, "board, with comma");
  EXPECT_EQ(probe.devices[1].platform_version, devices[1].platform_version);
  EXPECT_EQ(probe.devices[0].device_version, devices[0].device_version);
}

TEST(OpenClProbe, NoPlatformIsNoDeviceAndNoFailure) {
  const OpenClProbe probe = InterpretProbe(Exited(0), false, EncodeProbeResult({}), "");
  EXPECT_EQ(probe.failure, "");
  EXPECT_TRUE(probe.devices.empty());
}

TEST(OpenClProbe, AnAbortNamesTheSignalAndQuotesTheRuntime) {
  const OpenClProbe probe =
      InterpretProbe(Killed(SIGABRT), false, "",
                     "[hwloc/linux] failed to find sysfs cpu topology directory\n"
                     "Not enough memory to run on this device.\n");
  EXPECT_TRUE(probe.devices.empty());
  EXPECT_NE(probe.failure.find("crashed while listing its devices (signal 6"), std::string::npos)
      << probe.failure;
  EXPECT_NE(probe.failure.find("'[hwloc/linux] failed to find sysfs cpu topology directory; Not "
                               "enough memory to run on this device.'"),
            std::string::npos)
      << probe.failure;
}

TEST(OpenClProbe, AnExitAndAHangAreFailures) {
  const OpenClProbe exited = InterpretProbe(Exited(3), false, "", "");
  EXPECT_NE(exited.failure.find("(exit 3)"), std::string::npos) << exited.failure;
  const OpenClProbe hung = InterpretProbe(Killed(SIGKILL), true, "", "");
  EXPECT_NE(hung.failure.find("did not finish in 30 s"), std::string::npos) << hung.failure;
}

TEST(OpenClProbe, AnErrorFromTheListingIsTheFailure) {
  const OpenClProbe probe = InterpretProbe(
      Exited(0), false, EncodeProbeError("clGetDeviceIDs failed: CL_INVALID_PLATFORM"), "");
  EXPECT_EQ(probe.failure, "clGetDeviceIDs failed: CL_INVALID_PLATFORM");
}

TEST(OpenClProbe, AGarbledReportIsAFailureNotAPartialList) {
  std::string report = EncodeProbeResult({Info(0, 0, "a"), Info(0, 1, "b")});
  report.resize(report.size() - 20);
  const OpenClProbe probe = InterpretProbe(Exited(0), false, report, "");
  EXPECT_TRUE(probe.devices.empty());
  EXPECT_NE(probe.failure.find("without a readable report"), std::string::npos) << probe.failure;
  EXPECT_NE(InterpretProbe(Exited(0), false, "", "").failure, "");
}

TEST(OpenClProbe, ListsWhatThisProcessLists) {
  const OpenClProbe probe = ProbeOpenClDevices();
  ASSERT_EQ(probe.failure, "");
  const std::vector<Device> here = Devices();
  ASSERT_EQ(probe.devices.size(), here.size());
  for (std::size_t i = 0; i < here.size(); ++i) {
    EXPECT_EQ(probe.devices[i].device_name, here[i].info.device_name);
    EXPECT_EQ(probe.devices[i].platform_version, here[i].info.platform_version);
  }
}

}  // namespace
}  // namespace sonic::cl
