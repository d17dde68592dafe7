// PNS (ALGORITHMS §4.2): frequencies ∝ pop^β over the user's non-positives, never an item without
// training interactions, never a positive.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "../sampler_fixture.hpp"
#include "recns/alias_table.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

void CheckFrequencies(double beta) {
  // Popularity of items 0..7: 5, 4, 3, 2, 1, 1, 0, 1 (item 6 has no training interaction).
  const recns::Dataset data = DatasetFromRows(
      8, {{0, 1}, {0, 1, 2}, {0, 1, 2, 3}, {0, 1, 2, 3, 4}, {0, 5, 7}}, {{6}, {6}, {6}, {6}, {6}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "pns",
                                "-sampler_num_negatives 4 -sampler_pns_beta " + std::to_string(beta), 2));
  const recns::Batch batch = fixture.MakeBatch(data, {{0, 1}});  // user 0: positives {0, 1}
  const double pop[] = {5, 4, 3, 2, 1, 1, 0, 1};
  std::vector<double> expected(8, 0);
  double total = 0;
  for (int j = 2; j < 8; ++j) total += pop[j] > 0 ? std::pow(pop[j], beta) : 0;
  for (int j = 2; j < 8; ++j) expected[j] = pop[j] > 0 ? std::pow(pop[j], beta) / total : 0;
  const int epochs = 20000;
  std::vector<double> hits(8, 0);
  for (uint32_t epoch = 0; epoch < (uint32_t)epochs; ++epoch) {
    recns::Negatives negatives;
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    for (int32_t item : negatives.item) hits[item] += 1;
  }
  const double draws = 4.0 * epochs;
  EXPECT_EQ(hits[0] + hits[1], 0) << "a positive was drawn";
  EXPECT_EQ(hits[6], 0) << "an item without training interactions was drawn";
  for (int j = 2; j < 8; ++j) {
    const double sigma = std::sqrt(draws * expected[j] * (1 - expected[j]));
    EXPECT_NEAR(hits[j], draws * expected[j], 5 * sigma) << "item " << j << " beta " << beta;
  }
}

TEST(pns_test, FrequenciesFollowPopularityToTheBeta) {
  CheckFrequencies(0.75);
  CheckFrequencies(1.0);
  CheckFrequencies(0.0);
}

// PNS's alias table over a large catalogue: an item of tiny weight is drawn with its weight's
// probability. Sampling cannot see this (the item's probability is about 3e-10), so the test
// counts exactly. Walker's construction leaves a small item only in its own column (aliases are
// large items), and the column word selects column k for the words w with
// floor(w * n / 2^32) = k; over those, and over every coin word, the draws that give the item
// are counted. For a fixed column word the draw is the item below the column's threshold and
// the alias from it on, so a binary search over the coin word counts them (it also counts a
// draw that ignores its coin word, 0 or 2^32 times).
TEST(pns_test, LowWeightItemHasExactProbability) {
  const int64_t n = 1000003;
  const double low = 3e-4;  // times the mean weight 1 of the other items
  std::vector<int32_t> items((size_t)n);
  std::vector<double> weights((size_t)n, 1.0);
  for (int64_t j = 0; j < n; ++j) items[j] = (int32_t)j;
  const int64_t low_items[] = {0, 500000};  // the one-word draw: 1.55x and 0.78x
  for (int64_t k : low_items) weights[k] = low;
  const recns::AliasTable table(items, weights);
  const double total = (double)(n - 2) + 2 * low;
  for (int64_t k : low_items) {
    const uint64_t first = ((uint64_t)k << 32 | (uint64_t)(n - 1)) / (uint64_t)n;  // ceil(k 2^32/n)
    const uint64_t end = ((uint64_t)(k + 1) << 32 | (uint64_t)(n - 1)) / (uint64_t)n;
    ASSERT_TRUE(first == 0 || table.Draw((uint32_t)(first - 1), 0) != (int32_t)k);
    ASSERT_TRUE(end > UINT32_MAX || table.Draw((uint32_t)end, 0) != (int32_t)k);
    long double count = 0;  // pairs (column word, coin word) drawing k, out of 2^64
    for (uint64_t column_word = first; column_word < end; ++column_word) {
      auto draws_k = [&](uint64_t coin) {
        return table.Draw((uint32_t)column_word, (uint32_t)coin) == (int32_t)k;
      };
      uint64_t below = 0, above = 1ull << 32;  // the first coin word not drawing k is in (below, above]
      if (!draws_k(0)) {
        above = 0;
      } else {
        while (above - below > 1) {
          const uint64_t middle = (below + above) / 2;
          (middle > UINT32_MAX || !draws_k(middle) ? above : below) = middle;
        }
        if (above <= UINT32_MAX) EXPECT_FALSE(draws_k(UINT32_MAX)) << "not a threshold coin";
      }
      count += (long double)above;
    }
    const double ratio = (double)(count / 18446744073709551616.0L) / (low / total);
    EXPECT_NEAR(ratio, 1.0, 1e-3) << "item " << k << " is drawn " << ratio
                                  << " times as often as its weight says";
  }
}

TEST(pns_test, UserHoldingEveryPopularItemIsAnInputError) {
  // Items 2 and 3 have no training interaction; user 0 holds both popular items 0 and 1.
  const recns::Dataset data = DatasetFromRows(4, {{0, 1}, {0}}, {{2}, {3}});
  SamplerFixture fixture;
  const std::string message = recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, data, "pns", "", 2));
  EXPECT_NE(message.find("user 0"), std::string::npos) << message;
  SamplerFixture negative_beta;
  const recns::Dataset fine = DatasetFromRows(4, {{0}, {1}}, {{2}, {3}});
  EXPECT_NE(recns::test::InputError(negative_beta.SetUp(PETSC_COMM_SELF, fine, "pns", "-sampler_pns_beta -1", 2))
                .find("-sampler_pns_beta"),
            std::string::npos);
}

}  // namespace
