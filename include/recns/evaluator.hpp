// Distributed full-ranking evaluation (ALGORITHMS §3, decision 10). The users with items in the
// split are dealt out evenly over the ranks (with their rows and id lists); each rank ranks all
// items for its share (training items excluded, and validation items too when a test split is
// evaluated); the per-user metric sums are reduced.
// Item rows stream around a ring of the ranks in chunks of at most -eval_item_block rows, so a
// rank holds two chunks beyond its own rows, never the whole catalogue; each chunk is scored
// with blocked GEMM against the rank's users into one top-K heap per user. The same streaming
// gives recns_recommend its lists (Evaluator::Rank), so both rank alike to the last item.
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/graph.hpp"
#include "recns/ranking.hpp"

namespace recns {

/// kTestRandom: the dataset's optional /test_random split, evaluated as the test split is.
enum class EvalSplit { kValid, kTest, kTestRandom };

/// Each evaluated user's metrics (-eval_per_user, test split), gathered on rank 0 only.
struct PerUserMetrics {
  std::vector<int64_t> users;  ///< dataset ids, ascending
  std::vector<int32_t> truth;  ///< the user's number of truth items in the split
  /// users.size() × metric count, row-major, the metrics in Evaluator::MetricNames() order
  std::vector<double> values;
};

/// Mean metrics over evaluated users, by name ("recall@20", "ndcg@20", "precision@20", "hr@20").
struct EvalResult {
  int64_t users = 0;
  std::vector<std::pair<std::string, double>> metrics;
  /// Filled on rank 0 by an evaluation of the test split with -eval_per_user; empty otherwise.
  PerUserMetrics per_user;
  /// The value of `name`; NaN when absent.
  double Get(const std::string& name) const;
};

/// The splits whose items a ranked list leaves out (besides nothing at all); an absent split
/// leaves out nothing.
struct Exclusion {
  bool train = true, valid = false, test = false, test_random = false;
};

/// One rank's share of ranked users (Evaluator::Rank). The users are dealt out in dataset order,
/// so rank 0 holds the first block, rank 1 the next, and so on.
struct RankedLists {
  int k = 0;                    ///< capacity of every list
  std::vector<int64_t> users;   ///< dataset ids, ascending
  std::vector<int32_t> length;  ///< items in each list: k, or fewer when fewer are rankable
  /// users.size() × k, best first (higher score, then smaller item id); past a list's length
  /// item -1 and score NaN.
  std::vector<int32_t> items;
  std::vector<double> scores;
};

/// Called on every rank during a ranking with the share of the work this rank has done, in [0, 1].
using RankProgressFn = std::function<PetscErrorCode(double done)>;

class Evaluator {
 public:
  explicit Evaluator(MPI_Comm comm) : comm_(comm) {}
  /// Collective. Reads -eval_ks (the cut-offs K, default 10,20), -eval_item_block (rows of a
  /// streamed item chunk), -eval_user_sample (evaluate about N sampled users, 0 = all) and
  /// -eval_per_user (per-user metrics of the test split in EvalResult::per_user).
  PetscErrorCode SetFromOptions();
  /// Rows of a streamed item chunk (what -eval_item_block sets; positive).
  void SetItemBlock(int64_t rows) { item_block_ = rows; }
  /// Whether evaluations of the test split fill EvalResult::per_user.
  bool PerUser() const { return per_user_; }
  /// The seed of the user sample (the trainer's -seed).
  void SetSeed(uint64_t seed) { seed_ = seed; }
  /// The metric names in the order Evaluate reports them.
  std::vector<std::string> MetricNames() const;
  /// Collective. Ranks every item for every local user with items in `split`, using the final
  /// embeddings `final` of the owned rows.
  PetscErrorCode Evaluate(const Graph& graph, const RowMatrix& final, EvalSplit split,
                          EvalResult* result);
  /// Collective. The top-`k` lists of the local users `users` (local rows, ascending; any
  /// subset, users without items in any split included), ranking every item but those of the
  /// splits `exclude` names, by the same streaming as Evaluate: Evaluate's lists for a split are
  /// Rank's with the same users and exclusions (training items, and validation items for the
  /// test split). `progress`, when set, is called on every rank as the work advances.
  PetscErrorCode Rank(const Graph& graph, const RowMatrix& final, const std::vector<int64_t>& users,
                      const Exclusion& exclude, int k, const RankProgressFn& progress,
                      RankedLists* lists);

 private:
  /// Collective. Gathers the rank's per-user ids, truth counts and `width` values per user onto
  /// rank 0 in rank order (which is id order).
  PetscErrorCode GatherPerUser(const std::vector<int64_t>& ids, const std::vector<int32_t>& truth,
                               const std::vector<double>& values, size_t width,
                               PerUserMetrics* per_user) const;

  MPI_Comm comm_;
  std::vector<int> ks_{10, 20};
  int64_t item_block_ = 16384;  // rows of a streamed item chunk
  int64_t user_sample_ = 0;     // about this many users evaluated; 0 = all
  uint64_t seed_ = 0;
  PetscBool per_user_ = PETSC_FALSE;
};

}  // namespace recns
