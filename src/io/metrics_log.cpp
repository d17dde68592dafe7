// The per-run metrics file (ARCHITECTURE §4). Rank 0 writes it serially: a row is a handful of
// numbers per evaluation, so parallel HDF5 would only add collective metadata traffic.
//
// Rank 0 keeps the file in memory (HDF5's core driver) and, after every change, writes its image
// to a temporary file renamed over the old one: a full disk then fails an ordinary write, with
// errno, and leaves the previous version whole. (Writing through HDF5 instead, a failed flush on
// a full disk leaves HDF5 1.10 unable ever to close the file, and it crashes at exit.) Every
// write's outcome is agreed on by all ranks before they go on: a failure on rank 0 alone left the
// others waiting in their next collective call.
#include "recns/metrics_log.hpp"

#include <hdf5.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "io/hdf5.hpp"
#include "recns/error.hpp"
#include "recns/json.hpp"

namespace recns {

namespace {

constexpr const char* kGroup = "epochs";
constexpr hsize_t kChunkRows = 256;
constexpr size_t kImageIncrement = 1 << 16;  // bytes by which the file in memory grows

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

// Each changes the file in memory and returns false when an HDF5 call fails.
struct MetricsLog::Storage {
  h5::Handle file;
  std::vector<h5::Handle> columns;  ///< in the caller's column order

