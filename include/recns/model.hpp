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
#include "recns/registry.hpp"

namespace recns {

class CheckpointFile;

constexpr const char* kModelMF = "mf";
constexpr const char* kModelLightGCN = "lightgcn";

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

  /// Collective. Computes the final embeddings of the owned rows from the ego rows.
  virtual PetscErrorCode Forward() = 0;
  /// The final embeddings (LocalRows × Dim) as of the last Forward.
  virtual const RowMatrix& Final() const = 0;
  /// Collective. In place: `grad` holds the gradient on the final embeddings of the owned rows
  /// on entry and the gradient on the ego rows on return.
  virtual PetscErrorCode Backward(RowMatrix* grad) = 0;
  /// Collective. Forward for a step that reads the final embeddings of the rows flagged in
  /// `rows` only: those rows come out as Forward computes them, to the last bit; the others
  /// are left unspecified until the next Forward.
  virtual PetscErrorCode ForwardRows(const RowFlags&) { return Forward(); }
  /// Collective. Backward for a gradient that is zero outside the rows flagged in `rows`; the
  /// result is Backward's, to the last bit. Unless the gradient is row-local, the other rows of
  /// `grad` may hold anything on entry (the last step's gradient): they are overwritten, so the
  /// trainer clears only the step's rows.
  virtual PetscErrorCode BackwardFromRows(RowMatrix* grad, const RowFlags& rows) {
    if (!RowLocalGradient())
      for (size_t r = 0; r < rows.size(); ++r)
        if (!rows[r]) grad->row((Eigen::Index)r).setZero();
    return Backward(grad);
  }
  /// True when Backward maps each row's gradient to the same row only (no propagation), so an
  /// optimizer may update just the rows a batch touched.
  virtual bool RowLocalGradient() const = 0;

  /// Collective. Writes the type, the structural sizes and the ego rows into `file`'s /model.
  PetscErrorCode Save(CheckpointFile& file) const;
  /// Collective. Reads the ego rows written by Save, after SetUp. Structural sizes that differ
  /// from this model's (-model_dim, -model_layers) are an input error.
  PetscErrorCode Load(CheckpointFile& file);

  /// Not collective. One line describing the model (rank 0 prints it).
  virtual std::string Describe() const;

  RowMatrix& Ego() { return ego_; }
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
  const Graph* graph_ = nullptr;
  RowMatrix ego_;
  int dim_ = 64;
  std::string init_ = "normal";
  double init_std_ = 0.1;
};

using ModelRegistry = Registry<Model>;
/// Registers the built-in models (idempotent).
void ModelRegisterAll();

}  // namespace recns
