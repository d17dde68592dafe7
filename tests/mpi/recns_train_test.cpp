// RecNS in training (ALGORITHMS §6): finite differences through the merged negatives and the
// augmented hinge with every encoder, the gradient's paths (the exposed item and its neighbours
// reached, the exposed item left out of L2), the same trajectory at 1, 2 and 4 ranks, and a
// resumed run equal to an uninterrupted one.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <string>
#include <vector>

#include "../restart_checks.hpp"
#include "../sampler_fixture.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;
using recns::test::TinyDatasetWithExposures;
using recns::test::WithOptions;

// CheckGradient samples once and holds the choices fixed; its base options give k = 2. The
// dataset has exposures, so the exposed negatives come from E_u (Mu := C_u for users without).
const char* const kRecNS = "-sampler_type recns -sampler_recns_candidates 3 -loss_type hinge ";

TEST(recns_train_test, GradientLightGCN) {
  const Dataset data = TinyDatasetWithExposures(9, 16, 3);
  for (const char* variant : {"", "-sampler_recns_merge nested -sampler_recns_weighting exp_sigmoid",
                              "-sampler_recns_positive_assisted false -sampler_recns_region global",
                              "-sampler_recns_exposure_augmented false -loss_hinge_margin 0.3"}) {
    SCOPED_TRACE(variant);
    CheckGradient(std::string("-model_type lightgcn -model_layers 2 ") + kRecNS + variant, data);
  }
}

TEST(recns_train_test, GradientMFAndNGCF) {
  const Dataset data = TinyDatasetWithExposures(9, 16, 3);
  CheckGradient(std::string("-model_type mf ") + kRecNS, data);
  CheckGradient(std::string("-model_type ngcf -model_layers 2 ") + kRecNS, data);
}

// PinSage's rows are unit vectors, and so are its merged negatives.
TEST(recns_train_test, GradientPinSageNormalisedMerge) {
  const Dataset data = TinyDatasetWithExposures(9, 16, 3);
  CheckGradient(std::string("-model_type pinsage -model_dim 3 -model_pinsage_width 4 "
                            "-model_pinsage_fanouts 2,3 -model_init normal ") + kRecNS, data);
}

