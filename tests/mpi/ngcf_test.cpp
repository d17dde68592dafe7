// NGCF: the forward pass against a dense serial NGCF, exact gradients of the ego rows and of every
// weight and bias (through the final rows and through single layers), the same trajectory at any
// rank count, and a restart that carries the weights and their Adam moments.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../restart_checks.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::Dataset;
using recns::RowMatrix;
using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;
using recns::test::DatasetNode;
using recns::test::TinyDataset;
using recns::test::WithOptions;

TEST(ngcf_gradient_test, EgoRowsWeightsAndBiases) {
  CheckGradient("-model_type ngcf -model_layers 2");
}

TEST(ngcf_gradient_test, MeanSelfAdjacency) {
  CheckGradient("-model_type ngcf -model_layers 2 -model_ngcf_adjacency mean_self");
}

TEST(ngcf_gradient_test, WeightDecay) {
  CheckGradient("-model_type ngcf -model_layers 2 -model_ngcf_weight_decay 0.7");
}

TEST(ngcf_gradient_test, KPairLoss) {
  CheckGradient("-model_type ngcf -model_layers 2 -loss_type kpair -sampler_num_negatives 3");
}

/// TinyDataset without any training pair of item `dropped`: a node of degree zero.
Dataset WithoutItem(const Dataset& data, int32_t dropped) {
  Dataset out = data;
  out.train.indices.clear();
  out.train.indptr = {0};
  for (int64_t u = 0; u < data.num_users; ++u) {
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p)
      if (data.train.indices[p] != dropped) out.train.indices.push_back(data.train.indices[p]);
    out.train.indptr.push_back((int64_t)out.train.indices.size());
  }
  return out;
}

/// An NGCF model on `graph` with `options`.
PetscErrorCode MakeModel(const recns::Graph& graph, const std::string& options,
                         std::unique_ptr<recns::Model>* model) {
  return WithOptions(options, [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(recns::InitializePackage());
    PetscCall(recns::ModelRegistry::Get().Create("model", recns::kModelNGCF, PETSC_COMM_WORLD, model));
    PetscCall((*model)->SetFromOptions());
    PetscCall((*model)->SetUp(graph, 7));
    PetscFunctionReturn(PETSC_SUCCESS);
  });
}

/// A shared block of the model's parameter list by name.
const RowMatrix& Block(recns::Model& model, const std::string& name) {
  recns::ParameterList params;
  model.GetParameters(&params);
  for (const recns::Parameter& p : params)
    if (p.name == name) return *p.value;
  ADD_FAILURE() << "no block " << name;
  return *params.front().value;
}

