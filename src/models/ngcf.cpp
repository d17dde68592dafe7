// NGCF (Wang et al., SIGIR'19; ALGORITHMS §1.3, decision 9), in the form with one activation:
//   S_l = P E_l,   E_{l+1} = LeakyReLU_0.2(S_l W_gc_l + b_gc_l + (E_l ⊙ S_l) W_bi_l + b_bi_l)
// for l = 0..L-1. The unnormalised E_{l+1} feeds the next layer; the final row concatenates
// [E_0, n̂(E_1), ..., n̂(E_L)] with n̂ the row-wise L2 normalisation x / max(||x||, 1e-12), so
// FinalWidth = (L+1)·d and Layer(l) is E_0 or n̂(E_l), the rows that enter the final row.
//
// P is Â = D^-1/2 A D^-1/2 (the default, decision 9) or, with -model_ngcf_adjacency mean_self, the
// NGCF convention D̃^-1 (A + I) with D̃ = D + I. Both are applied through the one symmetric Â as
//   P = diag(a) Â diag(b) + diag(c)   (sym: a = b = 1, c = 0;
//                                      mean_self: a = √deg/(deg+1), b = √deg, c = 1/(deg+1)),
// A = D^1/2 Â D^1/2 holding exactly on every row, zero-degree ones included (their rows and
// columns of Â are empty and √0 = 0). P is not symmetric for mean_self: the backward pass applies
// P^T = diag(b) Â diag(a) + diag(c), i.e. it scales before the product.
//
// The weights W (d×d) and biases b (1×d) of each layer are shared blocks of group /model, drawn
// Xavier-uniform from the counter RNG (the biases as 1×d tensors, bound √(6/(d+1)), as in the
// reference that decision 9 follows), so every rank and every rank count starts from the same
// values. Backward is exact through the normalisation, the activation, both branches and P; its
// dense parts are Eigen GEMMs on the rows whose gradient is nonzero (the step's rows at the top
// layer, spreading one hop per layer), found by looking at the values, so Backward(rows) and
// Backward(nullptr) take the same rows and give the same bits.
//
// Message dropout (MixGCF's optional dropout after the activation) is not implemented: a mask
// keyed by a forward-pass counter would differ between the repeated loss evaluations of the
// finite-difference test and is not part of the checkpointed state.
#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"

namespace recns {
namespace {

constexpr double kLeakySlope = 0.2;
constexpr double kNormFloor = 1e-12;

class NGCFModel final : public Model {
 public:
  using Model::Model;
  const char* Type() const override { return kModelNGCF; }

  int FinalWidth() const override { return (layers_ + 1) * dim_; }
  int NumLayers() const override { return layers_; }
  const RowMatrix& Final() const override { return final_; }
  const RowMatrix& Layer(int l) const override {
    return l == 0 ? ego_ : normalized_[(size_t)l - 1];
  }
  RowMatrix& FinalGrad() override { return final_grad_; }

  void AddLayerContribution(int l, const double* layer_row, double weight,
                            double* final_row) const override {
    double* slice = final_row + (size_t)l * dim_;
    for (int c = 0; c < dim_; ++c) slice[c] += weight * layer_row[c];
  }
  void AddLayerContributionGrad(int l, const double* final_grad, double weight,
                                double* layer_grad) const override {
    const double* slice = final_grad + (size_t)l * dim_;
    for (int c = 0; c < dim_; ++c) layer_grad[c] += weight * slice[c];
  }

