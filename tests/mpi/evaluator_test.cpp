// The streaming evaluator against a straightforward serial reference: every rank scores every
// item for every user by plain loops, sorts the rankable items (higher score, then smaller id) and
// sums the metrics. Embeddings take values in {-1, 0, 1}, so scores are exact small integers with
// many ties, and the results must agree to 1e-12 at any rank count and item chunk size.
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
using recns::RowMatrix;

constexpr int kDim = 4;
constexpr uint64_t kSeed = 5;

bool Contains(const recns::Csr& csr, int64_t u, int32_t item) {
  return std::binary_search(csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1], item);
}

/// A small dataset with gaps in valid and test, and a random test split that skips every fourth
/// user and holds up to two items outside the user's train and valid rows.
Dataset EvalDataset() {
  Dataset data = recns::test::TinyDatasetWithGaps(37, 53, 17);
  data.test_random.indptr = {0};
  for (int64_t u = 0; u < data.num_users; ++u) {
    std::vector<int32_t> row;
    if (u % 4 != 1)
      for (int32_t item : {(int32_t)(u * 5 % 53), (int32_t)((u * 11 + 3) % 53)})
        if (!Contains(data.train, u, item) && !Contains(data.valid, u, item)) row.push_back(item);
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    data.test_random.indices.insert(data.test_random.indices.end(), row.begin(), row.end());
    data.test_random.indptr.push_back((int64_t)data.test_random.indices.size());
  }
  return data;
}

double Entry(int64_t node, int c) { return recns::test::TernaryEntry(kSeed, node, c); }

const recns::Csr& Truth(const Dataset& data, EvalSplit split) {
  return split == EvalSplit::kTest ? data.test : split == EvalSplit::kTestRandom ? data.test_random : data.valid;
}

const char* SplitName(EvalSplit split) {
  return split == EvalSplit::kTest ? "test" : split == EvalSplit::kTestRandom ? "test_random" : "valid";
}

/// The reference metrics of `split` over the users with truth items that `keep` accepts.
EvalResult Reference(const Dataset& data, EvalSplit split, const std::vector<int>& ks, bool (*keep)(int64_t, double),
                     double keep_share) {
  const recns::Csr& truth = Truth(data, split);
  const int max_k = *std::max_element(ks.begin(), ks.end());
  recns::MetricSums sums(ks);
  for (int64_t u = 0; u < data.num_users; ++u) {
    if (truth.indptr[u + 1] == truth.indptr[u] || !keep(u, keep_share)) continue;
    std::vector<std::pair<double, int32_t>> ranked;
    for (int32_t i = 0; i < (int32_t)data.num_items; ++i) {
      if (Contains(data.train, u, i) || (split != EvalSplit::kValid && Contains(data.valid, u, i))) continue;
      double score = 0;
      for (int c = 0; c < kDim; ++c) score += Entry(u, c) * Entry(data.num_users + i, c);
      ranked.emplace_back(score, i);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && x.second < y.second);
    });
    std::vector<int32_t> top;
    for (size_t r = 0; r < ranked.size() && (int)r < max_k; ++r) top.push_back(ranked[r].second);
    sums.AddUser(top, truth.indices.data() + truth.indptr[u], truth.indptr[u + 1] - truth.indptr[u]);
  }
  EvalResult result;
  result.users = sums.users;
  for (const char* metric : {"recall", "ndcg", "precision", "hr"})
    for (size_t k = 0; k < ks.size(); ++k) {
      const std::string name = std::string(metric) + "@" + std::to_string(ks[k]);
      const std::vector<double>& values = metric[0] == 'r' ? sums.recall : metric[0] == 'n' ? sums.ndcg
                                          : metric[0] == 'p' ? sums.precision : sums.hit;
      result.metrics.emplace_back(name, sums.users > 0 ? values[k] / (double)sums.users : 0.0);
    }
  return result;
}

bool KeepAll(int64_t, double) { return true; }
/// The documented sample: user u is kept when the uniform of (seed, kEvalSample, u) is below the share.
bool KeepSampled(int64_t u, double share) {
  const auto b = recns::RandomBlock(kSeed, recns::RngPurpose::kEvalSample, 0, (uint64_t)u, 0);
  return recns::UniformFromWords(b.v[0], b.v[1]) < share;
}

