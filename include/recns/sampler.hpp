// Negative samplers (ARCHITECTURE decision 6).
//
// For each positive pair of a batch a sampler returns k negatives. A negative is a value with a
// gradient path: a weighted sum of item rows of the final embeddings (a single row with weight 1
// for the classic samplers; several rows for synthetic negatives). Selection never carries
// gradient; the loss sees the negative's value and its gradient flows back to every row used.
#pragma once

#include <petscsys.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <string>

#include "recns/graph.hpp"
#include "recns/halo.hpp"
#include "recns/parameter.hpp"
#include "recns/registry.hpp"
#include "recns/rng.hpp"

namespace recns {

constexpr const char* kSamplerUniform = "uniform";

class Model;
class CheckpointFile;

/// This rank's share of one global step: the pairs of the global batch whose user it owns.
struct Batch {
  int64_t global_size = 0;        ///< pairs in the whole global batch (the loss divides by it)
  std::vector<int64_t> pair;      ///< global pair index (position in the dataset's train CSR)
  std::vector<int32_t> user;      ///< local user index
  std::vector<int32_t> item;      ///< positive item (dataset id)
  size_t Size() const { return pair.size(); }
  void Clear() {
    pair.clear();
    user.clear();
    item.clear();
  }
};

/// A term's layer when it reads a final row.
constexpr int kFinalLayer = -1;

/// The sampler's choices for k negatives per pair. Negative (b, s) is made of the terms
/// t in [offset[b*k+s], offset[b*k+s+1]): weight[t] times the row of item[t], a final row when
/// layer[t] is kFinalLayer (or `layer` is empty) and otherwise layer[t]'s row entering the final
/// row as the model pools it (Model::AddLayerContribution). The sampler's Synthesize turns the
/// terms into the negative's value; the default sums them.
///
/// L2: by default each term's item adds ||e0_item||^2 once per occurrence, as a positive does.
/// A sampler that synthesises a negative from several rows may instead give, per negative, the
/// ego vector whose norm is regularised: sum_t l2_weight[t] e0[l2_item[t]] over
/// t in [l2_offset[slot], l2_offset[slot+1]) (MixGCF: the mixed layer-0 vector).
///
/// Layer terms and L2 vectors make the step's halo exchanges of layer and ego rows, which are
/// collective: a sampler that uses them declares so after Reset on every rank alike
/// (DeclareLayerTerms, DeclareL2Vectors), as a rank whose share of the batch is empty adds no
/// term to infer it from.
///
/// Groups: the k slots of a pair may form `groups` runs of k / groups consecutive slots, each run
/// its own pair loss, weighted by the sampler's GroupWeights (AutoSample: one run per candidate
/// sampler). With one group (the default) the loss sees the k negatives together.
struct Negatives {
  int k = 1;
  int groups = 1;
  std::vector<int64_t> offset{0};
  std::vector<int32_t> item;
  std::vector<double> weight;
  std::vector<int8_t> layer;  ///< empty while every term is a final row
  std::vector<int64_t> l2_offset;  ///< empty: the default L2 of every term's item
  std::vector<int32_t> l2_item;
  std::vector<double> l2_weight;
  bool layer_terms = false;  ///< declared: the negatives may read single layers
  void Reset(int negatives_per_pair) {
    k = negatives_per_pair;
    groups = 1;
    offset.assign(1, 0);
    item.clear();
    weight.clear();
    layer.clear();
    l2_offset.clear();
    l2_item.clear();
    l2_weight.clear();
    layer_terms = false;
  }
  /// Declares that this step's negatives read single layers (on every rank, even with no pair).
  void DeclareLayerTerms() { layer_terms = true; }
  /// Declares that every negative of this step gives its L2 vector (on every rank, even with no
  /// pair); the default L2 of the terms' items then applies to none of them.
  void DeclareL2Vectors() {
    if (l2_offset.empty()) l2_offset.push_back(0);
  }
  /// Appends the next negative as the plain item row `id`.
  void AddItem(int32_t id) {
    AddTerm(id, kFinalLayer, 1.0);
    EndNegative();
  }
  /// Adds a term to the negative being built. `layer` holds one entry per term from the first
  /// term that reads a single layer on (the terms before it read final rows).
  void AddTerm(int32_t id, int term_layer, double term_weight) {
    if (term_layer != kFinalLayer || !layer.empty()) {
      layer.resize(item.size(), (int8_t)kFinalLayer);
      layer.push_back((int8_t)term_layer);
    }
    item.push_back(id);
    weight.push_back(term_weight);
  }
  void EndNegative() { offset.push_back(static_cast<int64_t>(item.size())); }
  /// Adds a term to the L2 vector of the next negative. L2 vectors come one per negative, in
  /// negative order: each negative's terms, then EndL2 (an empty vector regularises nothing).
  void AddL2Term(int32_t id, double term_weight) {
    DeclareL2Vectors();
    l2_item.push_back(id);
    l2_weight.push_back(term_weight);
  }
  /// Closes the L2 vector of the next negative.
  void EndL2() {
    DeclareL2Vectors();
    l2_offset.push_back(static_cast<int64_t>(l2_item.size()));
  }
  int TermLayer(int64_t t) const { return layer.empty() ? kFinalLayer : layer[(size_t)t]; }
  bool HasLayerTerms() const { return layer_terms || !layer.empty(); }
  bool HasL2Vectors() const { return !l2_offset.empty(); }
};

/// The step's rows as the objective holds them: final rows and single layers of users and of the
/// step's items (owned, or ghost copies of other ranks' rows), and their gradients. What a
/// sampler's Synthesize, SynthesizeBackward and AddLoss read and write.
class StepRows {
 public:
  virtual ~StepRows() = default;
  /// This rank's loss of each group of slots (Negatives::groups > 1), summed over its pairs,
  /// times 1/B and unweighted: what a sampler's AddLoss reads to differentiate GroupWeights.
  virtual const std::vector<double>& GroupLosses() const = 0;
  virtual const Model& GetModel() const = 0;
  virtual const double* User(int32_t local_user) const = 0;
  virtual const double* Item(int32_t item) const = 0;
  virtual const double* ItemLayer(int l, int32_t item) const = 0;
  virtual double* UserGrad(int32_t local_user) = 0;
  virtual double* ItemGrad(int32_t item) = 0;
  virtual double* ItemLayerGrad(int l, int32_t item) = 0;
  /// Layer `l`'s row of a local user and its gradient, for samplers that transform single layers
  /// with the user's own layer rows (ANS's gates).
  virtual const double* UserLayer(int l, int32_t local_user) const = 0;
  virtual double* UserLayerGrad(int l, int32_t local_user) = 0;
};

/// The forward pass a sampler's gather runs first when the trainer has deferred it: the rows of
/// `items` (every row when null) on this rank, and those that `halo`'s set-up over them says
/// other ranks read; single layers included. Collective.
using ComputeRows = std::function<PetscErrorCode(const std::vector<int32_t>* items, const Halo* halo)>;

/// What a sampler may look at when it samples one step. The model's final embeddings are those
/// of the current parameters: the trainer runs the forward pass before sampling, or, for a
/// sampler that ReadsGatheredRows, sets `compute_rows` and the sampler's gather runs it.
struct SampleContext {
  const Graph* graph = nullptr;
  const Model* model = nullptr;
  uint64_t seed = 0;
  uint32_t epoch = 0;
  ComputeRows compute_rows = nullptr;
  int64_t step = 0;  ///< the global step within the epoch
};

class Sampler {
 public:
  explicit Sampler(MPI_Comm comm) : comm_(comm) {}
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  virtual ~Sampler() = default;

