// Losses. BPR (Rendle et al., UAI'09) with k negatives averages over them:
//   loss(u, i) = (1/k) Σ_j softplus(s_uj - s_ui),  s = <e_u, e_x>.
#include "recns/loss.hpp"

#include "recns/error.hpp"

namespace recns {

PetscErrorCode Loss::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm_, nullptr, "Loss options", nullptr);
  PetscCall(PetscOptionsReal("-loss_l2",
                             "L2 weight on the batch's ego rows: l2/2 * sum ||e0||^2 / B, added "
                             "to the mean loss",
                             "Loss", l2_, &l2_, nullptr));
  PetscCall(SetFromOptionsImpl(PetscOptionsObject));
  PetscOptionsEnd();
  RECNS_CHECK_INPUT(l2_ >= 0, comm_, "-loss_l2 must be >= 0 (got %g)", l2_);
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {

double Dot(const double* a, const double* b, int d) {
  double s = 0;
  for (int c = 0; c < d; ++c) s += a[c] * b[c];
  return s;
}

class BPRLoss final : public Loss {
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
      const double margin = Dot(u, n, d) - positive;
      loss += Softplus(margin);
      const double g = scale * Sigmoid(margin) / k;  // d loss / d s_uj = -d loss / d s_ui
      double* gn = grad_neg + (size_t)j * d;
      for (int c = 0; c < d; ++c) {
        grad_u[c] += g * (n[c] - pos[c]);
        grad_pos[c] -= g * u[c];
        gn[c] += g * u[c];
      }
    }
    return loss / k;
  }
};

std::unique_ptr<Loss> CreateLoss_BPR(MPI_Comm comm) { return std::make_unique<BPRLoss>(comm); }

}  // namespace

void LossRegisterAll() {
  static bool done = false;
  if (done) return;
  LossRegistry::Get().Add(kLossBPR, CreateLoss_BPR);
  done = true;
}

}  // namespace recns
