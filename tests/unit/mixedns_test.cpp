// MixedNS (ALGORITHMS §4.8): with probability ω a uniform exposure, otherwise a uniform item
// neither interacted with nor exposed; the fallbacks of users without exposures and of users
// with no such item; the option's range and a dataset without exposures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "../sampler_fixture.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

// User 0: trained on 0 and 4, shown 5, 6, 7 (the rest, 1 2 3 8 9, is neither). User 1: no
// exposures. User 2: trained on 0..4 and shown 5..9, so nothing is left outside both.
const recns::Dataset kData = DatasetFromRows(10, {{0, 4}, {1, 2, 3}, {0, 1, 2, 3, 4}},
                                             {{8}, {9}, {}}, {{5, 6, 7}, {}, {5, 6, 7, 8, 9}});

bool Exposed(int32_t item) { return item >= 5 && item <= 7; }

/// The fraction of user 0's draws that are exposures over many epochs, checking that the others
/// are neither interacted with nor exposed, and that both kinds are spread evenly.
double ExposedShare(const std::string& options) {
  SamplerFixture fixture;
  EXPECT_EQ(fixture.SetUp(PETSC_COMM_SELF, kData, "mixedns", options + " -sampler_num_negatives 5", 1), 0);
  const recns::Batch batch = fixture.MakeBatch(kData, {{0, 0}, {0, 4}});
  std::map<int32_t, int> seen;
  int exposed = 0, total = 0;
  for (uint32_t epoch = 0; epoch < 400; ++epoch) {
    recns::Negatives negatives;
    EXPECT_EQ(fixture.Sample(batch, epoch, &negatives), 0);
    for (int32_t item : negatives.item) {
      EXPECT_TRUE(item != 0 && item != 4) << "a training item was drawn";
      ++seen[item];
      exposed += Exposed(item) ? 1 : 0;
      ++total;
    }
  }
  for (const auto& [item, count] : seen) {
    // Each exposure has share ω/3, each other item (1-ω)/5 of the draws.
    const double share = (double)count / total, expected_share = Exposed(item) ? (double)exposed / total / 3
                                                                               : (1.0 - (double)exposed / total) / 5;
    EXPECT_NEAR(share, expected_share, 0.03) << "item " << item;
  }
  return (double)exposed / total;
}

TEST(mixedns_test, ExposureProbability) {
  EXPECT_EQ(ExposedShare("-sampler_mixedns_exposure_probability 0"), 0.0);
  EXPECT_EQ(ExposedShare("-sampler_mixedns_exposure_probability 1"), 1.0);
  // 4000 draws: a binomial standard deviation of about 0.0072 around ω.
  EXPECT_NEAR(ExposedShare("-sampler_mixedns_exposure_probability 0.3"), 0.3, 0.03);
  EXPECT_NEAR(ExposedShare(""), 0.5, 0.03);
}

TEST(mixedns_test, Fallbacks) {
  SamplerFixture mixed, uniform;
  ASSERT_PETSC_OK(mixed.SetUp(PETSC_COMM_SELF, kData, "mixedns", "-sampler_num_negatives 3", 1));
  ASSERT_PETSC_OK(uniform.SetUp(PETSC_COMM_SELF, kData, "uniform", "-sampler_num_negatives 3", 1));
  EXPECT_FALSE(mixed.sampler->ScoresItems());
  EXPECT_EQ(mixed.sampler->Describe(), "mixedns (omega=0.5)");
  // User 1 has no exposures: uniform over I \ I_u, draw for draw.
  const recns::Batch no_exposures = mixed.MakeBatch(kData, {{1, 2}, {1, 3}});
  // User 2 has nothing outside I_u ∪ E_u: every draw is an exposure.
  const recns::Batch covered = mixed.MakeBatch(kData, {{2, 1}, {2, 3}});
  for (uint32_t epoch = 0; epoch < 50; ++epoch) {
    recns::Negatives a, b, c;
    ASSERT_PETSC_OK(mixed.Sample(no_exposures, epoch, &a));
    ASSERT_PETSC_OK(uniform.Sample(no_exposures, epoch, &b));
    EXPECT_EQ(a.item, b.item);
    ASSERT_PETSC_OK(mixed.Sample(covered, epoch, &c));
    for (int32_t item : c.item) EXPECT_GE(item, 5);
  }
}

TEST(mixedns_test, InputErrors) {
  for (const char* bad : {"-sampler_mixedns_exposure_probability -0.1",
                          "-sampler_mixedns_exposure_probability 1.5"}) {
    SamplerFixture fixture;
    EXPECT_NE(recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, kData, "mixedns", bad, 1))
                  .find("-sampler_mixedns_exposure_probability"),
              std::string::npos);
  }
  SamplerFixture fixture;
  const recns::Dataset plain = DatasetFromRows(10, {{0, 4}, {1, 2, 3}}, {{8}, {9}});
  EXPECT_NE(recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, plain, "mixedns", "", 1))
                .find("no /exposure split"),
            std::string::npos);
}

}  // namespace
