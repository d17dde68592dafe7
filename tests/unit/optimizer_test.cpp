// Optimizers against hand-computed steps: Adam (PyTorch's form), sparse and dense SGD, coupled
// weight decay, and the step-decay schedule.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

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

TEST(optimizer_test, AdamTwoStepsByHand) {
  auto adam = Make("adam", "-optimizer_lr 0.1 -optimizer_adam_epsilon 1e-8");
  ASSERT_EQ(adam->SetUp(1, 2), 0);
  RowMatrix p(1, 2), g(1, 2);
  p << 1.0, -2.0;
  g << 0.5, -4.0;
  ASSERT_EQ(adam->Step(0.1, g, nullptr, &p), 0);
  // Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m/(1-0.9) = g, v/(1-0.999) = g^2, so each
  // entry moves by lr * g / (|g| + eps) = lr * sign(g) (up to eps).
  EXPECT_NEAR(p(0, 0), 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(p(0, 1), -2.0 + 0.1 * 4.0 / (4.0 + 1e-8), 1e-15);
  const double p0 = p(0, 0);
  g << 1.0, 0.0;
  ASSERT_EQ(adam->Step(0.1, g, nullptr, &p), 0);
  // Step 2, entry 0: m = 0.9*0.05 + 0.1*1 = 0.145, v = 0.999*0.00025 + 0.001*1 = 0.00124975;
  // m_hat = 0.145/0.19, v_hat = 0.00124975/0.001999.
  const double m_hat = 0.145 / (1 - 0.81), v_hat = 0.00124975 / (1 - 0.998001);
  EXPECT_NEAR(p(0, 0), p0 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-14);
}

TEST(optimizer_test, SparseSGDEqualsDenseWhenOtherRowsHaveNoGradient) {
  auto sgd = Make("sgd", "-optimizer_lr 0.5");
  ASSERT_EQ(sgd->SetUp(4, 3), 0);
  RowMatrix params = RowMatrix::Constant(4, 3, 1.0), grad = RowMatrix::Zero(4, 3);
  grad.row(1) << 1, 2, 3;
  grad.row(3) << -1, 0, 1;
  RowMatrix dense = params, sparse = params;
  const std::vector<int64_t> rows = {1, 3};
  ASSERT_EQ(sgd->Step(0.5, grad, nullptr, &dense), 0);
  ASSERT_EQ(sgd->Step(0.5, grad, &rows, &sparse), 0);
  EXPECT_EQ(dense, sparse);
  EXPECT_DOUBLE_EQ(dense(1, 2), 1.0 - 0.5 * 3);
}

TEST(optimizer_test, WeightDecayIsCoupledAndTouchesEveryRow) {
  auto sgd = Make("sgd", "-optimizer_lr 0.1 -optimizer_weight_decay 0.2");
  ASSERT_EQ(sgd->SetUp(2, 1), 0);
  RowMatrix params(2, 1), grad = RowMatrix::Zero(2, 1);
  params << 2.0, 3.0;
  grad(0, 0) = 1.0;
  const std::vector<int64_t> rows = {0};
  ASSERT_EQ(sgd->Step(0.1, grad, &rows, &params), 0);
  EXPECT_DOUBLE_EQ(params(0, 0), 2.0 - 0.1 * (1.0 + 0.2 * 2.0));
  EXPECT_DOUBLE_EQ(params(1, 0), 3.0 - 0.1 * (0.2 * 3.0));
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

}  // namespace
