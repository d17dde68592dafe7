// Checks shared by the MPI restart tests: a run on the first ranks of the world, the datasets of
// a checkpoint file, and two runs compared through their final checkpoints and outcomes.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "recns/stop_signal.hpp"
#include "recns/trainer.hpp"
#include "test_util.hpp"
#include "train_checks.hpp"

namespace recns::test {

/// TinyDataset with one train item of every user with three or more moved to a valid split, so
/// the best epoch is chosen on valid and its parameters are part of the state.
inline Dataset TinyDatasetWithValid() {
  const Dataset tiny = TinyDataset(40, 30, 11);
  Dataset data = tiny;
  data.train = recns::Csr{{0}, {}};
  data.valid = recns::Csr{{0}, {}};
  for (int64_t u = 0; u < tiny.num_users; ++u) {
    const int64_t begin = tiny.train.indptr[u], end = tiny.train.indptr[u + 1];
    for (int64_t t = begin; t < end; ++t)
      (end - begin >= 3 && t == end - 1 ? data.valid : data.train).indices.push_back(tiny.train.indices[t]);
    data.train.indptr.push_back((int64_t)data.train.indices.size());
    data.valid.indptr.push_back((int64_t)data.valid.indices.size());
  }
  return data;
}

using Outcome = recns::Trainer::Outcome;

/// A whole dataset of a checkpoint file, read serially; empty when the file has none of that name.
inline std::vector<double> ReadDataset(const std::string& path, const std::string& name,
                                       size_t* columns = nullptr) {
  std::vector<double> values;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(file, 0) << path;
  if (file < 0) return values;
  const std::string group = name.substr(0, name.rfind('/'));
  if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0 || H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) {
    H5Fclose(file);
    return values;
  }
  const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  EXPECT_GE(dataset, 0) << path << " " << name;
  if (dataset >= 0) {
    const hid_t space = H5Dget_space(dataset);
    hsize_t shape[2] = {0, 1};
    H5Sget_simple_extent_dims(space, shape, nullptr);
    if (columns) *columns = (size_t)shape[1];
    values.resize((size_t)H5Sget_simple_extent_npoints(space));
    EXPECT_GE(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Sclose(space);
    H5Dclose(dataset);
  }
  H5Fclose(file);
  return values;
}

/// The checkpoint datasets of shared blocks (`/model/w_gc_0`, ...) and of their Adam moments.
inline std::vector<std::string> WithMoments(const std::vector<std::string>& blocks) {
  std::vector<std::string> names;
  for (const std::string& block : blocks) {
    names.push_back(block);
    names.push_back("/optimizer" + block + "_first_moment");
    names.push_back("/optimizer" + block + "_second_moment");
  }
  return names;
}

/// Compares two runs' final checkpoints and outcomes (world rank 0): `tolerance` 0 is bitwise.
/// `blocks` names further checkpoint datasets to compare (a model's weights and their moments),
/// which both files must hold.
inline void ExpectSameEnd(const Outcome& a, const Outcome& b, double tolerance, const std::string& what,
                          const std::vector<std::string>& blocks = {}) {
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  if (world_rank != 0) return;
  SCOPED_TRACE(what);
  ASSERT_FALSE(a.interrupted);
  ASSERT_FALSE(b.interrupted);
  EXPECT_EQ(a.epochs_run, b.epochs_run);
  EXPECT_EQ(a.steps_run, b.steps_run);
  EXPECT_EQ(a.best_epoch, b.best_epoch);
  auto near = [tolerance](double x, double y) {
    return tolerance == 0 ? (x == y || (std::isnan(x) && std::isnan(y)))
                          : (std::fabs(x - y) <= tolerance * std::max(std::fabs(x), std::fabs(y)) ||
                             (std::isnan(x) && std::isnan(y)));
  };
  EXPECT_TRUE(near(a.final_loss, b.final_loss))
      << a.final_loss << " vs " << b.final_loss;
  EXPECT_TRUE(near(a.sampling_inf, b.sampling_inf));
  ASSERT_EQ(a.final_test.metrics.size(), b.final_test.metrics.size());
  for (size_t m = 0; m < a.final_test.metrics.size(); ++m) {
    EXPECT_TRUE(near(a.final_test.metrics[m].second, b.final_test.metrics[m].second))
        << a.final_test.metrics[m].first;
    EXPECT_TRUE(near(a.best_test.metrics[m].second, b.best_test.metrics[m].second))
        << "best " << a.best_test.metrics[m].first;
  }
  const std::string& x = a.last_checkpoint;
  const std::string& y = b.last_checkpoint;
  ASSERT_FALSE(x.empty());
  ASSERT_FALSE(y.empty());
  // Adam's moments are compared too where the optimizer has them.
  std::vector<std::string> names = {"/model/user_embedding", "/model/item_embedding",
                                    "/optimizer/model/user_embedding_first_moment",
                                    "/optimizer/model/item_embedding_second_moment"};
  const size_t given = names.size();
  names.insert(names.end(), blocks.begin(), blocks.end());
  for (size_t n = 0; n < names.size(); ++n) {
    const std::string& name = names[n];
    const std::vector<double> u = ReadDataset(x, name), v = ReadDataset(y, name);
    ASSERT_EQ(u.size(), v.size()) << name;
    if (name.rfind("/model", 0) == 0 || n >= given) ASSERT_FALSE(u.empty()) << name;
    size_t differing = 0;
    for (size_t k = 0; k < u.size(); ++k) differing += near(u[k], v[k]) ? 0 : 1;
    EXPECT_EQ(differing, 0u) << name;
  }
  // Metrics rows, except the two columns of wall seconds (columns 4 and 5).
  size_t width = 1;
  const std::vector<double> u = ReadDataset(x, "/trainer/metrics", &width), v = ReadDataset(y, "/trainer/metrics");
  ASSERT_EQ(u.size(), v.size());
  for (size_t k = 0; k < u.size(); ++k)
    if (k % width != 4 && k % width != 5)
      EXPECT_TRUE(near(u[k], v[k])) << "metrics row " << k / width << " column " << k % width;
}

/// Trains 4 epochs straight, and 2 epochs then 2 more from the checkpoint, in folders of
/// `scratch`: the two ends are the same bit for bit on the world's ranks and within 1e-9 when the
/// first half ran on one rank. `blocks` as in ExpectSameEnd.
inline void ExpectResumedEqualsStraight(const Dataset& data, const std::string& options,
                                        const std::string& scratch,
                                        const std::vector<std::string>& blocks = {}) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  auto folder = [&](const std::string& name) { return " -checkpoint_dir " + scratch + "/" + name; };
  Outcome straight, first, resumed;
  TrainOn(world_size, data, options + " -train_epochs 4" + folder("straight"), &straight);
  TrainOn(world_size, data, options + " -train_epochs 2" + folder("split"), &first);
  TrainOn(world_size, data, options + " -train_epochs 4 -restart auto" + folder("split"), &resumed);
  ExpectSameEnd(straight, resumed, 0, "same ranks", blocks);
  if (world_size == 1) return;
  Outcome narrow_first, wide_resumed;
  TrainOn(1, data, options + " -train_epochs 2" + folder("narrow"), &narrow_first);
  TrainOn(world_size, data, options + " -train_epochs 4 -restart auto" + folder("narrow"), &wide_resumed);
  ExpectSameEnd(straight, wide_resumed, 1e-9, "1 rank, then all", blocks);
}

}  // namespace recns::test
