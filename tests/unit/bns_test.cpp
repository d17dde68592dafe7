// BNS (ALGORITHMS §7): the choice on a case worked by hand, and against a brute-force evaluation
// of the paper's formulas (eq 15-17, 32, 35) over many random candidate sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>
#include <random>
#include <vector>

#include "../sampler_fixture.hpp"
#include "recns/loss.hpp"

namespace {

using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

// Items 0..3. User 0 trained on {0}, user 1 on {1, 2}: pop = (1, 1, 1, 0), N = 3.
// 1-d embeddings: user 0 = 1; items 0, 1, 2, 3 = 0, 2, 1, -1, so x_0l = (0, 2, 1, -1).
// Over I_0^- = {1, 2, 3}: F = (1, 2/3, 1/3), P_fn = (1/3, 1/3, 0), unbias = (0, 1/2, 1),
// info = σ(x_0l - 0) = (0.881, 0.731, 0.269).
// λ = 5:   info·(1 - 6·unbias) = (0.881, -1.462, -1.345) -> item 2.
// λ = 0.5: info·(1 - 1.5·unbias) = (0.881, 0.183, -0.134) -> item 3.
// posterior: argmax unbias -> item 3.
struct HandCase {
  recns::Dataset data = DatasetFromRows(4, {{0}, {1, 2}}, {{3}, {0}});
  SamplerFixture fixture;
  int32_t Choose(const std::string& options) {
    EXPECT_EQ(fixture.SetUp(PETSC_COMM_SELF, data, "bns", "-sampler_bns_candidates 3 " + options, 1), 0);
    fixture.SetUserRow(0, {1});
    fixture.SetUserRow(1, {1});
    const double item_rows[] = {0, 2, 1, -1};
    for (int32_t j = 0; j < 4; ++j) fixture.SetItemRow(j, {item_rows[j]});
    recns::Negatives negatives;
    EXPECT_EQ(fixture.Sample(fixture.MakeBatch(data, {{0, 0}}), 0, &negatives), 0);
    EXPECT_EQ(negatives.item.size(), 1u);
    return negatives.item.empty() ? -1 : negatives.item[0];
  }
};

TEST(bns_test, HandWorkedCase) {
  EXPECT_EQ(HandCase().Choose("-sampler_bns_lambda 5"), 2);
  EXPECT_EQ(HandCase().Choose("-sampler_bns_lambda 0.5"), 3);
  EXPECT_EQ(HandCase().Choose("-sampler_bns_rule posterior"), 3);
  // The warm start's first epoch uses lambda_start: 0.5 at epoch 0 even though the floor is 5.
  EXPECT_EQ(HandCase().Choose("-sampler_bns_lambda 0.2 -sampler_bns_lambda_start 5 "
                              "-sampler_bns_lambda_decay 0.1"), 2);
  // Uniform prior 1/4 for every item: unbias = (0, (1/3)(3/4)/((1/3)(3/4)+(2/3)(1/4)), (2/3)(3/4)/
  // ((2/3)(3/4)+(1/3)(1/4))) = (0, 0.6, 0.857); λ = 5: (0.881, -1.900, -1.114) -> item 2.
  EXPECT_EQ(HandCase().Choose("-sampler_bns_prior uniform -sampler_bns_lambda 5"), 2);
}

/// The paper's rule evaluated directly: every quantity from its definition, over `candidates`.
int32_t BruteForceChoice(const recns::Dataset& data, const std::vector<double>& user_row,
                         const std::vector<std::vector<double>>& item_rows, int64_t user,
                         int32_t positive, const std::vector<int32_t>& candidates, double lambda,
                         bool posterior) {
  auto score = [&](int32_t item) {
    double s = 0;
    for (size_t c = 0; c < user_row.size(); ++c) s += user_row[c] * item_rows[item][c];
    return s;
  };
  auto is_positive = [&](int32_t item) {
    for (int64_t p = data.train.indptr[user]; p < data.train.indptr[user + 1]; ++p)
      if (data.train.indices[p] == item) return true;
    return false;
  };
  std::vector<double> pop(data.num_items, 0);
  for (int32_t item : data.train.indices) pop[item] += 1;
  const double total = (double)data.train.indices.size();
  int32_t best = -1;
  double best_value = INFINITY;
  for (int32_t l : candidates) {
    double below = 0, negatives = 0;
    for (int32_t j = 0; j < data.num_items; ++j)
      if (!is_positive(j)) {
        negatives += 1;
        below += score(j) <= score(l);
      }
    const double F = below / negatives, P = pop[l] / total;
    const double unbias = (1 - F) * (1 - P) / (1 - F - P + 2 * F * P);
    const double info = 1 - 1 / (1 + std::exp(-(score(positive) - score(l))));
    const double value = posterior ? -unbias : info * (1 - (1 + lambda) * unbias);
    if (value < best_value) {
      best_value = value;
      best = l;
    }
  }
  return best;
}

void CompareWithBruteForce(const std::string& options, double lambda, bool posterior) {
  // 6 users over 12 items with uneven popularity; 3-d embeddings from a fixed pseudo-random rule.
  const recns::Dataset data = DatasetFromRows(
      12, {{0, 1, 2}, {0, 1, 5}, {0, 3, 7}, {1, 4, 8, 9}, {0, 2, 10}, {6}},
      {{4}, {6}, {8}, {10}, {11}, {2}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "bns", options, 3));
  std::vector<std::vector<double>> user_rows(6), item_rows(12);
  for (int64_t u = 0; u < 6; ++u) {
    for (int c = 0; c < 3; ++c) user_rows[u].push_back(std::sin(1.7 * (double)u + 0.9 * c + 0.3));
    fixture.SetUserRow(u, user_rows[u]);
  }
  for (int32_t j = 0; j < 12; ++j) {
    for (int c = 0; c < 3; ++c) item_rows[j].push_back(std::cos(2.3 * (double)j - 1.1 * c));
    fixture.SetItemRow(j, item_rows[j]);
  }
  const std::vector<std::pair<int64_t, int32_t>> pairs = {{0, 1}, {1, 5}, {2, 3}, {3, 9}, {4, 0}, {5, 6}};
  const recns::Batch batch = fixture.MakeBatch(data, pairs);
  int differing_from_first = 0;
  for (uint32_t epoch = 0; epoch < 40; ++epoch) {
    recns::Negatives negatives;
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    ASSERT_EQ(negatives.item.size(), pairs.size());
    for (size_t b = 0; b < pairs.size(); ++b) {
      // The candidates: the first 4 distinct uniform negatives of the pair's stream.
      recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, (uint64_t)batch.pair[b]);
      std::vector<int32_t> candidates;
      while (candidates.size() < 4) {
        const int32_t item = recns::DrawUniformNegative(fixture.graph, batch.user[b], &stream);
        if (std::find(candidates.begin(), candidates.end(), item) == candidates.end())
          candidates.push_back(item);
      }
      const int32_t expected = BruteForceChoice(data, user_rows[pairs[b].first], item_rows,
                                                pairs[b].first, pairs[b].second, candidates,
                                                lambda, posterior);
      EXPECT_EQ(negatives.item[b], expected) << "epoch " << epoch << " pair " << b;
      differing_from_first += negatives.item[b] != candidates[0];
    }
  }
  EXPECT_GT(differing_from_first, 20) << "the rule should often differ from a uniform draw";
}