  virtual const char* Type() const = 0;
  /// Not collective. Before SetFromOptions: this instance reads -<prefix>sampler_* options and
  /// checkpoints its state in the group /sampler/<prefix without its final '_'>, so several
  /// samplers can work side by side (as KSPSetOptionsPrefix and PetscViewerHDF5PushGroup do).
  void SetOptionsPrefix(const std::string& prefix) { prefix_ = prefix; }
  const std::string& OptionsPrefix() const { return prefix_; }
  /// The checkpoint group of this instance's state and blocks.
  std::string Group() const;
  /// Not collective. Before SetUp: a sampler that combines others numbers them 1, 2, ... so that
  /// each draws from streams of its own; instance 0 (a lone sampler) keeps its streams.
  void SetInstance(uint32_t instance) { instance_ = instance; }
  /// Not collective. The type and its parameters, for the run's header line.
  virtual std::string Describe() const { return Type(); }
  /// Collective. Reads -sampler_num_negatives and the type's own -sampler_<type>_* options.
  PetscErrorCode SetFromOptions();
  /// Collective. Checks that every user has a negative at all, then the type's own set-up.
  PetscErrorCode SetUp(const Graph& graph);
  /// Collective. Fills k negatives for every pair of `batch`, in pair order.
  virtual PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                                Negatives* negatives) = 0;
  /// Not collective. The value of negative `slot` (FinalWidth values) from its terms; the default
  /// is their weighted sum, normalised to unit length when the model's final rows are (PinSage)
  /// and the negative is not a single row. Selection is over: whatever this computes carries
  /// gradient.
  virtual void Synthesize(const StepRows& rows, const Negatives& negatives, int64_t slot,
                          double* value) const;
  /// Not collective. Adds the gradient of the value's terms, given dL/dvalue, to the rows (and
  /// to the sampler's own parameters) that Synthesize read.
  virtual void SynthesizeBackward(StepRows* rows, const Negatives& negatives, int64_t slot,
                                  const double* value_grad) const;
  /// Not collective. Adds the sampler's own loss terms for this rank's pairs (times `scale`,
  /// 1/B) to `loss` and their gradients to `rows` and the sampler's parameters. None by default.
  virtual PetscErrorCode AddLoss(StepRows*, const Batch&, const Negatives&, double /*scale*/,
                                 double* /*loss*/) {
    return PETSC_SUCCESS;
  }
  /// Not collective. Appends the sampler's trainable blocks (group "/sampler"). None by default.
  virtual void GetParameters(ParameterList*) {}
  /// Not collective. For negatives in groups (Negatives::groups > 1): the weight of each group's
  /// pair loss at the current parameters, the same on every rank. Unused with one group.
  virtual void GroupWeights(const Negatives& negatives, double* weights) const {
    std::fill(weights, weights + negatives.groups, 1.0);
  }
  /// Not collective. Names of figures the sampler reports once per epoch (metrics file columns
  /// "sampler_<name>", after the trainer's), and Statistics appends their current values, the
  /// same on every rank. None by default.
  virtual std::vector<std::string> StatisticNames() const { return {}; }
  virtual void Statistics(std::vector<double>*) const {}
  /// Collective. After an epoch's evaluation (`epochs_done` epochs trained; `stopping` when early
  /// stopping would end the run): the sampler may move to another stage of training;
  /// `*restore_best` asks the trainer to return to the best evaluated parameters and start early
  /// stopping afresh, the run going on (AutoSample's retrain). None by default.
  virtual PetscErrorCode NextStage(int /*epochs_done*/, bool /*stopping*/, bool* restore_best) {
    *restore_best = false;
    return PETSC_SUCCESS;
  }
  /// False when Sample never reads the model's final embeddings (uniform, PNS): the trainer
  /// then samples before the forward pass and computes only the rows the step reads.
  virtual bool ScoresItems() const { return true; }
  /// True when Sample reads the model's rows only through its gathers (GatherItemRows,
  /// GatherItemLayerRows, GatherAllItemRows) and the rows of the batch's users after the first
  /// of them, and the items it gathers include the batch's positives and every item its
  /// negatives name: its candidates come from counters and its own state, never from scores.
  /// The trainer then defers the forward pass to the first gather, which computes the rows of
  /// the gathered items only (every row for GatherAllItemRows: exact BNS, AOBPR).
  virtual bool ReadsGatheredRows() const { return false; }
  /// True when the negatives take single layers of the model (MixGCF's hop mixing): such a
  /// sampler needs a model whose final rows are pooled from layer rows (Model::HasLayerRows).
  virtual bool MixesLayers() const { return false; }
  /// Collective. Called after the last step of every epoch, at the parameters the epoch ended
  /// with (samplers with per-epoch state, such as SRNS's score history, update it here).
  virtual PetscErrorCode EndEpoch(const SampleContext&) { return PETSC_SUCCESS; }
  /// Collective. Writes the state that carries over between steps (SRNS's memory, AOBPR's
  /// factor rankings) into `file`'s /sampler group, per user or pair in dataset order so another
  /// rank count can read it. Stateless samplers write nothing.
  virtual PetscErrorCode Save(CheckpointFile&) const { return PETSC_SUCCESS; }
  /// Collective. Restores what Save wrote; called after SetUp.
  virtual PetscErrorCode Load(CheckpointFile&) { return PETSC_SUCCESS; }
  int NegativesPerPair() const { return num_negatives_; }
  void SetNegativesPerPair(int k) { num_negatives_ = k; }

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  virtual PetscErrorCode SetUpImpl() { return PETSC_SUCCESS; }