// The final rows (and the single layers) equal a dense serial NGCF, with both adjacencies, on a
// graph with an item of degree zero.
TEST(ngcf_forward_test, EqualsDenseSerialNGCF) {
  const Dataset data = WithoutItem(TinyDataset(13, 10, 5), 4);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  const int64_t U = data.num_users, N = data.num_users + data.num_items;
  const int d = 4, L = 2;
  std::vector<double> degree(N, 0);
  for (int64_t u = 0; u < U; ++u)
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
      degree[u] += 1;
      degree[U + data.train.indices[p]] += 1;
    }
  ASSERT_EQ(degree[U + 4], 0.0);
  for (const char* adjacency : {"sym", "mean_self"}) {
    SCOPED_TRACE(adjacency);
    const bool mean_self = std::string(adjacency) == "mean_self";
    Eigen::MatrixXd P = Eigen::MatrixXd::Zero(N, N);
    for (int64_t u = 0; u < U; ++u)
      for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
        const int64_t i = U + data.train.indices[p];
        if (mean_self) {
          P(u, i) = 1.0 / (degree[u] + 1);
          P(i, u) = 1.0 / (degree[i] + 1);
        } else {
          P(u, i) = P(i, u) = 1.0 / std::sqrt(degree[u] * degree[i]);
        }
      }
    if (mean_self)
      for (int64_t n = 0; n < N; ++n) P(n, n) = 1.0 / (degree[n] + 1);
    std::unique_ptr<recns::Model> model;
    ASSERT_PETSC_OK(MakeModel(graph,
                              "-model_dim 4 -model_layers 2 -model_init_std 0.5 -model_ngcf_adjacency " +
                                  std::string(adjacency),
                              &model));
    ASSERT_EQ(model->FinalWidth(), (L + 1) * d);
    ASSERT_PETSC_OK(model->Forward());
    // Every rank's ego rows, in dataset order.
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(N, d);
    for (int64_t r = 0; r < layout.LocalRows(); ++r) h.row(DatasetNode(layout, r)) = model->Ego().row(r);
    MPI_Allreduce(MPI_IN_PLACE, h.data(), (int)h.size(), MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
    Eigen::MatrixXd expected(N, (L + 1) * d);
    expected.leftCols(d) = h;
    for (int l = 0; l < L; ++l) {
      const std::string k = "_" + std::to_string(l);
      const Eigen::MatrixXd side = P * h;
      Eigen::MatrixXd z = side * Block(*model, "w_gc" + k) + h.cwiseProduct(side) * Block(*model, "w_bi" + k);
      z.rowwise() += Eigen::RowVectorXd(Block(*model, "b_gc" + k) + Block(*model, "b_bi" + k));
      h = z.unaryExpr([](double x) { return x > 0 ? x : 0.2 * x; });
      for (int64_t n = 0; n < N; ++n) expected.block(n, (l + 1) * d, 1, d) = h.row(n) / h.row(n).norm();
    }
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      const int64_t node = DatasetNode(layout, r);
      for (int c = 0; c < (L + 1) * d; ++c)
        EXPECT_NEAR(model->Final()(r, c), expected(node, c), 1e-12) << "node " << node << ", column " << c;
      for (int l = 0; l <= L; ++l)
        for (int c = 0; c < d; ++c)
          EXPECT_EQ(model->Layer(l)(r, c), model->Final()(r, l * d + c)) << "node " << node << ", layer " << l;
    }
  }
}

