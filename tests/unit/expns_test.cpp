// ExpNS (ALGORITHMS §4.8): every negative uniform over the user's exposures, a user without any
// drawing as the uniform sampler does, and a dataset without exposures refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "../sampler_fixture.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

// User 0 was shown items 5, 6 and 7; user 1 was shown nothing.
const recns::Dataset kData = DatasetFromRows(10, {{0, 4}, {1, 2, 3}}, {{8}, {9}}, {{5, 6, 7}, {}});

TEST(expns_test, DrawsUniformlyFromTheExposures) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "expns", "-sampler_num_negatives 4", 1));
  EXPECT_FALSE(fixture.sampler->ScoresItems());
  const recns::Batch batch = fixture.MakeBatch(kData, {{0, 0}, {0, 4}});
  std::map<int32_t, int> seen;
  const int epochs = 600;
  for (uint32_t epoch = 0; epoch < epochs; ++epoch) {
    recns::Negatives negatives;
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    ASSERT_EQ(negatives.item.size(), 8u);
    for (int32_t item : negatives.item) ++seen[item];
  }
  ASSERT_EQ(seen.size(), 3u);
  // 4800 draws, 1600 expected per item: a binomial standard deviation of about 33.
  for (int32_t item : {5, 6, 7}) EXPECT_NEAR(seen[item], 1600, 150) << "item " << item;
}

TEST(expns_test, UserWithoutExposuresDrawsUniformly) {
  SamplerFixture expns, uniform;
  ASSERT_PETSC_OK(expns.SetUp(PETSC_COMM_SELF, kData, "expns", "-sampler_num_negatives 3", 1));
  ASSERT_PETSC_OK(uniform.SetUp(PETSC_COMM_SELF, kData, "uniform", "-sampler_num_negatives 3", 1));
  const recns::Batch batch = expns.MakeBatch(kData, {{1, 2}, {1, 3}});
  for (uint32_t epoch = 0; epoch < 20; ++epoch) {
    recns::Negatives a, b;
    ASSERT_PETSC_OK(expns.Sample(batch, epoch, &a));
    ASSERT_PETSC_OK(uniform.Sample(batch, epoch, &b));
    EXPECT_EQ(a.item, b.item);
  }
}

TEST(expns_test, DatasetWithoutExposuresIsAnInputError) {
  SamplerFixture fixture;
  const recns::Dataset plain = DatasetFromRows(10, {{0, 4}, {1, 2, 3}}, {{8}, {9}});
  const std::string message = recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, plain, "expns", "", 1));
  EXPECT_NE(message.find("no /exposure split"), std::string::npos) << message;
  EXPECT_NE(message.find("<memory>"), std::string::npos) << message;  // the dataset's path
}

}  // namespace
