// Losses of one positive pair and its k negatives, s = <e_u, e_x> (ALGORITHMS §2, §8).
#include "recns/loss.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/error.hpp"

namespace recns {

PetscErrorCode Loss::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscErrorCode error = PETSC_SUCCESS;
  // PetscOptionsEnd frees what PetscOptionsBegin allocated, so an error inside is returned after it.
  PetscOptionsBegin(comm_, nullptr, "Loss options", nullptr);
  error = PetscOptionsReal("-loss_l2",
                           "L2 weight on the batch's ego rows: l2/2 * sum ||e0||^2 / B, added "
                           "to the mean loss",
                           "Loss", l2_, &l2_, nullptr);
  if (!error) error = SetFromOptionsImpl(PetscOptionsObject);
  PetscOptionsEnd();
  PetscCall(error);
  RECNS_CHECK_INPUT(l2_ >= 0 && std::isfinite(l2_), comm_,
                    "-loss_l2 must be a finite number >= 0 (got %s)",
                    Format("%g", l2_).c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {

/// Adds g times the gradient of the margin s_un - s_ui = <u, n> - <u, pos> to the three rows.
void AddPairGradient(double g, const double* u, const double* pos, const double* n, int d,
                     double* grad_u, double* grad_pos, double* grad_n) {
  for (int c = 0; c < d; ++c) {
    grad_u[c] += g * (n[c] - pos[c]);
    grad_pos[c] -= g * u[c];
    grad_n[c] += g * u[c];
  }
}

/// BPR averaged over the k negatives, with an optional soft factor τ on the margin:
/// loss = (1/k) Σ_j softplus(τ (s_uj - s_ui)). τ = 1 is BPR; τ = 1 - α < 1 is soft BPR (SDNS,
/// ALGORITHMS §8), identical to BPR on the positive-mixed negative α e_i + (1 - α) e_j.
class BPRLoss : public Loss {
 public:
  using Loss::Loss;
  const char* Type() const override { return kLossBPR; }
  double PairLoss(const double* u, const double* pos, const double* neg, int k, int d,
                  double scale, double* grad_u, double* grad_pos,
                  double* grad_neg) const override {
    const double positive = Dot(u, pos, d);
    double loss = 0;
    for (int j = 0; j < k; ++j) {
      const double* n = neg + (size_t)j * d;
      const double margin = soft_ * (Dot(u, n, d) - positive);
      loss += Softplus(margin);
      // d loss / d s_uj = -d loss / d s_ui
      AddPairGradient(scale * soft_ * Sigmoid(margin) / k, u, pos, n, d, grad_u, grad_pos,
                      grad_neg + (size_t)j * d);
    }
    return loss / k;
  }

 protected:
  double soft_ = 1.0;
};

class SoftBPRLoss final : public BPRLoss {
 public:
  // The default is set here, not in SetFromOptionsImpl, so that a later SetFromOptions without
  // -loss_soft_bpr_tau keeps the τ an earlier one set.
  explicit SoftBPRLoss(MPI_Comm comm) : BPRLoss(comm) { soft_ = 0.1; }
  const char* Type() const override { return kLossSoftBPR; }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscCall(PetscOptionsReal("-loss_soft_bpr_tau",
                               "Soft BPR factor tau = 1 - alpha in (0, 1]: loss = "
                               "softplus(-tau (s_ui - s_uj)); the SDNS paper tunes it in "
                               "{0.05, 0.1, 0.2, 0.3, 0.4}",
                               "Loss", soft_, &soft_, nullptr));
    RECNS_CHECK_INPUT(soft_ > 0 && soft_ <= 1, comm_, "-loss_soft_bpr_tau must be in (0, 1] (got %g)",
                      soft_);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
};

/// The K-pair loss (ALGORITHMS §2): loss = ln(1 + Σ_j exp(s_uj - s_ui)); BPR when k = 1.
class KPairLoss final : public Loss {
 public:
  using Loss::Loss;
  const char* Type() const override { return kLossKPair; }
  double PairLoss(const double* u, const double* pos, const double* neg, int k, int d,
                  double scale, double* grad_u, double* grad_pos,
                  double* grad_neg) const override {
    const double positive = Dot(u, pos, d);
    margins_.resize(k);
    double top = 0;  // the implicit 0 margin of the "1 +"
    for (int j = 0; j < k; ++j) {
      margins_[j] = Dot(u, neg + (size_t)j * d, d) - positive;
      top = std::max(top, margins_[j]);
    }
    double sum = std::exp(-top);
    for (int j = 0; j < k; ++j) sum += std::exp(margins_[j] - top);
    for (int j = 0; j < k; ++j) {
      const double* n = neg + (size_t)j * d;
      // The softmax weight of margin j.
      AddPairGradient(scale * std::exp(margins_[j] - top) / sum, u, pos, n, d, grad_u, grad_pos,
                      grad_neg + (size_t)j * d);
    }
    return top + std::log(sum);
  }

 private:
  mutable std::vector<double> margins_;
};

/// The augmented hinge loss of RecNS (ALGORITHMS §2, decision 4):
/// loss = (1/k) Σ_j [σ(s_uj) − σ(s_ui) + γ]_+, with no factor k inside the positive's sigmoid
/// (the paper's eq 5 as extracted has one; the reference code does not). At the kink
/// (σ(s_uj) − σ(s_ui) + γ = 0) the gradient taken is 0, the hinge's value to the right of it.
class HingeLoss final : public Loss {
 public:
  using Loss::Loss;
  const char* Type() const override { return kLossHinge; }
  double PairLoss(const double* u, const double* pos, const double* neg, int k, int d,
                  double scale, double* grad_u, double* grad_pos,
                  double* grad_neg) const override {
    const double positive = Sigmoid(Dot(u, pos, d));
    const double positive_slope = positive * (1 - positive);  // dσ(s_ui)/ds_ui
    double loss = 0;
    for (int j = 0; j < k; ++j) {
      const double* n = neg + (size_t)j * d;
      const double negative = Sigmoid(Dot(u, n, d));
      const double margin = negative - positive + margin_;
      if (!(margin > 0)) continue;
      loss += margin;
      const double g_n = scale * negative * (1 - negative) / k, g_p = scale * positive_slope / k;
      double* grad_n = grad_neg + (size_t)j * d;
      for (int c = 0; c < d; ++c) {
        grad_u[c] += g_n * n[c] - g_p * pos[c];
        grad_pos[c] -= g_p * u[c];
        grad_n[c] += g_n * u[c];
      }
    }
    return loss / k;
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscCall(PetscOptionsReal("-loss_hinge_margin",
                               "Augmented hinge margin gamma > 0: loss = mean over the k "
                               "negatives of max(0, sigma(s_uj) - sigma(s_ui) + gamma) (RecNS: "
                               "0.1, the paper and its code)",
                               "Loss", margin_, &margin_, nullptr));
    // With γ <= 0 a negative scored like the positive costs nothing: the loss collapses.
    RECNS_CHECK_INPUT(margin_ > 0 && std::isfinite(margin_), comm_,
                      "-loss_hinge_margin must be a finite number > 0 (got %s): a margin <= 0 "
                      "collapses the hinge loss",
                      Format("%g", margin_).c_str());
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  double margin_ = 0.1;
};

std::unique_ptr<Loss> CreateLoss_BPR(MPI_Comm comm) { return std::make_unique<BPRLoss>(comm); }
std::unique_ptr<Loss> CreateLoss_SoftBPR(MPI_Comm comm) { return std::make_unique<SoftBPRLoss>(comm); }
std::unique_ptr<Loss> CreateLoss_KPair(MPI_Comm comm) { return std::make_unique<KPairLoss>(comm); }
std::unique_ptr<Loss> CreateLoss_Hinge(MPI_Comm comm) { return std::make_unique<HingeLoss>(comm); }

}  // namespace

void LossRegisterAll() {
  static bool done = false;
  if (done) return;
  LossRegistry::Get().Add(kLossBPR, CreateLoss_BPR);
  LossRegistry::Get().Add(kLossSoftBPR, CreateLoss_SoftBPR);
  LossRegistry::Get().Add(kLossKPair, CreateLoss_KPair);
  LossRegistry::Get().Add(kLossHinge, CreateLoss_Hinge);
  done = true;
}

}  // namespace recns
