// MixGCF (ALGORITHMS §4.6): the gradient of its synthetic negatives (paths into the positive's and
// the chosen candidates' layer rows, the L2 of the mixed layer-0 vector), the same trajectory at
// any rank count, the choice rule against a hand computation, and a step in which some ranks
// have no pair of the batch.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../restart_checks.hpp"
#include "../sampler_fixture.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"
#include "recns/sampler.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;
using recns::test::DatasetFromRows;
using recns::test::TinyDataset;
using recns::test::WithOptions;

// CheckGradient samples once and holds the choices fixed; its base options give K = 2.
TEST(mixgcf_test, GradientLightGCN) {
  CheckGradient("-model_type lightgcn -model_layers 2 -sampler_type mixgcf "
                "-sampler_mixgcf_candidates 3 -sampler_num_negatives 1");
  CheckGradient("-model_type lightgcn -model_layers 2 -sampler_type mixgcf "
                "-sampler_mixgcf_candidates 3");
}

TEST(mixgcf_test, GradientMF) {
  CheckGradient("-model_type mf -sampler_type mixgcf -sampler_mixgcf_candidates 3");
}

TEST(mixgcf_test, GradientKPairLoss) {
  CheckGradient("-model_type lightgcn -model_layers 2 -sampler_type mixgcf "
                "-sampler_mixgcf_candidates 3 -sampler_num_negatives 2 -loss_type kpair");
}

// With NGCF the layers are concatenated: each layer's mixed row fills its own slice, and the
// gradient reaches NGCF's weights through the layer rows.
TEST(mixgcf_test, GradientNGCF) {
  CheckGradient("-model_type ngcf -model_layers 2 -sampler_type mixgcf -sampler_mixgcf_candidates 3");
}

TEST(mixgcf_test, SameForAnyRankCountWithNGCF) {
  CheckSameForAnyRankCount(TinyDataset(40, 30, 11),
                           "-model_type ngcf -model_layers 2 -model_dim 8 -train_epochs 3 "
                           "-train_batch_size 16 -optimizer_lr 0.02 -sampler_type mixgcf "
                           "-sampler_mixgcf_candidates 4",
                           1e-9);
}

TEST(mixgcf_test, SameForAnyRankCount) {
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_epochs 3 -train_batch_size 16 "
      "-eval_sampling_quality -optimizer_lr 0.02 -sampler_type mixgcf -sampler_mixgcf_candidates 4 ";
  for (const char* extra : {"", "-sampler_num_negatives 3 -loss_type kpair"}) {
    SCOPED_TRACE(extra);
    CheckSameForAnyRankCount(TinyDataset(40, 30, 11), common + extra, 1e-9);
  }
}