  PetscErrorCode Forward() override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().forward, 0, 0, 0, 0));
    const Eigen::Index n = ego_.rows();
    const int d = dim_;
    final_.leftCols(d) = ego_;
    const RowMatrix* input = &ego_;
    for (int l = 0; l < layers_; ++l) {
      RowMatrix& side = side_[(size_t)l];
      RowMatrix& out = out_[(size_t)l];
      PetscCall(Propagate(*input, &side));
      work_ = input->cwiseProduct(side);
      out.noalias() = side * w_gc_[(size_t)l];
      out.noalias() += work_ * w_bi_[(size_t)l];
      const Eigen::RowVectorXd bias = b_gc_[(size_t)l] + b_bi_[(size_t)l];
      RowMatrix& normalized = normalized_[(size_t)l];
      std::vector<double>& norms = norms_[(size_t)l];
      for (Eigen::Index r = 0; r < n; ++r) {
        double* row = out.row(r).data();
        for (int c = 0; c < d; ++c) {
          const double z = row[c] + bias[c];
          row[c] = z > 0 ? z : kLeakySlope * z;
        }
        const double norm = std::sqrt(Dot(row, row, d));
        norms[(size_t)r] = norm;
        const double inverse = 1.0 / std::max(norm, kNormFloor);
        double* unit = normalized.row(r).data();
        double* slice = final_.row(r).data() + (size_t)(l + 1) * d;
        for (int c = 0; c < d; ++c) slice[c] = unit[c] = row[c] * inverse;
      }
      input = &out;
    }
    PetscCall(PetscLogEventEnd(Events().forward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode Backward(const RowFlags* rows) override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().backward, 0, 0, 0, 0));
    const Eigen::Index n = ego_.rows();
    const int d = dim_;
    const bool layer_grads = LayerGradsEnabled();
    // Outside the step's rows the gradients may hold an earlier step's values: they are zero.
    if (rows)
      for (Eigen::Index r = 0; r < n; ++r) {
        if ((*rows)[(size_t)r]) continue;
        final_grad_.row(r).setZero();
        if (layer_grads)
          for (int l = 0; l <= layers_; ++l) LayerGrad(l).row(r).setZero();
      }
    // The gradient reaching layer l's rows from the final rows and from single layers.
    auto output_grad = [&](int l, Eigen::Index r, double* g) {
      const double* slice = final_grad_.row(r).data() + (size_t)l * d;
      if (layer_grads) {
        const double* single = LayerGrad(l).row(r).data();
        for (int c = 0; c < d; ++c) g[c] = slice[c] + single[c];
      } else {
        for (int c = 0; c < d; ++c) g[c] = slice[c];
      }
    };
    // dL/dE_l from the gradient on n̂(E_l) (l >= 1), added to `grad`'s row.
    auto add_normalization_grad = [&](int l, Eigen::Index r, double* grad) {
      double g[kMaxStack];
      double* gp = d <= kMaxStack ? g : scratch_row_.data();
      output_grad(l, r, gp);
      const double norm = norms_[(size_t)l - 1][(size_t)r];
      const double* unit = normalized_[(size_t)l - 1].row(r).data();
      if (norm > kNormFloor) {
        const double along = Dot(unit, gp, d);
        for (int c = 0; c < d; ++c) grad[c] += (gp[c] - unit[c] * along) / norm;
      } else {
        for (int c = 0; c < d; ++c) grad[c] += gp[c] / kNormFloor;
      }
    };

