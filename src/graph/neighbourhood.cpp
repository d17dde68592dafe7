// PinSage's neighbourhoods: see neighbourhood.hpp.
#include "recns/neighbourhood.hpp"

#include <petscmat.h>

#include "recns/error.hpp"
#include "recns/rng.hpp"

namespace recns {

namespace {

/// The stream of one node's draws at one hop of one step. Keys stay below 2^31 (32-bit PetscInt)
/// and steps below 2^30, so the three fields never overlap.
RandomStream NeighbourStream(uint64_t seed, uint32_t epoch, int64_t step, int hop, uint64_t key) {
  return RandomStream(seed, RngPurpose::kNeighbour, epoch,
                      ((uint64_t)step << 34) | ((uint64_t)hop << 32) | key);
}

/// The key that names a step's column draw of the table, shared by every row (no node has it).
constexpr uint64_t kEveryRow = 0xFFFFFFFFull;
/// The epoch of the streams that draw the tables, once.
constexpr uint32_t kTableEpoch = kInferenceEpoch - 1;

}  // namespace

void DrawNeighbourPositions(uint64_t seed, uint32_t epoch, int64_t step, int hop, int64_t key,
                            int64_t degree, int fanout, std::vector<int64_t>* positions) {
  if (degree <= fanout) {
    for (int64_t p = 0; p < degree; ++p) positions->push_back(p);
    return;
  }
  RandomStream stream = NeighbourStream(seed, epoch, step, hop, (uint64_t)key);
  DrawDistinctBelow((uint32_t)degree, (uint32_t)fanout, &stream, positions);
}

PetscErrorCode Neighbourhoods::SetUp(const Graph& graph, uint64_t seed, NeighbourSampling sampling,
                                     int table_width) {
  PetscFunctionBeginUser;
  layout_ = &graph.GetLayout();
  seed_ = seed;
  sampling_ = sampling;
  table_width_ = table_width;
  const Layout& layout = *layout_;
  Mat adjacency = graph.Adjacency();
  PetscInt first;
  PetscCall(MatGetOwnershipRange(adjacency, &first, nullptr));
  start_.assign(1, 0);
  key_.clear();
  // Â's columns are global node ids, ordered by key within users and within items, and a node's
  // neighbours are all of the other kind: the keys come out sorted.
  for (int64_t r = 0; r < layout.LocalRows(); ++r) {
    PetscInt count;
    const PetscInt* columns;
    PetscCall(MatGetRow(adjacency, first + (PetscInt)r, &count, &columns, nullptr));
    for (PetscInt c = 0; c < count; ++c) key_.push_back((int32_t)layout.KeyOfNode(columns[c]));
    PetscCall(MatRestoreRow(adjacency, first + (PetscInt)r, &count, &columns, nullptr));
    start_.push_back((int64_t)key_.size());
  }
  table_.clear();
  if (sampling_ == NeighbourSampling::kTable) {
    table_.assign((size_t)layout.LocalRows() * table_width_, (int32_t)DummyKey());
    std::vector<int64_t> positions;
    for (int64_t r = 0; r < layout.LocalRows(); ++r) {
      const int64_t degree = Degree(r);
      if (degree == 0) continue;
      RandomStream stream = NeighbourStream(seed_, kTableEpoch, 0, 0, (uint64_t)layout.KeyOfLocalRow(r));
      positions.clear();
      if (degree > table_width_) {
        DrawDistinctBelow((uint32_t)degree, (uint32_t)table_width_, &stream, &positions);
      } else {
        for (int c = 0; c < table_width_; ++c) positions.push_back(stream.NextBelow((uint32_t)degree));
      }
      for (int c = 0; c < table_width_; ++c)
        table_[(size_t)r * table_width_ + c] = Neighbours(r)[positions[(size_t)c]];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Neighbourhoods::Sample(int64_t local_row, uint32_t epoch, int64_t step, int hop, int fanout,
                            std::vector<int64_t>* keys) const {
  const int64_t degree = Degree(local_row);
  const int32_t* neighbours = Neighbours(local_row);
  if (sampling_ == NeighbourSampling::kUniform) {
    if (degree == 0) return;
    const size_t first = keys->size();
    DrawNeighbourPositions(seed_, epoch, step, hop, layout_->KeyOfLocalRow(local_row), degree,
                           fanout, keys);
    for (size_t k = first; k < keys->size(); ++k) (*keys)[k] = neighbours[(*keys)[k]];
    return;
  }
  RandomStream stream = NeighbourStream(seed_, epoch, step, hop, kEveryRow);
  const size_t first = keys->size();
  DrawDistinctBelow((uint32_t)table_width_, (uint32_t)fanout, &stream, keys);
  const int32_t* row = table_.data() + (size_t)local_row * table_width_;
  for (size_t k = first; k < keys->size(); ++k) (*keys)[k] = row[(*keys)[k]];
}

int64_t Neighbourhoods::MemoryBytes() const {
  return (int64_t)(start_.capacity() * sizeof(int64_t) + key_.capacity() * sizeof(int32_t) +
                   table_.capacity() * sizeof(int32_t));
}

}  // namespace recns
