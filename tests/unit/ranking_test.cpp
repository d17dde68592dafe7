// Top-K selection and ranking metrics on hand-computed cases (ALGORITHMS §3, decision 10).
#include "recns/ranking.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace recns {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Top-k of `scores` through OfferExcluding, the catalogue offered in chunks of `chunk` items
/// (0: all at once), last chunk first, so the result must not depend on the order of chunks.
std::vector<int32_t> TopK(const std::vector<double>& scores, int k,
                          const std::vector<int32_t>& excluded_a = {},
                          const std::vector<int32_t>& excluded_b = {}, int32_t chunk = 0) {
  const int32_t num_items = static_cast<int32_t>(scores.size());
  if (chunk <= 0) chunk = std::max(num_items, 1);
  TopKHeap heap(std::min(k, num_items));
  for (int32_t first = (num_items - 1) / chunk * chunk; first >= 0; first -= chunk)
    OfferExcluding(scores.data() + first, first, std::min(chunk, num_items - first),
                   excluded_a.data(), static_cast<int64_t>(excluded_a.size()), excluded_b.data(),
                   static_cast<int64_t>(excluded_b.size()), &heap);
  return heap.Sorted();
}

MetricSums OneUser(const std::vector<int>& ks, const std::vector<int32_t>& top,
                   const std::vector<int32_t>& truth) {
  MetricSums sums(ks);
  sums.AddUser(top, truth.data(), static_cast<int64_t>(truth.size()));
  return sums;
}

TEST(ranking_test, HeapBreaksTiesBySmallerId) {
  TopKHeap heap(3);
  for (int32_t item = 9; item >= 0; --item) heap.Push(1.0, item);
  EXPECT_EQ(heap.Sorted(), (std::vector<int32_t>{0, 1, 2}));
  heap.Clear();
  EXPECT_EQ(heap.Size(), 0);
  // A higher score beats any id; among equal scores the smaller id wins.
  heap.Push(0.5, 1);
  heap.Push(0.7, 8);
  heap.Push(0.5, 0);
  heap.Push(0.7, 9);
  heap.Push(0.5, 2);
  EXPECT_EQ(heap.Sorted(), (std::vector<int32_t>{8, 9, 0}));
}

TEST(ranking_test, HeapOfCapacityZeroKeepsNothing) {
  TopKHeap heap(0);
  heap.Push(1.0, 3);
  EXPECT_EQ(heap.Size(), 0);
  EXPECT_TRUE(TopK({1.0, 2.0}, 0).empty());
}

TEST(ranking_test, ExcludesItemsOfBothLists) {
  //                     item: 0    1    2    3    4    5    6    7
  const std::vector<double> s{0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.5};
  EXPECT_EQ(TopK(s, 3), (std::vector<int32_t>{1, 3, 5}));
  // The three best items are excluded (1 and 5 as training items, 3 as a validation item).
  EXPECT_EQ(TopK(s, 3, {1, 5}, {3}), (std::vector<int32_t>{6, 7, 2}));
  // Lists may overlap, repeat ids, and hold ids outside the catalogue.
  EXPECT_EQ(TopK(s, 3, {-2, 1, 1, 5, 8, 40}, {1, 3, 5, 9}), (std::vector<int32_t>{6, 7, 2}));
  // Exclusions at both ends of the catalogue.
  EXPECT_EQ(TopK(s, 8, {0}, {7}), (std::vector<int32_t>{1, 3, 5, 6, 2, 4}));
  EXPECT_TRUE(TopK(s, 3, {0, 1, 2, 3}, {4, 5, 6, 7}).empty());
}

TEST(ranking_test, NaNRanksLowest) {
  //                     item: 0     1    2     3    4     5
  const std::vector<double> s{kNaN, 0.5, -kInf, kNaN, 0.25, -1.0};
  // NaN ranks as -infinity, so it ties with item 2 and the smaller id goes first.
  EXPECT_EQ(TopK(s, 6), (std::vector<int32_t>{1, 4, 5, 0, 2, 3}));
  EXPECT_EQ(TopK(s, 2), (std::vector<int32_t>{1, 4}));
  // Pushed in any order, a NaN never displaces a number and never blocks a later better item.
  TopKHeap heap(2);
  for (const auto& [score, item] : std::vector<std::pair<double, int32_t>>{
           {kNaN, 7}, {kNaN, 3}, {0.1, 9}, {kNaN, 1}, {0.2, 8}, {kNaN, 0}, {0.3, 5}})
    heap.Push(score, item);
  EXPECT_EQ(heap.Sorted(), (std::vector<int32_t>{5, 8}));
}