// Backward with gradients on single layers as well as on the final rows, for the functional
// <G, E*> + Σ_l <G_l, Layer(l)>: central differences over the ego rows and every weight and bias.
// With `rows`, rows outside them hold NaN on entry and the result is the one without `rows`.
TEST(ngcf_backward_test, LayerGradsAndStepRows) {
  const Dataset data = TinyDataset(9, 11, 3);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  const int d = 3, L = 2, width = (L + 1) * d;
  for (const char* adjacency : {"sym", "mean_self"}) {
    SCOPED_TRACE(adjacency);
    std::unique_ptr<recns::Model> model;
    ASSERT_PETSC_OK(MakeModel(graph,
                              "-model_dim 3 -model_layers 2 -model_init_std 0.5 -model_ngcf_adjacency " +
                                  std::string(adjacency),
                              &model));
    model->EnableLayerGrads();
    const int64_t n = layout.LocalRows();
    // G and G_l on the rows of every third node, zero elsewhere.
    recns::RowFlags rows(n, 0);
    RowMatrix g = RowMatrix::Zero(n, width);
    std::vector<RowMatrix> g_layer(L + 1, RowMatrix::Zero(n, d));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t node = DatasetNode(layout, r);
      if (node % 3 != 0) continue;
      rows[r] = 1;
      for (int c = 0; c < width; ++c)
        g(r, c) = recns::NormalFromBlock(recns::RandomBlock(4, recns::RngPurpose::kSynthetic, 0, node, c));
      for (int l = 0; l <= L; ++l)
        for (int c = 0; c < d; ++c)
          g_layer[l](r, c) = recns::NormalFromBlock(recns::RandomBlock(4, recns::RngPurpose::kSynthetic, 1 + l, node, c));
    }
    recns::ParameterList params;
    model->GetParameters(&params);
    auto loss = [&](double* value) -> PetscErrorCode {
      PetscFunctionBeginUser;
      PetscCall(model->Forward());
      double sum = (g.array() * model->Final().array()).sum();
      for (int l = 0; l <= L; ++l) sum += (g_layer[l].array() * model->Layer(l).array()).sum();
      PetscCallMPI(MPI_Allreduce(&sum, value, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      PetscFunctionReturn(PETSC_SUCCESS);
    };
    auto backward = [&](const recns::RowFlags* flags, double garbage, std::vector<RowMatrix>* grads) -> PetscErrorCode {
      PetscFunctionBeginUser;
      PetscCall(model->Forward());
      for (const recns::Parameter& p : params)
        if (p.scope == recns::ParamScope::kShared) p.grad->setZero();
      model->FinalGrad() = g;
      for (int l = 0; l <= L; ++l) model->LayerGrad(l) = g_layer[l];
      for (int64_t r = 0; r < n; ++r)
        if (!rows[r]) {
          model->FinalGrad().row(r).setConstant(garbage);
          for (int l = 0; l <= L; ++l) model->LayerGrad(l).row(r).setConstant(garbage);
        }
      PetscCall(model->Backward(flags));
      grads->clear();
      for (const recns::Parameter& p : params) {
        RowMatrix grad = *p.grad;
        if (p.scope == recns::ParamScope::kShared)
          PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, grad.data(), (int)grad.size(), MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
        grads->push_back(grad);
      }
      PetscFunctionReturn(PETSC_SUCCESS);
    };
    std::vector<RowMatrix> every, step;
    ASSERT_PETSC_OK(backward(nullptr, 0.0, &every));
    ASSERT_PETSC_OK(backward(&rows, std::nan(""), &step));
    for (size_t b = 0; b < params.size(); ++b)
      for (int64_t r = 0; r < every[b].rows(); ++r)
        for (int64_t c = 0; c < every[b].cols(); ++c)
          ASSERT_EQ(step[b](r, c), every[b](r, c)) << params[b].Path() << " row " << r << ", column " << c;
    std::vector<int64_t> checked;
    ASSERT_PETSC_OK(recns::test::CompareWithDifferences(params, every, layout, loss, &checked));
  }
}

TEST(ngcf_rank_agreement_test, UniformSampler) {
  // The shared blocks' gradients are sums over the ranks' rows, so their rounding depends on the
  // rank count: the trajectories agree to rounding (like the losses' sums), not to the bit.
  CheckSameForAnyRankCount(TinyDataset(40, 30, 11),
                           "-model_type ngcf -model_layers 2 -model_dim 8 -train_epochs 3 "
                           "-train_batch_size 16 -optimizer_lr 0.02 -sampler_type uniform "
                           "-model_ngcf_weight_decay 1e-3",
                           1e-9);
}

// Two epochs, a checkpoint, two more: the same end as four epochs straight, to the bit on the same
// ranks and within 1e-9 when the first half ran on one rank. The weights, the biases and their
// Adam moments are compared as well as the ego rows.
TEST(ngcf_checkpoint_test, ResumedRunEqualsUninterruptedRun) {
  const Dataset data = recns::test::TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "ngcf_restart");
  const std::string options =
      "-model_type ngcf -model_layers 2 -model_dim 8 -train_batch_size 16 -optimizer_lr 0.02 "
      "-model_ngcf_weight_decay 1e-3 -eval_sampling_quality -metrics_file \"\"";
  std::vector<std::string> blocks;
  for (int l = 0; l < 2; ++l)
    for (const char* kind : {"w_gc_", "b_gc_", "w_bi_", "b_bi_"})
      blocks.push_back("/model/" + std::string(kind) + std::to_string(l));
  recns::test::ExpectResumedEqualsStraight(data, options, scratch, recns::test::WithMoments(blocks));
}

// AOBPR's factor rankings span NGCF's (L+1)·d final columns: a restart checks them against the
// model's final width, not -model_dim.
TEST(ngcf_checkpoint_test, AobprFactorsOfTheFinalWidth) {
  int world_size;
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const Dataset data = recns::test::TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "ngcf_aobpr");
  const std::string options =
      "-model_type ngcf -model_layers 2 -model_dim 4 -train_batch_size 16 -sampler_type aobpr "
      "-sampler_aobpr_mode factor -metrics_file \"\" -checkpoint_dir " + scratch;
  recns::test::Outcome first, resumed;
  recns::test::TrainOn(world_size, data, options + " -train_epochs 1", &first);
  recns::test::TrainOn(world_size, data, options + " -train_epochs 2 -restart auto", &resumed);
  EXPECT_EQ(resumed.epochs_run, 2);
}

}  // namespace
