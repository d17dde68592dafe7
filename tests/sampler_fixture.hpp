// A sampler on a hand-made problem: a dataset written out row by row, an MF model whose
// embeddings the test sets (MF's final embeddings are its ego rows, so scores are known by hand),
// and one batch of chosen pairs. Works on any communicator; the unit tests use PETSC_COMM_SELF.
#pragma once

#include <gtest/gtest.h>
#include <petscsys.h>

#include <memory>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "recns/dataset.hpp"
#include "recns/graph.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns::test {

/// A dataset from explicit rows: train[u], test[u] and exposure[u] list user u's items (sorted,
/// unique); no /exposure split when `exposure` is empty.
inline Dataset DatasetFromRows(int64_t num_items, const std::vector<std::vector<int32_t>>& train,
                               const std::vector<std::vector<int32_t>>& test,
                               const std::vector<std::vector<int32_t>>& exposure = {}) {
  Dataset data;
  data.name = "hand";
  data.num_users = (int64_t)train.size();
  data.num_items = num_items;
  auto fill = [](const std::vector<std::vector<int32_t>>& rows, Csr* csr) {
    csr->indptr = {0};
    for (const auto& row : rows) {
      csr->indices.insert(csr->indices.end(), row.begin(), row.end());
      csr->indptr.push_back((int64_t)csr->indices.size());
    }
  };
  fill(train, &data.train);
  fill(test, &data.test);
  if (!exposure.empty()) fill(exposure, &data.exposure);
  return data;
}

/// Graph + MF model + sampler of `type` made with `options` (e.g. "-sampler_dns_candidates 3").
struct SamplerFixture {
  Graph graph;
  std::unique_ptr<Model> model;
  std::unique_ptr<Sampler> sampler;

  /// Collective on comm. `dim` is the embedding width; set the rows with SetUserRow/SetItemRow.
  PetscErrorCode SetUp(MPI_Comm comm, const Dataset& data, const std::string& type,
                       const std::string& options, int dim) {
    PetscFunctionBeginUser;
    PetscCall(InitializePackage());
    PetscCall(graph.Build(comm, data));
    const std::string all = options + " -model_dim " + std::to_string(dim);
    PetscCall(WithOptions(all, [&]() -> PetscErrorCode {
      PetscFunctionBeginUser;
      PetscCall(ModelRegistry::Get().Create("model", kModelMF, comm, &model));
      PetscCall(model->SetFromOptions());
      PetscCall(model->SetUp(graph, 1));
      PetscCall(SamplerRegistry::Get().Create("sampler", type, comm, &sampler));
      PetscCall(sampler->SetFromOptions());
      PetscCall(sampler->SetUp(graph));
      PetscFunctionReturn(PETSC_SUCCESS);
    }));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /// Sets the embedding of a user (dataset id) on the rank that owns it.
  void SetUserRow(int64_t user, const std::vector<double>& row) {
    const Layout& layout = graph.GetLayout();
    if (user < layout.UserBegin() || user >= layout.UserBegin() + layout.LocalUsers()) return;
    for (size_t c = 0; c < row.size(); ++c) model->Ego()(user - layout.UserBegin(), (int64_t)c) = row[c];
  }
  /// Sets the embedding of an item (dataset id) on the rank that owns it.
  void SetItemRow(int32_t item, const std::vector<double>& row) {
    const Layout& layout = graph.GetLayout();
    if (!layout.OwnsItem(item)) return;
    for (size_t c = 0; c < row.size(); ++c) model->Ego()(layout.LocalItemRow(item), (int64_t)c) = row[c];
  }
  /// This rank's part of a batch of the given (user, positive item) pairs; the pair index is the
  /// pair's position in the train CSR, as the trainer's batches give it.
  Batch MakeBatch(const Dataset& data, const std::vector<std::pair<int64_t, int32_t>>& pairs) const {
    Batch batch;
    batch.global_size = (int64_t)pairs.size();
    const Layout& layout = graph.GetLayout();
    for (const auto& [user, item] : pairs) {
      if (user < layout.UserBegin() || user >= layout.UserBegin() + layout.LocalUsers()) continue;
      int64_t pair = data.train.indptr[user];
      while (data.train.indices[pair] != item) ++pair;
      batch.pair.push_back(pair);
      batch.user.push_back((int32_t)(user - layout.UserBegin()));
      batch.item.push_back(item);
    }
    return batch;
  }
  /// Collective. Samples `batch` at `epoch` with seed 7.
  PetscErrorCode Sample(const Batch& batch, uint32_t epoch, Negatives* negatives) {
    return sampler->Sample(SampleContext{&graph, model.get(), 7, epoch}, batch, negatives);
  }
};

}  // namespace recns::test
