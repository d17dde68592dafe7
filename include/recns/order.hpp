// Node order for locality (ARCHITECTURE decision 2): renumbers a dataset's users and items so
// that nodes sharing interactions get nearby ids.
//
// The propagation product gathers one 8·d-byte input row per nonzero, so its speed is decided by
// where those rows come from: with ids that carry no locality, almost every gather misses the
// core's cache, and a rank of P ghosts nearly every row the other ranks own. Both are properties
// of the numbering, which the Layout splits into contiguous blocks; this order makes them small.
#pragma once

#include <petscsys.h>

#include "recns/dataset.hpp"

namespace recns {

/// Not collective (PETSC_COMM_SELF). `ordered` = `data` with users and items renumbered by a
/// recursive graph partition of the training graph (PETSc MatPartitioning, PTScotch) into
/// 2^k parts of about `part_nodes` nodes: users sorted by (part, old id), items likewise. Part
/// numbers are nested (parts 2j and 2j+1 come from one bisection), so any contiguous split of
/// the ids, such as the Layout's P blocks, cuts few edges. Every split is renumbered alike, and
/// the raw ids follow their rows (when `data` has none, they become the old dense ids), so the
/// result is `data` up to the names of its nodes.
PetscErrorCode OrderForLocality(const Dataset& data, int64_t part_nodes, Dataset* ordered);

}  // namespace recns
