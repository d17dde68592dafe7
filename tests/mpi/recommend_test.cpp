// Evaluator::Rank, the ranking recns_recommend writes, against a serial full sort: every item
// scored by plain loops, the items left after the exclusions sorted by (higher score, smaller
// id). Embeddings take values in {-1, 0, 1}, so scores are exact small integers with many ties.
// Checked at any rank count and item chunk size, in every exclusion mode, for K beyond the
// items a user has left, for all users and a subset; and the lists give the evaluator's metrics,
// mean and per user, to the last bit.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/evaluator.hpp"
#include "recns/rng.hpp"

namespace {

using recns::Dataset;
using recns::EvalResult;
using recns::EvalSplit;
using recns::Exclusion;
using recns::RankedLists;
using recns::RowMatrix;

constexpr int kDim = 4;
constexpr uint64_t kSeed = 11;

Dataset RankDataset() { return recns::test::TinyDatasetWithGaps(41, 29, 23); }

double Entry(int64_t node, int c) { return recns::test::TernaryEntry(kSeed, node, c); }

bool Contains(const recns::Csr& csr, int64_t u, int32_t item) {
  return std::binary_search(csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1], item);
}

/// The reference list of user u: (score, item) best first, at most k.
std::vector<std::pair<double, int32_t>> ReferenceList(const Dataset& data, int64_t u, const Exclusion& exclude, int k) {
  std::vector<std::pair<double, int32_t>> ranked;
  for (int32_t i = 0; i < (int32_t)data.num_items; ++i) {
    if ((exclude.train && Contains(data.train, u, i)) || (exclude.valid && Contains(data.valid, u, i)) ||
        (exclude.test && Contains(data.test, u, i)))
      continue;
    double score = 0;
    for (int c = 0; c < kDim; ++c) score += Entry(u, c) * Entry(data.num_users + i, c);
    ranked.emplace_back(score, i);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
    return x.first > y.first || (x.first == y.first && x.second < y.second);
  });
  if ((int)ranked.size() > k) ranked.resize((size_t)k);
  return ranked;
}

