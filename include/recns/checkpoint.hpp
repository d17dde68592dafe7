// Checkpoint files (ARCHITECTURE §4): one parallel HDF5 file per checkpoint, written collectively
// (MPI-IO) to a temporary name and renamed once complete, so a crash never leaves a half-written
// file under a checkpoint's name.
//
// Every array is stored in dataset id order (users, items, or training pairs in train-CSR order),
// each rank writing and reading its own contiguous slice: a checkpoint written by P ranks is read
// back by any number of ranks. Schema:
//   /           attrs: format="recns-checkpoint", version, epoch, step, steps, seed, ranks,
//                      options (the full deck), dataset identity, eval_metric, eval_value
//   /model      attrs: type, structural sizes    datasets: user_embedding [U,d], item_embedding [I,d],
//                                                the type's dense weights (w_gc_0 ...)
//   /optimizer  attrs: type, step                groups: /optimizer/model, /optimizer/sampler: each
//                                                block's moments (<name>_first_moment ...)
//   /sampler    attrs: type                      datasets: the sampler's own state and blocks
//   /trainer    attrs: best metric and epoch, patience counter, learning rate, partial-epoch sums
//               groups: best (the best epoch's blocks, as /model and /sampler hold them),
//               best_valid, best_test (one attribute per metric), metrics (the rows
//               written so far to the metrics file, one dataset per column)
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "recns/embedding.hpp"

namespace recns {

class Graph;

constexpr const char* kCheckpointFormat = "recns-checkpoint";
constexpr int kCheckpointVersion = 2;  // 2: every block of the parameter list, moments beside

/// The global array a rank's rows belong to.
enum class RowScope {
  kUsers,       ///< one row per user; this rank holds its users' rows
  kItems,       ///< one row per item; this rank holds its items' rows
  kTrainPairs,  ///< one row per training pair in train-CSR order; this rank holds its users' pairs
  kShared,      ///< the same rows on every rank: rank 0 writes them, every rank reads them all
  kRanks,       ///< one row per rank (partial sums); written only, read back whole as kShared
};

/// An open checkpoint file. Every call is collective on the graph's communicator, with the same
/// names and attribute values on every rank. Problems of the file (missing objects, other
/// shapes, another format) are collective PETSC_ERR_USER_INPUT errors naming the file.
class CheckpointFile {
 public:
  /// Creates a file that becomes `path` at Commit; until then it is a hidden temporary beside it.
  static PetscErrorCode Create(const Graph& graph, const std::string& path,
                               std::unique_ptr<CheckpointFile>* file);
  /// Opens `path` for reading and checks its format, version and counters, as ScanCheckpoints
  /// does.
  static PetscErrorCode Open(const Graph& graph, const std::string& path,
                             std::unique_ptr<CheckpointFile>* file);
  /// A file that writes nothing and counts the bytes of the data written to it (Bytes()), to know
  /// before training how much space a checkpoint takes. Collective like Create.
  static PetscErrorCode Measure(const Graph& graph, std::unique_ptr<CheckpointFile>* file);
  ~CheckpointFile();
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  const std::string& Path() const { return path_; }
  /// Whether this file only counts bytes (Measure): writers then write their whole layout, also
  /// state not built yet, so that the count is the size of any later checkpoint.
  bool Measuring() const;
  /// The bytes of data and attribute values written so far to a measuring file.
  int64_t Bytes() const;

  /// Attributes of the group `group` ("/" or "/model"; created when first written).
  PetscErrorCode WriteAttribute(const std::string& group, const std::string& name, int64_t value);
  PetscErrorCode WriteAttribute(const std::string& group, const std::string& name, double value);
  PetscErrorCode WriteAttribute(const std::string& group, const std::string& name,
                                const std::string& value);
  PetscErrorCode ReadAttribute(const std::string& group, const std::string& name, int64_t* value);
  PetscErrorCode ReadAttribute(const std::string& group, const std::string& name, double* value);
  PetscErrorCode ReadAttribute(const std::string& group, const std::string& name,
                               std::string* value);
  /// Every attribute name of `group`, sorted.
  PetscErrorCode AttributeNames(const std::string& group, std::vector<std::string>* names);

  /// This rank's `rows` rows of `width` values of the global array `scope`, as dataset `name`
  /// ("/sampler/memory"). T is double, float, int32_t or int64_t. For kShared, `rows` is the
  /// whole array's row count. A null `data` makes the dataset without writing it (it reads back
  /// as garbage: for slots that a count attribute says are unused).
  template <class T>
  PetscErrorCode WriteRows(const std::string& name, RowScope scope, const T* data, int64_t rows,
                           int64_t width);
  template <class T>
  PetscErrorCode ReadRows(const std::string& name, RowScope scope, T* data, int64_t rows,
                          int64_t width);

