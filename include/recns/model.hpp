// Models: ego embeddings E0 of the owned rows -> final embeddings E* used for scores <e_u, e_i>.
//
// Lifecycle (STYLE §7.4): construct(comm) -> SetFromOptions -> SetUp(graph, seed) -> Forward /
// Backward per step. Types are registered by name ("mf", "lightgcn") and picked by -model_type.
#pragma once

#include <petscsys.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/graph.hpp"
#include "recns/parameter.hpp"
#include "recns/registry.hpp"

namespace recns {

class CheckpointFile;

constexpr const char* kModelMF = "mf";
constexpr const char* kModelLightGCN = "lightgcn";
constexpr const char* kModelNGCF = "ngcf";
constexpr const char* kModelPinSage = "pinsage";

class Model {
 public:
  explicit Model(MPI_Comm comm) : comm_(comm) {}
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  virtual ~Model() = default;

  virtual const char* Type() const = 0;

  /// Collective. Reads -model_dim, -model_init, -model_init_std and the type's own options.
  PetscErrorCode SetFromOptions();
  /// Collective. Allocates the owned rows and initialises them from the counter RNG, so every
  /// row's initial value depends only on (seed, its dataset id), not on the rank count.
  PetscErrorCode SetUp(const Graph& graph, uint64_t seed);

  /// Collective. Computes every layer's rows and the final rows of the owned nodes.
  virtual PetscErrorCode Forward() = 0;
  /// The final embeddings (LocalRows × FinalWidth) as of the last Forward.
  virtual const RowMatrix& Final() const = 0;
  /// Width of a final row: Dim for models that pool their layers by a mean, (L+1)·Dim for
  /// models that concatenate them.
  virtual int FinalWidth() const { return dim_; }
  /// L: the model has layers 0..L of Dim columns each (layer 0 is the ego rows for MF and
  /// LightGCN); the final row pools them.
  virtual int NumLayers() const { return 0; }
  /// The rows of layer `l` (LocalRows × Dim) as of the last Forward.
  virtual const RowMatrix& Layer(int l) const { return l == 0 ? ego_ : Final(); }
  /// Not collective. What layer `l`'s row contributes to a final row: adds `weight` times it to
  /// `final_row` (FinalWidth values): 1/(L+1) of it to every column for a mean, the row into its
  /// own slice for a concatenation. The final row is the sum of its layers' contributions, so a
  /// negative may take different items at different layers.
  virtual void AddLayerContribution(int l, const double* layer_row, double weight,
                                    double* final_row) const;
  /// Not collective. The adjoint: adds to `layer_grad` (Dim values) the gradient that
  /// `weight` times layer `l`'s contribution receives from `final_grad`.
  virtual void AddLayerContributionGrad(int l, const double* final_grad, double weight,
                                        double* layer_grad) const;
  /// Not collective. Makes LayerGrad(l) usable (LocalRows × Dim each, zero) for steps whose
  /// negatives read single layers.
  void EnableLayerGrads();
  bool LayerGradsEnabled() const { return !layer_grad_.empty(); }

