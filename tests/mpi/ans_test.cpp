// ANS (ALGORITHMS §9): the gradient through the gates, the margin model and the augmentation into
// the user's, the positive's and the candidates' rows (both loss forms, with and without gate
// biases, MF and LightGCN), its reduction to DNS and to MixGCF's per-layer choices when the margin
// is 0, the same trajectory at any rank count, and a resumed run equal to an uninterrupted one,
// the sampler's blocks and their Adam moments included.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "../restart_checks.hpp"
#include "../sampler_fixture.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/model.hpp"
#include "recns/sampler.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;
using recns::test::TinyDataset;
using recns::test::WithOptions;

// CheckGradient samples once and holds the choices (and so the noise) fixed; its base options
// give K = 2 and dimension 3. ε > 0 so the gain takes part in the choices.
const std::string kGradient = "-sampler_type ans -sampler_ans_candidates 3 -sampler_ans_gamma 0.7 "
                              "-sampler_ans_epsilon 0.5 ";

TEST(ans_test, GradientMF) {
  CheckGradient(kGradient + "-model_type mf");
  CheckGradient(kGradient + "-model_type mf -sampler_ans_losses code -sampler_ans_gate_bias");
}

TEST(ans_test, GradientLightGCN) {
  CheckGradient(kGradient + "-model_type lightgcn -model_layers 2");
  CheckGradient(kGradient + "-model_type lightgcn -model_layers 2 -sampler_ans_losses code "
                "-sampler_ans_score layer_sum -sampler_ans_gate_bias -sampler_num_negatives 1");
}

// NGCF's layer rows are its row-normalised layer outputs, concatenated in the final row.
TEST(ans_test, GradientNGCF) { CheckGradient(kGradient + "-model_type ngcf -model_layers 2"); }

// Without the contrastive and disentanglement losses the gates still learn, through the margin.
TEST(ans_test, GradientThroughTheMarginOnly) {
  CheckGradient("-sampler_type ans -sampler_ans_candidates 2 -sampler_ans_gamma 0 "
                "-model_type lightgcn -model_layers 1");
}

/// One batch's loss and negatives on a fresh trainer of `options`; `before` may change the
/// parameters before the forward pass.
PetscErrorCode BatchOf(const Dataset& data, const std::string& options,
                       const std::function<void(recns::Trainer&)>& before, recns::Negatives* negatives,
                       double* loss) {
  return WithOptions(options, [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Trainer trainer(PETSC_COMM_WORLD);
    PetscCall(trainer.SetFromOptions());
    PetscCall(trainer.SetUp(data));
    if (before) before(trainer);
    recns::Batch batch;
    trainer.GetBatcher().Fill(0, 0, &batch);
    PetscCall(trainer.GetModel().Forward());
    recns::SampleContext context{&trainer.GetGraph(), &trainer.GetModel(), trainer.Seed(), 0};
    PetscCall(trainer.GetSampler().Sample(context, batch, negatives));
    PetscCall(trainer.LossAndGradient(batch, *negatives, loss));
    PetscFunctionReturn(PETSC_SUCCESS);
  });
}

/// The margin model at w = 0, b = −1e-12: |D| is raised to the floor with its sign, so the margin
/// is σ(−1e6) = 0 exactly, Δ = 0 and every augmented candidate is the candidate itself.
void ZeroMargin(recns::Trainer& trainer) {
  for (const recns::Parameter& p : trainer.Parameters()) {
    if (p.name == "margin_weight") p.value->setZero();
    if (p.name == "margin_bias") p.value->setConstant(-1e-12);
  }
}

