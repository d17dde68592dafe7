// Top-K ranking and ranking metrics: serial kernels with no MPI (ALGORITHMS §3, decision 10).
//
// Conventions: items excluded from ranking (training items, and validation items when the test
// split is evaluated) never appear in a list; ties are broken by the smaller item id, so the list
// does not depend on batch sizes, blocks or rank counts. Users without truth items are skipped by
// the caller. NDCG uses binary relevance with the ideal DCG truncated at min(K, |truth|);
// Precision@K always divides by K, also when K exceeds the number of rankable items.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace recns {

/// Fixed-capacity top-K selection over (score, item) with the order "higher score first, then
/// smaller item id". Push items in any order; Sorted() gives the best first.
class TopKHeap {
 public:
  explicit TopKHeap(int k);
  void Clear();
  /// Offers one item; kept when it beats the current K-th. A NaN score ranks as -infinity.
  void Push(double score, int32_t item) {
    // Once the heap is full almost every item of a full ranking loses to the current K-th, so
    // that case costs one inlined comparison. NaN fails it and is handled by Insert.
    if (Size() == k_ && (k_ == 0 || score < heap_[0].score)) return;
    Insert(score, item);
  }
  int Size() const { return static_cast<int>(heap_.size()); }
  /// Pushing a score below this is a no-op: the K-th kept score once full, -infinity before
  /// (+infinity when K = 0). Lets a scan keep it in a register and push only the survivors.
  double Threshold() const {
    if (k_ == 0) return std::numeric_limits<double>::infinity();
    return Size() < k_ ? -std::numeric_limits<double>::infinity() : heap_[0].score;
  }
  /// The kept items, best first.
  std::vector<int32_t> Sorted() const;
  /// The kept items and their scores, best first (a NaN score offered reads as -infinity).
  void Sorted(std::vector<int32_t>* items, std::vector<double>* scores) const;

 private:
  struct Entry {
    double score;
    int32_t item;
  };
  void Insert(double score, int32_t item);  ///< Push without the early rejection
  static bool Better(const Entry& a, const Entry& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  }
  int k_;
  std::vector<Entry> heap_;  // min-heap on Better: heap_[0] is the worst kept
};

/// Offers the items [first_item, first_item + count) to `heap`, scores[j] being the score of item
/// first_item + j, skipping the items of the sorted arrays `excluded_a` and `excluded_b` (either
/// may be empty/null; they may hold ids of the whole catalogue, those outside the range are
/// ignored). Finding the range costs a binary search per list, so offering a catalogue chunk by
/// chunk costs O(log n) per chunk plus the exclusions inside it. With a heap of capacity
/// min(K, rankable items), offering every item once in any chunking and order gives the top-K.
void OfferExcluding(const double* scores, int32_t first_item, int32_t count,
                    const int32_t* excluded_a, int64_t num_excluded_a, const int32_t* excluded_b,
                    int64_t num_excluded_b, TopKHeap* heap);

/// Sums of per-user metrics at a list of cut-offs; divide by `users` for the means.
struct MetricSums {
  std::vector<int> ks;
  std::vector<double> recall, ndcg, precision, hit;  ///< one entry per K
  int64_t users = 0;
  /// `cutoffs`: the K values, each positive.
  explicit MetricSums(std::vector<int> cutoffs = {});
  /// Adds one user's metrics: `top` is its ranked list (at least max K long unless fewer items
  /// are rankable), `truth` its sorted, unique truth items (must be non-empty).
  void AddUser(const std::vector<int32_t>& top, const int32_t* truth, int64_t num_truth);
};

}  // namespace recns
