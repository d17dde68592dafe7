// Samplers side by side: an options prefix per instance, a checkpoint group per instance, and a
// random stream per instance (instance 0 keeps a lone sampler's streams).
#include <gtest/gtest.h>

#include "../sampler_fixture.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;
using recns::test::WithOptions;

const recns::Dataset kData = DatasetFromRows(40, {{0, 4}, {1, 2, 3}, {5}}, {{5}, {9}, {7}});

PetscErrorCode MakeSampler(const recns::Graph& graph, const std::string& type,
                           const std::string& prefix, uint32_t instance,
                           std::unique_ptr<recns::Sampler>* sampler) {
  PetscFunctionBeginUser;
  PetscCall(recns::SamplerRegistry::Get().Create("sampler", type, PETSC_COMM_SELF, sampler));
  (*sampler)->SetOptionsPrefix(prefix);
  (*sampler)->SetInstance(instance);
  PetscCall((*sampler)->SetFromOptions());
  PetscCall((*sampler)->SetUp(graph));
  PetscFunctionReturn(PETSC_SUCCESS);
}

TEST(composition_test, EachInstanceReadsItsOwnOptionsAndNamesItsOwnGroup) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "uniform", "", 2));
  std::unique_ptr<recns::Sampler> first, second;
  ASSERT_PETSC_OK(WithOptions("-first_sampler_dns_candidates 3 -second_sampler_dns_candidates 9 "
                              "-second_sampler_num_negatives 2",
                              [&]() -> PetscErrorCode {
                                PetscFunctionBeginUser;
                                PetscCall(MakeSampler(fixture.graph, "dns", "first_", 1, &first));
                                PetscCall(MakeSampler(fixture.graph, "dns", "second_", 2, &second));
                                PetscFunctionReturn(PETSC_SUCCESS);
                              }));
  EXPECT_EQ(first->Describe(), "dns (M=3)");
  EXPECT_EQ(second->Describe(), "dns (M=9)");
  EXPECT_EQ(first->NegativesPerPair(), 1);
  EXPECT_EQ(second->NegativesPerPair(), 2);
  EXPECT_EQ(first->Group(), "/sampler/first");
  EXPECT_EQ(second->Group(), "/sampler/second");
  EXPECT_EQ(fixture.sampler->Group(), "/sampler");
}

TEST(composition_test, InstanceZeroKeepsTheStreamsAndOthersDrawTheirOwn) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "uniform", "-sampler_num_negatives 4", 2));
  std::unique_ptr<recns::Sampler> zero, one, two;
  ASSERT_PETSC_OK(WithOptions("-sampler_num_negatives 4", [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(MakeSampler(fixture.graph, "uniform", "", 0, &zero));
    PetscCall(MakeSampler(fixture.graph, "uniform", "", 1, &one));
    PetscCall(MakeSampler(fixture.graph, "uniform", "", 2, &two));
    PetscFunctionReturn(PETSC_SUCCESS);
  }));
  const recns::Batch batch = fixture.MakeBatch(kData, {{0, 4}, {1, 2}, {2, 5}});
  const recns::SampleContext context{&fixture.graph, fixture.model.get(), 7, 3};
  recns::Negatives lone, first, second, third;
  ASSERT_PETSC_OK(fixture.sampler->Sample(context, batch, &lone));
  ASSERT_PETSC_OK(zero->Sample(context, batch, &first));
  ASSERT_PETSC_OK(one->Sample(context, batch, &second));
  ASSERT_PETSC_OK(two->Sample(context, batch, &third));
  EXPECT_EQ(first.item, lone.item);
  // Twelve draws from 38 or more items: equal sequences would mean shared streams.
  EXPECT_NE(second.item, lone.item);
  EXPECT_NE(third.item, lone.item);
  EXPECT_NE(third.item, second.item);
  // Each instance's own stream: the lone sampler's stream with the instance's tag.
  recns::RandomStream stream(7, recns::RngPurpose::kNegative, 3,
                             (uint64_t)batch.pair[0] | (uint64_t)1 << 56);
  for (int s = 0; s < 4; ++s)
    EXPECT_EQ(second.item[s], recns::DrawUniformNegative(fixture.graph, batch.user[0], &stream));
}

}  // namespace

namespace {

// AutoSample lets the trainer defer the forward pass to the gathers only when every candidate
// reads rows only through them, and skip it before sampling only when no candidate scores.
TEST(composition_test, AutoSampleReadsGatheredRowsOnlyWhenEveryCandidateDoes) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "uniform", "", 2));
  const struct {
    const char* candidates;
    bool scores, gathers;
    int k;
  } cases[] = {{"uniform,dns", true, false, 2}, {"dns,bns", true, true, 2}, {"uniform,pns", false, false, 2}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.candidates);
    std::unique_ptr<recns::Sampler> autosample;
    ASSERT_PETSC_OK(WithOptions(std::string("-sampler_autosample_candidates ") + c.candidates,
                                [&]() -> PetscErrorCode {
                                  return MakeSampler(fixture.graph, "autosample", "", 0, &autosample);
                                }));
    EXPECT_EQ(autosample->ScoresItems(), c.scores);
    EXPECT_EQ(autosample->ReadsGatheredRows(), c.gathers);
    EXPECT_EQ(autosample->NegativesPerPair(), c.k);
  }
}

}  // namespace
