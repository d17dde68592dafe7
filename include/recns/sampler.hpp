// Negative samplers (ARCHITECTURE decision 6).
//
// For each positive pair of a batch a sampler returns k negatives. A negative is a value with a
// gradient path: a weighted sum of item rows of the final embeddings (a single row with weight 1
// for the classic samplers; several rows for synthetic negatives). Selection never carries
// gradient; the loss sees the negative's value and its gradient flows back to every row used.
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "recns/graph.hpp"
#include "recns/registry.hpp"

namespace recns {

constexpr const char* kSamplerUniform = "uniform";

class Model;
class Halo;

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

/// k negatives per pair: negative (b, s) = Σ_t weight[t] · E*[item[t]] over
/// t in [offset[b*k+s], offset[b*k+s+1]).
struct Negatives {
  int k = 1;
  std::vector<int64_t> offset{0};
  std::vector<int32_t> item;
  std::vector<double> weight;
  void Reset(int negatives_per_pair) {
    k = negatives_per_pair;
    offset.assign(1, 0);
    item.clear();
    weight.clear();
  }
  /// Appends the next negative as the plain item row `id`.
  void AddItem(int32_t id) {
    item.push_back(id);
    weight.push_back(1.0);
    offset.push_back(static_cast<int64_t>(item.size()));
  }
};

/// What a sampler may look at when it samples one step.
struct SampleContext {
  const Graph* graph = nullptr;
  const Model* model = nullptr;  ///< current final embeddings of owned rows (scoring samplers)
  Halo* halo = nullptr;          ///< for candidate rows owned by other ranks
  uint64_t seed = 0;
  uint32_t epoch = 0;
};

class Sampler {
 public:
  explicit Sampler(MPI_Comm comm) : comm_(comm) {}
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  virtual ~Sampler() = default;

  virtual const char* Type() const = 0;
  /// Collective. Reads -sampler_num_negatives and the type's own -sampler_<type>_* options.
  PetscErrorCode SetFromOptions();
  /// Collective. Checks that every user has a negative at all, then the type's own set-up.
  PetscErrorCode SetUp(const Graph& graph);
  /// Collective. Fills k negatives for every pair of `batch`, in pair order.
  virtual PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                                Negatives* negatives) = 0;
  int NegativesPerPair() const { return num_negatives_; }
  void SetNegativesPerPair(int k) { num_negatives_ = k; }

 protected:
  virtual PetscErrorCode SetFromOptionsImpl(PetscOptionItems*) { return PETSC_SUCCESS; }
  virtual PetscErrorCode SetUpImpl() { return PETSC_SUCCESS; }
  MPI_Comm comm_;
  const Graph* graph_ = nullptr;
  int num_negatives_ = 1;
};

/// A uniform item of I \ I_u^+ by exact rejection, drawn from the counter stream of
/// (seed, epoch, pair); `draw` is the next draw number of that stream and is advanced. Shared by
/// every sampler that needs uniform candidates.
int32_t DrawUniformNegative(const Graph& graph, uint64_t seed, uint32_t epoch, int64_t pair,
                            int32_t local_user, uint32_t* draw);

using SamplerRegistry = Registry<Sampler>;
void SamplerRegisterAll();

}  // namespace recns
