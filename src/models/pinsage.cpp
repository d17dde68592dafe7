// PinSage as the RecNS paper uses it (ALGORITHMS §1.4): trainable identity features x (Dim
// columns, 50 by default) and two GraphSAGE-mean aggregators, each the concatenation of a self
// and a neighbour branch of width/2 columns,
//   h1(v) = ReLU([x_v W1s ‖ mean_{n ∈ N(v)} x_n W1n]),  z(v) = [h1(v) W2s ‖ mean_{n ∈ N(v)} h1(n) W2n],
// and the final row z / ||z||, so scores are cosines (biases, off by default, add b to each branch).
//
// Training reads rows computed on sampled neighbourhoods (ForwardRows): for each row the step
// reads (a target), N1 = `fanout1` neighbours; for each node of any target's N1 (a hop-1 node),
// N2 = `fanout2` neighbours of its own. A target's h1 uses its N1, a hop-1 node's h1 its N2, as in
// GraphSAGE's layer-wise samples. Targets sample on their owner; the hop-1 nodes are computed by
// their owners, which learn them from one halo set-up; features and hop-1 rows cross ranks in two
// halos (features of N1 ∪ N2, hop-1 rows of N1), so a step costs a bounded number of collective
// exchanges and computes the sampled computation graph only. Backward runs the same path in
// reverse, reducing the gradients of remote hop-1 rows and features into their owners.
//
// Forward (ranking, and the samplers that score items) uses every neighbour by default:
// mean(X) = D^-1 A X = D^-1/2 Â (D^1/2 X), one distributed product per aggregator; the option
// -model_pinsage_inference sampled uses one fixed sample with the training fan-outs instead.
#include <algorithm>
#include <cmath>
#include <memory>

#include "recns/error.hpp"
#include "recns/halo.hpp"
#include "recns/model.hpp"
#include "recns/neighbourhood.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"

namespace recns {
namespace {

constexpr double kNormFloor = 1e-12;

class PinSageModel final : public Model {
 public:
  explicit PinSageModel(MPI_Comm comm) : Model(comm) {
    dim_ = 50;
    init_ = "xavier";
  }
  const char* Type() const override { return kModelPinSage; }
  int FinalWidth() const override { return width_; }
  const RowMatrix& Final() const override { return final_; }
  RowMatrix& FinalGrad() override { return step_final_grad_; }
  const RowMatrix& StepFinal() const override { return step_final_; }
  RowMatrix& StepFinalGrad() override { return step_final_grad_; }
  int64_t StepRow(int64_t local_row) const override { return step_index_[(size_t)local_row]; }
  bool TrainsOnStepRows() const override { return true; }
  bool RegularizesEgoRows() const override { return false; }
  bool HasLayerRows() const override { return false; }
  bool NormalizesFinalRows() const override { return true; }
  bool RowLocalGradient() const override { return false; }
  double StepHaloValues() const override {
    return (double)(ghost_h_.size() + ghost_x_.size());
  }

