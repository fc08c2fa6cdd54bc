// Interoperability with Debian's python3-pandas / python3-tables: files pandas writes read back
// identically through our reader, and pandas reads ours. Runs /usr/bin/python3 (Debian's, not
// the first python3 on PATH) and skips when it or its pandas/tables modules are missing.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "datasets/pandas_table.h"
#include "datasets/top_tagging.h"

namespace sonic {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

std::string Script(const char* name) { return std::string(SONIC_DATASETS_TESTDATA) + "/" + name; }

int RunShell(const std::string& command) { return std::system((command + " 2>&1").c_str()); }

class PandasInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPython) ||
        RunShell(std::string(kPython) + " -c 'import pandas, tables' >/dev/null") != 0) {
      GTEST_SKIP() << kPython << " with pandas and tables (python3-pandas, python3-tables) is "
                   << "needed; run tools/setup.sh";
    }
  }
};

std::vector<double> ReadDoubles(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<double> values;
  double value;
  while (in.read(reinterpret_cast<char*>(&value), sizeof(value))) values.push_back(value);
  return values;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(PandasInteropTest, FilesWrittenByPandasReadBackIdentically) {
  for (const std::string layout : {"public", "blocks"}) {
    const std::string path =
        (std::filesystem::temp_directory_path() /
         ("sonic_pandas_written_" + layout + "_" + std::to_string(::getpid()) + ".h5"))
            .string();
    ASSERT_EQ(RunShell(std::string(kPython) + " " + Script("write_pandas_table.py") + " " + path +
                       " " + layout),
              0);
    const PandasTableReader reader(path);
    const std::vector<std::string> columns = ReadLines(path + ".columns.txt");
    const std::vector<double> expected = ReadDoubles(path + ".values.bin");
    EXPECT_EQ(reader.columns(), columns) << layout;
    ASSERT_EQ(reader.rows() * static_cast<std::int64_t>(columns.size()),
              static_cast<std::int64_t>(expected.size()));
    std::vector<double> values(expected.size());
    reader.Read(0, reader.rows(), values);
    EXPECT_EQ(values, expected) << layout;  // bit for bit

    // And through the top-tagging reader: padding dropped, labels and truth kept.
    const std::vector<Jet> jets = ReadTopTaggingFile(path);
    ASSERT_EQ(static_cast<std::int64_t>(jets.size()), reader.rows());
    const std::size_t width = columns.size();
    const auto column = [&](const std::string& name) {
      return static_cast<std::size_t>(std::find(columns.begin(), columns.end(), name) -
                                      columns.begin());
    };
    for (std::size_t r = 0; r < jets.size(); ++r) {
      const double* row = expected.data() + r * width;
      EXPECT_EQ(jets[r].is_signal, row[column("is_signal_new")] == 1.0);
      EXPECT_EQ(jets[r].ttv, static_cast<int>(row[column("ttv")]));
      EXPECT_EQ(jets[r].truth.px_gev, row[column("truthPX")]);
      std::size_t nonzero = 0;
      while (nonzero < 200 && row[column("E_" + std::to_string(nonzero))] != 0.0) ++nonzero;
      ASSERT_EQ(jets[r].constituents.size(), nonzero);
      if (nonzero > 0) {
        EXPECT_EQ(jets[r].constituents.back().pz_gev,
                  row[column("PZ_" + std::to_string(nonzero - 1))]);
      }
    }
    for (const std::string suffix : {"", ".columns.txt", ".values.bin"}) {
      std::filesystem::remove(path + suffix);
    }
  }
}

TEST_F(PandasInteropTest, PandasReadsOurFiles) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("sonic_pandas_ours_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  const std::vector<Jet> jets = GenerateTopTaggingJets(301, 17, 1);
  WriteTopTaggingFile(path, jets);
  // What we meant to write, in the layout's column order, for the Python side to compare.
  std::vector<double> expected;
  for (const Jet& jet : jets) {
    std::vector<double> row(806, 0.0);
    for (std::size_t i = 0; i < jet.constituents.size(); ++i) {
      row[4 * i] = jet.constituents[i].e_gev;
      row[4 * i + 1] = jet.constituents[i].px_gev;
      row[4 * i + 2] = jet.constituents[i].py_gev;
      row[4 * i + 3] = jet.constituents[i].pz_gev;
    }
    row[800] = jet.truth.e_gev;
    row[801] = jet.truth.px_gev;
    row[802] = jet.truth.py_gev;
    row[803] = jet.truth.pz_gev;
    row[804] = jet.ttv;
    row[805] = jet.is_signal ? 1.0 : 0.0;
    expected.insert(expected.end(), row.begin(), row.end());
  }
  std::ofstream(path + ".values.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(expected.data()),
             static_cast<std::streamsize>(expected.size() * sizeof(double)));
  EXPECT_EQ(RunShell(std::string(kPython) + " " + Script("check_pandas_read.py") + " " + path), 0);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".values.bin");
}

}  // namespace
}  // namespace sonic
