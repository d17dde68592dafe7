// Seeded bijective permutation for epoch orders (ARCHITECTURE decision 5).
#include "recns/rng.hpp"

namespace recns {

RandomPermutation::RandomPermutation(uint64_t seed, RngPurpose purpose, uint32_t epoch, uint64_t n)
    : seed_(seed), purpose_(purpose), epoch_(epoch), n_(n), half_bits_(1) {
  while ((1ull << (2 * half_bits_)) < n_) ++half_bits_;
  half_mask_ = (1ull << half_bits_) - 1;
}

uint64_t RandomPermutation::Round(uint64_t half, int round) const {
  const RngBlock b = RandomBlock(seed_, purpose_, epoch_, half, static_cast<uint32_t>(round));
  return ((static_cast<uint64_t>(b.v[0]) << 32) | b.v[1]) & half_mask_;
}

uint64_t RandomPermutation::operator()(uint64_t position) const {
  uint64_t x = position;
  // A Feistel network is a bijection on [0, 4^half_bits); walking the cycle from an in-range
  // start until it returns in range restricts it to a bijection on [0, n).
  do {
    uint64_t left = x >> half_bits_, right = x & half_mask_;
    for (int round = 0; round < 4; ++round) {
      const uint64_t next = left ^ Round(right, round);
      left = right;
      right = next;
    }
    x = (left << half_bits_) | right;
  } while (x >= n_);
  return x;
}

}  // namespace recns
