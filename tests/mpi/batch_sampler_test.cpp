// Global batches and uniform negatives at any rank count: every training pair is visited once
// per epoch, in the seeded global order, by the rank owning its user; uniform negatives are never
// training items of their user and are spread evenly over the other items.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "../test_util.hpp"
#include "recns/batcher.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"
#include "recns/synthetic.hpp"

namespace {

recns::Dataset SmallDataset() {
  recns::SyntheticOptions options;
  options.num_users = 50;
  options.num_items = 40;
  options.mean_degree = 8;
  options.communities = 4;
  options.seed = 5;
  recns::Dataset data;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), 0);
  return data;
}

TEST(batcher_test, EveryPairOncePerEpochInTheGlobalOrder) {
  const recns::Dataset data = SmallDataset();
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const int64_t nnz = data.train.Nnz(), batch_size = 13;
  recns::Batcher batcher;
  batcher.SetUp(graph, batch_size, 77);
  const recns::RandomPermutation order(77, recns::RngPurpose::kEpochOrder, 2, (uint64_t)nnz);
  std::vector<int64_t> visits(nnz, 0);
  recns::Batch batch;
  for (int64_t step = 0; step < batcher.StepsPerEpoch(); ++step) {
    batcher.Fill(2, step, &batch);
    std::set<int64_t> expected;
    for (int64_t q = step * batch_size; q < std::min((step + 1) * batch_size, nnz); ++q)
      expected.insert((int64_t)order((uint64_t)q));
    EXPECT_EQ(batch.global_size, (int64_t)expected.size());
    for (size_t b = 0; b < batch.Size(); ++b) {
      EXPECT_TRUE(expected.count(batch.pair[b])) << "pair " << batch.pair[b] << " not in step " << step;
      const int64_t user = graph.GetLayout().UserBegin() + batch.user[b];
      EXPECT_GE(batch.pair[b], data.train.indptr[user]);
      EXPECT_LT(batch.pair[b], data.train.indptr[user + 1]);
      EXPECT_EQ(batch.item[b], data.train.indices[batch.pair[b]]);
      ++visits[batch.pair[b]];
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, visits.data(), (int)nnz, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
  for (int64_t p = 0; p < nnz; ++p) EXPECT_EQ(visits[p], 1) << "pair " << p;
}

TEST(uniform_sampler_test, NegativesAvoidPositivesAndAreUniform) {
  const recns::Dataset data = SmallDataset();
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  ASSERT_PETSC_OK(recns::InitializePackage());
  std::unique_ptr<recns::Sampler> sampler;
  ASSERT_PETSC_OK(recns::SamplerRegistry::Get().Create("sampler", "uniform", PETSC_COMM_WORLD, &sampler));
  sampler->SetNegativesPerPair(5);
  ASSERT_PETSC_OK(sampler->SetUp(graph));
  // The first local user with training items, as the one pair of many "epochs".
  const recns::Layout& layout = graph.GetLayout();
  int64_t local_user = 0, count = 0;
  const int32_t* positives = nullptr;
  for (; local_user < layout.LocalUsers(); ++local_user) {
    positives = graph.TrainItems(local_user, &count);
    if (count > 0) break;
  }
  ASSERT_LT(local_user, layout.LocalUsers());
  const int64_t pair = data.train.indptr[layout.UserBegin() + local_user];
  recns::Batch batch;
  batch.global_size = 1;
  batch.pair = {pair};
  batch.user = {(int32_t)local_user};
  batch.item = {positives[0]};
  std::vector<int> hits(layout.NumItems(), 0);
  const int epochs = 4000;
  recns::Negatives negatives;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    recns::SampleContext context{&graph, nullptr, 9, (uint32_t)epoch};
    ASSERT_PETSC_OK(sampler->Sample(context, batch, &negatives));
    ASSERT_EQ(negatives.item.size(), 5u);
    for (int32_t item : negatives.item) ++hits[item];
  }
  const double expected = 5.0 * epochs / (double)(layout.NumItems() - count);
  for (int32_t item = 0; item < layout.NumItems(); ++item) {
    if (std::binary_search(positives, positives + count, item))
      EXPECT_EQ(hits[item], 0) << "positive item " << item << " drawn as a negative";
    else
      EXPECT_NEAR(hits[item], expected, 5 * std::sqrt(expected)) << "item " << item;
  }
}

TEST(uniform_sampler_test, UserWithEveryItemIsAnInputError) {
  recns::Dataset data = SmallDataset();
  // User 0 interacts with every item: no negative exists for it.
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr = {0};
  for (int64_t u = 0; u < data.num_users; ++u) {
    if (u == 0)
      for (int32_t i = 0; i < data.num_items; ++i) indices.push_back(i);
    else
      indices.insert(indices.end(), data.train.indices.begin() + data.train.indptr[u],
                     data.train.indices.begin() + data.train.indptr[u + 1]);
    indptr.push_back((int64_t)indices.size());
  }
  data.train.indptr = indptr;
  data.train.indices = indices;
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  std::unique_ptr<recns::Sampler> sampler;
  ASSERT_PETSC_OK(recns::SamplerRegistry::Get().Create("sampler", "uniform", PETSC_COMM_WORLD, &sampler));
  const std::string message = recns::test::InputError(sampler->SetUp(graph));
  EXPECT_NE(message.find("user 0 has interacted with every item"), std::string::npos) << message;
}

}  // namespace
