// Distributed full-ranking evaluation (ALGORITHMS §3, decision 10). The users with items in the
// split are dealt out evenly over the ranks (with their rows and id lists); each rank ranks all
// items for its share (training items excluded, and validation items too when the test split is
// evaluated); the per-user metric sums are reduced.
// Item rows stream around a ring of the ranks in chunks of at most -eval_item_block rows, so a
// rank holds two chunks beyond its own rows, never the whole catalogue; each chunk is scored
// with blocked GEMM against the rank's users into one top-K heap per user.
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
  /// Collective. Reads -eval_ks (the cut-offs K, default 10,20), -eval_item_block (rows of a
  /// streamed item chunk) and -eval_user_sample (evaluate about N sampled users, 0 = all).
  PetscErrorCode SetFromOptions();
  /// The seed of the user sample (the trainer's -seed).
  void SetSeed(uint64_t seed) { seed_ = seed; }
  /// The metric names in the order Evaluate reports them.
  std::vector<std::string> MetricNames() const;
  /// Collective. Ranks every item for every local user with items in `split`, using the final
  /// embeddings `final` of the owned rows.
  PetscErrorCode Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                          EvalResult* result);

 private:
  MPI_Comm comm_;
  std::vector<int> ks_{10, 20};
  int64_t item_block_ = 16384;  // rows of a streamed item chunk
  int64_t user_sample_ = 0;     // about this many users evaluated; 0 = all
  uint64_t seed_ = 0;
};

}  // namespace recns
