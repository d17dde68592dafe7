// The step's objective (ARCHITECTURE "Trainable negatives" §5): for a batch and the sampler's
// choices at the current forward pass, the global loss and the gradient of every trainable
// block. Halo of the step's remote item rows -> negatives synthesised by the sampler -> loss
// (and the sampler's own terms) -> gradients back to their owners -> model backward -> L2 of the
// batch's ego rows (ALGORITHMS decision 8) and the blocks' weight decay -> one reduction of the
// loss, the ranks' votes and the shared blocks' gradients. The trainer keeps the loop.
#pragma once

#include <petscsys.h>

#include <memory>
#include <vector>

#include "recns/graph.hpp"
#include "recns/halo.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/parameter.hpp"
#include "recns/sampler.hpp"

namespace recns {

/// Wall seconds per phase of training, summed over the steps of a run.
struct PhaseSeconds {
  double batch = 0, sample = 0, forward = 0, halo = 0, loss = 0, backward = 0, optimize = 0,
         evaluate = 0;
};

class Objective final : public StepRows {
 public:
  explicit Objective(MPI_Comm comm);
  ~Objective() override;
  Objective(const Objective&) = delete;
  Objective& operator=(const Objective&) = delete;

  /// Not collective. The objects must outlive the objective; `phases` receives the halo, loss
  /// and backward seconds, `quality` (three sums) the sampling quality when it is asked for.
  PetscErrorCode SetUp(const Graph& graph, Model* model, Sampler* sampler, const Loss* loss,
                       bool needed_rows_only, bool sampling_quality, PhaseSeconds* phases,
                       double quality[3]);
  /// Every trainable block: the model's, then the sampler's.
  const ParameterList& Parameters() const { return params_; }

  /// Collective. Marks the rows the step reads (users, positives, every row the negatives name,
  /// here or through the halo on their owners) and clears the gradients where the last step left
  /// them. Comes before a forward pass that computes the step's rows only.
  PetscErrorCode Prepare(const Batch& batch, const Negatives& negatives);
  /// The owned rows the step reads, as flags and as a list.
  const RowFlags& StepRowFlags() const { return step_rows_; }
  const std::vector<int64_t>& Touched() const { return touched_; }
  /// Remote item rows of the step's halo.
  int64_t HaloRows() const { return halo_->Ghosts(); }
  const std::vector<double>& GroupLosses() const override { return group_losses_; }

  /// Collective. After Prepare and the forward pass: the global loss (mean over the global batch
  /// plus the L2 and decay terms) in `*loss` and every block's gradient in its grad. `votes` (two
  /// numbers per rank) come back summed over the ranks, in the same reduction as the loss.
  PetscErrorCode Compute(const Batch& batch, const Negatives& negatives, double votes[2],
                         double* loss);

  // StepRows: the step's rows for the sampler's synthesis and loss terms.
  const Model& GetModel() const override { return *model_; }
  const double* User(int32_t local_user) const override {
    return model_->StepFinal().row(model_->StepRow(local_user)).data();
  }
  const double* Item(int32_t item) const override;
  const double* ItemLayer(int l, int32_t item) const override;
  double* UserGrad(int32_t local_user) override {
    return model_->StepFinalGrad().row(model_->StepRow(local_user)).data();
  }
  double* ItemGrad(int32_t item) override;
  double* ItemLayerGrad(int l, int32_t item) override;
  // A local user's layer rows are owned: no halo (models with layer rows keep every local row).
  const double* UserLayer(int l, int32_t local_user) const override {
    return model_->Layer(l).row(local_user).data();
  }
  double* UserLayerGrad(int l, int32_t local_user) override {
    return model_->LayerGrad(l).row(local_user).data();
  }

 private:
  void RecordSamplingQuality(int32_t local_user, const double* user, double positive_score,
                             const double* negative, const Negatives& negatives, int64_t slot);
  /// The L2 vectors of synthesised negatives: their loss, and their gradient on the ego rows.
  double AddL2Vectors(const Negatives& negatives, double scale);

  MPI_Comm comm_;
  PetscMPIInt size_ = 1;
  const Graph* graph_ = nullptr;
  Model* model_ = nullptr;
  Sampler* sampler_ = nullptr;
  const Loss* loss_ = nullptr;
  bool needed_rows_only_ = true, sampling_quality_ = false;
  PhaseSeconds* phases_ = nullptr;
  double* quality_ = nullptr;
  ParameterList params_;
  std::unique_ptr<Halo> halo_;
  /// The halo of the final rows and their gradient when the model keeps only the step's rows:
  /// halo_ with its roots compacted to them, without a second set-up (halo_ itself keeps every
  /// owned row as a root, for the ego and layer rows).
  std::unique_ptr<Halo> step_halo_;
  Halo& FinalHalo() { return step_halo_ ? *step_halo_ : *halo_; }

  // Per-step work arrays, kept to avoid reallocation.
  std::vector<int32_t> needed_items_;
  RowMatrix ghost_final_, ghost_grad_, row_count_, ghost_count_, negative_values_, negative_grads_,
      ghost_ego_, ghost_ego_grad_;
  std::vector<RowMatrix> ghost_layers_, ghost_layer_grads_;
  std::vector<int64_t> touched_;  // the step's rows; emptied once every row may carry gradient
  std::vector<int64_t> counted_;  // the step's rows, whose counts and flags the next step clears
  RowFlags step_rows_;
  std::vector<double> reduced_;
  std::vector<double> group_weights_, group_losses_;  // per group of slots (Negatives::groups)
};

}  // namespace recns
