#include "core/owned.h"

#include <gtest/gtest.h>

#include <vector>

namespace sonic {
namespace {

std::vector<int> released;

struct RecordRelease {
  void operator()(int handle) const { released.push_back(handle); }
};

using Descriptor = Owned<int, RecordRelease, -1>;

TEST(OwnedTest, ReleasesEachHandleOnceAndNeverTheEmptyValue) {
  released.clear();
  {
    Descriptor empty;
    EXPECT_FALSE(empty);
    Descriptor first(3);
    EXPECT_TRUE(first);
    Descriptor moved(std::move(first));
    EXPECT_EQ(first.get(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state
    EXPECT_EQ(moved.get(), 3);
    Descriptor second(4);
    second = std::move(moved);  // 4 is released, 3 now belongs to `second`
    EXPECT_EQ(released, std::vector<int>{4});
    second.reset(5);  // 3 is released
    EXPECT_EQ(released, (std::vector<int>{4, 3}));
    Descriptor kept(6);
    EXPECT_EQ(kept.release(), 6);  // not released by the destructor
  }
  EXPECT_EQ(released, (std::vector<int>{4, 3, 5}));
}

int pointer_releases = 0;

struct CountRelease {
  void operator()(const char*) const { ++pointer_releases; }
};

TEST(OwnedTest, PointerHandlesDefaultToNullptr) {
  static const char text[] = "x";
  { Owned<const char*, CountRelease> pointer(text); }
  { Owned<const char*, CountRelease> none; }
  EXPECT_EQ(pointer_releases, 1);
}

std::vector<int> c_released;
void ReleaseInC(int handle) { c_released.push_back(handle); }
// A C API that creates an object into its out-parameter.
void CreateInC(int value, int* out) { *out = value; }

// An out-parameter receives into the handle's storage after what it owned is released; a C
// release function is the deleter through CallRelease.
TEST(OwnedTest, ReceivesFromACallsOutParameterAndReleasesWithACFunction) {
  c_released.clear();
  {
    Owned<int, CallRelease<ReleaseInC>, -1> handle(7);
    CreateInC(8, handle.receive());
    EXPECT_EQ(c_released, std::vector<int>{7});
    EXPECT_EQ(handle.get(), 8);
  }
  EXPECT_EQ(c_released, (std::vector<int>{7, 8}));
}

}  // namespace
}  // namespace sonic
