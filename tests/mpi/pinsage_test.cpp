// PinSage: exact gradients through both aggregators, the normalisation and the features of
// sampled neighbours (owned by any rank); the full and the sampled forward passes against a dense
// serial PinSage; the sampled rows, by node key, the same at any rank count; Backward of the
// sampled pass with targets on one rank; whole runs the same at any rank count and resumed
// exactly from a checkpoint; bad options as input errors.
#include <gtest/gtest.h>
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../restart_checks.hpp"
#include "../test_util.hpp"
#include "../train_checks.hpp"
#include "recns/model.hpp"
#include "recns/neighbourhood.hpp"
#include "recns/package.hpp"
#include "recns/trainer.hpp"

namespace {

using recns::test::CheckGradient;
using recns::test::CheckSameForAnyRankCount;

const std::string kSmall =
    " -model_type pinsage -model_dim 3 -model_pinsage_width 4 -model_pinsage_fanouts 2,3"
    " -model_init normal";

TEST(pinsage_gradient_test, FeaturesAndWeights) { CheckGradient(kSmall); }

// Every node has a neighbour here: an isolated one's neighbour branch is its bias alone, 0 at
// the start, where the ReLU has its kink.
TEST(pinsage_gradient_test, BiasesAndWeightDecay) {
  CheckGradient(kSmall + " -model_pinsage_bias -model_pinsage_weight_decay 0.3",
                recns::test::TinyDataset(16, 6, 3));
}

TEST(pinsage_gradient_test, WholeNeighbourhoods) {
  CheckGradient(" -model_type pinsage -model_dim 3 -model_pinsage_width 4"
                " -model_pinsage_fanouts 50,50 -model_init normal");
}

TEST(pinsage_gradient_test, TableNeighbourhoods) {
  CheckGradient(kSmall + " -model_pinsage_neighbours table -model_pinsage_table_width 5");
}

TEST(pinsage_gradient_test, HingeLoss) { CheckGradient(kSmall + " -loss_type hinge"); }

// --- forward passes against a dense serial PinSage ----------------------------------------------

using recns::Dataset;
using recns::RowMatrix;
using recns::test::DatasetNode;
using recns::test::TinyDataset;
using recns::test::WithOptions;

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

constexpr uint64_t kSeed = 7;

/// A PinSage model on `graph` (built on `comm`) with `options`, set up with seed kSeed.
PetscErrorCode MakeModel(MPI_Comm comm, const recns::Graph& graph, const std::string& options,
                         std::unique_ptr<recns::Model>* model) {
  return WithOptions(options, [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(recns::InitializePackage());
    PetscCall(recns::ModelRegistry::Get().Create("model", recns::kModelPinSage, comm, model));
    PetscCall((*model)->SetFromOptions());
    PetscCall((*model)->SetUp(graph, kSeed));
    PetscFunctionReturn(PETSC_SUCCESS);
  });
}

/// A shared block of the model's parameter list by name (null when it has none of that name).
RowMatrix* Block(recns::Model& model, const std::string& name) {
  recns::ParameterList params;
  model.GetParameters(&params);
  for (const recns::Parameter& p : params)
    if (p.name == name) return p.value;
  return nullptr;
}

/// PinSage computed serially with dense matrices, from the dataset, the model's features (every
/// rank's, by node key) and its shared blocks.
struct DensePinSage {
  int64_t num_nodes = 0;
  std::vector<std::vector<int64_t>> neighbours;  ///< per key: the sorted neighbour keys
  Eigen::MatrixXd x, w1s, w1n, w2s, w2n;
  Eigen::RowVectorXd b1s, b1n, b2s, b2n;

