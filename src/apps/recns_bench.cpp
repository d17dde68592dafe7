static char help[] =
    "recns_bench: micro-benchmarks of the machine and of one propagation product; rank 0 prints\n"
    "one JSON line per measurement (scripts/bench.sh collects them).\n"
    "  -bench triad       STREAM triad a = b + s c, GB/s (3 x 8 bytes per element) on rank 0\n"
    "                     alone and on all ranks at once (each rank its own arrays); best of\n"
    "                     -bench_repeat; arrays of -bench_triad_mb each (default 4 x the LLC)\n"
    "  -bench gemm        Eigen scores = U I^T (double, RowMatrix as in the evaluator): U of\n"
    "                     64..1024 rows, I of 4096..16384 rows, d = -bench_dim; GFLOP/s, best\n"
    "                     of -bench_repeat, on rank 0 alone and on all ranks at once\n"
    "  -bench propagate   one recns::Propagator::Apply on -dataset FILE.h5 with d = -bench_dim\n"
    "                     columns: seconds (median and best of -bench_repeat, max over ranks);\n"
    "                     with its halo: ghost rows (off-diagonal columns of the adjacency),\n"
    "                     neighbour ranks and non-zeros per rank (max, mean), and one exchange\n"
    "                     of the d-wide ghost rows alone over a PetscSF (seconds, as above)\n\n";

// 1. Read the options; 2. run the chosen measurement, timing with barriers so a figure covers
// the slowest rank; 3. rank 0 prints the JSON lines.
#include <petscmat.h>
#include <petscsf.h>
#include <petscsys.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "recns/embedding.hpp"
#include "recns/error.hpp"
#include "recns/graph.hpp"
#include "recns/package.hpp"
#include "recns/timing.hpp"

