// Dataset slice + layout + the normalized adjacency Â = D^-1/2 A D^-1/2 as a PETSc AIJ matrix.
#include "recns/graph.hpp"

#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/package.hpp"

namespace recns {

// --- Propagator ---------------------------------------------------------------------------------

namespace {

/// ApplySparse lists its terms from the nonzero rows' side when they hold at most 1/kFewRowsShare
/// of the matrix's nonzeros: listing costs a few passes over those terms, the row kernel one pass
/// over all nonzeros with a flag test each.
constexpr size_t kFewRowsShare = 4;

/// An exchange sends every row a target reads, with the datatypes made once, when at least
/// (kSendAllShare - 1)/kSendAllShare of them are wanted: making a datatype for the wanted rows
/// costs about half as much per row as putting a row (Gowalla, 2 ranks: 0.7 ms to make one for
/// 13,700 rows, 1.2 ms to put them), and the rows sent unread are never read.
constexpr size_t kSendAllShare = 4;

/// out(r) (+)= Σ_k value[k] · in(column[k]) over row r's nonzeros, rows of `d` (= D unless D is
/// Eigen::Dynamic) values, for the rows flagged in `selected` (all rows when it is null). With
/// `active`, only the nonzeros whose column is flagged in it are summed (the caller guarantees
/// the others multiply exact zeros), and `reached` flags the rows that summed any. The sum of
/// every row runs over its nonzeros in order, so all variants give the full product's bits.
///
/// No software prefetch: the out-of-order core already keeps enough gathers in flight, and with
/// AVX-512 the prefetch instructions cost more than they hide (Gowalla, d = 64, the whole product
/// on one core: 17.2 ms with against 17.1 ms without; 10.2 against 9.0 ms when every gather hits
/// the L2 cache).
template <int D>
void MultiplyRows(const Propagator::LocalCsr& a, const unsigned char* selected,
                  const unsigned char* active, const PetscScalar* in, int d, bool add,
                  PetscScalar* out, unsigned char* reached) {
  using ConstRow = Eigen::Map<const Eigen::Matrix<PetscScalar, 1, D>>;
  using Row = Eigen::Map<Eigen::Matrix<PetscScalar, 1, D>>;
  const int width = D == Eigen::Dynamic ? d : D;
  const PetscInt* row_start = a.row_start.data();
  const PetscInt* column = a.column.data();
  const PetscScalar* value = a.value.data();
  const PetscInt rows = (PetscInt)a.row_start.size() - 1;
  Eigen::Matrix<PetscScalar, 1, D> sum;  // on the stack unless D is Dynamic
  if constexpr (D == Eigen::Dynamic) sum.resize(width);
  for (PetscInt r = 0; r < rows; ++r) {
    if (selected && !selected[r]) continue;
    if (add && row_start[r] == row_start[r + 1]) continue;
    Row o(out + (size_t)r * width, width);
    if (add) sum = o;
    else sum.setZero();
    bool summed = false;
    for (PetscInt k = row_start[r]; k < row_start[r + 1]; ++k) {
      if (active && !active[column[k]]) continue;
      sum += value[k] * ConstRow(in + (size_t)column[k] * width, width);
      summed = true;
    }
    // A row that summed nothing keeps its value when adding and becomes zero otherwise.
    if (summed || !add) o = sum;
    if (reached && summed) reached[r] = 1;
  }
}

/// MultiplyRows with the row width fixed at compile time for the common embedding sizes: the
/// row sum then lives in registers and on the stack instead of the output row.
void MultiplyRows(const Propagator::LocalCsr& a, const unsigned char* selected,
                  const unsigned char* active, const PetscScalar* in, int d, bool add,
                  PetscScalar* out, unsigned char* reached) {
  switch (d) {
    case 16: return MultiplyRows<16>(a, selected, active, in, d, add, out, reached);
    case 32: return MultiplyRows<32>(a, selected, active, in, d, add, out, reached);
    case 64: return MultiplyRows<64>(a, selected, active, in, d, add, out, reached);
    case 128: return MultiplyRows<128>(a, selected, active, in, d, add, out, reached);
    default: return MultiplyRows<Eigen::Dynamic>(a, selected, active, in, d, add, out, reached);
  }
}

/// `terms` = the rows of `readers` flagged in `source`, transposed into `rows` rows: row r lists
/// (source row j, value) for every flagged j whose readers include r, in increasing j. With
/// `readers` the diagonal block (symmetric: row j lists the rows that read row j) or the
/// off-diagonal block's transpose, these are the terms the row kernel sums for r, in its order.
void ListTermsOf(const Propagator::LocalCsr& readers, const RowFlags& source, PetscInt rows,
                 Propagator::LocalCsr* terms) {
  terms->row_start.assign(rows + 1, 0);
  const PetscInt sources = (PetscInt)readers.row_start.size() - 1;
  for (PetscInt j = 0; j < sources; ++j)
    if (source[j])
      for (PetscInt k = readers.row_start[j]; k < readers.row_start[j + 1]; ++k) ++terms->row_start[readers.column[k] + 1];
  for (PetscInt r = 0; r < rows; ++r) terms->row_start[r + 1] += terms->row_start[r];
  terms->column.resize(terms->row_start[rows]);
  terms->value.resize(terms->row_start[rows]);
  std::vector<PetscInt> fill(terms->row_start.begin(), terms->row_start.end() - 1);
  for (PetscInt j = 0; j < sources; ++j)
    if (source[j])
      for (PetscInt k = readers.row_start[j]; k < readers.row_start[j + 1]; ++k) {
        const PetscInt at = fill[readers.column[k]]++;
        terms->column[at] = j;
        terms->value[at] = readers.value[k];
      }
}

}  // namespace

Propagator::~Propagator() {
  ReleaseExchange();
  if (exchange_comm_ != MPI_COMM_NULL) MPI_Comm_free(&exchange_comm_);
}

PetscErrorCode Propagator::ReleaseExchange() {
  PetscFunctionBeginUser;
  PetscCall(PetscSFDestroy(&ghosts_));
  for (Neighbour& target : targets_)
    for (MPI_Datatype* type : {&target.all_rows, &target.all_places})
      if (*type != MPI_DATATYPE_NULL) PetscCallMPI(MPI_Type_free(type));
  for (MPI_Group* group : {&sources_group_, &targets_group_})
    if (*group != MPI_GROUP_NULL) PetscCallMPI(MPI_Group_free(group));
  if (ghost_window_ != MPI_WIN_NULL) PetscCallMPI(MPI_Win_free(&ghost_window_));
  ghost_rows_ = nullptr;
  if (row_type_ != MPI_DATATYPE_NULL) PetscCallMPI(MPI_Type_free(&row_type_));
  PetscFunctionReturn(PETSC_SUCCESS);
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
  PetscCall(ReleaseExchange());
  adjacency_ = adjacency;
  columns_ = columns;
  MPI_Comm comm;
  PetscCall(PetscObjectGetComm((PetscObject)adjacency, &comm));
  PetscBool distributed;
  PetscCall(PetscObjectTypeCompare((PetscObject)adjacency, MATMPIAIJ, &distributed));
  if (!distributed) {
    PetscCall(CopyCsr(adjacency, &diagonal_));
    off_diagonal_ = LocalCsr();
    ghost_readers_ = LocalCsr();
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
  // Per ghost row, the local rows that read it (every local row listed): the few-rows product's
  // source of ghost terms.
  ListTermsOf(off_diagonal_, RowFlags(local_rows, 1), ghosts, &ghost_readers_);
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
  {
    PetscInt count;
    const PetscMPIInt* ranks;
    const PetscInt *offset, *mine, *remote_roots, *root_location;
    PetscCall(PetscSFGetRootRanks(ghosts_, &count, &ranks, &offset, &mine, &remote_roots));
    sources_.assign(count, Neighbour());
    for (PetscInt n = 0; n < count; ++n) {
      sources_[n].rank = ranks[n];
      sources_[n].rows.assign(mine + offset[n], mine + offset[n + 1]);
    }
    PetscCall(PetscSFGetLeafRanks(ghosts_, &count, &ranks, &offset, &root_location));
    targets_.assign(count, Neighbour());
    for (PetscInt n = 0; n < count; ++n) {
      targets_[n].rank = ranks[n];
      targets_[n].rows.assign(root_location + offset[n], root_location + offset[n + 1]);
    }
    if (exchange_comm_ == MPI_COMM_NULL) PetscCallMPI(MPI_Comm_dup(comm, &exchange_comm_));
  }
  PetscCallMPI(MPI_Type_contiguous((PetscMPIInt)columns, MPIU_SCALAR, &row_type_));
  PetscCallMPI(MPI_Type_commit(&row_type_));
  ghost_flags_.assign(ghosts, 0);
  PetscCall(SetUpGhostWindow(ghosts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::SetUpGhostWindow(PetscInt ghosts) {
  PetscFunctionBeginUser;
  // Each owner learns where the rows it sends land among each reader's ghost rows.
  requests_.clear();
  for (Neighbour& target : targets_) {
    target.remote_ghosts.resize(target.rows.size());
    requests_.emplace_back();
    PetscCallMPI(MPI_Irecv(target.remote_ghosts.data(), (PetscMPIInt)target.remote_ghosts.size(),
                           MPIU_INT, target.rank, 2, exchange_comm_, &requests_.back()));
  }
  for (Neighbour& source : sources_) {
    requests_.emplace_back();
    PetscCallMPI(MPI_Isend(source.rows.data(), (PetscMPIInt)source.rows.size(), MPIU_INT, source.rank,
                           2, exchange_comm_, &requests_.back()));
  }
  PetscCallMPI(MPI_Waitall((PetscMPIInt)requests_.size(), requests_.data(), MPI_STATUSES_IGNORE));
  // The ghost rows live in an RMA window that their owners put into: on one node MPI makes it
  // shared memory and a put is the owner's copy straight into the reader's rows.
  const MPI_Aint row_bytes = (MPI_Aint)columns_ * (MPI_Aint)sizeof(PetscScalar);
  MPI_Info info;
  PetscCallMPI(MPI_Info_create(&info));
  PetscCallMPI(MPI_Info_set(info, "no_locks", "true"));
  PetscCallMPI(MPI_Win_allocate((MPI_Aint)ghosts * row_bytes, (int)row_bytes, info, exchange_comm_,
                                &ghost_rows_, &ghost_window_));
  PetscCallMPI(MPI_Info_free(&info));
  MPI_Group everyone;
  PetscCallMPI(MPI_Comm_group(exchange_comm_, &everyone));
  for (auto [side, group] : {std::make_pair(&sources_, &sources_group_), std::make_pair(&targets_, &targets_group_)}) {
    std::vector<PetscMPIInt> ranks;
    for (const Neighbour& neighbour : *side) ranks.push_back(neighbour.rank);
    PetscCallMPI(MPI_Group_incl(everyone, (PetscMPIInt)ranks.size(), ranks.data(), group));
  }
  PetscCallMPI(MPI_Group_free(&everyone));
  // The full product's datatypes: every row sent to each target, and their places there.
  for (Neighbour& target : targets_) {
    target.wanted.assign(target.rows.size(), 1);
    PetscCall(CommitWantedRows(&target, &target.all_rows, &target.all_places));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::CheckShape(const RowMatrix& in) const {
  PetscFunctionBeginUser;
  PetscCheck(in.cols() == columns_, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "propagator set up for %d columns, given %d", (int)columns_, (int)in.cols());
  PetscCheck(in.rows() == LocalRows(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "propagator has %d local rows, given %d", (int)LocalRows(), (int)in.rows());
  PetscFunctionReturn(PETSC_SUCCESS);
}

size_t Propagator::TermsOf(const RowFlags& rows) const {
  size_t terms = 0;
  for (PetscInt r = 0; r < LocalRows(); ++r)
    if (rows[r]) terms += (size_t)(diagonal_.row_start[r + 1] - diagonal_.row_start[r]);
  if (ghosts_)
    for (PetscInt r = 0; r < LocalRows(); ++r)
      if (rows[r]) terms += (size_t)(off_diagonal_.row_start[r + 1] - off_diagonal_.row_start[r]);
  return terms;
}

PetscErrorCode Propagator::Multiply(const RowMatrix& in, const RowFlags* selected,
                                    const RowFlags* nonzero, RowMatrix* out,
                                    RowFlags* out_nonzero) {
  PetscFunctionBeginUser;
  PetscCall(CheckShape(in));
  if (out->rows() != in.rows() || out->cols() != in.cols())
    AllocateRows(out, in.rows(), in.cols());
  const size_t matrix = diagonal_.column.size() + off_diagonal_.column.size();
  // The few-rows form pays per term of a nonzero row; the row kernel per nonzero of the matrix.
  if (nonzero && !selected && TermsOf(*nonzero) * kFewRowsShare <= matrix) {
    PetscCall(MultiplyFewRows(in, *nonzero, out, out_nonzero));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const unsigned char* selected_flags = selected ? selected->data() : nullptr;
  const int d = (int)columns_;
  const unsigned char* active = nonzero ? nonzero->data() : nullptr;
  unsigned char* reached = nullptr;
  if (out_nonzero) {
    out_nonzero->assign(LocalRows(), 0);
    reached = out_nonzero->data();
  }
  // The ghost rows travel while the diagonal block, which needs none of them, is multiplied: all
  // of them for a full product, only those read for a restricted one.
  const bool restricted = selected || nonzero;
  if (ghosts_) {
    if (restricted) {
      PetscCall(MarkWantedGhosts(selected, nonzero));
      PetscCall(SendRowsBegin(in, false));
    } else {
      PetscCall(SendRowsBegin(in, true));
    }
  }
  // Where every row may be nonzero the flags skip nothing, and the kernel runs without them.
  const bool every_row = active && std::all_of(nonzero->begin(), nonzero->end(), [](unsigned char f) { return f != 0; }) &&
                         std::all_of(ghost_flags_.begin(), ghost_flags_.end(), [](unsigned char f) { return f != 0; });
  if (every_row) active = nullptr;
  MultiplyRows(diagonal_, selected_flags, active, in.data(), d, false, out->data(), reached);
  if (ghosts_) {
    PetscCall(SendRowsEnd());
    MultiplyRows(off_diagonal_, selected_flags, active ? ghost_flags_.data() : nullptr,
                 ghost_rows_, d, true, out->data(), reached);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::MultiplyFewRows(const RowMatrix& in, const RowFlags& nonzero,
                                           RowMatrix* out, RowFlags* out_nonzero) {
  PetscFunctionBeginUser;
  if (ghosts_) {
    PetscCall(MarkWantedGhosts(nullptr, &nonzero));
    PetscCall(SendRowsBegin(in, false));
  }
  // Per output row, the terms of the nonzero input rows, in increasing input row: the same terms
  // in the same order as the row kernel sums, so MultiplyRows on these blocks gives its bits.
  ListTermsOf(diagonal_, nonzero, LocalRows(), &few_diagonal_);
  const int d = (int)columns_;
  out_nonzero->assign(LocalRows(), 0);
  MultiplyRows(few_diagonal_, nullptr, nullptr, in.data(), d, false, out->data(),
               out_nonzero->data());
  if (ghosts_) {
    ListTermsOf(ghost_readers_, ghost_flags_, LocalRows(), &few_off_diagonal_);
    PetscCall(SendRowsEnd());
    MultiplyRows(few_off_diagonal_, nullptr, nullptr, ghost_rows_, d, true, out->data(),
                 out_nonzero->data());
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::MarkWantedGhosts(const RowFlags* selected, const RowFlags* nonzero) {
  PetscFunctionBeginUser;
  if (nonzero) {
    // A ghost row is wanted when its owner row may be nonzero: both sides know from the flags.
    PetscCall(PetscSFBcastBegin(ghosts_, MPI_UNSIGNED_CHAR, nonzero->data(), ghost_flags_.data(), MPI_REPLACE));
    PetscCall(PetscSFBcastEnd(ghosts_, MPI_UNSIGNED_CHAR, nonzero->data(), ghost_flags_.data(), MPI_REPLACE));
    for (Neighbour& target : targets_) {
      target.wanted.resize(target.rows.size());
      for (size_t k = 0; k < target.rows.size(); ++k) target.wanted[k] = (*nonzero)[target.rows[k]];
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  // A ghost row is wanted when a selected row has a nonzero in its column; owners are told.
  std::fill(ghost_flags_.begin(), ghost_flags_.end(), 0);
  for (PetscInt r = 0; r < LocalRows(); ++r)
    if ((*selected)[r])
      for (PetscInt k = off_diagonal_.row_start[r]; k < off_diagonal_.row_start[r + 1]; ++k)
        ghost_flags_[off_diagonal_.column[k]] = 1;
  requests_.clear();
  for (Neighbour& target : targets_) {
    target.wanted.resize(target.rows.size());
    requests_.emplace_back();
    PetscCallMPI(MPI_Irecv(target.wanted.data(), (PetscMPIInt)target.wanted.size(), MPI_UNSIGNED_CHAR,
                           target.rank, 0, exchange_comm_, &requests_.back()));
  }
  for (Neighbour& source : sources_) {
    source.wanted.resize(source.rows.size());
    for (size_t k = 0; k < source.rows.size(); ++k) source.wanted[k] = ghost_flags_[source.rows[k]];
    requests_.emplace_back();
    PetscCallMPI(MPI_Isend(source.wanted.data(), (PetscMPIInt)source.wanted.size(), MPI_UNSIGNED_CHAR,
                           source.rank, 0, exchange_comm_, &requests_.back()));
  }
  PetscCallMPI(MPI_Waitall((PetscMPIInt)requests_.size(), requests_.data(), MPI_STATUSES_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::CommitWantedRows(Neighbour* target, MPI_Datatype* rows,
                                            MPI_Datatype* places) const {
  PetscFunctionBeginUser;
  const MPI_Aint row_bytes = (MPI_Aint)columns_ * (MPI_Aint)sizeof(PetscScalar);
  target->offsets.clear();
  target->places.clear();
  for (size_t k = 0; k < target->rows.size(); ++k)
    if (target->wanted[k]) {
      target->offsets.push_back(target->rows[k] * row_bytes);
      target->places.push_back((PetscMPIInt)target->remote_ghosts[k]);
    }
  PetscCallMPI(MPI_Type_create_hindexed_block((PetscMPIInt)target->offsets.size(),
                                              (PetscMPIInt)columns_, target->offsets.data(),
                                              MPIU_SCALAR, rows));
  PetscCallMPI(MPI_Type_commit(rows));
  PetscCallMPI(MPI_Type_create_indexed_block((PetscMPIInt)target->places.size(), 1,
                                             target->places.data(), row_type_, places));
  PetscCallMPI(MPI_Type_commit(places));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::SendRowsBegin(const RowMatrix& in, bool every_row) {
  PetscFunctionBeginUser;
  // One post-start-complete-wait epoch per exchange: the readers expose their ghost rows while
  // the owners put the wanted rows in; the readers' wait (SendRowsEnd) ends it before they read.
  PetscCallMPI(MPI_Win_post(sources_group_, 0, ghost_window_));
  PetscCallMPI(MPI_Win_start(targets_group_, 0, ghost_window_));
  for (Neighbour& target : targets_) {
    MPI_Datatype rows = target.all_rows, places = target.all_places;
    size_t count = target.rows.size();
    const size_t wanted =
        every_row ? count
                  : (size_t)std::count_if(target.wanted.begin(), target.wanted.end(),
                                          [](unsigned char f) { return f != 0; });
    if (wanted * kSendAllShare < count * (kSendAllShare - 1)) {
      PetscCall(CommitWantedRows(&target, &target.wanted_rows, &target.wanted_places));
      rows = target.wanted_rows;
      places = target.wanted_places;
      count = target.offsets.size();
    }
    if (count > 0) PetscCallMPI(MPI_Put(in.data(), 1, rows, target.rank, 0, 1, places, ghost_window_));
  }
  PetscCallMPI(MPI_Win_complete(ghost_window_));
  for (Neighbour& target : targets_)
    for (MPI_Datatype* type : {&target.wanted_rows, &target.wanted_places})
      if (*type != MPI_DATATYPE_NULL) PetscCallMPI(MPI_Type_free(type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::SendRowsEnd() {
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Win_wait(ghost_window_));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::ExchangeGhostRows(const RowMatrix& in) {
  PetscFunctionBeginUser;
  PetscCall(CheckShape(in));
  if (ghosts_) {
    PetscCall(SendRowsBegin(in, true));
    PetscCall(SendRowsEnd());
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::Apply(const RowMatrix& in, RowMatrix* out) {
  return Multiply(in, nullptr, nullptr, out, nullptr);
}

PetscErrorCode Propagator::ApplyToRows(const RowMatrix& in, const RowFlags& rows, RowMatrix* out) {
  PetscFunctionBeginUser;
  PetscCheck((PetscInt)rows.size() == LocalRows(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "row flags for %d rows, propagator has %d", (int)rows.size(), (int)LocalRows());
  PetscCall(Multiply(in, &rows, nullptr, out, nullptr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::ApplySparse(const RowMatrix& in, const RowFlags& nonzero,
                                       RowMatrix* out, RowFlags* out_nonzero) {
  PetscFunctionBeginUser;
  PetscCheck((PetscInt)nonzero.size() == LocalRows(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "row flags for %d rows, propagator has %d", (int)nonzero.size(), (int)LocalRows());
  PetscCall(Multiply(in, nullptr, &nonzero, out, out_nonzero));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagator::ExpandRows(const RowFlags& rows, RowFlags* expanded) {
  PetscFunctionBeginUser;
  PetscCheck((PetscInt)rows.size() == LocalRows(), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "row flags for %d rows, propagator has %d", (int)rows.size(), (int)LocalRows());
  *expanded = rows;
  std::fill(ghost_flags_.begin(), ghost_flags_.end(), 0);
  for (PetscInt r = 0; r < LocalRows(); ++r) {
    if (!rows[r]) continue;
    for (PetscInt k = diagonal_.row_start[r]; k < diagonal_.row_start[r + 1]; ++k)
      (*expanded)[diagonal_.column[k]] = 1;
    if (ghosts_)
      for (PetscInt k = off_diagonal_.row_start[r]; k < off_diagonal_.row_start[r + 1]; ++k)
        ghost_flags_[off_diagonal_.column[k]] = 1;
  }
  if (ghosts_) {
    PetscCall(PetscSFReduceBegin(ghosts_, MPI_UNSIGNED_CHAR, ghost_flags_.data(), expanded->data(), MPI_MAX));
    PetscCall(PetscSFReduceEnd(ghosts_, MPI_UNSIGNED_CHAR, ghost_flags_.data(), expanded->data(), MPI_MAX));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- Graph --------------------------------------------------------------------------------------

Graph::~Graph() { MatDestroy(&adjacency_); }

PetscErrorCode Graph::Load(MPI_Comm comm, const std::string& path) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().load, 0, 0, 0, 0));
  PetscCall(ReadDatasetInfo(comm, path, &info_));
  // The user blocks need only the users' pairs; the item blocks need every item's degree, which
  // the ranks count from their users' rows.
  PetscCall(Layout::CheckRanks(comm, info_.num_users, info_.num_items));
  PetscMPIInt rank, size;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  const std::vector<int64_t> users = Layout::SplitByPairs(info_.train_indptr, size);
  PetscCall(ReadDatasetSlice(comm, info_, users[rank], users[rank + 1], &slice_));
  std::vector<int64_t> local_count(info_.num_items, 0);
  for (int32_t item : slice_.train.indices) ++local_count[item];
  item_degree_.assign(info_.num_items, 0);
  PetscCallMPI(MPI_Allreduce(local_count.data(), item_degree_.data(), (PetscMPIInt)info_.num_items,
                             MPI_INT64_T, MPI_SUM, comm));
  PetscCall(Layout::Create(comm, info_.num_users, info_.num_items, info_.train_indptr, item_degree_,
                           &layout_));
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
  info_.has_test_random = data.test_random.Present();
  info_.train_nnz = data.train.Nnz();
  info_.valid_nnz = data.valid.Nnz();
  info_.test_nnz = data.test.Nnz();
  info_.exposure_nnz = data.exposure.Nnz();
  info_.test_random_nnz = data.test_random.Nnz();
  info_.train_indptr = data.train.indptr;
  item_degree_.assign(data.num_items, 0);
  for (int32_t item : data.train.indices) ++item_degree_[item];
  PetscCall(Layout::Create(comm, info_.num_users, info_.num_items, info_.train_indptr, item_degree_,
                           &layout_));
  const int64_t b = layout_.UserBegin(), e = layout_.UserEnd();
  slice_ = DatasetSlice{};
  slice_.user_begin = b;
  slice_.user_end = e;
  slice_.train = RowsOf(data.train, b, e);
  slice_.valid = RowsOf(data.valid, b, e);
  slice_.test = RowsOf(data.test, b, e);
  slice_.exposure = RowsOf(data.exposure, b, e);
  slice_.test_random = RowsOf(data.test_random, b, e);
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

  // The local count splits item rows into diagonal/off-diagonal blocks.
  std::vector<int64_t> local_count(num_items, 0);
  for (int32_t item : indices) ++local_count[item];

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
  PetscCall(MatSetOptionsPrefix(adjacency_, kGraphOptionsPrefix));
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
