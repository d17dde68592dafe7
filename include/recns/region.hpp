// The three regions of RecNS's principle for this rank's users (ALGORITHMS §5, decision 1).
//
// For a user u with training items I_u and an odd khop >= 3:
//   intermediate  R_med(u) = items reachable from u by a walk of odd length 3..khop, minus I_u
//                 (the nonzeros of row u of A^khop minus u's items; khop is a real option);
//   distant       the unobserved items outside R_med(u): I \ (I_u ∪ R_med(u));
//   global        every unobserved item: I \ I_u.
// Built once from the training graph (exposures play no part), never as a dense user × item
// array; the rows of the graph that other ranks own come through MPI, not by gathering the
// graph on every rank. The region is static and carries no gradient. A user without training
// items reaches nothing: its intermediate region is empty, its distant and global regions are
// every item.
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recns/rng.hpp"

namespace recns {

class Graph;

enum class RegionKind { kIntermediate = 0, kDistant = 1, kGlobal = 2 };
/// Option values, in RegionKind order: "intermediate", "distant", "global".
extern const char* const kRegionKindNames[];

/// What a built region costs and holds, over all ranks.
struct RegionSummary {
  int64_t users = 0;              ///< users with at least one training item
  double mean_size = 0;           ///< mean |region| over those users
  int64_t min_size = 0, max_size = 0;
  int64_t users_below = 0;        ///< users whose region has fewer than the asked minimum
  double build_seconds = 0;       ///< wall time of Build (the slowest rank)
  int64_t max_bytes = 0;          ///< the largest rank's memory held by the region after Build
};

class ItemRegion {
 public:
  ItemRegion();
  ItemRegion(const ItemRegion&) = delete;
  ItemRegion& operator=(const ItemRegion&) = delete;
  ~ItemRegion();

  /// Collective on the graph's communicator. Builds the region of `kind` of every local user of
  /// `graph` for walks up to `khop` (odd, >= 3; ignored for kGlobal). A bad khop is an input
  /// error naming the option -sampler_recns_khop. Logs nothing (Summarize gives its time and
  /// memory). khop 3 holds the co-item rows of the rank's users' items; khop >= 5 holds every
  /// co-item row and a bitset per user with a large region, and visits per user and step up to
  /// a row per item: meant for small and medium catalogues, and an input error when the memory it
  /// needs is not there. Size, Contains and Draw need a built region.
  PetscErrorCode Build(const Graph& graph, int khop, RegionKind kind);
  int Khop() const { return khop_; }
  RegionKind Kind() const { return kind_; }
  /// Not collective. |region| of a local user.
  int64_t Size(int64_t local_user) const;
  /// Not collective. True when `item` is in the local user's region.
  bool Contains(int64_t local_user, int32_t item) const;
  /// Not collective. Appends to `out` `m` distinct items drawn uniformly without replacement from
  /// the local user's region, using only `stream`; needs m <= Size(local_user). The items drawn
  /// for a user depend only on the stream, the dataset and khop, never on the rank count.
  void Draw(int64_t local_user, int m, RandomStream* stream, std::vector<int32_t>* out) const;
  /// Collective. Sizes over all ranks' users; users_below counts regions smaller than
  /// `min_size` (the sampler's M, for which it falls back to uniform candidates).
  PetscErrorCode Summarize(int64_t min_size, RegionSummary* summary) const;

 private:
  // Implementation-defined storage (per-user explicit lists, bitsets, or implicit membership
  // through co-item rows); see region.cpp.
  struct Storage;
  std::unique_ptr<Storage> storage_;
  const Graph* graph_ = nullptr;
  int khop_ = 3;
  RegionKind kind_ = RegionKind::kIntermediate;
  double build_seconds_ = 0;
};

}  // namespace recns
