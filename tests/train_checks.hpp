// Checks shared by the MPI tests of models and samplers: finite differences over every block of
// the parameter list, the same trajectory at 1, 2 and 4 ranks, and a whole run's outcome.
#pragma once

#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "recns/stop_signal.hpp"
#include "recns/trainer.hpp"

namespace recns::test {

/// Collective. Compares `gradients` (one per block of `params`, shared blocks summed over the
/// ranks) with central differences of the global `loss`, entry by entry: a block of owned rows is
/// perturbed by the owner of each entry, a shared block by every rank alike, while every rank
/// evaluates the loss. `checked` receives the entries compared per block.
inline PetscErrorCode CompareWithDifferences(const recns::ParameterList& params,
                                             const std::vector<RowMatrix>& gradients,
                                             const recns::Layout& layout,
                                             const std::function<PetscErrorCode(double*)>& loss,
                                             std::vector<int64_t>* checked) {
  PetscFunctionBeginUser;
  const double h = 1e-6;
  checked->assign(params.size(), 0);
  for (size_t b = 0; b < params.size(); ++b) {
    RowMatrix& value = *params[b].value;
    const bool shared = params[b].scope == recns::ParamScope::kShared;
    for (int owner = 0; owner < (shared ? 1 : layout.Size()); ++owner) {
      int64_t rows = value.rows();
      if (!shared) PetscCallMPI(MPI_Bcast(&rows, 1, MPI_INT64_T, owner, layout.Comm()));
      for (int64_t r = 0; r < rows; ++r)
        for (int c = 0; c < value.cols(); ++c) {
          const bool mine = shared || layout.Rank() == owner;
          const double saved = mine ? value(r, c) : 0;
          double plus, minus;
          if (mine) value(r, c) = saved + h;
          PetscCall(loss(&plus));
          if (mine) value(r, c) = saved - h;
          PetscCall(loss(&minus));
          if (mine) {
            value(r, c) = saved;
            const double numeric = (plus - minus) / (2 * h);
            EXPECT_NEAR(gradients[b](r, c), numeric, 1e-7 + 1e-6 * std::fabs(numeric))
                << params[b].Path() << " row " << r << " of rank " << owner << ", column " << c;
          }
          ++(*checked)[b];
        }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. The trainer's first global batch (epoch 0, step 0) and the sampler's negatives for
/// it at the current parameters, after a forward pass over every row.
inline PetscErrorCode SampleFirstBatch(recns::Trainer& trainer, recns::Batch* batch,
                                       recns::Negatives* negatives) {
  PetscFunctionBeginUser;
  trainer.GetBatcher().Fill(0, 0, batch);
  PetscCall(trainer.GetModel().Forward());
  recns::SampleContext context{&trainer.GetGraph(), &trainer.GetModel(), trainer.Seed(), 0};
  PetscCall(trainer.GetSampler().Sample(context, *batch, negatives));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Compares the gradient of every block of the parameter list (ego rows, a model's weights, a
/// sampler's own blocks) for the loss of one batch with central differences, entry by entry,
/// with the sampler's choices held fixed. A block of owned rows is perturbed by the owner of each
/// entry, a shared block by every rank alike, while every rank evaluates the global loss.
inline void CheckGradient(const std::string& model_options, const Dataset& data = TinyDataset(9, 11, 3)) {
  const std::string options = "-model_dim 3 -loss_l2 0.3 -sampler_num_negatives 2"
                              " -train_batch_size 12 -model_init_std 0.5 -checkpoint_dir \"\" " +
                              model_options;
  auto check = [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Trainer trainer(PETSC_COMM_WORLD);
    PetscCall(trainer.SetFromOptions());
    PetscCall(trainer.SetUp(data));
    recns::Batch batch;
    recns::Negatives negatives;
    PetscCall(SampleFirstBatch(trainer, &batch, &negatives));
    double loss;
    PetscCall(trainer.LossAndGradient(batch, negatives, &loss));
    const recns::ParameterList& params = trainer.Parameters();
    std::vector<RowMatrix> gradients;
    for (const recns::Parameter& p : params) gradients.push_back(*p.grad);
    const recns::Layout& layout = trainer.GetGraph().GetLayout();
    std::vector<int64_t> checked;
    PetscCall(CompareWithDifferences(
        params, gradients, layout,
        [&](double* value) { return trainer.LossAndGradient(batch, negatives, value); }, &checked));
    for (size_t b = 0; b < params.size(); ++b) {
      const RowMatrix& value = *params[b].value;
      const bool shared = params[b].scope == recns::ParamScope::kShared;
      const int64_t expected = shared ? value.size() : layout.NumNodes() * value.cols();
      EXPECT_EQ(checked[b], expected) << params[b].Path();
      double norm = gradients[b].squaredNorm();
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &norm, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      EXPECT_GT(norm, 0.0) << params[b].Path();
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  ASSERT_PETSC_OK(WithOptions(options, check));
}

/// Collective on `comm`. A whole run of `data` with `options` on `comm`, and its outcome; `hook`
/// runs after every step on every rank of the run.
inline PetscErrorCode TrainWith(MPI_Comm comm, const Dataset& data, const std::string& options,
                                recns::Trainer::Outcome* outcome,
                                std::function<void(int64_t steps)> hook = {}) {
  return WithOptions(options, [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    recns::Trainer trainer(comm);
    PetscCall(trainer.SetFromOptions());
    PetscCall(trainer.SetUp(data));
    if (hook) trainer.SetStepHook(hook);
    PetscCall(trainer.Train());
    *outcome = trainer.GetOutcome();
    PetscFunctionReturn(PETSC_SUCCESS);
  });
}

/// Collective on the world. Trains on the first `ranks` ranks of the world while the others
/// wait; the outcome is set on the ranks that trained. `hook` gets the world rank and the steps.
inline void TrainOn(int ranks, const Dataset& data, const std::string& options,
                    recns::Trainer::Outcome* run,
                    std::function<void(int rank, int64_t steps)> hook = {}) {
  int world_rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm sub;
  MPI_Comm_split(PETSC_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &sub);
  if (sub != MPI_COMM_NULL) {
    std::function<void(int64_t)> step_hook;
    if (hook) step_hook = [&](int64_t steps) { hook(world_rank, steps); };
    const PetscErrorCode code = TrainWith(sub, data, options, run, step_hook);
    EXPECT_EQ(code, 0) << LastErrorMessage(code);
    MPI_Comm_free(&sub);
  }
  recns::ClearStopSignal();
  MPI_Barrier(PETSC_COMM_WORLD);
}

/// Trains on sub-communicators of 1, 2 and 4 ranks (as many as the job has) and compares the
/// loss and every test metric with the 1-rank run.
inline void CheckSameForAnyRankCount(const Dataset& data, const std::string& options, double tolerance) {
  int world_rank, world_size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const std::string scratch = ScratchDir(PETSC_COMM_WORLD, "ranks");
  std::vector<std::pair<int, recns::Trainer::Outcome>> outcomes;
  for (int ranks : {1, 2, 4}) {
    if (ranks > world_size) break;
    recns::Trainer::Outcome outcome;
    TrainOn(ranks, data,
            options + " -checkpoint_dir \"\" -metrics_file " + scratch + "/metrics" +
                std::to_string(ranks) + ".h5",
            &outcome);
    if (world_rank == 0) outcomes.emplace_back(ranks, outcome);
  }
  if (world_rank != 0) return;
  const auto& reference = outcomes.front().second;
  ASSERT_GT(reference.final_test.users, 0);
  for (const auto& [ranks, outcome] : outcomes) {
    EXPECT_NEAR(outcome.final_loss, reference.final_loss, tolerance * std::fabs(reference.final_loss))
        << ranks << " ranks";
    if (!std::isnan(reference.sampling_tnr)) {
      EXPECT_EQ(outcome.sampling_tnr, reference.sampling_tnr) << ranks << " ranks";
      EXPECT_NEAR(outcome.sampling_inf, reference.sampling_inf, tolerance) << ranks << " ranks";
    }
    EXPECT_EQ(outcome.final_test.users, reference.final_test.users);
    ASSERT_EQ(outcome.final_test.metrics.size(), reference.final_test.metrics.size());
    for (size_t m = 0; m < outcome.final_test.metrics.size(); ++m)
      EXPECT_NEAR(outcome.final_test.metrics[m].second, reference.final_test.metrics[m].second,
                  tolerance * std::fabs(reference.final_test.metrics[m].second))
          << reference.final_test.metrics[m].first << " at " << ranks << " ranks";
  }
}

/// Trains on every rank of the world with `options` (no metrics file) and returns the outcome.
inline PetscErrorCode TrainOutcome(const Dataset& data, const std::string& options,
                                   recns::Trainer::Outcome* outcome) {
  return TrainWith(PETSC_COMM_WORLD, data, options + " -metrics_file \"\" -checkpoint_dir \"\"", outcome);
}

}  // namespace recns::test
