// The step's objective: see objective.hpp.
#include "recns/objective.hpp"

#include <algorithm>

#include "recns/error.hpp"
#include "recns/package.hpp"

namespace recns {

namespace {

/// Adds the seconds since `start` to `phase` and returns the time now.
double Lap(double start, double* phase) {
  const double now = MPI_Wtime();
  *phase += now - start;
  return now;
}

}  // namespace

Objective::Objective(MPI_Comm comm) : comm_(comm) { MPI_Comm_size(comm, &size_); }

Objective::~Objective() = default;

PetscErrorCode Objective::SetUp(const Graph& graph, Model* model, Sampler* sampler,
                                const Loss* loss, bool needed_rows_only, bool sampling_quality,
                                PhaseSeconds* phases, double quality[3]) {
  PetscFunctionBeginUser;
  graph_ = &graph;
  model_ = model;
  sampler_ = sampler;
  loss_ = loss;
  needed_rows_only_ = needed_rows_only;
  sampling_quality_ = sampling_quality;
  phases_ = phases;
  quality_ = quality;
  params_.clear();
  model_->GetParameters(&params_);
  sampler_->GetParameters(&params_);
  size_t shared = 0;
  for (const Parameter& p : params_)
    if (p.scope == ParamScope::kShared) shared += (size_t)p.value->size();
  reduced_.assign(3 + shared, 0.0);
  halo_ = std::make_unique<Halo>(graph.GetLayout());
  step_halo_.reset();
  if (model_->TrainsOnStepRows()) step_halo_ = std::make_unique<Halo>(graph.GetLayout());
  // Column 0 counts each owned row's occurrences for the batch L2; column 1 its reads.
  row_count_ = RowMatrix::Zero(graph.GetLayout().LocalRows(), 2);
  step_rows_.assign(row_count_.rows(), 0);
  touched_.clear();
  counted_.clear();
  PetscFunctionReturn(PETSC_SUCCESS);
}

const double* Objective::Item(int32_t item) const {
  const Layout& layout = graph_->GetLayout();
  if (layout.OwnsItem(item)) return model_->StepFinal().row(model_->StepRow(layout.LocalItemRow(item))).data();
  return ghost_final_.row(halo_->GhostRow(item)).data();
}

const double* Objective::ItemLayer(int l, int32_t item) const {
  const RowMatrix& owned = model_->Layer(l);
  if (size_ > 1) return halo_->Row(item, owned, ghost_layers_[(size_t)l]);
  return owned.row(graph_->GetLayout().LocalItemRow(item)).data();
}

double* Objective::ItemGrad(int32_t item) {
  const Layout& layout = graph_->GetLayout();
  if (layout.OwnsItem(item)) return model_->StepFinalGrad().row(model_->StepRow(layout.LocalItemRow(item))).data();
  return ghost_grad_.row(halo_->GhostRow(item)).data();
}

double* Objective::ItemLayerGrad(int l, int32_t item) {
  RowMatrix& owned = model_->LayerGrad(l);
  if (size_ > 1) return halo_->Row(item, owned, ghost_layer_grads_[(size_t)l]);
  return owned.row(graph_->GetLayout().LocalItemRow(item)).data();
}

PetscErrorCode Objective::Prepare(const Batch& batch, const Negatives& negatives) {
  PetscFunctionBeginUser;
  const Layout& layout = graph_->GetLayout();
  const bool distributed = size_ > 1;
  const double t = MPI_Wtime();
  RowMatrix& grad = model_->FinalGrad();
  // The gradient is zeroed where the last step left it non-zero; with the needed rows only,
  // Backward overwrites the gradient outside the step's rows, so only those are zeroed (below),
  // once they are known. The counts and flags are zeroed on the last step's rows.
  const bool row_local = model_->RowLocalGradient();
  // A model that keeps the step's rows only clears their gradient itself.
  const bool model_clears = model_->TrainsOnStepRows();
  const bool clear_step_rows = needed_rows_only_ && !row_local && !model_clears;
  const bool layer_grads = model_->LayerGradsEnabled();
  if (row_local) {
    for (int64_t r : touched_) grad.row(r).setZero();
  } else if (!clear_step_rows && !model_clears) {
    grad.setZero();
  }
  if (layer_grads && !clear_step_rows)
    for (int l = 0; l <= model_->NumLayers(); ++l) model_->LayerGrad(l).setZero();
  for (int64_t r : counted_) {
    row_count_.row(r).setZero();
    step_rows_[r] = 0;
  }
  if (distributed) {
    needed_items_.assign(batch.item.begin(), batch.item.end());
    needed_items_.insert(needed_items_.end(), negatives.item.begin(), negatives.item.end());
    needed_items_.insert(needed_items_.end(), negatives.l2_item.begin(), negatives.l2_item.end());
    PetscCall(halo_->SetItems(needed_items_));
    ghost_count_ = RowMatrix::Zero(halo_->Ghosts(), 2);
  }
  // The step's rows are those it names here and those other ranks name through the halo: found
  // from the step's own lists, never by a pass over every row (an MF step costs its batch only).
  counted_.clear();
  auto item_count = [&](int32_t item) -> double* {
    if (layout.OwnsItem(item)) {
      const int64_t r = layout.LocalItemRow(item);
      counted_.push_back(r);
      return row_count_.row(r).data();
    }
    return halo_->Row(item, row_count_, ghost_count_);
  };
  auto count = [&](double* row, double l2) {
    row[0] += l2;
    row[1] += 1;
  };
  for (size_t b = 0; b < batch.Size(); ++b) {
    counted_.push_back(batch.user[b]);
    count(row_count_.row(batch.user[b]).data(), 1);
    count(item_count(batch.item[b]), 1);
  }
  // Without L2 vectors each term's item is regularised once per occurrence, like a positive.
  const double term_l2 = negatives.HasL2Vectors() ? 0 : 1;
  for (int32_t item : negatives.item) count(item_count(item), term_l2);
  for (int32_t item : negatives.l2_item) count(item_count(item), 0);
  if (distributed) {
    PetscCall(halo_->ReduceAdd(ghost_count_, &row_count_));
    counted_.insert(counted_.end(), halo_->ReadByOthers().begin(), halo_->ReadByOthers().end());
  }
  std::sort(counted_.begin(), counted_.end());
  counted_.erase(std::unique(counted_.begin(), counted_.end()), counted_.end());
  touched_ = counted_;
  if (distributed && step_halo_) PetscCall(step_halo_->CompactRoots(*halo_, touched_));
  for (int64_t r : touched_) {
    step_rows_[r] = 1;
    if (clear_step_rows) {
      grad.row(r).setZero();
      if (layer_grads)
        for (int l = 0; l <= model_->NumLayers(); ++l) model_->LayerGrad(l).row(r).setZero();
    }
  }
  Lap(t, &phases_->halo);
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Objective::RecordSamplingQuality(int32_t local_user, const double* user, double positive_score,
                                      const double* negative, const Negatives& negatives,
                                      int64_t slot) {
  const int width = model_->FinalWidth();
  // The negative's label is that of its heaviest item row (the only one for classic samplers).
  int64_t heaviest = negatives.offset[slot];
  for (int64_t t = heaviest + 1; t < negatives.offset[slot + 1]; ++t)
    if (negatives.weight[t] > negatives.weight[heaviest]) heaviest = t;
  const Csr& test = graph_->Slice().test;
  const int32_t* begin = test.indices.data() + test.indptr[local_user];
  const int32_t* end = test.indices.data() + test.indptr[local_user + 1];
  const bool false_negative = std::binary_search(begin, end, negatives.item[heaviest]);
  const double info = 1.0 - Sigmoid(positive_score - Dot(user, negative, width));
  quality_[false_negative ? 1 : 0] += 1;
  quality_[2] += false_negative ? -info : info;
}

double Objective::AddL2Vectors(const Negatives& negatives, double scale) {
  const int d = model_->Dim();
  const RowMatrix& ego = model_->Ego();
  RowMatrix& ego_grad = model_->EgoGrad();
  const Layout& layout = graph_->GetLayout();
  auto ego_row = [&](int32_t item) -> const double* {
    return size_ > 1 ? halo_->Row(item, ego, static_cast<const RowMatrix&>(ghost_ego_))
                     : ego.row(layout.LocalItemRow(item)).data();
  };
  auto ego_grad_row = [&](int32_t item) -> double* {
    return size_ > 1 ? halo_->Row(item, ego_grad, ghost_ego_grad_)
                     : ego_grad.row(layout.LocalItemRow(item)).data();
  };
  const double weight = loss_->L2() * scale;
  Eigen::RowVectorXd vector(d);
  double total = 0;
  for (size_t v = 0; v + 1 < negatives.l2_offset.size(); ++v) {
    vector.setZero();
    for (int64_t t = negatives.l2_offset[v]; t < negatives.l2_offset[v + 1]; ++t)
      vector += negatives.l2_weight[t] * Eigen::Map<const Eigen::RowVectorXd>(ego_row(negatives.l2_item[t]), d);
    total += 0.5 * weight * vector.squaredNorm();
    for (int64_t t = negatives.l2_offset[v]; t < negatives.l2_offset[v + 1]; ++t)
      Eigen::Map<Eigen::RowVectorXd>(ego_grad_row(negatives.l2_item[t]), d) +=
          weight * negatives.l2_weight[t] * vector;
  }
  return total;
}

PetscErrorCode Objective::Compute(const Batch& batch, const Negatives& negatives, double votes[2],
                                  double* loss) {
  PetscFunctionBeginUser;
  const int width = model_->FinalWidth(), k = negatives.k;
  const bool distributed = size_ > 1;
  const bool layers = negatives.HasLayerTerms();
  const int num_layers = model_->NumLayers();
  PetscCheck(!layers || (model_->HasLayerRows() && sampler_->MixesLayers()), comm_, PETSC_ERR_PLIB,
             "negatives of -sampler_type %s read single layers: the sampler must say so "
             "(MixesLayers), and the model must have them", sampler_->Type());
  if (layers && !model_->LayerGradsEnabled()) model_->EnableLayerGrads();
  // Every gradient but the ego rows' (cleared by the row rules of Prepare) accumulates from 0.
  for (const Parameter& p : params_)
    if (p.grad != &model_->EgoGrad()) p.grad->setZero();

  PhaseSeconds& phase = *phases_;
  double t = MPI_Wtime();
  if (distributed) {
    PetscCall(FinalHalo().Bcast(model_->StepFinal(), &ghost_final_));
    ghost_grad_ = RowMatrix::Zero(halo_->Ghosts(), width);
    if (layers) {
      ghost_layers_.resize((size_t)num_layers + 1);
      ghost_layer_grads_.resize((size_t)num_layers + 1);
      for (int l = 0; l <= num_layers; ++l) {
        PetscCall(halo_->Bcast(model_->Layer(l), &ghost_layers_[(size_t)l]));
        ghost_layer_grads_[(size_t)l] = RowMatrix::Zero(halo_->Ghosts(), model_->Dim());
      }
    }
    if (negatives.HasL2Vectors()) {
      PetscCall(halo_->Bcast(model_->Ego(), &ghost_ego_));
      ghost_ego_grad_ = RowMatrix::Zero(halo_->Ghosts(), model_->Dim());
    }
    t = Lap(t, &phase.halo);
  }

  PetscCall(PetscLogEventBegin(Events().loss, 0, 0, 0, 0));
  const double scale = 1.0 / (double)batch.global_size;
  negative_values_.resize(k, width);
  negative_grads_.resize(k, width);
  double total = 0;
  // Groups of slots: each its own pair loss, weighted by the sampler (one group: all k together).
  const int groups = negatives.groups, per_group = k / groups;
  PetscCheck(groups >= 1 && k % groups == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "-sampler_type %s: %d negatives per pair do not form %d groups", sampler_->Type(), k, groups);
  group_weights_.assign((size_t)groups, 1.0);
  group_losses_.assign(groups > 1 ? (size_t)groups : 0, 0.0);
  if (groups > 1) sampler_->GroupWeights(negatives, group_weights_.data());
  for (size_t b = 0; b < batch.Size(); ++b) {
    for (int s = 0; s < k; ++s)
      sampler_->Synthesize(*this, negatives, (int64_t)b * k + s, negative_values_.row(s).data());
    negative_grads_.setZero();
    const int32_t user = batch.user[b];
    if (sampling_quality_) {
      const double positive_score = Dot(User(user), Item(batch.item[b]), width);
      for (int s = 0; s < k; ++s)
        RecordSamplingQuality(user, User(user), positive_score, negative_values_.row(s).data(),
                              negatives, (int64_t)b * k + s);
    }
    if (groups == 1) {
      total += scale * loss_->PairLoss(User(user), Item(batch.item[b]), negative_values_.data(), k,
                                       width, scale, UserGrad(user), ItemGrad(batch.item[b]),
                                       negative_grads_.data());
    } else {
      for (int g = 0; g < groups; ++g) {
        const double weight = group_weights_[(size_t)g];
        const double pair = loss_->PairLoss(User(user), Item(batch.item[b]),
                                            negative_values_.row(g * per_group).data(), per_group,
                                            width, scale * weight, UserGrad(user),
                                            ItemGrad(batch.item[b]),
                                            negative_grads_.row(g * per_group).data());
        group_losses_[(size_t)g] += scale * pair;
        total += scale * weight * pair;
      }
    }
    for (int s = 0; s < k; ++s)
      sampler_->SynthesizeBackward(this, negatives, (int64_t)b * k + s, negative_grads_.row(s).data());
  }
  PetscCall(sampler_->AddLoss(this, batch, negatives, scale, &total));
  PetscCall(PetscLogEventEnd(Events().loss, 0, 0, 0, 0));
  t = Lap(t, &phase.loss);

  if (distributed) {
    PetscCall(FinalHalo().ReduceAdd(ghost_grad_, &model_->StepFinalGrad()));
    if (layers)
      for (int l = 0; l <= num_layers; ++l)
        PetscCall(halo_->ReduceAdd(ghost_layer_grads_[(size_t)l], &model_->LayerGrad(l)));
    t = Lap(t, &phase.halo);
  }

  // The gradient is zero outside the counted rows.
  PetscCall(model_->Backward(needed_rows_only_ ? &step_rows_ : nullptr));

  // L2 on the batch's ego rows, each counted once per occurrence (decision 8), and on the ego
  // vectors of synthesised negatives.
  const RowMatrix& ego = model_->Ego();
  RowMatrix& ego_grad = model_->EgoGrad();
  for (int64_t r : touched_) {
    if (row_count_(r, 0) == 0) continue;
    const double weight = loss_->L2() * scale * row_count_(r, 0);
    ego_grad.row(r) += weight * ego.row(r);
    total += 0.5 * weight * ego.row(r).squaredNorm();
  }
  if (negatives.HasL2Vectors()) {
    total += AddL2Vectors(negatives, scale);
    if (distributed) PetscCall(halo_->ReduceAdd(ghost_ego_grad_, &ego_grad));
  }
  if (!model_->RowLocalGradient()) touched_.clear();  // every row may carry gradient now
  // Blocks of owned rows decay on each rank's rows; shared ones after their reduction, once.
  for (const Parameter& p : params_)
    if (p.weight_decay > 0 && p.scope == ParamScope::kOwnedRows) {
      *p.grad += p.weight_decay * *p.value;
      total += 0.5 * p.weight_decay * p.value->squaredNorm();
    }
  // The step's one reduction carries the loss, the ranks' stop and timer votes (so checking for
  // a signal at every step costs nothing) and the shared blocks' gradients.
  reduced_[0] = total;
  reduced_[1] = votes[0];
  reduced_[2] = votes[1];
  size_t at = 3;
  for (const Parameter& p : params_)
    if (p.scope == ParamScope::kShared) {
      std::copy(p.grad->data(), p.grad->data() + p.grad->size(), reduced_.begin() + (long)at);
      at += (size_t)p.grad->size();
    }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, reduced_.data(), (int)reduced_.size(), MPI_DOUBLE,
                             MPI_SUM, comm_));
  votes[0] = reduced_[1];
  votes[1] = reduced_[2];
  *loss = reduced_[0];
  at = 3;
  for (const Parameter& p : params_)
    if (p.scope == ParamScope::kShared) {
      std::copy(reduced_.begin() + (long)at, reduced_.begin() + (long)(at + (size_t)p.grad->size()),
                p.grad->data());
      at += (size_t)p.grad->size();
      if (p.weight_decay > 0) {
        *p.grad += p.weight_decay * *p.value;
        *loss += 0.5 * p.weight_decay * p.value->squaredNorm();
      }
    }
  Lap(t, &phase.backward);
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
