// PinSage's neighbourhoods (ALGORITHMS §1.4): the neighbours of the owned nodes, named by node
// keys (Layout: user u is u, item i is NumUsers() + i), and the draws that pick a step's sample of
// them. A sample depends only on (seed, epoch, step, hop, the node's key and its neighbours), so
// it is the same whichever rank owns the node and however many ranks there are.
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <vector>

#include "recns/graph.hpp"

namespace recns {

enum class NeighbourSampling {
  kUniform,  ///< min(fanout, degree) distinct neighbours, uniformly without replacement
  kTable,    ///< the reference's fixed table: `table_width` neighbours per node drawn once (with
             ///< replacement below that degree, the dummy node for an isolated one); a step takes
             ///< the same `fanout` random columns of every row
};

/// The epoch of the draws of inference with sampled neighbourhoods: one fixed sample, apart from
/// every training step's.
constexpr uint32_t kInferenceEpoch = 0xFFFFFFFFu;

/// Not collective. The positions (into a neighbour list of `degree` entries) that uniform sampling
/// draws for the node with key `key` at hop `hop` of step (epoch, step): every position in order
/// when degree <= fanout, else `fanout` distinct ones in the order Floyd's algorithm takes them.
void DrawNeighbourPositions(uint64_t seed, uint32_t epoch, int64_t step, int hop, int64_t key,
                            int64_t degree, int fanout, std::vector<int64_t>* positions);

class Neighbourhoods {
 public:
  /// Collective. The neighbour keys of every owned row, sorted (read from Â's local rows), and
  /// with kTable every row's table, drawn from (seed, key).
  PetscErrorCode SetUp(const Graph& graph, uint64_t seed, NeighbourSampling sampling,
                       int table_width);
  NeighbourSampling Sampling() const { return sampling_; }
  int TableWidth() const { return table_width_; }
  int64_t Degree(int64_t local_row) const { return start_[local_row + 1] - start_[local_row]; }
  const int32_t* Neighbours(int64_t local_row) const { return key_.data() + start_[local_row]; }
  /// The dummy node of the table mode, the only neighbour of isolated nodes (and of itself): its
  /// key follows every node's.
  int64_t DummyKey() const { return layout_->NumNodes(); }
  /// Not collective. Appends to `keys` the neighbours sampled for owned row `local_row` at hop
  /// `hop` (1 or 2) of step (epoch, step). An isolated node has none in the uniform mode and
  /// `fanout` times the dummy node in the table mode.
  void Sample(int64_t local_row, uint32_t epoch, int64_t step, int hop, int fanout,
              std::vector<int64_t>* keys) const;
  /// Bytes held on this rank.
  int64_t MemoryBytes() const;

 private:
  const Layout* layout_ = nullptr;
  uint64_t seed_ = 0;
  NeighbourSampling sampling_ = NeighbourSampling::kUniform;
  int table_width_ = 0;
  std::vector<int64_t> start_{0};
  std::vector<int32_t> key_;
  std::vector<int32_t> table_;  ///< kTable: LocalRows × table_width keys
};

}  // namespace recns