// Where the gradient goes, on a hand-made case. User 0 (positive item 0) has the region
// {1, 2, 3, 4} and was shown {2, 3, 5, 6}; without positive assistance its negatives are the
// hardest candidate, item 1, and the exposed negative is item 5, with MF's rows (β s_ue for items
// 2, 3, 5, 6: 2·0.2, 2·(-1), 1.5, 0.2) as with one LightGCN layer's (about 0.05, 0.16, 0.28,
// 0.01). Item 5's only user is user 2, which no other row of the step reaches through one
// LightGCN layer. So: item 5's and user 2's ego rows get a gradient, and L2 changes item 1's
// gradient but not item 5's.
TEST(recns_train_test, GradientReachesTheExposedItemNotItsL2) {
  // Users 3 and 4 only share items with each other, so that 4 ranks have a user each.
  const Dataset data = recns::test::DatasetFromRows(
      12, {{0}, {0, 1, 2, 3, 4}, {5, 6, 7}, {9, 10}, {10, 11}}, {{8}, {5}, {9}, {8}, {8}},
      {{2, 3, 5, 6}, {6, 7, 8, 9, 10, 11}, {}, {}, {}});
  const int64_t U = 5, N = 17;
  const std::vector<std::vector<double>> users = {{1, 0}, {0.5, -1}, {-1, 0.5}, {0.3, 0.3}, {-0.2, 0.6}};
  const std::vector<std::vector<double>> items = {{0, 1},     {2, -1},     {0.2, 0},   {-1, 2},
                                                  {-2, -2},   {1.5, 0},    {0.2, 0.3}, {0.7, -0.4},
                                                  {-0.3, 0.9}, {0.4, 0.4}, {-0.8, 0.1}, {0.6, 1.2}};
  for (const char* model : {"-model_type mf", "-model_type lightgcn -model_layers 1"}) {
    SCOPED_TRACE(model);
    std::vector<std::vector<double>> ego_grads[2];  // per L2 weight: the dataset nodes' gradients
    for (int with_l2 = 0; with_l2 < 2; ++with_l2) {
      const std::string options = std::string(model) +
                                  " -model_dim 2 -sampler_type recns -sampler_recns_candidates 4 "
                                  "-sampler_recns_positive_assisted false -sampler_num_negatives 3 "
                                  "-loss_type hinge -checkpoint_dir \"\" -metrics_file \"\" -loss_l2 " +
                                  (with_l2 ? "0.5" : "0");
      ASSERT_PETSC_OK(WithOptions(options, [&]() -> PetscErrorCode {
        PetscFunctionBeginUser;
        recns::Trainer trainer(PETSC_COMM_WORLD);
        PetscCall(trainer.SetFromOptions());
        PetscCall(trainer.SetUp(data));
        recns::Model& m = trainer.GetModel();
        const recns::Layout& layout = trainer.GetGraph().GetLayout();
        for (int64_t r = 0; r < layout.LocalRows(); ++r) {
          const int64_t node = recns::test::DatasetNode(layout, r);
          const std::vector<double>& row = node < U ? users[node] : items[node - U];
          m.Ego()(r, 0) = row[0];
          m.Ego()(r, 1) = row[1];
        }
        recns::Batch batch;
        batch.global_size = 1;
        if (layout.UserBegin() == 0 && layout.LocalUsers() > 0) {
          batch.pair = {0};
          batch.user = {0};
          batch.item = {0};
        }
        recns::Negatives negatives;
        PetscCall(m.Forward());
        recns::SampleContext context{&trainer.GetGraph(), &m, trainer.Seed(), 0};
        PetscCall(trainer.GetSampler().Sample(context, batch, &negatives));
        if (batch.Size() == 1) {
          for (int t = 0; t < 3; ++t) {
            EXPECT_EQ(negatives.item[negatives.offset[t]], 1);
            EXPECT_EQ(negatives.item[negatives.offset[t + 1] - 1], 5);
          }
        }
        double loss;
        PetscCall(trainer.LossAndGradient(batch, negatives, &loss));
        // Every node's ego gradient on every rank, in dataset node order.
        std::vector<double> local(N * 2, 0.0), all(N * 2);
        for (int64_t r = 0; r < layout.LocalRows(); ++r)
          for (int c = 0; c < 2; ++c) local[recns::test::DatasetNode(layout, r) * 2 + c] = m.EgoGrad()(r, c);
        PetscCallMPI(MPI_Allreduce(local.data(), all.data(), (int)N * 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
        for (int64_t n = 0; n < N; ++n) ego_grads[with_l2].push_back({all[2 * n], all[2 * n + 1]});
        PetscFunctionReturn(PETSC_SUCCESS);
      }));
    }
    const int64_t item1 = U + 1, item5 = U + 5, user2 = 2;
    auto nonzero = [](const std::vector<double>& g) { return g[0] != 0 || g[1] != 0; };
    EXPECT_TRUE(nonzero(ego_grads[0][item5])) << "the exposed item";
    EXPECT_TRUE(nonzero(ego_grads[0][item1])) << "the positive-assisted item";
    EXPECT_EQ(ego_grads[0][item5], ego_grads[1][item5]) << "L2 reached the exposed item";
    EXPECT_NE(ego_grads[0][item1], ego_grads[1][item1]) << "L2 missed the positive-assisted item";
    if (std::string(model).find("lightgcn") != std::string::npos)
      EXPECT_TRUE(nonzero(ego_grads[0][user2])) << "the exposed item's neighbour";
    else
      EXPECT_FALSE(nonzero(ego_grads[0][user2]));
  }
}

// RecNS chooses by the pair alone: the same trajectory at any rank count, with every encoder.
TEST(recns_train_test, SameForAnyRankCount) {
  const Dataset data = TinyDatasetWithExposures(60, 50, 11);
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_epochs 3 -train_batch_size 16 "
      "-eval_sampling_quality -optimizer_lr 0.02 -sampler_type recns -sampler_recns_candidates 6 ";
  for (const char* variant :
       {"-sampler_num_negatives 4 -loss_type hinge",
        "-sampler_recns_merge nested -sampler_recns_weighting exp_sigmoid -sampler_recns_khop 5",
        "-sampler_recns_region distant -sampler_recns_positive_assisted false -model_type ngcf",
        "-sampler_recns_alpha 0.5 -model_type mf -loss_type hinge"}) {
    SCOPED_TRACE(variant);
    CheckSameForAnyRankCount(data, common + variant, 1e-9);
  }
}

// RecNS keeps no state between steps and rebuilds its region at set-up: a run resumed from a
// checkpoint ends where an uninterrupted one does, to the bit on as many ranks and to rounding
// on another count.
TEST(recns_train_test, ResumedRunEqualsUninterruptedRun) {
  const Dataset data = TinyDatasetWithExposures(60, 50, 11, 0.15);
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "recns_restart");
  const std::string options =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
      "-sampler_type recns -sampler_recns_candidates 6 -sampler_num_negatives 4 -loss_type hinge "
      "-eval_sampling_quality -metrics_file \"\"";
  recns::test::ExpectResumedEqualsStraight(data, options, scratch);
}

// The exposure baselines draw from the pair's stream alone: a resumed run is the same run.
TEST(recns_train_test, ExposureSamplersResumeExactly) {
  const Dataset data = TinyDatasetWithExposures(60, 50, 11, 0.15);
  for (const char* sampler : {"expns", "mixedns"}) {
    SCOPED_TRACE(sampler);
    const std::string scratch =
        recns::test::ScratchDir(PETSC_COMM_WORLD, std::string(sampler) + "_restart");
    const std::string options =
        "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
        "-sampler_num_negatives 2 -eval_sampling_quality -metrics_file \"\" -sampler_type " +
        std::string(sampler);
    recns::test::ExpectResumedEqualsStraight(data, options, scratch);
  }
}

}  // namespace