// A worked example, every value computed by hand.
//   scores: item 0: 0.9, 1: 0.8, 2: 0.7, 3: 0.7, 4: 0.5, 5: 0.95; item 0 is a training item.
//   ranking without item 0: 5 (0.95), 1 (0.8), 2 (0.7), 3 (0.7, tie: id 2 < 3), 4 (0.5).
//   truth {1, 4}: item 1 at rank 2, item 4 at rank 5.
//   K=1: top {5}, no hit: Recall 0, Precision 0, HR 0, NDCG 0.
//   K=3: top {5, 1, 2}, 1 hit at rank 2: Recall 1/2, Precision 1/3, HR 1,
//        DCG = 1/log2(3), IDCG = 1/log2(2) + 1/log2(3) = 1 + 1/log2(3),
//        NDCG = (1/log2 3) / (1 + 1/log2 3) = 1 / (log2 3 + 1) = 1/log2(6) ~ 0.386853.
//   K=5: top {5, 1, 2, 3, 4}, hits at ranks 2 and 5: Recall 2/2 = 1, Precision 2/5, HR 1,
//        DCG = 1/log2(3) + 1/log2(6), IDCG = 1 + 1/log2(3),
//        NDCG = (0.630930 + 0.386853) / 1.630930 ~ 0.624051.
TEST(ranking_test, WorkedExample) {
  const std::vector<double> s{0.9, 0.8, 0.7, 0.7, 0.5, 0.95};
  const std::vector<int32_t> top = TopK(s, 5, {0});
  ASSERT_EQ(top, (std::vector<int32_t>{5, 1, 2, 3, 4}));
  const MetricSums m = OneUser({1, 3, 5}, top, {1, 4});
  EXPECT_EQ(m.users, 1);
  EXPECT_DOUBLE_EQ(m.recall[0], 0.0);
  EXPECT_DOUBLE_EQ(m.precision[0], 0.0);
  EXPECT_DOUBLE_EQ(m.hit[0], 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg[0], 0.0);
  EXPECT_DOUBLE_EQ(m.recall[1], 1.0 / 2.0);
  EXPECT_DOUBLE_EQ(m.precision[1], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.hit[1], 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg[1], 1.0 / std::log2(6.0));
  EXPECT_NEAR(m.ndcg[1], 0.386853, 1e-6);
  EXPECT_DOUBLE_EQ(m.recall[2], 1.0);
  EXPECT_DOUBLE_EQ(m.precision[2], 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.hit[2], 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg[2], (1.0 / std::log2(3.0) + 1.0 / std::log2(6.0)) /
                                  (1.0 + 1.0 / std::log2(3.0)));
  EXPECT_NEAR(m.ndcg[2], 0.624051, 1e-6);
}

TEST(ranking_test, TruthOutsideTopKScoresZero) {
  // Truth {3, 4} ranks 4th and 5th; nothing is found at K = 1, 2, 3.
  const std::vector<int32_t> top = TopK({0.9, 0.8, 0.7, 0.6, 0.5}, 3);
  const MetricSums m = OneUser({1, 2, 3}, top, {3, 4});
  for (size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(m.recall[j], 0.0);
    EXPECT_EQ(m.precision[j], 0.0);
    EXPECT_EQ(m.hit[j], 0.0);
    EXPECT_EQ(m.ndcg[j], 0.0);
  }
}

