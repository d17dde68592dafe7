// Global batches from a seeded permutation of the training pairs.
#include "recns/batcher.hpp"

#include <algorithm>

#include "recns/rng.hpp"

namespace recns {

void Batcher::SetUp(const Graph& graph, int64_t batch_size, uint64_t seed) {
  graph_ = &graph;
  batch_size_ = batch_size;
  seed_ = seed;
  const auto& indptr = graph.Info().train_indptr;
  total_pairs_ = indptr.back();
  pair_begin_ = indptr[graph.GetLayout().UserBegin()];
  pair_end_ = indptr[graph.GetLayout().UserEnd()];
}

void Batcher::Fill(uint32_t epoch, int64_t step, Batch* batch) const {
  batch->Clear();
  const RandomPermutation order(seed_, RngPurpose::kEpochOrder, epoch, (uint64_t)total_pairs_);
  const int64_t first = step * batch_size_;
  const int64_t last = std::min(first + batch_size_, total_pairs_);
  batch->global_size = last - first;
  const auto& indptr = graph_->Slice().train.indptr;
  const auto& indices = graph_->Slice().train.indices;
  for (int64_t position = first; position < last; ++position) {
    const int64_t pair = (int64_t)order((uint64_t)position);
    if (pair < pair_begin_ || pair >= pair_end_) continue;
    const int64_t local = pair - pair_begin_;
    const int64_t user = std::upper_bound(indptr.begin(), indptr.end(), local) - indptr.begin() - 1;
    batch->pair.push_back(pair);
    batch->user.push_back((int32_t)user);
    batch->item.push_back(indices[local]);
  }
}

}  // namespace recns
