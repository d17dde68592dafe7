// The metrics file: create and append (a restart rewrites it from its checkpoint's rows).
#include "recns/metrics_log.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <petscsys.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/error.hpp"

namespace recns {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class metrics_log_test : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::ScratchDir(PETSC_COMM_WORLD, "metrics_log"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  /// The message of the error just raised (PETSc keeps the text of the latest initial error).
  static std::string ErrorMessage(PetscErrorCode code) {
    char* message = nullptr;
    PetscErrorMessage(code, nullptr, &message);
    return message ? message : "";
  }

  static std::vector<double> ReadColumn(const std::string& path, const std::string& column) {
    std::vector<double> values;
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(file, 0);
    const hid_t dataset = H5Dopen2(file, ("/epochs/" + column).c_str(), H5P_DEFAULT);
    EXPECT_GE(dataset, 0);
    const hid_t space = H5Dget_space(dataset);
    hsize_t length = 0;
    EXPECT_EQ(H5Sget_simple_extent_ndims(space), 1);
    H5Sget_simple_extent_dims(space, &length, nullptr);
    values.resize(length);
    if (length > 0) {
      EXPECT_GE(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                0);
    }
    H5Sclose(space);
    H5Dclose(dataset);
    H5Fclose(file);
    return values;
  }

  /// Element-wise equality with NaN equal to NaN.
  static void ExpectColumn(const std::vector<double>& actual, const std::vector<double>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      if (std::isnan(expected[i]))
        EXPECT_TRUE(std::isnan(actual[i])) << "row " << i;
      else
        EXPECT_EQ(actual[i], expected[i]) << "row " << i;
    }
  }

  std::string dir_;
  const std::vector<std::string> columns_{"epoch", "loss", "recall@20"};
};

TEST_F(metrics_log_test, CreateAndAppend) {
  const std::string path = File("metrics.h5");
  std::unique_ptr<MetricsLog> log;
  ASSERT_EQ(MetricsLog::Create(PETSC_COMM_WORLD, path, columns_, &log), PETSC_SUCCESS);
  EXPECT_EQ(log->Rows(), 0);
  ASSERT_EQ(log->Append({1, 0.693, kNaN}), PETSC_SUCCESS);  // recall not measured at epoch 1
  ASSERT_EQ(log->Append({2, 0.5, 0.125}), PETSC_SUCCESS);
  // Flushed: another reader sees the rows while the log is still open.
  ExpectColumn(ReadColumn(path, "loss"), {0.693, 0.5});
  ASSERT_EQ(log->Append({3, 0.25, 0.1875}), PETSC_SUCCESS);
  EXPECT_EQ(log->Rows(), 3);
  log.reset();

  ExpectColumn(ReadColumn(path, "epoch"), {1, 2, 3});
  ExpectColumn(ReadColumn(path, "loss"), {0.693, 0.5, 0.25});
  ExpectColumn(ReadColumn(path, "recall@20"), {kNaN, 0.125, 0.1875});

  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  // Variable-length UTF-8, like the dataset file's, so that h5py reads it as str, not bytes.
  const hid_t format = H5Aopen(file, "format", H5P_DEFAULT);
  const hid_t format_type = H5Aget_type(format);
  EXPECT_GT(H5Tis_variable_str(format_type), 0);
  EXPECT_EQ(H5Tget_cset(format_type), H5T_CSET_UTF8);
  const hid_t memory_type = H5Tcopy(H5T_C_S1);
  H5Tset_size(memory_type, H5T_VARIABLE);
  H5Tset_cset(memory_type, H5T_CSET_UTF8);
  char* text = nullptr;
  EXPECT_GE(H5Aread(format, memory_type, &text), 0);
  EXPECT_STREQ(text, "recns-metrics");
  H5free_memory(text);
  H5Tclose(memory_type);
  int version = 0;
  const hid_t version_attribute = H5Aopen(file, "version", H5P_DEFAULT);
  EXPECT_GE(H5Aread(version_attribute, H5T_NATIVE_INT, &version), 0);
  EXPECT_EQ(version, 1);
  H5Aclose(version_attribute);
  H5Tclose(format_type);
  H5Aclose(format);
  H5Fclose(file);
}

TEST_F(metrics_log_test, RejectsBadColumnNames) {
  std::unique_ptr<MetricsLog> log;
  const std::string path = File("metrics.h5");
  for (const auto& columns : std::vector<std::vector<std::string>>{
           {}, {"epoch", "epoch"}, {"valid/recall"}, {""}}) {
    const PetscErrorCode code = MetricsLog::Create(PETSC_COMM_WORLD, path, columns, &log);
    EXPECT_EQ(code, PETSC_ERR_USER_INPUT);
    EXPECT_NE(ErrorMessage(code).find("'" + path + "'"), std::string::npos);
  }
  EXPECT_FALSE(log);
}

}  // namespace
}  // namespace recns
