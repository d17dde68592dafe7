// The per-run metrics file (ARCHITECTURE §4). Rank 0 writes it serially: a row is a handful of
// numbers per evaluation, so parallel HDF5 would only add collective metadata traffic. Problems a
// user can cause (unwritable path, foreign file, other columns) are reported collectively; a
// failing HDF5 call after that is an internal error of rank 0 and aborts the job.
#include "recns/metrics_log.hpp"

#include <hdf5.h>

#include <algorithm>
#include <iterator>
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

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

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

/// Whether an attribute was read: one absent or of another kind is a problem of the file, which
/// the caller words, but a failing HDF5 call is an internal error.
PetscErrorCode AttributeFound(h5::AttributeStatus status, const char* name, bool* found) {
  PetscFunctionBeginUser;
  PetscCheck(status != h5::AttributeStatus::kFailed, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "HDF5 call failed: reading attribute %s", name);
  *found = status == h5::AttributeStatus::kOk;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Names of the links in `group`, sorted.
PetscErrorCode ListLinks(hid_t group, std::vector<std::string>* names) {
  H5G_info_t info;
  PetscFunctionBeginUser;
  RECNS_H5CALL(H5Gget_info(group, &info));
  names->clear();
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t length;
    RECNS_H5CALL(length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr,
                                             0, H5P_DEFAULT));
    std::vector<char> name(static_cast<size_t>(length) + 1, '\0');
    RECNS_H5CALL(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                                    name.size(), H5P_DEFAULT));
    names->emplace_back(name.data());
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Difference of two sorted name lists.
std::vector<std::string> Missing(const std::vector<std::string>& from,
                                 const std::vector<std::string>& in) {
  std::vector<std::string> out;
  std::set_difference(from.begin(), from.end(), in.begin(), in.end(), std::back_inserter(out));
  return out;
}

}  // namespace

// --- Storage: the open file on rank 0 -----------------------------------------------------------

struct MetricsLog::Storage {
  h5::Handle file;
  std::vector<h5::Handle> columns;  ///< in the caller's column order

  /// Creates the file; an unusable path sets `problem` instead of failing.
  static PetscErrorCode Create(const std::string& path, const std::vector<std::string>& names,
                               std::unique_ptr<Storage>* storage, std::string* problem);
  /// Opens and checks an existing file; a bad file sets `problem` instead of failing.
  static PetscErrorCode Open(const std::string& path, const std::vector<std::string>& names,
                             std::unique_ptr<Storage>* storage, int64_t* rows,
                             std::string* problem);
  /// Writes `row` as row number `rows` of every column and flushes.
  PetscErrorCode Append(int64_t rows, const std::vector<double>& row);
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

PetscErrorCode MetricsLog::Storage::Open(const std::string& path,
                                         const std::vector<std::string>& names,
                                         std::unique_ptr<Storage>* storage, int64_t* rows,
                                         std::string* problem) {
  h5::Handle group;
  bool found = false;
  std::string format;
  int64_t version;
  std::vector<std::string> in_file, wanted(names);
  std::vector<hsize_t> lengths;
  const char* where = path.c_str();
  PetscFunctionBeginUser;
  auto made = std::make_unique<Storage>();
  H5E_BEGIN_TRY { made->file = h5::Handle(H5Fopen(where, H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose); }
  H5E_END_TRY;
  if (!made->file.ok()) {
    *problem = Format("cannot open metrics file '%s' for appending (missing, not writable or not "
                      "HDF5)", where);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const hid_t file = made->file.get();

  PetscCall(AttributeFound(h5::ReadStringAttribute(file, "format", &format), "format", &found));
  if (!found || format != kMetricsFormat) {
    *problem = found ? Format("'%s' is not a recns metrics file (its format is '%s', expected '%s')",
                              where, format.c_str(), kMetricsFormat)
                     : Format("'%s' is not a recns metrics file (no format attribute)", where);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(AttributeFound(h5::ReadIntAttribute(file, "version", &version), "version", &found));
  if (!found || version != kMetricsVersion) {
    *problem = found ? Format("metrics file '%s' has version %lld; this build reads version %d",
                              where, static_cast<long long>(version), kMetricsVersion)
                     : Format("metrics file '%s' has no version attribute", where);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  H5E_BEGIN_TRY { group = h5::Handle(H5Gopen2(file, kGroup, H5P_DEFAULT), H5Gclose); }
  H5E_END_TRY;
  if (!group.ok()) {
    *problem = Format("metrics file '%s' has no /%s group", where, kGroup);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscCall(ListLinks(group.get(), &in_file));
  std::sort(wanted.begin(), wanted.end());
  if (in_file != wanted) {
    const std::vector<std::string> file_only = Missing(in_file, wanted),
                                   run_only = Missing(wanted, in_file);
    std::string differences;
    if (!file_only.empty()) differences = "only in the file: " + Join(file_only);
    if (!run_only.empty())
      differences += (differences.empty() ? "" : "; ") + ("only in this run: " + Join(run_only));
    *problem = Format("metrics file '%s' has other columns than this run (%s)", where,
                      differences.c_str());
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  for (const std::string& name : names) {
    h5::Handle dataset;
    H5T_class_t type_class = H5T_NO_CLASS;
    hsize_t length = 0, max_length = 0;
    int dims = -1;
    H5E_BEGIN_TRY {
      dataset = h5::Handle(H5Dopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    }
    H5E_END_TRY;
    if (dataset.ok()) {
      const h5::Handle space(H5Dget_space(dataset.get()), H5Sclose);
      const h5::Handle type(H5Dget_type(dataset.get()), H5Tclose);
      RECNS_H5CALL(space.get());
      RECNS_H5CALL(type.get());
      RECNS_H5CALL(dims = H5Sget_simple_extent_ndims(space.get()));
      RECNS_H5CALL(type_class = H5Tget_class(type.get()));
      if (dims == 1) RECNS_H5CALL(H5Sget_simple_extent_dims(space.get(), &length, &max_length));
    }
    if (dims != 1 || type_class != H5T_FLOAT || max_length != H5S_UNLIMITED) {
      *problem = Format("metrics file '%s': /%s/%s is not an extendible 1-D floating-point column",
                        where, kGroup, name.c_str());
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    lengths.push_back(length);
    made->columns.push_back(std::move(dataset));
  }
  // Columns are extended one after another, so a crash inside Append can leave the last row in
  // some columns only; that row is incomplete and dropped.
  const hsize_t complete = *std::min_element(lengths.begin(), lengths.end());
  for (size_t c = 0; c < lengths.size(); ++c)
    if (lengths[c] != complete) RECNS_H5CALL(H5Dset_extent(made->columns[c].get(), &complete));
  RECNS_H5CALL(H5Fflush(file, H5F_SCOPE_LOCAL));
  *rows = static_cast<int64_t>(complete);
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

PetscErrorCode MetricsLog::Open(MPI_Comm comm, const std::string& path,
                                const std::vector<std::string>& columns,
                                std::unique_ptr<MetricsLog>* log) {
  PetscMPIInt rank;
  std::string problem;
  int64_t rows = 0;
  PetscFunctionBeginUser;
  PetscCall(CheckColumnNames(comm, path, columns));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  std::unique_ptr<MetricsLog> made(new MetricsLog(path, columns));
  if (rank == 0) PetscCall(Storage::Open(path, columns, &made->storage_, &rows, &problem));
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  PetscCallMPI(MPI_Bcast(&rows, 1, MPI_INT64_T, 0, comm));
  made->rows_ = rows;
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

}  // namespace recns
