// Dataset slice + layout + the normalized adjacency Â = D^-1/2 A D^-1/2 as a PETSc AIJ matrix.
#include "recns/graph.hpp"

#include <cmath>

#include "recns/error.hpp"
#include "recns/package.hpp"

namespace recns {

// --- Propagator ---------------------------------------------------------------------------------

Propagator::~Propagator() {
  MatDestroy(&output_);
  MatDestroy(&input_);
}

PetscErrorCode Propagator::SetUp(Mat adjacency, PetscInt columns) {
  PetscFunctionBeginUser;
  if (adjacency_ == adjacency && columns_ == columns) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(MatDestroy(&output_));
  PetscCall(MatDestroy(&input_));
  adjacency_ = adjacency;
  columns_ = columns;
  PetscInt local_rows, global_rows;
  PetscCall(MatGetLocalSize(adjacency, &local_rows, nullptr));
  PetscCall(MatGetSize(adjacency, &global_rows, nullptr));
  MPI_Comm comm;
  PetscCall(PetscObjectGetComm((PetscObject)adjacency, &comm));
  PetscCall(MatCreateDense(comm, local_rows, PETSC_DECIDE, global_rows, columns, nullptr, &input_));
  PetscCall(MatProductCreate(adjacency, input_, nullptr, &output_));
  PetscCall(MatProductSetType(output_, MATPRODUCT_AB));
  PetscCall(MatProductSetFromOptions(output_));
  PetscCall(MatProductSymbolic(output_));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::Apply(const RowMatrix& in, RowMatrix* out) {
  PetscFunctionBeginUser;
  PetscCheck(in.cols() == columns_, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "propagator set up for %d columns, given %d", (int)columns_, (int)in.cols());
  const Eigen::Index rows = in.rows();
  PetscScalar* x;
  PetscInt lda;
  // PETSc's dense matrices are column-major; the copies cost O(rows·columns), small beside the
  // sparse product's O(nnz·columns) gathers.
  PetscCall(MatDenseGetLDA(input_, &lda));
  PetscCall(MatDenseGetArrayWrite(input_, &x));
  for (Eigen::Index r = 0; r < rows; ++r)
    for (PetscInt c = 0; c < columns_; ++c) x[r + c * lda] = in(r, c);
  PetscCall(MatDenseRestoreArrayWrite(input_, &x));
  PetscCall(MatProductNumeric(output_));
  const PetscScalar* y;
  PetscCall(MatDenseGetLDA(output_, &lda));
  PetscCall(MatDenseGetArrayRead(output_, &y));
  out->resize(rows, columns_);
  for (Eigen::Index r = 0; r < rows; ++r)
    for (PetscInt c = 0; c < columns_; ++c) (*out)(r, c) = y[r + c * lda];
  PetscCall(MatDenseRestoreArrayRead(output_, &y));
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
