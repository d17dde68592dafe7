// RecNS (ALGORITHMS §6) on a hand-made problem with MF rows set by the test: the positive-assisted
// probabilities of both weightings against their empirical frequencies, the hardest candidate
// without positive assistance, the exposed negative with β > 1 and for a user without exposures,
// the merge weights of both forms and the L2 vectors; then every choice replayed from the pair's
// stream for every variant, and the options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "../sampler_fixture.hpp"
#include "recns/embedding.hpp"
#include "recns/loss.hpp"
#include "recns/region.hpp"

namespace {

using recns::Dataset;
using recns::test::DatasetFromRows;
using recns::test::SamplerFixture;

// Items 0..11. User 0 trains on 0 and was shown 2, 3, 5, 6: its intermediate region (walks of
// length 3) is user 1's other items {1, 2, 3, 4}. User 1 trains on 0..4 and was shown 6..11 (more
// than M = 4); user 2 trains on 5..7 and was shown nothing. No other user shares an item with
// user 1 or user 2 besides user 0's item 0, so their regions are empty: uniform candidates.
const Dataset kData = DatasetFromRows(12, {{0}, {0, 1, 2, 3, 4}, {5, 6, 7}}, {{8}, {5}, {9}},
                                      {{2, 3, 5, 6}, {6, 7, 8, 9, 10, 11}, {}});
// Pair indices (positions in the train CSR): (0, 0) is 0, (1, 2) is 3, (2, 6) is 7.
const std::vector<std::vector<double>> kUsers = {{1, 0}, {0.5, -1}, {-1, 0.5}};
// s_uc for user 0 is the first column, s_vc for its positive (item 0 = (0, 1)) the second.
const std::vector<std::vector<double>> kItems = {
    {0, 1},   {2, -1},      {1, 0.5},    {-1, 2},     {-2, -2},    {1.5, 0},
    {0.2, 0.3}, {0.7, -0.4}, {-0.3, 0.9}, {0.4, 0.4}, {-0.8, 0.1}, {0.6, 1.2}};

double Score(const std::vector<double>& a, const std::vector<double>& b) { return recns::Dot(a.data(), b.data(), 2); }

void MakeProblem(SamplerFixture* fixture, const std::string& options) {
  ASSERT_PETSC_OK(fixture->SetUp(PETSC_COMM_SELF, kData, "recns",
                                 "-sampler_recns_candidates 4 " + options, 2));
  for (int64_t u = 0; u < 3; ++u) fixture->SetUserRow(u, kUsers[u]);
  for (int32_t i = 0; i < 12; ++i) fixture->SetItemRow(i, kItems[i]);
}

// RecNS-O with a fixed α: user 0's candidates are its whole region {1, 2, 3, 4}, so
// p(c) ∝ w(0.3 s_uc + 0.7 s_vc) with the arguments -0.1, 0.65, 1.1, -2 for items 1..4; the
// frequencies of 15 × 2000 draws pass a chi-square test (3 degrees of freedom, p = 0.001).
TEST(recns_test, PositiveAssistedFrequencies) {
  const double argument[4] = {0.3 * 2 - 0.7, 0.3 * 1 + 0.7 * 0.5, 0.3 * -1 + 0.7 * 2, 0.3 * -2 + 0.7 * -2};
  for (const char* weighting : {"sigmoid", "exp_sigmoid"}) {
    SCOPED_TRACE(weighting);
    SamplerFixture fixture;
    MakeProblem(&fixture, std::string("-sampler_recns_alpha 0.3 -sampler_recns_exposure_augmented false "
                                "-sampler_recns_weighting ") + weighting);
    double weight[4], total = 0;
    for (int c = 0; c < 4; ++c) {
      weight[c] = recns::Sigmoid(argument[c]);
      if (std::string(weighting) == "exp_sigmoid") weight[c] = std::exp(weight[c]);
      total += weight[c];
    }
    const recns::Batch batch = fixture.MakeBatch(kData, {{0, 0}});
    std::map<int32_t, int> seen;
    const int epochs = 2000;
    for (uint32_t epoch = 0; epoch < epochs; ++epoch) {
      recns::Negatives negatives;
      ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
      ASSERT_EQ(negatives.item.size(), 15u);  // RecNS's default k, plain items without e-a
      EXPECT_FALSE(negatives.HasL2Vectors());
      for (int32_t item : negatives.item) ++seen[item];
    }
    double chi2 = 0;
    for (int c = 0; c < 4; ++c) {
      const double expected = 15.0 * epochs * weight[c] / total;
      chi2 += std::pow(seen[c + 1] - expected, 2) / expected;
    }
    EXPECT_EQ(seen.size(), 4u);
    EXPECT_LT(chi2, 16.27);
  }
}

// Without positive assistance every negative is the hardest candidate, the earlier one on ties.
TEST(recns_test, WithoutPositiveAssistanceTheHardestCandidate) {
  SamplerFixture fixture;
  MakeProblem(&fixture, "-sampler_recns_positive_assisted false -sampler_recns_exposure_augmented false "
                  "-sampler_num_negatives 3");
  const recns::Batch batch = fixture.MakeBatch(kData, {{0, 0}});
  recns::Negatives negatives;
  ASSERT_PETSC_OK(fixture.Sample(batch, 0, &negatives));
  EXPECT_EQ(negatives.item, std::vector<int32_t>(3, 1));  // s_u1 = 2 is the highest
  // Item 3 scores 2 as well: the one drawn first of the two.
  fixture.SetItemRow(3, {2, 0});
  recns::ItemRegion region;
  ASSERT_PETSC_OK(region.Build(fixture.graph, 3, recns::RegionKind::kIntermediate));
  for (uint32_t epoch = 0; epoch < 20; ++epoch) {
    ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
    recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, 0);
    std::vector<int32_t> candidates;
    region.Draw(0, 4, &stream, &candidates);
    const int32_t first = *std::find_if(candidates.begin(), candidates.end(),
                                        [](int32_t c) { return c == 1 || c == 3; });
    EXPECT_EQ(negatives.item, std::vector<int32_t>(3, first)) << "epoch " << epoch;
  }
}

