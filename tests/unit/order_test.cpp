// The locality order: the same dataset up to the names of its users and items, deterministic,
// and a numbering whose halves cut far fewer training edges than ids that carry no locality.
#include "recns/order.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/synthetic.hpp"

namespace {

using recns::Csr;
using recns::Dataset;

Dataset Planted() {
  recns::SyntheticOptions options;
  options.num_users = 1500;
  options.num_items = 2000;
  options.mean_degree = 15;
  options.communities = 16;
  options.mean_exposures = 5;
  options.valid_fraction = 0.1;
  options.test_fraction = 0.2;
  options.seed = 11;
  Dataset data;
  EXPECT_EQ(recns::GenerateSynthetic(options, &data), PETSC_SUCCESS);
  return data;
}

/// The (user raw id, item raw id) pairs of a split; a dataset without raw ids names its nodes by
/// their dense ids, as the order does.
std::set<std::pair<std::string, std::string>> NamedPairs(const Dataset& data, const Csr& split) {
  auto name = [](const std::vector<std::string>& raw, int64_t id) {
    return raw.empty() ? std::to_string(id) : raw[id];
  };
  std::set<std::pair<std::string, std::string>> pairs;
  for (int64_t u = 0; u < split.Rows(); ++u)
    for (int64_t p = split.indptr[u]; p < split.indptr[u + 1]; ++p)
      pairs.emplace(name(data.user_raw_ids, u), name(data.item_raw_ids, split.indices[p]));
  return pairs;
}

/// Share of training edges between the first half of the users and the second half of the
/// items or the reverse: what two ranks splitting both id ranges in the middle would cut.
double HalvesCut(const Dataset& data) {
  int64_t cut = 0;
  for (int64_t u = 0; u < data.num_users; ++u)
    for (int64_t p = data.train.indptr[u]; p < data.train.indptr[u + 1]; ++p)
      cut += (2 * u < data.num_users) != (2 * data.train.indices[p] < data.num_items);
  return (double)cut / (double)data.train.Nnz();
}

TEST(order_test, SameDatasetUpToNodeNames) {
  Dataset data = Planted();
  // A random test split (a user's test items again) is renumbered as every other split.
  data.test_random = data.test;
  Dataset ordered;
  ASSERT_EQ(recns::OrderForLocality(data, 64, &ordered), PETSC_SUCCESS);
  EXPECT_EQ(ordered.name, data.name);
  EXPECT_EQ(ordered.num_users, data.num_users);
  EXPECT_EQ(ordered.num_items, data.num_items);
  ASSERT_EQ(ordered.user_raw_ids.size(), (size_t)data.num_users);
  ASSERT_EQ(ordered.item_raw_ids.size(), (size_t)data.num_items);
  EXPECT_EQ(std::set<std::string>(ordered.user_raw_ids.begin(), ordered.user_raw_ids.end()).size(),
            (size_t)data.num_users);
  for (auto split : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure,
                     &Dataset::test_random}) {
    ASSERT_EQ((data.*split).Present(), (ordered.*split).Present());
    EXPECT_EQ(NamedPairs(ordered, ordered.*split), NamedPairs(data, data.*split));
    const Csr& csr = ordered.*split;
    for (int64_t u = 0; u < csr.Rows(); ++u)
      EXPECT_TRUE(std::is_sorted(csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1]));
  }
  // The file the converter writes passes the dataset checks.
  const std::string folder = recns::test::ScratchDir(PETSC_COMM_SELF, "order");
  ASSERT_EQ(recns::WriteDataset(folder + "/ordered.h5", ordered), PETSC_SUCCESS);
  std::filesystem::remove_all(folder);
}

TEST(order_test, RawIdsFollowTheirNodes) {
  Dataset data = Planted();
  for (int64_t u = 0; u < data.num_users; ++u) data.user_raw_ids.push_back("user" + std::to_string(u));
  for (int64_t i = 0; i < data.num_items; ++i) data.item_raw_ids.push_back("item" + std::to_string(i));
  Dataset ordered;
  ASSERT_EQ(recns::OrderForLocality(data, 64, &ordered), PETSC_SUCCESS);
  EXPECT_EQ(NamedPairs(ordered, ordered.train), NamedPairs(data, data.train));
  EXPECT_EQ(NamedPairs(ordered, ordered.test), NamedPairs(data, data.test));
}

TEST(order_test, DeterministicAndLocal) {
  const Dataset data = Planted();
  Dataset first, second;
  ASSERT_EQ(recns::OrderForLocality(data, 64, &first), PETSC_SUCCESS);
  ASSERT_EQ(recns::OrderForLocality(data, 64, &second), PETSC_SUCCESS);
  EXPECT_EQ(first.user_raw_ids, second.user_raw_ids);
  EXPECT_EQ(first.item_raw_ids, second.item_raw_ids);
  EXPECT_EQ(first.train.indices, second.train.indices);
  // Synthetic ids carry no community, so about half the edges cross the halves.
  const double natural = HalvesCut(data), local = HalvesCut(first);
  EXPECT_GT(natural, 0.4);
  EXPECT_LT(local, 0.5 * natural) << "natural " << natural << ", ordered " << local;
}

TEST(order_test, RejectsEmptyParts) {
  const Dataset data = Planted();
  Dataset ordered;
  EXPECT_EQ(recns::OrderForLocality(data, 0, &ordered), PETSC_ERR_USER_INPUT);
}

}  // namespace
