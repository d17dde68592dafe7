// Pairwise ranking losses on final embeddings (ALGORITHMS §2). A loss sees one positive pair and
// its k negatives as dense vectors, returns that pair's loss and accumulates the gradients; the
// trainer divides by the global batch size and adds the loss's L2 term on the batch's ego rows,
// l2/2 * sum ||e0||^2 / B (decision 8), since only the trainer holds the ego rows.
#pragma once

#include <petscsys.h>

#include <cmath>
#include <memory>

#include "recns/registry.hpp"

namespace recns {

constexpr const char* kLossBPR = "bpr";
constexpr const char* kLossSoftBPR = "soft_bpr";
constexpr const char* kLossKPair = "kpair";
constexpr const char* kLossHinge = "hinge";

/// softplus(x) = ln(1 + e^x), without overflow.
inline double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
/// Logistic sigmoid, without overflow.
inline double Sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

class Loss {
 public:
  explicit Loss(MPI_Comm comm) : comm_(comm) {}
  Loss(const Loss&) = delete;
  Loss& operator=(const Loss&) = delete;
  virtual ~Loss() = default;
  virtual const char* Type() const = 0;
  /// Collective. Reads -loss_l2 and the type's own -loss_<type>_* options.
  PetscErrorCode SetFromOptions();
  /// Weight of the L2 term on the batch's ego rows.
  double L2() const { return l2_; }
  /// Not collective. Before SetFromOptions: the default of -loss_l2 (models whose ego rows are
  /// unregularised features set 0).
  void SetDefaultL2(double l2) { l2_ = l2; }
  /// Not collective. Loss of one pair: user row `u`, positive row `pos`, `k` negative rows
  /// `neg` (k × d, row-major). Adds `scale` times the gradients to `grad_u`, `grad_pos`,
  /// `grad_neg` (same shapes).
  virtual double PairLoss(const double* u, const double* pos, const double* neg, int k, int d,
                          double scale, double* grad_u, double* grad_pos, double* grad_neg) const = 0;

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  MPI_Comm comm_;
  double l2_ = 1e-4;
};

using LossRegistry = Registry<Loss>;
void LossRegisterAll();

}  // namespace recns
