// Optimizers against hand-computed steps: Adam (PyTorch's form), sparse and dense SGD, coupled
// weight decay, element-wise gradient clipping, and the step-decay schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/optimizer.hpp"
#include "recns/package.hpp"

namespace {

using recns::RowMatrix;

std::unique_ptr<recns::Optimizer> Make(const std::string& type, const std::string& options) {
  std::unique_ptr<recns::Optimizer> optimizer;
  EXPECT_EQ(recns::InitializePackage(), 0);
  EXPECT_EQ(recns::OptimizerRegistry::Get().Create("optimizer", type, PETSC_COMM_SELF, &optimizer), 0);
  EXPECT_EQ(recns::test::WithOptions(options, [&] { return optimizer->SetFromOptions(); }), 0);
  return optimizer;
}

/// One block of owned rows (or a shared one) with its value and gradient.
recns::ParameterList Block(RowMatrix* value, RowMatrix* grad,
                           recns::ParamScope scope = recns::ParamScope::kOwnedRows) {
  recns::Parameter p;
  p.group = "/model";
  p.name = "embedding";
  p.scope = scope;
  p.value = value;
  p.grad = grad;
  return {p};
}

TEST(optimizer_test, AdamTwoStepsByHand) {
  auto adam = Make("adam", "-optimizer_lr 0.1 -optimizer_adam_epsilon 1e-8");
  RowMatrix p(1, 2), g(1, 2);
  ASSERT_EQ(adam->SetUp(Block(&p, &g)), 0);
  p << 1.0, -2.0;
  g << 0.5, -4.0;
  ASSERT_EQ(adam->Step(0.1, nullptr), 0);
  // Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m/(1-0.9) = g, v/(1-0.999) = g^2, so each
  // entry moves by lr * g / (|g| + eps) = lr * sign(g) (up to eps).
  EXPECT_NEAR(p(0, 0), 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(p(0, 1), -2.0 + 0.1 * 4.0 / (4.0 + 1e-8), 1e-15);
  const double p0 = p(0, 0);
  g << 1.0, 0.0;
  ASSERT_EQ(adam->Step(0.1, nullptr), 0);
  // Step 2, entry 0: m = 0.9*0.05 + 0.1*1 = 0.145, v = 0.999*0.00025 + 0.001*1 = 0.00124975;
  // m_hat = 0.145/0.19, v_hat = 0.00124975/0.001999.
  const double m_hat = 0.145 / (1 - 0.81), v_hat = 0.00124975 / (1 - 0.998001);
  EXPECT_NEAR(p(0, 0), p0 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-14);
}

TEST(optimizer_test, SparseSGDEqualsDenseWhenOtherRowsHaveNoGradient) {
  auto sgd = Make("sgd", "-optimizer_lr 0.5");
  RowMatrix params = RowMatrix::Constant(4, 3, 1.0), grad = RowMatrix::Zero(4, 3);
  grad.row(1) << 1, 2, 3;
  grad.row(3) << -1, 0, 1;
  RowMatrix dense = params, sparse = params;
  const std::vector<int64_t> rows = {1, 3};
  ASSERT_EQ(sgd->SetUp(Block(&dense, &grad)), 0);
  ASSERT_EQ(sgd->Step(0.5, nullptr), 0);
  ASSERT_EQ(sgd->SetUp(Block(&sparse, &grad)), 0);
  ASSERT_EQ(sgd->Step(0.5, &rows), 0);
  EXPECT_EQ(dense, sparse);
  EXPECT_DOUBLE_EQ(dense(1, 2), 1.0 - 0.5 * 3);
}

TEST(optimizer_test, WeightDecayIsCoupledAndTouchesEveryRow) {
  auto sgd = Make("sgd", "-optimizer_lr 0.1 -optimizer_weight_decay 0.2");
  RowMatrix params(2, 1), grad = RowMatrix::Zero(2, 1);
  ASSERT_EQ(sgd->SetUp(Block(&params, &grad)), 0);
  params << 2.0, 3.0;
  grad(0, 0) = 1.0;
  const std::vector<int64_t> rows = {0};
  ASSERT_EQ(sgd->Step(0.1, &rows), 0);
  EXPECT_DOUBLE_EQ(params(0, 0), 2.0 - 0.1 * (1.0 + 0.2 * 2.0));
  EXPECT_DOUBLE_EQ(params(1, 0), 3.0 - 0.1 * (0.2 * 3.0));
}

// Every block moves, each with its own moments; a block with a rate of its own follows the
// schedule (lr / -optimizer_lr) at that rate; the rows of a sparse step apply to owned rows only.
TEST(optimizer_test, EveryBlockWithItsOwnRateAndMoments) {
  auto adam = Make("adam", "-optimizer_lr 0.1");
  RowMatrix rows_value = RowMatrix::Constant(2, 2, 1.0), rows_grad = RowMatrix::Constant(2, 2, 0.5);
  RowMatrix weight_value = RowMatrix::Constant(1, 3, -1.0), weight_grad(1, 3);
  weight_grad << 2.0, -2.0, 0.0;
  recns::ParameterList params = Block(&rows_value, &rows_grad);
  params.push_back(Block(&weight_value, &weight_grad, recns::ParamScope::kShared)[0]);
  params[1].name = "w";
  params[1].lr = 0.02;
  ASSERT_EQ(adam->SetUp(params), 0);
  ASSERT_EQ(adam->Step(0.05, nullptr), 0);  // half the base rate: the block's is 0.01
  EXPECT_NEAR(rows_value(1, 1), 1.0 - 0.05 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(weight_value(0, 0), -1.0 - 0.01 * 2.0 / (2.0 + 1e-8), 1e-15);
  EXPECT_NEAR(weight_value(0, 1), -1.0 + 0.01 * 2.0 / (2.0 + 1e-8), 1e-15);
  EXPECT_EQ(weight_value(0, 2), -1.0);

  auto sgd = Make("sgd", "-optimizer_lr 1");
  ASSERT_EQ(sgd->SetUp(params), 0);
  const std::vector<int64_t> only = {0};
  const RowMatrix rows_before = rows_value, weight_before = weight_value;
  ASSERT_EQ(sgd->Step(1.0, &only), 0);
  EXPECT_EQ(rows_value(1, 0), rows_before(1, 0));  // not listed: skipped
  EXPECT_EQ(rows_value(0, 0), rows_before(0, 0) - 0.5);
  EXPECT_EQ(weight_value(0, 0), weight_before(0, 0) - 0.02 * 2.0);  // shared: always whole
}

TEST(optimizer_test, StepDecaySchedule) {
  auto adam = Make("adam", "-optimizer_lr 0.01 -optimizer_lr_decay_every 20 -optimizer_lr_decay_rate 0.1");
  EXPECT_DOUBLE_EQ(adam->LearningRate(0), 0.01);
  EXPECT_DOUBLE_EQ(adam->LearningRate(19), 0.01);
  EXPECT_NEAR(adam->LearningRate(20), 0.001, 1e-18);
  EXPECT_NEAR(adam->LearningRate(45), 0.0001, 1e-18);
  auto constant = Make("sgd", "-optimizer_lr 0.3");
  EXPECT_DOUBLE_EQ(constant->LearningRate(1000), 0.3);
}

TEST(optimizer_test, BadValuesAreInputErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"-optimizer_lr -1", "-optimizer_lr"},
      {"-optimizer_lr_decay_every -2", "-optimizer_lr_decay_every"},
      {"-optimizer_adam_beta1 1.5", "-optimizer_adam_beta1"},
      {"-optimizer_weight_decay -0.1", "-optimizer_weight_decay"}};
  for (const auto& [options, named] : cases) {
    std::unique_ptr<recns::Optimizer> optimizer;
    ASSERT_EQ(recns::OptimizerRegistry::Get().Create("optimizer", "adam", PETSC_COMM_SELF, &optimizer), 0);
    const std::string message = recns::test::InputError(
        recns::test::WithOptions(options, [&] { return optimizer->SetFromOptions(); }));
    EXPECT_NE(message.find(named), std::string::npos) << options << ": " << message;
  }
}

// -optimizer_clip c bounds every gradient entry to [-c, c] before SGD's update, on dense and
// sparse steps and on shared blocks; 0 (the default) leaves the update as it was.
TEST(optimizer_test, SGDClipsEachGradientEntry) {
  RowMatrix grad(3, 2), shared_grad(1, 3);
  grad << -10.0, -0.3, 0.0, 0.25, 7.0, 0.5;
  shared_grad << 2.0, -0.75, 0.1;
  for (const bool sparse : {false, true}) {
    SCOPED_TRACE(sparse ? "sparse" : "dense");
    const std::vector<int64_t> rows = {0, 2};
    auto run = [&](const std::string& options, RowMatrix* value, RowMatrix* shared) {
      auto sgd = Make("sgd", "-optimizer_lr 0.1 " + options);
      *value = RowMatrix::Constant(3, 2, 1.0);
      *shared = RowMatrix::Constant(1, 3, -1.0);
      recns::ParameterList params = Block(value, &grad);
      params.push_back(Block(shared, &shared_grad, recns::ParamScope::kShared)[0]);
      params[1].name = "w";
      ASSERT_EQ(sgd->SetUp(params), 0);
      ASSERT_EQ(sgd->Step(0.1, sparse ? &rows : nullptr), 0);
    };
    RowMatrix clipped, clipped_shared, plain, plain_shared, zero, zero_shared;
    run("-optimizer_clip 0.5", &clipped, &clipped_shared);
    run("", &plain, &plain_shared);
    run("-optimizer_clip 0", &zero, &zero_shared);
    for (int64_t r = 0; r < 3; ++r)
      for (int c = 0; c < 2; ++c) {
        const bool moves = !sparse || r != 1;
        const double g = grad(r, c);
        EXPECT_EQ(clipped(r, c), moves ? 1.0 - 0.1 * std::min(std::max(g, -0.5), 0.5) : 1.0) << r << "," << c;
        EXPECT_EQ(plain(r, c), moves ? 1.0 - 0.1 * g : 1.0) << r << "," << c;
      }
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(clipped_shared(0, c), -1.0 - 0.1 * std::min(std::max(shared_grad(0, c), -0.5), 0.5));
    EXPECT_EQ(zero, plain);
    EXPECT_EQ(zero_shared, plain_shared);
  }
}

// Adam with -optimizer_clip c is Adam fed the clipped gradients (its moments hold them), step
// after step; 0 leaves it unchanged, and clipping that bites changes the trajectory.
TEST(optimizer_test, AdamClipsEachGradientEntry) {
  const double clip = 0.4;
  auto run = [&](const std::string& options, bool clip_by_hand, RowMatrix* value) {
    auto adam = Make("adam", "-optimizer_lr 0.05 " + options);
    RowMatrix grad(2, 3);
    *value = RowMatrix::Constant(2, 3, 0.5);
    ASSERT_EQ(adam->SetUp(Block(value, &grad)), 0);
    for (int step = 0; step < 4; ++step) {
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 3; ++c) grad(r, c) = std::sin(1.0 + step + 3 * r + c) * (r + 1) * (step % 2 ? 0.3 : 2.0);
      if (clip_by_hand) grad = grad.cwiseMax(-clip).cwiseMin(clip);
      ASSERT_EQ(adam->Step(0.05, nullptr), 0);
    }
  };
  RowMatrix clipped, by_hand, plain, zero;
  run("-optimizer_clip 0.4", false, &clipped);
  run("", true, &by_hand);
  run("", false, &plain);
  run("-optimizer_clip 0", false, &zero);
  EXPECT_EQ(clipped, by_hand);
  EXPECT_EQ(zero, plain);
  EXPECT_GT((clipped - plain).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(optimizer_test, NegativeClipIsAnInputError) {
  std::unique_ptr<recns::Optimizer> optimizer;
  ASSERT_EQ(recns::OptimizerRegistry::Get().Create("optimizer", "sgd", PETSC_COMM_SELF, &optimizer), 0);
  const std::string message = recns::test::InputError(
      recns::test::WithOptions("-optimizer_clip -1", [&] { return optimizer->SetFromOptions(); }));
  EXPECT_NE(message.find("-optimizer_clip must be a finite number >= 0"), std::string::npos) << message;
}

}  // namespace
