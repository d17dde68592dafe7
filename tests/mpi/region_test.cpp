// The three regions at any rank count: sizes and membership equal the items reached by boolean
// walks of the whole graph, draws are the same as on one rank, distinct, inside the region and
// uniform, and a khop that is even or below 3 is an input error.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/graph.hpp"
#include "recns/region.hpp"
#include "recns/rng.hpp"

namespace {

using recns::Dataset;
using recns::RegionKind;

constexpr int kUsers = 30, kItems = 40;
// The catalogue's cuts in region.cpp, at 40 items: rows of more than 8 items are bitsets, regions
// of at most 16 items lists.
constexpr int kBigRow = 8, kListCut = 16;
const RegionKind kKinds[] = {RegionKind::kIntermediate, RegionKind::kDistant, RegionKind::kGlobal};

/// 30 users over 40 items: user 0 has one item, user 1 two items nobody else has (an empty
/// region), user 2 most of the first 36 items, user 3 none, user 4 one item of its own; the others
/// 1..5 random items among the first 36; item 39 has no user.
Dataset RandomGraph(uint64_t seed) {
  Dataset data;
  data.name = "region";
  data.num_users = kUsers;
  data.num_items = kItems;
  data.train.indptr = {0};
  data.test.indptr = {0};
  auto word = [&](int64_t u, uint32_t draw) {
    return recns::RandomBlock(seed, recns::RngPurpose::kSynthetic, 1, (uint64_t)u, draw).v[0];
  };
  for (int64_t u = 0; u < kUsers; ++u) {
    std::vector<bool> in(kItems, false);
    if (u == 1) {
      in[36] = in[37] = true;
    } else if (u == 4) {
      in[38] = true;
    } else if (u != 3) {
      const int count = u == 0 ? 1 : u == 2 ? 16 + (int)recns::UniformBelow(word(u, 0), 12)
                                            : 1 + (int)recns::UniformBelow(word(u, 0), 5);
      for (uint32_t draw = 1, have = 0; (int)have < count; ++draw) {
        const uint32_t item = recns::UniformBelow(word(u, draw), 36);
        if (!in[item]) in[item] = true, ++have;
      }
    }
    for (int32_t i = 0; i < kItems; ++i)
      if (in[i]) data.train.indices.push_back(i);
    data.train.indptr.push_back((int64_t)data.train.indices.size());
    if (u == 5) data.test.indices.push_back(39);
    data.test.indptr.push_back((int64_t)data.test.indices.size());
  }
  return data;
}

/// Every user's region by boolean walks: items of row u of A^khop (A the bipartite adjacency),
/// as membership flags per kind.
std::vector<std::vector<bool>> WalkRegions(const Dataset& data, int khop, RegionKind kind) {
  std::vector<std::vector<bool>> regions(kUsers, std::vector<bool>(kItems, false));
  for (int64_t u = 0; u < kUsers; ++u) {
    std::vector<bool> trained(kItems, false), reach(kItems, false);
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p)
      trained[data.train.indices[p]] = reach[data.train.indices[p]] = true;
    for (int step = 1; step < khop; step += 2) {
      std::vector<bool> users(kUsers, false), next(kItems, false);
      for (int64_t v = 0; v < kUsers; ++v)
        for (int64_t p = data.train.indptr[v]; p < data.train.indptr[v + 1]; ++p)
          if (reach[data.train.indices[p]]) users[v] = true;
      for (int64_t v = 0; v < kUsers; ++v)
        for (int64_t p = data.train.indptr[v]; users[v] && p < data.train.indptr[v + 1]; ++p)
          next[data.train.indices[p]] = true;
      reach = next;
    }
    for (int32_t i = 0; i < kItems; ++i) {
      const bool intermediate = reach[i] && !trained[i];
      regions[u][i] = kind == RegionKind::kIntermediate ? intermediate
                      : kind == RegionKind::kDistant    ? !intermediate && !trained[i]
                                                        : !trained[i];
    }
  }
  return regions;
}

int64_t CountOf(const std::vector<bool>& flags) {
  int64_t n = 0;
  for (bool f : flags) n += f;
  return n;
}

