// Distributed training: finite-difference gradient checks, propagation against a serial dense
// product, and the same trajectory for 1, 2 and 4 ranks (run inside one job on sub-communicators,
// so the ctest entry at np=4 compares 1, 2 and 4 ranks, at np=2 compares 1 and 2).
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <string>
#include <functional>
#include <memory>
#include <vector>

#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/convert.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::RowMatrix;
using recns::test::DatasetNode;
using recns::test::TinyDataset;
using recns::test::WithOptions;
using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;
using recns::test::TrainOutcome;

TEST(gradient_test, MFWithBPRAndL2) { CheckGradient("-model_type mf"); }

TEST(gradient_test, LightGCNWithBPRAndL2) { CheckGradient("-model_type lightgcn -model_layers 2"); }

TEST(gradient_test, SoftBPRKPairAndHingeLosses) {
  CheckGradient("-model_type lightgcn -model_layers 2 -loss_type soft_bpr -loss_soft_bpr_tau 0.3");
  CheckGradient("-model_type mf -loss_type kpair");
  CheckGradient("-model_type lightgcn -model_layers 2 -loss_type hinge -loss_hinge_margin 0.3");
  CheckGradient("-model_type mf -loss_type hinge -sampler_type expns",
                recns::test::TinyDatasetWithExposures(9, 16, 3));
}

TEST(propagation_test, EqualsSerialDenseProduct) {
  const Dataset data = TinyDataset(13, 10, 5);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  // Dense Â in dataset order: users 0..U-1 then items U..U+I-1.
  const int64_t U = data.num_users, N = data.num_users + data.num_items;
  std::vector<double> degree(N, 0);
  for (int64_t u = 0; u < U; ++u)
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
      degree[u] += 1;
      degree[U + data.train.indices[p]] += 1;
    }
  Eigen::MatrixXd dense = Eigen::MatrixXd::Zero(N, N);
  for (int64_t u = 0; u < U; ++u)
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
      const int64_t i = U + data.train.indices[p];
      dense(u, i) = dense(i, u) = 1.0 / std::sqrt(degree[u] * degree[i]);
    }
  const int columns = 5;
  Eigen::MatrixXd x(N, columns);
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < columns; ++c)
      x(n, c) = recns::NormalFromBlock(recns::RandomBlock(9, recns::RngPurpose::kSynthetic, 1, (uint64_t)n, c));
  const Eigen::MatrixXd expected = dense * x;
  RowMatrix in(layout.LocalRows(), columns), out;
  for (int64_t r = 0; r < layout.LocalRows(); ++r) in.row(r) = x.row(DatasetNode(layout, r));
  recns::Propagator propagator;
  ASSERT_PETSC_OK(propagator.SetUp(graph.Adjacency(), columns));
  ASSERT_PETSC_OK(propagator.Apply(in, &out));
  for (int64_t r = 0; r < layout.LocalRows(); ++r)
    for (int c = 0; c < columns; ++c)
      EXPECT_NEAR(out(r, c), expected(DatasetNode(layout, r), c), 1e-13) << "local row " << r;
}

