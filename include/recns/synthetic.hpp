// Synthetic recommendation data with planted structure, for tests and scaling runs.
//
// Users and items are assigned to communities. User degrees and item popularities follow power
// laws over a random ranking. A user draws each interaction from its own community's items with
// probability `affinity` and from all items otherwise, weighted by item popularity and without
// repeats; exposures (shown, not interacted) are drawn the same way, disjoint from its
// interactions. Each user's interactions are then split at random (SplitPerUser). Every random
// number is a counter-RNG draw keyed by (seed, RngPurpose::kSynthetic, ...), so the dataset is a
// pure function of the options. Time and memory are O(users + items + interactions).
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <string>

#include "recns/dataset.hpp"

namespace recns {

struct SyntheticOptions {
  std::string name = "synthetic";
  int64_t num_users = 1000;
  int64_t num_items = 2000;
  double mean_degree = 20.0;  ///< mean interactions per user, over all splits
  int communities = 16;       ///< planted clusters (the latent dimension a model can find)
  double affinity = 0.8;      ///< probability that a draw comes from the user's community
  double user_skew = 0.5;     ///< degree of the user at rank r is proportional to r^-user_skew
  double item_skew = 0.9;     ///< popularity of the item at rank r is proportional to r^-item_skew
  double mean_exposures = 0.0;  ///< mean exposures per user, proportional to the user's degree
  /// Exact totals when > 0, overriding the means above: interactions over all splits, and
  /// exposures. The rounding's surplus or shortfall is moved one unit per user in a seeded order.
  int64_t total_interactions = 0;
  int64_t total_exposures = 0;
  double valid_fraction = 0.0;  ///< per-user share of the valid split (0 = no valid split)
  double test_fraction = 0.2;   ///< per-user share of the test split
  uint64_t seed = 1;
};

/// Not collective. Generates the dataset described by `options` (see the file comment). A user's
/// interactions plus exposures are capped at half the catalogue, so degrees stay feasible on
/// small catalogues. Invalid options, and totals that do not fit under the cap, raise
/// PETSC_ERR_USER_INPUT.
PetscErrorCode GenerateSynthetic(const SyntheticOptions& options, Dataset* data);

}  // namespace recns