  DensePinSage(MPI_Comm comm, const Dataset& data, recns::Model& model, const recns::Layout& layout) {
    const int64_t U = data.num_users;
    num_nodes = U + data.num_items;
    neighbours.assign((size_t)num_nodes, {});
    for (int64_t u = 0; u < U; ++u)
      for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p) {
        neighbours[(size_t)u].push_back(U + data.train.indices[p]);
        neighbours[(size_t)(U + data.train.indices[p])].push_back(u);
      }
    for (auto& list : neighbours) std::sort(list.begin(), list.end());
    x = Eigen::MatrixXd::Zero(num_nodes, model.Dim());
    for (int64_t r = 0; r < layout.LocalRows(); ++r) x.row(DatasetNode(layout, r)) = model.Ego().row(r);
    MPI_Allreduce(MPI_IN_PLACE, x.data(), (int)x.size(), MPI_DOUBLE, MPI_SUM, comm);
    w1s = *Block(model, "w1_self");
    w1n = *Block(model, "w1_neighbour");
    w2s = *Block(model, "w2_self");
    w2n = *Block(model, "w2_neighbour");
    const Eigen::Index half = w1s.cols();
    b1s = b1n = b2s = b2n = Eigen::RowVectorXd::Zero(half);
    if (Block(model, "b1_self")) {
      b1s = *Block(model, "b1_self");
      b1n = *Block(model, "b1_neighbour");
      b2s = *Block(model, "b2_self");
      b2n = *Block(model, "b2_neighbour");
    }
  }

  /// The mean of rows `keys` of `rows` (0 when there are none).
  static Eigen::RowVectorXd Mean(const Eigen::MatrixXd& rows, const std::vector<int64_t>& keys) {
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(rows.cols());
    for (int64_t k : keys) mean += rows.row(k);
    if (!keys.empty()) mean /= (double)keys.size();
    return mean;
  }
  /// Layer 1 of node v with neighbour set `hood`.
  Eigen::RowVectorXd H1(int64_t v, const std::vector<int64_t>& hood) const {
    Eigen::RowVectorXd h(2 * w1s.cols());
    h << x.row(v) * w1s + b1s, Mean(x, hood) * w1n + b1n;
    return h.cwiseMax(0.0);
  }
  /// The final row from v's own layer-1 row and the mean of its neighbours'.
  Eigen::RowVectorXd Final(const Eigen::RowVectorXd& h, const Eigen::RowVectorXd& hmean) const {
    Eigen::RowVectorXd z(2 * w2s.cols());
    z << h * w2s + b2s, hmean * w2n + b2n;
    return z / z.norm();
  }

  /// Every final row with every neighbour (Forward).
  Eigen::MatrixXd Full() const {
    Eigen::MatrixXd h(num_nodes, 2 * w1s.cols()), out(num_nodes, 2 * w2s.cols());
    for (int64_t v = 0; v < num_nodes; ++v) h.row(v) = H1(v, neighbours[(size_t)v]);
    for (int64_t v = 0; v < num_nodes; ++v) out.row(v) = Final(h.row(v), Mean(h, neighbours[(size_t)v]));
    return out;
  }

  /// v's neighbours drawn at `hop` of step (epoch, step) by uniform sampling.
  std::vector<int64_t> Draw(uint32_t epoch, int64_t step, int hop, int64_t v, int fanout) const {
    const auto& list = neighbours[(size_t)v];
    std::vector<int64_t> positions, keys;
    recns::DrawNeighbourPositions(kSeed, epoch, step, hop, v, (int64_t)list.size(), fanout, &positions);
    for (int64_t p : positions) keys.push_back(list[(size_t)p]);
    return keys;
  }

  /// Every final row on the neighbourhoods uniform sampling draws at step (epoch, step): v's own
  /// layer-1 row on N1(v), each n of N1(v) on its N2(n).
  Eigen::MatrixXd Sampled(uint32_t epoch, int64_t step, int fanout1, int fanout2) const {
    Eigen::MatrixXd out(num_nodes, 2 * w2s.cols());
    for (int64_t v = 0; v < num_nodes; ++v) {
      const std::vector<int64_t> hop1 = Draw(epoch, step, 1, v, fanout1);
      Eigen::RowVectorXd hmean = Eigen::RowVectorXd::Zero(2 * w1s.cols());
      for (int64_t n : hop1) hmean += H1(n, Draw(epoch, step, 2, n, fanout2));
      if (!hop1.empty()) hmean /= (double)hop1.size();
      out.row(v) = Final(H1(v, hop1), hmean);
    }
    return out;
  }
};

/// Sets every bias of `model` (the same on every rank) to values away from 0 (and from the
/// ReLU's kink on an isolated node's neighbour branch).
void SetBiases(recns::Model& model) {
  int block = 0;
  for (const char* name : {"b1_self", "b1_neighbour", "b2_self", "b2_neighbour"}) {
    RowMatrix* b = Block(model, name);
    ASSERT_NE(b, nullptr) << name;
    for (Eigen::Index c = 0; c < b->cols(); ++c) (*b)(0, c) = 0.1 * ((c + block) % 3) - 0.07 * block + 0.03;
    ++block;
  }
}