/// The exposed term (the last) of each of a negative's terms, checking the merge's weights.
std::vector<int32_t> ExposedItems(const recns::Negatives& negatives, bool nested) {
  const int k = negatives.k;
  std::vector<int32_t> exposed;
  for (int t = 0; t < k; ++t) {
    const int64_t first = negatives.offset[t], terms = negatives.offset[t + 1] - first;
    EXPECT_EQ(terms, nested ? 3 : 2);
    EXPECT_DOUBLE_EQ(negatives.weight[first], 1 - 1.0 / k);
    if (nested) {
      EXPECT_EQ(negatives.item[first + 1], negatives.item[negatives.offset[0]]);  // n_0
      EXPECT_DOUBLE_EQ(negatives.weight[first + 1], (1 - 1.0 / k) / k);
      EXPECT_DOUBLE_EQ(negatives.weight[first + 2], 1.0 / (k * k));
    } else {
      EXPECT_DOUBLE_EQ(negatives.weight[first + 1], 1.0 / k);
    }
    exposed.push_back(negatives.item[first + terms - 1]);
    // L2: the positive-assisted item alone, weight 1; never the exposed item.
    EXPECT_EQ(negatives.l2_offset[t + 1] - negatives.l2_offset[t], 1);
    EXPECT_EQ(negatives.l2_item[negatives.l2_offset[t]], negatives.item[first]);
    EXPECT_EQ(negatives.l2_weight[negatives.l2_offset[t]], 1.0);
  }
  return exposed;
}

// RecNS-W by hand. User 0 has |E_u| = M = 4 exposures, so Mu = {2, 3, 5, 6} whatever the order,
// and C_u = {1, 2, 3, 4}: two candidates are exposed, β_2 = β_3 = 2 and β_5 = β_6 = 1. The
// scores β s_ue are 2·1, 2·(-1), 1.5, 0.2: x = 2, where the plain argmax would be 5 (and β lowers
// item 3's negative score). User 2 has no exposures: Mu = C_u, every β = M, and x is the hardest
// candidate, the same item as the positive-assisted negatives without positive assistance.
TEST(recns_test, ExposedNegativeByHand) {
  for (bool nested : {false, true}) {
    SCOPED_TRACE(nested ? "nested" : "paper");
    SamplerFixture fixture;
    MakeProblem(&fixture, std::string("-sampler_num_negatives 3 -sampler_recns_merge ") +
                        (nested ? "nested" : "paper"));
    SamplerFixture hardest;
    MakeProblem(&hardest, std::string("-sampler_num_negatives 3 -sampler_recns_positive_assisted false "
                                "-sampler_recns_merge ") + (nested ? "nested" : "paper"));
    for (uint32_t epoch = 0; epoch < 30; ++epoch) {
      recns::Negatives negatives;
      ASSERT_PETSC_OK(fixture.Sample(fixture.MakeBatch(kData, {{0, 0}}), epoch, &negatives));
      ASSERT_TRUE(negatives.HasL2Vectors());
      EXPECT_EQ(ExposedItems(negatives, nested), std::vector<int32_t>(3, 2)) << "epoch " << epoch;
      ASSERT_PETSC_OK(hardest.Sample(hardest.MakeBatch(kData, {{2, 6}}), epoch, &negatives));
      const std::vector<int32_t> exposed = ExposedItems(negatives, nested);
      for (int t = 0; t < 3; ++t) EXPECT_EQ(exposed[t], negatives.item[negatives.offset[t]]);
    }
  }
}