// The choice rule by hand: the layer rows from a dense Â, the candidates and α from the pair's
// stream, the mixed rows' scores against the pooled user, the first highest per layer; then the
// negative's terms and its L2 vector.
TEST(mixgcf_test, ChoosesPerLayerTheBestMixedCandidate) {
  // Users 0..2, items 0..6; user 0's negatives are items 1, 3, 4, 5, 6.
  const std::vector<std::vector<int32_t>> train = {{0, 2}, {1, 2, 3, 5}, {3, 4, 6}};
  const Dataset data = DatasetFromRows(7, train, {{1}, {0}, {5}});
  const int64_t U = 3, N = 10;
  const int d = 3, n_negs = 3, k = 2;
  for (int layers : {0, 2}) {
    SCOPED_TRACE(layers);
    ASSERT_PETSC_OK(recns::InitializePackage());
    recns::Graph graph;
    ASSERT_PETSC_OK(graph.Build(PETSC_COMM_SELF, data));
    std::unique_ptr<recns::Model> model;
    std::unique_ptr<recns::Sampler> sampler;
    const std::string options = "-model_dim 3 -model_layers " + std::to_string(layers) +
                                " -sampler_mixgcf_candidates 3 -sampler_num_negatives 2";
    ASSERT_PETSC_OK(WithOptions(options, [&]() -> PetscErrorCode {
      PetscFunctionBeginUser;
      PetscCall(recns::ModelRegistry::Get().Create(
          "model", layers == 0 ? recns::kModelMF : recns::kModelLightGCN, PETSC_COMM_SELF, &model));
      PetscCall(model->SetFromOptions());
      PetscCall(model->SetUp(graph, 1));
      PetscCall(recns::SamplerRegistry::Get().Create("sampler", "mixgcf", PETSC_COMM_SELF, &sampler));
      PetscCall(sampler->SetFromOptions());
      PetscCall(sampler->SetUp(graph));
      PetscFunctionReturn(PETSC_SUCCESS);
    }));
    EXPECT_EQ(sampler->Describe(), "mixgcf (n_negs=3, K=2)");
    // Ego rows of the dataset nodes (one rank: local row = node), and the layers by hand.
    Eigen::MatrixXd e0(N, d);
    for (int64_t n = 0; n < N; ++n)
      for (int c = 0; c < d; ++c) e0(n, c) = std::sin(1.7 * (double)n + 2.3 * c + 0.4);
    for (int64_t n = 0; n < N; ++n) model->Ego().row(n) = e0.row(n);
    ASSERT_PETSC_OK(model->Forward());
    Eigen::VectorXd degree = Eigen::VectorXd::Zero(N);
    for (int64_t u = 0; u < U; ++u)
      for (int32_t i : train[(size_t)u]) degree[u] += 1, degree[U + i] += 1;
    Eigen::MatrixXd adjacency = Eigen::MatrixXd::Zero(N, N);
    for (int64_t u = 0; u < U; ++u)
      for (int32_t i : train[(size_t)u])
        adjacency(u, U + i) = adjacency(U + i, u) = 1.0 / std::sqrt(degree[u] * degree[U + i]);
    std::vector<Eigen::MatrixXd> layer = {e0};
    for (int l = 0; l < layers; ++l) layer.push_back(adjacency * layer.back());
    Eigen::MatrixXd pooled = Eigen::MatrixXd::Zero(N, d);
    for (const auto& rows : layer) pooled += rows / (layers + 1);

    recns::Batch batch;
    batch.global_size = 1;
    batch.pair = {1};  // user 0's second pair: item 2
    batch.user = {0};
    batch.item = {2};
    int differ_across_layers = 0;
    for (uint32_t epoch = 0; epoch < 40; ++epoch) {
      recns::Negatives negatives;
      ASSERT_PETSC_OK(sampler->Sample(recns::SampleContext{&graph, model.get(), 7, epoch}, batch,
                                      &negatives));
      ASSERT_EQ(negatives.offset.size(), (size_t)k + 1);
      ASSERT_EQ(negatives.l2_offset.size(), (size_t)k + 1);
      EXPECT_TRUE(negatives.HasLayerTerms());
      recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, 1);
      std::vector<int32_t> candidates;
      for (int c = 0; c < k * n_negs; ++c)
        candidates.push_back(recns::DrawUniformNegative(graph, 0, &stream));
      for (int s = 0; s < k; ++s) {
        std::vector<double> alpha;
        for (int l = 0; l <= layers; ++l) alpha.push_back(stream.NextUniform());
        std::vector<int32_t> chosen;
        for (int l = 0; l <= layers; ++l) {
          int32_t best = -1;
          double best_score = 0;
          for (int c = 0; c < n_negs; ++c) {
            const int32_t item = candidates[(size_t)(s * n_negs + c)];
            const Eigen::RowVectorXd mixed =
                alpha[l] * layer[l].row(U + 2) + (1 - alpha[l]) * layer[l].row(U + item);
            const double score = pooled.row(0).dot(mixed);
            if (best < 0 || score > best_score) best = item, best_score = score;
          }
          chosen.push_back(best);
        }
        if (layers > 0 && chosen.front() != chosen.back()) ++differ_across_layers;
        const int64_t t0 = negatives.offset[s];
        ASSERT_EQ(negatives.offset[s + 1] - t0, 2 * (layers + 1));
        for (int l = 0; l <= layers; ++l) {
          const int64_t t = t0 + 2 * l;
          EXPECT_EQ(negatives.item[t], 2);
          EXPECT_EQ(negatives.TermLayer(t), l);
          EXPECT_EQ(negatives.weight[t], alpha[l]);
          EXPECT_EQ(negatives.item[t + 1], chosen[l]) << "epoch " << epoch << " slot " << s << " layer " << l;
          EXPECT_EQ(negatives.TermLayer(t + 1), l);
          EXPECT_EQ(negatives.weight[t + 1], 1 - alpha[l]);
        }
        const int64_t v = negatives.l2_offset[s];
        ASSERT_EQ(negatives.l2_offset[s + 1] - v, 2);
        EXPECT_EQ(negatives.l2_item[v], 2);
        EXPECT_EQ(negatives.l2_weight[v], alpha[0]);
        EXPECT_EQ(negatives.l2_item[v + 1], chosen[0]);
        EXPECT_EQ(negatives.l2_weight[v + 1], 1 - alpha[0]);
      }
    }
    if (layers > 0) EXPECT_GT(differ_across_layers, 0);
  }
}

