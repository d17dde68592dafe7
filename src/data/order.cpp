// Locality order: a nested graph partition of the training graph, read as a numbering.
#include "recns/order.hpp"

#include <cstdint>
#include <cstdio>  // scotch.h uses FILE
#include <limits>
extern "C" {
#include <scotch.h>
}

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "recns/error.hpp"

namespace recns {
namespace {

/// The symmetric training graph over users 0..U-1 then items U..U+I-1, in CSR.
struct NodeGraph {
  std::vector<PetscInt> start, neighbour;
};

NodeGraph TrainingGraph(const Dataset& data) {
  const Csr& train = data.train;
  const int64_t users = data.num_users, n = data.num_users + data.num_items;
  NodeGraph graph;
  graph.start.assign(n + 1, 0);
  for (int64_t u = 0; u < users; ++u) {
    graph.start[u + 1] = (PetscInt)(train.indptr[u + 1] - train.indptr[u]);
    for (int64_t p = train.indptr[u]; p < train.indptr[u + 1]; ++p) ++graph.start[users + train.indices[p] + 1];
  }
  std::partial_sum(graph.start.begin(), graph.start.end(), graph.start.begin());
  graph.neighbour.resize(graph.start[n]);
  std::vector<PetscInt> fill(graph.start.begin(), graph.start.end() - 1);
  for (int64_t u = 0; u < users; ++u)
    for (int64_t p = train.indptr[u]; p < train.indptr[u + 1]; ++p) {
      const int64_t item = users + train.indices[p];
      graph.neighbour[fill[u]++] = (PetscInt)item;
      graph.neighbour[fill[item]++] = (PetscInt)u;
    }
  return graph;
}

/// Splits `nodes`, the nodes of `graph` whose part is `group`, in two halves (Scotch on the
/// subgraph they induce), writing 0 or 1 per node into `side`.
///
/// Scotch directly, not through PETSc's MatPartitioning: Debian's Scotch seeds from the clock and
/// partitions with threads, and only its context API makes a partition a function of the graph
/// alone (one thread, fixed seed), which the written dataset must be.
PetscErrorCode Bisect(const NodeGraph& graph, const std::vector<PetscInt>& nodes,
                      const std::vector<PetscInt>& part, PetscInt group,
                      std::vector<PetscInt>* local, std::vector<PetscInt>* side) {
  PetscFunctionBeginUser;
  const SCOTCH_Num m = (SCOTCH_Num)nodes.size();
  if (m < 2) {
    for (PetscInt v : nodes) (*side)[v] = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (SCOTCH_Num k = 0; k < m; ++k) (*local)[nodes[k]] = k;
  std::vector<SCOTCH_Num> start(m + 1, 0), column, half(m);
  for (SCOTCH_Num k = 0; k < m; ++k) {
    for (PetscInt e = graph.start[nodes[k]]; e < graph.start[nodes[k] + 1]; ++e)
      if (part[graph.neighbour[e]] == group) column.push_back((SCOTCH_Num)(*local)[graph.neighbour[e]]);
    start[k + 1] = (SCOTCH_Num)column.size();
  }
  column.push_back(0);  // Scotch wants a valid array even without edges
  SCOTCH_Context context;
  SCOTCH_Graph subgraph, bound;
  SCOTCH_Strat strategy;
  PetscCheck(SCOTCH_contextInit(&context) == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "Scotch: no context");
  int failed = SCOTCH_contextThreadSpawn(&context, 1, nullptr);
  failed = failed || SCOTCH_contextOptionSetNum(&context, SCOTCH_OPTIONNUMDETERMINISTIC, 1);
  failed = failed || SCOTCH_contextOptionSetNum(&context, SCOTCH_OPTIONNUMRANDOMFIXEDSEED, 1);
  SCOTCH_contextRandomSeed(&context, 1);
  SCOTCH_graphInit(&subgraph);
  SCOTCH_graphInit(&bound);
  SCOTCH_stratInit(&strategy);
  failed = failed || SCOTCH_graphBuild(&subgraph, 0, m, start.data(), nullptr, nullptr, nullptr,
                                       start[m], column.data(), nullptr);
  failed = failed || SCOTCH_contextBindGraph(&context, &subgraph, &bound);
  failed = failed || SCOTCH_graphPart(&bound, 2, &strategy, half.data());
  SCOTCH_stratExit(&strategy);
  SCOTCH_graphExit(&bound);
  SCOTCH_graphExit(&subgraph);
  SCOTCH_contextExit(&context);
  PetscCheck(!failed, PETSC_COMM_SELF, PETSC_ERR_LIB, "Scotch failed to bisect a part of %lld nodes",
             (long long)m);
  for (SCOTCH_Num k = 0; k < m; ++k) (*side)[nodes[k]] = (PetscInt)half[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// `split` with rows taken in `user_order` and items renamed by `item_rank`, sorted per row.
Csr Renumber(const Csr& split, const std::vector<int64_t>& user_order,
             const std::vector<int32_t>& item_rank) {
  Csr out;
  if (!split.Present()) return out;
  out.indptr.assign(1, 0);
  out.indices.reserve(split.Nnz());
  for (int64_t old : user_order) {
    const size_t begin = out.indices.size();
    for (int64_t p = split.indptr[old]; p < split.indptr[old + 1]; ++p)
      out.indices.push_back(item_rank[split.indices[p]]);
    std::sort(out.indices.begin() + begin, out.indices.end());
    out.indptr.push_back((int64_t)out.indices.size());
  }
  return out;
}

std::vector<std::string> RenameIds(const std::vector<std::string>& raw,
                                   const std::vector<int64_t>& order) {
  std::vector<std::string> renamed;
  renamed.reserve(order.size());
  for (int64_t old : order) renamed.push_back(raw.empty() ? std::to_string(old) : raw[old]);
  return renamed;
}

}  // namespace

PetscErrorCode OrderForLocality(const Dataset& data, int64_t part_nodes, Dataset* ordered) {
  PetscFunctionBeginUser;
  PetscCheck(part_nodes >= 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "dataset '%s': the locality order needs parts of at least one node, not %lld",
             data.name.c_str(), (long long)part_nodes);
  // Scotch numbers edges in SCOTCH_Num, both directions of every training pair.
  PetscCheck(2 * data.train.Nnz() + data.num_users + data.num_items <
                 (int64_t)std::numeric_limits<SCOTCH_Num>::max(),
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "dataset '%s': %lld training pairs are too many for the locality order (Scotch's "
             "%d-bit indices)", data.name.c_str(), (long long)data.train.Nnz(),
             (int)(8 * sizeof(SCOTCH_Num)));
  const NodeGraph graph = TrainingGraph(data);
  const int64_t users = data.num_users, n = data.num_users + data.num_items;
  // Nested bisection until parts hold at most part_nodes nodes: part p's halves are 2p, 2p+1.
  std::vector<PetscInt> part(n, 0), side(n), local(n);
  for (int64_t parts = 1; (n + parts - 1) / parts > part_nodes; parts *= 2) {
    std::vector<std::vector<PetscInt>> members(parts);
    for (int64_t v = 0; v < n; ++v) members[part[v]].push_back((PetscInt)v);
    for (int64_t g = 0; g < parts; ++g)
      PetscCall(Bisect(graph, members[g], part, (PetscInt)g, &local, &side));
    for (int64_t v = 0; v < n; ++v) part[v] = 2 * part[v] + side[v];
  }
  std::vector<int64_t> user_order(users), item_order(data.num_items);
  std::iota(user_order.begin(), user_order.end(), 0);
  std::iota(item_order.begin(), item_order.end(), 0);
  std::stable_sort(user_order.begin(), user_order.end(),
                   [&](int64_t a, int64_t b) { return part[a] < part[b]; });
  std::stable_sort(item_order.begin(), item_order.end(),
                   [&](int64_t a, int64_t b) { return part[users + a] < part[users + b]; });
  std::vector<int32_t> item_rank(data.num_items);
  for (size_t k = 0; k < item_order.size(); ++k) item_rank[item_order[k]] = (int32_t)k;

  Dataset out;
  out.name = data.name;
  out.num_users = data.num_users;
  out.num_items = data.num_items;
  out.train = Renumber(data.train, user_order, item_rank);
  out.valid = Renumber(data.valid, user_order, item_rank);
  out.test = Renumber(data.test, user_order, item_rank);
  out.exposure = Renumber(data.exposure, user_order, item_rank);
  out.test_random = Renumber(data.test_random, user_order, item_rank);
  out.user_raw_ids = RenameIds(data.user_raw_ids, user_order);
  out.item_raw_ids = RenameIds(data.item_raw_ids, item_order);
  *ordered = std::move(out);
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