// The step's products: ApplyToRows computes the flagged rows of Apply's result to the last bit
// and leaves the others alone; ExpandRows flags exactly the rows those products read (the
// flagged rows and their neighbours, on any rank); ApplySparse on an input that is zero outside
// its flagged rows equals Apply everywhere, and flags the rows that can be nonzero.
TEST(propagation_test, NeededRowsEqualFullProduct) {
  const Dataset data = TinyDataset(30, 25, 4);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  const int64_t U = data.num_users, N = data.num_users + data.num_items;
  std::vector<std::vector<int64_t>> neighbours(N);
  for (int64_t u = 0; u < U; ++u)
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
      neighbours[u].push_back(U + data.train.indices[p]);
      neighbours[U + data.train.indices[p]].push_back(u);
    }
  // Every third node of the dataset, whichever rank owns it.
  auto chosen = [](int64_t node) { return node % 3 == 1; };
  const int columns = 64;  // the kernel's fixed-width path
  RowMatrix in(layout.LocalRows(), columns);
  for (int64_t r = 0; r < layout.LocalRows(); ++r)
    for (int c = 0; c < columns; ++c)
      in(r, c) = recns::NormalFromBlock(recns::RandomBlock(3, recns::RngPurpose::kSynthetic, 2, (uint64_t)DatasetNode(layout, r), c));
  recns::Propagator propagator;
  ASSERT_PETSC_OK(propagator.SetUp(graph.Adjacency(), columns));
  RowMatrix full;
  ASSERT_PETSC_OK(propagator.Apply(in, &full));

  // ApplyToRows on a few of the nonzeros (every third node) and on most of them (the others).
  const std::vector<std::function<bool(int64_t)>> selections = {chosen, [&](int64_t node) { return !chosen(node); }};
  for (const auto& selected : selections) {
    recns::RowFlags rows(layout.LocalRows(), 0);
    for (int64_t r = 0; r < layout.LocalRows(); ++r) rows[r] = selected(DatasetNode(layout, r));
    // A second propagator, so that no ghost row is left over from the full product: the
    // restricted products must bring every row they read, and read no row outside ExpandRows
    // (NaN there).
    recns::Propagator restricted;
    ASSERT_PETSC_OK(restricted.SetUp(graph.Adjacency(), columns));
    recns::RowFlags expanded;
    ASSERT_PETSC_OK(restricted.ExpandRows(rows, &expanded));
    RowMatrix read_only = in;
    for (int64_t r = 0; r < layout.LocalRows(); ++r)
      if (!expanded[r]) read_only.row(r).setConstant(std::nan(""));
    RowMatrix partial = RowMatrix::Constant(layout.LocalRows(), columns, 7.0);
    ASSERT_PETSC_OK(restricted.ApplyToRows(read_only, rows, &partial));
    int64_t flagged = 0;
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      const int64_t node = DatasetNode(layout, r);
      bool read = selected(node);
      for (int64_t other : neighbours[node]) read = read || selected(other);
      EXPECT_EQ(expanded[r] != 0, read) << "node " << node;
      flagged += rows[r];
      for (int c = 0; c < columns; ++c)
        EXPECT_EQ(partial(r, c), rows[r] ? full(r, c) : 7.0) << "node " << node << ", column " << c;
    }
    EXPECT_GT(flagged, 0);
  }

  // ApplySparse has three forms, chosen by how much of the matrix the nonzero rows touch: every
  // third node (the row kernel with flags), two nodes (terms listed from the nonzero rows), and
  // every node (the row kernel without flags).
  const std::vector<std::function<bool(int64_t)>> nonzero_sets = {
      chosen, [](int64_t node) { return node == 1 || node == 37; }, [](int64_t) { return true; }};
  for (const auto& nonzero_node : nonzero_sets) {
    recns::RowFlags nonzero(layout.LocalRows(), 0);
    RowMatrix sparse_in = in, sparse_full, sparse_out;
    RowMatrix garbage_in = in;  // ApplySparse must never read the rows outside the flags
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      nonzero[r] = nonzero_node(DatasetNode(layout, r));
      if (nonzero[r]) continue;
      sparse_in.row(r).setZero();
      garbage_in.row(r).setConstant(std::nan(""));
    }
    ASSERT_PETSC_OK(propagator.Apply(sparse_in, &sparse_full));
    recns::Propagator fresh;  // no ghost row left over from an earlier product
    ASSERT_PETSC_OK(fresh.SetUp(graph.Adjacency(), columns));
    recns::RowFlags reached;
    ASSERT_PETSC_OK(fresh.ApplySparse(garbage_in, nonzero, &sparse_out, &reached));
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      const int64_t node = DatasetNode(layout, r);
      bool any = false;
      for (int64_t other : neighbours[node]) any = any || nonzero_node(other);
      EXPECT_EQ(reached[r] != 0, any) << "node " << node;
      for (int c = 0; c < columns; ++c)
        EXPECT_EQ(sparse_out(r, c), sparse_full(r, c)) << "node " << node << ", column " << c;
    }
  }
}