/// Runs the evaluator under `options` on both splits and compares it with the reference.
void CheckAgainstReference(const std::string& options, int64_t sample) {
  const Dataset data = EvalDataset();
  const std::vector<int> ks = {1, 3, 10};
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  RowMatrix final(layout.LocalRows(), kDim);
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    const int64_t node = recns::test::DatasetNode(layout, r);
    for (int c = 0; c < kDim; ++c) final(r, c) = Entry(node, c);
  }
  for (EvalSplit split : {EvalSplit::kValid, EvalSplit::kTest, EvalSplit::kTestRandom}) {
    const recns::Csr& truth = Truth(data, split);
    int64_t candidates = 0;
    for (int64_t u = 0; u < data.num_users; ++u) candidates += truth.indptr[u + 1] > truth.indptr[u];
    const bool sampled = sample > 0 && sample < candidates;
    const EvalResult expected =
        Reference(data, split, ks, sampled ? KeepSampled : KeepAll, sampled ? (double)sample / (double)candidates : 1.0);
    EvalResult result;
    auto run = [&]() -> PetscErrorCode {
      PetscFunctionBeginUser;
      recns::Evaluator evaluator(PETSC_COMM_WORLD);
      evaluator.SetSeed(kSeed);
      PetscCall(evaluator.SetFromOptions());
      PetscCall(evaluator.Evaluate(graph, final, split, &result));
      PetscFunctionReturn(PETSC_SUCCESS);
    };
    ASSERT_PETSC_OK(recns::test::WithOptions(options + " -eval_ks 1,3,10", run));
    const char* name = SplitName(split);
    ASSERT_GT(expected.users, 0) << name;
    EXPECT_EQ(result.users, expected.users) << name << " with " << options;
    ASSERT_EQ(result.metrics.size(), expected.metrics.size());
    for (size_t m = 0; m < expected.metrics.size(); ++m) {
      EXPECT_EQ(result.metrics[m].first, expected.metrics[m].first);
      EXPECT_NEAR(result.metrics[m].second, expected.metrics[m].second, 1e-12)
          << expected.metrics[m].first << " on " << name << " with " << options;
    }
    if (sampled) {
      EXPECT_LT(expected.users, candidates) << name;
      EXPECT_GE(expected.users, sample / 3) << name;
      EXPECT_LE(expected.users, 3 * sample) << name;
    }
  }
}

TEST(evaluator_test, StreamingEqualsReferenceForAnyChunkSize) {
  for (const char* block : {"1", "4", "13", "100"})
    CheckAgainstReference(std::string("-eval_item_block ") + block, 0);
}

TEST(evaluator_test, UserSampleIsTheSeededShare) {
  CheckAgainstReference("-eval_item_block 5 -eval_user_sample 10", 10);
}

TEST(evaluator_test, RandomTestSplitEqualToTestEvaluatesAlike) {
  Dataset data = EvalDataset();
  data.test_random = data.test;
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  RowMatrix final(layout.LocalRows(), kDim);
  for (int64_t r = 0; r < layout.LocalRows(); ++r)
    for (int c = 0; c < kDim; ++c) final(r, c) = Entry(recns::test::DatasetNode(layout, r), c);
  EvalResult test, random;
  auto run = [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Evaluator evaluator(PETSC_COMM_WORLD);
    PetscCall(evaluator.SetFromOptions());
    PetscCall(evaluator.Evaluate(graph, final, EvalSplit::kTest, &test));
    PetscCall(evaluator.Evaluate(graph, final, EvalSplit::kTestRandom, &random));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  ASSERT_PETSC_OK(recns::test::WithOptions("-eval_ks 2,5", run));
  EXPECT_GT(test.users, 0);
  EXPECT_EQ(random.users, test.users);
  EXPECT_EQ(random.metrics, test.metrics);
}

TEST(evaluator_test, RejectsBadOptions) {
  for (const char* options : {"-eval_item_block 0", "-eval_user_sample -1"}) {
    auto run = [&]() -> PetscErrorCode {
      recns::Evaluator evaluator(PETSC_COMM_WORLD);
      return evaluator.SetFromOptions();
    };
    recns::test::InputError(recns::test::WithOptions(options, run));
  }
}

}  // namespace