const char* const kDenseOptions =
    "-model_dim 4 -model_pinsage_width 6 -model_init normal -model_init_std 0.5 "
    "-model_pinsage_fanouts 2,3 ";

// Forward uses every neighbour: the final rows equal a dense serial PinSage, with and without
// biases, on a graph with an item of degree zero (its neighbour branches are their biases), at a
// width whose hidden layer is made in one block per branch and at one made in two (260: blocks
// of 65 columns).
TEST(pinsage_forward_test, FullNeighbourhoodsEqualDenseSerialPinSage) {
  const Dataset data = WithoutItem(TinyDataset(13, 10, 5), 4);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  for (const int width : {6, 260})
    for (const bool bias : {false, true}) {
      SCOPED_TRACE(std::string(bias ? "biases" : "no bias") + ", width " + std::to_string(width));
      std::unique_ptr<recns::Model> model;
      ASSERT_PETSC_OK(MakeModel(PETSC_COMM_WORLD, graph,
                                std::string(kDenseOptions) + "-model_pinsage_width " +
                                    std::to_string(width) + (bias ? " -model_pinsage_bias" : ""),
                                &model));
      ASSERT_EQ(model->FinalWidth(), width);
      if (bias) SetBiases(*model);
      ASSERT_PETSC_OK(model->Forward());
      const DensePinSage dense(PETSC_COMM_WORLD, data, *model, layout);
      ASSERT_TRUE(dense.neighbours[(size_t)(data.num_users + 4)].empty());
      const Eigen::MatrixXd expected = dense.Full();
      for (int64_t r = 0; r < layout.LocalRows(); ++r) {
        const int64_t key = DatasetNode(layout, r);
        ASSERT_EQ(key, layout.KeyOfLocalRow(r));
        for (int c = 0; c < width; ++c)
          EXPECT_NEAR(model->Final()(r, c), expected(key, c), 1e-12) << "key " << key << ", column " << c;
      }
    }
}

