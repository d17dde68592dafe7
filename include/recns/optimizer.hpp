// Optimizers of the owned ego rows (ALGORITHMS §2): "sgd" and "adam" (PyTorch's form: epsilon
// after bias correction; dense moments, so rows absent from a batch keep moving, as in the
// reference codes), with an optional step decay of the learning rate.
#pragma once

#include <petscsys.h>

#include <memory>
#include <vector>

#include "recns/embedding.hpp"
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
  /// Not collective. Sizes the state for parameters of rows × cols.
  virtual PetscErrorCode SetUp(Eigen::Index rows, Eigen::Index cols) = 0;
  /// Not collective. One update of `params` with gradient `grad`. `rows`, when not null, lists
  /// the only rows whose gradient may be non-zero (an optimizer may skip the others; Adam
  /// never does).
  virtual PetscErrorCode Step(double lr, const RowMatrix& grad, const std::vector<int64_t>* rows,
                              RowMatrix* params) = 0;
  /// Collective. Writes the optimizer's state (moments, step count) into `file`'s /optimizer
  /// group; SGD has none.
  virtual PetscErrorCode Save(CheckpointFile&) const { return PETSC_SUCCESS; }
  /// Collective. Restores what Save wrote; called after SetUp.
  virtual PetscErrorCode Load(CheckpointFile&) { return PETSC_SUCCESS; }
  /// The learning rate for (0-based) epoch `epoch` under the step-decay schedule.
  double LearningRate(int epoch) const;
  double BaseLearningRate() const { return lr_; }

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  MPI_Comm comm_;
  double lr_ = 1e-3, decay_rate_ = 0.1, weight_decay_ = 0;
  int decay_every_ = 0;
};

using OptimizerRegistry = Registry<Optimizer>;
void OptimizerRegisterAll();

}  // namespace recns
