// The training graph of one rank: its slice of the dataset, the ownership layout, global item
// degrees, and the normalized adjacency  Â = D^-1/2 A D^-1/2  with  A = [[0, R], [R^T, 0]]  as a
// distributed PETSc matrix (ALGORITHMS §1.2, decision 8: no self-loops, zero degree -> factor 0).
#pragma once

#include <petscmat.h>
#include <petscsf.h>


#include <string>
#include <vector>

#include "recns/error.hpp"
#include "recns/dataset.hpp"
#include "recns/embedding.hpp"
#include "recns/layout.hpp"

namespace recns {

/// Options prefix of the normalized adjacency matrix (-graph_mat_type ...).
constexpr const char* kGraphOptionsPrefix = "graph_";

/// Flags over a rank's local rows (local users, then local items): 1 where a row is wanted or
/// may be nonzero, 0 elsewhere.
using RowFlags = std::vector<unsigned char>;

/// Multiplies owned row blocks by Â: out = Â · in, both row-major with the same column count.
///
/// PETSc's distributed matrix stays the owner of Â and of its partition; the product is our own
/// kernel on its CSR arrays, because the product is bound by gathering input rows from the caches
/// and summing them, not by memory bandwidth: whole row-major input rows summed in vector
/// registers, instead of PETSc's column-major sparse × dense kernel (scripts/bench.sh measures
/// the product against its least-traffic time). Each rank puts the rows its neighbours read into
/// their ghost rows (MPI one-sided puts in a post-start-complete-wait epoch: on one node a single
/// copy, where a message costs the sender's packing and the receiver's copy), multiplies its
/// diagonal block (columns it owns), waits for its own ghost rows, then adds the off-diagonal
/// block.
///
/// A training step needs few rows: final embeddings only for its users, positives and negatives,
/// and gradients start from those rows only. ApplyToRows and ApplySparse compute just that, and
/// every row they compute sums the same terms in the same order as Apply (skipped terms are
/// exact zeros), so the results are Apply's to the last bit.
class Propagator {
 public:
  Propagator() = default;
  Propagator(const Propagator&) = delete;
  Propagator& operator=(const Propagator&) = delete;
  ~Propagator();
  /// Collective. Copies the local CSR blocks of `adjacency` (MATAIJ; it may be destroyed
  /// afterwards) and builds the ghost-row exchange for `columns` columns.
  PetscErrorCode SetUp(Mat adjacency, PetscInt columns);
  PetscInt LocalRows() const { return (PetscInt)diagonal_.row_start.size() - 1; }
  /// Collective. out = Â in (in and out: LocalRows × columns; they must not alias).
  PetscErrorCode Apply(const RowMatrix& in, RowMatrix* out);
  /// Collective. out = Â in on the rows flagged in `rows` only; out's other rows keep their
  /// values. Reads the rows of `in` that ExpandRows(rows) flags, on every rank.
  PetscErrorCode ApplyToRows(const RowMatrix& in, const RowFlags& rows, RowMatrix* out);
  /// Collective. `expanded` = `rows` and every local row that some rank's rows in `rows` have
  /// a nonzero in: the input rows a product on `rows` reads.
  PetscErrorCode ExpandRows(const RowFlags& rows, RowFlags* expanded);
  /// Collective. out = Â in for an `in` that is zero outside the rows flagged in `nonzero`
  /// (its other rows are never read). Every row of out is written; `out_nonzero` flags those
  /// that may be nonzero.
  PetscErrorCode ApplySparse(const RowMatrix& in, const RowFlags& nonzero, RowMatrix* out,
                             RowFlags* out_nonzero);
  /// Collective. Brings every ghost row of `in` and nothing else: the exchange of a full
  /// product, on its own (scripts/bench.sh times it).
  PetscErrorCode ExchangeGhostRows(const RowMatrix& in);

  struct LocalCsr {
    std::vector<PetscInt> row_start{0}, column;
    std::vector<PetscScalar> value;
  };

 private:
  static PetscErrorCode CopyCsr(Mat block, LocalCsr* csr);
  PetscErrorCode CheckShape(const RowMatrix& in) const;
  /// The products' common body: the diagonal block while the ghost rows travel (all of them for
  /// a full product; for a restricted one, the wanted ones, marked first), then the off-diagonal
  /// block.
  PetscErrorCode Multiply(const RowMatrix& in, const RowFlags* selected, const RowFlags* nonzero,
                          RowMatrix* out, RowFlags* out_nonzero);
  /// The nonzeros of the flagged rows, in both blocks.
  size_t TermsOf(const RowFlags& rows) const;
  /// ApplySparse for an input with few nonzero rows: the terms each output row sums are listed
  /// from the nonzero rows' side (Â is symmetric: row j of the diagonal block lists the rows that
  /// read row j, with their values; the off-diagonal block's transpose does this for ghost rows),
  /// in the order the row kernel sums them, so the cost follows the nonzero rows, not the matrix.
  PetscErrorCode MultiplyFewRows(const RowMatrix& in, const RowFlags& nonzero, RowMatrix* out,
                                 RowFlags* out_nonzero);

