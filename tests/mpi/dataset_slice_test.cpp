// Parallel dataset reading: per-rank slices (some empty) put together give exactly the serial
// read, and a bad file, or a bad row that only one rank sees, fails every rank with one message.
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/dataset.hpp"
#include "recns/error.hpp"
#include "recns/graph.hpp"
#include "recns/layout.hpp"
#include "recns/synthetic.hpp"

namespace {

using recns::Csr;
using recns::Dataset;

using recns::test::InputError;

Dataset Generated() {
  recns::SyntheticOptions options;
  options.num_users = 37;
  options.num_items = 60;
  options.mean_degree = 6;
  options.communities = 3;
  options.mean_exposures = 3;
  options.valid_fraction = 0.15;
  options.test_fraction = 0.2;
  options.seed = 11;
  Dataset data;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
  return data;
}

/// Generated() with a random test split: two items of every user but each third (rows left
/// empty, as for users random.txt does not rate), items not in the user's train or valid rows.
Dataset WithTestRandom() {
  Dataset data = Generated();
  Csr& random = data.test_random;
  random.indptr = {0};
  for (int64_t u = 0; u < data.num_users; ++u) {
    std::set<int32_t> taken(data.train.indices.begin() + data.train.indptr[u],
                            data.train.indices.begin() + data.train.indptr[u + 1]);
    taken.insert(data.valid.indices.begin() + data.valid.indptr[u],
                 data.valid.indices.begin() + data.valid.indptr[u + 1]);
    std::set<int32_t> row;
    for (int32_t item = static_cast<int32_t>(u * 7 % data.num_items);
         u % 3 != 0 && row.size() < 2; item = (item + 1) % data.num_items)
      if (!taken.count(item)) row.insert(item);
    random.indices.insert(random.indices.end(), row.begin(), row.end());
    random.indptr.push_back(static_cast<int64_t>(random.indices.size()));
  }
  return data;
}

/// Rows [begin, end) of `csr`, indptr re-based to 0 (absent stays absent).
Csr Rows(const Csr& csr, int64_t begin, int64_t end) {
  Csr rows;
  if (!csr.Present()) return rows;
  for (int64_t u = begin; u <= end; ++u) rows.indptr.push_back(csr.indptr[u] - csr.indptr[begin]);
  rows.indices.assign(csr.indices.begin() + csr.indptr[begin],
                      csr.indices.begin() + csr.indptr[end]);
  return rows;
}

/// Overwrites one element of a 1-D integer dataset (serial HDF5).
void Patch(const std::string& path, const char* object, hsize_t position, int64_t value) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t dataset = H5Dopen2(file, object, H5P_DEFAULT);
  const hid_t space = H5Dget_space(dataset);
  const hsize_t one = 1;
  H5Sselect_hyperslab(space, H5S_SELECT_SET, &position, nullptr, &one, nullptr);
  const hid_t memory = H5Screate_simple(1, &one, nullptr);
  EXPECT_GE(H5Dwrite(dataset, H5T_NATIVE_INT64, memory, space, H5P_DEFAULT, &value), 0);
  H5Sclose(memory);
  H5Sclose(space);
  H5Dclose(dataset);
  H5Fclose(file);
}

