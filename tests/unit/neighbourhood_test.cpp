// PinSage's neighbourhood draws: uniform positions without replacement (a chi-square test of each
// position's and each subset's frequency), and the table mode's samples (neighbours only, the same
// random columns of every node's row at a step, each column equally often).
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "../sampler_fixture.hpp"
#include "../test_util.hpp"
#include "recns/graph.hpp"
#include "recns/neighbourhood.hpp"

namespace {

// Upper 0.1% quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty).
double ChiSquareQuantile999(int df) {
  const double a = 2.0 / (9.0 * df), z = 3.090232;
  return df * std::pow(1 - a + z * std::sqrt(a), 3);
}

double ChiSquare(const std::vector<int64_t>& observed, double expected) {
  double statistic = 0;
  for (int64_t o : observed) statistic += (o - expected) * (o - expected) / expected;
  return statistic;
}

TEST(neighbourhood_test, SmallListsAreTakenWhole) {
  for (int64_t degree : {0, 1, 3}) {
    std::vector<int64_t> positions = {42};  // appended to, not replaced
    recns::DrawNeighbourPositions(5, 0, 7, 1, 11, degree, 3, &positions);
    ASSERT_EQ((int64_t)positions.size(), 1 + degree);
    for (int64_t p = 0; p < degree; ++p) EXPECT_EQ(positions[(size_t)(1 + p)], p);
  }
}

// Over many steps (and, separately, over many nodes at one step) each position of a list of 7 is
// drawn with probability 3/7 and each of the 35 subsets of 3 equally often; the positions of one
// draw are distinct and in range, and a draw depends on every argument but the degree's list only
// through its size.
TEST(neighbourhood_test, UniformPositionsChiSquare) {
  const int64_t degree = 7;
  const int fanout = 3;
  const int draws = 20000;
  for (const bool over_steps : {true, false}) {
    SCOPED_TRACE(over_steps ? "over steps" : "over nodes");
    std::vector<int64_t> position_count(degree, 0);
    std::map<std::vector<int64_t>, int64_t> subset_count;
    for (int k = 0; k < draws; ++k) {
      std::vector<int64_t> positions;
      const int64_t step = over_steps ? k : 3, key = over_steps ? 17 : k;
      recns::DrawNeighbourPositions(123, 2, step, 1, key, degree, fanout, &positions);
      ASSERT_EQ(positions.size(), (size_t)fanout);
      std::vector<int64_t> sorted = positions;
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a repeated position";
      ASSERT_GE(sorted.front(), 0);
      ASSERT_LT(sorted.back(), degree);
      for (int64_t p : positions) ++position_count[(size_t)p];
      ++subset_count[sorted];
      // Deterministic: the same arguments draw the same positions.
      std::vector<int64_t> again;
      recns::DrawNeighbourPositions(123, 2, step, 1, key, degree, fanout, &again);
      ASSERT_EQ(again, positions);
    }
    EXPECT_LT(ChiSquare(position_count, (double)draws * fanout / degree), ChiSquareQuantile999(degree - 1));
    ASSERT_EQ(subset_count.size(), 35u);
    std::vector<int64_t> subsets;
    for (const auto& [subset, count] : subset_count) subsets.push_back(count);
    EXPECT_LT(ChiSquare(subsets, draws / 35.0), ChiSquareQuantile999(34));
  }
  // Every argument of the stream changes the draw (for some of a few keys).
  auto draw = [](uint64_t seed, uint32_t epoch, int64_t step, int hop, int64_t key) {
    std::vector<int64_t> positions;
    recns::DrawNeighbourPositions(seed, epoch, step, hop, key, 50, 4, &positions);
    return positions;
  };
  int differ[4] = {0, 0, 0, 0};
  for (int64_t key = 0; key < 8; ++key) {
    const auto base = draw(1, 0, 0, 1, key);
    differ[0] += draw(2, 0, 0, 1, key) != base;
    differ[1] += draw(1, 1, 0, 1, key) != base;
    differ[2] += draw(1, 0, 1, 1, key) != base;
    differ[3] += draw(1, 0, 0, 2, key) != base;
  }
  for (int a = 0; a < 4; ++a) EXPECT_GT(differ[a], 0) << "argument " << a;
}

/// Users 0 and 1 have more neighbours than the table's width, user 2 fewer, item 11 none.
recns::Dataset TableDataset() {
  return recns::test::DatasetFromRows(12, {{0, 1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {0, 2}, {3, 9}},
                                      {{9}, {0}, {1}, {4}});
}

// Uniform mode: Sample maps DrawNeighbourPositions into the node's sorted neighbour keys.
TEST(neighbourhood_test, UniformSampleIsDrawnPositionsOfTheSortedKeys) {
  const recns::Dataset data = TableDataset();
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_SELF, data));
  const recns::Layout& layout = graph.GetLayout();
  recns::Neighbourhoods hoods;
  ASSERT_PETSC_OK(hoods.SetUp(graph, 9, recns::NeighbourSampling::kUniform, 0));
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    const int64_t key = layout.KeyOfLocalRow(r);
    const std::vector<int64_t> list(hoods.Neighbours(r), hoods.Neighbours(r) + hoods.Degree(r));
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    EXPECT_EQ(hoods.Degree(r), key < data.num_users ? data.train.indptr[key + 1] - data.train.indptr[key]
                                                     : graph.ItemDegrees()[(size_t)(key - data.num_users)]);
    for (int hop : {1, 2}) {
      std::vector<int64_t> keys, positions;
      hoods.Sample(r, 4, 6, hop, 3, &keys);
      recns::DrawNeighbourPositions(9, 4, 6, hop, key, (int64_t)list.size(), 3, &positions);
      ASSERT_EQ(keys.size(), positions.size());
      for (size_t k = 0; k < keys.size(); ++k) EXPECT_EQ(keys[k], list[(size_t)positions[k]]);
    }
  }
}