// LightGCN's BackwardFromRows overwrites the rows of the gradient outside the step's rows, which
// hold the last step's gradient when it is called: with NaN there, it gives Backward's result on
// the zeroed gradient to the last bit, including the rows no product reaches (zero).
TEST(needed_rows_test, BackwardFromRowsOverwritesTheOtherRows) {
  // Two layers from one user's rows leave rows unreached: a user reaches its items' users only.
  ASSERT_PETSC_OK(recns::InitializePackage());
  const Dataset data = TinyDataset(40, 30, 11);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  std::unique_ptr<recns::Model> model;
  ASSERT_PETSC_OK(WithOptions("-model_layers 2 -model_dim 64", [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(recns::ModelRegistry::Get().Create("model", recns::kModelLightGCN, PETSC_COMM_WORLD,
                                                 &model));
    PetscCall(model->SetFromOptions());
    PetscCall(model->SetUp(graph, 1));
    PetscFunctionReturn(PETSC_SUCCESS);
  }));
  recns::RowFlags rows(layout.LocalRows(), 0);
  RowMatrix zeroed = RowMatrix::Zero(layout.LocalRows(), 64);
  RowMatrix garbage = RowMatrix::Constant(layout.LocalRows(), 64, std::nan(""));
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    if (DatasetNode(layout, r) != 5 && DatasetNode(layout, r) != data.num_users + 7) continue;
    rows[r] = 1;
    for (int c = 0; c < 64; ++c)
      zeroed(r, c) = garbage(r, c) = recns::NormalFromBlock(
          recns::RandomBlock(5, recns::RngPurpose::kSynthetic, 3, (uint64_t)r, c));
  }
  model->FinalGrad() = zeroed;
  ASSERT_PETSC_OK(model->Backward(nullptr));
  zeroed = model->EgoGrad();
  model->FinalGrad() = garbage;
  ASSERT_PETSC_OK(model->Backward(&rows));
  garbage = model->EgoGrad();
  int64_t zero_rows = 0;
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    zero_rows += zeroed.row(r).isZero(0) ? 1 : 0;
    for (int c = 0; c < 64; ++c)
      ASSERT_EQ(garbage(r, c), zeroed(r, c))
          << "node " << DatasetNode(layout, r) << ", column " << c;
  }
  int64_t total_zero_rows = 0;
  MPI_Allreduce(&zero_rows, &total_zero_rows, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_GT(total_zero_rows, 0);  // the case of rows no product reaches is exercised
}

TEST(rank_agreement_test, TinyMFWithSGD) {
  CheckSameForAnyRankCount(TinyDataset(40, 30, 11),
                           "-model_type mf -model_dim 8 -optimizer_type sgd -optimizer_lr 0.05 "
                           "-train_epochs 3 -train_batch_size 7 -sampler_num_negatives 2",
                           1e-9);
}

// When a user's test split holds every item it has not trained on, every sampled negative is a
// false negative: TNR = 0 and INF = -mean info, with info = 1 - σ(x_ui - x_uj) in (0, 1).
TEST(sampling_quality_test, EveryNegativeFalseWhenTestHoldsTheRest) {
  Dataset data;
  data.name = "all-false";
  data.num_users = 6;
  data.num_items = 8;
  data.train.indptr = {0};
  data.test.indptr = {0};
  for (int32_t u = 0; u < 6; ++u) {
    for (int32_t j = 0; j < 8; ++j)
      (j == u || j == u + 1 ? data.train : data.test).indices.push_back(j);
    data.train.indptr.push_back((int64_t)data.train.indices.size());
    data.test.indptr.push_back((int64_t)data.test.indices.size());
  }
  recns::Trainer::Outcome outcome;
  ASSERT_PETSC_OK(TrainOutcome(data, "-model_type mf -model_dim 4 -train_epochs 1 "
                                     "-train_batch_size 4 -eval_sampling_quality", &outcome));
  EXPECT_EQ(outcome.sampling_tnr, 0.0);
  EXPECT_LT(outcome.sampling_inf, 0.0);
  EXPECT_GT(outcome.sampling_inf, -1.0);
}

// -train_max_steps stops inside an epoch, after exactly that many global steps, and the run still
// ends with the test evaluation; a limit at an epoch boundary completes that epoch.
TEST(max_steps_test, StopsWithinAnEpoch) {
  const Dataset data = TinyDataset(40, 30, 11);  // 144 pairs: 9 steps of 16 per epoch
  for (const auto& [limit, epochs] : {std::pair<int, int>{5, 1}, {9, 1}, {13, 2}}) {
    recns::Trainer::Outcome outcome;
    ASSERT_PETSC_OK(TrainOutcome(data, "-model_type mf -model_dim 4 -train_epochs 4 "
                                       "-train_batch_size 16 -train_max_steps " + std::to_string(limit),
                                 &outcome));
    EXPECT_EQ(outcome.steps_run, limit);
    EXPECT_EQ(outcome.epochs_run, epochs) << "limit " << limit;
    EXPECT_GT(outcome.final_test.users, 0);
  }
}