    // grad_ holds dL/dE_{l+1} going down.
    if (layers_ == 0) {
      for (Eigen::Index r = 0; r < n; ++r) output_grad(0, r, ego_grad_.row(r).data());
      PetscCall(PetscLogEventEnd(Events().backward, 0, 0, 0, 0));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    grad_.setZero();
    for (Eigen::Index r = 0; r < n; ++r) add_normalization_grad(layers_, r, grad_.row(r).data());

    for (int l = layers_ - 1; l >= 0; --l) {
      const RowMatrix& input = l == 0 ? ego_ : out_[(size_t)l - 1];
      const RowMatrix& side = side_[(size_t)l];
      const RowMatrix& out = out_[(size_t)l];
      // dZ = dE_{l+1} ⊙ LeakyReLU'(Z), on the rows where it is nonzero (Z > 0 exactly where
      // E_{l+1} > 0).
      active_.clear();
      for (Eigen::Index r = 0; r < n; ++r) {
        double* g = grad_.row(r).data();
        const double* e = out.row(r).data();
        bool nonzero = false;
        for (int c = 0; c < d; ++c) {
          if (!(e[c] > 0)) g[c] *= kLeakySlope;
          nonzero = nonzero || g[c] != 0;
        }
        if (nonzero) active_.push_back(r);
      }
      const Eigen::Index m = (Eigen::Index)active_.size();
      const bool every_row = m == n;
      // The step's rows gathered into the first m rows of buffers of n rows (no allocation in
      // the step), or the whole matrices when every row is active.
      if (!every_row)
        for (Eigen::Index k = 0; k < m; ++k) {
          dz_.row(k) = grad_.row(active_[(size_t)k]);
          side_rows_.row(k) = side.row(active_[(size_t)k]);
          input_rows_.row(k) = input.row(active_[(size_t)k]);
        }
      using Rows = Eigen::Map<RowMatrix>;
      using ConstRows = Eigen::Map<const RowMatrix>;
      const ConstRows dz(every_row ? grad_.data() : dz_.data(), m, d);
      const ConstRows s(every_row ? side.data() : side_rows_.data(), m, d);
      const ConstRows h(every_row ? input.data() : input_rows_.data(), m, d);
      Rows product(product_rows_.data(), m, d), through_gc(through_gc_.data(), m, d),
          through_bi(through_bi_.data(), m, d);
      // The weights' gradients (added: the objective zeroes them before the step).
      w_gc_grad_[(size_t)l].noalias() += s.transpose() * dz;
      product = h.cwiseProduct(s);
      w_bi_grad_[(size_t)l].noalias() += product.transpose() * dz;
      const Eigen::RowVectorXd bias_grad = dz.colwise().sum();
      b_gc_grad_[(size_t)l] += bias_grad;
      b_bi_grad_[(size_t)l] += bias_grad;
      // dS = dZ W_gc^T + (dZ W_bi^T) ⊙ E_l; the bilinear branch's direct part on E_l is
      // (dZ W_bi^T) ⊙ S.
      through_gc.noalias() = dz * w_gc_[(size_t)l].transpose();
      through_bi.noalias() = dz * w_bi_[(size_t)l].transpose();
      flags_.assign((size_t)n, 0);
      for (Eigen::Index k = 0; k < m; ++k) {
        const Eigen::Index r = every_row ? k : active_[(size_t)k];
        flags_[(size_t)r] = 1;
        side_grad_.row(r) = through_gc.row(k) + through_bi.row(k).cwiseProduct(h.row(k));
      }
      // dE_l = P^T dS + the direct part + what E_l receives as an output of the model.
      PetscCall(PropagateTransposed(side_grad_, flags_, &propagated_));
      RowMatrix& next = l == 0 ? ego_grad_ : grad_;
      next.swap(propagated_);  // every row of the product is written: no copy needed
      for (Eigen::Index k = 0; k < m; ++k) {
        const Eigen::Index r = every_row ? k : active_[(size_t)k];
        next.row(r) += through_bi.row(k).cwiseProduct(s.row(k));
        if (mean_self_) next.row(r) += self_[(size_t)r] * side_grad_.row(r);
      }
      if (l == 0) {
        for (Eigen::Index r = 0; r < n; ++r) {
          double* g = next.row(r).data();
          const double* slice = final_grad_.row(r).data();
          for (int c = 0; c < d; ++c) g[c] += slice[c];
          if (layer_grads) {
            const double* single = LayerGrad(0).row(r).data();
            for (int c = 0; c < d; ++c) g[c] += single[c];
          }
        }
      } else {
        for (Eigen::Index r = 0; r < n; ++r) add_normalization_grad(l, r, next.row(r).data());
      }
    }
    PetscCall(PetscLogEventEnd(Events().backward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  bool RowLocalGradient() const override { return false; }

  void GetParameters(ParameterList* params) override {
    Model::GetParameters(params);
    auto add = [&](const std::string& name, RowMatrix* value, RowMatrix* grad) {
      params->push_back(SharedBlock("/model", name, value, grad, weight_decay_));
    };
    for (int l = 0; l < layers_; ++l) {
      const std::string suffix = "_" + std::to_string(l);
      add("w_gc" + suffix, &w_gc_[(size_t)l], &w_gc_grad_[(size_t)l]);
      add("b_gc" + suffix, &b_gc_[(size_t)l], &b_gc_grad_[(size_t)l]);
      add("w_bi" + suffix, &w_bi_[(size_t)l], &w_bi_grad_[(size_t)l]);
      add("b_bi" + suffix, &b_bi_[(size_t)l], &b_bi_grad_[(size_t)l]);
    }
  }

  std::vector<std::pair<std::string, int64_t>> Structure() const override {
    auto structure = Model::Structure();
    structure.emplace_back("model_layers", layers_);
    return structure;
  }

  std::string Describe() const override {
    return Model::Describe() + Format(", %d layers, adjacency %s, weight decay %g", layers_,
                                      mean_self_ ? "mean_self" : "sym", weight_decay_);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt layers = layers_;
    const char* adjacencies[] = {"sym", "mean_self"};
    PetscInt adjacency = mean_self_ ? 1 : 0;
    PetscOptionsHeadBegin(PetscOptionsObject, "NGCF options");
    PetscCall(PetscOptionsInt("-model_layers", "Number of propagation layers L", "Model", layers,
                              &layers, nullptr));
    PetscCall(PetscOptionsEList("-model_ngcf_adjacency",
                                "Propagation matrix: sym = D^-1/2 A D^-1/2, mean_self = "
                                "(D+I)^-1 (A+I)",
                                "Model", adjacencies, 2, adjacencies[adjacency], &adjacency, nullptr));
    PetscCall(PetscOptionsReal("-model_ngcf_weight_decay",
                               "Coupled L2 on every layer's weights and biases: (decay/2)||.||^2 "
                               "added to the loss at each step",
                               "Model", weight_decay_, &weight_decay_, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(layers >= 0, comm_, "-model_layers must be >= 0 (got %d)", (int)layers);
    RECNS_CHECK_INPUT(weight_decay_ >= 0 && std::isfinite(weight_decay_), comm_,
                      "-model_ngcf_weight_decay must be a finite number >= 0 (got %s)",
                      Format("%g", weight_decay_).c_str());
    layers_ = (int)layers;
    mean_self_ = adjacency == 1;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    const int d = dim_;
    const Eigen::Index n = ego_.rows();
    PetscCall(propagator_.SetUp(graph_->Adjacency(), d));
    // The weights: Xavier-uniform, W with bound √(6/(2d)), b (1×d) with bound √(6/(d+1)).
    const size_t layers = (size_t)layers_;
    w_gc_.resize(layers);
    w_bi_.resize(layers);
    b_gc_.resize(layers);
    b_bi_.resize(layers);
    w_gc_grad_.assign(layers, RowMatrix::Zero(d, d));
    w_bi_grad_.assign(layers, RowMatrix::Zero(d, d));
    b_gc_grad_.assign(layers, RowMatrix::Zero(1, d));
    b_bi_grad_.assign(layers, RowMatrix::Zero(1, d));
    auto xavier = [&](int l, int block, int rows, RowMatrix* value) {
      value->resize(rows, d);
      const double bound = std::sqrt(6.0 / (rows == 1 ? d + 1 : 2 * d));
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < d; ++c) {
          const RngBlock b = RandomBlock(seed_, RngPurpose::kModelWeight, 0,
                                         (uint64_t)(4 * l + block), (uint32_t)(r * d + c));
          (*value)(r, c) = bound * (2 * UniformFromWords(b.v[0], b.v[1]) - 1);
        }
    };
    for (int l = 0; l < layers_; ++l) {
      xavier(l, 0, d, &w_gc_[(size_t)l]);
      xavier(l, 1, 1, &b_gc_[(size_t)l]);
      xavier(l, 2, d, &w_bi_[(size_t)l]);
      xavier(l, 3, 1, &b_bi_[(size_t)l]);
    }
    // The row scalings of P (mean_self): degrees of the owned users and items.
    if (mean_self_) {
      const Layout& layout = graph_->GetLayout();
      row_in_.assign((size_t)n, 0);
      row_out_.assign((size_t)n, 0);
      self_.assign((size_t)n, 0);
      for (Eigen::Index r = 0; r < n; ++r) {
        int64_t degree;
        if (r < layout.LocalUsers()) graph_->TrainItems(r, &degree);
        else degree = graph_->ItemDegrees()[(size_t)(layout.ItemBegin() + (r - layout.LocalUsers()))];
        const double root = std::sqrt((double)degree);
        row_in_[(size_t)r] = root;
        row_out_[(size_t)r] = root / ((double)degree + 1);
        self_[(size_t)r] = 1.0 / ((double)degree + 1);
      }
    }
    AllocateRows(&final_, n, FinalWidth());
    AllocateRows(&final_grad_, n, FinalWidth());
    side_.resize(layers);
    out_.resize(layers);
    normalized_.resize(layers);
    norms_.assign(layers, std::vector<double>((size_t)n, 0.0));
    for (size_t l = 0; l < layers; ++l) {
      AllocateRows(&side_[l], n, d);
      AllocateRows(&out_[l], n, d);
      AllocateRows(&normalized_[l], n, d);
    }
    for (RowMatrix* m : {&work_, &grad_, &side_grad_, &propagated_, &scaled_, &dz_, &side_rows_,
                         &input_rows_, &product_rows_, &through_gc_, &through_bi_})
      AllocateRows(m, n, d);
    scratch_row_.assign((size_t)d, 0.0);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  static constexpr int kMaxStack = 256;

  /// side = P in.
  PetscErrorCode Propagate(const RowMatrix& in, RowMatrix* side) {
    PetscFunctionBeginUser;
    if (!mean_self_) {
      PetscCall(propagator_.Apply(in, side));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    const Eigen::Index n = in.rows();
    for (Eigen::Index r = 0; r < n; ++r) scaled_.row(r) = row_in_[(size_t)r] * in.row(r);
    PetscCall(propagator_.Apply(scaled_, side));
    for (Eigen::Index r = 0; r < n; ++r)
      side->row(r) = row_out_[(size_t)r] * side->row(r) + self_[(size_t)r] * in.row(r);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// out = the part of P^T in that goes through Â, for an `in` that is zero outside `nonzero`
  /// (its other rows are never read); mean_self's diagonal part c ⊙ in is left to the caller.
  PetscErrorCode PropagateTransposed(const RowMatrix& in, const RowFlags& nonzero, RowMatrix* out) {
    PetscFunctionBeginUser;
    if (!mean_self_) {
      PetscCall(propagator_.ApplySparse(in, nonzero, out, &reached_));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    const Eigen::Index n = in.rows();
    for (Eigen::Index r = 0; r < n; ++r)
      if (nonzero[(size_t)r]) scaled_.row(r) = row_out_[(size_t)r] * in.row(r);
    PetscCall(propagator_.ApplySparse(scaled_, nonzero, out, &reached_));
    for (Eigen::Index r = 0; r < n; ++r)
      if (reached_[(size_t)r]) out->row(r) *= row_in_[(size_t)r];
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  int layers_ = 3;
  bool mean_self_ = false;
  double weight_decay_ = 0;
  Propagator propagator_;
  std::vector<RowMatrix> w_gc_, w_bi_, b_gc_, b_bi_;
  std::vector<RowMatrix> w_gc_grad_, w_bi_grad_, b_gc_grad_, b_bi_grad_;
  std::vector<double> row_in_, row_out_, self_;  // mean_self: b, a and c of P
  RowMatrix final_, final_grad_;
  // Per layer l = 0..L-1: S_l, E_{l+1} (after the activation), n̂(E_{l+1}) and ||E_{l+1}||.
  std::vector<RowMatrix> side_, out_, normalized_;
  std::vector<std::vector<double>> norms_;
  // Work arrays of Forward and Backward.
  RowMatrix work_, grad_, side_grad_, propagated_, scaled_;
  RowMatrix dz_, side_rows_, input_rows_, product_rows_, through_gc_, through_bi_;
  std::vector<Eigen::Index> active_;
  RowFlags flags_, reached_;
  std::vector<double> scratch_row_;
};

}  // namespace

std::unique_ptr<Model> CreateModel_NGCF(MPI_Comm comm) { return std::make_unique<NGCFModel>(comm); }

}  // namespace recns
