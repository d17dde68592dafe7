// SGD and Adam on every block of the parameter list.
#include "recns/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "recns/checkpoint.hpp"
#include "recns/error.hpp"

namespace recns {

PetscErrorCode Optimizer::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscInt every = decay_every_;
  PetscErrorCode error = PETSC_SUCCESS;
  // PetscOptionsEnd frees what PetscOptionsBegin allocated, so an error inside is returned after it.
  PetscOptionsBegin(comm_, nullptr, "Optimizer options", nullptr);
  error = PetscOptionsReal("-optimizer_lr", "Learning rate", "Optimizer", lr_, &lr_, nullptr);
  if (!error)
    error = PetscOptionsInt("-optimizer_lr_decay_every",
                            "Multiply the learning rate by -optimizer_lr_decay_rate every this "
                            "many epochs (0: constant)",
                            "Optimizer", every, &every, nullptr);
  if (!error)
    error = PetscOptionsReal("-optimizer_lr_decay_rate", "Step-decay factor", "Optimizer",
                             decay_rate_, &decay_rate_, nullptr);
  if (!error)
    error = PetscOptionsReal("-optimizer_weight_decay",
                             "Coupled L2 on every ego row at every step, added to the gradient "
                             "(PyTorch weight_decay); the batch L2 is -loss_l2",
                             "Optimizer", weight_decay_, &weight_decay_, nullptr);
  if (!error)
    error = PetscOptionsReal("-optimizer_clip",
                             "Clip every gradient entry to [-clip, clip] before the update, as "
                             "PinSage's reference does with 5 (0: no clipping)",
                             "Optimizer", clip_, &clip_, nullptr);
  if (!error) error = SetFromOptionsImpl(PetscOptionsObject);
  PetscOptionsEnd();
  PetscCall(error);
  RECNS_CHECK_INPUT(lr_ > 0 && std::isfinite(lr_), comm_,
                    "-optimizer_lr must be a finite number > 0 (got %s)",
                    Format("%g", lr_).c_str());
  RECNS_CHECK_INPUT(every >= 0, comm_, "-optimizer_lr_decay_every must be >= 0 (got %d)", (int)every);
  RECNS_CHECK_INPUT(decay_rate_ > 0 && std::isfinite(decay_rate_), comm_,
                    "-optimizer_lr_decay_rate must be a finite number > 0 (got %s)",
                    Format("%g", decay_rate_).c_str());
  RECNS_CHECK_INPUT(weight_decay_ >= 0 && std::isfinite(weight_decay_), comm_,
                    "-optimizer_weight_decay must be a finite number >= 0 (got %s)",
                    Format("%g", weight_decay_).c_str());
  RECNS_CHECK_INPUT(clip_ >= 0 && std::isfinite(clip_), comm_,
                    "-optimizer_clip must be a finite number >= 0 (got %s)",
                    Format("%g", clip_).c_str());
  decay_every_ = (int)every;
  PetscFunctionReturn(PETSC_SUCCESS);
}

double Optimizer::LearningRate(int epoch) const {
  if (decay_every_ <= 0) return lr_;
  return lr_ * std::pow(decay_rate_, epoch / decay_every_);
}

