// The synthetic generator: deterministic per seed, sizes and skew as requested, exposures and
// splits disjoint, and a planted structure that a simple model can find.
#include "recns/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <vector>

#include "../test_util.hpp"
#include "recns/dataset.hpp"

namespace {

using recns::Csr;
using recns::Dataset;
using recns::SyntheticOptions;

SyntheticOptions Small() {
  SyntheticOptions options;
  options.num_users = 600;
  options.num_items = 800;
  options.mean_degree = 20;
  options.communities = 8;
  options.mean_exposures = 10;
  options.valid_fraction = 0.1;
  options.test_fraction = 0.2;
  options.seed = 3;
  return options;
}

std::vector<int32_t> Row(const Csr& csr, int64_t user) {
  if (!csr.Present()) return {};
  return {csr.indices.begin() + csr.indptr[user], csr.indices.begin() + csr.indptr[user + 1]};
}

int64_t Degree(const Dataset& data, int64_t user) {
  return static_cast<int64_t>(Row(data.train, user).size() + Row(data.valid, user).size() +
                              Row(data.test, user).size());
}

/// Recall@20 on the test split of ranking unseen items by `score(user, item)`.
template <class Score>
double RecallAt20(const Dataset& data, Score score) {
  double total = 0;
  int64_t users = 0;
  std::vector<std::pair<double, int32_t>> ranked;
  for (int64_t u = 0; u < data.num_users; ++u) {
    const std::vector<int32_t> truth = Row(data.test, u), train = Row(data.train, u);
    if (truth.empty()) continue;
    ranked.clear();
    for (int32_t i = 0; i < data.num_items; ++i)
      if (!std::binary_search(train.begin(), train.end(), i)) ranked.emplace_back(-score(u, i), i);
    std::partial_sort(ranked.begin(), ranked.begin() + 20, ranked.end());
    int hits = 0;
    for (int k = 0; k < 20; ++k)
      hits += std::binary_search(truth.begin(), truth.end(), ranked[k].second);
    total += static_cast<double>(hits) / static_cast<double>(truth.size());
    ++users;
  }
  return total / static_cast<double>(users);
}

TEST(synthetic_test, DeterministicPerSeed) {
  Dataset a, b, c;
  ASSERT_EQ(recns::GenerateSynthetic(Small(), &a), PETSC_SUCCESS);
  ASSERT_EQ(recns::GenerateSynthetic(Small(), &b), PETSC_SUCCESS);
  SyntheticOptions other = Small();
  other.seed = 4;
  ASSERT_EQ(recns::GenerateSynthetic(other, &c), PETSC_SUCCESS);
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure}) {
    EXPECT_EQ((a.*part).indptr, (b.*part).indptr);
    EXPECT_EQ((a.*part).indices, (b.*part).indices);
  }
  EXPECT_NE(a.train.indices, c.train.indices);
}

TEST(synthetic_test, SizesAndSkewAsRequested) {
  const SyntheticOptions options = Small();
  Dataset data;
  ASSERT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
  EXPECT_EQ(data.name, "synthetic");
  EXPECT_EQ(data.num_users, 600);
  EXPECT_EQ(data.num_items, 800);
  const double interactions =
      static_cast<double>(data.train.Nnz() + data.valid.Nnz() + data.test.Nnz());
  EXPECT_NEAR(interactions, 600 * 20.0, 600 * 20.0 * 0.03);
  EXPECT_NEAR(static_cast<double>(data.exposure.Nnz()), 600 * 10.0, 600 * 10.0 * 0.05);
  EXPECT_NEAR(static_cast<double>(data.test.Nnz()) / interactions, 0.2, 0.02);
  EXPECT_NEAR(static_cast<double>(data.valid.Nnz()) / interactions, 0.1, 0.02);
  // Power-law degrees: the most active user has many times the mean, nobody has none.
  int64_t most = 0, least = INT64_MAX;
  for (int64_t u = 0; u < data.num_users; ++u) {
    most = std::max(most, Degree(data, u));
    least = std::min(least, Degree(data, u));
  }
  EXPECT_GE(most, 5 * 20);
  EXPECT_GE(least, 1);
  // Popularity: the top 10% of the items hold a large share of the interactions.
  std::vector<int64_t> popularity(data.num_items, 0);
  for (const Csr* csr : {&data.train, &data.valid, &data.test})
    for (int32_t item : csr->indices) ++popularity[item];
  std::sort(popularity.rbegin(), popularity.rend());
  const double head =
      static_cast<double>(std::accumulate(popularity.begin(), popularity.begin() + 80, int64_t{0}));
  EXPECT_GT(head / interactions, 0.3);
}

