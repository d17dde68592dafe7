// Pair losses (ALGORITHMS §2, §8): values worked by hand and gradients against central
// differences, for BPR, soft BPR, the K-pair loss and the augmented hinge.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../test_util.hpp"
#include "recns/loss.hpp"
#include "recns/package.hpp"

namespace {

std::unique_ptr<recns::Loss> MakeLoss(const std::string& type, const std::string& options) {
  std::unique_ptr<recns::Loss> loss;
  EXPECT_EQ(recns::InitializePackage(), 0);
  EXPECT_EQ(recns::test::WithOptions(options, [&]() -> PetscErrorCode {
              PetscFunctionBeginUser;
              PetscCall(recns::LossRegistry::Get().Create("loss", type, PETSC_COMM_SELF, &loss));
              PetscCall(loss->SetFromOptions());
              PetscFunctionReturn(PETSC_SUCCESS);
            }),
            0);
  return loss;
}

// u = (1, 2), positive = (0.5, 0), negatives (1, 1) and (-1, 0.5): s_ui = 0.5, s_uj = 3 and 0,
// margins s_uj - s_ui = 2.5 and -0.5.
const std::vector<double> kUser = {1, 2}, kPositive = {0.5, 0}, kNegatives = {1, 1, -1, 0.5};

double Value(const recns::Loss& loss, int k) {
  std::vector<double> gu(2), gp(2), gn(2 * k);
  return loss.PairLoss(kUser.data(), kPositive.data(), kNegatives.data(), k, 2, 1.0, gu.data(),
                       gp.data(), gn.data());
}

TEST(loss_test, ValuesByHand) {
  const double sp25 = std::log1p(std::exp(2.5)), sp05 = std::log1p(std::exp(-0.5));
  EXPECT_NEAR(Value(*MakeLoss("bpr", ""), 1), sp25, 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("bpr", ""), 2), (sp25 + sp05) / 2, 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("soft_bpr", "-loss_soft_bpr_tau 0.2"), 1), std::log1p(std::exp(0.5)), 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("soft_bpr", "-loss_soft_bpr_tau 1"), 2), (sp25 + sp05) / 2, 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("kpair", ""), 1), sp25, 1e-14);  // one negative: BPR
  EXPECT_NEAR(Value(*MakeLoss("kpair", ""), 2), std::log(1 + std::exp(2.5) + std::exp(-0.5)), 1e-14);
  // Hinge: σ(3) − σ(0.5) + γ > 0 for the first negative; σ(0) − σ(0.5) + 0.1 < 0 for the second.
  const double s3 = 1 / (1 + std::exp(-3.0)), s05 = 1 / (1 + std::exp(-0.5));
  EXPECT_NEAR(Value(*MakeLoss("hinge", ""), 1), s3 - s05 + 0.1, 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("hinge", ""), 2), (s3 - s05 + 0.1) / 2, 1e-15);
  EXPECT_NEAR(Value(*MakeLoss("hinge", "-loss_hinge_margin 0.3"), 2),
              (s3 - s05 + 0.3 + 0.5 - s05 + 0.3) / 2, 1e-15);
}

void CheckGradient(const recns::Loss& loss, int k) {
  const int d = 2;
  std::vector<double> u = kUser, p = kPositive, n(kNegatives.begin(), kNegatives.begin() + k * d);
  std::vector<double> gu(d, 0), gp(d, 0), gn(k * d, 0), su(d), sp(d), sn(k * d);
  const double scale = 0.25;
  loss.PairLoss(u.data(), p.data(), n.data(), k, d, scale, gu.data(), gp.data(), gn.data());
  auto value = [&]() { return scale * loss.PairLoss(u.data(), p.data(), n.data(), k, d, 1.0, su.data(), sp.data(), sn.data()); };
  const double h = 1e-6;
  for (auto [values, grads] : {std::make_pair(&u, &gu), std::make_pair(&p, &gp), std::make_pair(&n, &gn)})
    for (size_t e = 0; e < values->size(); ++e) {
      const double saved = (*values)[e];
      (*values)[e] = saved + h;
      const double up = value();
      (*values)[e] = saved - h;
      const double down = value();
      (*values)[e] = saved;
      EXPECT_NEAR((*grads)[e], (up - down) / (2 * h), 1e-8) << loss.Type() << " entry " << e;
    }
}

TEST(loss_test, GradientsMatchCentralDifferences) {
  for (int k : {1, 2}) {
    CheckGradient(*MakeLoss("bpr", ""), k);
    CheckGradient(*MakeLoss("soft_bpr", "-loss_soft_bpr_tau 0.3"), k);
    CheckGradient(*MakeLoss("kpair", ""), k);
    CheckGradient(*MakeLoss("hinge", ""), k);  // one term active, one past the kink
    CheckGradient(*MakeLoss("hinge", "-loss_hinge_margin 0.7"), k);  // both active
  }
}

