// The per-run metrics file (ARCHITECTURE §4): one row per evaluation, written at once (the whole
// file anew, renamed over the old one) so a crash loses nothing already written. A resumed run rewrites it from the rows its
// checkpoint recorded, so no row is lost or repeated across restarts.
//
// Schema:
//   /                attrs: format="recns-metrics", version=1 (int); the trainer adds the run's
//                    model_type, sampler_type, loss_type, model, sampler (descriptions), dataset,
//                    dataset_name, eval_metric, eval_split, train_seed (strings)
//   /epochs/<column> float64 [rows]  1-D, chunked, extendible; every column has the same length
//   /test_users/     optional (-eval_per_user): the final test evaluation per user, attrs split,
//                    dataset_name, train_fingerprint (strings); datasets user int64 [n] (dataset
//                    ids, ascending), truth_items int32 [n], <metric> float64 [n] per metric
// A row may hold NaN for a figure not measured at that evaluation. Rank 0 does all the HDF5 I/O
// (serial, in memory, then one ordinary write); the other ranks only take part in the collective
// error checks.
#pragma once

#include <petscsys.h>

#include "recns/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace recns {

constexpr const char* kMetricsFormat = "recns-metrics";
constexpr int kMetricsVersion = 1;

/// An open metrics file. Create it, Append rows, destroy it to close the file.
class MetricsLog {
 public:
  /// Collective on comm. Creates `path` (replacing any existing file) with one empty column per
  /// name in `columns` (non-empty, unique, without '/'). Failures are collective
  /// PETSC_ERR_USER_INPUT errors naming the file.
  /// Every call below writes the whole file anew to a temporary file renamed over it, so the
  /// file is always whole. A write that fails (a full disk) is a collective input error naming
  /// the file and the reason, and leaves the previous version.
  static PetscErrorCode Create(MPI_Comm comm, const std::string& path,
                               const std::vector<std::string>& columns,
                               std::unique_ptr<MetricsLog>* log);

  /// Collective on the communicator of Create. Appends one row (one value per column, in
  /// the order given to Create; only rank 0's values are written) and writes the file. A
  /// row of the wrong length is a local (internal) error.
  PetscErrorCode Append(const std::vector<double>& row);

  /// Collective on the communicator of Create. Sets string attributes of the file's root from
  /// rank 0's values (an attribute of the same name is replaced) and writes the file.
  PetscErrorCode WriteAttributes(const std::vector<std::pair<std::string, std::string>>& attributes);

  /// Collective on the communicator of Create. Writes rank 0's per-user metrics as the group
  /// `group` (replacing one of that name): `users` (dataset ids) as dataset user, `truth` as
  /// truth_items, and column m of `values` (users × names.size(), row-major) as dataset
  /// names[m]; `attributes` become string attributes of the group. Then writes the file.
  PetscErrorCode WriteUsers(const std::string& group, const std::vector<int64_t>& users,
                            const std::vector<int32_t>& truth, const std::vector<std::string>& names,
                            const std::vector<double>& values,
                            const std::vector<std::pair<std::string, std::string>>& attributes);

  const std::string& Path() const { return path_; }
  const std::vector<std::string>& Columns() const { return columns_; }
  /// Number of rows in the file, the same on every rank.
  int64_t Rows() const { return rows_; }

  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

 private:
  struct Storage;  // the open HDF5 file, held on rank 0 only
  MetricsLog(MPI_Comm comm, std::string path, std::vector<std::string> columns);
  /// Collective. Writes rank 0's file anew after a change (`changed`: it succeeded; true on the
  /// other ranks), and agrees on the outcome.
  PetscErrorCode Publish(bool changed);

  MPI_Comm comm_;
  std::string path_;
  std::vector<std::string> columns_;
  int64_t rows_ = 0;
  std::unique_ptr<Storage> storage_;
};

}  // namespace recns