  /// A matrix of this rank's owned rows (local users, then local items: ego rows, moments) as
  /// the datasets `<group>/user_<name>` and `<group>/item_<name>`.
  PetscErrorCode WriteOwnedRows(const std::string& group, const std::string& name,
                                const RowMatrix& rows);
  /// Reads into `rows`, which must already have this rank's shape. Every value must be finite
  /// and at least `minimum` (a collective input error naming the dataset and row otherwise).
  PetscErrorCode ReadOwnedRows(const std::string& group, const std::string& name, RowMatrix* rows,
                               double minimum = -std::numeric_limits<double>::infinity());

  /// Closes a created file, makes it durable and renames it to its final path (rank 0). A close
  /// that fails on any rank is an error on every rank, and the temporary file is removed.
  PetscErrorCode Commit();
  /// Testing aid: this rank's close in Commit counts as failed (after closing for real, so the
  /// collective close still matches), as an I/O error on one rank alone would.
  void FailCloseOnThisRankForTesting();
  /// Flushes what was written so far (a kill point in tests comes after it).
  PetscErrorCode Flush();

 private:
  struct Impl;
  CheckpointFile(const Graph& graph, std::string path);
  PetscErrorCode Fail(const std::string& problem) const;
  PetscErrorCode Group(const std::string& group, int64_t* id);
  /// Collective. Whether the write just made succeeded on every rank: a failure is then an input
  /// error naming the file and errno's reason on every rank, and the destructor abandons the
  /// file on every rank together. Every write is agreed on before the next HDF5 call, because
  /// HDF5's collective calls hang when a rank enters them after a failure the others missed.
  PetscErrorCode AgreeWritten(bool ok, const std::string& what);
  PetscErrorCode Slice(RowScope scope, int64_t rows, int64_t* global_rows, int64_t* offset) const;
  template <class T>
  PetscErrorCode Transfer(bool write, const std::string& name, RowScope scope, T* data,
                          int64_t rows, int64_t width);

  const Graph& graph_;
  std::string path_, temporary_;
  std::unique_ptr<Impl> impl_;
};

/// Collective on the graph's communicator. The identity checkpoints record of the graph's
/// dataset: a sum of per-pair hashes of the training pairs, the same at any rank count.
PetscErrorCode TrainPairsFingerprint(const Graph& graph, uint64_t* fingerprint);

/// Collective. An input error naming both files unless `file` was written for the graph's
/// dataset: the same numbers of users, items and training pairs, and the same `fingerprint`
/// (TrainPairsFingerprint of the graph).
PetscErrorCode CheckCheckpointDataset(CheckpointFile& file, const Graph& graph, uint64_t fingerprint);

/// A checkpoint found in a checkpoint folder.
struct CheckpointEntry {
  std::string path;
  std::string run;            ///< RunName of the run that wrote it ("" when it names none)
  int64_t steps = 0;          ///< global steps trained when it was written
  double eval_value = 0;      ///< the -eval_metric value of its epoch (NaN when not evaluated)
};

/// The file name of the checkpoint after `steps` global steps, `epoch` of them complete epochs.
std::string CheckpointName(int64_t epoch, int64_t steps);

/// Whether `name` (no folder) is a checkpoint's file name or that of its temporary file.
bool IsCheckpointFileName(const std::string& name);

/// How a checkpoint names the run that wrote it (root attributes seed and run_digest): the seed
/// and a digest of the options that define the run, "seed 2024, options 0123456789abcdef".
std::string RunName(int64_t seed, const std::string& digest);

/// Not collective. Why `folder` cannot take a file of `bytes` bytes ("read-only file system",
/// "no space left on device: ..."), or "" when it can: a file is created in it and removed, and
/// its file system's free space is compared.
std::string FolderSpaceProblem(const std::string& folder, int64_t bytes);

/// Not collective. The recns checkpoints of `folder` (files named by CheckpointName), newest
/// first. Files with a checkpoint's name that cannot be used (truncated, not HDF5, another
/// format or version, counters of epochs and steps that do not add up) are listed in `skipped`
/// with the reason, and left alone.
PetscErrorCode ScanCheckpoints(const std::string& folder, std::vector<CheckpointEntry>* usable,
                               std::vector<std::string>* skipped);

/// Not collective. Removes every checkpoint of the run `run` (RunName) in `folder` but the `keep`
/// newest and the one with the best eval_value; returns the names removed. Other runs' files are
/// left alone.
PetscErrorCode PruneCheckpoints(const std::string& folder, int keep, const std::string& run,
                                std::vector<std::string>* removed);

/// Not collective. Removes temporary files left in `folder` by a checkpoint write that never
/// finished (a killed job); returns their names.
PetscErrorCode RemovePartialCheckpoints(const std::string& folder,
                                        std::vector<std::string>* removed);

}  // namespace recns
