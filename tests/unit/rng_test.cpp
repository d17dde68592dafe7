// The counter-based generator: Philox-4x32-10 against the published known-answer vectors of its
// authors (Random123, kat_vectors), the epoch permutation as a bijection, and distinct draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "recns/rng.hpp"

namespace {

void ExpectBlock(const recns::RngBlock& block, std::vector<uint32_t> expected) {
  for (int w = 0; w < 4; ++w) EXPECT_EQ(block.v[w], expected[w]) << "word " << w;
}

TEST(rng_test, PhiloxKnownAnswers) {
  ExpectBlock(recns::Philox4x32(0, 0, 0, 0, 0), {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  ExpectBlock(recns::Philox4x32(0xffffffffffffffffull, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu),
              {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  // Key words (k0, k1) = (0xa4093822, 0x299f31d0): the seed holds k1 in its high half.
  ExpectBlock(recns::Philox4x32(0x299f31d0a4093822ull, 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u),
              {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST(rng_test, PermutationIsABijection) {
  for (uint64_t n : {1ull, 2ull, 3ull, 17ull, 64ull, 1000ull, 4097ull}) {
    const recns::RandomPermutation order(42, recns::RngPurpose::kEpochOrder, 3, n);
    std::vector<int> seen(n, 0);
    for (uint64_t p = 0; p < n; ++p) {
      const uint64_t x = order(p);
      ASSERT_LT(x, n);
      ++seen[x];
    }
    for (uint64_t x = 0; x < n; ++x) EXPECT_EQ(seen[x], 1) << "n = " << n << ", value " << x;
  }
}

TEST(rng_test, PermutationDependsOnSeedAndEpoch) {
  const uint64_t n = 1000;
  const recns::RandomPermutation a(1, recns::RngPurpose::kEpochOrder, 0, n);
  const recns::RandomPermutation b(1, recns::RngPurpose::kEpochOrder, 1, n);
  const recns::RandomPermutation c(2, recns::RngPurpose::kEpochOrder, 0, n);
  int same_ab = 0, same_ac = 0, fixed = 0;
  for (uint64_t p = 0; p < n; ++p) {
    same_ab += a(p) == b(p);
    same_ac += a(p) == c(p);
    fixed += a(p) == p;
  }
  // Independent random permutations agree in about one position; allow a wide margin.
  EXPECT_LT(same_ab, 10);
  EXPECT_LT(same_ac, 10);
  EXPECT_LT(fixed, 10);
}

TEST(rng_test, UniformBelowCoversTheRangeEvenly) {
  const uint32_t n = 7;
  std::vector<int> counts(n, 0);
  const int draws = 70000;
  for (int d = 0; d < draws; ++d)
    ++counts[recns::UniformBelow(recns::RandomBlock(5, recns::RngPurpose::kNegative, 0, d, 0).v[0], n)];
  for (uint32_t k = 0; k < n; ++k) EXPECT_NEAR(counts[k], draws / n, 5 * std::sqrt(draws / n)) << k;
}

// Floyd's draw: m distinct values below n in exactly m stream draws, every value equally likely.
TEST(rng_test, DistinctDrawsAreDistinctAndUniform) {
  const uint32_t n = 10, m = 4;
  std::vector<int> count(n, 0);
  const int trials = 20000;
  for (int trial = 0; trial < trials; ++trial) {
    recns::RandomStream stream(5, recns::RngPurpose::kNegative, 0, (uint64_t)trial);
    std::vector<int32_t> out = {-1};  // appended after what is there
    recns::DrawDistinctBelow(n, m, &stream, &out);
    ASSERT_EQ(out.size(), m + 1);
    EXPECT_EQ(out[0], -1);
    std::vector<int32_t> drawn(out.begin() + 1, out.end());
    std::sort(drawn.begin(), drawn.end());
    EXPECT_EQ(std::unique(drawn.begin(), drawn.end()), drawn.end());
    for (int32_t x : drawn) {
      ASSERT_GE(x, 0);
      ASSERT_LT(x, (int32_t)n);
      ++count[x];
    }
    // m draws of the stream, no more: the next word is the stream's (m+1)-th.
    recns::RandomStream replay(5, recns::RngPurpose::kNegative, 0, (uint64_t)trial);
    for (uint32_t j = 0; j < m; ++j) replay.NextWord();
    EXPECT_EQ(stream.NextWord(), replay.NextWord());
  }
  // Each value is drawn with probability m/n: 8000 expected, standard deviation about 69.
  for (uint32_t x = 0; x < n; ++x) EXPECT_NEAR(count[x], trials * (double)m / n, 350) << x;
  std::vector<int32_t> all;
  recns::RandomStream stream(5, recns::RngPurpose::kNegative, 1, 0);
  recns::DrawDistinctBelow(n, n, &stream, &all);  // m = n: a permutation
  std::sort(all.begin(), all.end());
  for (uint32_t x = 0; x < n; ++x) EXPECT_EQ(all[x], (int32_t)x);
}

}  // namespace
