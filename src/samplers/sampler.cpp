// Generic sampler code: options, the feasibility check, uniform rejection draws.
#include "recns/sampler.hpp"

#include <algorithm>

#include "recns/error.hpp"
#include "recns/rng.hpp"

namespace recns {

PetscErrorCode Sampler::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscInt k = num_negatives_;
  PetscOptionsBegin(comm_, nullptr, "Negative sampler options", nullptr);
  PetscCall(PetscOptionsInt("-sampler_num_negatives", "Negatives k per positive pair", "Sampler", k,
                            &k, nullptr));
  PetscCall(SetFromOptionsImpl(PetscOptionsObject));
  PetscOptionsEnd();
  RECNS_CHECK_INPUT(k >= 1, comm_, "-sampler_num_negatives must be >= 1 (got %d)", (int)k);
  num_negatives_ = (int)k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Sampler::SetUp(const Graph& graph) {
  PetscFunctionBeginUser;
  graph_ = &graph;
  const Layout& layout = graph.GetLayout();
  int64_t full_user = -1;
  for (int64_t u = 0; u < layout.LocalUsers() && full_user < 0; ++u) {
    int64_t count;
    graph.TrainItems(u, &count);
    if (count >= layout.NumItems()) full_user = layout.UserBegin() + u;
  }
  PetscCall(CheckAllRanks(comm_, full_user < 0,
                          Format("%s: user %lld has interacted with every item, so it has no "
                                 "negative to sample",
                                 graph.Info().path.c_str(), (long long)full_user)));
  PetscCall(SetUpImpl());
  PetscFunctionReturn(PETSC_SUCCESS);
}

int32_t DrawUniformNegative(const Graph& graph, uint64_t seed, uint32_t epoch, int64_t pair,
                            int32_t local_user, uint32_t* draw) {
  int64_t count;
  const int32_t* positives = graph.TrainItems(local_user, &count);
  const uint32_t num_items = (uint32_t)graph.GetLayout().NumItems();
  for (;;) {
    const uint32_t d = (*draw)++;
    const RngBlock block = RandomBlock(seed, RngPurpose::kNegative, epoch, (uint64_t)pair, d / 4);
    const int32_t candidate = (int32_t)UniformBelow(block.v[d % 4], num_items);
    if (!std::binary_search(positives, positives + count, candidate)) return candidate;
  }
}

}  // namespace recns
