// Per-step halo of item rows over a PetscSF (ARCHITECTURE decision 3).
#include "recns/halo.hpp"

#include <algorithm>

#include "recns/package.hpp"

namespace recns {

Halo::~Halo() {
  PetscSFDestroy(&sf_);
  for (auto& unit : units_) MPI_Type_free(&unit.second);
}

PetscErrorCode Halo::SetItems(const std::vector<int32_t>& items) {
  PetscFunctionBeginUser;
  std::vector<int64_t> keys(items.size());
  for (size_t n = 0; n < items.size(); ++n) keys[n] = layout_.ItemKey(items[n]);
  PetscCall(SetNodes(keys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Halo::SetNodes(const std::vector<int64_t>& keys) {
  PetscFunctionBeginUser;
  ghost_keys_.clear();
  ghost_row_.clear();
  for (int64_t key : keys)
    if (!layout_.OwnsKey(key) && ghost_row_.emplace(key, (int64_t)ghost_keys_.size()).second)
      ghost_keys_.push_back(key);
  std::vector<PetscSFNode> remote(ghost_keys_.size());
  for (size_t g = 0; g < ghost_keys_.size(); ++g) {
    const int owner = layout_.KeyOwner(ghost_keys_[g]);
    remote[g].rank = owner;
    remote[g].index = (PetscInt)layout_.KeyRowAtOwner(ghost_keys_[g], owner);
  }
  PetscCall(PetscSFDestroy(&sf_));
  PetscCall(PetscSFCreate(layout_.Comm(), &sf_));
  PetscCall(PetscSFSetFromOptions(sf_));
  PetscCall(PetscSFSetGraph(sf_, (PetscInt)layout_.LocalRows(), (PetscInt)remote.size(), nullptr,
                            PETSC_OWN_POINTER, remote.data(), PETSC_COPY_VALUES));
  PetscCall(PetscSFSetUp(sf_));
  // The set-up has told each owner which of its rows other ranks read: no scan of the rows.
  PetscInt readers;
  const PetscMPIInt* reader_ranks;
  const PetscInt *offsets, *rows;
  PetscCall(PetscSFGetLeafRanks(sf_, &readers, &reader_ranks, &offsets, &rows));
  read_by_others_.assign(rows, rows + offsets[readers]);
  std::sort(read_by_others_.begin(), read_by_others_.end());
  read_by_others_.erase(std::unique(read_by_others_.begin(), read_by_others_.end()),
                        read_by_others_.end());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Halo::CompactRoots(const Halo& source, const std::vector<int64_t>& rows) {
  PetscFunctionBeginUser;
  std::vector<PetscInt> compact((size_t)layout_.LocalRows(), -1), at_owner((size_t)source.Ghosts(), -1);
  for (size_t k = 0; k < rows.size(); ++k) compact[(size_t)rows[k]] = (PetscInt)k;
  PetscCall(PetscSFBcastBegin(source.sf_, MPIU_INT, compact.data(), at_owner.data(), MPI_REPLACE));
  PetscCall(PetscSFBcastEnd(source.sf_, MPIU_INT, compact.data(), at_owner.data(), MPI_REPLACE));
  if (&source != this) {
    ghost_keys_ = source.ghost_keys_;
    ghost_row_ = source.ghost_row_;
    read_by_others_ = source.read_by_others_;
  }
  std::vector<PetscSFNode> remote(ghost_keys_.size());
  for (size_t g = 0; g < ghost_keys_.size(); ++g) {
    PetscCheck(at_owner[g] >= 0, layout_.Comm(), PETSC_ERR_PLIB,
               "compact roots miss a row that another rank reads");
    remote[g].rank = layout_.KeyOwner(ghost_keys_[g]);
    remote[g].index = at_owner[g];
  }
  PetscCall(PetscSFDestroy(&sf_));
  PetscCall(PetscSFCreate(layout_.Comm(), &sf_));
  PetscCall(PetscSFSetFromOptions(sf_));
  PetscCall(PetscSFSetGraph(sf_, (PetscInt)rows.size(), (PetscInt)remote.size(), nullptr,
                            PETSC_OWN_POINTER, remote.data(), PETSC_COPY_VALUES));
  PetscCall(PetscSFSetUp(sf_));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Halo::UnitType(PetscInt width, MPI_Datatype* unit) {
  PetscFunctionBeginUser;
  if (width == 1) {  // PETSc reduces only on contiguous types of two or more scalars, or on a scalar
    *unit = MPIU_SCALAR;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  auto it = units_.find(width);
  if (it == units_.end()) {
    MPI_Datatype type;
    PetscCallMPI(MPI_Type_contiguous((PetscMPIInt)width, MPIU_SCALAR, &type));
    PetscCallMPI(MPI_Type_commit(&type));
    it = units_.emplace(width, type).first;
  }
  *unit = it->second;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Halo::Bcast(const RowMatrix& owned, RowMatrix* ghost) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().halo_bcast, 0, 0, 0, 0));
  MPI_Datatype unit;
  PetscCall(UnitType((PetscInt)owned.cols(), &unit));
  ghost->resize(Ghosts(), owned.cols());
  PetscCall(PetscSFBcastBegin(sf_, unit, owned.data(), ghost->data(), MPI_REPLACE));
  PetscCall(PetscSFBcastEnd(sf_, unit, owned.data(), ghost->data(), MPI_REPLACE));
  PetscCall(PetscLogEventEnd(Events().halo_bcast, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Halo::ReduceAdd(const RowMatrix& ghost, RowMatrix* owned) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().halo_reduce, 0, 0, 0, 0));
  MPI_Datatype unit;
  PetscCall(UnitType((PetscInt)owned->cols(), &unit));
  PetscCall(PetscSFReduceBegin(sf_, unit, ghost.data(), owned->data(), MPI_SUM));
  PetscCall(PetscSFReduceEnd(sf_, unit, ghost.data(), owned->data(), MPI_SUM));
  PetscCall(PetscLogEventEnd(Events().halo_reduce, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode AllgatherItemRows(const Layout& layout, const RowMatrix& owned, RowMatrix* all) {
  PetscFunctionBeginUser;
  const int64_t d = owned.cols();
  all->resize(layout.NumItems(), d);
  std::vector<PetscMPIInt> counts(layout.Size()), displs(layout.Size());
  for (int r = 0; r < layout.Size(); ++r) {
    counts[r] = (PetscMPIInt)((layout.ItemStarts()[r + 1] - layout.ItemStarts()[r]) * d);
    displs[r] = (PetscMPIInt)(layout.ItemStarts()[r] * d);
  }
  PetscCallMPI(MPI_Allgatherv(owned.data() + layout.LocalUsers() * d, counts[layout.Rank()],
                              MPI_DOUBLE, all->data(), counts.data(), displs.data(), MPI_DOUBLE,
                              layout.Comm()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
