// Checkpoint files (see checkpoint.hpp). All ranks open the file through MPI-IO and transfer
// their slices with collective writes and reads; metadata (groups, attributes) is created with
// the same arguments on every rank, as parallel HDF5 requires.
#include "recns/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "io/hdf5.hpp"
#include "recns/error.hpp"
#include "recns/graph.hpp"
#include "recns/rng.hpp"

namespace recns {

namespace {

constexpr const char* kNamePrefix = "checkpoint-";
constexpr const char* kNameSuffix = ".h5";
constexpr const char* kTemporarySuffix = ".tmp";
// Room reserved beyond a checkpoint's length for the metadata HDF5 writes when it closes the file
// (measured: none, the file already spans its whole address space; this is a margin).
constexpr off_t kMetadataReserve = 1 << 16;

template <class T>
struct Stored;
template <>
struct Stored<double> {
  static hid_t Memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t File() { return H5T_IEEE_F64LE; }
  static constexpr H5T_class_t kClass = H5T_FLOAT;
};
template <>
struct Stored<float> {
  static hid_t Memory() { return H5T_NATIVE_FLOAT; }
  static hid_t File() { return H5T_IEEE_F32LE; }
  static constexpr H5T_class_t kClass = H5T_FLOAT;
};
template <>
struct Stored<int32_t> {
  static hid_t Memory() { return H5T_NATIVE_INT32; }
  static hid_t File() { return H5T_STD_I32LE; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
};
template <>
struct Stored<int64_t> {
  static hid_t Memory() { return H5T_NATIVE_INT64; }
  static hid_t File() { return H5T_STD_I64LE; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
};

std::string Folder(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool EndsWith(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

bool IsCheckpointName(const std::string& name) {
  long long epoch, steps;
  char tail[8] = "";
  return std::sscanf(name.c_str(), "checkpoint-e%lld-s%lld%7s", &epoch, &steps, tail) == 3 &&
         std::strcmp(tail, kNameSuffix) == 0 && name == CheckpointName(epoch, steps);
}

std::vector<std::string> ListFolder(const std::string& folder) {
  std::vector<std::string> names;
  DIR* dir = opendir(folder.c_str());
  if (!dir) return names;
  while (const dirent* entry = readdir(dir)) names.emplace_back(entry->d_name);
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

/// "a 2-D floating-point array of shape 5000x16", for messages about a dataset's shape.
std::string DescribeArray(int dims, const hsize_t* shape, H5T_class_t kind) {
  const char* kind_name = kind == H5T_FLOAT     ? "floating-point"
                          : kind == H5T_INTEGER ? "integer"
                          : kind == H5T_STRING  ? "string"
                                                : "non-numeric";
  if (dims == 0) return Format("a %s scalar", kind_name);
  std::string text = Format("a %d-D %s array of shape ", dims, kind_name);
  for (int d = 0; d < dims; ++d) text += Format("%s%llu", d ? "x" : "", (unsigned long long)shape[d]);
  return text;
}

/// Gives every byte of the first `bytes` of the file `path` a block on disk, without changing its
/// length, so that later writes there cannot fail for want of space. True also where the file
/// system cannot reserve space (then writes fail as they would have).
bool Reserve(const std::string& path, off_t bytes) {
  const int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) return false;
  const bool ok = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, bytes) == 0 || errno == EOPNOTSUPP;
  return close(fd) == 0 && ok;
}

/// Makes a file's data (or a folder's entries) durable before the rename is relied on.
bool SyncPath(const std::string& path, bool folder) {
  const int fd = open(path.c_str(), folder ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return false;
  const bool ok = fsync(fd) == 0;
  return close(fd) == 0 && ok;
}

/// Why an open file cannot be resumed from, whatever the run ("" when it can): another format
/// or version, or root counters that describe no point of training. `steps` must be `epoch`
/// whole epochs plus `step` steps into the next, an epoch being as many steps as the file's own
/// training pairs and batch size make; a restart then checks those two against its own. Fills
/// `entry` when the file is usable.
std::string HeaderProblem(hid_t file, const std::string& path, CheckpointEntry* entry) {
  std::string format;
  if (h5::ReadStringAttribute(file, "format", &format) != h5::AttributeStatus::kOk ||
      format != kCheckpointFormat)
    return Format("not a recns checkpoint (format attribute '%s', expected '%s')", format.c_str(),
                  kCheckpointFormat);
  int64_t version = 0;
  if (h5::ReadIntAttribute(file, "version", &version) != h5::AttributeStatus::kOk ||
      version != kCheckpointVersion)
    return Format("checkpoint version %lld; this build reads version %d", (long long)version,
                  kCheckpointVersion);
  const char* const names[] = {"epoch", "step", "steps", "batch_size", "train_pairs"};
  int64_t counters[5];
  for (int c = 0; c < 5; ++c)
    if (h5::ReadIntAttribute(file, names[c], &counters[c]) != h5::AttributeStatus::kOk)
      return Format("/ has no integer attribute '%s'", names[c]);
  const int64_t epoch = counters[0], step = counters[1], steps = counters[2], batch = counters[3],
                pairs = counters[4];
  if (batch < 1) return Format("attribute 'batch_size' is %lld; it must be positive", (long long)batch);
  if (pairs < 0) return Format("attribute 'train_pairs' is %lld; it must be >= 0", (long long)pairs);
  // The trainer counts epochs in an int.
  if (epoch < 0 || epoch > INT_MAX)
    return Format("attribute 'epoch' is %lld; it must be in [0, %d]", (long long)epoch, INT_MAX);
  const int64_t per_epoch = pairs / batch + (pairs % batch != 0);
  if (step < 0 || step >= std::max<int64_t>(per_epoch, 1))
    return Format("attribute 'step' is %lld, not a step of an epoch of %lld steps (%lld training "
                  "pairs in batches of %lld)",
                  (long long)step, (long long)per_epoch, (long long)pairs, (long long)batch);
  // Division rather than epoch * per_epoch, which a damaged epoch could overflow.
  const bool consistent = per_epoch == 0 ? steps == 0
                                         : steps >= step && (steps - step) % per_epoch == 0 &&
                                               (steps - step) / per_epoch == epoch;
  if (!consistent)
    return Format("attribute 'steps' is %lld, not epoch %lld times %lld steps per epoch plus step "
                  "%lld",
                  (long long)steps, (long long)epoch, (long long)per_epoch, (long long)step);
  double value = NAN;
  const h5::Handle attribute(H5Aopen(file, "eval_value", H5P_DEFAULT), H5Aclose);
  if (!attribute.ok() || H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    return "/ has no numeric attribute 'eval_value'";
  // A file written before checkpoints named their run names none.
  int64_t seed = 0;
  std::string digest;
  if (h5::ReadIntAttribute(file, "seed", &seed) == h5::AttributeStatus::kOk &&
      h5::ReadStringAttribute(file, "run_digest", &digest) == h5::AttributeStatus::kOk)
    entry->run = RunName(seed, digest);
  entry->path = path;
  entry->steps = steps;
  entry->eval_value = value;
  return "";
}

/// Opens `path` serially and checks its root attributes (HeaderProblem).
std::string InspectCheckpoint(const std::string& path, CheckpointEntry* entry) {
  h5::Handle file;
  H5E_BEGIN_TRY { file = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose); }
  H5E_END_TRY;
  if (!file.ok()) return "cannot be opened as HDF5 (truncated or damaged)";
  return HeaderProblem(file.get(), path, entry);
}

}  // namespace

std::string CheckpointName(int64_t epoch, int64_t steps) {
  return Format("%se%06lld-s%012lld%s", kNamePrefix, (long long)epoch, (long long)steps, kNameSuffix);
}

bool IsCheckpointFileName(const std::string& name) {
  if (IsCheckpointName(name)) return true;
  return name.size() > 1 && name[0] == '.' && EndsWith(name, kTemporarySuffix) &&
         IsCheckpointName(name.substr(1, name.size() - 1 - std::strlen(kTemporarySuffix)));
}

std::string RunName(int64_t seed, const std::string& digest) {
  return Format("seed %lld, options %s", (long long)seed, digest.c_str());
}

std::string FolderSpaceProblem(const std::string& folder, int64_t bytes) {
  // access(2) says yes to root on any folder, and nothing about a read-only file system.
  const std::string probe = Format("%s/.recns-write-test-%ld", folder.c_str(), (long)getpid());
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return "cannot create files in it: " + h5::WriteErrorText(probe);
  close(fd);
  std::remove(probe.c_str());
  struct statvfs space;
  if (statvfs(folder.c_str(), &space) != 0) return "";  // no figure: the writes will tell
  // f_bavail leaves out the blocks a file system keeps for root: a run as root should not
  // depend on them either.
  const double free_bytes = (double)space.f_bavail * (double)space.f_frsize;
  if (free_bytes < (double)bytes)
    return Format("no space left on device: %.3g MB free, and a checkpoint of this run takes "
                  "%.3g MB",
                  free_bytes / 1e6, (double)bytes / 1e6);
  return "";
}

PetscErrorCode ScanCheckpoints(const std::string& folder, std::vector<CheckpointEntry>* usable,
                               std::vector<std::string>* skipped) {
  PetscFunctionBeginUser;
  usable->clear();
  skipped->clear();
  for (const std::string& name : ListFolder(folder)) {
    if (!IsCheckpointName(name)) continue;
    CheckpointEntry entry;
    const std::string path = folder + "/" + name;
    const std::string problem = InspectCheckpoint(path, &entry);
    if (problem.empty()) usable->push_back(entry);
    else skipped->push_back(path + ": " + problem);
  }
  std::sort(usable->begin(), usable->end(), [](const CheckpointEntry& a, const CheckpointEntry& b) {
    return a.steps != b.steps ? a.steps > b.steps : a.path > b.path;
  });
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PruneCheckpoints(const std::string& folder, int keep, const std::string& run,
                                std::vector<std::string>* removed) {
  std::vector<CheckpointEntry> usable;
  std::vector<std::string> skipped;
  PetscFunctionBeginUser;
  removed->clear();
  PetscCall(ScanCheckpoints(folder, &usable, &skipped));
  usable.erase(std::remove_if(usable.begin(), usable.end(),
                              [&run](const CheckpointEntry& entry) { return entry.run != run; }),
               usable.end());
  size_t best = usable.size();
  for (size_t c = 0; c < usable.size(); ++c)
    if (std::isfinite(usable[c].eval_value) &&
        (best == usable.size() || usable[c].eval_value > usable[best].eval_value))
      best = c;
  for (size_t c = (size_t)std::max(keep, 0); c < usable.size(); ++c) {
    if (c == best) continue;
    if (std::remove(usable[c].path.c_str()) == 0) removed->push_back(usable[c].path);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode RemovePartialCheckpoints(const std::string& folder,
                                        std::vector<std::string>* removed) {
  PetscFunctionBeginUser;
  removed->clear();
  for (const std::string& name : ListFolder(folder)) {
    if (IsCheckpointName(name) || !IsCheckpointFileName(name)) continue;
    const std::string path = folder + "/" + name;
    if (std::remove(path.c_str()) == 0) removed->push_back(path);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- CheckpointFile -----------------------------------------------------------------------------

struct CheckpointFile::Impl {
  h5::Handle file, transfer;  // the file and the collective transfer property list
  bool writing = false;
  bool failed = false;     // a write failed on some rank, and every rank knows it
  bool measuring = false;  // Measure: nothing is written, the data's bytes are counted
  bool fail_close = false;  // FailCloseOnThisRankForTesting
  int64_t bytes = 0;
};

CheckpointFile::CheckpointFile(const Graph& graph, std::string path)
    : graph_(graph), path_(std::move(path)), impl_(std::make_unique<Impl>()) {}

CheckpointFile::~CheckpointFile() {
  // A file abandoned by an error is closed, and a temporary one removed (never under its name).
  const bool writing = impl_->writing && impl_->file.ok();
  const bool rank0 = graph_.GetLayout().Rank() == 0;
  if (writing && impl_->failed) {
    // Every rank learnt of the failed write together (AgreeWritten) and is here. HDF5 flushes
    // its metadata when it closes the file, collectively: on a disk still full that flush fails
    // on some ranks only, and the others wait for them forever. Emptying the temporary first
    // gives its space back, so the flush succeeds; the file is removed just after.
    if (rank0 && truncate(temporary_.c_str(), 0) != 0) std::remove(temporary_.c_str());
    MPI_Barrier(graph_.GetLayout().Comm());
  }
  impl_->file.Close();
  if (writing && rank0) std::remove(temporary_.c_str());
}

PetscErrorCode CheckpointFile::AgreeWritten(bool ok, const std::string& what) {
  PetscFunctionBeginUser;
  const std::string problem =
      ok ? std::string()
         : Format("cannot write checkpoint '%s' (%s): %s; the previous checkpoints are intact",
                  path_.c_str(), what.c_str(), h5::WriteErrorText(temporary_).c_str());
  const PetscErrorCode code = CheckAllRanks(graph_.GetLayout().Comm(), ok, problem);
  if (code != PETSC_SUCCESS) impl_->failed = true;
  PetscCall(code);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Fail(const std::string& problem) const {
  PetscFunctionBeginUser;
  SETERRQ(graph_.GetLayout().Comm(), PETSC_ERR_USER_INPUT, "checkpoint '%s': %s", path_.c_str(),
          problem.c_str());
}

static PetscErrorCode OpenParallel(MPI_Comm comm, const std::string& path, bool create,
                                   h5::Handle* file, h5::Handle* transfer) {
  PetscFunctionBeginUser;
  h5::Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  RECNS_H5CALL(access.get());
  RECNS_H5CALL(H5Pset_fapl_mpio(access.get(), comm, MPI_INFO_NULL));
  RECNS_H5CALL(H5Pset_all_coll_metadata_ops(access.get(), true));
  RECNS_H5CALL(H5Pset_coll_metadata_write(access.get(), true));
  H5E_BEGIN_TRY {
    *file = create ? h5::Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose)
                   : h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.get()), H5Fclose);
  }
  H5E_END_TRY;
  *transfer = h5::Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  RECNS_H5CALL(transfer->get());
  RECNS_H5CALL(H5Pset_dxpl_mpio(transfer->get(), H5FD_MPIO_COLLECTIVE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Create(const Graph& graph, const std::string& path,
                                      std::unique_ptr<CheckpointFile>* out) {
  PetscFunctionBeginUser;
  std::unique_ptr<CheckpointFile> made(new CheckpointFile(graph, path));
  made->temporary_ = Folder(path) + "/." + BaseName(path) + kTemporarySuffix;
  const MPI_Comm comm = graph.GetLayout().Comm();
  PetscCall(OpenParallel(comm, made->temporary_, true, &made->impl_->file, &made->impl_->transfer));
  PetscCall(CheckAllRanks(comm, made->impl_->file.ok(),
                          Format("cannot create checkpoint '%s' (is its folder writable, with space "
                                 "left?)", made->temporary_.c_str())));
  made->impl_->writing = true;
  PetscCall(made->WriteAttribute("/", "format", std::string(kCheckpointFormat)));
  PetscCall(made->WriteAttribute("/", "version", (int64_t)kCheckpointVersion));
  *out = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Measure(const Graph& graph, std::unique_ptr<CheckpointFile>* out) {
  PetscFunctionBeginUser;
  std::unique_ptr<CheckpointFile> made(new CheckpointFile(graph, ""));
  made->impl_->measuring = true;
  *out = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

bool CheckpointFile::Measuring() const { return impl_->measuring; }

int64_t CheckpointFile::Bytes() const { return impl_->bytes; }

PetscErrorCode CheckpointFile::Open(const Graph& graph, const std::string& path,
                                    std::unique_ptr<CheckpointFile>* out) {
  PetscFunctionBeginUser;
  std::unique_ptr<CheckpointFile> made(new CheckpointFile(graph, path));
  const std::string unreadable = ReadableFileProblem(path);
  PetscCall(CheckAllRanks(graph.GetLayout().Comm(), unreadable.empty(),
                          "checkpoint '" + path + "': " + unreadable));
  PetscCall(OpenParallel(graph.GetLayout().Comm(), path, false, &made->impl_->file,
                         &made->impl_->transfer));
  if (!made->impl_->file.ok())
    PetscCall(made->Fail("cannot be opened (missing, unreadable, truncated or not HDF5)"));
  CheckpointEntry entry;
  const std::string problem = HeaderProblem(made->impl_->file.get(), path, &entry);
  if (!problem.empty()) PetscCall(made->Fail(problem));
  *out = std::move(made);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Flush() {
  PetscFunctionBeginUser;
  RECNS_H5CALL(H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Commit() {
  PetscFunctionBeginUser;
  const MPI_Comm comm = graph_.GetLayout().Comm();
  const PetscMPIInt rank = graph_.GetLayout().Rank();
  PetscMPIInt size, failed;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  // HDF5 writes its cached metadata when the file closes, collectively, and a write that fails
  // there on one rank (a disk filled up by the data) leaves the others waiting forever. So every
  // byte of the file gets a block first (the holes where metadata goes, and the datasets made but
  // not written), and a full disk fails here, where all ranks agree on it. (HDF5 1.10's mpio
  // driver cannot tell the file's size: H5Fget_filesize fails; the file system can.)
  errno = 0;
  struct stat written;
  const bool reserved = rank != 0 || (stat(temporary_.c_str(), &written) == 0 &&
                                      Reserve(temporary_, written.st_size + kMetadataReserve));
  PetscCall(AgreeWritten(reserved, "space for HDF5's metadata"));
  // Every rank closes its own handle; the file is complete only if every close succeeded, so the
  // first rank whose close failed (size: none) is made known to all before rank 0 renames.
  const bool closed = impl_->file.Close() >= 0 && !impl_->fail_close;
  const PetscMPIInt mine = closed ? size : rank;
  impl_->writing = false;
  PetscCallMPI(MPI_Allreduce(&mine, &failed, 1, MPI_INT, MPI_MIN, comm));
  std::string problem;
  if (rank == 0) {
    if (failed < size)
      problem = Format("cannot finish writing checkpoint '%s': rank %d could not close it (disk "
                       "full or I/O error?)", temporary_.c_str(), failed);
    else if (!SyncPath(temporary_, false))
      problem = Format("cannot finish writing checkpoint '%s' (disk full or I/O error?)", temporary_.c_str());
    else if (std::rename(temporary_.c_str(), path_.c_str()) != 0)
      problem = Format("cannot rename '%s' to '%s': %s", temporary_.c_str(), path_.c_str(),
                       std::strerror(errno));
    else
      SyncPath(Folder(path_), true);  // best effort: some file systems refuse to sync folders
    if (!problem.empty()) std::remove(temporary_.c_str());
  }
  PetscCall(CheckAllRanks(comm, problem.empty(), problem));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void CheckpointFile::FailCloseOnThisRankForTesting() { impl_->fail_close = true; }

PetscErrorCode CheckpointFile::Group(const std::string& group, int64_t* id) {
  PetscFunctionBeginUser;
  const hid_t file = impl_->file.get();
  *id = H5I_INVALID_HID;
  if (group != "/" && !h5::LinkExists(file, group)) PetscCall(Fail("has no group " + group));
  *id = H5Gopen2(file, group.c_str(), H5P_DEFAULT);
  RECNS_H5CALL(*id);
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {
/// The group `group` ("/", "/model") of `file`, created with its parents when missing; not ok()
/// when HDF5 fails.
h5::Handle WritableGroup(hid_t file, const std::string& group) {
  if (group == "/" || h5::LinkExists(file, group))
    return h5::Handle(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
  const h5::Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  if (!links.ok() || H5Pset_create_intermediate_group(links.get(), 1) < 0) return h5::Handle();
  return h5::Handle(H5Gcreate2(file, group.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
}

herr_t WriteDoubleAttribute(hid_t file, const std::string& group, const std::string& name,
                            double value) {
  const h5::Handle handle = WritableGroup(file, group);
  const h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!handle.ok() || !space.ok()) return -1;
  const h5::Handle attribute(H5Acreate2(handle.get(), name.c_str(), H5T_IEEE_F64LE, space.get(),
                                        H5P_DEFAULT, H5P_DEFAULT),
                             H5Aclose);
  return attribute.ok() ? H5Awrite(attribute.get(), H5T_NATIVE_DOUBLE, &value) : -1;
}
}  // namespace

PetscErrorCode CheckpointFile::WriteAttribute(const std::string& group, const std::string& name,
                                              int64_t value) {
  PetscFunctionBeginUser;
  if (impl_->measuring) {
    impl_->bytes += (int64_t)sizeof value;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  errno = 0;
  const h5::Handle handle = WritableGroup(impl_->file.get(), group);
  const bool ok = handle.ok() && h5::WriteIntAttribute(handle.get(), name.c_str(), H5T_STD_I64LE, value) >= 0;
  PetscCall(AgreeWritten(ok, "attribute " + name + " of " + group));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::WriteAttribute(const std::string& group, const std::string& name,
                                              double value) {
  PetscFunctionBeginUser;
  if (impl_->measuring) {
    impl_->bytes += (int64_t)sizeof value;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  errno = 0;
  const herr_t status = WriteDoubleAttribute(impl_->file.get(), group, name, value);
  PetscCall(AgreeWritten(status >= 0, "attribute " + name + " of " + group));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::WriteAttribute(const std::string& group, const std::string& name,
                                              const std::string& value) {
  PetscFunctionBeginUser;
  if (impl_->measuring) {
    impl_->bytes += (int64_t)value.size();
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  errno = 0;
  const h5::Handle handle = WritableGroup(impl_->file.get(), group);
  const bool ok = handle.ok() && h5::WriteStringAttribute(handle.get(), name.c_str(), value) >= 0;
  PetscCall(AgreeWritten(ok, "attribute " + name + " of " + group));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::ReadAttribute(const std::string& group, const std::string& name,
                                             int64_t* value) {
  int64_t id;
  PetscFunctionBeginUser;
  PetscCall(Group(group, &id));
  const h5::Handle handle(id, H5Gclose);
  if (h5::ReadIntAttribute(id, name.c_str(), value) != h5::AttributeStatus::kOk)
    PetscCall(Fail(Format("%s has no integer attribute '%s'", group.c_str(), name.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::ReadAttribute(const std::string& group, const std::string& name,
                                             double* value) {
  int64_t id;
  PetscFunctionBeginUser;
  PetscCall(Group(group, &id));
  const h5::Handle handle(id, H5Gclose);
  h5::Handle attribute;
  H5E_BEGIN_TRY { attribute = h5::Handle(H5Aopen(id, name.c_str(), H5P_DEFAULT), H5Aclose); }
  H5E_END_TRY;
  if (!attribute.ok() || H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, value) < 0)
    PetscCall(Fail(Format("%s has no numeric attribute '%s'", group.c_str(), name.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::ReadAttribute(const std::string& group, const std::string& name,
                                             std::string* value) {
  int64_t id;
  PetscFunctionBeginUser;
  PetscCall(Group(group, &id));
  const h5::Handle handle(id, H5Gclose);
  if (h5::ReadStringAttribute(id, name.c_str(), value) != h5::AttributeStatus::kOk)
    PetscCall(Fail(Format("%s has no string attribute '%s'", group.c_str(), name.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::AttributeNames(const std::string& group,
                                              std::vector<std::string>* names) {
  int64_t id;
  PetscFunctionBeginUser;
  PetscCall(Group(group, &id));
  const h5::Handle handle(id, H5Gclose);
  names->clear();
  const H5A_operator2_t collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  RECNS_H5CALL(H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, names));
  std::sort(names->begin(), names->end());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::Slice(RowScope scope, int64_t rows, int64_t* global_rows,
                                     int64_t* offset) const {
  const Layout& layout = graph_.GetLayout();
  const std::vector<int64_t>& indptr = graph_.Info().train_indptr;
  PetscFunctionBeginUser;
  switch (scope) {
    case RowScope::kUsers:
      *global_rows = layout.NumUsers();
      *offset = layout.UserBegin();
      PetscCheck(rows == layout.LocalUsers(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "user rows");
      break;
    case RowScope::kItems:
      *global_rows = layout.NumItems();
      *offset = layout.ItemBegin();
      PetscCheck(rows == layout.LocalItems(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "item rows");
      break;
    case RowScope::kTrainPairs:
      *global_rows = indptr.back();
      *offset = indptr[layout.UserBegin()];
      PetscCheck(rows == indptr[layout.UserEnd()] - *offset, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
                 "pair rows");
      break;
    case RowScope::kShared:
      *global_rows = rows;
      *offset = 0;
      break;
    case RowScope::kRanks:
      *global_rows = layout.Size();
      *offset = layout.Rank();
      PetscCheck(rows == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "one row per rank");
      break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

template <class T>
PetscErrorCode CheckpointFile::Transfer(bool write, const std::string& name, RowScope scope, T* data,
                                        int64_t rows, int64_t width) {
  int64_t global_rows, offset;
  PetscFunctionBeginUser;
  PetscCall(Slice(scope, rows, &global_rows, &offset));
  if (impl_->measuring) {
    impl_->bytes += global_rows * width * (int64_t)sizeof(T);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const hid_t file = impl_->file.get();
  const hsize_t shape[2] = {(hsize_t)global_rows, (hsize_t)width};
  // Rank 0 alone writes shared rows; every rank reads them. No data: the dataset is only made.
  const bool mine = rows > 0 && width > 0 && (write ? data != nullptr : true) &&
                    (scope != RowScope::kShared || !write || graph_.GetLayout().Rank() == 0);
  const hsize_t start[2] = {(hsize_t)offset, 0}, count[2] = {(hsize_t)rows, (hsize_t)width};
  T unused{};  // HDF5 wants a buffer even for an empty selection
  if (write) {
    errno = 0;
    bool ok = false;
    // Space is never filled beforehand: rows are written whole, and a dataset only made is
    // read back by nothing (Commit reserves its space without writing it).
    h5::Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose), creation(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    const h5::Handle space(H5Screate_simple(2, shape, nullptr), H5Sclose);
    if (links.ok() && creation.ok() && space.ok() &&
        H5Pset_create_intermediate_group(links.get(), 1) >= 0 &&
        H5Pset_fill_time(creation.get(), H5D_FILL_TIME_NEVER) >= 0) {
      const h5::Handle dataset(H5Dcreate2(file, name.c_str(), Stored<T>::File(), space.get(),
                                          links.get(), creation.get(), H5P_DEFAULT),
                               H5Dclose);
      const h5::Handle file_space(dataset.ok() ? H5Dget_space(dataset.get()) : -1, H5Sclose);
      const h5::Handle memory_space(H5Screate_simple(2, count, nullptr), H5Sclose);
      ok = dataset.ok() && file_space.ok() && memory_space.ok();
      if (ok && global_rows > 0 && width > 0) {
        ok = mine ? H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0
                  : H5Sselect_none(file_space.get()) >= 0 && H5Sselect_none(memory_space.get()) >= 0;
        ok = ok && H5Dwrite(dataset.get(), Stored<T>::Memory(), memory_space.get(), file_space.get(),
                            impl_->transfer.get(), mine ? data : &unused) >= 0;
      }
    }
    PetscCall(AgreeWritten(ok, name));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (!h5::LinkExists(file, name)) PetscCall(Fail("has no dataset " + name));
  const h5::Handle dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  RECNS_H5CALL(dataset.get());
  {
    const h5::Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const h5::Handle type(H5Dget_type(dataset.get()), H5Tclose);
    RECNS_H5CALL(space.get());
    RECNS_H5CALL(type.get());
    hsize_t found[H5S_MAX_RANK] = {};
    const int dims = H5Sget_simple_extent_ndims(space.get());
    RECNS_H5CALL(dims);
    RECNS_H5CALL(H5Sget_simple_extent_dims(space.get(), found, nullptr));
    const H5T_class_t kind = H5Tget_class(type.get());
    if (dims != 2 || found[0] != shape[0] || found[1] != shape[1] || kind != Stored<T>::kClass)
      PetscCall(Fail(Format("%s is %s; expected %s", name.c_str(),
                            DescribeArray(dims, found, kind).c_str(),
                            DescribeArray(2, shape, Stored<T>::kClass).c_str())));
  }
  if (global_rows == 0 || width == 0) PetscFunctionReturn(PETSC_SUCCESS);  // nothing to transfer
  const h5::Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  const h5::Handle memory_space(H5Screate_simple(2, count, nullptr), H5Sclose);
  RECNS_H5CALL(file_space.get());
  RECNS_H5CALL(memory_space.get());
  if (mine) {
    RECNS_H5CALL(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr));
  } else {
    RECNS_H5CALL(H5Sselect_none(file_space.get()));
    RECNS_H5CALL(H5Sselect_none(memory_space.get()));
  }
  RECNS_H5CALL(H5Dread(dataset.get(), Stored<T>::Memory(), memory_space.get(), file_space.get(),
                       impl_->transfer.get(), mine ? data : &unused));
  PetscFunctionReturn(PETSC_SUCCESS);
}

template <class T>
PetscErrorCode CheckpointFile::WriteRows(const std::string& name, RowScope scope, const T* data,
                                         int64_t rows, int64_t width) {
  return Transfer(true, name, scope, const_cast<T*>(data), rows, width);
}

template <class T>
PetscErrorCode CheckpointFile::ReadRows(const std::string& name, RowScope scope, T* data,
                                        int64_t rows, int64_t width) {
  return Transfer(false, name, scope, data, rows, width);
}

#define RECNS_CHECKPOINT_ROWS(T)                                                                   \
  template PetscErrorCode CheckpointFile::WriteRows<T>(const std::string&, RowScope, const T*,   \
                                                       int64_t, int64_t);                        \
  template PetscErrorCode CheckpointFile::ReadRows<T>(const std::string&, RowScope, T*, int64_t, \
                                                      int64_t);
RECNS_CHECKPOINT_ROWS(double)
RECNS_CHECKPOINT_ROWS(float)
RECNS_CHECKPOINT_ROWS(int32_t)
RECNS_CHECKPOINT_ROWS(int64_t)
#undef RECNS_CHECKPOINT_ROWS

PetscErrorCode CheckpointFile::WriteOwnedRows(const std::string& group, const std::string& name,
                                              const RowMatrix& rows) {
  const Layout& layout = graph_.GetLayout();
  PetscFunctionBeginUser;
  PetscCall(WriteRows(group + "/user_" + name, RowScope::kUsers, rows.data(), layout.LocalUsers(),
                      rows.cols()));
  PetscCall(WriteRows(group + "/item_" + name, RowScope::kItems,
                      rows.data() + layout.LocalUsers() * rows.cols(), layout.LocalItems(),
                      rows.cols()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckpointFile::ReadOwnedRows(const std::string& group, const std::string& name,
                                             RowMatrix* rows, double minimum) {
  const Layout& layout = graph_.GetLayout();
  PetscFunctionBeginUser;
  PetscCheck(rows->rows() == layout.LocalRows(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "owned rows: %lld, expected %lld", (long long)rows->rows(), (long long)layout.LocalRows());
  PetscCall(ReadRows(group + "/user_" + name, RowScope::kUsers, rows->data(), layout.LocalUsers(),
                     rows->cols()));
  PetscCall(ReadRows(group + "/item_" + name, RowScope::kItems,
                     rows->data() + layout.LocalUsers() * rows->cols(), layout.LocalItems(),
                     rows->cols()));
  // Training would spread a damaged value over the whole model within a few steps, and give no
  // hint of where it came from; one pass over the slice just read is cheap beside the read.
  const double* values = rows->data();
  const Eigen::Index count = rows->size();
  Eigen::Index bad = 0;
  while (bad < count && std::isfinite(values[bad]) && values[bad] >= minimum) ++bad;
  std::string problem;
  if (bad < count) {
    const int64_t row = bad / rows->cols(), column = bad % rows->cols();
    const bool user = row < layout.LocalUsers();
    problem = Format("checkpoint '%s': %s/%s_%s holds %g at row %lld, column %lld; its values must "
                     "be finite%s",
                     path_.c_str(), group.c_str(), user ? "user" : "item", name.c_str(), values[bad],
                     (long long)(user ? layout.UserBegin() + row
                                      : layout.ItemBegin() + row - layout.LocalUsers()),
                     (long long)column,
                     std::isinf(minimum) ? "" : Format(" and at least %g", minimum).c_str());
  }
  PetscCall(CheckAllRanks(layout.Comm(), problem.empty(), problem));
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- dataset identity ---------------------------------------------------------------------------

PetscErrorCode TrainPairsFingerprint(const Graph& graph, uint64_t* fingerprint) {
  constexpr uint64_t kFingerprintKey = 0x7265636e73ull;  // "recns": keys the pair hash
  PetscFunctionBeginUser;
  // A sum of per-pair hashes: independent of how the pairs are split over ranks.
  const Csr& train = graph.Slice().train;
  const int64_t first_user = graph.GetLayout().UserBegin();
  uint64_t local = 0;
  for (int64_t u = 0; u + 1 < (int64_t)train.indptr.size(); ++u) {
    const uint64_t user = (uint64_t)(first_user + u);
    for (int64_t t = train.indptr[u]; t < train.indptr[u + 1]; ++t) {
      const RngBlock b = Philox4x32(kFingerprintKey, (uint32_t)user, (uint32_t)(user >> 32),
                                    (uint32_t)train.indices[t], 0);
      local += ((uint64_t)b.v[0] << 32) | b.v[1];
    }
  }
  PetscCallMPI(MPI_Allreduce(&local, fingerprint, 1, MPI_UINT64_T, MPI_SUM, graph.GetLayout().Comm()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckCheckpointDataset(CheckpointFile& file, const Graph& graph, uint64_t fingerprint) {
  int64_t users, items, pairs, saved;
  std::string name;
  PetscFunctionBeginUser;
  const DatasetInfo& info = graph.Info();
  PetscCall(file.ReadAttribute("/", "dataset_name", &name));
  PetscCall(file.ReadAttribute("/", "num_users", &users));
  PetscCall(file.ReadAttribute("/", "num_items", &items));
  PetscCall(file.ReadAttribute("/", "train_pairs", &pairs));
  PetscCall(file.ReadAttribute("/", "train_fingerprint", &saved));
  const bool sizes = users == info.num_users && items == info.num_items && pairs == info.train_nnz;
  RECNS_CHECK_INPUT(sizes && (uint64_t)saved == fingerprint, graph.GetLayout().Comm(),
                    "checkpoint '%s' was written for another dataset ('%s': %lld users, %lld "
                    "items, %lld training pairs) than '%s' ('%s': %lld users, %lld items, %lld "
                    "training pairs%s)",
                    file.Path().c_str(), name.c_str(), (long long)users, (long long)items,
                    (long long)pairs, info.path.c_str(), info.name.c_str(),
                    (long long)info.num_users, (long long)info.num_items,
                    (long long)info.train_nnz, sizes ? ", other pairs" : "");
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