TEST(bns_test, RiskRuleMatchesBruteForce) {
  CompareWithBruteForce("-sampler_bns_candidates 4 -sampler_bns_lambda 5 -sampler_bns_cdf exact", 5, false);
  CompareWithBruteForce("-sampler_bns_candidates 4 -sampler_bns_lambda 0.3", 0.3, false);
}

TEST(bns_test, PosteriorRuleMatchesBruteForce) {
  CompareWithBruteForce("-sampler_bns_candidates 4 -sampler_bns_rule posterior", 0, true);
}

TEST(bns_test, SubsampledCdfConvergesToExactChoice) {
  // With many CDF samples the estimate is close to the exact CDF, so the choices mostly agree.
  const recns::Dataset data = DatasetFromRows(
      12, {{0, 1, 2}, {0, 1, 5}, {0, 3, 7}, {1, 4, 8, 9}, {0, 2, 10}, {6}},
      {{4}, {6}, {8}, {10}, {11}, {2}});
  SamplerFixture exact, sampled;
  ASSERT_PETSC_OK(exact.SetUp(PETSC_COMM_SELF, data, "bns", "-sampler_bns_cdf exact", 3));
  ASSERT_PETSC_OK(sampled.SetUp(PETSC_COMM_SELF, data, "bns",
                                "-sampler_bns_cdf subsample -sampler_bns_cdf_samples 4000", 3));
  for (SamplerFixture* f : {&exact, &sampled}) {
    for (int64_t u = 0; u < 6; ++u) f->SetUserRow(u, {std::sin(1.0 * u), std::cos(0.5 * u), 0.3});
    for (int32_t j = 0; j < 12; ++j) f->SetItemRow(j, {std::cos(2.3 * j), std::sin(0.7 * j), -0.2});
  }
  const recns::Batch batch = exact.MakeBatch(data, {{0, 1}, {1, 5}, {2, 3}, {3, 9}, {4, 0}, {5, 6}});
  int same = 0, total = 0;
  for (uint32_t epoch = 0; epoch < 30; ++epoch) {
    recns::Negatives a, b;
    ASSERT_PETSC_OK(exact.Sample(batch, epoch, &a));
    ASSERT_PETSC_OK(sampled.Sample(batch, epoch, &b));
    for (size_t k = 0; k < a.item.size(); ++k) same += a.item[k] == b.item[k];
    total += (int)a.item.size();
  }
  EXPECT_GE(same, total * 9 / 10);
}

