// The dataset file: write/read round trips, and every kind of bad content or bad file rejected
// with one message naming the file, the dataset and the problem.
#include <hdf5.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/dataset.hpp"

namespace {

using recns::Csr;
using recns::Dataset;

using recns::test::InputError;

Csr MakeCsr(std::vector<int64_t> indptr, std::vector<int32_t> indices) {
  Csr csr;
  csr.indptr = std::move(indptr);
  csr.indices = std::move(indices);
  return csr;
}

/// 4 users, 6 items, every optional part present.
Dataset Small() {
  Dataset data;
  data.name = "small";
  data.num_users = 4;
  data.num_items = 6;
  data.train = MakeCsr({0, 2, 3, 3, 6}, {0, 4, 1, 2, 3, 5});
  data.valid = MakeCsr({0, 1, 1, 1, 1}, {5});
  data.test = MakeCsr({0, 0, 2, 3, 3}, {0, 3, 4});
  data.exposure = MakeCsr({0, 1, 1, 2, 2}, {1, 0});
  data.test_random = MakeCsr({0, 2, 2, 2, 3}, {2, 3, 0});
  data.user_raw_ids = {"u10", "u11", "u12", "u13"};
  data.item_raw_ids = {"a", "b", "c", "d", "e", "f"};
  return data;
}

void ExpectEqual(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.num_users, b.num_users);
  EXPECT_EQ(a.num_items, b.num_items);
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure,
                    &Dataset::test_random}) {
    EXPECT_EQ((a.*part).Present(), (b.*part).Present());
    EXPECT_EQ((a.*part).indptr, (b.*part).indptr);
    EXPECT_EQ((a.*part).indices, (b.*part).indices);
  }
  EXPECT_EQ(a.user_raw_ids, b.user_raw_ids);
  EXPECT_EQ(a.item_raw_ids, b.item_raw_ids);
}

class dataset_io_test : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = recns::test::ScratchDir(PETSC_COMM_SELF, "dataset_io"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      names.push_back(entry.path().filename());
    return names;
  }
  /// Writes Small() to `name`, then lets `edit` change the file through the HDF5 C API.
  std::string WriteEdited(const std::string& name, const std::function<void(hid_t)>& edit) {
    const std::string path = Path(name);
    EXPECT_EQ(recns::WriteDataset(path, Small()), PETSC_SUCCESS);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    EXPECT_GE(file, 0);
    edit(file);
    EXPECT_GE(H5Fclose(file), 0);
    return path;
  }
  std::string dir_;
};

void ReplaceStringAttribute(hid_t file, const char* name, const char* value) {
  ASSERT_GE(H5Adelete(file, name), 0);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::strlen(value) + 1);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(attribute, 0);
  EXPECT_GE(H5Awrite(attribute, type, value), 0);
  H5Aclose(attribute);
  H5Sclose(space);
  H5Tclose(type);
}

void ReplaceIntAttribute(hid_t file, const char* name, int value) {
  const hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
  ASSERT_GE(attribute, 0);
  EXPECT_GE(H5Awrite(attribute, H5T_NATIVE_INT, &value), 0);
  H5Aclose(attribute);
}

void WriteEntry(hid_t file, const char* object, hsize_t position, int32_t value) {
  const hid_t dataset = H5Dopen2(file, object, H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  const hid_t space = H5Dget_space(dataset);
  const hsize_t one = 1;
  H5Sselect_hyperslab(space, H5S_SELECT_SET, &position, nullptr, &one, nullptr);
  const hid_t memory = H5Screate_simple(1, &one, nullptr);
  EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_INT32, memory, space, H5P_DEFAULT, &value), 0);
  H5Sclose(memory);
  H5Sclose(space);
  H5Dclose(dataset);
}

// --- round trips -------------------------------------------------------------------------------

TEST_F(dataset_io_test, RoundTripKeepsEveryPart) {
  const std::string path = Path("small.h5");
  ASSERT_EQ(recns::WriteDataset(path, Small()), PETSC_SUCCESS);
  EXPECT_EQ(Files(), std::vector<std::string>{"small.h5"});  // the temporary file is gone
  Dataset read;
  ASSERT_EQ(recns::ReadDataset(path, &read), PETSC_SUCCESS);
  ExpectEqual(read, Small());
}