// ForwardRows computes the flagged rows on the neighbourhoods of DrawNeighbourPositions at the
// step set by SetStep: a target's own layer-1 row on its N1, every hop-1 node's on its own N2,
// whichever rank owns them. Rows left unflagged (all of a rank's, on every rank but 0) change
// nothing for the others. With
// -model_pinsage_inference sampled, Forward is the sample of the inference epoch.
TEST(pinsage_forward_test, SampledRowsEqualDenseSerialPinSage) {
  const Dataset data = WithoutItem(TinyDataset(13, 10, 5), 4);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  const int64_t n = layout.LocalRows();
  for (const bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "biases" : "no bias");
    std::unique_ptr<recns::Model> model;
    ASSERT_PETSC_OK(MakeModel(PETSC_COMM_WORLD, graph,
                              std::string(kDenseOptions) + (bias ? "-model_pinsage_bias" : ""), &model));
    if (bias) SetBiases(*model);
    const DensePinSage dense(PETSC_COMM_WORLD, data, *model, layout);
    const Eigen::MatrixXd full = dense.Full();
    int64_t differ_from_full = 0;
    for (const auto& [epoch, step] : {std::pair<uint32_t, int64_t>{0, 0}, {0, 5}, {3, 2}}) {
      const Eigen::MatrixXd expected = dense.Sampled(epoch, step, 2, 3);
      for (const char* which : {"every row", "some rows", "rank 0's rows"}) {
        SCOPED_TRACE(std::to_string(epoch) + "/" + std::to_string(step) + " " + which);
        recns::RowFlags flags((size_t)n, 1);
        for (int64_t r = 0; r < n; ++r)
          if (which[0] == 's') flags[(size_t)r] = DatasetNode(layout, r) % 3 != 1;
          else if (which[0] == 'r') flags[(size_t)r] = layout.Rank() == 0;
        model->SetStep(epoch, step);
        ASSERT_PETSC_OK(model->ForwardRows(flags));
        for (int64_t r = 0; r < n; ++r) {
          if (!flags[(size_t)r]) continue;
          const int64_t key = DatasetNode(layout, r);
          for (int c = 0; c < 6; ++c)
            EXPECT_NEAR(model->StepFinal()(model->StepRow(r), c), expected(key, c), 1e-12)
                << "key " << key << ", column " << c;
          if ((expected.row(key) - full.row(key)).norm() > 1e-6) ++differ_from_full;
        }
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, &differ_from_full, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
    EXPECT_GT(differ_from_full, 0) << "the fan-outs should leave some neighbours out";
    // Forward is still the full pass after sampled ones.
    ASSERT_PETSC_OK(model->Forward());
    for (int64_t r = 0; r < n; ++r)
      for (int c = 0; c < 6; ++c)
        EXPECT_NEAR(model->Final()(r, c), full(DatasetNode(layout, r), c), 1e-12);
  }
  // Sampled inference: Forward draws the neighbourhoods of the inference epoch.
  std::unique_ptr<recns::Model> model;
  ASSERT_PETSC_OK(MakeModel(PETSC_COMM_WORLD, graph,
                            std::string(kDenseOptions) + "-model_pinsage_inference sampled", &model));
  const DensePinSage dense(PETSC_COMM_WORLD, data, *model, layout);
  const Eigen::MatrixXd expected = dense.Sampled(recns::kInferenceEpoch, 0, 2, 3);
  model->SetStep(2, 9);
  ASSERT_PETSC_OK(model->Forward());
  for (int64_t r = 0; r < n; ++r)
    for (int c = 0; c < 6; ++c)
      EXPECT_NEAR(model->Final()(r, c), expected(DatasetNode(layout, r), c), 1e-12)
          << "key " << DatasetNode(layout, r) << ", column " << c;
}

// Backward differentiates the sampled pass: central differences of <G, step rows> over the
// flagged rows, for the features and every weight and bias, with targets on rank 0 only (the
// other ranks hold hop-1 nodes and features of its samples, and no target).
TEST(pinsage_backward_test, SampledPassWithTargetsOnOneRank) {
  const Dataset data = WithoutItem(TinyDataset(13, 10, 5), 4);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const recns::Layout& layout = graph.GetLayout();
  const int64_t n = layout.LocalRows();
  const int width = 4;
  std::unique_ptr<recns::Model> model;
  ASSERT_PETSC_OK(MakeModel(PETSC_COMM_WORLD, graph,
                            "-model_dim 3 -model_pinsage_width 4 -model_init normal -model_init_std 0.5 "
                            "-model_pinsage_fanouts 2,3 -model_pinsage_bias",
                            &model));
  SetBiases(*model);
  recns::RowFlags flags((size_t)n, 0);
  RowMatrix g = RowMatrix::Zero(n, width);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t key = DatasetNode(layout, r);
    flags[(size_t)r] = layout.Rank() == 0 && key % 4 != 3;
    for (int c = 0; c < width; ++c)
      g(r, c) = recns::NormalFromBlock(recns::RandomBlock(4, recns::RngPurpose::kSynthetic, 0, key, c));
  }
  model->SetStep(2, 3);
  auto loss = [&](double* value) -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(model->ForwardRows(flags));
    double sum = 0;
    for (int64_t r = 0; r < n; ++r)
      if (flags[(size_t)r]) sum += g.row(r).dot(model->StepFinal().row(model->StepRow(r)));
    PetscCallMPI(MPI_Allreduce(&sum, value, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  recns::ParameterList params;
  model->GetParameters(&params);
  ASSERT_EQ(params.size(), 9u);
  double unused;
  ASSERT_PETSC_OK(loss(&unused));
  for (const recns::Parameter& p : params) p.grad->setConstant(0.0);
  for (int64_t r = 0; r < n; ++r)
    if (flags[(size_t)r]) model->StepFinalGrad().row(model->StepRow(r)) = g.row(r);
  ASSERT_PETSC_OK(model->Backward(nullptr));
  std::vector<RowMatrix> grads;
  for (const recns::Parameter& p : params) {
    RowMatrix grad = *p.grad;
    if (p.scope == recns::ParamScope::kShared)
      MPI_Allreduce(MPI_IN_PLACE, grad.data(), (int)grad.size(), MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
    grads.push_back(grad);
  }
  std::vector<int64_t> checked;
  ASSERT_PETSC_OK(recns::test::CompareWithDifferences(params, grads, layout, loss, &checked));
  for (size_t b = 0; b < params.size(); ++b) {
    double norm = grads[b].squaredNorm();
    MPI_Allreduce(MPI_IN_PLACE, &norm, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
    EXPECT_GT(norm, 0.0) << params[b].Path();
  }
}

// The flagged rows of ForwardRows, by node key, are the same on 1, 2 and 4 ranks (sub-
// communicators of the world), with uniform and with table neighbourhoods.
TEST(pinsage_forward_test, SampledRowsSameForAnyRankCount) {
  const Dataset data = TinyDataset(40, 30, 11);
  int world_rank, world_size;
  MPI_Comm_rank(PETSC_COMM_WORLD, &world_rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &world_size);
  const int64_t N = data.num_users + data.num_items;
  for (const char* neighbours : {"uniform", "table -model_pinsage_table_width 4"}) {
    SCOPED_TRACE(neighbours);
    std::vector<std::pair<int, Eigen::MatrixXd>> results;
    for (int ranks : {1, 2, 4}) {
      if (ranks > world_size) break;
      MPI_Comm sub;
      MPI_Comm_split(PETSC_COMM_WORLD, world_rank < ranks ? 0 : MPI_UNDEFINED, world_rank, &sub);
      if (sub == MPI_COMM_NULL) continue;
      Eigen::MatrixXd rows = Eigen::MatrixXd::Zero(N, 6);
      {
        recns::Graph graph;
        ASSERT_PETSC_OK(graph.Build(sub, data));
        const recns::Layout& layout = graph.GetLayout();
        std::unique_ptr<recns::Model> model;
        ASSERT_PETSC_OK(MakeModel(sub, graph,
                                  std::string(kDenseOptions) + "-model_pinsage_bias -model_pinsage_neighbours " +
                                      neighbours,
                                  &model));
        SetBiases(*model);
        recns::RowFlags flags((size_t)layout.LocalRows(), 0);
        for (int64_t r = 0; r < layout.LocalRows(); ++r) flags[(size_t)r] = DatasetNode(layout, r) % 3 != 0;
        model->SetStep(1, 4);
        ASSERT_PETSC_OK(model->ForwardRows(flags));
        for (int64_t r = 0; r < layout.LocalRows(); ++r)
          if (flags[(size_t)r]) rows.row(DatasetNode(layout, r)) = model->StepFinal().row(model->StepRow(r));
        MPI_Allreduce(MPI_IN_PLACE, rows.data(), (int)rows.size(), MPI_DOUBLE, MPI_SUM, sub);
      }
      MPI_Comm_free(&sub);
      if (world_rank == 0) results.emplace_back(ranks, rows);
    }
    MPI_Barrier(PETSC_COMM_WORLD);
    if (world_rank != 0) continue;
    const Eigen::MatrixXd& reference = results.front().second;
    for (int64_t key = 0; key < N; ++key)
      EXPECT_NEAR(reference.row(key).norm(), key % 3 != 0 ? 1.0 : 0.0, 1e-12) << "key " << key;
    for (const auto& [ranks, rows] : results)
      for (int64_t key = 0; key < N; ++key)
        for (int c = 0; c < 6; ++c)
          EXPECT_NEAR(rows(key, c), reference(key, c), 1e-14) << ranks << " ranks, key " << key << ", column " << c;
  }
}

// --- training -----------------------------------------------------------------------------------

const char* const kTrainOptions =
    "-model_type pinsage -model_dim 4 -model_pinsage_width 6 -model_pinsage_fanouts 2,3 "
    "-model_init_std 0.5 -train_batch_size 16 -optimizer_lr 0.02 -eval_sampling_quality ";

// The neighbourhoods of a step are drawn from (seed, epoch, step, hop, node key) alone: the same
// trajectory at any rank count, with samplers that choose before the sampled pass (uniform) and
// after a full pass (DNS scores items; also on the fixed sample of sampled inference), and with
// table neighbourhoods, biases and gradient clipping.
TEST(pinsage_train_test, SameForAnyRankCount) {
  for (const char* variant :
       {"-sampler_type uniform", "-sampler_type dns -sampler_dns_candidates 3",
        "-sampler_type dns -sampler_dns_candidates 3 -model_pinsage_inference sampled",
        "-sampler_type uniform -model_pinsage_neighbours table -model_pinsage_table_width 4 "
        "-model_pinsage_bias -optimizer_clip 0.05"}) {
    SCOPED_TRACE(variant);
    CheckSameForAnyRankCount(TinyDataset(40, 30, 11), std::string(kTrainOptions) + "-train_epochs 3 " + variant,
                             1e-9);
  }
}

// RecNS merges normalised rows for a model whose scores are cosines, from PinSage's full rows.
TEST(pinsage_train_test, SameForAnyRankCountWithRecNS) {
  CheckSameForAnyRankCount(recns::test::TinyDatasetWithExposures(60, 50, 11),
                           std::string(kTrainOptions) +
                               "-train_epochs 2 -sampler_type recns -sampler_recns_candidates 6 "
                               "-sampler_num_negatives 4 -loss_type hinge",
                           1e-9);
}

// Two epochs, a checkpoint, two more: the same end as four epochs straight, to the bit on the same
// ranks and within 1e-9 when the first half ran on one rank. The aggregators' weights and biases
// and their Adam moments are compared as well as the features; the sampled neighbourhoods of the
// resumed epochs are those of the straight run.
TEST(pinsage_checkpoint_test, ResumedRunEqualsUninterruptedRun) {
  const Dataset data = recns::test::TinyDatasetWithValid();
  const std::string scratch = recns::test::ScratchDir(PETSC_COMM_WORLD, "pinsage_restart");
  const std::string options = std::string(kTrainOptions) +
                              "-model_pinsage_bias -model_pinsage_weight_decay 1e-3 -metrics_file \"\"";
  std::vector<std::string> blocks;
  for (const char* name : {"w1_self", "w1_neighbour", "w2_self", "w2_neighbour", "b1_self",
                           "b1_neighbour", "b2_self", "b2_neighbour"})
    blocks.push_back("/model/" + std::string(name));
  blocks = recns::test::WithMoments(blocks);
  blocks.push_back("/optimizer/model/item_embedding_first_moment");
  blocks.push_back("/optimizer/model/user_embedding_second_moment");
  recns::test::ExpectResumedEqualsStraight(data, options, scratch, blocks);
}

// --- bad input ----------------------------------------------------------------------------------

TEST(pinsage_options_test, BadOptionsAreInputErrors) {
  const Dataset data = TinyDataset(9, 11, 3);
  recns::Graph graph;
  ASSERT_PETSC_OK(graph.Build(PETSC_COMM_WORLD, data));
  const std::pair<const char*, const char*> cases[] = {
      {"-model_pinsage_width 5", "-model_pinsage_width must be an even number >= 2 (got 5)"},
      {"-model_pinsage_width 0", "-model_pinsage_width must be an even number >= 2 (got 0)"},
      {"-model_pinsage_fanouts 3", "-model_pinsage_fanouts needs two values, hop 1 and hop 2 (got 1)"},
      {"-model_pinsage_fanouts 3,2,1", "-model_pinsage_fanouts needs two values"},
      {"-model_pinsage_fanouts 0,2", "-model_pinsage_fanouts must be >= 1 each (got 0,2)"},
      {"-model_pinsage_neighbours table -model_pinsage_table_width 4 -model_pinsage_fanouts 2,5",
       "-model_pinsage_table_width 4 is below the fan-out 5"},
      {"-model_pinsage_weight_decay -1", "-model_pinsage_weight_decay must be a finite number >= 0"}};
  for (const auto& [options, expected] : cases) {
    SCOPED_TRACE(options);
    std::unique_ptr<recns::Model> model;
    const std::string message = recns::test::InputError(MakeModel(PETSC_COMM_WORLD, graph, options, &model));
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  // A table as wide as the larger fan-out is fine.
  std::unique_ptr<recns::Model> model;
  ASSERT_PETSC_OK(MakeModel(PETSC_COMM_WORLD, graph,
                            "-model_pinsage_neighbours table -model_pinsage_table_width 5 "
                            "-model_pinsage_fanouts 2,5",
                            &model));
}

// MixGCF mixes single layers of the model, which PinSage does not have.
TEST(pinsage_options_test, MixGCFIsAnInputError) {
  recns::Trainer::Outcome outcome;
  const std::string message = recns::test::InputError(recns::test::TrainOutcome(
      TinyDataset(9, 11, 3),
      std::string(kTrainOptions) + "-train_epochs 1 -sampler_type mixgcf -sampler_mixgcf_candidates 3",
      &outcome));
  EXPECT_NE(message.find("-sampler_type mixgcf mixes single layers of the model, which -model_type "
                         "pinsage does not have"),
            std::string::npos)
      << message;
}

}  // namespace
