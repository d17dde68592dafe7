// LightGCN (He et al., SIGIR'20; ALGORITHMS §1.2, decision 8): E^(l+1) = Â E^(l) for
// l = 0..L-1 with Â = D^-1/2 A D^-1/2 (no self-loops, no weights, no nonlinearity) and
// E* = (1/(L+1)) Σ_l E^(l). Â is symmetric, so the backward pass uses the same products:
// dL/dE0 = (1/(L+1)) Σ_l Â^l G  with G = dL/dE*.
#include <algorithm>

#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"

namespace recns {
namespace {

class LightGCNModel final : public Model {
 public:
  using Model::Model;
  const char* Type() const override { return kModelLightGCN; }

  PetscErrorCode Forward() override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().forward, 0, 0, 0, 0));
    const double weight = 1.0 / (layers_ + 1);
    final_ = weight * ego_;
    const RowMatrix* previous = &ego_;
    for (int l = 0; l < layers_; ++l) {
      PetscCall(propagator_.Apply(*previous, &work_[l]));
      final_ += weight * work_[l];
      previous = &work_[l];
    }
    PetscCall(PetscLogEventEnd(Events().forward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  // E^(l+1) is needed on the rows E^(l+2)'s wanted rows read, and so on down from the step's
  // rows: each layer computes only those (which include the step's rows: their single layers
  // are there for the samplers that read them), then the final rows are summed for the step's
  // rows.
  // Once the wanted rows are most of the graph's, the layers below are computed whole: flagging
  // the rows they read would cost a pass over nearly every nonzero to skip almost none.
  PetscErrorCode ForwardRows(const RowFlags& rows) override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().forward, 0, 0, 0, 0));
    wanted_.resize(std::max(layers_, 1));
    int whole_below = 0;  // layers l < whole_below compute every row
    if (layers_ > 0) wanted_[layers_ - 1] = rows;
    for (int l = layers_ - 1; l > 0; --l) {
      PetscBool most;
      PetscCall(MostRows(wanted_[l], &most));
      if (most) {
        whole_below = l;
        break;
      }
      PetscCall(propagator_.ExpandRows(wanted_[l], &wanted_[l - 1]));
    }
    final_rows_.clear();
    for (size_t r = 0; r < rows.size(); ++r)
      if (rows[r]) final_rows_.push_back((int64_t)r);
    const double weight = 1.0 / (layers_ + 1);
    if (final_.rows() != ego_.rows() || final_.cols() != ego_.cols()) final_.resize(ego_.rows(), ego_.cols());
    for (int64_t r : final_rows_) final_.row(r) = weight * ego_.row(r);
    const RowMatrix* previous = &ego_;
    for (int l = 0; l < layers_; ++l) {
      if (l < whole_below) PetscCall(propagator_.Apply(*previous, &work_[l]));
      else PetscCall(propagator_.ApplyToRows(*previous, wanted_[l], &work_[l]));
      for (int64_t r : final_rows_) final_.row(r) += weight * work_[l].row(r);
      previous = &work_[l];
    }
    PetscCall(PetscLogEventEnd(Events().forward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  const RowMatrix& Final() const override { return final_; }
  int NumLayers() const override { return layers_; }
  // Layer l > 0 lives in the forward pass's work_[l - 1] until a backward pass reuses it.
  const RowMatrix& Layer(int l) const override { return l == 0 ? ego_ : work_[(size_t)l - 1]; }

  PetscErrorCode Backward(const RowFlags* rows) override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().backward, 0, 0, 0, 0));
    if (LayerGradsEnabled()) PetscCall(BackwardThroughLayers(rows));
    else if (rows) PetscCall(BackwardFromRows(&ego_grad_, *rows));
    else PetscCall(BackwardEveryRow(&ego_grad_));
    PetscCall(PetscLogEventEnd(Events().backward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  bool RowLocalGradient() const override { return false; }

  std::vector<std::pair<std::string, int64_t>> Structure() const override {
    auto structure = Model::Structure();
    structure.emplace_back("model_layers", layers_);
    return structure;
  }

  std::string Describe() const override {
    return Model::Describe() + Format(", %d layers", layers_);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt layers = layers_;
    PetscOptionsHeadBegin(PetscOptionsObject, "LightGCN options");
    PetscCall(PetscOptionsInt("-model_layers", "Number of propagation layers L", "Model", layers,
                              &layers, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(layers >= 0, comm_, "-model_layers must be >= 0 (got %d)", (int)layers);
    layers_ = (int)layers;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    PetscCall(propagator_.SetUp(graph_->Adjacency(), dim_));
    // ForwardRows leaves rows it does not need as they were: they start at zero, not garbage.
    // The forward pass keeps every layer (a negative may read single layers) and the backward
    // pass every layer's product, in the same matrices.
    work_.resize(std::max(layers_, 2));
    nonzero_.resize(layers_);
    for (RowMatrix& gathered : work_) AllocateRows(&gathered, propagator_.LocalRows(), dim_);
    AllocateRows(&grad_final_, propagator_.LocalRows(), dim_);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  PetscErrorCode BackwardEveryRow(RowMatrix* grad) {
    PetscFunctionBeginUser;
    const double weight = 1.0 / (layers_ + 1);
    grad_final_ = *grad;
    *grad *= weight;
    const RowMatrix* previous = &grad_final_;
    for (int l = 0; l < layers_; ++l) {
      PetscCall(propagator_.Apply(*previous, &work_[l % 2]));
      *grad += weight * work_[l % 2];
      previous = &work_[l % 2];
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  // Â^l G is zero outside the rows within l hops of G's rows: each product gathers only the
  // input rows that may be nonzero, and the sum adds only those rows (adding zeros changes no
  // bits), so G needs no copy. Every product is kept, and one pass then forms each gradient row
  // from them, with the additions a pass per product makes in the same order: a row outside G's
  // rows is set where a product first reaches it (0 + x is x: the kernel's sums start at +0, so
  // no product row holds -0) and cleared if none does, so the rest of `grad` needs no clearing
  // before the step.
  PetscErrorCode BackwardFromRows(RowMatrix* grad, const RowFlags& rows) {
    PetscFunctionBeginUser;
    const double weight = 1.0 / (layers_ + 1);
    const RowMatrix* previous = grad;
    const RowFlags* nonzero = &rows;
    for (int l = 0; l < layers_; ++l) {
      PetscCall(propagator_.ApplySparse(*previous, *nonzero, &work_[l], &nonzero_[l]));
      previous = &work_[l];
      nonzero = &nonzero_[l];
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      bool holds = rows[r] != 0;
      if (holds) grad->row(r) *= weight;
      for (int l = 0; l < layers_; ++l) {
        if (!nonzero_[l][r]) continue;
        if (holds) {
          grad->row(r) += weight * work_[l].row(r);
        } else {
          grad->row(r) = weight * work_[l].row(r);
          holds = true;
        }
      }
      if (!holds) grad->row(r).setZero();
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  // With gradients on single layers, H_l = G/(L+1) + G_l is the whole gradient on layer l's
  // rows and dL/dE0 = sum_l Â^l H_l, formed in Horner form H_0 + Â(H_1 + Â(H_2 + ...)): as many
  // products as without layer gradients. With `rows`, G and the G_l are zero outside them (G may
  // hold anything there) and each product gathers only the rows that may be nonzero.
  PetscErrorCode BackwardThroughLayers(const RowFlags* rows) {
    PetscFunctionBeginUser;
    const double weight = 1.0 / (layers_ + 1);
    RowMatrix& grad = ego_grad_;
    const Eigen::Index n = grad.rows();
    auto flagged = [&](Eigen::Index r) { return !rows || (*rows)[(size_t)r]; };
    if (layers_ == 0) {
      for (Eigen::Index r = 0; r < n; ++r)
        if (flagged(r)) grad.row(r) = weight * grad.row(r) + LayerGrad(0).row(r);
        else grad.row(r).setZero();
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    RowMatrix* x = &work_[0];
    RowMatrix* y = &work_[1];
    for (Eigen::Index r = 0; r < n; ++r)
      if (flagged(r)) x->row(r) = weight * grad.row(r) + LayerGrad(layers_).row(r);
    RowFlags nonzero = rows ? *rows : RowFlags(), reached;
    for (int l = layers_ - 1; l >= 0; --l) {
      if (rows) PetscCall(propagator_.ApplySparse(*x, nonzero, y, &reached));
      else PetscCall(propagator_.Apply(*x, y));
      if (l == 0) break;
      for (Eigen::Index r = 0; r < n; ++r)
        if (flagged(r)) y->row(r) += weight * grad.row(r) + LayerGrad(l).row(r);
      if (rows)
        for (size_t r = 0; r < nonzero.size(); ++r) nonzero[r] = reached[r] | (*rows)[r];
      std::swap(x, y);
    }
    for (Eigen::Index r = 0; r < n; ++r)
      if (flagged(r)) grad.row(r) = weight * grad.row(r) + LayerGrad(0).row(r) + y->row(r);
      else grad.row(r) = y->row(r);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// Whether `rows` flags at least 3/4 of the graph's rows, on every rank.
  PetscErrorCode MostRows(const RowFlags& rows, PetscBool* most) const {
    PetscFunctionBeginUser;
    int64_t counts[2] = {0, (int64_t)rows.size()};
    for (unsigned char flag : rows) counts[0] += flag != 0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm_));
    *most = 4 * counts[0] >= 3 * counts[1] ? PETSC_TRUE : PETSC_FALSE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  int layers_ = 3;
  Propagator propagator_;
  RowMatrix final_, grad_final_;
  std::vector<RowMatrix> work_;
  std::vector<RowFlags> wanted_;  // per layer: the rows of E^(l+1) a ForwardRows step needs
  std::vector<int64_t> final_rows_;
  std::vector<RowFlags> nonzero_;  // per backward product: the rows that may be nonzero
};

}  // namespace

std::unique_ptr<Model> CreateModel_LightGCN(MPI_Comm comm) {
  return std::make_unique<LightGCNModel>(comm);
}

}  // namespace recns
