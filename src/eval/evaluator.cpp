// Full ranking: every item is scored for every evaluated user with blocked GEMM, the item rows
// streaming between ranks in bounded chunks.
#include "recns/evaluator.hpp"

#include <algorithm>
#include <cmath>
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

/// Id lists of the evaluated users, one per user in evaluation order.
struct IdLists {
  std::vector<int64_t> starts{0};
  std::vector<int32_t> ids;
  const int32_t* Row(int64_t b) const { return ids.data() + starts[b]; }
  int64_t Size(int64_t b) const { return starts[b + 1] - starts[b]; }
};

/// The users a rank evaluates: their final rows and id lists.
struct EvalUsers {
  RowMatrix rows;
  IdLists truth, train, valid;  // valid: empty lists unless excluded
};

/// Collective. Deals the evaluated users (`users`: local rows, in order) out so that rank q gets
/// global indices [q T / P, (q+1) T / P) of the T evaluated users in dataset order, with their
/// rows of `final` and their `truth`, `train` and (when non-null) `valid` ids. Costs O(d + nnz)
/// per moved user, one all-to-all of counts and two of contents.
PetscErrorCode BalanceUsers(const Layout& layout, const RowMatrix& final, const std::vector<int64_t>& users,
                            const Csr& truth, const Csr& train, const Csr* valid, EvalUsers* eval) {
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
  // [#truth, #train, #valid, truth..., train..., valid...].
  std::vector<int> row_count(size, 0), id_count(size, 0);
  std::vector<double> row_send((size_t)(local * d));
  std::vector<int32_t> id_send;
  auto append = [&](const Csr& csr, int64_t u) {
    id_send.insert(id_send.end(), csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1]);
  };
  for (int64_t b = 0; b < local; ++b) {
    const int64_t u = users[b];
    const int dest = (int)((offset + b) * size / total);
    std::copy(final.row(u).data(), final.row(u).data() + d, row_send.data() + b * d);
    const size_t before = id_send.size();
    id_send.push_back((int32_t)(truth.indptr[u + 1] - truth.indptr[u]));
    id_send.push_back((int32_t)(train.indptr[u + 1] - train.indptr[u]));
    id_send.push_back(valid ? (int32_t)(valid->indptr[u + 1] - valid->indptr[u]) : 0);
    append(truth, u);
    append(train, u);
    if (valid) append(*valid, u);
    row_count[dest] += d;
    id_count[dest] += (int)(id_send.size() - before);
  }
  std::vector<int> row_recv(size), id_recv(size), row_sdispl(size + 1, 0), id_sdispl(size + 1, 0),
      row_rdispl(size + 1, 0), id_rdispl(size + 1, 0);
  PetscCallMPI(MPI_Alltoall(row_count.data(), 1, MPI_INT, row_recv.data(), 1, MPI_INT, comm));
  PetscCallMPI(MPI_Alltoall(id_count.data(), 1, MPI_INT, id_recv.data(), 1, MPI_INT, comm));
  for (int q = 0; q < size; ++q) {
    row_sdispl[q + 1] = row_sdispl[q] + row_count[q];
    id_sdispl[q + 1] = id_sdispl[q] + id_count[q];
    row_rdispl[q + 1] = row_rdispl[q] + row_recv[q];
    id_rdispl[q + 1] = id_rdispl[q] + id_recv[q];
  }
  eval->rows.resize(row_rdispl[size] / d, d);
  std::vector<int32_t> ids((size_t)id_rdispl[size]);
  PetscCallMPI(MPI_Alltoallv(row_send.data(), row_count.data(), row_sdispl.data(), MPI_DOUBLE, eval->rows.data(),
                             row_recv.data(), row_rdispl.data(), MPI_DOUBLE, comm));
  PetscCallMPI(MPI_Alltoallv(id_send.data(), id_count.data(), id_sdispl.data(), MPI_INT32_T, ids.data(),
                             id_recv.data(), id_rdispl.data(), MPI_INT32_T, comm));
  for (size_t p = 0; p < ids.size();) {
    const int32_t counts[3] = {ids[p], ids[p + 1], ids[p + 2]};
    p += 3;
    IdLists* lists[3] = {&eval->truth, &eval->train, &eval->valid};
    for (int j = 0; j < 3; ++j) {
      lists[j]->ids.insert(lists[j]->ids.end(), ids.begin() + (int64_t)p, ids.begin() + (int64_t)p + counts[j]);
      lists[j]->starts.push_back((int64_t)lists[j]->ids.size());
      p += (size_t)counts[j];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

PetscErrorCode Evaluator::Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                                   EvalResult* result) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().evaluate, 0, 0, 0, 0));
  const Layout& layout = graph.GetLayout();
  const DatasetSlice& slice = graph.Slice();
  const int d = (int)final.cols();
  const int64_t num_items = layout.NumItems();
  const int rank = layout.Rank(), size = layout.Size();

  const Csr& truth = split == EvalSplit::kTest ? slice.test : slice.valid;
  PetscCheck(truth.Present(), comm_, PETSC_ERR_ARG_WRONG, "evaluation split is absent");
  const bool exclude_valid = split == EvalSplit::kTest && slice.valid.Present();
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
  // each moves with its row and its truth, train and (for the test split) valid ids.
  EvalUsers eval;
  PetscCall(BalanceUsers(layout, final, users, truth, slice.train, exclude_valid ? &slice.valid : nullptr, &eval));
  const int64_t num_users = eval.rows.rows();
  const RowMatrix& user_rows = eval.rows;
  std::vector<TopKHeap> heaps((size_t)num_users, TopKHeap((int)std::min<int64_t>(max_k, num_items)));

  // Scores one chunk of item rows (`rows` × d at `data`, items first_item...) for every evaluated
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
  auto score_chunk = [&](const double* data, int64_t rows, int64_t first_item, auto&& progress) {
    for (int64_t i0 = 0; i0 < rows; i0 += kItemTile) {
      const int64_t ni = std::min(kItemTile, rows - i0);
      const Eigen::Map<const RowMatrix> tile(data + i0 * d, ni, d);
      const int32_t tile_first = (int32_t)(first_item + i0);
      for (int64_t u0 = 0; u0 < num_users; u0 += kUserBlock) {
        const int64_t nu = std::min(kUserBlock, num_users - u0);
        scores.resize(nu, ni);
        scores.noalias() = user_rows.middleRows(u0, nu) * tile.transpose();
        for (int64_t b = u0; b < u0 + nu; ++b)
          OfferExcluding(scores.row(b - u0).data(), tile_first, (int32_t)ni, eval.train.Row(b),
                         eval.train.Size(b), eval.valid.Row(b), eval.valid.Size(b), &heaps[b]);
        progress();
      }
    }
  };

  // The ring: in round c every rank's chunk c (its owned item rows [c B, (c+1) B), possibly none)
  // travels P-1 hops to the right; at step t = c P + s a rank scores the chunk of rank (r - s) mod
  // P. The receive of step t+1 and the forwarding of step t are in flight during step t's GEMMs;
  // two buffers alternate, a buffer being received into only after its previous send completed.
  const std::vector<int64_t>& item_starts = layout.ItemStarts();
  const int64_t block = item_block_;
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
  constexpr int kTag = 7031;  // the ring's messages; one tag, since MPI keeps their order
  std::vector<double> buffers[2];
  MPI_Request recv = MPI_REQUEST_NULL, sends[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  auto post_receive = [&](int64_t t) -> PetscErrorCode {
    PetscFunctionBeginUser;
    std::vector<double>& buffer = buffers[t % 2];
    PetscCallMPI(MPI_Wait(&sends[t % 2], MPI_STATUS_IGNORE));
    buffer.resize((size_t)(chunk_rows(t) * d));
    PetscCallMPI(MPI_Irecv(buffer.data(), (PetscMPIInt)buffer.size(), MPI_DOUBLE, left, kTag, comm_, &recv));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  // Lets MPI progress the transfers between GEMMs (no progress thread is assumed).
  auto progress = [&]() {
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
      PetscCallMPI(MPI_Isend(data, (PetscMPIInt)(rows * d), MPI_DOUBLE, right, kTag, comm_, &sends[t % 2]));
    score_chunk(data, rows, item_starts[origin(t)] + (t / size) * block, progress);
  }
  PetscCallMPI(MPI_Waitall(2, sends, MPI_STATUSES_IGNORE));

  MetricSums sums(ks_);
  for (int64_t b = 0; b < num_users; ++b) sums.AddUser(heaps[b].Sorted(), eval.truth.Row(b), eval.truth.Size(b));

  // One reduction of all sums: [users, recall..., ndcg..., precision..., hit...].
  const size_t nk = ks_.size();
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

}  // namespace recns
