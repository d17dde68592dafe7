// Timing helpers of the micro-benchmarks (recns_bench): repeated timed runs on some ranks of a
// communicator while the others wait without spinning, and the machine's last-level cache size.
#pragma once

#include <petscsys.h>

#include <functional>

namespace recns {

/// Collective on comm. Runs `work` `repeat` times on the ranks below `active` (the others wait in
/// a barrier that sleeps, leaving the cores to the working ranks); a run's time is that of its
/// slowest rank. Returns the best and the median run.
PetscErrorCode TimeOnRanks(MPI_Comm comm, int active, int repeat,
                           const std::function<PetscErrorCode()>& work, double* best,
                           double* median);

/// Not collective. Bytes of the largest (last-level) cache of CPU 0, from sysfs; 0 when unknown.
double LastLevelCacheBytes();

}  // namespace recns