// With Δ = 0 the gain is 0 and ñ = n: with γ = 0 ANS on MF is DNS over the same M candidates (the
// pair's first k·M draws), choice for choice and to rounding in the loss (the same BPR terms and
// the same L2 of the chosen rows); with LightGCN its choice at layer l is MixGCF's c*_l, the
// candidate of highest ⟨q_l, e_c^(l)⟩ (MixGCF's mixing with the positive does not change it).
TEST(ans_test, ZeroMarginIsDNSAndMixGCFsChoice) {
  const Dataset data = TinyDataset(30, 40, 5);
  const std::string common = "-model_dim 4 -train_batch_size 24 -model_init_std 0.5 -loss_l2 0.1 "
                             "-sampler_num_negatives 2 -checkpoint_dir \"\" -metrics_file \"\" ";
  const std::string ans = "-sampler_type ans -sampler_ans_candidates 5 -sampler_ans_gamma 0 "
                          "-sampler_ans_epsilon 0 ";
  {
    recns::Negatives by_ans, by_dns;
    double ans_loss = 0, dns_loss = 0;
    ASSERT_PETSC_OK(BatchOf(data, common + "-model_type mf " + ans, ZeroMargin, &by_ans, &ans_loss));
    ASSERT_PETSC_OK(BatchOf(data, common + "-model_type mf -sampler_type dns -sampler_dns_candidates 5",
                            {}, &by_dns, &dns_loss));
    const size_t slots = by_dns.offset.size() - 1;
    ASSERT_EQ(by_ans.offset.size(), slots + 1);
    for (size_t s = 0; s < slots; ++s) {
      const int64_t t = by_ans.offset[s];
      EXPECT_EQ(by_ans.offset[s + 1] - t, 1);  // the choice alone: γ = 0 reads no other row
      EXPECT_EQ(by_ans.item[t], by_dns.item[by_dns.offset[s]]) << "negative " << s;
      EXPECT_EQ(by_ans.weight[t], 1.0);
    }
    EXPECT_NEAR(ans_loss, dns_loss, 1e-12 * std::fabs(dns_loss));
    EXPECT_GT(dns_loss, 0);
  }
  {
    const int layers = 2;
    recns::Negatives by_ans, by_mixgcf;
    double loss = 0;
    const std::string lightgcn = common + "-model_type lightgcn -model_layers 2 ";
    ASSERT_PETSC_OK(BatchOf(data, lightgcn + ans, ZeroMargin, &by_ans, &loss));
    ASSERT_PETSC_OK(BatchOf(data, lightgcn + "-sampler_type mixgcf -sampler_mixgcf_candidates 5", {},
                            &by_mixgcf, &loss));
    const size_t slots = by_mixgcf.offset.size() - 1;
    ASSERT_EQ(by_ans.offset.size(), slots + 1);
    int differ_across_layers = 0;
    for (size_t s = 0; s < slots; ++s)
      for (int l = 0; l <= layers; ++l) {
        const int64_t t = by_ans.offset[s] + l;
        EXPECT_EQ(by_ans.TermLayer(t), l);
        // MixGCF's terms per layer: the positive, then its choice.
        EXPECT_EQ(by_ans.item[t], by_mixgcf.item[by_mixgcf.offset[s] + 2 * l + 1])
            << "negative " << s << " layer " << l;
        if (l > 0 && by_ans.item[t] != by_ans.item[by_ans.offset[s]]) ++differ_across_layers;
      }
    int64_t differ = differ_across_layers;
    MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
    EXPECT_GT(differ, 0);
  }
}

// With γ > 0 a negative's terms are its choice per layer, then its M candidates with weight 0
// (the rows its loss terms read), in draw order.
TEST(ans_test, TermsOfTheLossTerms) {
  const Dataset data = TinyDataset(30, 40, 5);
  const std::string options = "-model_dim 4 -train_batch_size 24 -model_type lightgcn -model_layers 1 "
                              "-sampler_num_negatives 2 -checkpoint_dir \"\" -metrics_file \"\" "
                              "-sampler_type ans -sampler_ans_candidates 5";
  recns::Negatives negatives;
  double loss;
  ASSERT_PETSC_OK(BatchOf(data, options, {}, &negatives, &loss));
  for (size_t s = 0; s + 1 < negatives.offset.size(); ++s) {
    const int64_t t = negatives.offset[s];
    ASSERT_EQ(negatives.offset[s + 1] - t, 2 + 5);
    for (int l = 0; l <= 1; ++l) {
      EXPECT_EQ(negatives.weight[t + l], 1.0);
      EXPECT_EQ(negatives.TermLayer(t + l), l);
    }
    bool among = false;
    for (int m = 0; m < 5; ++m) {
      EXPECT_EQ(negatives.weight[t + 2 + m], 0.0);
      among = among || negatives.item[t + 2 + m] == negatives.item[t];
    }
    EXPECT_TRUE(among) << "negative " << s;
  }
}

