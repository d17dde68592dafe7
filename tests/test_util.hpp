// Helpers shared by the unit and MPI tests.
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>
#include <petscsys.h>

#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "recns/dataset.hpp"
#include "recns/error.hpp"
#include "recns/layout.hpp"
#include "recns/rng.hpp"
#include "recns/synthetic.hpp"

namespace recns::test {

/// The dataset node (users 0..U-1, then items U..U+I-1) of one of this rank's local rows.
inline int64_t DatasetNode(const Layout& layout, int64_t local_row) {
  return local_row < layout.LocalUsers()
             ? layout.UserBegin() + local_row
             : layout.NumUsers() + layout.ItemBegin() + (local_row - layout.LocalUsers());
}

/// A small deterministic dataset: every user has 2..5 train items and one test item.
inline Dataset TinyDataset(int64_t users, int64_t items, uint64_t seed) {
  Dataset data;
  data.name = "tiny";
  data.num_users = users;
  data.num_items = items;
  data.train.indptr = {0};
  data.test.indptr = {0};
  for (int64_t u = 0; u < users; ++u) {
    std::vector<int32_t> row;
    const auto b = recns::RandomBlock(seed, recns::RngPurpose::kSynthetic, 0, (uint64_t)u, 0);
    const int count = 3 + (int)recns::UniformBelow(b.v[0], 4);
    for (uint32_t draw = 1; (int)row.size() < count; ++draw) {
      const auto c = recns::RandomBlock(seed, recns::RngPurpose::kSynthetic, 0, (uint64_t)u, draw);
      const int32_t item = (int32_t)recns::UniformBelow(c.v[0], (uint32_t)items);
      if (std::find(row.begin(), row.end(), item) == row.end()) row.push_back(item);
    }
    const int32_t test_item = row.back();
    row.pop_back();
    std::sort(row.begin(), row.end());
    data.train.indices.insert(data.train.indices.end(), row.begin(), row.end());
    data.train.indptr.push_back((int64_t)data.train.indices.size());
    data.test.indices.push_back(test_item);
    data.test.indptr.push_back((int64_t)data.test.indices.size());
  }
  return data;
}

/// A small synthetic dataset whose users also have exposures (items shown, not interacted with),
/// and a validation split when `valid_fraction` > 0: for the exposure samplers and RecNS.
inline Dataset TinyDatasetWithExposures(int64_t users, int64_t items, uint64_t seed,
                                        double valid_fraction = 0) {
  SyntheticOptions options;
  options.name = "tiny-exposures";
  options.num_users = users;
  options.num_items = items;
  options.mean_degree = 4;
  options.mean_exposures = 3;
  options.communities = 4;
  options.valid_fraction = valid_fraction;
  options.seed = seed;
  Dataset data;
  EXPECT_EQ(GenerateSynthetic(options, &data), 0);
  return data;
}

/// TinyDataset with a validation split (the first train item of every third user) and no test
/// items for every seventh user, so exclusion lists and skipped users occur.
inline Dataset TinyDatasetWithGaps(int64_t users, int64_t items, uint64_t seed) {
  Dataset tiny = TinyDataset(users, items, seed), data = tiny;
  data.train = data.valid = data.test = Csr{};
  data.train.indptr = data.valid.indptr = data.test.indptr = {0};
  for (int64_t u = 0; u < tiny.num_users; ++u) {
    for (int64_t p = tiny.train.indptr[u]; p < tiny.train.indptr[u + 1]; ++p)
      (u % 3 == 0 && p == tiny.train.indptr[u] ? data.valid : data.train).indices.push_back(tiny.train.indices[p]);
    if (u % 7 != 0)
      for (int64_t p = tiny.test.indptr[u]; p < tiny.test.indptr[u + 1]; ++p)
        data.test.indices.push_back(tiny.test.indices[p]);
    data.train.indptr.push_back((int64_t)data.train.indices.size());
    data.valid.indptr.push_back((int64_t)data.valid.indices.size());
    data.test.indptr.push_back((int64_t)data.test.indices.size());
  }
  return data;
}

/// A deterministic embedding entry of dataset node `node` (users 0..U-1, then items), in
/// {-1, 0, 1}: small integers, so scores tie often and sum exactly.
inline double TernaryEntry(uint64_t seed, int64_t node, int c) {
  const auto b = RandomBlock(seed, RngPurpose::kSynthetic, 3, (uint64_t)node, (uint32_t)c);
  return (double)UniformBelow(b.v[0], 3) - 1.0;
}

/// Path of a file under the shared data folder (RECNS_SHARED_DATA), or "" when it is absent.
inline std::string SharedData(const std::string& relative) {
  const char* root = std::getenv("RECNS_SHARED_DATA");
  const std::string path = std::string(root ? root : "../shared/data") + "/" + relative;
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? path : std::string();
}

/// The message of the most recent PETSc error on this rank (the one a failing call returned).
inline std::string LastErrorMessage(PetscErrorCode code) {
  char* message = nullptr;
  PetscErrorMessage(code, nullptr, &message);
  return message ? message : "";
}

/// Expects `code` to be an input error and returns its message.
inline std::string InputError(PetscErrorCode code) {
  EXPECT_EQ(code, PETSC_ERR_USER_INPUT);
  return LastErrorMessage(code);
}

/// Asserts that a call returning PetscErrorCode succeeded, printing its message otherwise.
#define ASSERT_PETSC_OK(expression)                                               \
  do {                                                                            \
    const PetscErrorCode code_ = (expression);                                    \
    ASSERT_EQ(code_, 0) << ::recns::test::LastErrorMessage(code_);               \
  } while (0)

/// Runs `body` with exactly the options in `text` (a fresh options database, popped afterwards).
template <class Body>
inline PetscErrorCode WithOptions(const std::string& text, Body body) {
  PetscOptions options;
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(&options));
  PetscCall(PetscOptionsInsertString(options, text.c_str()));
  PetscCall(PetscOptionsPush(options));
  const PetscErrorCode code = body();
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&options));
  PetscCall(code);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Skips the current test with a clear message when a shared dataset is missing.
#define RECNS_REQUIRE_SHARED_DATA(var, relative)                                              \
  const std::string var = ::recns::test::SharedData(relative);                               \
  if (var.empty())                                                                             \
  GTEST_SKIP() << "shared dataset '" << relative                                              \
               << "' is absent (set RECNS_SHARED_DATA to the folder holding ml-100k, lastfm, " \
                  "gowalla); skipping"

/// A fresh scratch folder, the same path on every rank of `comm` (created by rank 0).
inline std::string ScratchDir(MPI_Comm comm, const std::string& tag) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  char buffer[512] = {0};
  if (rank == 0) {
    std::string pattern = "/tmp/recns_test_" + tag + "_XXXXXX";
    char* made = mkdtemp(pattern.data());
    std::snprintf(buffer, sizeof buffer, "%s", made ? made : "/tmp");
  }
  MPI_Bcast(buffer, sizeof buffer, MPI_CHAR, 0, comm);
  return buffer;
}

}  // namespace recns::test