struct Variant {
  std::string options;
  double alpha;  // < 0: U(0,1)
  bool exp_weighting, assisted, augmented, nested;
  recns::RegionKind region;
};

/// The negatives of one pair, computed from the pair's stream as the sampler's comment
/// specifies: C_u, α, the k draws, Mu, in that order.
recns::Negatives Replay(const SamplerFixture& fixture, const recns::ItemRegion& region,
                        const Variant& v, int64_t user, int32_t positive, int64_t pair,
                        uint32_t epoch, int M, int k) {
  recns::RandomStream stream(7, recns::RngPurpose::kNegative, epoch, (uint64_t)pair);
  std::vector<int32_t> candidates;
  if (region.Size(user) >= M)
    region.Draw(user, M, &stream, &candidates);
  else
    for (int c = 0; c < M; ++c) candidates.push_back(recns::DrawUniformNegative(fixture.graph, (int32_t)user, &stream));
  std::vector<double> alpha(M, v.alpha), draw(k);
  if (v.assisted) {
    if (v.alpha < 0)
      for (int c = 0; c < M; ++c) alpha[c] = stream.NextUniform();
    for (int t = 0; t < k; ++t) draw[t] = stream.NextUniform();
  }
  std::vector<int32_t> chosen(k);
  if (v.assisted) {
    std::vector<double> cumulative;
    double total = 0;
    for (int c = 0; c < M; ++c) {
      const double w = recns::Sigmoid(alpha[c] * Score(kUsers[user], kItems[candidates[c]]) +
                                      (1 - alpha[c]) * Score(kItems[positive], kItems[candidates[c]]));
      total += v.exp_weighting ? std::exp(w) : w;
      cumulative.push_back(total);
    }
    for (int t = 0; t < k; ++t) {
      int c = 0;
      while (c < M - 1 && !(cumulative[c] > draw[t] * total)) ++c;
      chosen[t] = candidates[c];
    }
  } else {
    int best = 0;
    for (int c = 1; c < M; ++c)
      if (Score(kUsers[user], kItems[candidates[c]]) > Score(kUsers[user], kItems[candidates[best]])) best = c;
    std::fill(chosen.begin(), chosen.end(), candidates[best]);
  }
  recns::Negatives negatives;
  negatives.Reset(k);
  if (!v.augmented) {
    for (int t = 0; t < k; ++t) negatives.AddItem(chosen[t]);
    return negatives;
  }
  const std::vector<int32_t>& exposures = kData.exposure.indices;
  const std::vector<int32_t> exposed(exposures.begin() + kData.exposure.indptr[user],
                                     exposures.begin() + kData.exposure.indptr[user + 1]);
  std::vector<int32_t> mu;
  if ((int)exposed.size() >= M) {
    std::vector<int32_t> index;
    recns::DrawDistinctBelow((uint32_t)exposed.size(), (uint32_t)M, &stream, &index);
    for (int32_t i : index) mu.push_back(exposed[i]);
  } else if (!exposed.empty()) {
    for (int e = 0; e < M; ++e) mu.push_back(exposed[stream.NextBelow((uint32_t)exposed.size())]);
  } else {
    mu = candidates;
  }
  auto contains = [](const std::vector<int32_t>& set, int32_t x) { return std::count(set.begin(), set.end(), x) > 0; };
  int overlap = 0;
  for (int32_t c : candidates) overlap += contains(mu, c) ? 1 : 0;
  int32_t x = -1;
  double best = 0;
  for (int32_t e : mu) {
    // σ is increasing: argmax σ(β s) is argmax β s, compared without σ's rounding (items 6 and 9
    // score -0.2 for user 1, one rounding apart, and σ maps both to one value).
    const double score = (contains(candidates, e) ? overlap : 1) * Score(kUsers[user], kItems[e]);
    if (x < 0 || score > best) x = e, best = score;
  }
  for (int t = 0; t < k; ++t) {
    negatives.AddTerm(chosen[t], recns::kFinalLayer, 1 - 1.0 / k);
    if (v.nested) {
      negatives.AddTerm(chosen[0], recns::kFinalLayer, (1 - 1.0 / k) / k);
      negatives.AddTerm(x, recns::kFinalLayer, 1.0 / (k * k));
    } else {
      negatives.AddTerm(x, recns::kFinalLayer, 1.0 / k);
    }
    negatives.EndNegative();
    negatives.AddL2Term(chosen[t], 1.0);
    negatives.EndL2();
  }
  return negatives;
}