// Without a validation split the last epoch's evaluation is of the test split at the final
// parameters: the run reports it as the final test result instead of evaluating again.
TEST(max_steps_test, NoSecondTestEvaluationAtTheEnd) {
  const Dataset data = TinyDataset(40, 30, 11);
  recns::Trainer::Outcome every_epoch, last_only, capped;
  ASSERT_PETSC_OK(TrainOutcome(data, "-model_type mf -model_dim 4 -train_epochs 3 -train_batch_size 16",
                               &every_epoch));
  EXPECT_EQ(every_epoch.evaluations, 3);
  ASSERT_PETSC_OK(TrainOutcome(data, "-model_type mf -model_dim 4 -train_epochs 3 -train_batch_size 16 "
                                     "-eval_interval 0", &last_only));
  EXPECT_EQ(last_only.evaluations, 1);
  for (size_t m = 0; m < every_epoch.final_test.metrics.size(); ++m)
    EXPECT_EQ(every_epoch.final_test.metrics[m].second, last_only.final_test.metrics[m].second);
  // Stopped inside an epoch, after that epoch's evaluation point: the final parameters differ
  // from any evaluated ones, so the test split is evaluated at the end.
  ASSERT_PETSC_OK(TrainOutcome(data, "-model_type mf -model_dim 4 -train_epochs 3 -train_batch_size 16 "
                                     "-train_max_steps 13", &capped));
  EXPECT_EQ(capped.evaluations, 2);
}

// An evaluated epoch makes one full forward pass, for the sampler's epoch-end update and the
// evaluation alike (the steps of a non-scoring sampler make restricted ones only).
TEST(max_steps_test, OneForwardPassPerEvaluatedEpoch) {
  const Dataset data = TinyDataset(40, 30, 11);
  recns::Trainer::Outcome outcome;
  ASSERT_PETSC_OK(TrainOutcome(data, "-model_type lightgcn -model_layers 2 -model_dim 4 "
                                     "-train_epochs 3 -train_batch_size 16", &outcome));
  EXPECT_EQ(outcome.evaluations, 3);
  EXPECT_EQ(outcome.forward_passes, 3);
}

// Every sampler (and the losses that come with them) follows the same trajectory at any rank
// count: its choices depend only on the pair and the model, never on which rank makes them.
TEST(rank_agreement_test, EverySampler) {
  const Dataset data = TinyDataset(40, 30, 11);
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_epochs 3 -train_batch_size 16 "
      "-eval_sampling_quality -optimizer_lr 0.02 ";
  for (const char* sampler :
       {"-sampler_type pns", "-sampler_type dns -sampler_dns_candidates 4",
        "-sampler_type dns -loss_type soft_bpr -loss_soft_bpr_tau 0.2",
        "-sampler_type aobpr -sampler_aobpr_mode exact", "-sampler_type aobpr -sampler_aobpr_mode factor",
        "-sampler_type srns -sampler_srns_pool_size 80 -sampler_srns_warmup 1",
        "-sampler_type bns -sampler_bns_cdf exact",
        "-sampler_type bns -sampler_bns_cdf subsample -sampler_bns_cdf_samples 20",
        "-sampler_type uniform -sampler_num_negatives 3 -loss_type kpair",
        "-sampler_type dns -sampler_num_negatives 2 -loss_type hinge"}) {
    SCOPED_TRACE(sampler);
    CheckSameForAnyRankCount(data, common + sampler, 1e-9);
  }
}

// The exposure samplers draw from the users' exposures by the pair's stream alone.
TEST(rank_agreement_test, ExposureSamplers) {
  const Dataset data = recns::test::TinyDatasetWithExposures(60, 50, 11);
  const std::string common =
      "-model_type lightgcn -model_layers 2 -model_dim 8 -train_epochs 3 -train_batch_size 16 "
      "-eval_sampling_quality -optimizer_lr 0.02 ";
  for (const char* sampler :
       {"-sampler_type expns -sampler_num_negatives 2", "-sampler_type mixedns",
        "-sampler_type mixedns -sampler_mixedns_exposure_probability 0.2 -loss_type hinge"}) {
    SCOPED_TRACE(sampler);
    CheckSameForAnyRankCount(data, common + sampler, 1e-9);
    // They read no embeddings, so the trainer samples first and computes the step's rows only:
    // the same bits as every row.
    recns::Trainer::Outcome needed, every;
    ASSERT_PETSC_OK(TrainOutcome(data, common + sampler, &needed));
    ASSERT_PETSC_OK(TrainOutcome(data, common + sampler + " -train_needed_rows_only false", &every));
    EXPECT_EQ(needed.final_loss, every.final_loss);
    EXPECT_EQ(needed.sampling_inf, every.sampling_inf);
  }
}

