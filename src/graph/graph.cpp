// Dataset slice + layout + the normalized adjacency Â = D^-1/2 A D^-1/2 as a PETSc AIJ matrix.
#include "recns/graph.hpp"

#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/package.hpp"

namespace recns {

// --- Propagator ---------------------------------------------------------------------------------

namespace {

/// How many nonzeros ahead the kernel prefetches the input row it will need: far enough for the
/// row to arrive from memory while about 8 rows are multiplied, near enough to stay in L1.
constexpr PetscInt kPrefetchAhead = 8;

/// out(r) (+)= Σ_k value[k] · in(column[k]) over row r's nonzeros, rows of `d` values.
void MultiplyRows(const PetscInt* row_start, PetscInt rows, const PetscInt* column,
                  const PetscScalar* value, const PetscScalar* in, int d, bool add,
                  PetscScalar* out) {
  using Row = Eigen::Map<Eigen::Matrix<PetscScalar, 1, Eigen::Dynamic>>;
  using ConstRow = Eigen::Map<const Eigen::Matrix<PetscScalar, 1, Eigen::Dynamic>>;
  const PetscInt nnz = row_start[rows];
  for (PetscInt r = 0; r < rows; ++r) {
    Row o(out + (size_t)r * d, d);
    if (!add) o.setZero();
    for (PetscInt k = row_start[r]; k < row_start[r + 1]; ++k) {
      if (k + kPrefetchAhead < nnz) {
        const PetscScalar* ahead = in + (size_t)column[k + kPrefetchAhead] * d;
        for (int line = 0; line < d; line += 8) __builtin_prefetch(ahead + line);
      }
      o += value[k] * ConstRow(in + (size_t)column[k] * d, d);
    }
  }
}

}  // namespace

Propagator::~Propagator() {
  PetscSFDestroy(&ghosts_);
  if (row_type_ != MPI_DATATYPE_NULL) MPI_Type_free(&row_type_);
}

PetscErrorCode Propagator::CopyCsr(Mat block, LocalCsr* csr) {
  PetscFunctionBeginUser;
  PetscInt rows;
  const PetscInt *ia, *ja;
  PetscBool done;
  const PetscScalar* values;
  PetscCall(MatGetRowIJ(block, 0, PETSC_FALSE, PETSC_FALSE, &rows, &ia, &ja, &done));
  PetscCheck(done, PETSC_COMM_SELF, PETSC_ERR_SUP, "the adjacency's CSR arrays are not available");
  PetscCall(MatSeqAIJGetArrayRead(block, &values));
  csr->row_start.assign(ia, ia + rows + 1);
  csr->column.assign(ja, ja + ia[rows]);
  csr->value.assign(values, values + ia[rows]);
  PetscCall(MatSeqAIJRestoreArrayRead(block, &values));
  PetscCall(MatRestoreRowIJ(block, 0, PETSC_FALSE, PETSC_FALSE, &rows, &ia, &ja, &done));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::SetUp(Mat adjacency, PetscInt columns) {
  PetscFunctionBeginUser;
  if (adjacency_ == adjacency && columns_ == columns) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscSFDestroy(&ghosts_));
  if (row_type_ != MPI_DATATYPE_NULL) PetscCallMPI(MPI_Type_free(&row_type_));
  adjacency_ = adjacency;
  columns_ = columns;
  MPI_Comm comm;
  PetscCall(PetscObjectGetComm((PetscObject)adjacency, &comm));
  PetscBool distributed;
  PetscCall(PetscObjectTypeCompare((PetscObject)adjacency, MATMPIAIJ, &distributed));
  if (!distributed) {
    PetscCall(CopyCsr(adjacency, &diagonal_));
    off_diagonal_ = LocalCsr();
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  Mat diagonal, off_diagonal;
  const PetscInt* ghost_global;
  PetscCall(MatMPIAIJGetSeqAIJ(adjacency, &diagonal, &off_diagonal, &ghost_global));
  PetscCall(CopyCsr(diagonal, &diagonal_));
  PetscCall(CopyCsr(off_diagonal, &off_diagonal_));
  PetscInt local_rows, ghosts;
  PetscCall(MatGetLocalSize(adjacency, &local_rows, nullptr));
  PetscCall(MatGetSize(off_diagonal, nullptr, &ghosts));
  const PetscInt* ranges;
  PetscCall(MatGetOwnershipRanges(adjacency, &ranges));
  PetscMPIInt size;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscSFNode* remote;
  PetscCall(PetscMalloc1(ghosts, &remote));
  for (PetscInt g = 0; g < ghosts; ++g) {
    const PetscInt owner = (PetscInt)(std::upper_bound(ranges, ranges + size + 1, ghost_global[g]) - ranges) - 1;
    remote[g].rank = owner;
    remote[g].index = ghost_global[g] - ranges[owner];
  }
  PetscCall(PetscSFCreate(comm, &ghosts_));
  PetscCall(PetscSFSetGraph(ghosts_, local_rows, ghosts, nullptr, PETSC_OWN_POINTER, remote, PETSC_OWN_POINTER));
  PetscCall(PetscSFSetUp(ghosts_));
  PetscCallMPI(MPI_Type_contiguous((PetscMPIInt)columns, MPIU_SCALAR, &row_type_));
  PetscCallMPI(MPI_Type_commit(&row_type_));
  ghost_rows_.resize(ghosts, columns);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::Apply(const RowMatrix& in, RowMatrix* out) {
  PetscFunctionBeginUser;
  PetscCheck(in.cols() == columns_, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "propagator set up for %d columns, given %d", (int)columns_, (int)in.cols());
  const PetscInt rows = (PetscInt)diagonal_.row_start.size() - 1;
  PetscCheck(in.rows() == rows, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "propagator has %d local rows, given %d", (int)rows, (int)in.rows());
  out->resize(rows, columns_);
  const int d = (int)columns_;
  // The ghost rows travel while the diagonal block, which needs none of them, is multiplied.
  if (ghosts_) PetscCall(PetscSFBcastBegin(ghosts_, row_type_, in.data(), ghost_rows_.data(), MPI_REPLACE));
  MultiplyRows(diagonal_.row_start.data(), rows, diagonal_.column.data(), diagonal_.value.data(),
               in.data(), d, false, out->data());
  if (ghosts_) {
    PetscCall(PetscSFBcastEnd(ghosts_, row_type_, in.data(), ghost_rows_.data(), MPI_REPLACE));
    MultiplyRows(off_diagonal_.row_start.data(), rows, off_diagonal_.column.data(),
                 off_diagonal_.value.data(), ghost_rows_.data(), d, true, out->data());
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- Graph --------------------------------------------------------------------------------------

Graph::~Graph() { MatDestroy(&adjacency_); }

PetscErrorCode Graph::Load(MPI_Comm comm, const std::string& path) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().load, 0, 0, 0, 0));
  PetscCall(ReadDatasetInfo(comm, path, &info_));
  PetscCall(Layout::Create(comm, info_.num_users, info_.num_items, info_.train_indptr, &layout_));
  PetscCall(ReadDatasetSlice(comm, info_, layout_.UserBegin(), layout_.UserEnd(), &slice_));
  PetscCall(PetscLogEventEnd(Events().load, 0, 0, 0, 0));
  PetscCall(Assemble());
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {
Csr RowsOf(const Csr& full, int64_t begin, int64_t end) {
  Csr part;
  if (!full.Present()) return part;
  part.indptr.resize(end - begin + 1);
  for (int64_t r = begin; r <= end; ++r) part.indptr[r - begin] = full.indptr[r] - full.indptr[begin];
  part.indices.assign(full.indices.begin() + full.indptr[begin], full.indices.begin() + full.indptr[end]);
  return part;
}
}  // namespace

PetscErrorCode Graph::Build(MPI_Comm comm, const Dataset& data) {
  PetscFunctionBeginUser;
  info_ = DatasetInfo{};
  info_.path = "<memory>";
  info_.name = data.name;
  info_.num_users = data.num_users;
  info_.num_items = data.num_items;
  info_.has_valid = data.valid.Present();
  info_.has_exposure = data.exposure.Present();
  info_.train_nnz = data.train.Nnz();
  info_.valid_nnz = data.valid.Nnz();
  info_.test_nnz = data.test.Nnz();
  info_.exposure_nnz = data.exposure.Nnz();
  info_.train_indptr = data.train.indptr;
  PetscCall(Layout::Create(comm, info_.num_users, info_.num_items, info_.train_indptr, &layout_));
  const int64_t b = layout_.UserBegin(), e = layout_.UserEnd();
  slice_ = DatasetSlice{};
  slice_.user_begin = b;
  slice_.user_end = e;
  slice_.train = RowsOf(data.train, b, e);
  slice_.valid = RowsOf(data.valid, b, e);
  slice_.test = RowsOf(data.test, b, e);
  slice_.exposure = RowsOf(data.exposure, b, e);
  PetscCall(Assemble());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Graph::Assemble() {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().graph_build, 0, 0, 0, 0));
  const MPI_Comm comm = layout_.Comm();
  const int64_t num_items = layout_.NumItems();
  const auto& indptr = slice_.train.indptr;
  const auto& indices = slice_.train.indices;
  const int64_t local_users = layout_.LocalUsers(), local_items = layout_.LocalItems();

  // Item degrees are global; the local count splits item rows into diagonal/off-diagonal blocks.
  std::vector<int64_t> local_count(num_items, 0);
  for (int32_t item : indices) ++local_count[item];
  item_degree_.assign(num_items, 0);
  PetscCallMPI(MPI_Allreduce(local_count.data(), item_degree_.data(), (PetscMPIInt)num_items,
                             MPI_INT64_T, MPI_SUM, comm));

  const PetscInt local_rows = (PetscInt)layout_.LocalRows();
  std::vector<PetscInt> diag(local_rows, 0), off(local_rows, 0);
  for (int64_t u = 0; u < local_users; ++u)
    for (int64_t p = indptr[u]; p < indptr[u + 1]; ++p)
      ++(layout_.OwnsItem(indices[p]) ? diag[u] : off[u]);
  for (int64_t j = 0; j < local_items; ++j) {
    const int64_t item = layout_.ItemBegin() + j;
    diag[local_users + j] = (PetscInt)local_count[item];
    off[local_users + j] = (PetscInt)(item_degree_[item] - local_count[item]);
  }

  PetscCall(MatDestroy(&adjacency_));
  PetscCall(MatCreate(comm, &adjacency_));
  PetscCall(MatSetSizes(adjacency_, local_rows, local_rows, (PetscInt)layout_.NumNodes(),
                        (PetscInt)layout_.NumNodes()));
  PetscCall(MatSetType(adjacency_, MATAIJ));
  PetscCall(MatSetOptionsPrefix(adjacency_, "graph_"));
  PetscCall(MatSetFromOptions(adjacency_));
  PetscCall(MatXAIJSetPreallocation(adjacency_, 1, diag.data(), off.data(), nullptr, nullptr));
  PetscCall(MatSetOption(adjacency_, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));

  std::vector<PetscInt> columns;
  std::vector<PetscScalar> values;
  for (int64_t u = 0; u < local_users; ++u) {
    const PetscInt row = (PetscInt)(layout_.NodeBegin() + u);
    const double user_degree = (double)(indptr[u + 1] - indptr[u]);
    columns.clear();
    values.clear();
    for (int64_t p = indptr[u]; p < indptr[u + 1]; ++p) {
      const PetscInt column = (PetscInt)layout_.ItemNode(indices[p]);
      const PetscScalar value = 1.0 / std::sqrt(user_degree * (double)item_degree_[indices[p]]);
      columns.push_back(column);
      values.push_back(value);
      PetscCall(MatSetValues(adjacency_, 1, &column, 1, &row, &value, INSERT_VALUES));
    }
    PetscCall(MatSetValues(adjacency_, 1, &row, (PetscInt)columns.size(), columns.data(),
                           values.data(), INSERT_VALUES));
  }
  PetscCall(MatAssemblyBegin(adjacency_, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(adjacency_, MAT_FINAL_ASSEMBLY));
  PetscCall(PetscLogEventEnd(Events().graph_build, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
