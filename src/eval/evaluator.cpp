// Full ranking: every item is scored for every evaluated user with blocked GEMM, the item rows
// streaming between ranks in bounded chunks.
#include "recns/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "recns/error.hpp"
#include "recns/rng.hpp"
#include "recns/package.hpp"

namespace recns {

double EvalResult::Get(const std::string& name) const {
  for (const auto& metric : metrics)
    if (metric.first == name) return metric.second;
  return std::numeric_limits<double>::quiet_NaN();
}

PetscErrorCode Evaluator::SetFromOptions() {
  PetscFunctionBeginUser;
  // The array holds the defaults so -help shows them; n is its capacity on entry.
  PetscInt ks[32] = {0}, n = 32;
  std::copy(ks_.begin(), ks_.end(), ks);
  PetscInt item_block = (PetscInt)item_block_, user_sample = (PetscInt)user_sample_;
  PetscBool set;
  PetscOptionsBegin(comm_, nullptr, "Evaluation options", nullptr);
  PetscCall(PetscOptionsIntArray("-eval_ks", "Cut-offs K of the ranking metrics, comma-separated (default 10,20)",
                                 "Evaluator", ks, &n, &set));
  PetscCall(PetscOptionsInt("-eval_item_block",
                            "Item rows per chunk streamed between ranks during evaluation (bounds "
                            "the memory for other ranks' items at 2 chunks)",
                            "Evaluator", item_block, &item_block, nullptr));
  PetscCall(PetscOptionsInt("-eval_user_sample",
                            "Evaluate a seeded sample of about N of the users with items in the "
                            "split, the same at any rank count (0 = all users)",
                            "Evaluator", user_sample, &user_sample, nullptr));
  PetscCall(PetscOptionsBool("-eval_per_user",
                             "Write each evaluated user's metrics of the final test evaluation to "
                             "the metrics file (group /test_users), to compare runs user by user",
                             "Evaluator", per_user_, &per_user_, nullptr));
  PetscOptionsEnd();
  if (set) {
    RECNS_CHECK_INPUT(n > 0, comm_, "-eval_ks needs at least one cut-off");
    ks_.assign(ks, ks + n);
    for (int k : ks_) RECNS_CHECK_INPUT(k > 0, comm_, "-eval_ks values must be positive (got %d)", k);
    for (size_t a = 0; a < ks_.size(); ++a)
      for (size_t b = 0; b < a; ++b)
        RECNS_CHECK_INPUT(ks_[a] != ks_[b], comm_, "-eval_ks gives the cut-off %d twice", ks_[a]);
  }
  RECNS_CHECK_INPUT(item_block > 0, comm_, "-eval_item_block must be positive (got %d)", (int)item_block);
  RECNS_CHECK_INPUT(user_sample >= 0, comm_, "-eval_user_sample must be 0 (all users) or positive (got %d)",
                    (int)user_sample);
  item_block_ = item_block;
  user_sample_ = user_sample;
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::vector<std::string> Evaluator::MetricNames() const {
  std::vector<std::string> names;
  for (const char* metric : {"recall", "ndcg", "precision", "hr"})
    for (int k : ks_) names.push_back(Format("%s@%d", metric, k));
  return names;
}

namespace {

/// Id lists of the ranked users, one per user in ranking order.
struct IdLists {
  std::vector<int64_t> starts{0};
  std::vector<int32_t> ids;
  const int32_t* Row(int64_t b) const { return ids.data() + starts[b]; }
  int64_t Size(int64_t b) const { return starts[b + 1] - starts[b]; }
};

/// The users a rank ranks: their dataset ids, final rows, truth ids and the two lists of items
/// their rankings leave out (OfferExcluding takes two sorted lists: the training items, and the
/// other excluded splits' items merged).
struct RankUsers {
  std::vector<int64_t> ids;
  RowMatrix rows;
  IdLists truth, first, second;
};

/// What BalanceUsers sends with each user: its truth (or none), its first excluded list (or
/// none) and the sorted union of the second excluded lists (any number of splits).
struct UserLists {
  const Csr* truth = nullptr;
  const Csr* first = nullptr;
  std::vector<const Csr*> second;
};

/// Collective. Deals the ranked users (`users`: local rows, in order) out so that rank q gets
/// global indices [q T / P, (q+1) T / P) of the T users in dataset order, with their rows of
/// `final` and their lists. Costs O(d + nnz) per moved user, one all-to-all of counts and three
/// of contents.
PetscErrorCode BalanceUsers(const Layout& layout, const RowMatrix& final, const std::vector<int64_t>& users,
                            const UserLists& lists, RankUsers* eval) {
  PetscFunctionBeginUser;
  MPI_Comm comm = layout.Comm();
  const int size = layout.Size();
  const int d = (int)final.cols();
  const int64_t local = (int64_t)users.size();
  int64_t offset = 0, total = 0;
  PetscCallMPI(MPI_Exscan(&local, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (layout.Rank() == 0) offset = 0;
  PetscCallMPI(MPI_Allreduce(&local, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  // Send buffers grouped by destination (destinations only grow along `users`). A user's ids are
  // [#truth, #first, #second, truth..., first..., second...].
  std::vector<int> user_count(size, 0), row_count(size, 0), id_count(size, 0);
  std::vector<double> row_send((size_t)(local * d));
  std::vector<int64_t> user_send((size_t)local);
  std::vector<int32_t> id_send, merged, scratch;
  auto row_of = [](const Csr* csr, int64_t u, const int32_t** begin) -> int64_t {
    if (!csr || !csr->Present()) return 0;
    *begin = csr->indices.data() + csr->indptr[u];
    return csr->indptr[u + 1] - csr->indptr[u];
  };
  for (int64_t b = 0; b < local; ++b) {
    const int64_t u = users[b];
    const int dest = (int)((offset + b) * size / total);
    std::copy(final.row(u).data(), final.row(u).data() + d, row_send.data() + b * d);
    user_send[(size_t)b] = layout.UserBegin() + u;
    const int32_t *truth = nullptr, *first = nullptr, *part = nullptr;
    const int64_t num_truth = row_of(lists.truth, u, &truth), num_first = row_of(lists.first, u, &first);
    merged.clear();
    for (const Csr* csr : lists.second) {
      const int64_t count = row_of(csr, u, &part);
      scratch.clear();
      std::set_union(merged.begin(), merged.end(), part, part + count, std::back_inserter(scratch));
      merged.swap(scratch);
    }
    const size_t before = id_send.size();
    id_send.push_back((int32_t)num_truth);
    id_send.push_back((int32_t)num_first);
    id_send.push_back((int32_t)merged.size());
    id_send.insert(id_send.end(), truth, truth + num_truth);
    id_send.insert(id_send.end(), first, first + num_first);
    id_send.insert(id_send.end(), merged.begin(), merged.end());
    ++user_count[dest];
    row_count[dest] += d;
    id_count[dest] += (int)(id_send.size() - before);
  }
  std::vector<int> user_recv(size), row_recv(size), id_recv(size), user_sdispl(size + 1, 0),
      row_sdispl(size + 1, 0), id_sdispl(size + 1, 0), user_rdispl(size + 1, 0),
      row_rdispl(size + 1, 0), id_rdispl(size + 1, 0);
  PetscCallMPI(MPI_Alltoall(user_count.data(), 1, MPI_INT, user_recv.data(), 1, MPI_INT, comm));
  PetscCallMPI(MPI_Alltoall(id_count.data(), 1, MPI_INT, id_recv.data(), 1, MPI_INT, comm));
  for (int q = 0; q < size; ++q) {
    row_recv[q] = user_recv[q] * d;
    user_sdispl[q + 1] = user_sdispl[q] + user_count[q];
    row_sdispl[q + 1] = row_sdispl[q] + row_count[q];
    id_sdispl[q + 1] = id_sdispl[q] + id_count[q];
    user_rdispl[q + 1] = user_rdispl[q] + user_recv[q];
    row_rdispl[q + 1] = row_rdispl[q] + row_recv[q];
    id_rdispl[q + 1] = id_rdispl[q] + id_recv[q];
  }
  eval->ids.resize((size_t)user_rdispl[size]);
  eval->rows.resize(user_rdispl[size], d);
  std::vector<int32_t> ids((size_t)id_rdispl[size]);
  PetscCallMPI(MPI_Alltoallv(user_send.data(), user_count.data(), user_sdispl.data(), MPI_INT64_T,
                             eval->ids.data(), user_recv.data(), user_rdispl.data(), MPI_INT64_T, comm));
  PetscCallMPI(MPI_Alltoallv(row_send.data(), row_count.data(), row_sdispl.data(), MPI_DOUBLE, eval->rows.data(),
                             row_recv.data(), row_rdispl.data(), MPI_DOUBLE, comm));
  PetscCallMPI(MPI_Alltoallv(id_send.data(), id_count.data(), id_sdispl.data(), MPI_INT32_T, ids.data(),
                             id_recv.data(), id_rdispl.data(), MPI_INT32_T, comm));
  for (size_t p = 0; p < ids.size();) {
    const int32_t counts[3] = {ids[p], ids[p + 1], ids[p + 2]};
    p += 3;
    IdLists* lists_in[3] = {&eval->truth, &eval->first, &eval->second};
    for (int j = 0; j < 3; ++j) {
      lists_in[j]->ids.insert(lists_in[j]->ids.end(), ids.begin() + (int64_t)p, ids.begin() + (int64_t)p + counts[j]);
      lists_in[j]->starts.push_back((int64_t)lists_in[j]->ids.size());
      p += (size_t)counts[j];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. Offers every item of the catalogue to the heap of each user of `eval` (one heap
/// per user, of the capacity the caller chose), but the items of its two excluded lists. Item
/// rows of `final` (the owned rows: local users, then local items) stream around a ring of the
/// ranks in chunks of at most `block` rows; `progress` (may be empty) hears this rank's share of
/// the work done after every tile of items.
PetscErrorCode StreamTopK(const Layout& layout, const RowMatrix& final, const RankUsers& eval, int64_t block,
                          const RankProgressFn& progress, std::vector<TopKHeap>* heaps) {
  PetscFunctionBeginUser;
  MPI_Comm comm = layout.Comm();
  const int d = (int)final.cols();
  const int rank = layout.Rank(), size = layout.Size();
  const int64_t num_users = eval.rows.rows();
  const RowMatrix& user_rows = eval.rows;

  // Scores one chunk of item rows (`rows` × d at `data`, items first_item...) for every ranked
  // user, in tiles of kUserBlock users × kItemTile items. Measured (d = 64, 2048 users × 16384
  // items, GFLOP/s per thread-CPU second, best of 3, on the shared 2-core Xeon; noise ±20%):
  //                      item tile:  256   512  1024  2048  4096 16384
  //   GEMM alone, -O2 (SSE2)  users 64: 10.4   9.8  10.1  10.7  11.1  10.4
  //                              128: 11.5  11.8  11.3  10.3  10.3  10.5
  //                              256: 11.3  10.9   8.1   7.1   8.3   6.5
  //                              512:  7.5  10.7  11.0   7.0   7.0   6.7
  //   GEMM + top-20 heaps, SSE2  64:  9.3  10.1  11.1  10.8   7.5   9.9
  //                              128: 11.3  11.1  11.1  10.8  11.0  10.0
  //                              256: 11.7  11.8  11.5   9.9   9.9   8.2
  //                              512:  9.5   9.8   6.8   6.8   6.5   5.8
  //   GEMM + heaps, -march=native 64: 37.1  39.3  39.5  34.0  30.3  34.0
  //   (AVX-512; GEMM alone ~55-62) 128: 40.6  41.7  39.9  37.3  34.9  31.0
  //                              256: 41.2  41.3  36.7  35.8  35.6  21.7
  //                              512: 42.5  37.7  34.8  35.9  25.5  20.4
  // Tall tiles (many items) lose once the tile of scores outgrows L2; 128 × 512 (a 512 KB tile
  // of scores, re-read by the heaps while still in cache) is at the top for both builds.
  constexpr int64_t kUserBlock = 128, kItemTile = 512;
  RowMatrix scores;
  auto score_chunk = [&](const double* data, int64_t rows, int64_t first_item, auto&& progress_mpi,
                         auto&& report) -> PetscErrorCode {
    PetscFunctionBeginUser;
    for (int64_t i0 = 0; i0 < rows; i0 += kItemTile) {
      const int64_t ni = std::min(kItemTile, rows - i0);
      const Eigen::Map<const RowMatrix> tile(data + i0 * d, ni, d);
      const int32_t tile_first = (int32_t)(first_item + i0);
      for (int64_t u0 = 0; u0 < num_users; u0 += kUserBlock) {
        const int64_t nu = std::min(kUserBlock, num_users - u0);
        scores.resize(nu, ni);
        scores.noalias() = user_rows.middleRows(u0, nu) * tile.transpose();
        for (int64_t b = u0; b < u0 + nu; ++b)
          OfferExcluding(scores.row(b - u0).data(), tile_first, (int32_t)ni, eval.first.Row(b),
                         eval.first.Size(b), eval.second.Row(b), eval.second.Size(b), &(*heaps)[b]);
        progress_mpi();
      }
      PetscCall(report((double)(i0 + ni) / (double)rows));
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  };

  // The ring: in round c every rank's chunk c (its owned item rows [c B, (c+1) B), possibly none)
  // travels P-1 hops to the right; at step t = c P + s a rank scores the chunk of rank (r - s) mod
  // P. The receive of step t+1 and the forwarding of step t are in flight during step t's GEMMs;
  // two buffers alternate, a buffer being received into only after its previous send completed.
  const std::vector<int64_t>& item_starts = layout.ItemStarts();
  int64_t rounds = 0;
  for (int q = 0; q < size; ++q)
    rounds = std::max(rounds, (item_starts[q + 1] - item_starts[q] + block - 1) / block);
  const int64_t steps = rounds * size;
  const int left = (rank + size - 1) % size, right = (rank + 1) % size;
  auto origin = [&](int64_t t) { return (rank - (int)(t % size) + size) % size; };
  auto chunk_rows = [&](int64_t t) {
    const int q = origin(t);
    return std::clamp<int64_t>(item_starts[q + 1] - item_starts[q] - (t / size) * block, 0, block);
  };
  // The work done before step t, in item rows, for the progress report.
  const int64_t num_items = layout.NumItems();
  int64_t rows_done = 0;
  constexpr int kTag = 7031;  // the ring's messages; one tag, since MPI keeps their order
  std::vector<double> buffers[2];
  MPI_Request recv = MPI_REQUEST_NULL, sends[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  auto post_receive = [&](int64_t t) -> PetscErrorCode {
    PetscFunctionBeginUser;
    std::vector<double>& buffer = buffers[t % 2];
    PetscCallMPI(MPI_Wait(&sends[t % 2], MPI_STATUS_IGNORE));
    buffer.resize((size_t)(chunk_rows(t) * d));
    PetscCallMPI(MPI_Irecv(buffer.data(), (PetscMPIInt)buffer.size(), MPI_DOUBLE, left, kTag, comm, &recv));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  // Lets MPI progress the transfers between GEMMs (no progress thread is assumed).
  auto progress_mpi = [&]() {
    int flag;
    if (recv != MPI_REQUEST_NULL) MPI_Test(&recv, &flag, MPI_STATUS_IGNORE);
    for (MPI_Request& send : sends)
      if (send != MPI_REQUEST_NULL) MPI_Test(&send, &flag, MPI_STATUS_IGNORE);
  };
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t s = t % size, rows = chunk_rows(t);
    const double* data;
    if (s == 0) {
      data = rows > 0 ? final.row(layout.LocalUsers() + (t / size) * block).data() : final.data();
    } else {
      PetscCallMPI(MPI_Wait(&recv, MPI_STATUS_IGNORE));
      data = buffers[t % 2].data();
    }
    if (t + 1 < steps && (t + 1) % size != 0) PetscCall(post_receive(t + 1));
    if (s < size - 1)
      PetscCallMPI(MPI_Isend(data, (PetscMPIInt)(rows * d), MPI_DOUBLE, right, kTag, comm, &sends[t % 2]));
    auto report = [&](double share) -> PetscErrorCode {
      if (!progress || num_items == 0) return PETSC_SUCCESS;
      return progress(((double)rows_done + share * (double)rows) / (double)num_items);
    };
    PetscCall(score_chunk(data, rows, item_starts[origin(t)] + (t / size) * block, progress_mpi, report));
    rows_done += rows;
  }
  PetscCallMPI(MPI_Waitall(2, sends, MPI_STATUSES_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

PetscErrorCode Evaluator::Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                                   EvalResult* result) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().evaluate, 0, 0, 0, 0));
  const Layout& layout = graph.GetLayout();
  const DatasetSlice& slice = graph.Slice();
  const int64_t num_items = layout.NumItems();

  const Csr& truth = split == EvalSplit::kTest         ? slice.test
                     : split == EvalSplit::kTestRandom ? slice.test_random
                                                       : slice.valid;
  PetscCheck(truth.Present(), comm_, PETSC_ERR_ARG_WRONG, "evaluation split is absent");
  const bool exclude_valid = split != EvalSplit::kValid && slice.valid.Present();
  const int max_k = *std::max_element(ks_.begin(), ks_.end());

  // The evaluated users (local rows): those with truth items, optionally a seeded sample of them
  // kept by a pure function of (seed, dataset user id), so the set is the same at any rank count.
  std::vector<int64_t> users;
  for (int64_t u = 0; u < layout.LocalUsers(); ++u)
    if (truth.indptr[u + 1] > truth.indptr[u]) users.push_back(u);
  if (user_sample_ > 0) {
    int64_t local = (int64_t)users.size(), candidates = 0;
    PetscCallMPI(MPI_Allreduce(&local, &candidates, 1, MPI_INT64_T, MPI_SUM, comm_));
    if (user_sample_ < candidates) {
      const double keep = (double)user_sample_ / (double)candidates;
      std::vector<int64_t> kept;
      for (int64_t u : users) {
        const RngBlock b = RandomBlock(seed_, RngPurpose::kEvalSample, 0, (uint64_t)(layout.UserBegin() + u), 0);
        if (UniformFromWords(b.v[0], b.v[1]) < keep) kept.push_back(u);
      }
      users.swap(kept);
    }
  }

  // Users are owned in blocks balanced by training pairs, not by count, so the evaluated users are
  // dealt out again in their global order, rank q taking global indices [q T / P, (q+1) T / P):
  // each moves with its row and its truth, train and (for a test split) valid ids.
  RankUsers eval;
  UserLists lists;
  lists.truth = &truth;
  lists.first = &slice.train;
  if (exclude_valid) lists.second.push_back(&slice.valid);
  PetscCall(BalanceUsers(layout, final, users, lists, &eval));
  const int64_t num_users = eval.rows.rows();
  std::vector<TopKHeap> heaps((size_t)num_users, TopKHeap((int)std::min<int64_t>(max_k, num_items)));
  PetscCall(StreamTopK(layout, final, eval, item_block_, nullptr, &heaps));

  MetricSums sums(ks_);
  const bool per_user = per_user_ && split == EvalSplit::kTest;
  const size_t nk = ks_.size();
  std::vector<double> user_values;
  std::vector<int32_t> user_truth;
  for (int64_t b = 0; b < num_users; ++b) {
    const std::vector<int32_t> top = heaps[b].Sorted();
    sums.AddUser(top, eval.truth.Row(b), eval.truth.Size(b));
    if (!per_user) continue;
    MetricSums one(ks_);
    one.AddUser(top, eval.truth.Row(b), eval.truth.Size(b));
    for (const std::vector<double>* values : {&one.recall, &one.ndcg, &one.precision, &one.hit})
      user_values.insert(user_values.end(), values->begin(), values->end());
    user_truth.push_back((int32_t)eval.truth.Size(b));
  }
  if (per_user) PetscCall(GatherPerUser(eval.ids, user_truth, user_values, 4 * nk, &result->per_user));
  else result->per_user = PerUserMetrics();

  // One reduction of all sums: [users, recall..., ndcg..., precision..., hit...].
  std::vector<double> local(1 + 4 * nk), global(1 + 4 * nk);
  local[0] = (double)sums.users;
  for (size_t k = 0; k < nk; ++k) {
    local[1 + k] = sums.recall[k];
    local[1 + nk + k] = sums.ndcg[k];
    local[1 + 2 * nk + k] = sums.precision[k];
    local[1 + 3 * nk + k] = sums.hit[k];
  }
  PetscCallMPI(MPI_Allreduce(local.data(), global.data(), (PetscMPIInt)local.size(), MPI_DOUBLE,
                             MPI_SUM, comm_));
  result->users = (int64_t)global[0];
  result->metrics.clear();
  const std::vector<std::string> names = MetricNames();
  for (size_t m = 0; m < names.size(); ++m)
    result->metrics.emplace_back(names[m], global[0] > 0 ? global[1 + m] / global[0] : 0.0);
  PetscCall(PetscLogEventEnd(Events().evaluate, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Evaluator::GatherPerUser(const std::vector<int64_t>& ids, const std::vector<int32_t>& truth,
                                        const std::vector<double>& values, size_t width,
                                        PerUserMetrics* per_user) const {
  PetscMPIInt rank, size;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm_, &rank));
  PetscCallMPI(MPI_Comm_size(comm_, &size));
  // Users are dealt out in dataset order, so rank order is id order.
  const int count = (int)ids.size();
  std::vector<int> counts(rank == 0 ? size : 0), displs(rank == 0 ? size + 1 : 0, 0),
      value_counts(rank == 0 ? size : 0), value_displs(rank == 0 ? size + 1 : 0, 0);
  PetscCallMPI(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_));
  *per_user = PerUserMetrics();
  if (rank == 0) {
    for (int q = 0; q < size; ++q) {
      displs[q + 1] = displs[q] + counts[q];
      value_counts[q] = counts[q] * (int)width;
      value_displs[q + 1] = value_displs[q] + value_counts[q];
    }
    per_user->users.resize((size_t)displs[size]);
    per_user->truth.resize((size_t)displs[size]);
    per_user->values.resize((size_t)value_displs[size]);
  }
  PetscCallMPI(MPI_Gatherv(ids.data(), count, MPI_INT64_T, per_user->users.data(), counts.data(), displs.data(),
                           MPI_INT64_T, 0, comm_));
  PetscCallMPI(MPI_Gatherv(truth.data(), count, MPI_INT32_T, per_user->truth.data(), counts.data(),
                           displs.data(), MPI_INT32_T, 0, comm_));
  PetscCallMPI(MPI_Gatherv(values.data(), count * (int)width, MPI_DOUBLE, per_user->values.data(),
                           value_counts.data(), value_displs.data(), MPI_DOUBLE, 0, comm_));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Evaluator::Rank(const Graph& graph, const RowMatrix& final, const std::vector<int64_t>& users,
                               const Exclusion& exclude, int k, const RankProgressFn& progress,
                               RankedLists* lists) {
  PetscFunctionBeginUser;
  const Layout& layout = graph.GetLayout();
  const DatasetSlice& slice = graph.Slice();
  PetscCheck(k >= 0, comm_, PETSC_ERR_ARG_OUTOFRANGE, "list length %d is negative", k);
  for (size_t b = 0; b < users.size(); ++b)
    PetscCheck(users[b] >= 0 && users[b] < layout.LocalUsers() && (b == 0 || users[b - 1] < users[b]),
               PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "users must be ascending local user rows");
  UserLists sent;
  if (exclude.train) sent.first = &slice.train;
  if (exclude.valid && slice.valid.Present()) sent.second.push_back(&slice.valid);
  if (exclude.test) sent.second.push_back(&slice.test);
  if (exclude.test_random && slice.test_random.Present()) sent.second.push_back(&slice.test_random);
  RankUsers ranked;
  PetscCall(BalanceUsers(layout, final, users, sent, &ranked));
  const int64_t num_users = ranked.rows.rows();
  const int capacity = (int)std::min<int64_t>(k, layout.NumItems());
  std::vector<TopKHeap> heaps((size_t)num_users, TopKHeap(capacity));
  PetscCall(StreamTopK(layout, final, ranked, item_block_, progress, &heaps));

  lists->k = k;
  lists->users = ranked.ids;
  lists->length.assign((size_t)num_users, 0);
  lists->items.assign((size_t)(num_users * k), -1);
  lists->scores.assign((size_t)(num_users * k), std::numeric_limits<double>::quiet_NaN());
  std::vector<int32_t> items;
  std::vector<double> scores;
  for (int64_t b = 0; b < num_users; ++b) {
    heaps[b].Sorted(&items, &scores);
    lists->length[b] = (int32_t)items.size();
    std::copy(items.begin(), items.end(), lists->items.begin() + b * k);
    std::copy(scores.begin(), scores.end(), lists->scores.begin() + b * k);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