  /// Collective. Makes the current final rows of `items` (dataset ids, repeats allowed) readable
  /// through ItemRow: owned rows in place, remote ones fetched through this sampler's halo.
  PetscErrorCode GatherItemRows(const SampleContext& context, const std::vector<int32_t>& items);
  /// The final row of an item given to the last GatherItemRows.
  const double* ItemRow(int32_t item) const;
  /// Collective. As GatherItemRows for the rows of every layer l = 0..NumLayers of `items`
  /// (one halo set-up, one exchange per layer), readable through ItemLayerRow: for samplers that
  /// score single layers (MixGCF). The two calls share the halo: each replaces the items of the
  /// other, so ItemRow and ItemLayerRow read the items of the last call only.
  PetscErrorCode GatherItemLayerRows(const SampleContext& context,
                                     const std::vector<int32_t>& items);
  /// Layer `l`'s row (Dim values) of an item given to the last GatherItemLayerRows.
  const double* ItemLayerRow(int l, int32_t item) const;
  /// The rows of every layer 0..NumLayers of such an item into `rows`, with one look-up.
  void ItemLayerRows(int32_t item, const double** rows) const;
  /// Collective. Every item's current final row on every rank, in dataset id order (n_i × d):
  /// for the samplers whose rule ranks the whole catalogue. `*rows` points into the model's own
  /// rows on one rank (no copy) and into `buffer` otherwise; valid until the next step.
  PetscErrorCode GatherAllItemRows(const SampleContext& context, RowMatrix* buffer,
                                   const double** rows) const;
  PetscErrorCode GatherAllItemRows(const SampleContext& context, RowMatrix* all) const;
  /// The final row of a local user.
  static const double* UserRow(const SampleContext& context, int32_t local_user);
  /// The counter stream of one positive pair's random choices in this epoch, for this instance.
  RandomStream PairStream(const SampleContext& context, int64_t pair) const {
    return RandomStream(context.seed, RngPurpose::kNegative, context.epoch, (uint64_t)pair | StreamTag());
  }
  /// Bits that set this instance's streams apart: OR them into a stream's index (pair indices
  /// and node ids stay below 2^52, below the bits samplers use to tell their own streams apart).
  uint64_t StreamTag() const { return (uint64_t)instance_ << 56; }
  /// The uniform sampler's negatives: k draws of DrawUniformNegative from each pair's stream.
  void SampleUniformly(const SampleContext& context, const Batch& batch, Negatives* negatives) const;
  /// True when `item` is one of the local user's training items.
  bool IsPositive(int32_t local_user, int32_t item) const;
  /// The local user's exposed items E_u (shown, not interacted with; sorted), none when the
  /// dataset has no /exposure split.
  const int32_t* ExposedItems(int32_t local_user, int64_t* count) const;
  /// Collective. An input error naming the dataset file and the sampler when the dataset has no
  /// /exposure split, for the samplers that cannot work without one (ExpNS, MixedNS).
  PetscErrorCode RequireExposures() const;

  MPI_Comm comm_;
  const Graph* graph_ = nullptr;
  int num_negatives_ = 1;
  std::string prefix_;
  uint32_t instance_ = 0;

 private:
  std::unique_ptr<Halo> halo_;
  RowMatrix ghost_rows_;
  const RowMatrix* owned_rows_ = nullptr;
  std::vector<RowMatrix> ghost_layer_rows_;
  std::vector<const RowMatrix*> owned_layer_rows_;
};

/// A uniform item of I \ I_u^+ by exact rejection of the local user's training items, drawn
/// from `stream`. Shared by every sampler that needs uniform candidates.
int32_t DrawUniformNegative(const Graph& graph, int32_t local_user, RandomStream* stream);

using SamplerRegistry = Registry<Sampler>;
void SamplerRegisterAll();

}  // namespace recns
