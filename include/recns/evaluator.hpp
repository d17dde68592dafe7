// Distributed full-ranking evaluation (ALGORITHMS §3, decision 10). Each rank ranks all items for
// its own users (training items excluded, and validation items too when the test split is
// evaluated; users without items in the split skipped); the per-user metric sums are reduced.
#pragma once

#include <petscsys.h>

#include <string>
#include <utility>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/graph.hpp"
#include "recns/ranking.hpp"

namespace recns {

enum class EvalSplit { kValid, kTest };

/// Mean metrics over evaluated users, by name ("recall@20", "ndcg@20", "precision@20", "hr@20").
struct EvalResult {
  int64_t users = 0;
  std::vector<std::pair<std::string, double>> metrics;
  /// The value of `name`; NaN when absent.
  double Get(const std::string& name) const;
};

class Evaluator {
 public:
  explicit Evaluator(MPI_Comm comm) : comm_(comm) {}
  /// Collective. Reads -eval_ks (the cut-offs K, default 10,20).
  PetscErrorCode SetFromOptions();
  /// The metric names in the order Evaluate reports them.
  std::vector<std::string> MetricNames() const;
  /// Collective. Ranks every item for every local user with items in `split`, using the final
  /// embeddings `final` of the owned rows.
  PetscErrorCode Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                          EvalResult* result);

 private:
  MPI_Comm comm_;
  std::vector<int> ks_{10, 20};
};

}  // namespace recns