// Propagating only the rows a step reads follows the full computation's trajectory to the last
// bit: a sampler that reads no rows samples first; a scoring sampler whose candidates come from
// counters has its gather compute the rows of its candidates and of the batch (and every row
// when it gathers them all: exact BNS); AOBPR gets every row first. The backward pass is
// restricted in every case.
TEST(needed_rows_test, SameBitsAsEveryRow) {
  const Dataset data = recns::test::TinyDatasetWithExposures(40, 30, 11);
  const std::string common =
      "-model_type lightgcn -model_layers 3 -model_dim 16 -train_epochs 3 -optimizer_lr 0.02 "
      "-eval_sampling_quality ";
  struct Case {
    const char* options;
    bool restricted_scoring;  // a scoring sampler whose forward pass is restricted
  };
  // A batch of 16 wants most rows one layer down, so the lowest layer is computed whole; one of
  // 2 restricts every layer; one of 48 wants most rows at the top, so every layer is whole. MixGCF
  // reads single layers: its backward pass folds their gradients in, restricted or not.
  for (const Case& test : std::vector<Case>{
           {"-train_batch_size 16 -sampler_type uniform -sampler_num_negatives 2", false},
           {"-train_batch_size 16 -sampler_type pns", false},
           {"-train_batch_size 2 -sampler_type uniform", false},
           {"-train_batch_size 48 -sampler_type uniform", false},
           {"-train_batch_size 16 -sampler_type dns -sampler_dns_candidates 4", true},
           {"-train_batch_size 2 -sampler_type dns -sampler_dns_candidates 4 -sampler_num_negatives 2 "
            "-loss_type hinge", true},
           {"-train_batch_size 16 -sampler_type mixgcf -sampler_mixgcf_candidates 4", true},
           {"-train_batch_size 2 -sampler_type mixgcf -sampler_mixgcf_candidates 4", true},
           {"-train_batch_size 2 -sampler_type bns -sampler_bns_cdf subsample -sampler_bns_cdf_samples 5",
            true},
           {"-train_batch_size 2 -sampler_type bns -sampler_bns_cdf subsample -sampler_bns_cdf_samples 5 "
            "-sampler_bns_uniform_epochs 1", true},
           {"-train_batch_size 2 -sampler_type bns -sampler_bns_cdf exact", false},
           {"-train_batch_size 2 -sampler_type srns -sampler_srns_pool_size 20 -sampler_srns_s1 2 "
            "-sampler_srns_s2_ratio 1 -sampler_srns_warmup 1", true},
           {"-train_batch_size 16 -sampler_type srns -sampler_srns_pool_size 80 -sampler_srns_warmup 1",
            false},  // its step reads most items: it gathers them all
           {"-train_batch_size 2 -sampler_type recns -sampler_recns_candidates 4 -sampler_num_negatives 2 "
            "-loss_type hinge", true},
           {"-train_batch_size 2 -sampler_type recns -sampler_recns_candidates 4 "
            "-sampler_recns_positive_assisted false", true},
           {"-train_batch_size 2 -sampler_type ans -sampler_ans_candidates 4", true},
           {"-train_batch_size 16 -sampler_type ans -sampler_ans_candidates 4 -sampler_ans_gamma 0 "
            "-sampler_ans_score layer_sum", true},
           {"-train_batch_size 2 -sampler_type aobpr -sampler_aobpr_mode exact", false},
           {"-train_batch_size 2 -sampler_type aobpr -sampler_aobpr_mode factor", false}}) {
    SCOPED_TRACE(test.options);
    recns::Trainer::Outcome needed, every;
    ASSERT_PETSC_OK(TrainOutcome(data, common + test.options, &needed));
    ASSERT_PETSC_OK(TrainOutcome(data, common + test.options + " -train_needed_rows_only false", &every));
    EXPECT_EQ(needed.final_loss, every.final_loss);
    EXPECT_EQ(needed.sampling_inf, every.sampling_inf);
    ASSERT_EQ(needed.final_test.metrics.size(), every.final_test.metrics.size());
    for (size_t m = 0; m < needed.final_test.metrics.size(); ++m)
      EXPECT_EQ(needed.final_test.metrics[m].second, every.final_test.metrics[m].second)
          << needed.final_test.metrics[m].first;
    // Without restriction every step has a forward pass over every row; with it, none has.
    if (test.restricted_scoring) EXPECT_LT(needed.forward_passes, every.forward_passes);
  }
}

TEST(rank_agreement_test, LastfmLightGCNThreeEpochs) {
  RECNS_REQUIRE_SHARED_DATA(folder, "lastfm");
  Dataset data;
  ASSERT_PETSC_OK(recns::ConvertLightGcn(folder, recns::ConvertOptions{}, &data));
  CheckSameForAnyRankCount(data,
                           "-model_type lightgcn -model_dim 64 -model_layers 3 -train_epochs 3 "
                           "-train_batch_size 2048 -eval_interval 3 -optimizer_lr 0.001",
                           1e-6);
}

}  // namespace