TEST(ranking_test, KBeyondCatalogueAndRankableItems) {
  // 5 items, items 0 and 1 excluded, so only 3 are rankable: top = {3 (0.9), 2 (0.4), 4 (0.1)}.
  const std::vector<int32_t> top = TopK({0.95, 0.99, 0.4, 0.9, 0.1}, 10, {0}, {1});
  ASSERT_EQ(top, (std::vector<int32_t>{3, 2, 4}));
  // Truth {3, 4}, K = 10: hits at ranks 1 and 3.
  //   Recall 2/2, Precision 2/10 (divided by K, not by the 3 listed), HR 1,
  //   DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(10, 2) = 2 ranks = 1 + 1/log2(3).
  const MetricSums m = OneUser({10}, top, {3, 4});
  EXPECT_DOUBLE_EQ(m.recall[0], 1.0);
  EXPECT_DOUBLE_EQ(m.precision[0], 0.2);
  EXPECT_DOUBLE_EQ(m.hit[0], 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg[0], 1.5 / (1.0 + 1.0 / std::log2(3.0)));
  // Truth larger than K: the ideal DCG stops at K. Truth {2, 3, 4}, K = 2: top-2 = {3, 2},
  //   two hits, DCG = IDCG = 1 + 1/log2(3): NDCG 1, Recall 2/3, Precision 2/2.
  const MetricSums m2 = OneUser({2}, top, {2, 3, 4});
  EXPECT_DOUBLE_EQ(m2.ndcg[0], 1.0);
  EXPECT_DOUBLE_EQ(m2.recall[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m2.precision[0], 1.0);
}

TEST(ranking_test, SumsAccumulateOverUsers) {
  MetricSums m({1, 2});
  const std::vector<int32_t> truth_a{7}, truth_b{8, 9};
  m.AddUser({7, 1}, truth_a.data(), 1);  // K=1: R 1, P 1, HR 1, NDCG 1; K=2: R 1, P 1/2, NDCG 1
  m.AddUser({1, 9}, truth_b.data(), 2);  // K=1: all 0; K=2: R 1/2, P 1/2, HR 1,
                                         //   NDCG (1/log2 3) / (1 + 1/log2 3) = 1/log2(6)
  EXPECT_EQ(m.users, 2);
  EXPECT_DOUBLE_EQ(m.recall[0], 1.0);
  EXPECT_DOUBLE_EQ(m.precision[0], 1.0);
  EXPECT_DOUBLE_EQ(m.hit[0], 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg[0], 1.0);
  EXPECT_DOUBLE_EQ(m.recall[1], 1.5);
  EXPECT_DOUBLE_EQ(m.precision[1], 1.0);
  EXPECT_DOUBLE_EQ(m.hit[1], 2.0);
  EXPECT_DOUBLE_EQ(m.ndcg[1], 1.0 + 1.0 / std::log2(6.0));
}

TEST(ranking_test, MatchesFullSortOnRandomInputs) {
  std::mt19937_64 rng(20240601);
  for (int trial = 0; trial < 500; ++trial) {
    const int32_t num_items = static_cast<int32_t>(rng() % 300) + 1;
    // Few distinct values, so ties are frequent; NaN and infinities now and then.
    std::vector<double> scores(static_cast<size_t>(num_items));
    for (double& score : scores) {
      const uint64_t r = rng() % 100;
      score = r == 0 ? kNaN : r == 1 ? -kInf : r == 2 ? kInf : static_cast<double>(r % 13);
    }
    std::vector<int32_t> excluded_a, excluded_b;
    for (int32_t item = 0; item < num_items; ++item) {
      if (rng() % 4 == 0) excluded_a.push_back(item);
      if (rng() % 8 == 0) excluded_b.push_back(item);
    }
    const int k = static_cast<int>(rng() % static_cast<uint64_t>(num_items + 10));

    std::vector<int32_t> expected;
    for (int32_t item = 0; item < num_items; ++item)
      if (!std::binary_search(excluded_a.begin(), excluded_a.end(), item) &&
          !std::binary_search(excluded_b.begin(), excluded_b.end(), item))
        expected.push_back(item);
    auto key = [&](int32_t item) {
      const double s = scores[static_cast<size_t>(item)];
      return std::isnan(s) ? -kInf : s;
    };
    std::sort(expected.begin(), expected.end(), [&](int32_t x, int32_t y) {
      return key(x) > key(y) || (key(x) == key(y) && x < y);
    });
    expected.resize(std::min(expected.size(), static_cast<size_t>(k)));

    ASSERT_EQ(TopK(scores, k, excluded_a, excluded_b), expected)
        << "trial " << trial << ": " << num_items << " items, K = " << k;
    const int32_t chunk = static_cast<int32_t>(rng() % 40) + 1;
    ASSERT_EQ(TopK(scores, k, excluded_a, excluded_b, chunk), expected)
        << "trial " << trial << ": " << num_items << " items in chunks of " << chunk << ", K = " << k;
  }
}

}  // namespace
}  // namespace recns
