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
  /// The high half of word * n picks the column; the low half, uniform too, is the coin.
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