  /// The buffer that receives dL/dE* (LocalRows × FinalWidth) before Backward. For models whose
  /// final width is Dim this is the ego rows' gradient itself, transformed in place.
  virtual RowMatrix& FinalGrad() { return ego_grad_; }
  /// The buffer that receives dL/dE^(l) beyond what reaches layer l through the final rows.
  RowMatrix& LayerGrad(int l) { return layer_grad_[(size_t)l]; }
  /// Collective. From FinalGrad (and the layer gradients, when enabled) to the gradient of every
  /// parameter of GetParameters. With `rows`, the output gradients are zero outside the flagged
  /// rows; unless the gradient is row-local the other rows of FinalGrad may hold anything on
  /// entry (the last step's gradient), so the objective clears only the step's rows. The result
  /// is the one without `rows`, to the last bit.
  virtual PetscErrorCode Backward(const RowFlags* rows) = 0;
  /// Collective. Forward for a step that reads the final embeddings of the rows flagged in
  /// `rows` only (and their single layers, Layer(l), for a model with layer rows): those rows
  /// come out as Forward computes them, to the last bit; the others are left unspecified until
  /// the next Forward.
  virtual PetscErrorCode ForwardRows(const RowFlags&) { return Forward(); }
  /// True when a training step reads rows that ForwardRows computes differently from Forward
  /// (PinSage: sampled neighbourhoods in training, full ones for ranking and for the samplers
  /// that score items): the trainer then runs ForwardRows after every sampling, and Backward
  /// differentiates that pass.
  virtual bool TrainsOnStepRows() const { return false; }
  /// The final rows a training step reads, and their gradient: Final() and FinalGrad() unless
  /// the model TrainsOnStepRows, whose ForwardRows keeps one row per flagged row, in row order,
  /// cleared gradient included; StepRow maps a flagged local row to its row there.
  virtual const RowMatrix& StepFinal() const { return Final(); }
  virtual RowMatrix& StepFinalGrad() { return FinalGrad(); }
  virtual int64_t StepRow(int64_t local_row) const { return local_row; }
  /// Values (doubles) the last ForwardRows brought to this rank through the model's own halos
  /// (PinSage: hop-1 rows and features of the sampled graph); Backward sends as many back.
  virtual double StepHaloValues() const { return 0; }
  /// Not collective. The step whose random choices the next ForwardRows makes (the counter
  /// streams of PinSage's neighbourhoods), so they are the same at any rank count and on restart.
  void SetStep(uint32_t epoch, int64_t step) {
    step_epoch_ = epoch;
    step_ = step;
  }
  /// False when the final rows are not pooled from per-layer rows of Dim columns (PinSage), so
  /// negatives cannot mix single layers (MixGCF's hop mixing).
  virtual bool HasLayerRows() const { return true; }
  /// True when every final row has unit L2 norm (scores are cosines): negatives synthesised from
  /// several rows are normalised too (RecNS's merge, as its PinSage reference does).
  virtual bool NormalizesFinalRows() const { return false; }
  /// False when the ego rows are trainable features left unregularised by default (PinSage, as
  /// its reference): the trainer then makes -loss_l2 default to 0.
  virtual bool RegularizesEgoRows() const { return true; }
  /// True when Backward maps each row's gradient to the same row only (no propagation), so an
  /// optimizer may update just the rows a batch touched.
  virtual bool RowLocalGradient() const = 0;
  /// Not collective. Appends the model's trainable blocks: the ego rows first ("embedding"),
  /// then the type's own weights.
  virtual void GetParameters(ParameterList* params);

  /// Collective. Writes the type, the structural sizes and every block of GetParameters into
  /// `file`'s /model.
  PetscErrorCode Save(CheckpointFile& file);
  /// Collective. Reads the blocks written by Save, after SetUp. Structural sizes that differ
  /// from this model's (-model_dim, -model_layers) are an input error.
  PetscErrorCode Load(CheckpointFile& file);

  /// Not collective. One line describing the model (rank 0 prints it).
  virtual std::string Describe() const;

  RowMatrix& Ego() { return ego_; }
  /// The ego rows' gradient after Backward.
  RowMatrix& EgoGrad() { return ego_grad_; }
  const RowMatrix& Ego() const { return ego_; }
  int Dim() const { return dim_; }

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  virtual PetscErrorCode SetUpImpl() { return PETSC_SUCCESS; }
  /// The options that fix the parameters' shape, by name, with this model's values: a checkpoint
  /// is only read by a model with the same ones.
  virtual std::vector<std::pair<std::string, int64_t>> Structure() const {
    return {{"model_dim", dim_}};
  }

  MPI_Comm comm_;
  uint64_t seed_ = 0;
  uint32_t step_epoch_ = 0;
  int64_t step_ = 0;
  const Graph* graph_ = nullptr;
  RowMatrix ego_, ego_grad_;
  std::vector<RowMatrix> layer_grad_;
  int dim_ = 64;
  std::string init_ = "normal";
  double init_std_ = 0.1;
};

using ModelRegistry = Registry<Model>;
/// Registers the built-in models (idempotent).
void ModelRegisterAll();

}  // namespace recns
