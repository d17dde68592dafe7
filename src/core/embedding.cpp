// Row storage for the propagation's gathered inputs.
#include "recns/embedding.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

namespace recns {

void AllocateRows(RowMatrix* rows, Eigen::Index count, Eigen::Index width) {
  // glibc raises its mmap threshold each time a large block is freed, after which large blocks
  // come from reused heap pages the advice below cannot change; a fixed threshold keeps every
  // block of 4 MiB or more in a fresh mapping, whose pages are only made when first touched.
  static const bool fixed_threshold = mallopt(M_MMAP_THRESHOLD, 4 << 20) == 1;
  (void)fixed_threshold;
  rows->resize(count, width);
  // Huge pages cut the TLB misses of gathering rows at random; the advice is a hint, and where
  // the kernel does not take it the rows are simply in small pages.
  constexpr uintptr_t kHugePage = 2u << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(rows->data()) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(rows->data() + rows->size()) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  rows->setZero();
}

}  // namespace recns