TEST_F(dataset_io_test, RoundTripWithoutOptionalParts) {
  Dataset data = Small();
  data.valid = Csr();
  data.exposure = Csr();
  data.test_random = Csr();
  data.user_raw_ids.clear();
  data.item_raw_ids.clear();
  data.name.clear();
  const std::string path = Path("bare.h5");
  ASSERT_EQ(recns::WriteDataset(path, data), PETSC_SUCCESS);
  Dataset read;
  ASSERT_EQ(recns::ReadDataset(path, &read), PETSC_SUCCESS);
  ExpectEqual(read, data);
  EXPECT_FALSE(read.valid.Present());
  EXPECT_FALSE(read.exposure.Present());
  EXPECT_FALSE(read.test_random.Present());
}

TEST_F(dataset_io_test, OverwritesAnExistingFile) {
  const std::string path = Path("again.h5");
  Dataset data = Small();
  ASSERT_EQ(recns::WriteDataset(path, data), PETSC_SUCCESS);
  data.name = "second";
  ASSERT_EQ(recns::WriteDataset(path, data), PETSC_SUCCESS);
  Dataset read;
  ASSERT_EQ(recns::ReadDataset(path, &read), PETSC_SUCCESS);
  EXPECT_EQ(read.name, "second");
}

// --- the writer rejects bad contents and leaves no file ----------------------------------------

TEST_F(dataset_io_test, WriteRejectsBadContents) {
  struct Case {
    const char* expected;
    std::function<void(Dataset*)> spoil;
  };
  const Case cases[] = {
      {"/train/indices: item id 6 at user 0 is outside [0, 6)",
       [](Dataset* d) { d->train.indices[1] = 6; }},
      {"/test/indices: item id -1 at user 1 is outside [0, 6)",
       [](Dataset* d) { d->test.indices[0] = -1; }},
      {"/train/indices: items of user 3 are not sorted (2 after 3)",
       [](Dataset* d) { std::swap(d->train.indices[3], d->train.indices[4]); }},
      {"/exposure/indices: item id 0 repeats at user 0",
       [](Dataset* d) {
         d->exposure = MakeCsr({0, 2, 2, 2, 2}, {0, 0});
       }},
      {"/train/indptr: has 4 entries, expected num_users + 1 = 5",
       [](Dataset* d) { d->train.indptr.pop_back(); }},
      {"/valid/indptr: ends at 0 but the indices have 1 entries",
       [](Dataset* d) { d->valid.indptr.back() = 0; }},
      {"/train/indptr: decreases at user 1 (3 after 4)",
       [](Dataset* d) { d->train.indptr[1] = 4; }},
      {"/train: empty",
       [](Dataset* d) {
         d->train = MakeCsr({0, 0, 0, 0, 0}, {});
       }},
      {"/test: empty",
       [](Dataset* d) {
         d->test = MakeCsr({0, 0, 0, 0, 0}, {});
       }},
      {"/test: missing", [](Dataset* d) { d->test = Csr(); }},
      {"/valid: present but empty",
       [](Dataset* d) {
         d->valid = MakeCsr({0, 0, 0, 0, 0}, {});
       }},
      {"/test_random: present but empty",
       [](Dataset* d) {
         d->test_random = MakeCsr({0, 0, 0, 0, 0}, {});
       }},
      {"/test_random/indices: item id 7 at user 3 is outside [0, 6)",
       [](Dataset* d) { d->test_random.indices[2] = 7; }},
      {"/items/raw_id: has 2 entries, expected 6",
       [](Dataset* d) {
         d->item_raw_ids = {"a", "b"};
       }},
  };
  const std::string path = Path("bad.h5");
  for (const Case& c : cases) {
    Dataset data = Small();
    c.spoil(&data);
    EXPECT_EQ(InputError(recns::WriteDataset(path, data)), path + ": " + c.expected);
  }
  EXPECT_TRUE(Files().empty());
}

