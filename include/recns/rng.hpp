// Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
//
// Every random number recns draws is a pure function of (seed, purpose, epoch, index, draw)
// (ARCHITECTURE decision 4): no engine state, nothing per rank, so any number of ranks draws the
// same values and a checkpoint needs only the counters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace recns {

/// What a random number is for; part of the counter so different uses never share a stream.
enum class RngPurpose : uint32_t {
  kInitUser = 1,
  kInitItem = 2,
  kEpochOrder = 3,
  kNegative = 4,
  kSplit = 5,
  kSynthetic = 6,
  kSampler = 7,
  kEvalSample = 8,
  kModelWeight = 9,  ///< dense model weights (NGCF): index = the block, draw = the entry
  kNeighbour = 10,   ///< PinSage's neighbourhoods: index = step, hop and node key
};

/// Four 32-bit words produced from one counter.
struct RngBlock {
  uint32_t v[4];
};

/// Philox-4x32 with 10 rounds: `counter` words (c0..c3) under the 64-bit key `seed`.
inline RngBlock Philox4x32(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = c3;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = 0xD2511F53ull * x0, p1 = 0xCD9E8D57ull * x2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    x0 = hi1 ^ x1 ^ k0;
    x1 = lo1;
    x2 = hi0 ^ x3 ^ k1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{x0, x1, x2, x3}};
}

/// The random block for (purpose, epoch, 64-bit index, draw) under `seed`.
inline RngBlock RandomBlock(uint64_t seed, RngPurpose purpose, uint32_t epoch, uint64_t index,
                            uint32_t draw) {
  // The purpose takes the top byte of the high index word: indices stay below 2^56.
  const uint32_t index_hi = static_cast<uint32_t>(index >> 32) | (static_cast<uint32_t>(purpose) << 24);
  return Philox4x32(seed, draw, static_cast<uint32_t>(index), index_hi, epoch);
}

/// Uniform double in [0, 1) with 53 random bits, from two words of a block.
inline double UniformFromWords(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/// Uniform integer in [0, n) from one 32-bit word (Lemire's multiply-shift; n < 2^32). The bias
/// is at most n / 2^32, far below anything measurable at the catalogue sizes we train.
inline uint32_t UniformBelow(uint32_t word, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * n) >> 32);
}

/// Standard normal from one block (Box-Muller on its two uniform doubles).
inline double NormalFromBlock(const RngBlock& b) {
  const double u1 = 1.0 - UniformFromWords(b.v[0], b.v[1]);  // (0, 1]
  const double u2 = UniformFromWords(b.v[2], b.v[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// The words of one counter stream (seed, purpose, epoch, index), in order: word w is word w % 4
/// of the block with draw number w / 4. Samplers read a pair's stream through it, so every choice
/// depends only on the pair, never on the rank that makes it.
class RandomStream {
 public:
  RandomStream(uint64_t seed, RngPurpose purpose, uint32_t epoch, uint64_t index)
      : seed_(seed), purpose_(purpose), epoch_(epoch), index_(index) {}
  uint32_t NextWord() {
    if (used_ == 4) {
      block_ = RandomBlock(seed_, purpose_, epoch_, index_, next_draw_++);
      used_ = 0;
    }
    return block_.v[used_++];
  }
  /// Uniform integer in [0, n).
  uint32_t NextBelow(uint32_t n) { return UniformBelow(NextWord(), n); }
  /// Uniform double in [0, 1).
  double NextUniform() {
    const uint32_t hi = NextWord();
    return UniformFromWords(hi, NextWord());
  }

 private:
  uint64_t seed_;
  RngPurpose purpose_;
  uint32_t epoch_;
  uint64_t index_;
  uint32_t next_draw_ = 0;
  int used_ = 4;
  RngBlock block_{};
};

/// A set of drawn values: a short list while few, a hash set beyond.
class DrawnSet {
 public:
  /// True when `value` was not drawn before (and now is).
  bool Insert(uint32_t value) {
    if (many_.empty()) {
      if (std::find(few_.begin(), few_.end(), value) != few_.end()) return false;
      few_.push_back(value);
      if (few_.size() > 32) many_.insert(few_.begin(), few_.end());
      return true;
    }
    return many_.insert(value).second;
  }

 private:
  std::vector<uint32_t> few_;
  std::unordered_set<uint32_t> many_;
};

/// Appends `m` distinct integers drawn uniformly without replacement from [0, n) (m <= n < 2^32)
/// to `out`, in the order Floyd's algorithm takes them: exactly m draws of `stream` whatever n
/// is.
template <class Out>
inline void DrawDistinctBelow(uint32_t n, uint32_t m, RandomStream* stream, Out* out) {
  DrawnSet drawn;
  for (uint32_t j = n - m; j < n; ++j) {
    const uint32_t t = stream->NextBelow(j + 1);
    const uint32_t pick = drawn.Insert(t) ? t : j;
    if (pick == j) drawn.Insert(j);
    out->push_back(static_cast<typename Out::value_type>(pick));
  }
}

/// A seeded bijection of [0, n) (a Feistel network on the next power of four, with cycle walking
/// back into range). Used for epoch orders: element `position` of the permuted list.
class RandomPermutation {
 public:
  RandomPermutation(uint64_t seed, RngPurpose purpose, uint32_t epoch, uint64_t n);
  uint64_t operator()(uint64_t position) const;
  uint64_t Size() const { return n_; }

 private:
  uint64_t Round(uint64_t half, int round) const;
  uint64_t seed_;
  RngPurpose purpose_;
  uint32_t epoch_;
  uint64_t n_;
  int half_bits_;
  uint64_t half_mask_;
};

}  // namespace recns