class dataset_slice_test : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank_);
    MPI_Comm_size(PETSC_COMM_WORLD, &size_);
    dir_ = recns::test::ScratchDir(PETSC_COMM_WORLD, "dataset_slice");
  }
  void TearDown() override {
    MPI_Barrier(PETSC_COMM_WORLD);
    if (rank_ == 0) std::filesystem::remove_all(dir_);
  }
  /// Rank 0 writes `data` to `name` and applies `edit` to the file; then every rank has it.
  template <class Edit>
  std::string WriteOnRankZero(const std::string& name, const Dataset& data, Edit edit) {
    const std::string path = dir_ + "/" + name;
    if (rank_ == 0) {
      EXPECT_EQ(recns::WriteDataset(path, data), PETSC_SUCCESS);
      edit(path);
    }
    MPI_Barrier(PETSC_COMM_WORLD);
    return path;
  }
  std::string WriteOnRankZero(const std::string& name, const Dataset& data) {
    return WriteOnRankZero(name, data, [](const std::string&) {});
  }
  /// Users [begin, end) of this rank when the blocks end at bounds[1..size].
  std::pair<int64_t, int64_t> Block(const std::vector<int64_t>& bounds) const {
    return {bounds[rank_], bounds[rank_ + 1]};
  }
  /// Even contiguous blocks of `users`.
  std::vector<int64_t> EvenBounds(int64_t users) const {
    std::vector<int64_t> bounds;
    for (int r = 0; r <= size_; ++r) bounds.push_back(users * r / size_);
    return bounds;
  }
  /// Every layout of user blocks (some empty) reads slices equal to the serial read's rows.
  void ExpectSlicesMatch(const std::string& path) {
    Dataset whole;
    // Every rank must leave together: the calls below are collective.
    int read = recns::ReadDataset(path, &whole) == PETSC_SUCCESS, all_read = 0;
    MPI_Allreduce(&read, &all_read, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
    ASSERT_TRUE(all_read);
    recns::DatasetInfo info;
    ASSERT_EQ(recns::ReadDatasetInfo(PETSC_COMM_WORLD, path, &info), PETSC_SUCCESS);
    EXPECT_EQ(info.path, path);
    EXPECT_EQ(info.name, whole.name);
    EXPECT_EQ(info.num_users, whole.num_users);
    EXPECT_EQ(info.num_items, whole.num_items);
    EXPECT_TRUE(info.has_valid);
    EXPECT_TRUE(info.has_exposure);
    EXPECT_EQ(info.train_nnz, whole.train.Nnz());
    EXPECT_EQ(info.valid_nnz, whole.valid.Nnz());
    EXPECT_EQ(info.test_nnz, whole.test.Nnz());
    EXPECT_EQ(info.exposure_nnz, whole.exposure.Nnz());
    EXPECT_EQ(info.has_test_random, whole.test_random.Present());
    EXPECT_EQ(info.test_random_nnz, whole.test_random.Nnz());
    EXPECT_EQ(info.train_indptr, whole.train.indptr);

    const int64_t users = whole.num_users;
    std::vector<std::vector<int64_t>> layouts = {EvenBounds(users)};
    layouts.push_back(std::vector<int64_t>(size_, 0));  // every user on the last rank
    layouts.back().push_back(users);
    layouts.emplace_back();  // growing blocks: rank 0 gets none when there are several ranks
    for (int r = 0; r <= size_; ++r) layouts.back().push_back(users * r * r / (size_ * size_));
    for (const std::vector<int64_t>& bounds : layouts) {
      const auto [begin, end] = Block(bounds);
      recns::DatasetSlice slice;
      ASSERT_EQ(recns::ReadDatasetSlice(PETSC_COMM_WORLD, info, begin, end, &slice), PETSC_SUCCESS);
      EXPECT_EQ(slice.user_begin, begin);
      EXPECT_EQ(slice.user_end, end);
      for (auto [in_whole, in_slice] :
           {std::pair{&Dataset::train, &recns::DatasetSlice::train},
            std::pair{&Dataset::valid, &recns::DatasetSlice::valid},
            std::pair{&Dataset::test, &recns::DatasetSlice::test},
            std::pair{&Dataset::exposure, &recns::DatasetSlice::exposure},
            std::pair{&Dataset::test_random, &recns::DatasetSlice::test_random}}) {
        const Csr expected = Rows(whole.*in_whole, begin, end);
        EXPECT_EQ((slice.*in_slice).indptr, expected.indptr);
        EXPECT_EQ((slice.*in_slice).indices, expected.indices);
        // The blocks partition the users, so the slices add up to the whole split.
        long long mine = (slice.*in_slice).Nnz(), total = 0;
        MPI_Allreduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, PETSC_COMM_WORLD);
        EXPECT_EQ(total, (whole.*in_whole).Nnz());
      }
    }
  }
  int rank_ = 0, size_ = 1;
  std::string dir_;
};

TEST_F(dataset_slice_test, SlicesPutTogetherGiveTheSerialRead) {
  Dataset no_exposures = Generated();
  no_exposures.exposure.indptr.assign(no_exposures.exposure.indptr.size(), 0);
  no_exposures.exposure.indices.clear();  // present but empty: a dataset without storage
  const std::string paths[] = {WriteOnRankZero("generated.h5", Generated()),
                               WriteOnRankZero("no_exposures.h5", no_exposures),
                               WriteOnRankZero("test_random.h5", WithTestRandom())};
  for (const std::string& path : paths) ExpectSlicesMatch(path);
}

