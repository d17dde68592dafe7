// Contiguous, balanced ownership blocks (ARCHITECTURE decision 1).
#include "recns/layout.hpp"

#include <algorithm>

#include "recns/error.hpp"

namespace recns {

PetscErrorCode Layout::Create(MPI_Comm comm, int64_t num_users, int64_t num_items,
                              const std::vector<int64_t>& train_indptr, Layout* layout) {
  PetscFunctionBeginUser;
  PetscMPIInt rank, size;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  RECNS_CHECK_INPUT(num_users >= size, comm,
                    "%d ranks but only %lld users: run with at most %lld ranks", size,
                    (long long)num_users, (long long)num_users);
  RECNS_CHECK_INPUT(num_items >= size, comm,
                    "%d ranks but only %lld items: run with at most %lld ranks", size,
                    (long long)num_items, (long long)num_items);
  PetscCheck(static_cast<int64_t>(train_indptr.size()) == num_users + 1, comm, PETSC_ERR_ARG_SIZ,
             "train indptr has %zu entries for %lld users", train_indptr.size(),
             (long long)num_users);
  layout->comm_ = comm;
  layout->rank_ = rank;
  layout->size_ = size;
  auto& users = layout->user_begin_;
  auto& items = layout->item_begin_;
  users.assign(size + 1, 0);
  items.assign(size + 1, 0);
  // Users: rank r starts at the first user whose pairs begin at or after r/P of all pairs, kept
  // at least one user per rank so every rank owns someone.
  const int64_t nnz = train_indptr.back();
  users[size] = num_users;
  for (int r = 1; r < size; ++r) {
    const int64_t target = (nnz * r) / size;
    int64_t u = std::lower_bound(train_indptr.begin(), train_indptr.end() - 1, target) -
                train_indptr.begin();
    u = std::max(u, users[r - 1] + 1);
    u = std::min(u, num_users - (size - r));
    users[r] = u;
  }
  for (int r = 0; r <= size; ++r) items[r] = (num_items * r) / size;
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

}  // namespace recns