  // The owners put the ghost rows into their readers' RMA window; the restricted products move
  // only the ghost rows they read. Per neighbour rank, taken from the PetscSF: the rows exchanged
  // with it (ghost rows received, or owned rows sent) in the order both sides list them, which of
  // them this exchange moves, and for a target (a rank reading our rows) where each row lands
  // among its ghost rows and the MPI datatypes picking the rows in place on both sides (no
  // packing buffer of our own): made once for the full product, per exchange otherwise.
  struct Neighbour {
    PetscMPIInt rank = 0;
    std::vector<PetscInt> rows;
    RowFlags wanted;
    std::vector<PetscInt> remote_ghosts;
    std::vector<MPI_Aint> offsets;
    std::vector<PetscMPIInt> places;
    MPI_Datatype all_rows = MPI_DATATYPE_NULL, all_places = MPI_DATATYPE_NULL;
    MPI_Datatype wanted_rows = MPI_DATATYPE_NULL, wanted_places = MPI_DATATYPE_NULL;
  };
  PetscErrorCode ReleaseExchange();
  PetscErrorCode SetUpGhostWindow(PetscInt ghosts);
  /// The datatypes of the target's wanted rows: in our rows, and at their places in its window.
  PetscErrorCode CommitWantedRows(Neighbour* target, MPI_Datatype* rows, MPI_Datatype* places) const;
  /// Collective. Marks the wanted ghost rows: those the selected rows read, or (with `nonzero`)
  /// those whose owner row may be nonzero; owners learn which of their rows to send.
  PetscErrorCode MarkWantedGhosts(const RowFlags* selected, const RowFlags* nonzero);
  /// Collective. Puts every row our targets read, or only their wanted rows when fewer than
  /// (kSendAllShare - 1)/kSendAllShare of a target's rows are wanted, into their windows.
  PetscErrorCode SendRowsBegin(const RowMatrix& in, bool every_row);
  /// Collective. Returns when our sources' rows are all in our ghost rows.
  PetscErrorCode SendRowsEnd();

  Mat adjacency_ = nullptr;
  PetscInt columns_ = 0;
  std::vector<Neighbour> sources_, targets_;  // ranks owning our ghost rows; ranks ghosting ours
  std::vector<MPI_Request> requests_;
  MPI_Comm exchange_comm_ = MPI_COMM_NULL;
  LocalCsr diagonal_, off_diagonal_;  // off_diagonal_'s columns index the ghost rows
  LocalCsr ghost_readers_;            // off_diagonal_ transposed: per ghost row, the rows reading it
  LocalCsr few_diagonal_, few_off_diagonal_;  // MultiplyFewRows' terms per output row
  PetscSF ghosts_ = nullptr;
  MPI_Datatype row_type_ = MPI_DATATYPE_NULL;
  MPI_Win ghost_window_ = MPI_WIN_NULL;
  MPI_Group sources_group_ = MPI_GROUP_NULL, targets_group_ = MPI_GROUP_NULL;
  PetscScalar* ghost_rows_ = nullptr;  // the ghost rows, in ghost_window_'s memory
  RowFlags ghost_flags_;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  ~Graph();

  /// Collective on comm. Reads `path` (each rank only its users' rows), partitions it and
  /// assembles Â. Every input problem is a collective error naming the file.
  PetscErrorCode Load(MPI_Comm comm, const std::string& path);
  /// Collective on comm. The same from a dataset already in memory on every rank (tests).
  PetscErrorCode Build(MPI_Comm comm, const Dataset& data);

  const Layout& GetLayout() const { return layout_; }
  const DatasetInfo& Info() const { return info_; }
  const DatasetSlice& Slice() const { return slice_; }
  /// Training degree of every item (all ranks hold all of them).
  const std::vector<int64_t>& ItemDegrees() const { return item_degree_; }
  Mat Adjacency() const { return adjacency_; }

  /// Training items of a local user (local index), sorted.
  const int32_t* TrainItems(int64_t local_user, int64_t* count) const {
    const auto& p = slice_.train.indptr;
    *count = p[local_user + 1] - p[local_user];
    return slice_.train.indices.data() + p[local_user];
  }

 private:
  PetscErrorCode Assemble();
  DatasetInfo info_;
  DatasetSlice slice_;
  Layout layout_;
  std::vector<int64_t> item_degree_;
  Mat adjacency_ = nullptr;
};

}  // namespace recns