TEST(RegionTest, SizesAndMembershipMatchWalks) {
  int64_t small_sizes = 0, large_sizes = 0, small_rows = 0, big_rows = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Dataset data = RandomGraph(seed);
    recns::Graph graph;
    ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
    const int64_t first = graph.GetLayout().UserBegin();
    // Co-item row sizes, to see both row forms occur.
    for (int32_t j = 0; j < kItems; ++j) {
      std::vector<bool> row(kItems, false);
      for (int64_t u = 0; u < kUsers; ++u) {
        const auto* b = data.train.indices.data() + data.train.indptr[u];
        const auto* e = data.train.indices.data() + data.train.indptr[u + 1];
        if (std::binary_search(b, e, j))
          for (const auto* p = b; p < e; ++p) row[*p] = true;
      }
      (CountOf(row) > kBigRow ? big_rows : small_rows)++;
    }
    for (int khop : {3, 5, 7}) {
      for (RegionKind kind : kKinds) {
        const auto expected = WalkRegions(data, khop, kind);
        recns::ItemRegion region;
        ASSERT_PETSC_OK(region.Build(graph, khop, kind));
        EXPECT_EQ(region.Khop(), khop);
        EXPECT_EQ(region.Kind(), kind);
        for (int64_t lu = 0; lu < graph.GetLayout().LocalUsers(); ++lu) {
          const auto& want = expected[first + lu];
          EXPECT_EQ(region.Size(lu), CountOf(want)) << "seed " << seed << " khop " << khop
                                                    << " kind " << (int)kind << " user "
                                                    << first + lu;
          for (int32_t i = -1; i <= kItems; ++i)
            EXPECT_EQ(region.Contains(lu, i), i >= 0 && i < kItems && want[i])
                << "seed " << seed << " khop " << khop << " kind " << (int)kind << " user "
                << first + lu << " item " << i;
        }
        int64_t users = 0, below = 0, low = kItems, high = 0;
        double total = 0;
        for (int64_t u = 0; u < kUsers; ++u) {
          if (data.train.indptr[u] == data.train.indptr[u + 1]) continue;
          const int64_t size = CountOf(expected[u]);
          ++users;
          below += size < 5;
          total += (double)size;
          low = std::min(low, size);
          high = std::max(high, size);
          if (kind != RegionKind::kGlobal) (size <= kListCut ? small_sizes : large_sizes)++;
        }
        recns::RegionSummary summary;
        ASSERT_PETSC_OK(region.Summarize(5, &summary));
        EXPECT_EQ(summary.users, users);
        EXPECT_EQ(summary.users_below, below);
        EXPECT_DOUBLE_EQ(summary.mean_size, total / (double)users);
        EXPECT_EQ(summary.min_size, low);
        EXPECT_EQ(summary.max_size, high);
        EXPECT_GE(summary.build_seconds, 0.0);
        EXPECT_GE(summary.max_bytes, 0);
      }
    }
  }
  // Both sides of the list cut and of the bitset-row cut were exercised.
  EXPECT_GT(small_sizes, 0);
  EXPECT_GT(large_sizes, 0);
  EXPECT_GT(small_rows, 0);
  EXPECT_GT(big_rows, 0);
}

/// Checks that `drawn` holds `m` distinct items of the user's region.
void ExpectDistinctInside(const recns::ItemRegion& region, int64_t local_user, int m,
                          const std::vector<int32_t>& drawn) {
  ASSERT_EQ((int)drawn.size(), m);
  std::vector<bool> seen(kItems, false);
  for (int32_t item : drawn) {
    ASSERT_TRUE(item >= 0 && item < kItems);
    EXPECT_TRUE(region.Contains(local_user, item)) << "item " << item;
    EXPECT_FALSE(seen[item]) << "item " << item << " drawn twice";
    seen[item] = true;
  }
}

TEST(RegionTest, DrawsAreTheSameAsOnOneRank) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Dataset data = RandomGraph(seed);
    recns::Graph graph, whole;
    ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
    ASSERT_PETSC_OK(whole.Build(PETSC_COMM_SELF, data));
    const int64_t first = graph.GetLayout().UserBegin();
    for (int khop : {3, 5, 7}) {
      for (RegionKind kind : kKinds) {
        recns::ItemRegion region, alone;
        ASSERT_PETSC_OK(region.Build(graph, khop, kind));
        ASSERT_PETSC_OK(alone.Build(whole, khop, kind));
        for (int64_t lu = 0; lu < graph.GetLayout().LocalUsers(); ++lu) {
          const int64_t user = first + lu, size = region.Size(lu);
          ASSERT_EQ(alone.Size(user), size);
          // One draw, a few, just over half (the stored-list path of rejection) and all.
          for (int64_t m : {std::min<int64_t>(1, size), std::min<int64_t>(3, size),
                            std::min<int64_t>(size / 2 + 1, size), size}) {
            std::vector<int32_t> here, there;
            recns::RandomStream a(seed, recns::RngPurpose::kSampler, (uint32_t)m, (uint64_t)user);
            recns::RandomStream b(seed, recns::RngPurpose::kSampler, (uint32_t)m, (uint64_t)user);
            region.Draw(lu, (int)m, &a, &here);
            alone.Draw(user, (int)m, &b, &there);
            EXPECT_EQ(here, there) << "seed " << seed << " khop " << khop << " kind "
                                   << (int)kind << " user " << user << " m " << m;
            ExpectDistinctInside(region, lu, (int)m, here);
          }
        }
      }
    }
  }
}

