// Full ranking: every item is scored for every evaluated user with blocked GEMM.
#include "recns/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "recns/error.hpp"
#include "recns/halo.hpp"
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
  PetscBool set;
  PetscOptionsBegin(comm_, nullptr, "Evaluation options", nullptr);
  PetscCall(PetscOptionsIntArray("-eval_ks", "Cut-offs K of the ranking metrics, comma-separated (default 10,20)",
                                 "Evaluator", ks, &n, &set));
  PetscOptionsEnd();
  if (set) {
    RECNS_CHECK_INPUT(n > 0, comm_, "-eval_ks needs at least one cut-off");
    ks_.assign(ks, ks + n);
    for (int k : ks_) RECNS_CHECK_INPUT(k > 0, comm_, "-eval_ks values must be positive (got %d)", k);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::vector<std::string> Evaluator::MetricNames() const {
  std::vector<std::string> names;
  for (const char* metric : {"recall", "ndcg", "precision", "hr"})
    for (int k : ks_) names.push_back(Format("%s@%d", metric, k));
  return names;
}

PetscErrorCode Evaluator::Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                                   EvalResult* result) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().evaluate, 0, 0, 0, 0));
  const Layout& layout = graph.GetLayout();
  const DatasetSlice& slice = graph.Slice();
  const int d = (int)final.cols();
  const int64_t num_items = layout.NumItems();

  RowMatrix items;
  PetscCall(AllgatherItemRows(layout, final, &items));

  const Csr& truth = split == EvalSplit::kTest ? slice.test : slice.valid;
  PetscCheck(truth.Present(), comm_, PETSC_ERR_ARG_WRONG, "evaluation split is absent");
  const bool exclude_valid = split == EvalSplit::kTest && slice.valid.Present();
  const int max_k = *std::max_element(ks_.begin(), ks_.end());
  MetricSums sums(ks_);
  std::vector<int64_t> users;
  for (int64_t u = 0; u < layout.LocalUsers(); ++u)
    if (truth.indptr[u + 1] > truth.indptr[u]) users.push_back(u);

  constexpr int64_t kUserBlock = 64;
  RowMatrix block_users, scores;
  std::vector<int32_t> top;
  for (size_t start = 0; start < users.size(); start += kUserBlock) {
    const int64_t count = std::min<int64_t>(kUserBlock, (int64_t)users.size() - (int64_t)start);
    block_users.resize(count, d);
    for (int64_t b = 0; b < count; ++b) block_users.row(b) = final.row(users[start + b]);
    scores.noalias() = block_users * items.transpose();
    for (int64_t b = 0; b < count; ++b) {
      const int64_t u = users[start + b];
      const auto& train = slice.train;
      const int32_t* valid = exclude_valid ? slice.valid.indices.data() + slice.valid.indptr[u] : nullptr;
      const int64_t num_valid = exclude_valid ? slice.valid.indptr[u + 1] - slice.valid.indptr[u] : 0;
      TopKExcluding(scores.row(b).data(), (int32_t)num_items, max_k,
                    train.indices.data() + train.indptr[u], train.indptr[u + 1] - train.indptr[u],
                    valid, num_valid, &top);
      sums.AddUser(top, truth.indices.data() + truth.indptr[u], truth.indptr[u + 1] - truth.indptr[u]);
    }
  }

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
