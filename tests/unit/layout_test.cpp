// Layout::SplitByPairs: the ownership blocks of users and items (hand-computed cases).
#include <gtest/gtest.h>

#include <vector>

#include "recns/layout.hpp"

namespace {

using Starts = std::vector<int64_t>;

// Pairs before each id (a CSR row-start array) from per-id pair counts.
Starts PairsBefore(const std::vector<int64_t>& counts) {
  Starts before(counts.size() + 1, 0);
  for (size_t i = 0; i < counts.size(); ++i) before[i + 1] = before[i] + counts[i];
  return before;
}

TEST(layout_test, BlocksHoldEqualPairsNotEqualIds) {
  // 10 pairs: one popular id holds half of them, so it is a block of its own.
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({5, 1, 1, 1, 1, 1}), 2), (Starts{0, 1, 6}));
  // 12 pairs over 3 ranks: blocks start at the first id at or after 4 and 8 pairs.
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({1, 2, 1, 3, 1, 1, 2, 1}), 3), (Starts{0, 3, 5, 8}));
}

TEST(layout_test, EveryBlockKeepsAnId) {
  // All pairs on the first id, or no pairs at all: each rank still owns at least one id.
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({10, 0, 0}), 3), (Starts{0, 1, 2, 3}));
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({0, 0, 0}), 2), (Starts{0, 1, 3}));
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({0, 0, 7}), 3), (Starts{0, 1, 2, 3}));
  EXPECT_EQ(recns::Layout::SplitByPairs(PairsBefore({4}), 1), (Starts{0, 1}));
}

}  // namespace
