// Ownership of users and items by ranks (ARCHITECTURE decision 1).
//
// Users and items are each split into P contiguous blocks of dataset ids, both balanced by
// training interactions: every rank trains about as many pairs and holds about as many of the
// adjacency's nonzeros (a split of items by count gathers the popular items of a
// locality-ordered file on a few ranks). Global node numbering is rank-major, [users of rank 0,
// items of rank 0, users of rank 1, ...], so the PETSc row block of rank r holds exactly its
// users then its items. The maps between dataset ids and node ids live here only.
#pragma once

#include <petscsys.h>


#include <cstdint>
#include <vector>

#include "recns/error.hpp"

namespace recns {

class Layout {
 public:
  /// Collective on comm. Partitions `num_users` users and `num_items` items over the ranks of
  /// comm, balanced by the training pairs: the train CSR `train_indptr` of all users and every
  /// item's training degree. More ranks than users or than items is an input error.
  static PetscErrorCode Create(MPI_Comm comm, int64_t num_users, int64_t num_items,
                               const std::vector<int64_t>& train_indptr,
                               const std::vector<int64_t>& item_degree, Layout* layout);
  /// Collective on comm. The input error of more ranks than users or than items.
  static PetscErrorCode CheckRanks(MPI_Comm comm, int64_t num_users, int64_t num_items);
  /// The block starts (size P+1) of ids whose pairs before each id are `pairs_before` (a CSR
  /// row-start array, at least P ids): every block about as many pairs, and at least one id.
  /// Create's user blocks, known before any item degree.
  static std::vector<int64_t> SplitByPairs(const std::vector<int64_t>& pairs_before, int size);

  MPI_Comm Comm() const { return comm_; }
  int Rank() const { return rank_; }
  int Size() const { return size_; }
  int64_t NumUsers() const { return user_begin_.back(); }
  int64_t NumItems() const { return item_begin_.back(); }
  int64_t NumNodes() const { return node_begin_.back(); }

  /// This rank's users [UserBegin, UserEnd) and items [ItemBegin, ItemEnd) in dataset ids.
  int64_t UserBegin() const { return user_begin_[rank_]; }
  int64_t UserEnd() const { return user_begin_[rank_ + 1]; }
  int64_t ItemBegin() const { return item_begin_[rank_]; }
  int64_t ItemEnd() const { return item_begin_[rank_ + 1]; }
  int64_t LocalUsers() const { return UserEnd() - UserBegin(); }
  int64_t LocalItems() const { return ItemEnd() - ItemBegin(); }
  /// Owned rows: local users first, then local items.
  int64_t LocalRows() const { return LocalUsers() + LocalItems(); }
  int64_t NodeBegin() const { return node_begin_[rank_]; }

  /// Owner rank of dataset item `item`, and its row among the owner's rows.
  int ItemOwner(int64_t item) const;
  int64_t ItemRowAtOwner(int64_t item, int owner) const {
    return (user_begin_[owner + 1] - user_begin_[owner]) + (item - item_begin_[owner]);
  }
  /// Global node id of an item (dataset id).
  int64_t ItemNode(int64_t item) const;
  /// Local row of an owned item (dataset id).
  int64_t LocalItemRow(int64_t item) const { return LocalUsers() + (item - ItemBegin()); }
  bool OwnsItem(int64_t item) const { return item >= ItemBegin() && item < ItemEnd(); }

  /// Per-rank block starts of the items (size P+1).
  const std::vector<int64_t>& ItemStarts() const { return item_begin_; }

  /// Node keys name users and items alike whatever the rank count: user u is u, item i is
  /// NumUsers() + i (global node ids, rank-major, change with it). The key of item `item`:
  int64_t ItemKey(int64_t item) const { return NumUsers() + item; }
  /// Owner rank of the node with key `key`, and its row among the owner's rows.
  int KeyOwner(int64_t key) const;
  int64_t KeyRowAtOwner(int64_t key, int owner) const;
  bool OwnsKey(int64_t key) const {
    return key < NumUsers() ? key >= UserBegin() && key < UserEnd() : OwnsItem(key - NumUsers());
  }
  /// Local row of an owned node's key, and the way back.
  int64_t LocalRowOfKey(int64_t key) const {
    return key < NumUsers() ? key - UserBegin() : LocalItemRow(key - NumUsers());
  }
  int64_t KeyOfLocalRow(int64_t row) const {
    return row < LocalUsers() ? UserBegin() + row : ItemKey(ItemBegin() + (row - LocalUsers()));
  }
  /// The key of a global node id.
  int64_t KeyOfNode(int64_t node) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::vector<int64_t> user_begin_, item_begin_, node_begin_;
};

}  // namespace recns