TEST_F(dataset_slice_test, BadFilesFailEveryRankWithOneMessage) {
  const std::string missing = dir_ + "/missing.h5";
  const std::string text = dir_ + "/text.h5";
  if (rank_ == 0) std::ofstream(text) << "0 1 2\n";
  const std::string cut = WriteOnRankZero("cut.h5", Generated(), [](const std::string& path) {
    std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  });
  const std::string version =
      WriteOnRankZero("version.h5", Generated(), [](const std::string& path) {
        const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        const hid_t attribute = H5Aopen(file, "version", H5P_DEFAULT);
        const int seven = 7;
        EXPECT_GE(H5Awrite(attribute, H5T_NATIVE_INT, &seven), 0);
        H5Aclose(attribute);
        H5Fclose(file);
      });
  const std::pair<std::string, std::string> cases[] = {
      {missing, missing + ": no such file"},
      {text, text + ": not an HDF5 file or truncated"},
      {cut, cut + ": not an HDF5 file or truncated"},
      {version, version + ": version 7 is not supported (this build reads version 1)"},
  };
  for (const auto& [path, expected] : cases) {
    recns::DatasetInfo info;
    EXPECT_EQ(InputError(recns::ReadDatasetInfo(PETSC_COMM_WORLD, path, &info)), expected);
  }
}

TEST_F(dataset_slice_test, BadRowSeenByOneRankFailsEveryRank) {
  const Dataset data = Generated();
  const int64_t users = data.num_users, last = data.train.Nnz() - 1, middle = users / 2;
  // The last train entry belongs to the last user: only the last rank reads it.
  const std::string item = WriteOnRankZero("item.h5", data, [&](const std::string& path) {
    Patch(path, "/train/indices", static_cast<hsize_t>(last), 65);
  });
  // A valid indptr entry in the middle: only the ranks around that user read it.
  const std::string indptr = WriteOnRankZero("indptr.h5", data, [&](const std::string& path) {
    Patch(path, "/valid/indptr", static_cast<hsize_t>(middle), 100000);
  });
  const std::pair<std::string, std::string> cases[] = {
      {item, recns::Format("%s: /train/indices: item id 65 at user %lld is outside [0, 60)",
                           item.c_str(), static_cast<long long>(users - 1))},
      {indptr,
       recns::Format("%s: /valid/indptr: entry %lld is 100000, outside [0, %lld]", indptr.c_str(),
                     static_cast<long long>(middle), static_cast<long long>(data.valid.Nnz()))},
  };
  for (const auto& [path, expected] : cases) {
    recns::DatasetInfo info;
    ASSERT_EQ(recns::ReadDatasetInfo(PETSC_COMM_WORLD, path, &info), PETSC_SUCCESS);
    const auto [begin, end] = Block(EvenBounds(users));
    recns::DatasetSlice slice;
    EXPECT_EQ(InputError(recns::ReadDatasetSlice(PETSC_COMM_WORLD, info, begin, end, &slice)),
              expected);
  }
}

// The Graph's item blocks hold equal training pairs, not equal item counts, whether it reads a
// file (each rank counts its users' items) or holds the dataset in memory: one item taken by
// nearly every user makes the first item block shorter than an even split.
TEST_F(dataset_slice_test, ItemBlocksBalanceTrainingPairs) {
  Dataset data = recns::test::TinyDataset(40, 30, 5);
  Csr train;
  train.indptr = {0};
  for (int64_t u = 0; u < data.num_users; ++u) {
    const bool has_zero = data.train.indices[data.train.indptr[u]] == 0 || data.test.indices[u] == 0;
    if (!has_zero) train.indices.push_back(0);
    train.indices.insert(train.indices.end(), data.train.indices.begin() + data.train.indptr[u],
                         data.train.indices.begin() + data.train.indptr[u + 1]);
    train.indptr.push_back((int64_t)train.indices.size());
  }
  data.train = train;
  std::vector<int64_t> degree(data.num_items, 0);
  for (int32_t item : data.train.indices) ++degree[item];
  std::vector<int64_t> pairs_before(data.num_items + 1, 0);
  for (int64_t i = 0; i < data.num_items; ++i) pairs_before[i + 1] = pairs_before[i] + degree[i];
  const std::vector<int64_t> expected = recns::Layout::SplitByPairs(pairs_before, size_);
  if (size_ > 1) EXPECT_LT(expected[1], data.num_items / size_);  // fewer items than an even split

  recns::Graph built, loaded;
  ASSERT_EQ(built.Build(PETSC_COMM_WORLD, data), PETSC_SUCCESS);
  ASSERT_EQ(loaded.Load(PETSC_COMM_WORLD, WriteOnRankZero("popular.h5", data)), PETSC_SUCCESS);
  for (const recns::Graph* graph : {&built, &loaded}) {
    EXPECT_EQ(graph->ItemDegrees(), degree);
    EXPECT_EQ(graph->GetLayout().ItemStarts(), expected);
  }
}

}  // namespace
