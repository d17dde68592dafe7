// Full-ranking evaluation kernels (ALGORITHMS §3, decision 10): bounded top-K selection with
// deterministic tie-breaking, offered item range by range, and the Recall/NDCG/Precision/HR sums
// over users.
#include "recns/ranking.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace recns {

// --- TopKHeap -----------------------------------------------------------------------------------

TopKHeap::TopKHeap(int k) : k_(std::max(k, 0)) { heap_.reserve(static_cast<size_t>(k_)); }

void TopKHeap::Clear() { heap_.clear(); }

void TopKHeap::Insert(double score, int32_t item) {
  const size_t capacity = static_cast<size_t>(k_);
  // NaN would make Better() inconsistent and corrupt the heap; it ranks as -infinity instead.
  const Entry entry{std::isnan(score) ? -std::numeric_limits<double>::infinity() : score, item};
  if (heap_.size() < capacity) {
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), Better);
    return;
  }
  if (!Better(entry, heap_[0])) return;
  // Replace the worst kept entry in one sift-down (a pop_heap + push_heap pair would sift twice).
  const size_t n = heap_.size();
  size_t hole = 0;
  for (size_t child = 1; child < n; child = 2 * hole + 1) {
    if (child + 1 < n && Better(heap_[child], heap_[child + 1])) ++child;  // the worse child
    if (!Better(entry, heap_[child])) break;
    heap_[hole] = heap_[child];
    hole = child;
  }
  heap_[hole] = entry;
}

std::vector<int32_t> TopKHeap::Sorted() const {
  std::vector<Entry> entries(heap_);
  std::sort(entries.begin(), entries.end(), Better);
  std::vector<int32_t> items(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) items[i] = entries[i].item;
  return items;
}

void TopKHeap::Sorted(std::vector<int32_t>* items, std::vector<double>* scores) const {
  std::vector<Entry> entries(heap_);
  std::sort(entries.begin(), entries.end(), Better);
  items->resize(entries.size());
  scores->resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    (*items)[i] = entries[i].item;
    (*scores)[i] = entries[i].score;
  }
}

// --- OfferExcluding ----------------------------------------------------------------------------

void OfferExcluding(const double* scores, int32_t first_item, int32_t count,
                    const int32_t* excluded_a, int64_t num_excluded_a, const int32_t* excluded_b,
                    int64_t num_excluded_b, TopKHeap* heap) {
  if (count <= 0) return;
  const int32_t end = first_item + count;
  // The parts of the exclusion lists inside [first_item, end).
  const int32_t* a = excluded_a ? std::lower_bound(excluded_a, excluded_a + num_excluded_a, first_item) : nullptr;
  const int32_t* a_end = excluded_a ? std::lower_bound(a, excluded_a + num_excluded_a, end) : nullptr;
  const int32_t* b = excluded_b ? std::lower_bound(excluded_b, excluded_b + num_excluded_b, first_item) : nullptr;
  const int32_t* b_end = excluded_b ? std::lower_bound(b, excluded_b + num_excluded_b, end) : nullptr;
  int32_t item = first_item;
  // Items come in runs between consecutive exclusions, so the inner loop has no membership test.
  while (item < end) {
    // Skips ids already passed: duplicates and ids present in both lists.
    while (a != a_end && *a < item) ++a;
    while (b != b_end && *b < item) ++b;
    int32_t next_excluded = end;
    if (a != a_end) next_excluded = std::min(next_excluded, *a);
    if (b != b_end) next_excluded = std::min(next_excluded, *b);
    // Most scores lose to the K-th kept one; "not below" also lets NaN through to Push.
    for (double threshold = heap->Threshold(); item < next_excluded; ++item) {
      const double score = scores[item - first_item];
      if (!(score < threshold)) {
        heap->Push(score, item);
        threshold = heap->Threshold();
      }
    }
    if (item < end) ++item;
  }
}

// --- MetricSums ---------------------------------------------------------------------------------

namespace {
/// DCG weight of the item at 0-based position `position`: 1/log2(rank + 1) with rank 1-based.
double Discount(int64_t position) { return 1.0 / std::log2(static_cast<double>(position) + 2.0); }
}  // namespace

MetricSums::MetricSums(std::vector<int> cutoffs)
    : ks(std::move(cutoffs)),
      recall(ks.size(), 0.0),
      ndcg(ks.size(), 0.0),
      precision(ks.size(), 0.0),
      hit(ks.size(), 0.0) {}

void MetricSums::AddUser(const std::vector<int32_t>& top, const int32_t* truth,
                         int64_t num_truth) {
  const int32_t* truth_end = truth + num_truth;
  for (size_t j = 0; j < ks.size(); ++j) {
    const int64_t k = ks[j];
    const int64_t listed = std::min(static_cast<int64_t>(top.size()), k);
    int64_t hits = 0;
    double dcg = 0.0, ideal = 0.0;
    for (int64_t r = 0; r < listed; ++r) {
      if (std::binary_search(truth, truth_end, top[static_cast<size_t>(r)])) {
        ++hits;
        dcg += Discount(r);
      }
    }
    for (int64_t r = 0; r < std::min(k, num_truth); ++r) ideal += Discount(r);
    recall[j] += static_cast<double>(hits) / static_cast<double>(num_truth);
    precision[j] += static_cast<double>(hits) / static_cast<double>(k);
    hit[j] += hits > 0 ? 1.0 : 0.0;
    ndcg[j] += dcg / ideal;
  }
  ++users;
}

}  // namespace recns