TEST(mixgcf_test, OptionsAndDescription) {
  const Dataset data = TinyDataset(9, 11, 3);
  recns::test::SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_WORLD, data, "mixgcf", "", 2));
  EXPECT_EQ(fixture.sampler->Describe(), "mixgcf (n_negs=16, K=1)");
  EXPECT_TRUE(fixture.sampler->ScoresItems());
  recns::test::SamplerFixture bad;
  EXPECT_NE(recns::test::InputError(
                bad.SetUp(PETSC_COMM_WORLD, data, "mixgcf", "-sampler_mixgcf_candidates 0", 2))
                .find("-sampler_mixgcf_candidates"),
            std::string::npos);
}

// A step whose pairs all belong to rank 0's users: the other ranks still take part in the
// exchanges of layer and ego rows, and the loss is that of the same pairs on one rank.
TEST(mixgcf_test, RanksWithoutPairsInTheStep) {
  const Dataset data = TinyDataset(40, 30, 11);
  const std::string options =
      "-model_type lightgcn -model_layers 2 -model_dim 4 -loss_l2 0.3 -sampler_type mixgcf "
      "-sampler_mixgcf_candidates 3 -sampler_num_negatives 2 -checkpoint_dir \"\" -metrics_file \"\"";
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  auto loss_on = [&](MPI_Comm comm, double* loss) -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Trainer trainer(comm);
    PetscCall(trainer.SetFromOptions());
    PetscCall(trainer.SetUp(data));
    const recns::Layout& layout = trainer.GetGraph().GetLayout();
    recns::Batch batch;
    batch.global_size = 3;
    for (int64_t user : {0, 1, 2}) {  // rank 0 owns the first users
      if (user < layout.UserBegin() || user >= layout.UserBegin() + layout.LocalUsers()) continue;
      batch.pair.push_back(data.train.indptr[user]);
      batch.user.push_back((int32_t)(user - layout.UserBegin()));
      batch.item.push_back(data.train.indices[data.train.indptr[user]]);
    }
    int64_t pairs = (int64_t)batch.Size();
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &pairs, 1, MPI_INT64_T, MPI_SUM, comm));
    PetscCheck(pairs == 3, comm, PETSC_ERR_PLIB, "rank 0 should own users 0..2");
    recns::Negatives negatives;
    PetscCall(trainer.GetModel().Forward());
    recns::SampleContext context{&trainer.GetGraph(), &trainer.GetModel(), trainer.Seed(), 0};
    PetscCall(trainer.GetSampler().Sample(context, batch, &negatives));
    PetscCall(trainer.LossAndGradient(batch, negatives, loss));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  double world_loss = 0, single_loss = 0;
  ASSERT_PETSC_OK(WithOptions(options, [&]() { return loss_on(PETSC_COMM_WORLD, &world_loss); }));
  MPI_Comm single;
  MPI_Comm_split(PETSC_COMM_WORLD, world_rank == 0 ? 0 : MPI_UNDEFINED, 0, &single);
  if (single != MPI_COMM_NULL) {
    ASSERT_PETSC_OK(WithOptions(options, [&]() { return loss_on(single, &single_loss); }));
    MPI_Comm_free(&single);
    EXPECT_NEAR(world_loss, single_loss, 1e-12 * std::fabs(single_loss));
    EXPECT_GT(single_loss, 0);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

// MixGCF keeps no state between steps: a run resumed from a checkpoint ends where an
// uninterrupted one does, to the bit on as many ranks and to rounding on another count.
TEST(mixgcf_test, ResumedRunEqualsUninterruptedRun) {
  const Dataset data = recns::test::TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "mixgcf_restart");
  const std::string options =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
      "-sampler_type mixgcf -sampler_mixgcf_candidates 4 -eval_sampling_quality -metrics_file \"\"";
  recns::test::ExpectResumedEqualsStraight(data, options, scratch);
}

}  // namespace
