// The per-run metrics file (ARCHITECTURE §4). Rank 0 writes it serially: a row is a handful of
// numbers per evaluation, so parallel HDF5 would only add collective metadata traffic. Problems a
// user can cause (an unwritable path, bad column names) are reported collectively; a
// failing HDF5 call after that is an internal error of rank 0 and aborts the job.
#include "recns/metrics_log.hpp"

#include <hdf5.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "io/hdf5.hpp"
#include "recns/error.hpp"

namespace recns {

namespace {

constexpr const char* kGroup = "epochs";
constexpr hsize_t kChunkRows = 256;

/// Collective. The column names become dataset names, so they must be valid HDF5 link names.
PetscErrorCode CheckColumnNames(MPI_Comm comm, const std::string& path,
                                const std::vector<std::string>& columns) {
  std::string problem;
  PetscFunctionBeginUser;
  if (columns.empty()) problem = Format("metrics file '%s': no columns given", path.c_str());
  for (const std::string& name : columns)
    if (problem.empty() && (name.empty() || name == "." || name.find('/') != std::string::npos))
      problem = Format("metrics file '%s': bad column name '%s' (must be non-empty, without '/')",
                       path.c_str(), name.c_str());
  std::vector<std::string> sorted(columns);
  std::sort(sorted.begin(), sorted.end());
  const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (problem.empty() && twice != sorted.end())
    problem = Format("metrics file '%s': column '%s' given twice", path.c_str(), twice->c_str());
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

// --- Storage: the open file on rank 0 -----------------------------------------------------------

struct MetricsLog::Storage {
  h5::Handle file;
  std::vector<h5::Handle> columns;  ///< in the caller's column order

  /// Creates the file; an unusable path sets `problem` instead of failing.
  static PetscErrorCode Create(const std::string& path, const std::vector<std::string>& names,
                               std::unique_ptr<Storage>* storage, std::string* problem);
  /// Writes `row` as row number `rows` of every column and flushes.
  PetscErrorCode Append(int64_t rows, const std::vector<double>& row);
  /// Replaces or adds string attributes of `object` and flushes.
  PetscErrorCode SetAttributes(hid_t object, const std::vector<std::pair<std::string, std::string>>& attributes);
};

PetscErrorCode MetricsLog::Storage::Create(const std::string& path,
                                           const std::vector<std::string>& names,
                                           std::unique_ptr<Storage>* storage,
                                           std::string* problem) {
  const hsize_t empty = 0, unlimited = H5S_UNLIMITED, chunk = kChunkRows;
  // Rows extended but never written (a crash inside Append) then read as "not measured".
  const double fill = std::numeric_limits<double>::quiet_NaN();
  PetscFunctionBeginUser;
  auto made = std::make_unique<Storage>();
  H5E_BEGIN_TRY {
    made->file = h5::Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                            H5Fclose);
  }
  H5E_END_TRY;
  if (!made->file.ok()) {
    *problem = Format("cannot create metrics file '%s' (does its folder exist and is it writable?)",
                      path.c_str());
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const hid_t file = made->file.get();
  RECNS_H5CALL(h5::WriteStringAttribute(file, "format", kMetricsFormat));
  RECNS_H5CALL(h5::WriteIntAttribute(file, "version", H5T_STD_I32LE, kMetricsVersion));
  // Creation order is tracked so that h5py lists the columns in the order the run gave them.
  h5::Handle group_plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  RECNS_H5CALL(group_plist.get());
  RECNS_H5CALL(H5Pset_link_creation_order(group_plist.get(),
                                          H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
  h5::Handle group(H5Gcreate2(file, kGroup, H5P_DEFAULT, group_plist.get(), H5P_DEFAULT),
                   H5Gclose);
  RECNS_H5CALL(group.get());
  h5::Handle space(H5Screate_simple(1, &empty, &unlimited), H5Sclose);
  RECNS_H5CALL(space.get());
  h5::Handle dataset_plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  RECNS_H5CALL(dataset_plist.get());
  RECNS_H5CALL(H5Pset_chunk(dataset_plist.get(), 1, &chunk));
  RECNS_H5CALL(H5Pset_fill_value(dataset_plist.get(), H5T_NATIVE_DOUBLE, &fill));
  for (const std::string& name : names) {
    const h5::Handle& column = made->columns.emplace_back(
        H5Dcreate2(group.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                   dataset_plist.get(), H5P_DEFAULT),
        H5Dclose);
    RECNS_H5CALL(column.get());
  }
  RECNS_H5CALL(H5Fflush(file, H5F_SCOPE_LOCAL));
  *storage = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::Storage::Append(int64_t rows, const std::vector<double>& row) {
  const hsize_t start = static_cast<hsize_t>(rows), extent = start + 1, count = 1;
  PetscFunctionBeginUser;
  const h5::Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  RECNS_H5CALL(memory_space.get());
  for (size_t c = 0; c < columns.size(); ++c) {
    const hid_t dataset = columns[c].get();
    RECNS_H5CALL(H5Dset_extent(dataset, &extent));
    const h5::Handle file_space(H5Dget_space(dataset), H5Sclose);
    RECNS_H5CALL(file_space.get());
    RECNS_H5CALL(
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr));
    RECNS_H5CALL(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(),
                          H5P_DEFAULT, &row[c]));
  }
  RECNS_H5CALL(H5Fflush(file.get(), H5F_SCOPE_LOCAL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::Storage::SetAttributes(
    hid_t object, const std::vector<std::pair<std::string, std::string>>& attributes) {
  PetscFunctionBeginUser;
  for (const auto& [name, value] : attributes) {
    const htri_t exists = H5Aexists(object, name.c_str());
    RECNS_H5CALL(exists);
    if (exists > 0) RECNS_H5CALL(H5Adelete(object, name.c_str()));
    RECNS_H5CALL(h5::WriteStringAttribute(object, name.c_str(), value));
  }
  RECNS_H5CALL(H5Fflush(file.get(), H5F_SCOPE_LOCAL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {

/// Writes the 1-D dataset `name` of `count` elements under `group`.
PetscErrorCode WriteColumn(hid_t group, const std::string& name, hid_t stored_type, hid_t memory_type,
                           size_t count, const void* data) {
  PetscFunctionBeginUser;
  const hsize_t dims = count;
  const h5::Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
  RECNS_H5CALL(space.get());
  const h5::Handle dataset(
      H5Dcreate2(group, name.c_str(), stored_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  RECNS_H5CALL(dataset.get());
  if (count > 0) RECNS_H5CALL(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

// --- MetricsLog ---------------------------------------------------------------------------------

MetricsLog::MetricsLog(std::string path, std::vector<std::string> columns)
    : path_(std::move(path)), columns_(std::move(columns)) {}

MetricsLog::~MetricsLog() = default;

PetscErrorCode MetricsLog::Create(MPI_Comm comm, const std::string& path,
                                  const std::vector<std::string>& columns,
                                  std::unique_ptr<MetricsLog>* log) {
  PetscMPIInt rank;
  std::string problem;
  PetscFunctionBeginUser;
  PetscCall(CheckColumnNames(comm, path, columns));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  std::unique_ptr<MetricsLog> made(new MetricsLog(path, columns));
  if (rank == 0) PetscCall(Storage::Create(path, columns, &made->storage_, &problem));
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  *log = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::Append(const std::vector<double>& row) {
  PetscFunctionBeginUser;
  PetscCheck(row.size() == columns_.size(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "metrics file '%s': a row of %zu values for %zu columns", path_.c_str(), row.size(),
             columns_.size());
  if (storage_) PetscCall(storage_->Append(rows_, row));
  ++rows_;
  PetscFunctionReturn(PETSC_SUCCESS);
}


PetscErrorCode MetricsLog::WriteAttributes(
    const std::vector<std::pair<std::string, std::string>>& attributes) {
  PetscFunctionBeginUser;
  if (storage_) PetscCall(storage_->SetAttributes(storage_->file.get(), attributes));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::WriteUsers(const std::string& group, const std::vector<int64_t>& users,
                                      const std::vector<int32_t>& truth,
                                      const std::vector<std::string>& names,
                                      const std::vector<double>& values,
                                      const std::vector<std::pair<std::string, std::string>>& attributes) {
  PetscFunctionBeginUser;
  if (!storage_) PetscFunctionReturn(PETSC_SUCCESS);
  const size_t count = users.size(), width = names.size();
  PetscCheck(truth.size() == count && values.size() == count * width, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "metrics file '%s': per-user metrics of %zu users with %zu truth counts and %zu values",
             path_.c_str(), count, truth.size(), values.size());
  const hid_t file = storage_->file.get();
  const htri_t exists = H5Lexists(file, group.c_str(), H5P_DEFAULT);
  RECNS_H5CALL(exists);
  if (exists > 0) RECNS_H5CALL(H5Ldelete(file, group.c_str(), H5P_DEFAULT));
  h5::Handle plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  RECNS_H5CALL(plist.get());
  RECNS_H5CALL(H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
  const h5::Handle made(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, plist.get(), H5P_DEFAULT), H5Gclose);
  RECNS_H5CALL(made.get());
  PetscCall(WriteColumn(made.get(), "user", H5T_STD_I64LE, H5T_NATIVE_INT64, count, users.data()));
  PetscCall(WriteColumn(made.get(), "truth_items", H5T_STD_I32LE, H5T_NATIVE_INT32, count, truth.data()));
  std::vector<double> column(count);
  for (size_t m = 0; m < width; ++m) {
    for (size_t u = 0; u < count; ++u) column[u] = values[u * width + m];
    PetscCall(WriteColumn(made.get(), names[m], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, count, column.data()));
  }
  PetscCall(storage_->SetAttributes(made.get(), attributes));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