TEST_F(dataset_io_test, WriteIntoMissingFolderNamesTheFile) {
  const std::string path = Path("no/such/folder/x.h5");
  const std::string message = InputError(recns::WriteDataset(path, Small()));
  EXPECT_EQ(message.rfind(path + ": cannot create the file", 0), 0u) << message;
}

// --- the reader rejects bad files --------------------------------------------------------------

TEST_F(dataset_io_test, ReadRejectsMissingFile) {
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(Path("missing.h5"), &read)),
            Path("missing.h5") + ": no such file");
}

TEST_F(dataset_io_test, ReadRejectsNonHdf5File) {
  const std::string path = Path("text.h5");
  std::ofstream(path) << "user,item\n0,1\n";
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)), path + ": not an HDF5 file or truncated");
}

TEST_F(dataset_io_test, ReadRejectsTruncatedFile) {
  const std::string path = Path("cut.h5");
  ASSERT_EQ(recns::WriteDataset(path, Small()), PETSC_SUCCESS);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)), path + ": not an HDF5 file or truncated");
}

TEST_F(dataset_io_test, ReadRejectsForeignFormat) {
  const std::string path =
      WriteEdited("foreign.h5", [](hid_t f) { ReplaceStringAttribute(f, "format", "foo"); });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": attribute format is 'foo', expected 'recns-dataset'");
}

TEST_F(dataset_io_test, ReadRejectsMissingOrMistypedAttribute) {
  Dataset read;
  std::string path = WriteEdited("noattr.h5", [](hid_t f) { H5Adelete(f, "num_items"); });
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)), path + ": attribute num_items is missing");
  path = WriteEdited("textversion.h5", [](hid_t f) { ReplaceStringAttribute(f, "version", "1"); });
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": attribute version is not an integer");
}

TEST_F(dataset_io_test, ReadRejectsWrongVersion) {
  const std::string path =
      WriteEdited("v7.h5", [](hid_t f) { ReplaceIntAttribute(f, "version", 7); });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": version 7 is not supported (this build reads version 1)");
}

TEST_F(dataset_io_test, ReadRejectsOutOfRangeItem) {
  const std::string path =
      WriteEdited("range.h5", [](hid_t f) { WriteEntry(f, "/train/indices", 5, 90); });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": /train/indices: item id 90 at user 3 is outside [0, 6)");
}

TEST_F(dataset_io_test, ReadRejectsOutOfRangeRandomTestItem) {
  const std::string path =
      WriteEdited("random.h5", [](hid_t f) { WriteEntry(f, "/test_random/indices", 2, 6); });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": /test_random/indices: item id 6 at user 3 is outside [0, 6)");
}

TEST_F(dataset_io_test, ReadRejectsUnsortedRow) {
  const std::string path = WriteEdited("unsorted.h5", [](hid_t f) {
    WriteEntry(f, "/test/indices", 0, 4);
    WriteEntry(f, "/test/indices", 1, 3);
  });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": /test/indices: items of user 1 are not sorted (3 after 4)");
}

TEST_F(dataset_io_test, ReadRejectsWrongLengthIndptr) {
  const std::string path = WriteEdited("indptr.h5", [](hid_t f) {
    ASSERT_GE(H5Ldelete(f, "/valid/indptr", H5P_DEFAULT), 0);
    const hsize_t length = 3;
    const int64_t values[3] = {0, 1, 1};
    const hid_t space = H5Screate_simple(1, &length, nullptr);
    const hid_t dataset =
        H5Dcreate2(f, "/valid/indptr", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
    H5Dclose(dataset);
    H5Sclose(space);
  });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)),
            path + ": /valid/indptr: has 3 entries, expected num_users + 1 = 5");
}

TEST_F(dataset_io_test, ReadRejectsMissingTestSplit) {
  const std::string path =
      WriteEdited("notest.h5", [](hid_t f) { H5Ldelete(f, "/test", H5P_DEFAULT); });
  Dataset read;
  EXPECT_EQ(InputError(recns::ReadDataset(path, &read)), path + ": /test: missing");
}

}  // namespace
