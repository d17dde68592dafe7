// Generic model code: options and initialisation.
#include "recns/model.hpp"

#include <cmath>

#include "recns/checkpoint.hpp"
#include "recns/parameter.hpp"
#include "recns/error.hpp"
#include "recns/rng.hpp"

namespace recns {

PetscErrorCode Model::SetFromOptions() {
  PetscFunctionBeginUser;
  const char* inits[] = {"normal", "xavier"};
  PetscInt init = init_ == "xavier" ? 1 : 0;
  PetscInt dim = dim_;
  PetscOptionsBegin(comm_, nullptr, "Model options", nullptr);
  PetscCall(PetscOptionsInt("-model_dim", "Embedding dimension d", "Model", dim, &dim, nullptr));
  PetscCall(PetscOptionsEList("-model_init",
                              "Initial ego rows: normal(0, init_std^2), or xavier (normal with "
                              "std sqrt(2/(rows+d)) per table)",
                              "Model", inits, 2, inits[init], &init, nullptr));
  PetscCall(PetscOptionsReal("-model_init_std", "Standard deviation of the normal initialisation",
                             "Model", init_std_, &init_std_, nullptr));
  PetscCall(SetFromOptionsImpl(PetscOptionsObject));
  PetscOptionsEnd();
  RECNS_CHECK_INPUT(dim > 0, comm_, "-model_dim must be positive (got %d)", (int)dim);
  RECNS_CHECK_INPUT(init_std_ > 0 && std::isfinite(init_std_), comm_,
                    "-model_init_std must be a finite number > 0 (got %s)",
                    Format("%g", init_std_).c_str());
  dim_ = (int)dim;
  init_ = inits[init];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Model::SetUp(const Graph& graph, uint64_t seed) {
  PetscFunctionBeginUser;
  graph_ = &graph;
  seed_ = seed;
  const Layout& layout = graph.GetLayout();
  AllocateRows(&ego_, layout.LocalRows(), dim_);
  AllocateRows(&ego_grad_, layout.LocalRows(), dim_);
  layer_grad_.clear();
  const bool xavier = init_ == "xavier";
  const double user_std = xavier ? std::sqrt(2.0 / (layout.NumUsers() + dim_)) : init_std_;
  const double item_std = xavier ? std::sqrt(2.0 / (layout.NumItems() + dim_)) : init_std_;
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    const bool user = r < layout.LocalUsers();
    const int64_t id = user ? layout.UserBegin() + r : layout.ItemBegin() + (r - layout.LocalUsers());
    const RngPurpose purpose = user ? RngPurpose::kInitUser : RngPurpose::kInitItem;
    const double std_dev = user ? user_std : item_std;
    for (int c = 0; c < dim_; ++c)
      ego_(r, c) = std_dev * NormalFromBlock(RandomBlock(seed, purpose, 0, (uint64_t)id, (uint32_t)c));
  }
  PetscCall(SetUpImpl());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Model::Save(CheckpointFile& file) {
  PetscFunctionBeginUser;
  PetscCall(file.WriteAttribute("/model", "type", std::string(Type())));
  for (const auto& [name, value] : Structure()) PetscCall(file.WriteAttribute("/model", name, value));
  // Not an option but what the samplers that rank along factors (AOBPR) check their state by.
  PetscCall(file.WriteAttribute("/model", "final_width", (int64_t)FinalWidth()));
  ParameterList params;
  GetParameters(&params);
  PetscCall(SaveParameters(file, params));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Model::Load(CheckpointFile& file) {
  std::string type;
  PetscFunctionBeginUser;
  PetscCall(file.ReadAttribute("/model", "type", &type));
  RECNS_CHECK_INPUT(type == Type(), comm_,
                    "checkpoint '%s' holds a %s model; this run has -model_type %s (structural "
                    "options cannot change on restart)",
                    file.Path().c_str(), type.c_str(), Type());
  for (const auto& [name, value] : Structure()) {
    int64_t saved;
    PetscCall(file.ReadAttribute("/model", name, &saved));
    RECNS_CHECK_INPUT(saved == value, comm_,
                      "checkpoint '%s' was written with -%s %lld; this run has %lld (structural "
                      "options cannot change on restart)",
                      file.Path().c_str(), name.c_str(), (long long)saved, (long long)value);
  }
  ParameterList params;
  GetParameters(&params);
  PetscCall(LoadParameters(file, params));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Model::GetParameters(ParameterList* params) {
  Parameter ego;
  ego.group = "/model";
  ego.name = "embedding";
  ego.scope = ParamScope::kOwnedRows;
  ego.value = &ego_;
  ego.grad = &ego_grad_;
  params->push_back(ego);
}

void Model::AddLayerContribution(int, const double* layer_row, double weight,
                                 double* final_row) const {
  const double scaled = weight / (NumLayers() + 1);
  for (int c = 0; c < dim_; ++c) final_row[c] += scaled * layer_row[c];
}

void Model::AddLayerContributionGrad(int, const double* final_grad, double weight,
                                     double* layer_grad) const {
  const double scaled = weight / (NumLayers() + 1);
  for (int c = 0; c < dim_; ++c) layer_grad[c] += scaled * final_grad[c];
}

void Model::EnableLayerGrads() {
  if (LayerGradsEnabled()) return;
  layer_grad_.resize((size_t)NumLayers() + 1);
  for (RowMatrix& grad : layer_grad_) grad = RowMatrix::Zero(ego_.rows(), dim_);
}

std::string Model::Describe() const {
  return Format("%s, d=%d, init %s", Type(), dim_,
                init_ == "xavier" ? "xavier" : Format("normal(std %g)", init_std_).c_str());
}

}  // namespace recns