TEST(bns_test, UniformWarmupIsTheUniformSampler) {
  const recns::Dataset data = DatasetFromRows(12, {{0, 1, 2}, {3}}, {{4}, {5}});
  SamplerFixture bns, uniform;
  ASSERT_PETSC_OK(bns.SetUp(PETSC_COMM_SELF, data, "bns", "-sampler_bns_uniform_epochs 3 -sampler_num_negatives 2", 2));
  ASSERT_PETSC_OK(uniform.SetUp(PETSC_COMM_SELF, data, "uniform", "-sampler_num_negatives 2", 2));
  const recns::Batch batch = bns.MakeBatch(data, {{0, 2}, {1, 3}});
  for (uint32_t epoch = 0; epoch < 3; ++epoch) {
    recns::Negatives a, b;
    ASSERT_PETSC_OK(bns.Sample(batch, epoch, &a));
    ASSERT_PETSC_OK(uniform.Sample(batch, epoch, &b));
    EXPECT_EQ(a.item, b.item) << "epoch " << epoch;
  }
}

// The exact CDF's fast path (each user's scores computed once per step; candidates counted by
// binary search in its sorted scores, or by a pass over them when the user has few candidates)
// against the straightforward computation it replaces: per pair, every item scored, and per
// candidate every un-interacted item counted. Random problems with users repeated (not next to
// each other) in the batch, 4 negatives of 4 candidates per pair, and embeddings of halves so that
// scores are exact and tie often (zero rows and duplicate item rows included). User u has u + 1
// pairs in the batch, 16 to 128 candidates against the sorting threshold 16 log2(n_i) <= 96 of
// these catalogues, so both ways of counting are used. The reference evaluates the sampler's own
// formulas in the same order, so choices must agree exactly, ties between candidates included
// (the earlier candidate wins).
double SamplerUnbias(double cdf, double prior) {  // bns.cpp's Unbias
  const double true_negative = (1 - cdf) * (1 - prior);
  const double total = true_negative + cdf * prior;
  return total > 0 ? true_negative / total : 1.0;
}