// A margin above 0 changes some choices: the augmentation moves candidates towards the positive.
TEST(ans_test, AugmentationChangesChoices) {
  const Dataset data = TinyDataset(30, 40, 5);
  const std::string options = "-model_dim 4 -train_batch_size 24 -model_init_std 0.5 -model_type mf "
                              "-sampler_num_negatives 2 -checkpoint_dir \"\" -metrics_file \"\" "
                              "-sampler_type ans -sampler_ans_candidates 5 -sampler_ans_epsilon 1 ";
  // Rows of norm ~0.1 make a push of 0.1 matter; b = 0.02 makes the margin σ(50) = 1.
  auto margin = [](double bias) {
    return [bias](recns::Trainer& trainer) {
      for (const recns::Parameter& p : trainer.Parameters()) {
        if (p.name == "margin_weight") p.value->setZero();
        if (p.name == "margin_bias") p.value->setConstant(bias);
      }
      trainer.GetModel().Ego() *= 0.05;
    };
  };
  recns::Negatives plain, augmented;
  double loss;
  ASSERT_PETSC_OK(BatchOf(data, options, margin(-1e-12), &plain, &loss));
  ASSERT_PETSC_OK(BatchOf(data, options, margin(0.02), &augmented, &loss));
  int64_t differ = 0;
  for (size_t s = 0; s + 1 < plain.offset.size(); ++s)
    differ += plain.item[plain.offset[s]] != augmented.item[augmented.offset[s]];
  MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_GT(differ, 0);
}

TEST(ans_test, SameForAnyRankCount) {
  const std::string common =
      "-model_dim 8 -train_epochs 3 -train_batch_size 16 -eval_sampling_quality -optimizer_lr 0.02 "
      "-sampler_type ans -sampler_ans_candidates 4 -sampler_ans_epsilon 0.5 -sampler_ans_gamma 0.3 ";
  for (const char* extra :
       {"-model_type mf", "-model_type lightgcn -model_layers 2",
        "-model_type lightgcn -model_layers 2 -sampler_ans_losses code -sampler_ans_score layer_sum "
        "-sampler_ans_gate_bias -sampler_num_negatives 2 -loss_type kpair"}) {
    SCOPED_TRACE(extra);
    CheckSameForAnyRankCount(TinyDataset(40, 30, 11), common + extra, 1e-9);
  }
}

// The gates and the margin model are checkpointed with their Adam moments: a resumed run ends
// where an uninterrupted one does.
TEST(ans_test, ResumedRunEqualsUninterruptedRun) {
  const Dataset data = recns::test::TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "ans_restart");
  const std::string options =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
      "-sampler_type ans -sampler_ans_candidates 4 -sampler_ans_epsilon 0.5 -sampler_ans_gamma 0.3 "
      "-sampler_ans_gate_bias -eval_sampling_quality -metrics_file \"\"";
  std::vector<std::string> blocks;
  for (const char* name : {"user_gate", "item_gate", "margin_weight", "margin_bias",
                           "user_gate_bias", "item_gate_bias"})
    blocks.push_back("/sampler/" + std::string(name));
  recns::test::ExpectResumedEqualsStraight(data, options, scratch, recns::test::WithMoments(blocks));
}

TEST(ans_test, OptionsAndDescription) {
  const Dataset data = TinyDataset(9, 11, 3);
  recns::test::SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_WORLD, data, "ans", "", 2));
  EXPECT_EQ(fixture.sampler->Describe(), "ans (M=16, gamma=0.01, epsilon=0.1, score final, losses paper)");
  EXPECT_TRUE(fixture.sampler->MixesLayers());
  for (const char* bad : {"-sampler_ans_candidates 0", "-sampler_ans_gamma -1", "-sampler_ans_epsilon -0.5"}) {
    recns::test::SamplerFixture fails;
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(recns::test::InputError(fails.SetUp(PETSC_COMM_WORLD, data, "ans", bad, 2)).find(option),
              std::string::npos)
        << bad;
  }
}

}  // namespace
