// Reading and writing the recns dataset file (ARCHITECTURE §4) with the HDF5 C API.
//
// Checks of file contents return the first problem as a one-line message ("" when there is none)
// instead of raising: the serial functions raise it on PETSC_COMM_SELF, the collective ones pass
// each rank's verdict through CheckAllRanks, so a problem seen by one rank stops every rank at the
// same point and no rank is left waiting in a collective HDF5 call.
#include <hdf5.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

#include "io/hdf5.hpp"
#include "recns/convert.hpp"
#include "recns/dataset.hpp"
#include "recns/error.hpp"

namespace recns {
namespace {

// --- the schema --------------------------------------------------------------------------------

struct SplitSpec {
  const char* name;
  bool required;
  Csr Dataset::*in_dataset;
  Csr DatasetSlice::*in_slice;
};
constexpr SplitSpec kSplits[] = {
    {"train", true, &Dataset::train, &DatasetSlice::train},
    {"valid", false, &Dataset::valid, &DatasetSlice::valid},
    {"test", true, &Dataset::test, &DatasetSlice::test},
    {"exposure", false, &Dataset::exposure, &DatasetSlice::exposure},
    {"test_random", false, &Dataset::test_random, &DatasetSlice::test_random},
};
enum SplitIndex { kTrain, kValid, kTest, kExposure, kTestRandom, kNumSplits };

/// The open datasets of one split of a file.
struct SplitFile {
  bool present = false;
  h5::Handle indptr, indices;
  int64_t nnz = 0;
};

/// What the root attributes and dataset shapes of a file say.
struct Header {
  std::string name;
  int64_t num_users = 0, num_items = 0;
  SplitFile splits[kNumSplits];
};

/// "path: object: problem", or "" when there is no problem.
std::string Prefixed(const std::string& path, const std::string& object,
                     const std::string& problem) {
  return problem.empty() ? problem : path + ": " + object + ": " + problem;
}

/// Train and test must have interactions; a valid or test_random split, when present, too.
std::string CheckSplitSize(const SplitSpec& spec, int64_t nnz) {
  if (nnz > 0 || spec.in_dataset == &Dataset::exposure) return "";
  return spec.required ? "empty" : "present but empty";
}

// --- checks shared by the writer and the readers ----------------------------------------------

/// Entries values[0..count) of an indptr for users first_user, first_user + 1, ...: each within
/// [0, nnz] and non-decreasing.
std::string CheckIndptrRange(const int64_t* values, int64_t count, int64_t first_user,
                             int64_t nnz) {
  for (int64_t k = 0; k < count; ++k) {
    if (values[k] < 0 || values[k] > nnz)
      return Format("entry %lld is %lld, outside [0, %lld]", static_cast<long long>(first_user + k),
                    static_cast<long long>(values[k]), static_cast<long long>(nnz));
    if (k > 0 && values[k] < values[k - 1])
      return Format("decreases at user %lld (%lld after %lld)",
                    static_cast<long long>(first_user + k - 1), static_cast<long long>(values[k]),
                    static_cast<long long>(values[k - 1]));
  }
  return "";
}

std::string CheckIndptrEnds(int64_t first, int64_t last, int64_t nnz) {
  if (first != 0) return Format("starts at %lld, expected 0", static_cast<long long>(first));
  if (last != nnz)
    return Format("ends at %lld but the indices have %lld entries", static_cast<long long>(last),
                  static_cast<long long>(nnz));
  return "";
}

/// Rows of `csr` (indptr based at 0) belong to users first_user, ...: ids in [0, num_items),
/// strictly increasing per row.
std::string CheckRows(const Csr& csr, int64_t first_user, int64_t num_items) {
  for (int64_t r = 0; r < csr.Rows(); ++r) {
    const long long user = static_cast<long long>(first_user + r);
    for (int64_t k = csr.indptr[r]; k < csr.indptr[r + 1]; ++k) {
      const int32_t item = csr.indices[k];
      if (item < 0 || item >= num_items)
        return Format("item id %d at user %lld is outside [0, %lld)", item, user,
                      static_cast<long long>(num_items));
      if (k > csr.indptr[r] && item <= csr.indices[k - 1])
        return item == csr.indices[k - 1]
                   ? Format("item id %d repeats at user %lld", item, user)
                   : Format("items of user %lld are not sorted (%d after %d)", user, item,
                            csr.indices[k - 1]);
    }
  }
  return "";
}

/// Item ids are int32 in the file; a dataset without users or items has nothing to train on.
std::string CheckCounts(int64_t num_users, int64_t num_items) {
  if (num_users == 0 || num_items == 0)
    return Format("the dataset is empty (%lld users, %lld items)",
                  static_cast<long long>(num_users), static_cast<long long>(num_items));
  if (num_users > 0 && num_items > 0 && num_items <= INT32_MAX) return "";
  return Format("num_users %lld and num_items %lld must be in [1, 2^31)",
                static_cast<long long>(num_users), static_cast<long long>(num_items));
}

std::string CheckDataset(const Dataset& data, const std::string& path) {
  const std::string counts = CheckCounts(data.num_users, data.num_items);
  if (!counts.empty()) return path + ": " + counts;
  for (const SplitSpec& spec : kSplits) {
    const Csr& csr = data.*spec.in_dataset;
    const std::string group = std::string("/") + spec.name;
    if (!csr.Present()) {
      if (spec.required) return path + ": " + group + ": missing";
      continue;
    }
    if (csr.Rows() != data.num_users)
      return Prefixed(path, group + "/indptr",
                      Format("has %zu entries, expected num_users + 1 = %lld", csr.indptr.size(),
                             static_cast<long long>(data.num_users + 1)));
    const int64_t nnz = static_cast<int64_t>(csr.indices.size());
    std::string problem = CheckIndptrEnds(csr.indptr.front(), csr.indptr.back(), nnz);
    if (problem.empty()) problem = CheckIndptrRange(csr.indptr.data(), csr.Rows() + 1, 0, nnz);
    if (!problem.empty()) return Prefixed(path, group + "/indptr", problem);
    problem = Prefixed(path, group + "/indices", CheckRows(csr, 0, data.num_items));
    if (problem.empty()) problem = Prefixed(path, group, CheckSplitSize(spec, nnz));
    if (!problem.empty()) return problem;
  }
  const std::pair<const std::vector<std::string>*, int64_t> raw_ids[] = {
      {&data.user_raw_ids, data.num_users}, {&data.item_raw_ids, data.num_items}};
  for (int kind = 0; kind < 2; ++kind) {
    const auto& [ids, expected] = raw_ids[kind];
    if (!ids->empty() && static_cast<int64_t>(ids->size()) != expected)
      return Prefixed(
          path, kind == 0 ? "/users/raw_id" : "/items/raw_id",
          Format("has %zu entries, expected %lld", ids->size(), static_cast<long long>(expected)));
  }
  return "";
}

// --- reading -----------------------------------------------------------------------------------

std::string CheckExists(const std::string& path) {
  const std::string problem = ReadableFileProblem(path);
  return problem.empty() ? problem : path + ": " + problem;
}

std::string NotHdf5(const std::string& path) { return path + ": not an HDF5 file or truncated"; }

/// The problem `status` reports with attribute `name`, "" when none; `kind` is what it should hold.
std::string AttributeProblem(const char* name, h5::AttributeStatus status, const char* kind) {
  switch (status) {
    case h5::AttributeStatus::kOk:
      return "";
    case h5::AttributeStatus::kMissing:
      return Format("attribute %s is missing", name);
    case h5::AttributeStatus::kNotSingle:
      return Format("attribute %s is not a single value", name);
    case h5::AttributeStatus::kWrongClass:
      return Format("attribute %s is not %s", name, kind);
    case h5::AttributeStatus::kFailed:
      break;
  }
  return Format("attribute %s cannot be read", name);
}

std::string ReadStringAttribute(hid_t object, const char* name, std::string* value) {
  return AttributeProblem(name, h5::ReadStringAttribute(object, name, value), "a string");
}

std::string ReadIntAttribute(hid_t object, const char* name, int64_t* value) {
  return AttributeProblem(name, h5::ReadIntAttribute(object, name, value), "an integer");
}

/// Opens the 1-D dataset `object` whose elements are of class `element_class`.
std::string OpenVector(hid_t file, const std::string& object, H5T_class_t element_class,
                       h5::Handle* dataset, int64_t* length) {
  if (!h5::LinkExists(file, object)) return object + ": missing";
  *dataset = h5::Handle(H5Dopen2(file, object.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset->ok()) return object + ": cannot be opened";
  h5::Handle type(H5Dget_type(dataset->get()), H5Tclose);
  h5::Handle space(H5Dget_space(dataset->get()), H5Sclose);
  if (!type.ok() || H5Tget_class(type.get()) != element_class)
    return object + (element_class == H5T_STRING ? ": not strings" : ": not integers");
  hsize_t dims[1];
  if (!space.ok() || H5Sget_simple_extent_ndims(space.get()) != 1 ||
      H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0)
    return object + ": not a 1-D array";
  *length = static_cast<int64_t>(dims[0]);
  return "";
}

std::string ReadHeader(hid_t file, const std::string& path, Header* header) {
  std::string format;
  std::string problem = ReadStringAttribute(file, "format", &format);
  if (problem.empty() && format != kDatasetFormat)
    problem = Format("attribute format is '%s', expected '%s'", format.c_str(), kDatasetFormat);
  int64_t version = 0;
  if (problem.empty()) problem = ReadIntAttribute(file, "version", &version);
  if (problem.empty() && version != kDatasetVersion)
    problem = Format("version %lld is not supported (this build reads version %d)",
                     static_cast<long long>(version), kDatasetVersion);
  if (problem.empty()) problem = ReadIntAttribute(file, "num_users", &header->num_users);
  if (problem.empty()) problem = ReadIntAttribute(file, "num_items", &header->num_items);
  if (problem.empty()) problem = CheckCounts(header->num_users, header->num_items);
  if (problem.empty() && H5Aexists(file, "name") > 0)
    problem = ReadStringAttribute(file, "name", &header->name);
  if (!problem.empty()) return path + ": " + problem;

  for (int s = 0; s < kNumSplits; ++s) {
    const SplitSpec& spec = kSplits[s];
    SplitFile& split = header->splits[s];
    const std::string group = std::string("/") + spec.name;
    if (!h5::LinkExists(file, group)) {
      if (spec.required) return path + ": " + group + ": missing";
      continue;
    }
    split.present = true;
    const std::string indptr = group + "/indptr";
    int64_t length = 0;
    problem = OpenVector(file, indptr, H5T_INTEGER, &split.indptr, &length);
    if (problem.empty() && length != header->num_users + 1)
      problem = indptr + Format(": has %lld entries, expected num_users + 1 = %lld",
                                static_cast<long long>(length),
                                static_cast<long long>(header->num_users + 1));
    if (problem.empty())
      problem = OpenVector(file, group + "/indices", H5T_INTEGER, &split.indices, &split.nnz);
    if (!problem.empty()) return path + ": " + problem;
    problem = Prefixed(path, group, CheckSplitSize(spec, split.nnz));
    if (!problem.empty()) return problem;
  }
  return "";
}

/// Reads elements [begin, begin + count) of a 1-D dataset. With count 0 the rank still takes part
/// in a collective read, with an empty selection.
bool ReadRange(hid_t dataset, hid_t memory_type, hid_t transfer, int64_t begin, int64_t count,
               void* out) {
  const hsize_t start[1] = {static_cast<hsize_t>(begin)};
  const hsize_t size[1] = {static_cast<hsize_t>(count > 0 ? count : 1)};
  h5::Handle file_space(H5Dget_space(dataset), H5Sclose);
  h5::Handle memory_space(H5Screate_simple(1, size, nullptr), H5Sclose);
  if (!file_space.ok() || !memory_space.ok()) return false;
  // An empty dataset has no storage to read from, and every rank sees it empty.
  if (H5Sget_simple_extent_npoints(file_space.get()) == 0) return count == 0;
  const herr_t selected =
      count > 0
          ? H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr)
          : std::min(H5Sselect_none(file_space.get()), H5Sselect_none(memory_space.get()));
  int64_t unused = 0;
  return selected >= 0 && H5Dread(dataset, memory_type, memory_space.get(), file_space.get(),
                                  transfer, count > 0 ? out : &unused) >= 0;
}

std::string ReadRawIds(hid_t file, const std::string& path, const char* object, int64_t expected,
                       std::vector<std::string>* ids) {
  ids->clear();
  if (!h5::LinkExists(file, object)) return "";
  h5::Handle dataset;
  int64_t length = 0;
  std::string problem = OpenVector(file, object, H5T_STRING, &dataset, &length);
  if (problem.empty() && length != expected)
    problem = Format("%s: has %lld entries, expected %lld", object, static_cast<long long>(length),
                     static_cast<long long>(expected));
  if (!problem.empty()) return path + ": " + problem;
  if (!h5::ReadStringDataset(dataset.get(), ids))
    return path + ": " + object + ": cannot be read";
  return "";
}

std::string ReadWholeFile(const std::string& path, Dataset* data) {
  std::string problem = CheckExists(path);
  if (!problem.empty()) return problem;
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return NotHdf5(path);
  Header header;
  problem = ReadHeader(file.get(), path, &header);
  if (!problem.empty()) return problem;
  Dataset read;
  read.name = header.name;
  read.num_users = header.num_users;
  read.num_items = header.num_items;
  for (int s = 0; s < kNumSplits; ++s) {
    const SplitFile& split = header.splits[s];
    if (!split.present) continue;
    Csr& csr = read.*kSplits[s].in_dataset;
    csr.indptr.resize(static_cast<size_t>(header.num_users + 1));
    csr.indices.resize(static_cast<size_t>(split.nnz));
    if (!ReadRange(split.indptr.get(), H5T_NATIVE_INT64, H5P_DEFAULT, 0, header.num_users + 1,
                   csr.indptr.data()) ||
        !ReadRange(split.indices.get(), H5T_NATIVE_INT32, H5P_DEFAULT, 0, split.nnz,
                   csr.indices.data()))
      return Format("%s: /%s: cannot be read", path.c_str(), kSplits[s].name);
  }
  problem = ReadRawIds(file.get(), path, "/users/raw_id", read.num_users, &read.user_raw_ids);
  if (problem.empty())
    problem = ReadRawIds(file.get(), path, "/items/raw_id", read.num_items, &read.item_raw_ids);
  if (problem.empty()) problem = CheckDataset(read, path);
  if (problem.empty()) *data = std::move(read);
  return problem;
}

/// Collective on comm: opens `path` read-only with MPI-IO.
PetscErrorCode OpenCollective(MPI_Comm comm, const std::string& path, h5::Handle* file) {
  PetscFunctionBeginUser;
  const std::string problem = CheckExists(path);
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  h5::Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  RECNS_H5CALL(access.get());
  RECNS_H5CALL(H5Pset_fapl_mpio(access.get(), comm, MPI_INFO_NULL));
  *file = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get()), H5Fclose);
  PetscCall(CheckAllRanks(comm, file->ok(), NotHdf5(path)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective on comm: opens the file and checks its attributes and dataset shapes.
PetscErrorCode OpenHeaderCollective(MPI_Comm comm, const std::string& path, h5::Handle* file,
                                    Header* header) {
  std::string problem;
  PetscFunctionBeginUser;
  PetscCall(OpenCollective(comm, path, file));
  PetscCallCXX(problem = ReadHeader(file->get(), path, header));
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CollectiveTransfer(h5::Handle* transfer) {
  PetscFunctionBeginUser;
  *transfer = h5::Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  RECNS_H5CALL(transfer->get());
  RECNS_H5CALL(H5Pset_dxpl_mpio(transfer->get(), H5FD_MPIO_COLLECTIVE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- writing -----------------------------------------------------------------------------------

// The temporary file being written, for the handler of stop signals: a signal handler may only
// call async-signal-safe functions, so the path waits in a fixed buffer, published by a flag.
char pending_temporary[PATH_MAX];
volatile std::sig_atomic_t have_pending_temporary = 0;

extern "C" void RemoveTemporaryAndStop(int signal) {
  if (have_pending_temporary) unlink(pending_temporary);
  // Ends by the same signal (its default action), so a parent sees how the process stopped.
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, nullptr);
  raise(signal);
}

/// Removes a file when it goes out of scope, unless Keep() was called; until then a stop signal
/// removes it too (InstallWriteSignalHandlers).
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::string path) : path_(std::move(path)) {
    if (path_.size() >= sizeof pending_temporary) return;  // too long for the file system too
    std::memcpy(pending_temporary, path_.c_str(), path_.size() + 1);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    have_pending_temporary = 1;
  }
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  ~RemoveUnlessKept() {
    if (!kept_) std::remove(path_.c_str());
    have_pending_temporary = 0;
  }
  void Keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

/// Writes `count` elements of `values` as the 1-D dataset `name` of `group`.
PetscErrorCode WriteVector(hid_t group, const char* name, hid_t stored_type, hid_t memory_type,
                           size_t count, const void* values) {
  PetscFunctionBeginUser;
  const hsize_t dims[1] = {count};
  h5::Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  RECNS_H5CALL(space.get());
  h5::Handle dataset(
      H5Dcreate2(group, name, stored_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  RECNS_H5CALL(dataset.get());
  if (count > 0)
    RECNS_H5CALL(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
  RECNS_H5CALL(dataset.Close());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CreateGroup(hid_t file, const char* name, h5::Handle* group) {
  PetscFunctionBeginUser;
  *group = h5::Handle(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  RECNS_H5CALL(group->get());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode WriteRawIds(hid_t file, const char* group_name,
                           const std::vector<std::string>& ids) {
  h5::Handle group;
  std::vector<const char*> pointers;
  PetscFunctionBeginUser;
  if (ids.empty()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(CreateGroup(file, group_name, &group));
  const h5::Handle type = h5::Utf8StringType();
  RECNS_H5CALL(type.get());
  PetscCallCXX(pointers.reserve(ids.size()));
  for (const std::string& id : ids) pointers.push_back(id.c_str());
  PetscCall(
      WriteVector(group.get(), "raw_id", type.get(), type.get(), ids.size(), pointers.data()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode WriteContents(hid_t file, const Dataset& data) {
  PetscFunctionBeginUser;
  RECNS_H5CALL(h5::WriteStringAttribute(file, "format", kDatasetFormat));
  RECNS_H5CALL(h5::WriteIntAttribute(file, "version", H5T_STD_I32LE, kDatasetVersion));
  RECNS_H5CALL(h5::WriteIntAttribute(file, "num_users", H5T_STD_I64LE, data.num_users));
  RECNS_H5CALL(h5::WriteIntAttribute(file, "num_items", H5T_STD_I64LE, data.num_items));
  RECNS_H5CALL(h5::WriteStringAttribute(file, "name", data.name));
  for (const SplitSpec& spec : kSplits) {
    const Csr& csr = data.*spec.in_dataset;
    if (!csr.Present()) continue;
    h5::Handle group;
    PetscCall(CreateGroup(file, spec.name, &group));
    PetscCall(WriteVector(group.get(), "indptr", H5T_STD_I64LE, H5T_NATIVE_INT64, csr.indptr.size(),
                          csr.indptr.data()));
    PetscCall(WriteVector(group.get(), "indices", H5T_STD_I32LE, H5T_NATIVE_INT32,
                          csr.indices.size(), csr.indices.data()));
  }
  PetscCall(WriteRawIds(file, "users", data.user_raw_ids));
  PetscCall(WriteRawIds(file, "items", data.item_raw_ids));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

// --- public functions --------------------------------------------------------------------------

PetscErrorCode WriteDataset(const std::string& path, const Dataset& data) {
  std::string problem;
  PetscFunctionBeginUser;
  PetscCallCXX(problem = CheckDataset(data, path));
  PetscCheck(problem.empty(), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s", problem.c_str());
  // Written under a temporary name and renamed, so `path` never holds a half-written file.
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  RemoveUnlessKept cleanup(temporary);
  {
    h5::Handle file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                    H5Fclose);
    PetscCheck(file.ok(), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: cannot create the file (does its folder exist and is it writable?)",
               path.c_str());
    PetscCall(WriteContents(file.get(), data));
    PetscCheck(file.Close() >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE,
               "%s: writing failed (is the disk full?)", path.c_str());
  }
  PetscCheck(std::rename(temporary.c_str(), path.c_str()) == 0, PETSC_COMM_SELF,
             PETSC_ERR_USER_INPUT, "%s: cannot replace it: %s", path.c_str(), std::strerror(errno));
  cleanup.Keep();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode InstallWriteSignalHandlers() {
  PetscFunctionBeginUser;
  struct sigaction action = {}, current;
  action.sa_handler = RemoveTemporaryAndStop;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) {
    // An ignored signal stays ignored, as a shell's background job ignores SIGINT.
    PetscCheck(sigaction(signal, nullptr, &current) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS,
               "cannot read the handler of signal %d", signal);
    if (current.sa_handler == SIG_IGN) continue;
    PetscCheck(sigaction(signal, &action, nullptr) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS,
               "cannot install the handler of signal %d", signal);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadDataset(const std::string& path, Dataset* data) {
  std::string problem;
  PetscFunctionBeginUser;
  PetscCallCXX(problem = ReadWholeFile(path, data));
  PetscCheck(problem.empty(), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s", problem.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadDatasetInfo(MPI_Comm comm, const std::string& path, DatasetInfo* info) {
  h5::Handle file, transfer;
  Header header;
  DatasetInfo read;
  PetscFunctionBeginUser;
  PetscCall(OpenHeaderCollective(comm, path, &file, &header));
  PetscCall(CollectiveTransfer(&transfer));
  read.path = path;
  read.name = header.name;
  read.num_users = header.num_users;
  read.num_items = header.num_items;
  // Every rank needs the whole train indptr (partitioning, batches).
  const int64_t entries = header.num_users + 1;
  const SplitFile& train = header.splits[kTrain];
  std::vector<int64_t>& indptr = read.train_indptr;
  PetscCallCXX(indptr.resize(static_cast<size_t>(entries)));
  bool ok =
      ReadRange(train.indptr.get(), H5T_NATIVE_INT64, transfer.get(), 0, entries, indptr.data());
  PetscCall(CheckAllRanks(comm, ok, path + ": /train/indptr: cannot be read"));
  std::string problem = CheckIndptrEnds(indptr.front(), indptr.back(), train.nnz);
  if (problem.empty()) problem = CheckIndptrRange(indptr.data(), entries, 0, train.nnz);
  problem = Prefixed(path, "/train/indptr", problem);
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  // Of the other splits only the ends of indptr are checked here; the rows in between are checked
  // by the rank that reads them.
  for (int s = 0; s < kNumSplits; ++s) {
    const SplitFile& split = header.splits[s];
    if (s == kTrain || !split.present) continue;
    const std::string object = std::string("/") + kSplits[s].name + "/indptr";
    int64_t first = 0, last = 0;
    ok = ReadRange(split.indptr.get(), H5T_NATIVE_INT64, transfer.get(), 0, 1, &first) &&
         ReadRange(split.indptr.get(), H5T_NATIVE_INT64, transfer.get(), entries - 1, 1, &last);
    PetscCall(CheckAllRanks(comm, ok, path + ": " + object + ": cannot be read"));
    problem = Prefixed(path, object, CheckIndptrEnds(first, last, split.nnz));
    PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  }
  read.has_valid = header.splits[kValid].present;
  read.has_exposure = header.splits[kExposure].present;
  read.has_test_random = header.splits[kTestRandom].present;
  read.train_nnz = header.splits[kTrain].nnz;
  read.valid_nnz = header.splits[kValid].nnz;
  read.test_nnz = header.splits[kTest].nnz;
  read.exposure_nnz = header.splits[kExposure].nnz;
  read.test_random_nnz = header.splits[kTestRandom].nnz;
  *info = std::move(read);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadDatasetSlice(MPI_Comm comm, const DatasetInfo& info, int64_t user_begin,
                                int64_t user_end, DatasetSlice* slice) {
  h5::Handle file, transfer;
  Header header;
  DatasetSlice read;
  PetscFunctionBeginUser;
  PetscCheck(0 <= user_begin && user_begin <= user_end && user_end <= info.num_users,
             PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "user range [%lld, %lld) is not inside [0, %lld)", static_cast<long long>(user_begin),
             static_cast<long long>(user_end), static_cast<long long>(info.num_users));
  PetscCall(OpenHeaderCollective(comm, info.path, &file, &header));
  PetscCall(CheckAllRanks(comm,
                          header.num_users == info.num_users && header.num_items == info.num_items,
                          info.path + ": the file changed since ReadDatasetInfo"));
  PetscCall(CollectiveTransfer(&transfer));
  read.user_begin = user_begin;
  read.user_end = user_end;
  const int64_t rows = user_end - user_begin;
  for (int s = 0; s < kNumSplits; ++s) {
    const SplitFile& split = header.splits[s];
    if (!split.present) continue;
    const std::string group = info.path + ": /" + kSplits[s].name;
    Csr& csr = read.*kSplits[s].in_slice;
    // An empty range reads nothing but still joins the collective reads.
    const int64_t entries = rows > 0 ? rows + 1 : 0;
    PetscCallCXX(csr.indptr.assign(static_cast<size_t>(rows + 1), 0));
    bool ok = ReadRange(split.indptr.get(), H5T_NATIVE_INT64, transfer.get(), user_begin, entries,
                        csr.indptr.data());
    PetscCall(CheckAllRanks(comm, ok, group + "/indptr: cannot be read"));
    std::string problem = CheckIndptrRange(csr.indptr.data(), entries, user_begin, split.nnz);
    PetscCall(CheckAllRanks(comm, problem.empty(), group + "/indptr: " + problem));
    const int64_t first = csr.indptr.front(), count = csr.indptr.back() - first;
    PetscCallCXX(csr.indices.resize(static_cast<size_t>(count)));
    ok = ReadRange(split.indices.get(), H5T_NATIVE_INT32, transfer.get(), first, count,
                   csr.indices.data());
    PetscCall(CheckAllRanks(comm, ok, group + "/indices: cannot be read"));
    for (int64_t& offset : csr.indptr) offset -= first;
    PetscCallCXX(problem = CheckRows(csr, user_begin, info.num_items));
    PetscCall(CheckAllRanks(comm, problem.empty(), group + "/indices: " + problem));
  }
  *slice = std::move(read);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadDatasetRawIds(MPI_Comm comm, const DatasetInfo& info,
                                 std::vector<std::string>* user_raw_ids,
                                 std::vector<std::string>* item_raw_ids) {
  std::string problem;
  PetscFunctionBeginUser;
  PetscCallCXX(problem = CheckExists(info.path));
  h5::Handle file;
  if (problem.empty()) {
    file = h5::Handle(H5Fopen(info.path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) problem = NotHdf5(info.path);
  }
  if (problem.empty())
    PetscCallCXX(problem = ReadRawIds(file.get(), info.path, "/users/raw_id", info.num_users, user_raw_ids));
  if (problem.empty())
    PetscCallCXX(problem = ReadRawIds(file.get(), info.path, "/items/raw_id", info.num_items, item_raw_ids));
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
