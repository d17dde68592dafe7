// AutoSample (ALGORITHMS §10, decision 7): the group losses and the logits' gradient against a
// hand computation, finite differences of the whole objective (logits included, the step's
// Gumbel draws fixed by their counter stream), the same logits at any rank count, restart
// exactness of the logits and their Adam moments across and between the two stages, and the
// retrain stage's choice.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../restart_checks.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/loss.hpp"
#include "recns/rng.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::test::CheckGradient;
using recns::test::TinyDataset;
using recns::test::WithOptions;

/// The Gumbel noise of (seed, epoch, step) for T candidates, as the sampler draws it.
std::vector<double> Gumbel(uint64_t seed, uint32_t epoch, int64_t step, int T) {
  recns::RandomStream stream(seed, recns::RngPurpose::kSampler, epoch, (4ull << 52) | (uint64_t)step);
  std::vector<double> g((size_t)T);
  for (double& value : g) value = -std::log(-std::log(stream.NextUniform() + 0x1p-54));
  return g;
}

/// On a communicator of world rank 0 alone: two candidates, MF, no L2; the loss is
/// Σ_t p_t L_t with L_t the batch BPR of candidate t's negatives, p = softmax((θ + g)/τ) at a
/// chosen θ, and dL/dθ_i = p_i (L_i - Σ p_t L_t) / τ.
TEST(autosample_test, GroupLossesAndLogitGradientByHand) {
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm one;
  MPI_Comm_split(PETSC_COMM_WORLD, world_rank == 0 ? 0 : MPI_UNDEFINED, 0, &one);
  if (one != MPI_COMM_NULL) {
    const Dataset data = TinyDataset(9, 11, 3);
    for (const char* straight : {"false", "true"}) {
      SCOPED_TRACE(straight);
      const std::string options =
          std::string("-model_type mf -model_dim 3 -loss_l2 0 -train_batch_size 12 "
                      "-model_init_std 0.5 -checkpoint_dir \"\" -sampler_type autosample "
                      "-sampler_autosample_candidates uniform,pns -sampler_autosample_tau 0.7 "
                      "-sampler_autosample_straight_through ") + straight;
      ASSERT_PETSC_OK(WithOptions(options, [&]() -> PetscErrorCode {
        PetscFunctionBeginUser;
        recns::Trainer trainer(one);
        PetscCall(trainer.SetFromOptions());
        PetscCall(trainer.SetUp(data));
        recns::Batch batch;
        recns::Negatives negatives;
        PetscCall(recns::test::SampleFirstBatch(trainer, &batch, &negatives));
        EXPECT_EQ(negatives.k, 2);
        EXPECT_EQ(negatives.groups, 2);
        const recns::ParameterList& params = trainer.Parameters();
        const auto logits = std::find_if(params.begin(), params.end(), [](const recns::Parameter& p) {
          return p.Path() == "/sampler/logits";
        });
        EXPECT_TRUE(logits != params.end());
        if (logits == params.end()) PetscFunctionReturn(PETSC_SUCCESS);
        (*logits->value)(0, 0) = 0.3;
        (*logits->value)(0, 1) = -0.4;
        double loss;
        PetscCall(trainer.LossAndGradient(batch, negatives, &loss));

        const recns::Model& model = trainer.GetModel();
        const recns::Layout& layout = trainer.GetGraph().GetLayout();
        const int d = model.FinalWidth();
        auto item = [&](int32_t i) { return model.Final().row(layout.LocalItemRow(i)).data(); };
        double L[2] = {0, 0};
        for (size_t b = 0; b < batch.Size(); ++b) {
          const double* u = model.Final().row(batch.user[b]).data();
          const double positive = recns::Dot(u, item(batch.item[b]), d);
          for (int t = 0; t < 2; ++t) {
            const int32_t n = negatives.item[(size_t)(b * 2 + t)];
            L[t] += recns::Softplus(recns::Dot(u, item(n), d) - positive) / (double)batch.global_size;
          }
        }
        const std::vector<double> g = Gumbel(trainer.Seed(), 0, 0, 2);
        const double tau = 0.7;
        const double z0 = (0.3 + g[0]) / tau, z1 = (-0.4 + g[1]) / tau;
        const double p0 = 1 / (1 + std::exp(z1 - z0)), p1 = 1 - p0;
        const bool hard = std::string(straight) == "true";
        const double w0 = hard ? (p0 >= p1 ? 1 : 0) : p0, w1 = hard ? 1 - w0 : p1;
        EXPECT_NEAR(loss, w0 * L[0] + w1 * L[1], 1e-13);
        const double mean = p0 * L[0] + p1 * L[1];
        EXPECT_NEAR((*logits->grad)(0, 0), p0 * (L[0] - mean) / tau, 1e-13);
        EXPECT_NEAR((*logits->grad)(0, 1), p1 * (L[1] - mean) / tau, 1e-13);
        EXPECT_NE((*logits->grad)(0, 0), 0.0);
        PetscFunctionReturn(PETSC_SUCCESS);
      }));
    }
    MPI_Comm_free(&one);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

// CheckGradient samples once (epoch 0, step 0: its Gumbel draws) and holds the choices fixed;
// its base options give each candidate k = 2 negatives, so every group is a two-negative loss.
TEST(autosample_test, GradientWithLogits) {
  CheckGradient("-model_type mf -sampler_type autosample -sampler_autosample_candidates "
                "uniform,pns,dns -sampler_autosample_tau 0.7");
  CheckGradient("-model_type lightgcn -model_layers 2 -sampler_type autosample "
                "-sampler_autosample_candidates dns,uniform -loss_type kpair");
}

// Synthesized negatives of a candidate (MixGCF's layer mixes and L2 vectors) beside plain rows.
TEST(autosample_test, GradientWithSynthesizingCandidate) {
  CheckGradient("-model_type lightgcn -model_layers 2 -sampler_type autosample "
                "-sampler_autosample_candidates mixgcf,uniform "
                "-autosample_mixgcf_sampler_mixgcf_candidates 3");
}

TEST(autosample_test, GumbelDrawsDependOnTheStepOnly) {
  const std::vector<double> a = Gumbel(5, 1, 7, 4), b = Gumbel(5, 1, 7, 4), c = Gumbel(5, 1, 8, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (double g : a) EXPECT_TRUE(std::isfinite(g));
}

/// The logits after a run on 1, 2 and 4 ranks (every rank must add the same p), and the usual
/// loss and test metrics.
TEST(autosample_test, SameLogitsForAnyRankCount) {
  int world_rank, world_size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = TinyDataset(40, 30, 11);
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_epochs 3 -train_batch_size 16 "
      "-optimizer_lr 0.02 -sampler_type autosample -sampler_autosample_lr 0.1 "
      "-eval_sampling_quality ";
  for (const char* extra : {"", "-sampler_autosample_candidates dns,bns -sampler_autosample_tau 2 "
                                "-sampler_autosample_tau_final 0.5 -sampler_autosample_search_epochs 3"}) {
    SCOPED_TRACE(extra);
    recns::test::CheckSameForAnyRankCount(data, common + extra, 1e-9);
    const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "autosample_ranks");
    std::vector<std::vector<double>> logits;
    for (int ranks : {1, 2, 4}) {
      if (ranks > world_size) break;
      recns::Trainer::Outcome outcome;
      recns::test::TrainOn(ranks, data,
                           common + extra + " -metrics_file \"\" -checkpoint_dir " + scratch + "/n" +
                               std::to_string(ranks),
                           &outcome);
      if (world_rank == 0) logits.push_back(recns::test::ReadDataset(outcome.last_checkpoint, "/sampler/logits"));
    }
    if (world_rank != 0) continue;
    ASSERT_FALSE(logits.front().empty());
    double spread = 0;
    for (double v : logits.front()) spread = std::max(spread, std::fabs(v));
    EXPECT_GT(spread, 0.0);
    for (size_t r = 1; r < logits.size(); ++r) {
      ASSERT_EQ(logits[r].size(), logits.front().size());
      for (size_t t = 0; t < logits[r].size(); ++t) EXPECT_NEAR(logits[r][t], logits.front()[t], 1e-10);
    }
  }
}

TEST(autosample_test, RestartEqualsStraightRun) {
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
      "-sampler_type autosample -sampler_autosample_lr 0.1 -sampler_autosample_candidates "
      "uniform,pns,dns ";
  // The search only; the switch within the first half (after epoch 1), at the checkpoint
  // (after epoch 2) and within the resumed half (after epoch 3); the frozen mixture.
  for (const char* extra :
       {"", "-sampler_autosample_search_epochs 1", "-sampler_autosample_search_epochs 2",
        "-sampler_autosample_search_epochs 3 -sampler_autosample_tau_final 0.3",
        "-sampler_autosample_search_epochs 2 -sampler_autosample_retrain mixture"}) {
    SCOPED_TRACE(extra);
    const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "autosample_restart");
    recns::test::ExpectResumedEqualsStraight(recns::test::TinyDatasetWithValid(), common + extra,
                                             scratch, recns::test::WithMoments({"/sampler/logits"}));
  }
}

/// After the search the metrics rows show the chosen candidate as a one-hot (the largest
/// softmax(θ) of the last search row), or the frozen weights in mixture mode.
TEST(autosample_test, RetrainStageKeepsTheLargestWeight) {
  int world_rank, world_size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  for (const char* retrain : {"single", "mixture"}) {
    SCOPED_TRACE(retrain);
    const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "autosample_retrain");
    recns::Trainer::Outcome outcome;
    recns::test::TrainOn(world_size, recns::test::TinyDatasetWithValid(),
                         std::string("-model_type mf -model_dim 8 -train_batch_size 16 -train_epochs 4 "
                                     "-optimizer_lr 0.02 -sampler_type autosample "
                                     "-sampler_autosample_lr 0.3 -sampler_autosample_search_epochs 2 "
                                     "-metrics_file \"\" -sampler_autosample_retrain ") +
                             retrain + " -checkpoint_dir " + scratch + "/run",
                         &outcome);
    if (world_rank != 0) continue;
    size_t width = 1;
    const std::vector<double> rows = recns::test::ReadDataset(outcome.last_checkpoint, "/trainer/metrics", &width);
    ASSERT_EQ(rows.size(), 4 * width);
    const size_t T = 4, first = width - T;
    auto alpha = [&](size_t row) {
      return std::vector<double>(rows.begin() + (long)(row * width + first), rows.begin() + (long)((row + 1) * width));
    };
    const std::vector<double> searched = alpha(1);
    double sum = 0;
    for (double a : searched) sum += a;
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NE(alpha(0), searched);  // the logits moved
    const size_t best = (size_t)(std::max_element(searched.begin(), searched.end()) - searched.begin());
    for (size_t row : {2, 3}) {
      const std::vector<double> after = alpha(row);
      if (std::string(retrain) == "mixture") {
        EXPECT_EQ(after, searched);
      } else {
        for (size_t t = 0; t < T; ++t) EXPECT_EQ(after[t], t == best ? 1.0 : 0.0);
      }
    }
  }
}

}  // namespace
