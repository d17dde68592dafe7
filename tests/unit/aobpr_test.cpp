// The AOBPR sampler on hand-made problems whose rankings are known: the exact rule's choice at a
// tiny tail (the top-ranked non-positive), its rank distribution against the truncated geometric
// pmf (on both the rejection path and the direct fallback), the factor rule's per-factor
// choices and its refresh schedule, and the option checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <numeric>
#include <vector>

#include "../sampler_fixture.hpp"

namespace {

using recns::Negatives;
using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

// Items of the small problems, two factors: f1 ranks 1 > 3 > 5 > 2 > 4 > 0, and f2 holds the
// same values in reverse item order (so σ_1 = σ_2 but the extremes differ).
const std::vector<double> kFactor1 = {0.1, 0.9, 0.5, 0.7, 0.2, 0.6};

void SetSmallItems(SamplerFixture* fixture, bool second_factor_varies) {
  for (int32_t j = 0; j < 6; ++j)
    fixture->SetItemRow(j, {kFactor1[j], second_factor_varies ? kFactor1[5 - j] : 0.5});
}

using Pairs = std::vector<std::pair<int64_t, int32_t>>;

// The negatives of pairs (user, item) at `epoch`, grouped by pair.
std::vector<std::vector<int32_t>> SampleGroups(SamplerFixture* fixture, const recns::Dataset& data,
                                               const Pairs& pairs, uint32_t epoch) {
  const recns::Batch batch = fixture->MakeBatch(data, pairs);
  Negatives negatives;
  EXPECT_EQ(fixture->Sample(batch, epoch, &negatives), 0);
  const int k = fixture->sampler->NegativesPerPair();
  EXPECT_EQ(negatives.k, k);
  EXPECT_EQ(negatives.offset.size(), batch.Size() * k + 1);
  std::vector<std::vector<int32_t>> groups(batch.Size());
  for (size_t b = 0; b < batch.Size(); ++b)
    for (int s = 0; s < k; ++s) {
      const size_t slot = b * k + s;
      EXPECT_EQ(negatives.offset[slot + 1] - negatives.offset[slot], 1);
      EXPECT_EQ(negatives.weight[slot], 1.0);
      groups[b].push_back(negatives.item[negatives.offset[slot]]);
    }
  return groups;
}

TEST(aobpr_test, ExactTinyTailPicksTopNonPositive) {
  // User 0 = (1, 0) ranks items 1, 3, 5, 2, 4, 0 (3 and 5 tie: the smaller id ranks first); its
  // positives 1 and 2 include the rank-1 item, so every rejection attempt fails and the direct
  // draw must deliver item 3. User 1 = (−1, 0) ranks 0, 4, 2, 3, 5, 1; item 0 is not its positive.
  const recns::Dataset data = DatasetFromRows(6, {{1, 2}, {2}}, {{}, {}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_rho 1e-3 -sampler_num_negatives 3", 2));
  EXPECT_EQ(fixture.sampler->Describe(), "aobpr (exact, rho=0.001)");
  for (int32_t j = 0; j < 6; ++j) fixture.SetItemRow(j, {kFactor1[j], 0.0});
  fixture.SetItemRow(5, {0.7, 0.0});  // ties item 3
  fixture.SetUserRow(0, {1.0, 0.0});
  fixture.SetUserRow(1, {-1.0, 0.0});
  for (uint32_t epoch = 0; epoch < 50; ++epoch) {
    const auto groups = SampleGroups(&fixture, data, {{0, 1}, {1, 2}, {0, 2}}, epoch);
    ASSERT_EQ(groups.size(), 3u);
    for (int32_t item : groups[0]) EXPECT_EQ(item, 3) << "epoch " << epoch;
    for (int32_t item : groups[1]) EXPECT_EQ(item, 0) << "epoch " << epoch;
    for (int32_t item : groups[2]) EXPECT_EQ(item, 3) << "epoch " << epoch;
  }
  // An empty batch is fine (the trainer calls Sample on every rank at every step).
  Negatives negatives;
  ASSERT_PETSC_OK(fixture.Sample(recns::Batch{}, 0, &negatives));
  EXPECT_TRUE(negatives.item.empty());
}

TEST(aobpr_test, ExactNeverReturnsPositives) {
  const recns::Dataset data = DatasetFromRows(6, {{1, 3, 5}}, {{}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_rho 0.5 -sampler_num_negatives 4", 2));
  SetSmallItems(&fixture, true);
  fixture.SetUserRow(0, {1.0, 0.5});
  std::map<int32_t, int> seen;
  for (uint32_t epoch = 0; epoch < 200; ++epoch) {
    const auto groups = SampleGroups(&fixture, data, {{0, 3}}, epoch);
    for (int32_t item : groups[0]) ++seen[item];
  }
  EXPECT_EQ(seen.size(), 3u);
  for (int32_t item : {0, 2, 4}) EXPECT_GT(seen[item], 0) << "item " << item;
}

// Chi-square statistic of `counts` (per rank) against pmf `p`, with bins of expected count
// below 5 merged into their neighbour; returns it with the degrees of freedom.
std::pair<double, int> ChiSquare(const std::vector<int>& counts, const std::vector<double>& p,
                                 int total) {
  double statistic = 0, observed = 0, expected = 0;
  int bins = 0;
  for (size_t r = 0; r < p.size(); ++r) {
    observed += counts[r];
    expected += p[r] * total;
    if (expected >= 5 || r + 1 == p.size()) {
      if (expected > 0) {
        statistic += (observed - expected) * (observed - expected) / expected;
        ++bins;
      }
      observed = expected = 0;
    }
  }
  return {statistic, bins - 1};
}

// Upper 0.1% quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty).
double ChiSquareQuantile999(int df) {
  const double a = 2.0 / (9.0 * df), z = 3.090232;
  return df * std::pow(1 - a + z * std::sqrt(a), 3);
}

// Samples one pair of each of two users over many epochs in exact mode and checks the ranks of
// the negatives against P(r) ∝ exp(−r/λ), λ = ρ·n, over each user's non-positive ranks. Item j
// has score value[j] for user 0 and 2·value[j] for user 1 (both exact, so ties stay ties); the
// expected ranking is by score, ties by the smaller id. `positive_ranks` lists each user's
// training items by their 0-based rank.
void ExpectRankDistribution(const std::vector<double>& value, double rho,
                            const std::vector<std::vector<int>>& positive_ranks, int k,
                            int epochs) {
  const int n = (int)value.size();
  std::vector<int32_t> item_at_rank(n);  // 0-based rank → item
  std::iota(item_at_rank.begin(), item_at_rank.end(), 0);
  std::sort(item_at_rank.begin(), item_at_rank.end(), [&](int32_t a, int32_t b) {
    return value[a] > value[b] || (value[a] == value[b] && a < b);
  });
  std::vector<int> rank_of(n);
  for (int r = 0; r < n; ++r) rank_of[item_at_rank[r]] = r;
  std::vector<std::vector<int32_t>> positives(2);
  for (int user = 0; user < 2; ++user) {
    for (int r : positive_ranks[user]) positives[user].push_back(item_at_rank[r]);
    std::sort(positives[user].begin(), positives[user].end());
  }
  const recns::Dataset data = DatasetFromRows(n, positives, {{}, {}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_mode exact -sampler_aobpr_rho " +
                                    std::to_string(rho) + " -sampler_num_negatives " +
                                    std::to_string(k),
                                2));
  for (int32_t j = 0; j < n; ++j) fixture.SetItemRow(j, {value[j], 0.25});
  fixture.SetUserRow(0, {1.0, 0.0});
  fixture.SetUserRow(1, {2.0, 0.0});
  std::vector<std::vector<int>> counts(2, std::vector<int>(n, 0));
  for (uint32_t epoch = 0; epoch < (uint32_t)epochs; ++epoch) {
    const auto groups =
        SampleGroups(&fixture, data, {{0, positives[0][0]}, {1, positives[1][0]}}, epoch);
    for (int user = 0; user < 2; ++user)
      for (int32_t item : groups[user]) ++counts[user][rank_of[item]];
  }
  const double lambda = rho * n, draws = (double)k * epochs;
  for (int user = 0; user < 2; ++user) {
    std::vector<double> p(n, 0.0);
    double z = 0;
    for (int r = 0; r < n; ++r)
      if (!std::binary_search(positives[user].begin(), positives[user].end(), item_at_rank[r]))
        z += p[r] = std::exp(-(r + 1) / lambda);
    double max_deviation = 0;
    for (int r = 0; r < n; ++r) {
      p[r] /= z;
      if (p[r] == 0) {
        EXPECT_EQ(counts[user][r], 0) << "user " << user << " got a positive";
      }
      max_deviation = std::max(max_deviation, std::fabs(counts[user][r] / draws - p[r]));
    }
    const auto [statistic, df] = ChiSquare(counts[user], p, (int)draws);
    EXPECT_LT(statistic, ChiSquareQuantile999(df)) << "user " << user << ", df " << df;
    EXPECT_LT(max_deviation, 4.5 * std::sqrt(0.25 / draws)) << "user " << user;
  }
}

TEST(aobpr_test, ExactRankDistributionIsTruncatedGeometric) {
  // 20 items with distinct scores in a scrambled id order; λ = 0.1·20 = 2. User 0's positives
  // hold ranks 1 and 4 (rejection almost always succeeds within the attempt limit); user 1's
  // hold ranks 1..12, where a draw is accepted with probability ≈ e^−6, so most draws go
  // through the direct fallback.
  std::vector<double> value(20);
  for (int r = 0; r < 20; ++r) value[(7 * r + 3) % 20] = 1.0 - 0.04 * r;
  std::vector<int> top12(12);
  std::iota(top12.begin(), top12.end(), 0);
  ExpectRankDistribution(value, 0.1, {{0, 3}, top12}, 10, 2000);
}

TEST(aobpr_test, ExactRankDistributionWithTiesOnLargerCatalogue) {
  // 400 items whose scores come in tied pairs (so the ranking leans on the id tie-break
  // throughout), large enough for the threshold selection: at λ = 20 over the bulk of the
  // ranking, and at λ = 1, where ranks 1 and 2 (a tied pair) take 63% and 23% of the draws.
  // User 1's positives hold the top 30 ranks, so it is rejected often.
  const int n = 400;
  std::vector<double> value(n);
  for (int j = 0; j < n; ++j) value[j] = (double)(((j * 151) % n) / 2) / 256.0;
  std::vector<int> top30(30);
  std::iota(top30.begin(), top30.end(), 0);
  ExpectRankDistribution(value, 0.05, {{2, 5, 40}, top30}, 4, 5000);
  ExpectRankDistribution(value, 0.0025, {{3, 7}, {0, 2}}, 4, 2500);
}

TEST(aobpr_test, FactorRuleFollowsPerFactorRanking) {
  // f1 ranks items 1 > 3 > 5 > 2 > 4 > 0 and f2 ranks 4 > 2 > 0 > 3 > 5 > 1 (σ_1 = σ_2).
  // User 0 = (1, 0): only f1 has weight, largest first; its positive 1 → item 3.
  // User 1 = (0, −2): only f2, smallest first (5, then 1); its positive 5 → item 1.
  // User 2 = (1, 3): f1 with probability 1/4 (top item 1), f2 with 3/4 (top item 4).
  const recns::Dataset data = DatasetFromRows(6, {{1}, {5}, {0}}, {{}, {}, {}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_rho 1e-3 -sampler_aobpr_mode factor "
                                "-sampler_num_negatives 4",
                                2));
  EXPECT_EQ(fixture.sampler->Describe(), "aobpr (factor, rho=0.001)");
  SetSmallItems(&fixture, true);
  fixture.SetUserRow(0, {1.0, 0.0});
  fixture.SetUserRow(1, {0.0, -2.0});
  fixture.SetUserRow(2, {1.0, 3.0});
  int on_f1 = 0, on_f2 = 0;
  const int epochs = 500;
  for (uint32_t epoch = 0; epoch < (uint32_t)epochs; ++epoch) {
    const auto groups = SampleGroups(&fixture, data, {{0, 1}, {1, 5}, {2, 0}}, epoch);
    for (int32_t item : groups[0]) EXPECT_EQ(item, 3) << "epoch " << epoch;
    for (int32_t item : groups[1]) EXPECT_EQ(item, 1) << "epoch " << epoch;
    for (int32_t item : groups[2]) {
      EXPECT_TRUE(item == 1 || item == 4) << "epoch " << epoch << ": item " << item;
      (item == 1 ? on_f1 : on_f2) += 1;
    }
  }
  EXPECT_NEAR(on_f1 / double(on_f1 + on_f2), 0.25, 0.03);
}

TEST(aobpr_test, FactorRuleWithoutSpreadIgnoresFactor) {
  // f2 is constant over items (σ_2 = 0), so even a user weighting it heavily ranks on f1 only:
  // (1, 5) takes the largest non-positive, (−1, 5) the smallest.
  const recns::Dataset data = DatasetFromRows(6, {{1}, {0}}, {{}, {}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_rho 1e-3 -sampler_aobpr_mode factor", 2));
  SetSmallItems(&fixture, false);
  fixture.SetUserRow(0, {1.0, 5.0});
  fixture.SetUserRow(1, {-1.0, 5.0});
  for (uint32_t epoch = 0; epoch < 100; ++epoch) {
    const auto groups = SampleGroups(&fixture, data, {{0, 1}, {1, 0}}, epoch);
    EXPECT_EQ(groups[0][0], 3) << "epoch " << epoch;
    EXPECT_EQ(groups[1][0], 4) << "epoch " << epoch;
  }
}

TEST(aobpr_test, FactorRankingsRefreshEveryNLogNDraws) {
  // 6 items: the rankings are rebuilt on the first Sample and whenever the global draw count
  // reaches a multiple of ⌈6·ln 6⌉ = 11. After the rows change, the 11 draws of the first period
  // still see the old order (item 3 on top); the 12th Sample sees item 2 on top.
  const recns::Dataset data = DatasetFromRows(6, {{1}}, {{}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                "-sampler_aobpr_rho 1e-3 -sampler_aobpr_mode factor", 2));
  SetSmallItems(&fixture, false);
  fixture.SetUserRow(0, {1.0, 0.0});
  for (uint32_t step = 0; step < 14; ++step) {
    if (step == 1) {
      fixture.SetItemRow(3, {-1.0, 0.5});
      fixture.SetItemRow(2, {0.95, 0.5});
    }
    const int32_t item = SampleGroups(&fixture, data, {{0, 1}}, step)[0][0];
    EXPECT_EQ(item, step < 11 ? 3 : 2) << "step " << step;
  }
}

TEST(aobpr_test, BadOptionsAreInputErrors) {
  const recns::Dataset data = DatasetFromRows(6, {{1}}, {{}});
  for (const char* options : {"-sampler_aobpr_rho 0", "-sampler_aobpr_rho -0.5"}) {
    SamplerFixture fixture;
    const std::string message =
        recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr", options, 2));
    EXPECT_NE(message.find("-sampler_aobpr_rho"), std::string::npos) << options << ": " << message;
  }
  SamplerFixture fixture;
  const std::string message = recns::test::InputError(
      fixture.SetUp(PETSC_COMM_SELF, data, "aobpr", "-sampler_aobpr_mode fast", 2));
  EXPECT_NE(message.find("-sampler_aobpr_mode"), std::string::npos) << message;
  EXPECT_NE(message.find("fast"), std::string::npos) << message;
}

TEST(aobpr_test, DefaultsDescribeResolvedMode) {
  const recns::Dataset data = DatasetFromRows(6, {{1}}, {{}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr", "", 2));
  EXPECT_EQ(fixture.sampler->Describe(), "aobpr (exact, rho=0.05)");
}

// Cost of one Sample on a MovieLens-100k-sized problem (943 users, 1682 items, d = 32, ~100
// positives per user); not part of the suite: run with --gtest_also_run_disabled_tests.
TEST(aobpr_test, DISABLED_ExactCostAtMovieLensSize) {
  const int users = 943, items = 1682;
  std::vector<std::vector<int32_t>> train(users);
  for (int u = 0; u < users; ++u)
    for (int j = (u * 37) % 17; j < items; j += 17) train[u].push_back(j);
  const recns::Dataset data =
      DatasetFromRows(items, train, std::vector<std::vector<int32_t>>(users));
  for (const char* mode : {"exact", "factor"}) {
    SamplerFixture fixture;
    ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "aobpr",
                                  std::string("-sampler_aobpr_mode ") + mode, 32));
    for (int batch_size : {1, 128}) {
      const int steps = batch_size == 1 ? 20000 : 200;
      std::vector<recns::Batch> batches;
      for (int step = 0; step < steps; ++step) {
        Pairs pairs;
        for (int b = 0; b < batch_size; ++b) {
          const int u = (int)((step * 131 + b * 577) % users);
          pairs.push_back({u, train[u][(step + b) % train[u].size()]});
        }
        batches.push_back(fixture.MakeBatch(data, pairs));
      }
      Negatives negatives;
      const auto start = std::chrono::steady_clock::now();
      const std::clock_t cpu_start = std::clock();
      for (int step = 0; step < steps; ++step)
        ASSERT_PETSC_OK(fixture.Sample(batches[step], step, &negatives));
      const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("aobpr %s, batch %d: %.1f us per Sample, %.2f us per pair (CPU time; wall "
                  "%.1f us per Sample)\n",
                  mode, batch_size, 1e6 * cpu / steps, 1e6 * cpu / steps / batch_size,
                  1e6 * wall / steps);
    }
  }
}

}  // namespace
