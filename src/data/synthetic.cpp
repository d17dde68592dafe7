// Synthetic recommendation data with planted communities (model in include/recns/synthetic.hpp).
//
// Draws use Walker's alias method (Vose's construction): one table over all items, one per
// community, so a draw costs half a Philox block (community-or-global choice, alias word) and one
// table lookup. Repeats within a user are rejected with a per-item stamp. A user whose
// draws keep hitting its own items (a heavy user in a small community) switches to uniform draws,
// which succeed with probability >= 1/2 because a user holds at most half the catalogue.
#include "recns/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "recns/alias_table.hpp"
#include "recns/convert.hpp"
#include "recns/error.hpp"
#include "recns/rng.hpp"

namespace recns {
namespace {

// Streams of RngPurpose::kSynthetic, passed as the RNG's epoch word.
enum Stream : uint32_t {
  kItemCommunity = 1, kItemRank, kUserCommunity, kUserRank, kCounts, kDraw, kAdjustOrder
};

/// A user's interactions plus exposures are capped at half the catalogue.
int64_t UserCap(const SyntheticOptions& o) { return std::max<int64_t>(1, o.num_items / 2); }

double MeanDegree(const SyntheticOptions& o) {
  return o.total_interactions > 0
             ? static_cast<double>(o.total_interactions) / static_cast<double>(o.num_users)
             : o.mean_degree;
}

double MeanExposures(const SyntheticOptions& o) {
  return o.total_exposures > 0
             ? static_cast<double>(o.total_exposures) / static_cast<double>(o.num_users)
             : o.mean_exposures;
}

/// The first problem with the options, "" when there is none.
std::string OptionsProblem(const SyntheticOptions& o) {
  if (o.num_users < 1 || o.num_users >= INT32_MAX || o.num_items < 2 || o.num_items >= INT32_MAX)
    return Format(
        "synthetic data needs 1 <= users < 2^31 and 2 <= items < 2^31 (got %lld users, "
        "%lld items)",
        static_cast<long long>(o.num_users), static_cast<long long>(o.num_items));
  if (o.total_interactions < 0 || o.total_exposures < 0)
    return Format("synthetic totals (%lld interactions, %lld exposures) must be >= 0",
                  static_cast<long long>(o.total_interactions),
                  static_cast<long long>(o.total_exposures));
  if (!(MeanDegree(o) >= 1 && MeanExposures(o) >= 0 && o.communities >= 1))
    return Format(
        "synthetic mean degree %g must be >= 1, mean exposures %g >= 0, communities %d >= 1",
        MeanDegree(o), MeanExposures(o), o.communities);
  // More would be clamped per user, silently giving less than was asked for.
  if (MeanDegree(o) + MeanExposures(o) > static_cast<double>(UserCap(o)))
    return Format(
        "synthetic interactions (%g per user) plus exposures (%g per user) exceed the cap of %lld "
        "per user, half the %lld items: ask for more items or fewer interactions",
        MeanDegree(o), MeanExposures(o), static_cast<long long>(UserCap(o)),
        static_cast<long long>(o.num_items));
  if (!(o.affinity >= 0 && o.affinity <= 1 && o.user_skew >= 0 && o.item_skew >= 0))
    return Format("synthetic affinity %g must be in [0, 1] and skews %g, %g >= 0", o.affinity,
                  o.user_skew, o.item_skew);
  if (!(o.test_fraction > 0 && o.valid_fraction >= 0 && o.test_fraction + o.valid_fraction < 1))
    return Format("synthetic split fractions (valid %g, test %g) need test > 0 and a sum below 1",
                  o.valid_fraction, o.test_fraction);
  return "";
}

/// floor(x + u) for a uniform u: rounds so that the expectation is x.
int64_t StochasticRound(double x, const RngBlock& block, int word) {
  return static_cast<int64_t>(std::floor(x + UniformFromWords(block.v[word], block.v[word + 1])));
}

/// Adds or removes one unit per user, users taken in a seeded order and kept within
/// [lower(u), upper(u)], until the counts sum to `total` or no user can move.
template <class Lower, class Upper>
void AdjustToTotal(const SyntheticOptions& o, int64_t total, Lower lower, Upper upper,
                   std::vector<int64_t>* counts) {
  const int64_t users = o.num_users;
  const RandomPermutation order(o.seed, RngPurpose::kSynthetic, kAdjustOrder,
                                static_cast<uint64_t>(users));
  int64_t missing = total - std::accumulate(counts->begin(), counts->end(), int64_t{0});
  bool moved = true;
  while (missing != 0 && moved) {
    moved = false;
    for (int64_t n = 0; n < users && missing != 0; ++n) {
      const int64_t u = static_cast<int64_t>(order(static_cast<uint64_t>(n)));
      int64_t& count = (*counts)[u];
      const int64_t step = missing > 0 ? (count < upper(u) ? 1 : 0) : (count > lower(u) ? -1 : 0);
      count += step;
      missing -= step;
      moved = moved || step != 0;
    }
  }
}

/// Interactions and exposures per user: a power law over a random ranking of the users, scaled
/// so the mean is as requested (or the total exact), with at most `cap` of both per user.
void DrawCounts(const SyntheticOptions& o, int64_t cap, std::vector<int64_t>* degree,
                std::vector<int64_t>* exposures) {
  const int64_t users = o.num_users;
  const RandomPermutation rank(o.seed, RngPurpose::kSynthetic, kUserRank,
                               static_cast<uint64_t>(users));
  std::vector<double> base(static_cast<size_t>(users));
  for (int64_t u = 0; u < users; ++u)
    base[u] =
        std::pow((static_cast<double>(rank(u)) + 0.5) / static_cast<double>(users), -o.user_skew);
  // The clamp to [1, cap] moves the mean; a few multiplicative corrections bring it back.
  const double target = MeanDegree(o) * static_cast<double>(users);
  double scale = target / std::accumulate(base.begin(), base.end(), 0.0);
  for (int pass = 0; pass < 4; ++pass) {
    double total = 0;
    for (double b : base) total += std::clamp(scale * b, 1.0, static_cast<double>(cap));
    scale *= target / total;
  }
  degree->resize(static_cast<size_t>(users));
  exposures->resize(static_cast<size_t>(users));
  double sum = 0;
  for (int64_t u = 0; u < users; ++u) {
    const RngBlock block = RandomBlock(o.seed, RngPurpose::kSynthetic, kCounts, u, 0);
    (*degree)[u] = std::clamp<int64_t>(StochasticRound(scale * base[u], block, 0), 1, cap);
  }
  if (o.total_interactions > 0)
    AdjustToTotal(
        o, o.total_interactions, [](int64_t) { return int64_t{1}; },
        [cap](int64_t) { return cap; }, degree);
  for (int64_t u = 0; u < users; ++u) sum += static_cast<double>((*degree)[u]);
  // Active users are shown more: exposures are proportional to the degree.
  const double per_interaction = MeanExposures(o) * static_cast<double>(users) / sum;
  for (int64_t u = 0; u < users; ++u) {
    const RngBlock block = RandomBlock(o.seed, RngPurpose::kSynthetic, kCounts, u, 0);
    (*exposures)[u] =
        std::min(StochasticRound(per_interaction * (*degree)[u], block, 2), cap - (*degree)[u]);
  }
  if (o.total_exposures > 0)
    AdjustToTotal(
        o, o.total_exposures, [](int64_t) { return int64_t{0}; },
        [&](int64_t u) { return cap - (*degree)[u]; }, exposures);
}

void Generate(const SyntheticOptions& o, Csr* all, Csr* shown) {
  const int64_t users = o.num_users, items = o.num_items;
  const uint32_t communities = static_cast<uint32_t>(o.communities);
  // Items: a community each and a popularity from a random ranking.
  const RandomPermutation item_rank(o.seed, RngPurpose::kSynthetic, kItemRank,
                                    static_cast<uint64_t>(items));
  std::vector<std::vector<int32_t>> members(communities);
  std::vector<std::vector<double>> member_weights(communities);
  std::vector<int32_t> every_item(static_cast<size_t>(items));
  std::vector<double> popularity(static_cast<size_t>(items));
  for (int64_t i = 0; i < items; ++i) {
    popularity[i] = std::pow(static_cast<double>(item_rank(i)) + 1.0, -o.item_skew);
    every_item[i] = static_cast<int32_t>(i);
    const uint32_t c = UniformBelow(
        RandomBlock(o.seed, RngPurpose::kSynthetic, kItemCommunity, i, 0).v[0], communities);
    members[c].push_back(static_cast<int32_t>(i));
    member_weights[c].push_back(popularity[i]);
  }
  const AliasTable global(every_item, popularity);
  std::vector<AliasTable> local;
  local.reserve(communities);
  for (uint32_t c = 0; c < communities; ++c) local.emplace_back(members[c], member_weights[c]);

  std::vector<int64_t> degree, exposures;
  DrawCounts(o, UserCap(o), &degree, &exposures);
  for (Csr* csr : {all, shown}) csr->indptr.assign(static_cast<size_t>(users + 1), 0);
  for (int64_t u = 0; u < users; ++u) {
    all->indptr[u + 1] = all->indptr[u] + degree[u];
    shown->indptr[u + 1] = shown->indptr[u] + exposures[u];
  }
  all->indices.resize(static_cast<size_t>(all->indptr.back()));
  shown->indices.resize(static_cast<size_t>(shown->indptr.back()));

  const uint64_t stay_home = static_cast<uint64_t>(o.affinity * 4294967296.0);
  std::vector<uint32_t> stamp(static_cast<size_t>(items), 0);
  for (int64_t u = 0; u < users; ++u) {
    const uint32_t mark = static_cast<uint32_t>(u + 1);
    const AliasTable& home = local[UniformBelow(
        RandomBlock(o.seed, RngPurpose::kSynthetic, kUserCommunity, u, 0).v[0], communities)];
    const uint32_t budget = static_cast<uint32_t>(8 * (degree[u] + exposures[u]) + 64);
    uint32_t draw = 0;
    RngBlock block{};
    const auto next_item = [&]() {
      for (;;) {
        // Two words per draw: the community-or-global choice, then the alias table's word.
        if (draw % 2 == 0) block = RandomBlock(o.seed, RngPurpose::kSynthetic, kDraw, u, draw / 2);
        const uint32_t choice = block.v[2 * (draw % 2)], word = block.v[2 * (draw % 2) + 1];
        int32_t item;
        if (++draw > budget)
          item = static_cast<int32_t>(UniformBelow(word, static_cast<uint32_t>(items)));
        else
          item = (choice < stay_home && !home.Empty() ? home : global).Draw(word);
        if (stamp[item] != mark) {
          stamp[item] = mark;
          return item;
        }
      }
    };
    // Interactions first, then exposures: the shared stamp keeps the two disjoint.
    for (Csr* csr : {all, shown}) {
      const auto begin = csr->indices.begin() + csr->indptr[u],
                 end = csr->indices.begin() + csr->indptr[u + 1];
      for (auto it = begin; it != end; ++it) *it = next_item();
      std::sort(begin, end);
    }
  }
}

}  // namespace

PetscErrorCode GenerateSynthetic(const SyntheticOptions& options, Dataset* data) {
  Csr all, shown;
  Dataset built;
  PetscFunctionBeginUser;
  const std::string problem = OptionsProblem(options);
  PetscCheck(problem.empty(), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s", problem.c_str());
  PetscCallCXX(Generate(options, &all, &shown));
  // Only exposures with an inexact interaction count can miss their total (no room left).
  PetscCheck(options.total_exposures == 0 || shown.Nnz() == options.total_exposures,
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "synthetic exposures: only %lld of the %lld requested fit under the per-user cap",
             static_cast<long long>(shown.Nnz()), static_cast<long long>(options.total_exposures));
  built.name = options.name;
  built.num_users = options.num_users;
  built.num_items = options.num_items;
  PetscCall(SplitPerUser(all, options.valid_fraction, options.test_fraction, options.seed,
                         &built.train, &built.valid, &built.test));
  if (shown.Nnz() > 0) built.exposure = std::move(shown);
  *data = std::move(built);
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
