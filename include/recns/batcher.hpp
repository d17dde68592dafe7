// Global batches (ARCHITECTURE decision 5, ALGORITHMS decision 11): each epoch visits every
// training pair once in a seeded random order; step s takes positions [sB, (s+1)B) of that order
// and each rank keeps the pairs whose user it owns. The order depends on (seed, epoch) only, so
// any number of ranks follows the same trajectory.
#pragma once

#include <petscsys.h>

#include "recns/graph.hpp"
#include "recns/sampler.hpp"

namespace recns {

class Batcher {
 public:
  /// Not collective.
  void SetUp(const Graph& graph, int64_t batch_size, uint64_t seed);
  int64_t BatchSize() const { return batch_size_; }
  int64_t StepsPerEpoch() const { return (total_pairs_ + batch_size_ - 1) / batch_size_; }
  /// Not collective. This rank's pairs of step `step` of epoch `epoch`.
  void Fill(uint32_t epoch, int64_t step, Batch* batch) const;

 private:
  const Graph* graph_ = nullptr;
  int64_t batch_size_ = 1, total_pairs_ = 0, pair_begin_ = 0, pair_end_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace recns
