// Contiguous, balanced ownership blocks (ARCHITECTURE decision 1).
#include "recns/layout.hpp"

#include <algorithm>

#include "recns/error.hpp"

namespace recns {

PetscErrorCode Layout::CheckRanks(MPI_Comm comm, int64_t num_users, int64_t num_items) {
  PetscFunctionBeginUser;
  PetscMPIInt size;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  RECNS_CHECK_INPUT(num_users >= size, comm,
                    "%d ranks but only %lld users: run with at most %lld ranks", size,
                    (long long)num_users, (long long)num_users);
  RECNS_CHECK_INPUT(num_items >= size, comm,
                    "%d ranks but only %lld items: run with at most %lld ranks", size,
                    (long long)num_items, (long long)num_items);
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::vector<int64_t> Layout::SplitByPairs(const std::vector<int64_t>& pairs_before, int size) {
  // Block r starts at the first id whose pairs begin at or after r/P of all pairs, kept at least
  // one id per block so every rank owns some.
  const int64_t count = (int64_t)pairs_before.size() - 1, total = pairs_before.back();
  std::vector<int64_t> begin(size + 1, 0);
  begin[size] = count;
  for (int r = 1; r < size; ++r) {
    const int64_t target = (total * r) / size;
    int64_t id = std::lower_bound(pairs_before.begin(), pairs_before.end() - 1, target) - pairs_before.begin();
    id = std::max(id, begin[r - 1] + 1);
    id = std::min(id, count - (size - r));
    begin[r] = id;
  }
  return begin;
}

PetscErrorCode Layout::Create(MPI_Comm comm, int64_t num_users, int64_t num_items,
                              const std::vector<int64_t>& train_indptr,
                              const std::vector<int64_t>& item_degree, Layout* layout) {
  PetscFunctionBeginUser;
  PetscMPIInt rank, size;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(CheckRanks(comm, num_users, num_items));
  PetscCheck(static_cast<int64_t>(train_indptr.size()) == num_users + 1, comm, PETSC_ERR_ARG_SIZ,
             "train indptr has %zu entries for %lld users", train_indptr.size(),
             (long long)num_users);
  PetscCheck(static_cast<int64_t>(item_degree.size()) == num_items, comm, PETSC_ERR_ARG_SIZ,
             "%zu item degrees for %lld items", item_degree.size(), (long long)num_items);
  layout->comm_ = comm;
  layout->rank_ = rank;
  layout->size_ = size;
  layout->user_begin_ = SplitByPairs(train_indptr, size);
  std::vector<int64_t> item_pairs_before(num_items + 1, 0);
  for (int64_t i = 0; i < num_items; ++i) item_pairs_before[i + 1] = item_pairs_before[i] + item_degree[i];
  layout->item_begin_ = SplitByPairs(item_pairs_before, size);
  const auto& users = layout->user_begin_;
  const auto& items = layout->item_begin_;
  layout->node_begin_.assign(size + 1, 0);
  for (int r = 0; r < size; ++r)
    layout->node_begin_[r + 1] =
        layout->node_begin_[r] + (users[r + 1] - users[r]) + (items[r + 1] - items[r]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int Layout::ItemOwner(int64_t item) const {
  return static_cast<int>(std::upper_bound(item_begin_.begin(), item_begin_.end(), item) -
                          item_begin_.begin()) -
         1;
}

int64_t Layout::ItemNode(int64_t item) const {
  const int r = ItemOwner(item);
  return node_begin_[r] + (user_begin_[r + 1] - user_begin_[r]) + (item - item_begin_[r]);
}

int Layout::KeyOwner(int64_t key) const {
  if (key < NumUsers())
    return static_cast<int>(std::upper_bound(user_begin_.begin(), user_begin_.end(), key) -
                            user_begin_.begin()) -
           1;
  return ItemOwner(key - NumUsers());
}

int64_t Layout::KeyRowAtOwner(int64_t key, int owner) const {
  return key < NumUsers() ? key - user_begin_[owner] : ItemRowAtOwner(key - NumUsers(), owner);
}

int64_t Layout::KeyOfNode(int64_t node) const {
  const int r = static_cast<int>(std::upper_bound(node_begin_.begin(), node_begin_.end(), node) -
                                 node_begin_.begin()) -
                1;
  const int64_t offset = node - node_begin_[r], users = user_begin_[r + 1] - user_begin_[r];
  return offset < users ? user_begin_[r] + offset : ItemKey(item_begin_[r] + (offset - users));
}

}  // namespace recns