void CompareExactCdfWithReference(uint32_t seed, const std::string& rule, const std::string& prior) {
  std::mt19937 random(seed);
  auto below = [&](int n) { return (int)(random() % (uint32_t)n); };
  const int users = 8, d = 3, k = 4, m = 4;
  const int items = 25 + below(40);
  std::vector<std::vector<int32_t>> train(users);
  for (auto& row : train) {  // 8 to items / 2 positives, at random
    std::vector<int32_t> all(items);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), random);
    row.assign(all.begin(), all.begin() + 8 + below(items / 2 - 7));
    std::sort(row.begin(), row.end());
  }
  const recns::Dataset data = DatasetFromRows(items, train, std::vector<std::vector<int32_t>>(users));
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "bns",
                                "-sampler_bns_cdf exact -sampler_num_negatives 4 "
                                "-sampler_bns_candidates 4 -sampler_bns_lambda 5 -sampler_bns_rule " +
                                    rule + " -sampler_bns_prior " + prior,
                                d));
  auto half = [&]() { return 0.5 * (below(5) - 2); };  // -1, -0.5, 0, 0.5, 1
  std::vector<std::vector<double>> user_rows(users), item_rows(items);
  for (int u = 0; u < users; ++u) {
    for (int c = 0; c < d; ++c) user_rows[u].push_back(u % 4 == 3 ? 0.0 : half());  // all ties
    fixture.SetUserRow(u, user_rows[u]);
  }
  for (int32_t j = 0; j < items; ++j) {
    if (j % 5 == 4) item_rows[j] = item_rows[j - 1];  // duplicate rows
    else for (int c = 0; c < d; ++c) item_rows[j].push_back(half());
    fixture.SetItemRow(j, item_rows[j]);
  }
  // 36 distinct pairs, u + 1 of user u, shuffled so a user's pairs are spread over the batch.
  std::vector<std::pair<int64_t, int32_t>> pairs;
  for (int u = 0; u < users; ++u)
    for (int t = 0; t <= u; ++t) pairs.push_back({u, train[u][t]});
  std::shuffle(pairs.begin(), pairs.end(), random);
  const recns::Batch batch = fixture.MakeBatch(data, pairs);
  std::vector<double> pop(items, 0);
  for (int32_t item : data.train.indices) pop[item] += 1;
  auto score = [&](int64_t u, int32_t item) {
    double s = 0;
    for (int c = 0; c < d; ++c) s += user_rows[u][c] * item_rows[item][c];
    return s;
  };
  for (uint32_t epoch = 0; epoch < 10; ++epoch) {
    recns::Negatives negatives;
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    ASSERT_EQ(negatives.item.size(), pairs.size() * k);
    for (size_t b = 0; b < pairs.size(); ++b) {
      const int64_t u = pairs[b].first;
      const std::vector<int32_t>& positives = train[u];
      auto is_positive = [&](int32_t j) {
        return std::find(positives.begin(), positives.end(), j) != positives.end();
      };
      std::vector<double> scores(items);
      for (int32_t j = 0; j < items; ++j) scores[j] = score(u, j);
      const double positive_score = scores[pairs[b].second];
      const int candidates = std::min<int>(m, items - (int)positives.size());
      recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, (uint64_t)batch.pair[b]);
      for (int s = 0; s < k; ++s) {
        std::vector<int32_t> candidate;
        while ((int)candidate.size() < candidates) {
          const int32_t item = recns::DrawUniformNegative(fixture.graph, batch.user[b], &stream);
          if (std::find(candidate.begin(), candidate.end(), item) == candidate.end())
            candidate.push_back(item);
        }
        int32_t expected = -1;
        double best_value = 0;
        for (size_t c = 0; c < candidate.size(); ++c) {
          const double x = scores[candidate[c]];
          int64_t count = 0;
          for (int32_t j = 0; j < items; ++j) count += !is_positive(j) && scores[j] <= x;
          const double cdf = (double)count / (double)(items - (int64_t)positives.size());
          const double p = prior == "uniform" ? 1.0 / items : pop[candidate[c]] / (double)data.train.indices.size();
          const double unbias = SamplerUnbias(cdf, p);
          const double info = 1.0 - recns::Sigmoid(positive_score - x);
          const double value = rule == "posterior" ? -unbias : info * (1.0 - (1.0 + 5.0) * unbias);
          if (c == 0 || value < best_value) {
            expected = candidate[c];
            best_value = value;
          }
        }
        EXPECT_EQ(negatives.item[b * k + s], expected)
            << "seed " << seed << " epoch " << epoch << " pair " << b << " slot " << s;
      }
    }
  }
}