// Every variant's choices for all three users over many epochs, from a replay of the pair's
// stream: the same uniform draws, the rules computed anew.
TEST(recns_test, ChoicesReplayedFromThePairStream) {
  const std::vector<Variant> variants = {
      {"", -1, false, true, true, false, recns::RegionKind::kIntermediate},
      {"-sampler_recns_weighting exp_sigmoid -sampler_recns_merge nested", -1, true, true, true, true,
       recns::RegionKind::kIntermediate},
      {"-sampler_recns_alpha 0.8", 0.8, false, true, true, false, recns::RegionKind::kIntermediate},
      {"-sampler_recns_positive_assisted false", -1, false, false, true, false, recns::RegionKind::kIntermediate},
      {"-sampler_recns_exposure_augmented false", -1, false, true, false, false, recns::RegionKind::kIntermediate},
      {"-sampler_recns_region global", -1, false, true, true, false, recns::RegionKind::kGlobal},
      {"-sampler_recns_region distant", -1, false, true, true, false, recns::RegionKind::kDistant}};
  const int M = 4, k = 5;
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.options);
    SamplerFixture fixture;
    MakeProblem(&fixture, v.options + " -sampler_num_negatives 5");
    recns::ItemRegion region;
    ASSERT_PETSC_OK(region.Build(fixture.graph, 3, v.region));
    const std::vector<std::pair<int64_t, int32_t>> pairs = {{0, 0}, {1, 2}, {2, 6}};
    const recns::Batch batch = fixture.MakeBatch(kData, pairs);
    for (uint32_t epoch = 0; epoch < 40; ++epoch) {
      recns::Negatives negatives;
      ASSERT_PETSC_OK(fixture.Sample(batch, epoch, &negatives));
      size_t term = 0, l2 = 0;
      for (size_t b = 0; b < pairs.size(); ++b) {
        const recns::Negatives expected = Replay(fixture, region, v, pairs[b].first, pairs[b].second,
                                                 batch.pair[b], epoch, M, k);
        for (int t = 0; t < k; ++t) {
          const int64_t slot = (int64_t)b * k + t;
          ASSERT_EQ(negatives.offset[slot + 1] - negatives.offset[slot], expected.offset[t + 1] - expected.offset[t]);
          for (int64_t e = expected.offset[t]; e < expected.offset[t + 1]; ++e, ++term) {
            EXPECT_EQ(negatives.item[term], expected.item[e]) << "epoch " << epoch << " pair " << b << " slot " << t;
            EXPECT_DOUBLE_EQ(negatives.weight[term], expected.weight[e]);
          }
        }
        EXPECT_EQ(negatives.HasL2Vectors(), expected.HasL2Vectors());
        for (size_t e = 0; e < expected.l2_item.size(); ++e, ++l2) {
          EXPECT_EQ(negatives.l2_item[l2], expected.l2_item[e]);
          EXPECT_EQ(negatives.l2_weight[l2], expected.l2_weight[e]);
        }
      }
      EXPECT_EQ(term, negatives.item.size());
    }
  }
}

TEST(recns_test, OptionsAndDescription) {
  SamplerFixture fixture;
  ASSERT_PETSC_OK(fixture.SetUp(PETSC_COMM_SELF, kData, "recns", "", 2));
  EXPECT_EQ(fixture.sampler->NegativesPerPair(), 15);
  EXPECT_TRUE(fixture.sampler->ScoresItems());
  EXPECT_EQ(fixture.sampler->Describe(),
            "recns (M=20, intermediate region, khop 3, alpha U(0,1), sigmoid weighting, paper merge)");
  SamplerFixture variant;
  ASSERT_PETSC_OK(variant.SetUp(PETSC_COMM_SELF, kData, "recns",
                                "-sampler_num_negatives 4 -sampler_recns_positive_assisted false "
                                "-sampler_recns_exposure_augmented false -sampler_recns_khop 5 "
                                "-sampler_recns_region distant",
                                2));
  EXPECT_EQ(variant.sampler->NegativesPerPair(), 4);
  EXPECT_EQ(variant.sampler->Describe(),
            "recns (M=20, distant region, khop 5, hardest candidate (w/o p-a), no exposed negative (w/o e-a))");
  SamplerFixture global;
  ASSERT_PETSC_OK(global.SetUp(PETSC_COMM_SELF, kData, "recns", "-sampler_recns_region global", 2));
  EXPECT_EQ(global.sampler->Describe(),
            "recns (M=20, global region, alpha U(0,1), sigmoid weighting, paper merge)");
  for (const char* bad : {"-sampler_recns_candidates 0", "-sampler_recns_khop 4", "-sampler_recns_khop 1",
                          "-sampler_recns_alpha 1.5"}) {
    SamplerFixture broken;
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(recns::test::InputError(broken.SetUp(PETSC_COMM_SELF, kData, "recns", bad, 2)).find(option),
              std::string::npos)
        << bad;
  }
}

}  // namespace