/// Chi-square of `draws` draws of 3 items from the region of a user, over the region's items.
double ChiSquare(const recns::ItemRegion& region, int64_t user, int draws) {
  std::vector<int64_t> hits(kItems, 0);
  std::vector<int32_t> drawn;
  for (int t = 0; t < draws; ++t) {
    drawn.clear();
    recns::RandomStream stream(9, recns::RngPurpose::kSampler, 0, (uint64_t)t);
    region.Draw(user, 3, &stream, &drawn);
    for (int32_t item : drawn) ++hits[item];
  }
  const double expected = 3.0 * draws / (double)region.Size(user);
  double chi = 0;
  for (int32_t i = 0; i < kItems; ++i) {
    if (region.Contains(user, i))
      chi += (hits[i] - expected) * (hits[i] - expected) / expected;
    else
      EXPECT_EQ(hits[i], 0) << "item " << i << " is outside the region";
  }
  return chi;
}

TEST(RegionTest, DrawsAreUniform) {
  // A mid-size region of each form: a stored list (at most 16 items) and rejection (more), for
  // the rows' membership test (khop 3) and the bitset (khop 5).
  for (int khop : {3, 5}) {
    for (bool listed : {true, false}) {
      bool found = false;
      for (uint64_t seed = 1; seed <= 20 && !found; ++seed) {
        const Dataset data = RandomGraph(seed);
        recns::Graph whole;
        ASSERT_PETSC_OK(whole.Build(PETSC_COMM_SELF, data));
        for (RegionKind kind : {RegionKind::kIntermediate, RegionKind::kDistant}) {
          if (found) break;
          recns::ItemRegion region;
          ASSERT_PETSC_OK(region.Build(whole, khop, kind));
          for (int64_t u = 0; u < kUsers && !found; ++u) {
            const int64_t size = region.Size(u);
            if (listed ? (size < 8 || size > kListCut) : (size <= kListCut + 3 || size > 30))
              continue;
            found = true;
            const double df = (double)size - 1;
            EXPECT_LT(ChiSquare(region, u, 20000), df + 5 * std::sqrt(2 * df))
                << "khop " << khop << (listed ? " listed" : " by rejection") << " size " << size;
          }
        }
      }
      EXPECT_TRUE(found) << "no mid-size region for khop " << khop
                         << (listed ? " listed" : " by rejection");
    }
  }
  // The global region, drawn over the complement of the user's training items.
  const Dataset data = RandomGraph(1);
  recns::Graph whole;
  ASSERT_PETSC_OK(whole.Build(PETSC_COMM_SELF, data));
  recns::ItemRegion global;
  ASSERT_PETSC_OK(global.Build(whole, 3, RegionKind::kGlobal));
  const double df = (double)global.Size(2) - 1;
  EXPECT_LT(ChiSquare(global, 2, 20000), df + 5 * std::sqrt(2 * df));
}

TEST(RegionTest, KhopMustBeOddAndAtLeastThree) {
  const Dataset data = RandomGraph(1);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  for (int khop : {-3, 0, 1, 2, 4, 6}) {
    recns::ItemRegion region;
    const std::string message =
        recns::test::InputError(region.Build(graph, khop, RegionKind::kIntermediate));
    EXPECT_NE(message.find("-sampler_recns_khop " + std::to_string(khop)), std::string::npos)
        << message;
    EXPECT_NE(message.find("odd and at least 3"), std::string::npos) << message;
  }
  recns::ItemRegion global;
  ASSERT_PETSC_OK(global.Build(graph, 2, RegionKind::kGlobal));
}

}  // namespace
