// Remote item rows for one step (ARCHITECTURE decision 3): a PetscSF from the owned rows (roots)
// to this rank's ghost rows (leaves), built from the deduplicated dataset item ids it needs.
// Bcast copies owner rows to ghosts; Reduce adds ghost rows (gradients) into their owners.
#pragma once

#include <petscsf.h>


#include <map>
#include <unordered_map>
#include <vector>

#include "recns/error.hpp"
#include "recns/embedding.hpp"
#include "recns/layout.hpp"

namespace recns {

class Halo {
 public:
  explicit Halo(const Layout& layout) : layout_(layout) {}
  Halo(const Halo&) = delete;
  Halo& operator=(const Halo&) = delete;
  ~Halo();

  /// Collective. Sets the items this rank needs; remote ones become ghost rows 0..Ghosts()-1 in
  /// the order of first appearance. Owned items need no ghost.
  PetscErrorCode SetItems(const std::vector<int32_t>& items);
  int64_t Ghosts() const { return static_cast<int64_t>(ghost_items_.size()); }
  /// The owned rows other ranks hold as ghosts since the last SetItems, sorted and unique.
  const std::vector<int64_t>& ReadByOthers() const { return read_by_others_; }
  /// Ghost row of a remote item given to SetItems.
  int64_t GhostRow(int32_t item) const { return ghost_row_.at(item); }
  /// The row of an item given to SetItems: in `owned` when this rank owns it, else in `ghost`.
  template <class Matrix>
  auto Row(int32_t item, Matrix& owned, Matrix& ghost) const -> decltype(owned.data()) {
    return layout_.OwnsItem(item) ? owned.row(layout_.LocalItemRow(item)).data()
                                  : ghost.row(GhostRow(item)).data();
  }

  /// Collective. ghost(g, :) = owner row of ghost item g (owned: LocalRows × width).
  PetscErrorCode Bcast(const RowMatrix& owned, RowMatrix* ghost);
  /// Collective. owned(owner row, :) += ghost(g, :) for every ghost row g.
  PetscErrorCode ReduceAdd(const RowMatrix& ghost, RowMatrix* owned);

 private:
  PetscErrorCode UnitType(PetscInt width, MPI_Datatype* unit);
  const Layout& layout_;
  std::vector<int32_t> ghost_items_;
  std::unordered_map<int32_t, int64_t> ghost_row_;
  std::vector<int64_t> read_by_others_;
  PetscSF sf_ = nullptr;
  std::map<PetscInt, MPI_Datatype> units_;  // contiguous row types, one per row width
};

/// Collective. Every item's row of `owned` (this rank's LocalRows × d) on every rank, in dataset
/// id order (NumItems × d); the rank blocks of items are contiguous and ordered, so one
/// MPI_Allgatherv places them.
PetscErrorCode AllgatherItemRows(const Layout& layout, const RowMatrix& owned, RowMatrix* all);

}  // namespace recns
