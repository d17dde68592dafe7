// DNS (ALGORITHMS §4.3): the highest-scored of the pair's first M uniform draws; M = 1 is the
// uniform sampler draw for draw.
#include <gtest/gtest.h>

#include "../sampler_fixture.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

const recns::Dataset kData = DatasetFromRows(10, {{0, 4}, {1, 2, 3}}, {{5}, {9}});

TEST(dns_test, PicksTheHighestScoredOfItsCandidates) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "dns",
                                "-sampler_dns_candidates 3 -sampler_num_negatives 2", 1));
  fixture.SetUserRow(0, {1});
  fixture.SetUserRow(1, {-1});
  // Item j scores j for user 0 and -j for user 1.
  for (int32_t j = 0; j < 10; ++j) fixture.SetItemRow(j, {(double)j});
  const recns::Batch batch = fixture.MakeBatch(kData, {{0, 4}, {1, 2}});
  for (uint32_t epoch = 0; epoch < 50; ++epoch) {
    recns::Negatives negatives;
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    ASSERT_EQ(negatives.item.size(), 4u);
    for (size_t b = 0; b < 2; ++b) {
      recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, (uint64_t)batch.pair[b]);
      for (int s = 0; s < 2; ++s) {
        int32_t best = -1;
        for (int c = 0; c < 3; ++c) {
          const int32_t candidate = recns::DrawUniformNegative(fixture.graph, batch.user[b], &stream);
          const double score = b == 0 ? candidate : -candidate;
          if (best < 0 || score > (b == 0 ? best : -best)) best = candidate;
        }
        EXPECT_EQ(negatives.item[b * 2 + s], best) << "epoch " << epoch << " pair " << b;
      }
    }
  }
}

TEST(dns_test, ManyCandidatesFindTheHardestNegative) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "dns", "-sampler_dns_candidates 200", 1));
  fixture.SetUserRow(0, {1});
  for (int32_t j = 0; j < 10; ++j) fixture.SetItemRow(j, {(double)(j % 7)});  // item 6 scores highest
  recns::Negatives negatives;
  ASSERT_PETSC_OK(fixture.Sample(fixture.MakeBatch(kData, {{0, 0}}), 0, &negatives));
  EXPECT_EQ(negatives.item, std::vector<int32_t>{6});
}

TEST(dns_test, OneCandidateIsTheUniformSampler) {
  SamplerFixture dns, uniform;
  ASSERT_PETSC_OK(dns.SetUp(PETSC_COMM_SELF, kData, "dns", "-sampler_dns_candidates 1 -sampler_num_negatives 3", 2));
  ASSERT_PETSC_OK(uniform.SetUp(PETSC_COMM_SELF, kData, "uniform", "-sampler_num_negatives 3", 2));
  const recns::Batch batch = dns.MakeBatch(kData, {{0, 0}, {1, 3}});
  for (uint32_t epoch = 0; epoch < 10; ++epoch) {
    recns::Negatives a, b;
    ASSERT_PETSC_OK(dns.Sample(batch, epoch, &a));
    ASSERT_PETSC_OK(uniform.Sample(batch, epoch, &b));
    EXPECT_EQ(a.item, b.item);
  }
}

TEST(dns_test, BadCandidateCountIsAnInputError) {
  SamplerFixture fixture;
  EXPECT_NE(recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, kData, "dns", "-sampler_dns_candidates 0", 2))
                .find("-sampler_dns_candidates"),
            std::string::npos);
}

}  // namespace
