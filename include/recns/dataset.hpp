// The recns dataset file (HDF5) and its in-memory forms.
//
// Schema (ARCHITECTURE §4):
//   /                attrs: format="recns-dataset", version (int), num_users, num_items (int64), name
//   /train/indptr    int64 [num_users+1]  CSR by user; column indices sorted and unique per row
//   /train/indices   int32 [nnz]
//   /valid, /test, /exposure              same shape; /valid and /exposure are optional
//   /test_random                          same shape, optional: a second test split whose items
//                                         were shown to the users at random (Yahoo! R3's
//                                         random.txt), an unbiased test beside /test
//   /users/raw_id, /items/raw_id          optional: original ids, variable-length strings
// The writer is serial (converters, generator); the trainer reads in parallel, each rank reading
// only its users' rows of every split.
#pragma once

#include <petscsys.h>

#include "recns/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace recns {

constexpr const char* kDatasetFormat = "recns-dataset";
constexpr int kDatasetVersion = 1;

/// Rows of a CSR matrix by user. `indptr.size() == rows + 1`, row r is
/// indices[indptr[r] .. indptr[r+1]), sorted and unique. Absent split: `indptr` empty.
struct Csr {
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  bool Present() const { return !indptr.empty(); }
  int64_t Rows() const { return indptr.empty() ? 0 : static_cast<int64_t>(indptr.size()) - 1; }
  int64_t Nnz() const { return indptr.empty() ? 0 : indptr.back() - indptr.front(); }
};

/// A whole dataset in memory (converters, generator, tests). Serial.
struct Dataset {
  std::string name;
  int64_t num_users = 0;
  int64_t num_items = 0;
  Csr train, valid, test, exposure;                    ///< valid/exposure may be absent
  Csr test_random;                                      ///< may be absent
  std::vector<std::string> user_raw_ids, item_raw_ids;  ///< empty = absent
};

/// Not collective. Validates `data` (sizes, sorted unique in-range ids, non-empty train and test,
/// a present valid or test_random split non-empty) and writes it to `path` through a temporary
/// file renamed on success, so `path` is never left half-written. Bad contents raise
/// PETSC_ERR_USER_INPUT naming the dataset and the problem.
PetscErrorCode WriteDataset(const std::string& path, const Dataset& data);

/// Not collective. Makes SIGTERM, SIGINT and SIGHUP remove the temporary file of a WriteDataset
/// in progress, then end the process by that signal (PETSc's handler would abort and leave it).
/// A signal ignored at the call stays ignored. Call after PetscInitialize.
PetscErrorCode InstallWriteSignalHandlers();

/// Not collective. Reads and validates the whole file (tests, tools, small data).
PetscErrorCode ReadDataset(const std::string& path, Dataset* data);

/// What every rank knows about a dataset file before the data are split.
struct DatasetInfo {
  std::string path, name;
  int64_t num_users = 0, num_items = 0;
  bool has_valid = false, has_exposure = false, has_test_random = false;
  int64_t train_nnz = 0, valid_nnz = 0, test_nnz = 0, exposure_nnz = 0, test_random_nnz = 0;
  std::vector<int64_t> train_indptr;  ///< the whole train indptr (for partitioning and batches)
};

/// Collective on comm. Opens `path`, checks format and version attributes and dataset shapes,
/// reads the root attributes and the full /train/indptr. Every problem (missing file, not HDF5,
/// truncated, foreign format, wrong version, missing or misshaped dataset, non-monotone indptr)
/// is a collective PETSC_ERR_USER_INPUT error whose message names the file and the dataset.
PetscErrorCode ReadDatasetInfo(MPI_Comm comm, const std::string& path, DatasetInfo* info);

/// The rows [user_begin, user_end) of every split, as read by one rank. indptr of each Csr is
/// re-based to start at 0 (Rows() == user_end - user_begin).
struct DatasetSlice {
  int64_t user_begin = 0, user_end = 0;
  Csr train, valid, test, exposure;  ///< valid/exposure absent when the file has none
  Csr test_random;                   ///< absent when the file has none
};

/// Collective on comm (every rank calls it, each with its own range; ranges may be empty).
/// Reads only the rows of this rank's users from every split (parallel HDF5, MPI-IO) and checks
/// them: item ids in [0, num_items), sorted and unique per row. Errors are collective and name the
/// file, the dataset and the first bad user row.
PetscErrorCode ReadDatasetSlice(MPI_Comm comm, const DatasetInfo& info, int64_t user_begin,
                                int64_t user_end, DatasetSlice* slice);

/// Collective on comm. The raw ids of the users and items of `info`'s file (/users/raw_id,
/// /items/raw_id), on every rank; a list the file does not hold comes back empty. Every rank
/// reads the lists whole (recns_recommend names users and items by them).
PetscErrorCode ReadDatasetRawIds(MPI_Comm comm, const DatasetInfo& info,
                                 std::vector<std::string>* user_raw_ids,
                                 std::vector<std::string>* item_raw_ids);

}  // namespace recns
