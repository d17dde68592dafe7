// SRNS sampler (ALGORITHMS §4.5) on hand-made problems. Item rows are one-hot, so the score of
// (u, i) is entry i of u's row and every score, current or historical, is set by hand. The state
// the sampler keeps (current pool, memory M_u as pool indices, snapshot count) is read through
// SRNSStateForTest, a test-only accessor defined in src/samplers/srns.cpp; the choices themselves
// are checked against brute-force recomputations of the rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "../sampler_fixture.hpp"

namespace recns {
// Defined in src/samplers/srns.cpp for this test only.
bool SRNSStateForTest(const Sampler& sampler, int32_t local_user, std::vector<int32_t>* pool,
                      std::vector<int32_t>* memory, int* snapshots);
}  // namespace recns

namespace {

using recns::Negatives;
using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;
using Scores = std::vector<double>;  // one user row = the scores of every item

struct State {
  std::vector<int32_t> pool, memory;
  int snapshots = -1;
};

State View(const SamplerFixture& fx, int32_t user) {
  State state;
  EXPECT_TRUE(
      recns::SRNSStateForTest(*fx.sampler, user, &state.pool, &state.memory, &state.snapshots));
  return state;
}

void OneHotItems(SamplerFixture* fx, int items) {
  for (int i = 0; i < items; ++i) {
    std::vector<double> row(items, 0.0);
    row[i] = 1.0;
    fx->SetItemRow(i, row);
  }
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

bool Contains(const std::vector<int32_t>& row, int32_t item) {
  return std::find(row.begin(), row.end(), item) != row.end();
}

// Deterministic scores in (-2, 2), distinct for practical purposes.
Scores PseudoRandomScores(int items, unsigned salt) {
  Scores row(items);
  uint64_t x = 0x9E3779B97F4A7C15ull * (salt + 1);
  for (double& v : row) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    v = 4.0 * (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0 - 2.0;
  }
  return row;
}

recns::SampleContext Context(SamplerFixture& fx, uint32_t epoch) {
  return recns::SampleContext{&fx.graph, fx.model.get(), 7, epoch};
}

// The k negatives of pair b.
std::vector<int32_t> NegativesOf(const Negatives& n, size_t b) {
  return std::vector<int32_t>(n.item.begin() + b * n.k, n.item.begin() + (b + 1) * n.k);
}

TEST(srns_test, WithoutHistoryPicksTheHighestCurrentScore) {
  constexpr int kItems = 12;
  const std::vector<std::vector<int32_t>> train = {{0, 1}, {2, 5, 7}, {3}};
  const auto data = DatasetFromRows(kItems, train, {{4}, {6}, {8}});
  const std::string base = "-sampler_srns_pool_size 10 -sampler_srns_s1 4 -sampler_srns_s2_ratio 1";
  // `one` returns the chosen negative; its twin `all` (same seed, so the same pools and memory)
  // returns all S1 candidates of M_u in the order of the criterion.
  SamplerFixture one, all;
  ASSERT_PETSC_OK(one.SetUp(PETSC_COMM_SELF, data, "srns", base, kItems));
  ASSERT_PETSC_OK(
      all.SetUp(PETSC_COMM_SELF, data, "srns", base + " -sampler_num_negatives 4", kItems));
  EXPECT_EQ(one.sampler->Describe(),
            "srns (V=10, S1=4, S2=4, alpha=5, warmup=50, tau=10, history=5)");
  std::vector<Scores> w;
  for (int u = 0; u < 3; ++u) w.push_back(PseudoRandomScores(kItems, u));
  for (SamplerFixture* fx : {&one, &all}) {
    OneHotItems(fx, kItems);
    for (int u = 0; u < 3; ++u) fx->SetUserRow(u, w[u]);
  }
  const std::vector<std::pair<int64_t, int32_t>> pairs = {{0, 0}, {0, 1}, {1, 2}, {1, 5}, {2, 3}};
  const recns::Batch batch = one.MakeBatch(data, pairs);
  Negatives n1, n4;
  ASSERT_PETSC_OK(one.Sample(batch, 0, &n1));
  ASSERT_PETSC_OK(all.Sample(batch, 0, &n4));
  ASSERT_EQ(n1.item.size(), pairs.size());
  ASSERT_EQ(n4.item.size(), 4 * pairs.size());
  for (size_t b = 0; b < pairs.size(); ++b) {
    const int u = (int)pairs[b].first;
    const std::vector<int32_t> ranked = NegativesOf(n4, b);
    // No snapshot yet, so std = 0 and the criterion is σ(s_uc − s_ui): decreasing scores.
    for (size_t s = 1; s < ranked.size(); ++s) EXPECT_GE(w[u][ranked[s - 1]], w[u][ranked[s]]);
    for (int32_t item : ranked) EXPECT_FALSE(Contains(train[u], item)) << "user " << u;
    EXPECT_EQ(n1.item[b], ranked[0]) << "pair " << b;
  }
  // Both pairs of a user see the same (pre-update) memory.
  EXPECT_EQ(NegativesOf(n4, 0), NegativesOf(n4, 1));
  EXPECT_EQ(NegativesOf(n4, 2), NegativesOf(n4, 3));

  // A second step of the same epoch selects from the updated memory, read directly this time.
  std::vector<State> before;
  for (int u = 0; u < 3; ++u) {
    before.push_back(View(one, u));
    EXPECT_EQ(before[u].snapshots, 0);
    for (int32_t item : before[u].pool) EXPECT_FALSE(Contains(train[u], item)) << "user " << u;
  }
  ASSERT_PETSC_OK(one.Sample(batch, 0, &n1));
  for (size_t b = 0; b < pairs.size(); ++b) {
    const State& state = before[pairs[b].first];
    const Scores& row = w[pairs[b].first];
    int32_t best = state.pool[state.memory[0]];
    for (int32_t index : state.memory)
      if (row[state.pool[index]] > row[best]) best = state.pool[index];
    EXPECT_EQ(n1.item[b], best) << "pair " << b;
  }
}

// The variance term against a brute-force recomputation: H = 3 snapshots out of 5 epoch ends (so
// the ring must drop the oldest two, and pool and positive snapshots must be the same epochs), a
// warmup ramp at 1/2, and α < 0 (std alone) on a twin sampler with the same state.
TEST(srns_test, VarianceTermMatchesBruteForce) {
  constexpr int kItems = 16, kUsers = 4, kEpochs = 5;
  const std::vector<std::vector<int32_t>> train = {{0}, {1, 2}, {3, 4, 9}, {0, 5}};
  const auto data = DatasetFromRows(kItems, train, {{6}, {7}, {8}, {10}});
  const std::string base =
      "-sampler_srns_pool_size 12 -sampler_srns_s1 6 -sampler_srns_s2_ratio 1 "
      "-sampler_srns_warmup 10 -sampler_srns_history 3 -sampler_num_negatives 6";
  SamplerFixture mixed, alone;
  ASSERT_PETSC_OK(
      mixed.SetUp(PETSC_COMM_SELF, data, "srns", base + " -sampler_srns_alpha 5", kItems));
  ASSERT_PETSC_OK(
      alone.SetUp(PETSC_COMM_SELF, data, "srns", base + " -sampler_srns_alpha -1", kItems));
  // history[e][u]: user u's scores at the end of epoch e.
  std::vector<std::vector<Scores>> history(kEpochs);
  for (int e = 0; e < kEpochs; ++e) {
    for (int u = 0; u < kUsers; ++u)
      history[e].push_back(PseudoRandomScores(kItems, 100 + 10 * e + u));
    for (SamplerFixture* fx : {&mixed, &alone}) {
      OneHotItems(fx, kItems);
      for (int u = 0; u < kUsers; ++u) fx->SetUserRow(u, history[e][u]);
      ASSERT_PETSC_OK(fx->sampler->EndEpoch(Context(*fx, e)));
    }
  }
  std::vector<Scores> now;
  for (int u = 0; u < kUsers; ++u) {
    now.push_back(PseudoRandomScores(kItems, 7 + u));
    mixed.SetUserRow(u, now[u]);
    alone.SetUserRow(u, now[u]);
  }
  const std::vector<std::pair<int64_t, int32_t>> pairs = {{0, 0}, {1, 1}, {1, 2}, {2, 3},
                                                          {2, 9}, {3, 0}, {3, 5}};
  const recns::Batch batch = mixed.MakeBatch(data, pairs);
  std::vector<State> state;
  for (int u = 0; u < kUsers; ++u) {
    state.push_back(View(mixed, u));
    ASSERT_EQ(state[u].snapshots, 3);
    const State twin = View(alone, u);
    ASSERT_EQ(twin.pool, state[u].pool);
    ASSERT_EQ(twin.memory, state[u].memory);
  }
  Negatives got_mixed, got_alone;
  ASSERT_PETSC_OK(mixed.Sample(batch, kEpochs, &got_mixed));
  ASSERT_PETSC_OK(alone.Sample(batch, kEpochs, &got_alone));

  const double ramp = std::min(1.0, (double)kEpochs / 10.0);
  bool variance_mattered = false, ramp_mattered = false;
  for (size_t b = 0; b < pairs.size(); ++b) {
    const int u = (int)pairs[b].first;
    const int32_t positive = pairs[b].second;
    std::vector<double> current, deviation, criterion, unramped;
    std::vector<int32_t> candidates;
    for (int32_t index : state[u].memory) {
      const int32_t c = state[u].pool[index];
      candidates.push_back(c);
      current.push_back(Sigmoid(now[u][c] - now[u][positive]));
      // Snapshots are the last three epoch ends, stored as float.
      std::vector<double> l;
      for (int e = kEpochs - 3; e < kEpochs; ++e)
        l.push_back(
            Sigmoid((double)(float)history[e][u][c] - (double)(float)history[e][u][positive]));
      double mean = 0, var = 0;
      for (double x : l) mean += x / l.size();
      for (double x : l) var += (x - mean) * (x - mean) / l.size();
      deviation.push_back(std::sqrt(var));
      criterion.push_back(current.back() + 5.0 * ramp * deviation.back());
      unramped.push_back(current.back() + 5.0 * deviation.back());
    }
    auto ranking = [&](const std::vector<double>& key) {
      std::vector<int> order(key.size());
      for (size_t m = 0; m < order.size(); ++m) order[m] = (int)m;
      std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return key[a] > key[c]; });
      std::vector<int32_t> items;
      for (int m : order) items.push_back(candidates[m]);
      return items;
    };
    EXPECT_EQ(NegativesOf(got_mixed, b), ranking(criterion)) << "pair " << b;
    EXPECT_EQ(NegativesOf(got_alone, b), ranking(deviation)) << "pair " << b;
    if (ranking(criterion)[0] != ranking(current)[0]) variance_mattered = true;
    if (ranking(criterion) != ranking(unramped)) ramp_mattered = true;
  }
  // Otherwise the case would not tell the rule from the current score alone, or from one that
  // ignores the warmup ramp.
  EXPECT_TRUE(variance_mattered);
  EXPECT_TRUE(ramp_mattered);
}