  /// Creates the file, in memory, with `names` as empty columns.
  bool Create(const std::string& path, const std::vector<std::string>& names);
  /// The bytes of the file as it stands.
  bool Image(std::string* image) const;
  /// Writes `row` as row number `rows` of every column.
  bool Append(int64_t rows, const std::vector<double>& row);
  /// Replaces or adds string attributes of `object`.
  bool SetAttributes(hid_t object, const std::vector<std::pair<std::string, std::string>>& attributes);
  /// The group `group` of per-user columns (see WriteUsers), replacing one of that name.
  bool WriteUsers(const std::string& group, const std::vector<int64_t>& users,
                  const std::vector<int32_t>& truth, const std::vector<std::string>& names,
                  const std::vector<double>& values,
                  const std::vector<std::pair<std::string, std::string>>& attributes);
};

bool MetricsLog::Storage::Create(const std::string& path, const std::vector<std::string>& names) {
  const hsize_t empty = 0, unlimited = H5S_UNLIMITED, chunk = kChunkRows;
  // Rows extended but never written (a crash inside Append) then read as "not measured".
  const double fill = std::numeric_limits<double>::quiet_NaN();
  const h5::Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!access.ok() || H5Pset_fapl_core(access.get(), kImageIncrement, false) < 0) return false;
  // The name is only a label in memory; the file of that name is not touched.
  file = h5::Handle(H5Fcreate((path + " (in memory)").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
  if (!file.ok() || h5::WriteStringAttribute(file.get(), "format", kMetricsFormat) < 0 ||
      h5::WriteIntAttribute(file.get(), "version", H5T_STD_I32LE, kMetricsVersion) < 0)
    return false;
  // Creation order is tracked so that h5py lists the columns in the order the run gave them.
  const h5::Handle group_plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (!group_plist.ok() || H5Pset_link_creation_order(group_plist.get(), H5P_CRT_ORDER_TRACKED |
                                                                             H5P_CRT_ORDER_INDEXED) < 0)
    return false;
  const h5::Handle group(H5Gcreate2(file.get(), kGroup, H5P_DEFAULT, group_plist.get(), H5P_DEFAULT),
                         H5Gclose);
  const h5::Handle space(H5Screate_simple(1, &empty, &unlimited), H5Sclose);
  const h5::Handle dataset_plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!group.ok() || !space.ok() || !dataset_plist.ok() ||
      H5Pset_chunk(dataset_plist.get(), 1, &chunk) < 0 ||
      H5Pset_fill_value(dataset_plist.get(), H5T_NATIVE_DOUBLE, &fill) < 0)
    return false;
  for (const std::string& name : names) {
    const h5::Handle& column = columns.emplace_back(
        H5Dcreate2(group.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                   dataset_plist.get(), H5P_DEFAULT),
        H5Dclose);
    if (!column.ok()) return false;
  }
  return true;
}

bool MetricsLog::Storage::Image(std::string* image) const {
  // The image is what the core driver holds: the cached metadata must be flushed into it first.
  if (H5Fflush(file.get(), H5F_SCOPE_LOCAL) < 0) return false;
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size < 0) return false;
  image->resize((size_t)size);
  return H5Fget_file_image(file.get(), image->data(), (size_t)size) == size;
}

bool MetricsLog::Storage::Append(int64_t rows, const std::vector<double>& row) {
  const hsize_t start = static_cast<hsize_t>(rows), extent = start + 1, count = 1;
  const h5::Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  if (!memory_space.ok()) return false;
  for (size_t c = 0; c < columns.size(); ++c) {
    const hid_t dataset = columns[c].get();
    if (H5Dset_extent(dataset, &extent) < 0) return false;
    const h5::Handle file_space(H5Dget_space(dataset), H5Sclose);
    if (!file_space.ok() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
        H5Dwrite(dataset, H5T_NATIVE_DOUBLE, memory_space.get(), file_space.get(), H5P_DEFAULT,
                 &row[c]) < 0)
      return false;
  }
  return true;
}

bool MetricsLog::Storage::SetAttributes(
    hid_t object, const std::vector<std::pair<std::string, std::string>>& attributes) {
  for (const auto& [name, value] : attributes) {
    const htri_t exists = H5Aexists(object, name.c_str());
    if (exists < 0 || (exists > 0 && H5Adelete(object, name.c_str()) < 0) ||
        h5::WriteStringAttribute(object, name.c_str(), value) < 0)
      return false;
  }
  return true;
}

namespace {

/// Writes the 1-D dataset `name` of `count` elements under `group`.
bool WriteColumn(hid_t group, const std::string& name, hid_t stored_type, hid_t memory_type,
                 size_t count, const void* data) {
  const hsize_t dims = count;
  const h5::Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
  if (!space.ok()) return false;
  const h5::Handle dataset(
      H5Dcreate2(group, name.c_str(), stored_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  return dataset.ok() &&
         (count == 0 || H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
}

}  // namespace

bool MetricsLog::Storage::WriteUsers(const std::string& group, const std::vector<int64_t>& users,
                                     const std::vector<int32_t>& truth,
                                     const std::vector<std::string>& names,
                                     const std::vector<double>& values,
                                     const std::vector<std::pair<std::string, std::string>>& attributes) {
  const size_t count = users.size(), width = names.size();
  const htri_t exists = H5Lexists(file.get(), group.c_str(), H5P_DEFAULT);
  if (exists < 0 || (exists > 0 && H5Ldelete(file.get(), group.c_str(), H5P_DEFAULT) < 0))
    return false;
  const h5::Handle plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (!plist.ok() ||
      H5Pset_link_creation_order(plist.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0)
    return false;
  const h5::Handle made(H5Gcreate2(file.get(), group.c_str(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
                        H5Gclose);
  if (!made.ok() ||
      !WriteColumn(made.get(), "user", H5T_STD_I64LE, H5T_NATIVE_INT64, count, users.data()) ||
      !WriteColumn(made.get(), "truth_items", H5T_STD_I32LE, H5T_NATIVE_INT32, count, truth.data()))
    return false;
  std::vector<double> column(count);
  for (size_t m = 0; m < width; ++m) {
    for (size_t u = 0; u < count; ++u) column[u] = values[u * width + m];
    if (!WriteColumn(made.get(), names[m], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, count, column.data()))
      return false;
  }
  return SetAttributes(made.get(), attributes);
}

// --- MetricsLog ---------------------------------------------------------------------------------

MetricsLog::MetricsLog(MPI_Comm comm, std::string path, std::vector<std::string> columns)
    : comm_(comm), path_(std::move(path)), columns_(std::move(columns)) {}

MetricsLog::~MetricsLog() = default;

PetscErrorCode MetricsLog::Publish(bool changed) {
  PetscFunctionBeginUser;
  PetscCall(CheckAllRanks(comm_, changed,
                          Format("metrics file '%s': HDF5 could not change it in memory", path_.c_str())));
  std::string image;
  PetscErrorCode written = PETSC_SUCCESS;
  if (storage_) {
    PetscCheck(storage_->Image(&image), PETSC_COMM_SELF, PETSC_ERR_LIB,
               "metrics file '%s': HDF5 could not give its image", path_.c_str());
    // A failure is WriteFileAtomically's own error, naming the file and errno's reason: rank 0's
    // first error, whose message is the one printed (FinishProgram). Its code is not returned
    // here but agreed on, so that the other ranks stop too.
    written = WriteFileAtomically(path_, image);
  }
  PetscCall(CheckAllRanks(comm_, written == PETSC_SUCCESS,
                          Format("cannot write metrics file '%s'", path_.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::Create(MPI_Comm comm, const std::string& path,
                                  const std::vector<std::string>& columns,
                                  std::unique_ptr<MetricsLog>* log) {
  PetscMPIInt rank;
  PetscFunctionBeginUser;
  PetscCall(CheckColumnNames(comm, path, columns));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  std::unique_ptr<MetricsLog> made(new MetricsLog(comm, path, columns));
  bool ok = true;
  if (rank == 0) {
    made->storage_ = std::make_unique<Storage>();
    ok = made->storage_->Create(path, columns);
  }
  PetscCall(made->Publish(ok));
  *log = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::Append(const std::vector<double>& row) {
  PetscFunctionBeginUser;
  PetscCheck(row.size() == columns_.size(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "metrics file '%s': a row of %zu values for %zu columns", path_.c_str(), row.size(),
             columns_.size());
  PetscCall(Publish(!storage_ || storage_->Append(rows_, row)));
  ++rows_;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::WriteAttributes(
    const std::vector<std::pair<std::string, std::string>>& attributes) {
  PetscFunctionBeginUser;
  PetscCall(Publish(!storage_ || storage_->SetAttributes(storage_->file.get(), attributes)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode MetricsLog::WriteUsers(const std::string& group, const std::vector<int64_t>& users,
                                      const std::vector<int32_t>& truth,
                                      const std::vector<std::string>& names,
                                      const std::vector<double>& values,
                                      const std::vector<std::pair<std::string, std::string>>& attributes) {
  PetscFunctionBeginUser;
  PetscCheck(truth.size() == users.size() && values.size() == users.size() * names.size(),
             PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "metrics file '%s': per-user metrics of %zu users with %zu truth counts and %zu values",
             path_.c_str(), users.size(), truth.size(), values.size());
  PetscCall(Publish(!storage_ || storage_->WriteUsers(group, users, truth, names, values, attributes)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
