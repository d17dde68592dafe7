// Generic sampler code: options, the feasibility check, uniform rejection draws.
#include "recns/sampler.hpp"

#include <algorithm>

#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"

namespace recns {

PetscErrorCode Sampler::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscInt k = num_negatives_;
  PetscErrorCode error = PETSC_SUCCESS;
  // PetscOptionsEnd frees what PetscOptionsBegin allocated, so an error inside is returned after it.
  PetscOptionsBegin(comm_, prefix_.empty() ? nullptr : prefix_.c_str(), "Negative sampler options",
                    nullptr);
  error = PetscOptionsInt("-sampler_num_negatives", "Negatives k per positive pair", "Sampler", k,
                          &k, nullptr);
  // The type's options see k (a sampler made of others passes it on, and may set its own).
  if (!error) {
    num_negatives_ = (int)k;
    error = SetFromOptionsImpl(PetscOptionsObject);
  }
  PetscOptionsEnd();
  PetscCall(error);
  RECNS_CHECK_INPUT(k >= 1, comm_, "-%ssampler_num_negatives must be >= 1 (got %d)", prefix_.c_str(),
                    (int)k);
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::string Sampler::Group() const {
  if (prefix_.empty()) return "/sampler";
  std::string name = prefix_;
  if (name.back() == '_') name.pop_back();
  return "/sampler/" + name;
}

PetscErrorCode Sampler::SetUp(const Graph& graph) {
  PetscFunctionBeginUser;
  graph_ = &graph;
  const Layout& layout = graph.GetLayout();
  int64_t full_user = -1;
  for (int64_t u = 0; u < layout.LocalUsers() && full_user < 0; ++u) {
    int64_t count;
    graph.TrainItems(u, &count);
    if (count >= layout.NumItems()) full_user = layout.UserBegin() + u;
  }
  PetscCall(CheckAllRanks(comm_, full_user < 0,
                          Format("%s: user %lld has interacted with every item, so it has no "
                                 "negative to sample",
                                 graph.Info().path.c_str(), (long long)full_user)));
  PetscCall(SetUpImpl());
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {

/// The weighted sum of a negative's terms into `value` (FinalWidth values).
void SumTerms(const StepRows& rows, const Negatives& negatives, int64_t slot, double* value) {
  const Model& model = rows.GetModel();
  const int width = model.FinalWidth();
  Eigen::Map<Eigen::RowVectorXd> out(value, width);
  out.setZero();
  for (int64_t t = negatives.offset[slot]; t < negatives.offset[slot + 1]; ++t) {
    const int layer = negatives.TermLayer(t);
    if (layer == kFinalLayer)
      out += negatives.weight[t] * Eigen::Map<const Eigen::RowVectorXd>(rows.Item(negatives.item[t]), width);
    else
      model.AddLayerContribution(layer, rows.ItemLayer(layer, negatives.item[t]), negatives.weight[t],
                                 value);
  }
}

/// True when the negative is normalised to unit length: the model's final rows are, and the
/// negative is more than one of them (a single row is left as it is, to the last bit).
bool NormalizedNegative(const Model& model, const Negatives& negatives, int64_t slot) {
  const int64_t first = negatives.offset[slot], terms = negatives.offset[slot + 1] - first;
  return model.NormalizesFinalRows() &&
         !(terms == 1 && negatives.weight[first] == 1.0 && negatives.TermLayer(first) == kFinalLayer);
}

constexpr double kNormFloor = 1e-12;

}  // namespace

void Sampler::Synthesize(const StepRows& rows, const Negatives& negatives, int64_t slot,
                         double* value) const {
  SumTerms(rows, negatives, slot, value);
  const Model& model = rows.GetModel();
  if (!NormalizedNegative(model, negatives, slot)) return;
  Eigen::Map<Eigen::RowVectorXd> out(value, model.FinalWidth());
  out /= std::max(out.norm(), kNormFloor);
}

void Sampler::SynthesizeBackward(StepRows* rows, const Negatives& negatives, int64_t slot,
                                 const double* value_grad) const {
  const Model& model = rows->GetModel();
  const int width = model.FinalWidth();
  Eigen::RowVectorXd through_norm;
  if (NormalizedNegative(model, negatives, slot)) {
    // d(s/||s||) = (g - v <v, g>) / ||s||, with v = s/||s||.
    Eigen::RowVectorXd sum(width);
    SumTerms(*rows, negatives, slot, sum.data());
    const double norm = std::max(sum.norm(), kNormFloor);
    const Eigen::RowVectorXd unit = sum / norm;
    const Eigen::Map<const Eigen::RowVectorXd> g(value_grad, width);
    through_norm = (g - unit * unit.dot(g)) / norm;
    value_grad = through_norm.data();
  }
  const Eigen::Map<const Eigen::RowVectorXd> grad(value_grad, width);
  for (int64_t t = negatives.offset[slot]; t < negatives.offset[slot + 1]; ++t) {
    const int layer = negatives.TermLayer(t);
    if (layer == kFinalLayer)
      Eigen::Map<Eigen::RowVectorXd>(rows->ItemGrad(negatives.item[t]), width) += negatives.weight[t] * grad;
    else
      model.AddLayerContributionGrad(layer, value_grad, negatives.weight[t],
                                     rows->ItemLayerGrad(layer, negatives.item[t]));
  }
}

int32_t DrawUniformNegative(const Graph& graph, int32_t local_user, RandomStream* stream) {
  int64_t count;
  const int32_t* positives = graph.TrainItems(local_user, &count);
  const uint32_t num_items = (uint32_t)graph.GetLayout().NumItems();
  for (;;) {
    const int32_t candidate = (int32_t)stream->NextBelow(num_items);
    if (!std::binary_search(positives, positives + count, candidate)) return candidate;
  }
}

void Sampler::SampleUniformly(const SampleContext& context, const Batch& batch,
                              Negatives* negatives) const {
  negatives->Reset(num_negatives_);
  for (size_t b = 0; b < batch.Size(); ++b) {
    RandomStream stream = PairStream(context, batch.pair[b]);
    for (int s = 0; s < num_negatives_; ++s)
      negatives->AddItem(DrawUniformNegative(*graph_, batch.user[b], &stream));
  }
}

bool Sampler::IsPositive(int32_t local_user, int32_t item) const {
  int64_t count;
  const int32_t* positives = graph_->TrainItems(local_user, &count);
  return std::binary_search(positives, positives + count, item);
}

const int32_t* Sampler::ExposedItems(int32_t local_user, int64_t* count) const {
  const Csr& exposure = graph_->Slice().exposure;
  if (!exposure.Present()) {
    *count = 0;
    return nullptr;
  }
  *count = exposure.indptr[local_user + 1] - exposure.indptr[local_user];
  return exposure.indices.data() + exposure.indptr[local_user];
}

PetscErrorCode Sampler::RequireExposures() const {
  PetscFunctionBeginUser;
  RECNS_CHECK_INPUT(graph_->Info().has_exposure, comm_,
                    "%s: -%ssampler_type %s draws from the users' exposures, but the dataset "
                    "has no /exposure split",
                    graph_->Info().path.c_str(), prefix_.c_str(), Type());
  PetscFunctionReturn(PETSC_SUCCESS);
}

const double* Sampler::UserRow(const SampleContext& context, int32_t local_user) {
  return context.model->Final().row(local_user).data();
}

PetscErrorCode Sampler::GatherItemRows(const SampleContext& context,
                                       const std::vector<int32_t>& items) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().sample_rows, 0, 0, 0, 0));
  owned_rows_ = &context.model->Final();
  const bool distributed = graph_->GetLayout().Size() > 1;
  if (distributed) {
    if (!halo_) halo_ = std::make_unique<Halo>(graph_->GetLayout());
    PetscCall(halo_->SetItems(items));
  }
  if (context.compute_rows) PetscCall(context.compute_rows(&items, distributed ? halo_.get() : nullptr));
  if (distributed) PetscCall(halo_->Bcast(*owned_rows_, &ghost_rows_));
  PetscCall(PetscLogEventEnd(Events().sample_rows, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

const double* Sampler::ItemRow(int32_t item) const {
  return halo_ ? halo_->Row(item, *owned_rows_, ghost_rows_)
               : owned_rows_->row(graph_->GetLayout().LocalItemRow(item)).data();
}

PetscErrorCode Sampler::GatherItemLayerRows(const SampleContext& context,
                                            const std::vector<int32_t>& items) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().sample_rows, 0, 0, 0, 0));
  const Model& model = *context.model;
  const int layers = model.NumLayers();
  owned_layer_rows_.resize((size_t)layers + 1);
  for (int l = 0; l <= layers; ++l) owned_layer_rows_[(size_t)l] = &model.Layer(l);
  const bool distributed = graph_->GetLayout().Size() > 1;
  if (distributed) {
    if (!halo_) halo_ = std::make_unique<Halo>(graph_->GetLayout());
    PetscCall(halo_->SetItems(items));
  }
  if (context.compute_rows) PetscCall(context.compute_rows(&items, distributed ? halo_.get() : nullptr));
  if (distributed) {
    ghost_layer_rows_.resize((size_t)layers + 1);
    for (int l = 0; l <= layers; ++l)
      PetscCall(halo_->Bcast(model.Layer(l), &ghost_layer_rows_[(size_t)l]));
  }
  PetscCall(PetscLogEventEnd(Events().sample_rows, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

const double* Sampler::ItemLayerRow(int l, int32_t item) const {
  const RowMatrix& owned = *owned_layer_rows_[(size_t)l];
  return halo_ ? halo_->Row(item, owned, ghost_layer_rows_[(size_t)l])
               : owned.row(graph_->GetLayout().LocalItemRow(item)).data();
}

void Sampler::ItemLayerRows(int32_t item, const double** rows) const {
  const Layout& layout = graph_->GetLayout();
  const bool owned = !halo_ || layout.OwnsItem(item);
  const Eigen::Index row = owned ? layout.LocalItemRow(item) : halo_->GhostRow(item);
  for (size_t l = 0; l < owned_layer_rows_.size(); ++l)
    rows[l] = (owned ? *owned_layer_rows_[l] : ghost_layer_rows_[l]).row(row).data();
}

PetscErrorCode Sampler::GatherAllItemRows(const SampleContext& context, RowMatrix* buffer,
                                          const double** rows) const {
  PetscFunctionBeginUser;
  const Layout& layout = graph_->GetLayout();
  if (layout.Size() == 1) {
    if (context.compute_rows) PetscCall(context.compute_rows(nullptr, nullptr));
    *rows = context.model->Final().row(layout.LocalUsers()).data();
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(GatherAllItemRows(context, buffer));
  *rows = buffer->data();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Sampler::GatherAllItemRows(const SampleContext& context, RowMatrix* all) const {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(Events().sample_rows, 0, 0, 0, 0));
  if (context.compute_rows) PetscCall(context.compute_rows(nullptr, nullptr));
  PetscCall(AllgatherItemRows(graph_->GetLayout(), context.model->Final(), all));
  PetscCall(PetscLogEventEnd(Events().sample_rows, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