struct Fixture {
  Dataset data = RankDataset();
  recns::Graph graph;
  RowMatrix final;
  PetscErrorCode SetUp() {
    PetscFunctionBeginUser;
    PetscCall(graph.Build(PETSC_COMM_WORLD, data));
    const recns::Layout& layout = graph.GetLayout();
    final.resize(layout.LocalRows(), kDim);
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      const int64_t node = recns::test::DatasetNode(layout, r);
      for (int c = 0; c < kDim; ++c) final(r, c) = Entry(node, c);
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /// Rank's lists of the local users `keep` accepts (by dataset id).
  PetscErrorCode Rank(const std::string& options, bool (*keep)(int64_t), const Exclusion& exclude, int k,
                      RankedLists* lists) {
    auto run = [&]() -> PetscErrorCode {
      PetscFunctionBeginUser;
      recns::Evaluator evaluator(PETSC_COMM_WORLD);
      PetscCall(evaluator.SetFromOptions());
      const recns::Layout& layout = graph.GetLayout();
      std::vector<int64_t> users;
      for (int64_t u = 0; u < layout.LocalUsers(); ++u)
        if (keep(layout.UserBegin() + u)) users.push_back(u);
      PetscCall(evaluator.Rank(graph, final, users, exclude, k, nullptr, lists));
      PetscFunctionReturn(PETSC_SUCCESS);
    };
    return recns::test::WithOptions(options, run);
  }
};

bool AllUsers(int64_t) { return true; }
bool OddUsers(int64_t u) { return u % 2 == 1; }

/// Checks this rank's lists against the reference, and that the ranks together hold each kept
/// user once, in dataset order.
void CheckLists(const Dataset& data, const RankedLists& lists, bool (*keep)(int64_t), const Exclusion& exclude,
                int k, const std::string& what) {
  ASSERT_EQ(lists.k, k) << what;
  const size_t n = lists.users.size();
  ASSERT_EQ(lists.length.size(), n);
  ASSERT_EQ(lists.items.size(), n * (size_t)k);
  ASSERT_EQ(lists.scores.size(), n * (size_t)k);
  for (size_t b = 0; b < n; ++b) {
    const int64_t u = lists.users[b];
    ASSERT_TRUE(keep(u)) << what << ": user " << u;
    if (b > 0) ASSERT_LT(lists.users[b - 1], u) << what;
    const auto expected = ReferenceList(data, u, exclude, k);
    ASSERT_EQ(lists.length[b], (int)expected.size()) << what << ": user " << u;
    for (int r = 0; r < k; ++r) {
      const size_t at = b * (size_t)k + (size_t)r;
      if (r < (int)expected.size()) {
        EXPECT_EQ(lists.items[at], expected[(size_t)r].second) << what << ": user " << u << " rank " << r;
        EXPECT_EQ(lists.scores[at], expected[(size_t)r].first) << what << ": user " << u << " rank " << r;
      } else {
        EXPECT_EQ(lists.items[at], -1) << what;
        EXPECT_TRUE(std::isnan(lists.scores[at])) << what;
      }
    }
  }
  // Ranks hold consecutive blocks: the last id of rank r - 1 is below the first of rank r.
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  const int64_t first = n > 0 ? lists.users.front() : INT64_MAX, last = n > 0 ? lists.users.back() : -1;
  std::vector<int64_t> firsts((size_t)size), lasts((size_t)size);
  MPI_Allgather(&first, 1, MPI_INT64_T, firsts.data(), 1, MPI_INT64_T, PETSC_COMM_WORLD);
  MPI_Allgather(&last, 1, MPI_INT64_T, lasts.data(), 1, MPI_INT64_T, PETSC_COMM_WORLD);
  int64_t previous = -1;
  for (int q = 0; q < size; ++q) {
    if (lasts[(size_t)q] < 0) continue;
    EXPECT_GT(firsts[(size_t)q], previous) << what;
    previous = lasts[(size_t)q];
  }
  int64_t local = (int64_t)n, total = 0, kept = 0;
  MPI_Allreduce(&local, &total, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
  for (int64_t u = 0; u < data.num_users; ++u) kept += keep(u);
  EXPECT_EQ(total, kept) << what;
}

TEST(recommend_test, ListsEqualReferenceInEveryExclusionMode) {
  Fixture f;
  ASSERT_PETSC_OK(f.SetUp());
  const std::pair<const char*, Exclusion> modes[] = {{"none", {false, false, false}},
                                                     {"train", {true, false, false}},
                                                     {"train_valid", {true, true, false}},
                                                     {"all", {true, true, true}}};
  // K = 27 of 29 items is beyond what users with 3 or more excluded items have left.
  for (const auto& [name, exclude] : modes)
    for (int k : {1, 5, 27})
      for (const char* block : {"1", "7", "100"})
        for (bool (*keep)(int64_t) : {AllUsers, OddUsers}) {
          RankedLists lists;
          ASSERT_PETSC_OK(f.Rank(std::string("-eval_item_block ") + block, keep, exclude, k, &lists));
          CheckLists(f.data, lists, keep, exclude, k,
                     recns::Format("exclude %s, k %d, block %s, %s users", name, k, block, keep == AllUsers ? "all" : "odd"));
        }
}

TEST(recommend_test, ShortListsWhenKExceedsTheUnseenItems) {
  Fixture f;
  ASSERT_PETSC_OK(f.SetUp());
  RankedLists lists;
  const Exclusion all{true, true, true};
  ASSERT_PETSC_OK(f.Rank("-eval_item_block 4", AllUsers, all, 29, &lists));
  CheckLists(f.data, lists, AllUsers, all, 29, "k = catalogue");
  for (size_t b = 0; b < lists.users.size(); ++b) EXPECT_LT(lists.length[b], 29);
}

bool HasTestItems(int64_t u) { return u % 7 != 0; }

/// The evaluator's metrics come out of Rank's lists for the same users and exclusions: the
/// test split's users, training and validation items excluded, K the largest cut-off.
TEST(recommend_test, ListsGiveTheEvaluatorsMetricsPerUser) {
  Fixture f;
  ASSERT_PETSC_OK(f.SetUp());
  const std::vector<int> ks = {1, 3, 10};
  RankedLists lists;
  ASSERT_PETSC_OK(f.Rank("-eval_item_block 6", HasTestItems, Exclusion{true, true, false}, 10, &lists));
  EvalResult result;
  auto run = [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Evaluator evaluator(PETSC_COMM_WORLD);
    PetscCall(evaluator.SetFromOptions());
    PetscCall(evaluator.Evaluate(f.graph, f.final, EvalSplit::kTest, &result));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  ASSERT_PETSC_OK(recns::test::WithOptions("-eval_ks 1,3,10 -eval_item_block 6 -eval_per_user", run));
  // Metrics of the lists, per user and summed per rank as the evaluator sums them.
  recns::MetricSums sums(ks);
  std::vector<int64_t> ids;
  std::vector<double> values;
  for (size_t b = 0; b < lists.users.size(); ++b) {
    const int64_t u = lists.users[b];
    const std::vector<int32_t> top(lists.items.begin() + (int64_t)b * 10,
                                   lists.items.begin() + (int64_t)b * 10 + lists.length[b]);
    const int32_t* truth = f.data.test.indices.data() + f.data.test.indptr[u];
    const int64_t count = f.data.test.indptr[u + 1] - f.data.test.indptr[u];
    sums.AddUser(top, truth, count);
    recns::MetricSums one(ks);
    one.AddUser(top, truth, count);
    ids.push_back(u);
    for (const auto* metric : {&one.recall, &one.ndcg, &one.precision, &one.hit})
      values.insert(values.end(), metric->begin(), metric->end());
  }
  std::vector<double> local = {(double)sums.users}, global(1 + 4 * ks.size());
  for (const auto* metric : {&sums.recall, &sums.ndcg, &sums.precision, &sums.hit})
    local.insert(local.end(), metric->begin(), metric->end());
  MPI_Allreduce(local.data(), global.data(), (int)local.size(), MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
  ASSERT_EQ(result.users, (int64_t)global[0]);
  ASSERT_EQ(result.metrics.size(), 4 * ks.size());
  for (size_t m = 0; m < result.metrics.size(); ++m)
    EXPECT_EQ(result.metrics[m].second, global[1 + m] / global[0]) << result.metrics[m].first;
  // Per user: rank 0 holds every evaluated user's row, in id order.
  int rank, size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  int count = (int)ids.size();
  std::vector<int> counts((size_t)size), displs((size_t)size + 1, 0), value_counts((size_t)size),
      value_displs((size_t)size + 1, 0);
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, PETSC_COMM_WORLD);
  for (int q = 0; q < size; ++q) {
    displs[(size_t)q + 1] = displs[(size_t)q] + counts[(size_t)q];
    value_counts[(size_t)q] = counts[(size_t)q] * 12;
    value_displs[(size_t)q + 1] = value_displs[(size_t)q] + value_counts[(size_t)q];
  }
  std::vector<int64_t> all_ids((size_t)displs[(size_t)size]);
  std::vector<double> all_values((size_t)value_displs[(size_t)size]);
  MPI_Allgatherv(ids.data(), count, MPI_INT64_T, all_ids.data(), counts.data(), displs.data(), MPI_INT64_T,
                 PETSC_COMM_WORLD);
  MPI_Allgatherv(values.data(), count * 12, MPI_DOUBLE, all_values.data(), value_counts.data(),
                 value_displs.data(), MPI_DOUBLE, PETSC_COMM_WORLD);
  if (rank == 0) {
    EXPECT_EQ(result.per_user.users, all_ids);
    EXPECT_EQ(result.per_user.values, all_values);
    ASSERT_EQ(result.per_user.truth.size(), all_ids.size());
    for (size_t b = 0; b < all_ids.size(); ++b) {
      const int64_t u = all_ids[b];
      EXPECT_EQ(result.per_user.truth[b], f.data.test.indptr[u + 1] - f.data.test.indptr[u]);
    }
  } else {
    EXPECT_TRUE(result.per_user.users.empty());
  }
}

TEST(recommend_test, ValidationEvaluationKeepsNoPerUserMetrics) {
  Fixture f;
  ASSERT_PETSC_OK(f.SetUp());
  EvalResult result;
  auto run = [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Evaluator evaluator(PETSC_COMM_WORLD);
    PetscCall(evaluator.SetFromOptions());
    PetscCall(evaluator.Evaluate(f.graph, f.final, EvalSplit::kValid, &result));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  ASSERT_PETSC_OK(recns::test::WithOptions("-eval_per_user", run));
  EXPECT_GT(result.users, 0);
  EXPECT_TRUE(result.per_user.users.empty());
}

}  // namespace