// Table mode: every sampled key is a neighbour of the node; at a step every row of the table gives
// the same columns (seen through two nodes whose rows hold distinct keys: their samples, as
// indices into a reference sample of the whole row, agree); over steps each column is taken with
// probability fanout / width.
TEST(neighbourhood_test, TableRowsShareTheStepsColumns) {
  const recns::Dataset data = TableDataset();
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_SELF, data));
  const recns::Layout& layout = graph.GetLayout();
  const int width = 5, fanout = 3, steps = 4000;
  recns::Neighbourhoods hoods;
  ASSERT_PETSC_OK(hoods.SetUp(graph, 9, recns::NeighbourSampling::kTable, width));
  EXPECT_EQ(hoods.TableWidth(), width);
  // The whole row of users 0 and 1 (degree 9 and 10 > width: distinct keys), in the order of one
  // reference step's permutation of the columns.
  std::vector<int64_t> reference[2];
  for (int u : {0, 1}) {
    hoods.Sample(layout.LocalRowOfKey(u), 0, 0, 1, width, &reference[u]);
    ASSERT_EQ(reference[u].size(), (size_t)width);
    std::vector<int64_t> sorted = reference[u];
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  }
  std::vector<int64_t> column_count(width, 0);
  int differ_between_steps = 0;
  std::vector<int64_t> previous;
  for (int s = 0; s < steps; ++s)
    for (int hop : {1, 2}) {
      std::vector<int64_t> index[2];
      for (int u : {0, 1}) {
        std::vector<int64_t> keys;
        hoods.Sample(layout.LocalRowOfKey(u), 1, s, hop, fanout, &keys);
        ASSERT_EQ(keys.size(), (size_t)fanout);
        for (int64_t key : keys) {
          const auto at = std::find(reference[u].begin(), reference[u].end(), key);
          ASSERT_NE(at, reference[u].end()) << "user " << u << " sampled " << key << ", not in its table row";
          index[u].push_back(at - reference[u].begin());
        }
      }
      ASSERT_EQ(index[0], index[1]) << "step " << s << ", hop " << hop;
      std::vector<int64_t> sorted = index[0];
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a repeated column";
      if (hop == 1) {
        for (int64_t c : index[0]) ++column_count[(size_t)c];
        differ_between_steps += !previous.empty() && previous != index[0];
        previous = index[0];
      }
    }
  EXPECT_LT(ChiSquare(column_count, (double)steps * fanout / width), ChiSquareQuantile999(width - 1));
  EXPECT_GT(differ_between_steps, steps / 2);
  // Every node's samples are its neighbours (with repeats when its degree is below the width);
  // an isolated node's are the dummy node, whose key follows every node's.
  EXPECT_EQ(hoods.DummyKey(), data.num_users + data.num_items);
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    const int32_t* list = hoods.Neighbours(r);
    const int64_t degree = hoods.Degree(r);
    for (int s = 0; s < 50; ++s) {
      std::vector<int64_t> keys;
      hoods.Sample(r, 0, s, 1 + s % 2, fanout, &keys);
      EXPECT_EQ(keys.size(), (size_t)fanout) << "key " << layout.KeyOfLocalRow(r);
      for (int64_t key : keys) {
        if (degree == 0) {
          EXPECT_EQ(key, hoods.DummyKey()) << "isolated node " << layout.KeyOfLocalRow(r);
          continue;
        }
        EXPECT_NE(std::find(list, list + degree, (int32_t)key), list + degree)
            << "node " << layout.KeyOfLocalRow(r) << " sampled " << key << ", not a neighbour";
      }
    }
  }
  EXPECT_EQ(hoods.Degree(layout.LocalRowOfKey(data.num_users + 11)), 0);
}

}  // namespace