TEST(synthetic_test, ExposuresAndSplitsAreDisjoint) {
  Dataset data;
  ASSERT_EQ(recns::GenerateSynthetic(Small(), &data), PETSC_SUCCESS);
  const std::string dir = recns::test::ScratchDir(PETSC_COMM_SELF, "synthetic");
  EXPECT_EQ(recns::WriteDataset(dir + "/synthetic.h5", data), PETSC_SUCCESS);  // it validates
  std::filesystem::remove_all(dir);
  for (int64_t u = 0; u < data.num_users; ++u) {
    std::set<int32_t> seen;
    size_t count = 0;
    for (const Csr* csr : {&data.train, &data.valid, &data.test, &data.exposure}) {
      const std::vector<int32_t> row = Row(*csr, u);
      seen.insert(row.begin(), row.end());
      count += row.size();
    }
    EXPECT_EQ(seen.size(), count) << "user " << u;
    EXPECT_FALSE(Row(data.train, u).empty()) << "user " << u;
  }
}

TEST(synthetic_test, PlantedCommunitiesBeatPopularity) {
  Dataset data;
  ASSERT_EQ(recns::GenerateSynthetic(Small(), &data), PETSC_SUCCESS);
  // Item co-occurrence in train finds the communities; popularity alone cannot.
  const int64_t items = data.num_items;
  std::vector<double> cooccurrence(items * items, 0.0), popularity(items, 0.0);
  for (int64_t u = 0; u < data.num_users; ++u) {
    const std::vector<int32_t> row = Row(data.train, u);
    for (int32_t i : row) {
      popularity[i] += 1;
      for (int32_t j : row) cooccurrence[i * items + j] += 1;
    }
  }
  const double by_popularity = RecallAt20(data, [&](int64_t, int32_t i) { return popularity[i]; });
  const double by_cooccurrence = RecallAt20(data, [&](int64_t u, int32_t i) {
    double score = 0;
    for (int32_t j : Row(data.train, u)) score += cooccurrence[i * items + j];
    return score / std::sqrt(1.0 + popularity[i]);
  });
  EXPECT_GT(by_cooccurrence, 1.5 * by_popularity) << "popularity " << by_popularity;
  EXPECT_GT(by_popularity, 20.0 / 800.0);  // popularity itself beats a random ranking
}

TEST(synthetic_test, ExactTotalsWhenRequested) {
  SyntheticOptions options = Small();
  options.total_interactions = 12345;  // overrides the mean degree of 20
  options.total_exposures = 5432;
  Dataset data, again;
  ASSERT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
  ASSERT_EQ(recns::GenerateSynthetic(options, &again), PETSC_SUCCESS);
  EXPECT_EQ(data.train.Nnz() + data.valid.Nnz() + data.test.Nnz(), 12345);
  EXPECT_EQ(data.exposure.Nnz(), 5432);
  EXPECT_EQ(data.train.indices, again.train.indices);
  EXPECT_EQ(data.exposure.indices, again.exposure.indices);
  // Still within the per-user bounds (at least one interaction, at most half the catalogue).
  for (int64_t u = 0; u < data.num_users; ++u) {
    EXPECT_GE(Degree(data, u), 1);
    EXPECT_LE(Degree(data, u) + static_cast<int64_t>(Row(data.exposure, u).size()), 400);
  }
  // The extremes work too: every user at one interaction, no room left for exposures.
  options.total_interactions = 600;
  options.total_exposures = 600 * 399;
  ASSERT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
  EXPECT_EQ(data.train.Nnz() + data.valid.Nnz() + data.test.Nnz(), 600);
  EXPECT_EQ(data.exposure.Nnz(), 600 * 399);
  // An exposure total changes the exposures only: interactions are drawn before them.
  Dataset plain, exposed;
  ASSERT_EQ(recns::GenerateSynthetic(Small(), &plain), PETSC_SUCCESS);
  options = Small();
  options.total_exposures = 5432;
  ASSERT_EQ(recns::GenerateSynthetic(options, &exposed), PETSC_SUCCESS);
  EXPECT_EQ(exposed.exposure.Nnz(), 5432);
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test}) {
    EXPECT_EQ((plain.*part).indptr, (exposed.*part).indptr);
    EXPECT_EQ((plain.*part).indices, (exposed.*part).indices);
  }
}

TEST(synthetic_test, RejectsTotalsThatDoNotFit) {
  Dataset data;
  SyntheticOptions options = Small();
  options.total_interactions = 600 * 400 + 1;  // beyond half the catalogue per user
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options.total_interactions = 600 * 300;
  options.total_exposures = 600 * 100 + 1;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options.total_interactions = 0;  // the mean degree's random total leaves too little room
  options.mean_degree = 300;
  options.total_exposures = 600 * 100 + 5000;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options = Small();
  options.total_exposures = -1;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
}

TEST(synthetic_test, RejectsBadOptions) {
  Dataset data;
  SyntheticOptions options = Small();
  options.num_items = 1;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options = Small();
  options.test_fraction = 0;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options = Small();  // means the per-user cap (half the items) would clamp
  options.mean_degree = 401;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options.mean_degree = 300;
  options.mean_exposures = 101;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_ERR_USER_INPUT);
  options.mean_exposures = 100;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
}

}  // namespace
