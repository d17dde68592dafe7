// Optimizers of every trainable block of the parameter list (ALGORITHMS §2): "sgd" and "adam" (PyTorch's form: epsilon
// after bias correction; dense moments, so rows absent from a batch keep moving, as in the
// reference codes), with an optional step decay of the learning rate.
#pragma once

#include <petscsys.h>

#include <cmath>
#include <memory>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/parameter.hpp"
#include "recns/registry.hpp"

namespace recns {

class CheckpointFile;

constexpr const char* kOptimizerSGD = "sgd";
constexpr const char* kOptimizerAdam = "adam";

class Optimizer {
 public:
  explicit Optimizer(MPI_Comm comm) : comm_(comm) {}
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;
  virtual const char* Type() const = 0;

  /// Collective. -optimizer_lr, -optimizer_lr_decay_every, -optimizer_lr_decay_rate,
  /// -optimizer_weight_decay and the type's own options.
  PetscErrorCode SetFromOptions();
  /// Not collective. Sizes the state for every block of `params`, which it keeps: the blocks
  /// must outlive the optimizer.
  virtual PetscErrorCode SetUp(const ParameterList& params) {
    params_ = params;
    return PETSC_SUCCESS;
  }
  /// Not collective. One update of every block with its gradient, at learning rate `lr` (a block
  /// with a rate of its own: that rate times lr / -optimizer_lr). `rows`, when not null, lists
  /// the only rows of the kOwnedRows blocks whose gradient may be non-zero (an optimizer may
  /// skip the others; Adam never does).
  virtual PetscErrorCode Step(double lr, const std::vector<int64_t>* rows) = 0;
  /// Collective. Writes the optimizer's state (moments, step count) into `file`'s /optimizer
  /// group, each block's under its owner's group; SGD has none.
  virtual PetscErrorCode Save(CheckpointFile&) const { return PETSC_SUCCESS; }
  /// Collective. Restores what Save wrote; called after SetUp.
  virtual PetscErrorCode Load(CheckpointFile&) { return PETSC_SUCCESS; }
  /// The learning rate for (0-based) epoch `epoch` under the step-decay schedule.
  double LearningRate(int epoch) const;
  double BaseLearningRate() const { return lr_; }

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  double BlockRate(const Parameter& p, double lr) const { return std::isnan(p.lr) ? lr : p.lr * (lr / lr_); }
  MPI_Comm comm_;
  ParameterList params_;
  double lr_ = 1e-3, decay_rate_ = 0.1, weight_decay_ = 0, clip_ = 0;
  int decay_every_ = 0;
};

using OptimizerRegistry = Registry<Optimizer>;
void OptimizerRegisterAll();

}  // namespace recns
