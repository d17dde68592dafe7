// Walker's alias table: O(1) draws from a fixed discrete distribution over a list of items
// (the synthetic generator's degrees, PNS's popularity^beta).
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

namespace recns {

class AliasTable {
 public:
  AliasTable() = default;
  /// `weights` (non-negative, not all zero) over `items`, in the same order.
  AliasTable(const std::vector<int32_t>& items, const std::vector<double>& weights)
      : columns_(items.size()) {
    const size_t n = items.size();
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<double> scaled(n);
    std::vector<size_t> small, large;
    for (size_t k = 0; k < n; ++k) {
      scaled[k] = weights[k] * static_cast<double>(n) / total;
      // Until paired, a column keeps its own item (whatever is left over has probability 1).
      columns_[k] = {UINT32_MAX, items[k], items[k]};
      (scaled[k] < 1.0 ? small : large).push_back(k);
    }
    while (!small.empty() && !large.empty()) {
      const size_t s = small.back(), l = large.back();
      small.pop_back();
      columns_[s].threshold = static_cast<uint32_t>(scaled[s] * 4294967296.0);
      columns_[s].alias = items[l];
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
  }
  bool Empty() const { return columns_.empty(); }
  /// Draws from two independent uniform words: the high half of column_word * n picks the
  /// column, and coin_word is the coin. Every column thus gets all 2^32 coin values, so an item
  /// is drawn with its weight's probability up to 2^-32 of a column, whatever n is.
  int32_t Draw(uint32_t column_word, uint32_t coin_word) const {
    const Column& column = columns_[(static_cast<uint64_t>(column_word) * columns_.size()) >> 32];
    return coin_word < column.threshold ? column.item : column.alias;
  }
  /// Draws from one word: the high half of word * n picks the column, the low half is the coin.
  /// Within a column the low half takes only about 2^32 / n values, spaced n apart, so an item
  /// of weight w times the mean is drawn with a relative error of up to about n / (w * 2^32):
  /// 1.55 times too often for w = 3e-4 in item 0's column of n = 1,000,003. Kept for the
  /// synthetic generator, whose datasets are defined by it; samplers use the two-word draw.
  int32_t Draw(uint32_t word) const {
    const uint64_t scaled = static_cast<uint64_t>(word) * columns_.size();
    const Column& column = columns_[scaled >> 32];
    return static_cast<uint32_t>(scaled) < column.threshold ? column.item : column.alias;
  }

 private:
  struct Column {        // one cache line access per draw
    uint32_t threshold;  // P(keep item) scaled by 2^32
    int32_t item, alias;
  };
  std::vector<Column> columns_;
};

}  // namespace recns