  PetscErrorCode Forward() override {
    PetscFunctionBeginUser;
    if (sampled_inference_) {
      const uint32_t epoch = step_epoch_;
      const int64_t step = step_;
      SetStep(kInferenceEpoch, 0);
      PetscCall(ForwardRows(RowFlags((size_t)ego_.rows(), 1)));
      SetStep(epoch, step);
      final_ = step_final_;
    } else {
      PetscCall(ForwardFull());
    }
    trainable_pass_ = false;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode ForwardRows(const RowFlags& rows) override {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().forward, 0, 0, 0, 0));
    const Layout& layout = graph_->GetLayout();
    // Targets and their hop-1 samples.
    for (int64_t r : targets_) step_index_[(size_t)r] = -1;
    targets_.clear();
    for (size_t r = 0; r < rows.size(); ++r)
      if (rows[r]) {
        step_index_[r] = (int64_t)targets_.size();
        targets_.push_back((int64_t)r);
      }
    SampleAll(targets_, 1, fanout_[0], &t_start_, &t_keys_);
    dummy_used_ = false;
    halo_keys_.clear();
    for (int64_t key : t_keys_) {
      if (IsDummy(key)) dummy_used_ = true;
      else halo_keys_.push_back(key);
    }
    PetscCall(hop1_halo_->SetNodes(halo_keys_));
    // The hop-1 nodes this rank owns: those in its own samples and those other ranks read.
    for (int64_t r : hop1_rows_) compact_[(size_t)r] = -1;
    hop1_rows_ = hop1_halo_->ReadByOthers();
    for (int64_t key : halo_keys_)
      if (layout.OwnsKey(key)) hop1_rows_.push_back(layout.LocalRowOfKey(key));
    std::sort(hop1_rows_.begin(), hop1_rows_.end());
    hop1_rows_.erase(std::unique(hop1_rows_.begin(), hop1_rows_.end()), hop1_rows_.end());
    for (size_t k = 0; k < hop1_rows_.size(); ++k) compact_[(size_t)hop1_rows_[k]] = (int64_t)k;
    PetscCall(hop1_halo_->CompactRoots(*hop1_halo_, hop1_rows_));
    SampleAll(hop1_rows_, 2, fanout_[1], &h_start_, &h_keys_);
    // Features of every sampled node.
    feature_keys_.clear();
    for (const std::vector<int64_t>* keys : {&h_keys_, &t_keys_})
      for (int64_t key : *keys)
        if (!IsDummy(key)) feature_keys_.push_back(key);
    PetscCall(feature_halo_->SetNodes(feature_keys_));
    PetscCall(feature_halo_->Bcast(ego_, &ghost_x_));
    // Layer 1 on the hop-1 nodes (their N2) and on the targets (their N1).
    Gather(hop1_rows_, ego_, &hop1_x_);
    MeanFeatures(h_start_, h_keys_, &hop1_mean_);
    Aggregate(1, hop1_x_, hop1_mean_, &hop1_h_);
    Gather(targets_, ego_, &target_x_);
    MeanFeatures(t_start_, t_keys_, &target_mean_);
    Aggregate(1, target_x_, target_mean_, &target_h_);
    // The dummy node as a hop-1 node: its only neighbour is itself.
    if (dummy_used_) Aggregate(1, dummy_feature_, dummy_feature_, &dummy_h_);
    // Layer 2 on the targets, from the hop-1 rows of their N1.
    PetscCall(hop1_halo_->Bcast(hop1_h_, &ghost_h_));
    const Eigen::Index t = (Eigen::Index)targets_.size();
    target_hmean_.setZero(t, width_);
    for (Eigen::Index k = 0; k < t; ++k) {
      const int64_t count = t_start_[k + 1] - t_start_[k];
      for (int64_t s = t_start_[k]; s < t_start_[k + 1]; ++s) target_hmean_.row(k) += Hop1Row(t_keys_[s]);
      if (count > 0) target_hmean_.row(k) /= (double)count;
    }
    Aggregate(2, target_h_, target_hmean_, &target_z_);
    norms_.resize(t);
    step_final_.resize(t, width_);
    for (Eigen::Index k = 0; k < t; ++k) {
      norms_[k] = target_z_.row(k).norm();
      step_final_.row(k) = target_z_.row(k) / std::max(norms_[k], kNormFloor);
    }
    step_final_grad_.setZero(t, width_);
    trainable_pass_ = true;
    PetscCall(PetscLogEventEnd(Events().forward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode Backward(const RowFlags*) override {
    PetscFunctionBeginUser;
    PetscCheck(trainable_pass_, comm_, PETSC_ERR_ORDER,
               "PinSage's Backward differentiates ForwardRows (the sampled pass), not Forward");
    PetscCall(PetscLogEventBegin(Events().backward, 0, 0, 0, 0));
    const Eigen::Index t = (Eigen::Index)targets_.size(), half = width_ / 2;
    // Through the normalisation: dz = (g - u <u, g>) / ||z||.
    RowMatrix& dz = target_z_;  // the pre-normalisation rows are not needed any more
    for (Eigen::Index k = 0; k < t; ++k) {
      const auto g = step_final_grad_.row(k);
      const auto u = step_final_.row(k);
      if (norms_[k] > kNormFloor) dz.row(k) = (g - u * u.dot(g)) / norms_[k];
      else dz.row(k) = g / kNormFloor;
    }
    // Layer 2.
    w2_self_grad_.noalias() += target_h_.transpose() * dz.leftCols(half);
    w2_neighbour_grad_.noalias() += target_hmean_.transpose() * dz.rightCols(half);
    if (bias_) {
      b2_self_grad_ += dz.leftCols(half).colwise().sum();
      b2_neighbour_grad_ += dz.rightCols(half).colwise().sum();
    }
    target_dh_.noalias() = dz.leftCols(half) * w2_self_.transpose();
    target_dhmean_.noalias() = dz.rightCols(half) * w2_neighbour_.transpose();
    // The hop-1 rows' gradient, from every target whose N1 holds them, reduced into the owners.
    hop1_dh_.setZero(hop1_h_.rows(), width_);
    ghost_dh_.setZero(ghost_h_.rows(), width_);
    dummy_dh_.setZero(1, width_);
    const Layout& layout = graph_->GetLayout();
    for (Eigen::Index k = 0; k < t; ++k) {
      const int64_t count = t_start_[k + 1] - t_start_[k];
      for (int64_t s = t_start_[k]; s < t_start_[k + 1]; ++s) {
        const int64_t key = t_keys_[s];
        auto row = IsDummy(key)            ? dummy_dh_.row(0)
                   : layout.OwnsKey(key) ? hop1_dh_.row(compact_[(size_t)layout.LocalRowOfKey(key)])
                                         : ghost_dh_.row(hop1_halo_->GhostRowOfKey(key));
        row += target_dhmean_.row(k) / (double)count;
      }
    }
    PetscCall(hop1_halo_->ReduceAdd(ghost_dh_, &hop1_dh_));
    // Layer 1 of the hop-1 nodes and of the targets, into the features.
    ego_grad_.setZero();
    ghost_dx_.setZero(ghost_x_.rows(), dim_);
    Backward1(hop1_rows_, hop1_x_, hop1_mean_, hop1_h_, &hop1_dh_, h_start_, h_keys_);
    Backward1(targets_, target_x_, target_mean_, target_h_, &target_dh_, t_start_, t_keys_);
    if (dummy_used_) {
      // Its own feature is both its self and its neighbour input.
      const int half = width_ / 2;
      dummy_dh_ = dummy_dh_.cwiseProduct((dummy_h_.array() > 0).cast<double>().matrix());
      w1_self_grad_.noalias() += dummy_feature_.transpose() * dummy_dh_.leftCols(half);
      w1_neighbour_grad_.noalias() += dummy_feature_.transpose() * dummy_dh_.rightCols(half);
      if (bias_) {
        b1_self_grad_ += dummy_dh_.leftCols(half);
        b1_neighbour_grad_ += dummy_dh_.rightCols(half);
      }
      dummy_feature_grad_.noalias() += dummy_dh_.leftCols(half) * w1_self_.transpose();
      dummy_feature_grad_.noalias() += dummy_dh_.rightCols(half) * w1_neighbour_.transpose();
    }
    PetscCall(feature_halo_->ReduceAdd(ghost_dx_, &ego_grad_));
    PetscCall(PetscLogEventEnd(Events().backward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  void GetParameters(ParameterList* params) override {
    Model::GetParameters(params);
    auto add = [&](const char* name, RowMatrix* value, RowMatrix* grad, double decay) {
      params->push_back(SharedBlock("/model", name, value, grad, decay));
    };
    add("w1_self", &w1_self_, &w1_self_grad_, weight_decay_);
    add("w1_neighbour", &w1_neighbour_, &w1_neighbour_grad_, weight_decay_);
    add("w2_self", &w2_self_, &w2_self_grad_, weight_decay_);
    add("w2_neighbour", &w2_neighbour_, &w2_neighbour_grad_, weight_decay_);
    if (table_) add("dummy_feature", &dummy_feature_, &dummy_feature_grad_, 0);
    if (bias_) {
      add("b1_self", &b1_self_, &b1_self_grad_, 0);
      add("b1_neighbour", &b1_neighbour_, &b1_neighbour_grad_, 0);
      add("b2_self", &b2_self_, &b2_self_grad_, 0);
      add("b2_neighbour", &b2_neighbour_, &b2_neighbour_grad_, 0);
    }
  }

  std::vector<std::pair<std::string, int64_t>> Structure() const override {
    auto structure = Model::Structure();
    structure.emplace_back("model_pinsage_width", width_);
    structure.emplace_back("model_pinsage_bias", bias_ ? 1 : 0);
    structure.emplace_back("model_pinsage_table", table_ ? 1 : 0);  // the dummy node's feature
    return structure;
  }

  std::string Describe() const override {
    return Format("pinsage, features d=%d, init %s, width %d, fan-outs %d,%d, neighbours %s, "
                  "inference %s, weight decay %g, %s",
                  dim_, init_ == "xavier" ? "xavier" : Format("normal(std %g)", init_std_).c_str(),
                  width_, fanout_[0], fanout_[1],
                  table_ ? Format("table of %d", table_width_).c_str() : "uniform",
                  sampled_inference_ ? "sampled" : "full", weight_decay_, bias_ ? "biases" : "no bias");
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt width = width_, table_width = table_width_;
    PetscInt fanouts[2] = {fanout_[0], fanout_[1]};
    PetscInt count = 2;
    PetscBool fanouts_set = PETSC_FALSE;
    const char* neighbours[] = {"uniform", "table"};
    PetscInt neighbour = table_ ? 1 : 0;
    const char* inferences[] = {"full", "sampled"};
    PetscInt inference = sampled_inference_ ? 1 : 0;
    PetscBool bias = bias_ ? PETSC_TRUE : PETSC_FALSE;
    PetscOptionsHeadBegin(PetscOptionsObject, "PinSage options");
    PetscCall(PetscOptionsInt("-model_pinsage_width",
                              "Width of each aggregator's output (its self and neighbour branches "
                              "have half each) and of the final rows",
                              "Model", width, &width, nullptr));
    PetscCall(PetscOptionsIntArray("-model_pinsage_fanouts",
                                   "Neighbours sampled per node in training, comma-separated (default "
                                   "10,25): hop 1 (of the rows a "
                                   "step reads), hop 2 (of each hop-1 node)",
                                   "Model", fanouts, &count, &fanouts_set));
    PetscCall(PetscOptionsEList("-model_pinsage_neighbours",
                                "Training neighbourhoods: uniform (without replacement) or table "
                                "(the reference's fixed table of -model_pinsage_table_width "
                                "neighbours per node, the same random columns for every row of "
                                "a step)",
                                "Model", neighbours, 2, neighbours[neighbour], &neighbour, nullptr));
    PetscCall(PetscOptionsInt("-model_pinsage_table_width",
                              "Neighbours per node in the table (-model_pinsage_neighbours table)",
                              "Model", table_width, &table_width, nullptr));
    PetscCall(PetscOptionsEList("-model_pinsage_inference",
                                "Rows for ranking and for the samplers that score items: full "
                                "(the mean over every neighbour) or sampled (one fixed sample "
                                "with the training fan-outs)",
                                "Model", inferences, 2, inferences[inference], &inference, nullptr));
    PetscCall(PetscOptionsReal("-model_pinsage_weight_decay",
                               "Coupled L2 on the aggregator weights: (decay/2)||W||^2 added to "
                               "the mean loss (the reference's 1e-3 divided by its batch 512)",
                               "Model", weight_decay_, &weight_decay_, nullptr));
    PetscCall(PetscOptionsBool("-model_pinsage_bias", "A bias on each branch of both aggregators",
                               "Model", bias, &bias, nullptr));
    PetscOptionsHeadEnd();
    if (fanouts_set) {
      // PetscOptionsIntArray stops at the array's capacity without a word, so a third value would
      // be dropped silently: count the values given with room for one more.
      PetscInt given[3];
      count = 3;
      PetscCall(PetscOptionsGetIntArray(PetscOptionsObject->options, PetscOptionsObject->prefix,
                                        "-model_pinsage_fanouts", given, &count, nullptr));
    }
    RECNS_CHECK_INPUT(width >= 2 && width % 2 == 0, comm_,
                      "-model_pinsage_width must be an even number >= 2 (got %d)", (int)width);
    RECNS_CHECK_INPUT(!fanouts_set || count == 2, comm_,
                      "-model_pinsage_fanouts needs two values, hop 1 and hop 2 (got %d)", (int)count);
    RECNS_CHECK_INPUT(fanouts[0] >= 1 && fanouts[1] >= 1, comm_,
                      "-model_pinsage_fanouts must be >= 1 each (got %d,%d)", (int)fanouts[0],
                      (int)fanouts[1]);
    RECNS_CHECK_INPUT(neighbour == 0 || table_width >= std::max(fanouts[0], fanouts[1]), comm_,
                      "-model_pinsage_table_width %d is below the fan-out %d: a step takes "
                      "distinct columns of the table",
                      (int)table_width, (int)std::max(fanouts[0], fanouts[1]));
    RECNS_CHECK_INPUT(weight_decay_ >= 0 && std::isfinite(weight_decay_), comm_,
                      "-model_pinsage_weight_decay must be a finite number >= 0 (got %s)",
                      Format("%g", weight_decay_).c_str());
    width_ = (int)width;
    fanout_[0] = (int)fanouts[0];
    fanout_[1] = (int)fanouts[1];
    table_ = neighbour == 1;
    table_width_ = (int)table_width;
    sampled_inference_ = inference == 1;
    bias_ = bias == PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    const Eigen::Index n = ego_.rows();
    const int half = width_ / 2;
    PetscCall(neighbourhoods_.SetUp(*graph_, seed_,
                                    table_ ? NeighbourSampling::kTable : NeighbourSampling::kUniform,
                                    table_width_));
    // Glorot-uniform weights from the counter RNG (the same on every rank and rank count), zero
    // biases, as the reference's TensorFlow layers.
    auto glorot = [&](int block, int rows, RowMatrix* value, RowMatrix* grad) {
      value->resize(rows, half);
      const double bound = std::sqrt(6.0 / (rows + half));
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < half; ++c) {
          const RngBlock b = RandomBlock(seed_, RngPurpose::kModelWeight, 0, (uint64_t)block,
                                         (uint32_t)(r * half + c));
          (*value)(r, c) = bound * (2 * UniformFromWords(b.v[0], b.v[1]) - 1);
        }
      *grad = RowMatrix::Zero(rows, half);
    };
    glorot(0, dim_, &w1_self_, &w1_self_grad_);
    glorot(1, dim_, &w1_neighbour_, &w1_neighbour_grad_);
    glorot(2, width_, &w2_self_, &w2_self_grad_);
    glorot(3, width_, &w2_neighbour_, &w2_neighbour_grad_);
    for (RowMatrix* m : {&b1_self_, &b1_neighbour_, &b2_self_, &b2_neighbour_, &b1_self_grad_,
                         &b1_neighbour_grad_, &b2_self_grad_, &b2_neighbour_grad_})
      *m = RowMatrix::Zero(1, half);
    // The table mode's dummy node: a feature row like an item's, drawn from a key no node has.
    const Layout& layout = graph_->GetLayout();
    const double dummy_std = init_ == "xavier" ? std::sqrt(2.0 / (layout.NumItems() + dim_)) : init_std_;
    dummy_feature_.resize(1, dim_);
    for (int c = 0; c < dim_; ++c)
      dummy_feature_(0, c) = dummy_std * NormalFromBlock(RandomBlock(seed_, RngPurpose::kInitItem, 0,
                                                                     (uint64_t)layout.NumItems(), (uint32_t)c));
    dummy_feature_grad_ = RowMatrix::Zero(1, dim_);
    dummy_used_ = false;
    // The rows of every node are made at the first Forward: a run that only trains keeps the
    // step's rows alone.
    final_.resize(0, width_);
    compact_.assign((size_t)n, -1);
    step_index_.assign((size_t)n, -1);
    targets_.clear();
    hop1_rows_.clear();
    hop1_halo_ = std::make_unique<Halo>(graph_->GetLayout());
    feature_halo_ = std::make_unique<Halo>(graph_->GetLayout());
    trainable_pass_ = false;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// The samples of `rows` at `hop`, as a CSR over the rows.
  void SampleAll(const std::vector<int64_t>& rows, int hop, int fanout, std::vector<int64_t>* start,
                 std::vector<int64_t>* keys) const {
    start->assign(1, 0);
    keys->clear();
    for (int64_t r : rows) {
      neighbourhoods_.Sample(r, step_epoch_, step_, hop, fanout, keys);
      start->push_back((int64_t)keys->size());
    }
  }

  static void Gather(const std::vector<int64_t>& rows, const RowMatrix& from, RowMatrix* to) {
    to->resize((Eigen::Index)rows.size(), from.cols());
    for (size_t k = 0; k < rows.size(); ++k) to->row((Eigen::Index)k) = from.row(rows[k]);
  }

  bool IsDummy(int64_t key) const { return table_ && key == neighbourhoods_.DummyKey(); }
  RowMatrix::ConstRowXpr FeatureRow(int64_t key) const {
    const Layout& layout = graph_->GetLayout();
    if (IsDummy(key)) return dummy_feature_.row(0);
    return layout.OwnsKey(key) ? ego_.row(layout.LocalRowOfKey(key))
                               : ghost_x_.row(feature_halo_->GhostRowOfKey(key));
  }
  RowMatrix::ConstRowXpr Hop1Row(int64_t key) const {
    const Layout& layout = graph_->GetLayout();
    if (IsDummy(key)) return dummy_h_.row(0);
    return layout.OwnsKey(key) ? hop1_h_.row(compact_[(size_t)layout.LocalRowOfKey(key)])
                               : ghost_h_.row(hop1_halo_->GhostRowOfKey(key));
  }

  /// Row k of `mean`: the mean feature row of the keys [start[k], start[k+1]) (0 when none).
  void MeanFeatures(const std::vector<int64_t>& start, const std::vector<int64_t>& keys,
                    RowMatrix* mean) const {
    const Eigen::Index rows = (Eigen::Index)start.size() - 1;
    mean->setZero(rows, dim_);
    for (Eigen::Index k = 0; k < rows; ++k) {
      for (int64_t s = start[k]; s < start[k + 1]; ++s) mean->row(k) += FeatureRow(keys[s]);
      if (start[k + 1] > start[k]) mean->row(k) /= (double)(start[k + 1] - start[k]);
    }
  }

  /// Aggregator `layer` (1 or 2): out = [self Ws + bs ‖ mean Wn + bn], then ReLU for layer 1.
  void Aggregate(int layer, const RowMatrix& self, const RowMatrix& mean, RowMatrix* out) const {
    const int half = width_ / 2;
    const bool first = layer == 1;
    out->resize(self.rows(), width_);
    out->leftCols(half).noalias() = self * (first ? w1_self_ : w2_self_);
    out->rightCols(half).noalias() = mean * (first ? w1_neighbour_ : w2_neighbour_);
    if (bias_) {
      out->leftCols(half).rowwise() += (first ? b1_self_ : b2_self_).row(0);
      out->rightCols(half).rowwise() += (first ? b1_neighbour_ : b2_neighbour_).row(0);
    }
    if (first) *out = out->cwiseMax(0.0);
  }

  /// The adjoint of Aggregate1 on `rows` (owned) whose neighbours are [start, keys): from dh
  /// (masked here by the ReLU) into the weights, the rows' own features and their neighbours'.
  void Backward1(const std::vector<int64_t>& rows, const RowMatrix& x, const RowMatrix& mean,
                 const RowMatrix& h, RowMatrix* dh, const std::vector<int64_t>& start,
                 const std::vector<int64_t>& keys) {
    const int half = width_ / 2;
    *dh = dh->cwiseProduct((h.array() > 0).cast<double>().matrix());
    w1_self_grad_.noalias() += x.transpose() * dh->leftCols(half);
    w1_neighbour_grad_.noalias() += mean.transpose() * dh->rightCols(half);
    if (bias_) {
      b1_self_grad_ += dh->leftCols(half).colwise().sum();
      b1_neighbour_grad_ += dh->rightCols(half).colwise().sum();
    }
    dx_.noalias() = dh->leftCols(half) * w1_self_.transpose();
    dmean_.noalias() = dh->rightCols(half) * w1_neighbour_.transpose();
    const Layout& layout = graph_->GetLayout();
    for (size_t k = 0; k < rows.size(); ++k) {
      ego_grad_.row(rows[k]) += dx_.row((Eigen::Index)k);
      const int64_t count = start[k + 1] - start[k];
      for (int64_t s = start[k]; s < start[k + 1]; ++s) {
        const int64_t key = keys[s];
        auto row = IsDummy(key)            ? dummy_feature_grad_.row(0)
                   : layout.OwnsKey(key) ? ego_grad_.row(layout.LocalRowOfKey(key))
                                         : ghost_dx_.row(feature_halo_->GhostRowOfKey(key));
        row += dmean_.row((Eigen::Index)k) / (double)count;
      }
    }
  }

  /// mean = D^-1 A in = D^-1/2 Â (D^1/2 in), through `propagator` (set up for in's columns).
  PetscErrorCode MeanOfNeighbours(Propagator* propagator, const RowMatrix& in, RowMatrix* scaled,
                                  RowMatrix* mean) {
    PetscFunctionBeginUser;
    const Eigen::Index n = in.rows();
    scaled->resize(n, in.cols());
    for (Eigen::Index r = 0; r < n; ++r) scaled->row(r) = root_degree_[(size_t)r] * in.row(r);
    PetscCall(propagator->Apply(*scaled, mean));
    for (Eigen::Index r = 0; r < n; ++r)
      if (root_degree_[(size_t)r] > 0) mean->row(r) /= root_degree_[(size_t)r];
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode ForwardFull() {
    PetscFunctionBeginUser;
    PetscCall(PetscLogEventBegin(Events().forward, 0, 0, 0, 0));
    const Eigen::Index n = ego_.rows();
    const int half = width_ / 2;
    // The hidden rows are made a block of columns at a time, each block's part of z added as it
    // comes, so the pass holds the final rows and a few blocks of n × block values, never the
    // hidden layer whole: the block is the largest divisor of width/2 up to 64.
    int block = std::min(64, half);
    while (half % block != 0) --block;
    // The products are set up at the first full pass: runs that never rank keep their memory.
    if (!feature_propagator_) {
      const Layout& layout = graph_->GetLayout();
      root_degree_.assign((size_t)n, 0);
      for (Eigen::Index r = 0; r < n; ++r) {
        int64_t degree;
        if (r < layout.LocalUsers()) graph_->TrainItems(r, &degree);
        else degree = graph_->ItemDegrees()[(size_t)(layout.ItemBegin() + (r - layout.LocalUsers()))];
        root_degree_[(size_t)r] = std::sqrt((double)degree);
      }
      feature_propagator_ = std::make_unique<Propagator>();
      PetscCall(feature_propagator_->SetUp(graph_->Adjacency(), dim_));
      hidden_propagator_ = std::make_unique<Propagator>();
      PetscCall(hidden_propagator_->SetUp(graph_->Adjacency(), block));
    }
    if (final_.rows() != n) AllocateRows(&final_, n, width_);
    RowMatrix scaled, feature_mean, hidden, hidden_mean;
    PetscCall(MeanOfNeighbours(feature_propagator_.get(), ego_, &scaled, &feature_mean));
    final_.setZero();
    for (int branch = 0; branch < 2; ++branch) {
      const RowMatrix& input = branch == 0 ? ego_ : feature_mean;
      const RowMatrix& w1 = branch == 0 ? w1_self_ : w1_neighbour_;
      const RowMatrix& b1 = branch == 0 ? b1_self_ : b1_neighbour_;
      for (int c = 0; c < half; c += block) {
        hidden.noalias() = input * w1.middleCols(c, block);
        if (bias_) hidden.rowwise() += b1.row(0).segment(c, block);
        hidden = hidden.cwiseMax(0.0);
        const Eigen::Index rows_of_w2 = (Eigen::Index)branch * half + c;
        final_.leftCols(half).noalias() += hidden * w2_self_.middleRows(rows_of_w2, block);
        PetscCall(MeanOfNeighbours(hidden_propagator_.get(), hidden, &scaled, &hidden_mean));
        final_.rightCols(half).noalias() += hidden_mean * w2_neighbour_.middleRows(rows_of_w2, block);
      }
    }
    if (bias_) {
      final_.leftCols(half).rowwise() += b2_self_.row(0);
      final_.rightCols(half).rowwise() += b2_neighbour_.row(0);
    }
    for (Eigen::Index r = 0; r < n; ++r) final_.row(r) /= std::max(final_.row(r).norm(), kNormFloor);
    PetscCall(PetscLogEventEnd(Events().forward, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  int width_ = 256;
  int fanout_[2] = {10, 25};
  bool table_ = false;
  int table_width_ = 500;
  bool sampled_inference_ = false;
  double weight_decay_ = 2e-6;
  bool bias_ = false;
  Neighbourhoods neighbourhoods_;
  // The table mode's dummy node (ALGORITHMS §1.4): a shared feature row, and its hop-1 row when a
  // step's sample holds it.
  RowMatrix dummy_feature_, dummy_feature_grad_, dummy_h_, dummy_dh_;
  bool dummy_used_ = false;
  RowMatrix w1_self_, w1_neighbour_, w2_self_, w2_neighbour_;
  RowMatrix w1_self_grad_, w1_neighbour_grad_, w2_self_grad_, w2_neighbour_grad_;
  RowMatrix b1_self_, b1_neighbour_, b2_self_, b2_neighbour_;
  RowMatrix b1_self_grad_, b1_neighbour_grad_, b2_self_grad_, b2_neighbour_grad_;
  RowMatrix final_;                        ///< every owned row, by the last Forward
  RowMatrix step_final_, step_final_grad_;  ///< the targets' rows, by the last ForwardRows
  std::unique_ptr<Propagator> feature_propagator_, hidden_propagator_;
  std::vector<double> root_degree_;
  // The last sampled pass: targets with their N1, hop-1 nodes with their N2, the halos of hop-1
  // rows (roots compacted to hop1_rows_) and of features, and what Backward needs.
  bool trainable_pass_ = false;
  std::vector<int64_t> targets_, t_start_, t_keys_;
  std::vector<int64_t> hop1_rows_, h_start_, h_keys_, feature_keys_, halo_keys_;
  std::vector<int64_t> compact_;     ///< per owned row: its index in hop1_rows_, or -1
  std::vector<int64_t> step_index_;  ///< per owned row: its index in targets_, or -1
  std::unique_ptr<Halo> hop1_halo_, feature_halo_;
  RowMatrix ghost_x_, ghost_h_, ghost_dh_, ghost_dx_;
  RowMatrix hop1_x_, hop1_mean_, hop1_h_, hop1_dh_;
  RowMatrix target_x_, target_mean_, target_h_, target_hmean_, target_z_, target_dh_, target_dhmean_;
  Eigen::VectorXd norms_;
  RowMatrix dx_, dmean_;
};

}  // namespace

std::unique_ptr<Model> CreateModel_PinSage(MPI_Comm comm) {
  return std::make_unique<PinSageModel>(comm);
}

}  // namespace recns
