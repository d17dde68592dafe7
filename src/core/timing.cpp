// Timing helpers of the micro-benchmarks (see include/recns/timing.hpp).
#include "recns/timing.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "recns/error.hpp"

namespace recns {
namespace {

/// A barrier that sleeps between tests instead of spinning.
PetscErrorCode SleepyBarrier(MPI_Comm comm) {
  MPI_Request request;
  int done = 0;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Ibarrier(comm, &request));
  for (;;) {
    PetscCallMPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) break;
    usleep(100);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

PetscErrorCode TimeOnRanks(MPI_Comm comm, int active, int repeat,
                           const std::function<PetscErrorCode()>& work, double* best,
                           double* median) {
  PetscMPIInt rank;
  std::vector<double> times;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int r = 0; r < repeat; ++r) {
    PetscCallMPI(MPI_Barrier(comm));
    double t = MPI_Wtime();
    if (rank < active) PetscCall(work());
    t = MPI_Wtime() - t;
    PetscCall(SleepyBarrier(comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
    times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  const size_t half = times.size() / 2;
  *best = times.front();
  *median = times.size() % 2 ? times[half] : 0.5 * (times[half - 1] + times[half]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double LastLevelCacheBytes() {
  int level = 0;
  double bytes = 0;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    std::ifstream level_file(dir + "/level"), size_file(dir + "/size");
    int l = 0;
    std::string size;  // "96K", "300M"
    if (!(level_file >> l) || !(size_file >> size) || l < level) continue;
    const char unit = size.back();
    const double scale = unit == 'K'   ? 1024.0
                         : unit == 'M' ? 1048576.0
                         : unit == 'G' ? 1073741824.0
                                       : 1.0;
    level = l;
    bytes = std::stod(size) * scale;
  }
  return bytes;
}

}  // namespace recns