TEST(bns_test, ExactCdfMatchesStraightforwardCount) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    CompareExactCdfWithReference(seed, "risk", "popularity");
    CompareExactCdfWithReference(seed, "posterior", "popularity");
    CompareExactCdfWithReference(seed, "risk", "uniform");
  }
}

// The exact CDF's cost per step grows with the distinct users of the step, not with its pairs
// and negatives: 128 pairs of one user, 4 negatives of 5 candidates each, cost a few times what
// one of its pairs costs alone (one scoring and one sort of the 20000 items, then lookups),
// where scoring per pair and counting per candidate made them 128 times as much. CPU time, the
// best of three rounds of 10 steps.
TEST(bns_test, ExactCdfCostGrowsWithUsersNotPairs) {
  const int items = 20000, d = 64;
  std::vector<int32_t> row;
  for (int32_t j = 0; j < 200; ++j) row.push_back(j * 97);
  const recns::Dataset data = DatasetFromRows(items, {row, {1}}, {{}, {}});
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, data, "bns",
                                "-sampler_bns_cdf exact -sampler_num_negatives 4", d));
  std::vector<double> item_row(d), user_row(d);
  for (int32_t j = 0; j < items; ++j) {
    for (int c = 0; c < d; ++c) item_row[c] = std::sin(0.37 * j + 1.3 * c);
    fixture.SetItemRow(j, item_row);
  }
  for (int c = 0; c < d; ++c) user_row[c] = std::cos(0.7 * c);
  fixture.SetUserRow(0, user_row);
  std::vector<std::pair<int64_t, int32_t>> one = {{0, row[0]}}, many;
  for (int b = 0; b < 128; ++b) many.push_back({0, row[b]});
  auto seconds = [&](const std::vector<std::pair<int64_t, int32_t>>& pairs) {
    const recns::Batch batch = fixture.MakeBatch(data, pairs);
    double best = INFINITY;
    for (int round = 0; round < 3; ++round) {
      const std::clock_t start = std::clock();
      for (uint32_t step = 0; step < 10; ++step) {
        recns::Negatives negatives;
        EXPECT_EQ(fixture.Sample(batch, step, &negatives), 0);
      }
      best = std::min(best, double(std::clock() - start) / CLOCKS_PER_SEC);
    }
    return best;
  };
  const double single = seconds(one), batch = seconds(many);
  EXPECT_LT(batch, 32 * single) << "128 pairs of one user: " << batch << " s; one pair: " << single
                                << " s (10 steps)";
}

TEST(bns_test, BadOptionsAreInputErrors) {
  const recns::Dataset data = DatasetFromRows(6, {{0}, {1}}, {{2}, {3}});
  for (const char* bad : {"-sampler_bns_candidates 0", "-sampler_bns_lambda -1",
                          "-sampler_bns_cdf_samples 0", "-sampler_bns_lambda 5 -sampler_bns_lambda_start 2",
                          "-sampler_bns_uniform_epochs -2"}) {
    SamplerFixture fixture;
    const std::string message = recns::test::InputError(fixture.SetUp(PETSC_COMM_SELF, data, "bns", bad, 2));
    EXPECT_NE(message.find("-sampler_bns_"), std::string::npos) << bad << ": " << message;
  }
}

}  // namespace