// At the kink σ(s_uj) − σ(s_ui) + γ = 0 the hinge takes the gradient 0; just past it, the
// gradient of the active term, and the value 0 on the flat side.
TEST(loss_test, HingeAtTheKink) {
  // u = (1, 0), positive (0.5, 0), negative (x, 0) with σ(x) = σ(0.5) − γ.
  const double gamma = 0.1, s05 = 1 / (1 + std::exp(-0.5));
  const double x = std::log((s05 - gamma) / (1 - (s05 - gamma)));
  std::unique_ptr<recns::Loss> loss = MakeLoss("hinge", "-loss_hinge_margin 0.1");
  ASSERT_TRUE(loss);
  const std::vector<double> u = {1, 0}, p = {0.5, 0};
  for (double shift : {-1e-9, 0.0, 1e-9}) {
    const std::vector<double> n = {x + shift, 0};
    std::vector<double> gu(2, 0), gp(2, 0), gn(2, 0);
    const double value = loss->PairLoss(u.data(), p.data(), n.data(), 1, 2, 1.0, gu.data(), gp.data(), gn.data());
    const double margin = 1 / (1 + std::exp(-(x + shift))) - s05 + gamma;
    if (margin > 0) {
      EXPECT_NEAR(value, margin, 1e-15);
      EXPECT_GT(gn[0], 0);
    } else {
      EXPECT_EQ(value, 0.0) << shift;
      EXPECT_EQ(gu[0], 0.0) << shift;
      EXPECT_EQ(gp[0], 0.0) << shift;
      EXPECT_EQ(gn[0], 0.0) << shift;
    }
  }
}

TEST(loss_test, KPairIsStableForLargeMargins) {
  const std::vector<double> u = {30, 0}, p = {-30, 0}, n = {30, 0, 29, 0};
  std::vector<double> gu(2, 0), gp(2, 0), gn(4, 0);
  const double value = MakeLoss("kpair", "")->PairLoss(u.data(), p.data(), n.data(), 2, 2, 1.0,
                                                       gu.data(), gp.data(), gn.data());
  // ln(1 + e^1800 + e^1770) = 1800 + ln(1 + e^-30 + e^-1800), finite.
  EXPECT_NEAR(value, 1800.0, 1e-9);
  for (double g : gu) EXPECT_TRUE(std::isfinite(g));
}

// SetFromOptions keeps what an earlier call set when the option is no longer given, as every
// PETSc SetFromOptions does; τ's default (0.1) applies only to a loss never given one.
TEST(loss_test, SecondSetFromOptionsKeepsTheSoftFactor) {
  std::unique_ptr<recns::Loss> loss = MakeLoss("soft_bpr", "-loss_soft_bpr_tau 0.2");
  ASSERT_TRUE(loss);
  ASSERT_PETSC_OK(recns::test::WithOptions("", [&]() { return loss->SetFromOptions(); }));
  EXPECT_NEAR(Value(*loss, 1), std::log1p(std::exp(0.2 * 2.5)), 1e-15) << "tau was reset";
  std::unique_ptr<recns::Loss> fresh = MakeLoss("soft_bpr", "");
  ASSERT_TRUE(fresh);
  EXPECT_NEAR(Value(*fresh, 1), std::log1p(std::exp(0.1 * 2.5)), 1e-15) << "default tau";
  ASSERT_PETSC_OK(recns::test::WithOptions("", [&]() { return fresh->SetFromOptions(); }));
  EXPECT_NEAR(Value(*fresh, 1), std::log1p(std::exp(0.1 * 2.5)), 1e-15) << "default tau, twice";
}

TEST(loss_test, OptionsOutsideTheirRangeAreInputErrors) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"soft_bpr", "-loss_soft_bpr_tau 0"},  {"soft_bpr", "-loss_soft_bpr_tau 1.5"},
      {"hinge", "-loss_hinge_margin 0"},     {"hinge", "-loss_hinge_margin -0.1"}};
  for (const auto& [type, bad] : cases) {
    std::unique_ptr<recns::Loss> loss;
    const PetscErrorCode code = recns::test::WithOptions(bad, [&]() -> PetscErrorCode {
      PetscFunctionBeginUser;
      PetscCall(recns::LossRegistry::Get().Create("loss", type, PETSC_COMM_SELF, &loss));
      PetscCall(loss->SetFromOptions());
      PetscFunctionReturn(PETSC_SUCCESS);
    });
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(recns::test::InputError(code).find(option), std::string::npos) << bad;
  }
}

}  // namespace
