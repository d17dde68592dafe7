// PNS (ALGORITHMS §4.2): frequencies ∝ pop^β over the user's non-positives, never an item without
// training interactions, never a positive.
#include <gtest/gtest.h>

#include <cmath>

#include "../sampler_fixture.hpp"

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