namespace {
using recns::TimeOnRanks;
const char* const kBenches[] = {"triad", "gemm", "propagate"};
using Fields = std::vector<std::pair<std::string, double>>;

PetscErrorCode Emit(const char* bench, const Fields& fields) {
  std::string line = std::string("{\"bench\": \"") + bench + "\"";
  for (const auto& f : fields) line += recns::Format(", \"%s\": %.9g", f.first.c_str(), f.second);
  return PetscPrintf(PETSC_COMM_WORLD, "%s}\n", line.c_str());
}

PetscErrorCode Triad(int ranks, int repeat, double megabytes) {
  const double llc = recns::LastLevelCacheBytes();
  PetscFunctionBeginUser;
  if (megabytes <= 0) {
    megabytes = 4 * std::max(llc, 32.0 * 1048576.0) / 1048576.0;
    if (llc <= 0)
      PetscCall(PetscFPrintf(PETSC_COMM_WORLD, PETSC_STDERR,
                             "recns_bench: warning: the last-level cache size is unknown (sysfs "
                             "gives none under /sys/devices/system/cpu/cpu0/cache), so the triad "
                             "arrays are %.0f MB each; -bench_triad_mb sets them\n",
                             megabytes));
  }
  const size_t n = static_cast<size_t>(megabytes * 1048576.0 / 8);
  std::vector<double> a(n, 0.0), b(n, 1.0), c(n, 2.0);  // every page touched by its own rank
  const double s = 3.0;
  const auto triad = [&]() {
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    return PETSC_SUCCESS;
  };
  for (int active : {1, ranks}) {
    double best, median;
    PetscCall(TimeOnRanks(PETSC_COMM_WORLD, active, 1, triad, &best, &median));  // warm-up
    PetscCall(TimeOnRanks(PETSC_COMM_WORLD, active, repeat, triad, &best, &median));
    const double bytes = 3.0 * 8.0 * static_cast<double>(n) * active;
    PetscCall(Emit("triad", {{"ranks", active}, {"array_mb", megabytes},
                             {"llc_mb", llc / 1048576.0}, {"seconds_best", best},
                             {"gb_per_s", bytes / best / 1e9},
                             {"gb_per_s_median", bytes / median / 1e9}, {"check", a[n / 2]}}));
    if (ranks == 1) break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Gemm(int ranks, int repeat, int d) {
  PetscFunctionBeginUser;
  for (int64_t items : {4096, 16384})
    for (int64_t users : {64, 256, 1024}) {
      const recns::RowMatrix u = recns::RowMatrix::Random(users, d),
                             v = recns::RowMatrix::Random(items, d);
      recns::RowMatrix scores(users, items);
      const double flops = 2.0 * static_cast<double>(users * items * d);
      const int calls = std::max(1, static_cast<int>(2e8 / flops));  // >= ~0.2 GFLOP a sample
      const auto gemm = [&]() {
        for (int k = 0; k < calls; ++k) scores.noalias() = u * v.transpose();
        return PETSC_SUCCESS;
      };
      for (int active : {1, ranks}) {
        double best, median;
        PetscCall(TimeOnRanks(PETSC_COMM_WORLD, active, 1, gemm, &best, &median));
        PetscCall(TimeOnRanks(PETSC_COMM_WORLD, active, repeat, gemm, &best, &median));
        PetscCall(Emit("gemm", {{"ranks", active}, {"users", users}, {"items", items}, {"dim", d},
                                {"gflop_per_s", flops * calls * active / best / 1e9},
                                {"gflop_per_s_median", flops * calls * active / median / 1e9}}));
        if (ranks == 1) break;
      }
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. Max and mean over the ranks of each of `values` (this rank's), appended to
/// `fields` as NAME_max and NAME_mean.
PetscErrorCode AddMaxMean(const std::vector<std::pair<std::string, double>>& values,
                          Fields* fields) {
  PetscMPIInt size;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  std::vector<double> max(values.size()), sum(values.size());
  for (size_t k = 0; k < values.size(); ++k) max[k] = sum[k] = values[k].second;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, max.data(), (int)max.size(), MPI_DOUBLE, MPI_MAX,
                             PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum.data(), (int)sum.size(), MPI_DOUBLE, MPI_SUM,
                             PETSC_COMM_WORLD));
  for (size_t k = 0; k < values.size(); ++k) {
    fields->emplace_back(values[k].first + "_max", max[k]);
    fields->emplace_back(values[k].first + "_mean", sum[k] / size);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. The propagation's halo on this rank: the off-diagonal columns of the adjacency
/// (the rows the Propagator receives as ghosts, once per product), their owner ranks (one
/// message each) and the rank's non-zeros; then the time of one exchange of the d-wide ghost
/// rows alone, as the Propagator does it for a full product (max over ranks).
PetscErrorCode PropagationHalo(Mat adjacency, recns::Propagator* propagator, int repeat, int d,
                               Fields* fields) {
  PetscMPIInt size;
  PetscInt rows, ghosts = 0;
  double nnz, off_nnz = 0, neighbours = 0;
  MatInfo info;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(MatGetLocalSize(adjacency, &rows, nullptr));
  PetscCall(MatGetInfo(adjacency, MAT_LOCAL, &info));
  nnz = info.nz_used;
  if (size > 1) {
    Mat diagonal, off_diagonal;
    const PetscInt* global;
    const PetscInt* ranges;
    PetscCall(MatMPIAIJGetSeqAIJ(adjacency, &diagonal, &off_diagonal, &global));
    PetscCall(MatGetSize(off_diagonal, nullptr, &ghosts));
    PetscCall(MatGetInfo(off_diagonal, MAT_LOCAL, &info));
    off_nnz = info.nz_used;
    PetscCall(MatGetOwnershipRanges(adjacency, &ranges));
    int last_owner = -1;
    for (PetscInt g = 0; g < ghosts; ++g) {  // the ghosts' global columns are sorted
      const int owner = (int)(std::upper_bound(ranges, ranges + size + 1, global[g]) - ranges) - 1;
      if (owner != last_owner) neighbours += 1;
      last_owner = owner;
    }
  }
  PetscCall(AddMaxMean({{"local_rows", (double)rows}, {"local_nnz", nnz}, {"ghost_rows", (double)ghosts},
                        {"off_diagonal_nnz", off_nnz}, {"neighbour_ranks", neighbours}},
                       fields));
  double ghost_max = 0, ghost_sum = 0, best = 0, median = 0;
  for (const auto& f : *fields) {
    if (f.first == "ghost_rows_max") ghost_max = f.second;
    if (f.first == "ghost_rows_mean") ghost_sum = f.second * size;
  }
  if (size > 1) {
    const recns::RowMatrix in = recns::RowMatrix::Random(rows, d);
    const auto exchange = [&]() { return propagator->ExchangeGhostRows(in); };
    PetscCall(TimeOnRanks(PETSC_COMM_WORLD, size, 2, exchange, &best, &median));
    PetscCall(TimeOnRanks(PETSC_COMM_WORLD, size, repeat, exchange, &best, &median));
  }
  fields->insert(fields->end(), {{"halo_bytes_max", ghost_max * d * 8.0},
                                 {"halo_bytes_total", ghost_sum * d * 8.0},
                                 {"halo_seconds_median", median},
                                 {"halo_seconds_best", best}});
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Propagate(const char* dataset, int repeat, int d) {
  recns::Graph graph;
  recns::Propagator propagator;
  PetscFunctionBeginUser;
  PetscCall(recns::InitializePackage());
  PetscCall(graph.Load(PETSC_COMM_WORLD, dataset));
  PetscCall(propagator.SetUp(graph.Adjacency(), d));
  const recns::Layout& layout = graph.GetLayout();
  // Allocated as the models allocate the rows they propagate.
  recns::RowMatrix in, out;
  recns::AllocateRows(&in, layout.LocalRows(), d);
  recns::AllocateRows(&out, layout.LocalRows(), d);
  in.setRandom();
  // Â = [[0, R], [R^T, 0]]: twice the training interactions.
  double nnz = 2.0 * static_cast<double>(graph.Slice().train.Nnz());
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nnz, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  const double rows = static_cast<double>(layout.NumNodes()), rowbytes = rows * d * 8.0;
  const double matrix = nnz * (8.0 + sizeof(PetscInt)) + (rows + 1) * sizeof(PetscInt);
  const auto apply = [&]() { return propagator.Apply(in, &out); };
  double best, median;
  // Two untimed products first: the set-up and a warm-up.
  PetscCall(TimeOnRanks(PETSC_COMM_WORLD, layout.Size(), 2, apply, &best, &median));
  PetscCall(TimeOnRanks(PETSC_COMM_WORLD, layout.Size(), repeat, apply, &best, &median));
  Fields fields = {{"ranks", layout.Size()}, {"rows", rows}, {"nnz", nnz},
                   {"dim", d}, {"repeat", repeat}, {"seconds_median", median},
                   {"seconds_best", best}, {"least_bytes", matrix + 2 * rowbytes},
                   {"naive_bytes", nnz * d * 8.0 + matrix + rowbytes}};
  PetscCall(PropagationHalo(graph.Adjacency(), &propagator, repeat, d, &fields));
  PetscCall(Emit("propagate", fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Run() {
  PetscInt bench = 0, repeat = 10, dim = 64, left;
  char **names, **values;
  PetscReal megabytes = 0;
  char dataset[PETSC_MAX_PATH_LEN] = "";
  PetscBool help;
  PetscMPIInt size;
  PetscFunctionBeginUser;
  PetscOptionsBegin(PETSC_COMM_WORLD, nullptr, "recns_bench options", nullptr);
  PetscCall(
      PetscOptionsEList("-bench", "Measurement", "", kBenches, 3, kBenches[0], &bench, nullptr));
  PetscCall(PetscOptionsString("-dataset", "Dataset of -bench propagate", "", dataset, dataset,
                               sizeof(dataset), nullptr));
  PetscCall(PetscOptionsInt("-bench_dim", "Columns d (gemm, propagate)", "", dim, &dim, nullptr));
  PetscCall(PetscOptionsInt("-bench_repeat", "Timed repetitions", "", repeat, &repeat, nullptr));
  PetscCall(PetscOptionsReal("-bench_triad_mb", "Triad: MB per array (0: 4 x the LLC)", "",
                             megabytes, &megabytes, nullptr));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasHelp(nullptr, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscOptionsLeftGet(nullptr, &left, &names, &values));
  const std::string unknown = left > 0 ? names[0] : "";
  PetscCall(PetscOptionsLeftRestore(nullptr, &left, &names, &values));
  RECNS_CHECK_INPUT(unknown.empty(), PETSC_COMM_WORLD,
                    "unknown option -%s (-help lists the options)", unknown.c_str());
  RECNS_CHECK_INPUT(repeat >= 1 && dim >= 1, PETSC_COMM_WORLD,
                    "-bench_repeat and -bench_dim must be >= 1 (got %d, %d)", (int)repeat,
                    (int)dim);
  RECNS_CHECK_INPUT(bench != 2 || dataset[0], PETSC_COMM_WORLD,
                    "-bench propagate needs -dataset FILE.h5");
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  if (bench == 0) PetscCall(Triad(size, (int)repeat, megabytes));
  if (bench == 1) PetscCall(Gemm(size, (int)repeat, (int)dim));
  if (bench == 2) PetscCall(Propagate(dataset, (int)repeat, (int)dim));
  PetscFunctionReturn(PETSC_SUCCESS);
}
}  // namespace

int main(int argc, char** argv) {
  if (const int code = recns::InitializeProgram("recns_bench", &argc, &argv, help)) return code;
  return recns::FinishProgram("recns_bench", Run());
}
