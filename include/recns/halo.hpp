// Remote rows for one step (ARCHITECTURE decision 3): a PetscSF from the owned rows (roots) to
// this rank's ghost rows (leaves), built from the deduplicated dataset item ids it needs, or from
// node keys (Layout: users and items alike) for the models that read users' rows of other ranks.
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
  /// Collective. The same for node keys (Layout::ItemKey; users and items alike).
  PetscErrorCode SetNodes(const std::vector<int64_t>& keys);
  /// Collective. This halo becomes `source`'s (set up; it may be this one) with its roots the
  /// owned rows `rows` (sorted, holding every row of source's ReadByOthers), in that order, so
  /// Bcast and ReduceAdd take owned matrices with one row per entry of `rows`: for blocks that a
  /// step computes on a few rows only. The ghosts and their order are source's.
  PetscErrorCode CompactRoots(const Halo& source, const std::vector<int64_t>& rows);
  int64_t Ghosts() const { return static_cast<int64_t>(ghost_keys_.size()); }
  /// The owned rows other ranks hold as ghosts since the last set-up, sorted and unique.
  const std::vector<int64_t>& ReadByOthers() const { return read_by_others_; }
  /// Ghost row of a remote item given to SetItems, or of a remote node given to SetNodes.
  int64_t GhostRow(int32_t item) const { return ghost_row_.at(layout_.ItemKey(item)); }
  int64_t GhostRowOfKey(int64_t key) const { return ghost_row_.at(key); }
  /// The row of an item given to SetItems: in `owned` when this rank owns it, else in `ghost`.
  template <class Matrix>
  auto Row(int32_t item, Matrix& owned, Matrix& ghost) const -> decltype(owned.data()) {
    return layout_.OwnsItem(item) ? owned.row(layout_.LocalItemRow(item)).data()
                                  : ghost.row(GhostRow(item)).data();
  }
  /// The row of a node given to SetNodes.
  template <class Matrix>
  auto NodeRow(int64_t key, Matrix& owned, Matrix& ghost) const -> decltype(owned.data()) {
    return layout_.OwnsKey(key) ? owned.row(layout_.LocalRowOfKey(key)).data()
                                : ghost.row(GhostRowOfKey(key)).data();
  }

  /// Collective. ghost(g, :) = owner row of ghost item g (owned: LocalRows × width).
  PetscErrorCode Bcast(const RowMatrix& owned, RowMatrix* ghost);
  /// Collective. owned(owner row, :) += ghost(g, :) for every ghost row g.
  PetscErrorCode ReduceAdd(const RowMatrix& ghost, RowMatrix* owned);

 private:
  PetscErrorCode UnitType(PetscInt width, MPI_Datatype* unit);
  const Layout& layout_;
  std::vector<int64_t> ghost_keys_;
  std::unordered_map<int64_t, int64_t> ghost_row_;
  std::vector<int64_t> read_by_others_;
  PetscSF sf_ = nullptr;
  std::map<PetscInt, MPI_Datatype> units_;  // contiguous row types, one per row width
};

/// Collective. Every item's row of `owned` (this rank's LocalRows × d) on every rank, in dataset
/// id order (NumItems × d); the rank blocks of items are contiguous and ordered, so one
/// MPI_Allgatherv places them.
PetscErrorCode AllgatherItemRows(const Layout& layout, const RowMatrix& owned, RowMatrix* all);

}  // namespace recns