// With S1 + S2 = V the extension covers the whole pool, and with a tiny τ the draws of q ∝
// exp(s/τ) are the S1 best-scored candidates: the new memory is the pool's top S1, S1 distinct
// indices. EndEpoch keeps the indices (they now point into the next pool).
TEST(srns_test, MemoryUpdateKeepsS1DistinctIndices) {
  constexpr int kItems = 20, kUsers = 3;
  const std::vector<std::vector<int32_t>> train = {{0, 3}, {1}, {2, 4, 6}};
  const auto data = DatasetFromRows(kItems, train, {{5}, {7}, {8}});
  SamplerFixture sharp, soft;
  ASSERT_PETSC_OK(sharp.SetUp(PETSC_COMM_SELF, data, "srns",
                              "-sampler_srns_pool_size 9 -sampler_srns_s1 3 "
                              "-sampler_srns_s2_ratio 2 -sampler_srns_tau 1e-3",
                              kItems));
  ASSERT_PETSC_OK(soft.SetUp(PETSC_COMM_SELF, data, "srns",
                             "-sampler_srns_pool_size 9 -sampler_srns_s1 3 "
                             "-sampler_srns_s2_ratio 1 -sampler_srns_tau 10",
                             kItems));
  std::vector<Scores> w(kUsers, Scores(kItems));
  for (int u = 0; u < kUsers; ++u)
    for (int i = 0; i < kItems; ++i)
      w[u][i] = 0.1 * ((i * (7 + 2 * u)) % kItems);  // distinct: 7, 9, 11 are prime to 20
  for (SamplerFixture* fx : {&sharp, &soft}) {
    OneHotItems(fx, kItems);
    for (int u = 0; u < kUsers; ++u) fx->SetUserRow(u, w[u]);
  }
  const std::vector<std::pair<int64_t, int32_t>> pairs = {{0, 0}, {1, 1}, {2, 2}, {0, 3}, {2, 6}};
  const recns::Batch batch = sharp.MakeBatch(data, pairs);
  auto expect_distinct = [](const State& state, size_t s1) {
    EXPECT_EQ(state.memory.size(), s1);
    EXPECT_EQ(std::set<int32_t>(state.memory.begin(), state.memory.end()).size(), s1);
    for (int32_t index : state.memory) {
      EXPECT_GE(index, 0);
      EXPECT_LT(index, (int32_t)state.pool.size());
    }
  };
  auto expect_top = [&](const State& state, int u) {
    std::vector<double> pool_scores, kept;
    for (int32_t item : state.pool) pool_scores.push_back(w[u][item]);
    for (int32_t index : state.memory) kept.push_back(w[u][state.pool[index]]);
    std::sort(pool_scores.rbegin(), pool_scores.rend());
    std::sort(kept.rbegin(), kept.rend());
    EXPECT_EQ(kept, std::vector<double>(pool_scores.begin(), pool_scores.begin() + 3))
        << "user " << u;
  };
  Negatives negatives;
  for (uint32_t epoch = 0; epoch < 3; ++epoch) {
    for (int step = 0; step < 2; ++step) {
      ASSERT_PETSC_OK(sharp.Sample(batch, epoch, &negatives));
      ASSERT_PETSC_OK(soft.Sample(batch, epoch, &negatives));
      for (int u = 0; u < kUsers; ++u) {
        const State state = View(sharp, u);
        expect_distinct(state, 3);
        expect_top(state, u);
        expect_distinct(View(soft, u), 3);
      }
    }
    std::vector<State> before;
    for (int u = 0; u < kUsers; ++u) before.push_back(View(sharp, u));
    ASSERT_PETSC_OK(sharp.sampler->EndEpoch(Context(sharp, epoch)));
    ASSERT_PETSC_OK(soft.sampler->EndEpoch(Context(soft, epoch)));
    bool pool_changed = false;
    for (int u = 0; u < kUsers; ++u) {
      const State after = View(sharp, u);
      EXPECT_EQ(after.memory, before[u].memory) << "user " << u;
      if (after.pool != before[u].pool) pool_changed = true;
    }
    EXPECT_TRUE(pool_changed);
  }
}

TEST(srns_test, BadOptionsAreInputErrorsNamingTheOption) {
  const auto data = DatasetFromRows(6, {{0}, {1}}, {{2}, {3}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"-sampler_srns_pool_size 0", "-sampler_srns_pool_size"},
      {"-sampler_srns_s1 0", "-sampler_srns_s1"},
      {"-sampler_srns_s2_ratio -1", "-sampler_srns_s2_ratio"},
      {"-sampler_srns_pool_size 10 -sampler_srns_s1 4 -sampler_srns_s2_ratio 2",
       "-sampler_srns_pool_size"},
      {"-sampler_srns_tau 0", "-sampler_srns_tau"},
      {"-sampler_srns_warmup -1", "-sampler_srns_warmup"},
      {"-sampler_srns_history 0", "-sampler_srns_history"},
  };
  for (const auto& [options, name] : cases) {
    SamplerFixture fx;
    const std::string message =
        recns::test::InputError(fx.SetUp(PETSC_COMM_SELF, data, "srns", options, 2));
    EXPECT_NE(message.find(name), std::string::npos) << options << ": " << message;
  }
}

}  // namespace