namespace {

class SGDOptimizer final : public Optimizer {
 public:
  using Optimizer::Optimizer;
  const char* Type() const override { return kOptimizerSGD; }
  PetscErrorCode Step(double lr, const std::vector<int64_t>* rows) override {
    PetscFunctionBeginUser;
    if (weight_decay_ > 0) rows = nullptr;  // the decay touches every row
    for (const Parameter& p : params_) {
      const double rate = BlockRate(p, lr);
      RowMatrix& value = *p.value;
      const RowMatrix& grad = *p.grad;
      const double clip = clip_ > 0 ? clip_ : INFINITY;
      if (rows && p.scope == ParamScope::kOwnedRows) {
        for (int64_t r : *rows)
          value.row(r) -= rate * (grad.row(r).cwiseMax(-clip).cwiseMin(clip) + weight_decay_ * value.row(r));
      } else {
        value -= rate * (grad.cwiseMax(-clip).cwiseMin(clip) + weight_decay_ * value);
      }
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
};

class AdamOptimizer final : public Optimizer {
 public:
  using Optimizer::Optimizer;
  const char* Type() const override { return kOptimizerAdam; }
  PetscErrorCode SetUp(const ParameterList& params) override {
    PetscFunctionBeginUser;
    PetscCall(Optimizer::SetUp(params));
    first_.clear();
    second_.clear();
    moments_.clear();
    for (const Parameter& p : params) {
      first_.push_back(RowMatrix::Zero(p.value->rows(), p.value->cols()));
      second_.push_back(RowMatrix::Zero(p.value->rows(), p.value->cols()));
    }
    // The moments of block b are checkpointed as the blocks themselves, beside them in /optimizer.
    for (size_t b = 0; b < params.size(); ++b)
      for (int which = 0; which < 2; ++which) {
        Parameter moment = params[b];
        moment.group = "/optimizer" + params[b].group;
        moment.name += which == 0 ? "_first_moment" : "_second_moment";
        moment.value = which == 0 ? &first_[b] : &second_[b];
        moment.grad = nullptr;
        moments_.push_back(moment);
      }
    steps_ = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscErrorCode Step(double lr, const std::vector<int64_t>*) override {
    PetscFunctionBeginUser;
    ++steps_;
    const double c1 = 1.0 - std::pow(beta1_, (double)steps_);
    const double c2 = 1.0 - std::pow(beta2_, (double)steps_);
    for (size_t b = 0; b < params_.size(); ++b)
      Update(BlockRate(params_[b], lr), c1, c2, *params_[b].grad, params_[b].value, &first_[b],
             &second_[b]);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscErrorCode Save(CheckpointFile& file) const override {
    PetscFunctionBeginUser;
    PetscCall(file.WriteAttribute("/optimizer", "step", steps_));
    PetscCall(SaveParameters(file, moments_));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscErrorCode Load(CheckpointFile& file) override {
    PetscFunctionBeginUser;
    PetscCall(file.ReadAttribute("/optimizer", "step", &steps_));
    // Second moments are squares: a negative one is a damaged file.
    for (size_t m = 0; m < moments_.size(); ++m)
      PetscCall(LoadParameters(file, {moments_[m]}, m % 2 == 1 ? 0.0 : -INFINITY));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  void Update(double lr, double c1, double c2, const RowMatrix& grad, RowMatrix* params,
              RowMatrix* first, RowMatrix* second) const {
    const Eigen::Index n = params->size();
    double* p = params->data();
    const double* g = grad.data();
    double* m = first->data();
    double* v = second->data();
    const double beta1 = beta1_, beta2 = beta2_, decay = weight_decay_, epsilon = epsilon_;
    const double clip = clip_ > 0 ? clip_ : INFINITY;
    // Every parameter moves at every step (the moments decay everywhere), so this loop runs over
    // all owned rows; its three divisions and square root dominate it, and in SIMD registers
    // they round exactly as one at a time.
#pragma omp simd
    for (Eigen::Index x = 0; x < n; ++x) {
      const double gx = std::min(std::max(g[x], -clip), clip) + decay * p[x];
      m[x] = beta1 * m[x] + (1 - beta1) * gx;
      v[x] = beta2 * v[x] + (1 - beta2) * gx * gx;
      p[x] -= lr * (m[x] / c1) / (std::sqrt(v[x] / c2) + epsilon);
    }
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscOptionsHeadBegin(PetscOptionsObject, "Adam options");
    PetscCall(PetscOptionsReal("-optimizer_adam_beta1", "Decay of the first moment", "Optimizer",
                               beta1_, &beta1_, nullptr));
    PetscCall(PetscOptionsReal("-optimizer_adam_beta2", "Decay of the second moment", "Optimizer",
                               beta2_, &beta2_, nullptr));
    PetscCall(PetscOptionsReal("-optimizer_adam_epsilon", "Added to sqrt(v) after bias correction",
                               "Optimizer", epsilon_, &epsilon_, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(beta1_ >= 0 && beta1_ < 1 && beta2_ >= 0 && beta2_ < 1, comm_,
                      "-optimizer_adam_beta1 and -optimizer_adam_beta2 must be in [0, 1)");
    RECNS_CHECK_INPUT(epsilon_ > 0 && std::isfinite(epsilon_), comm_,
                      "-optimizer_adam_epsilon must be a finite number > 0 (got %s)",
                      Format("%g", epsilon_).c_str());
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  double beta1_ = 0.9, beta2_ = 0.999, epsilon_ = 1e-8;
  std::vector<RowMatrix> first_, second_;
  ParameterList moments_;  // views of first_ and second_ named for the checkpoint
  int64_t steps_ = 0;
};

std::unique_ptr<Optimizer> CreateOptimizer_SGD(MPI_Comm comm) {
  return std::make_unique<SGDOptimizer>(comm);
}
std::unique_ptr<Optimizer> CreateOptimizer_Adam(MPI_Comm comm) {
  return std::make_unique<AdamOptimizer>(comm);
}

}  // namespace

void OptimizerRegisterAll() {
  static bool done = false;
  if (done) return;
  OptimizerRegistry::Get().Add(kOptimizerSGD, CreateOptimizer_SGD);
  OptimizerRegistry::Get().Add(kOptimizerAdam, CreateOptimizer_Adam);
  done = true;
}

}  // namespace recns
