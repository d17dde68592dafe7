// Library-wide setup: registries and profiling events (STYLE §7.9).
#pragma once

#include <petsclog.h>

#include <functional>
#include <string>

namespace recns {

/// PetscLogEvents of the training and evaluation phases; -log_view reports them.
struct LogEvents {
  PetscLogEvent load, graph_build, batch, sample, forward,
      sample_rows,       // fetching candidate rows for a scoring sampler (inside Sample)
      sample_score,      // a sampler's scoring and selection rule (inside Sample)
      sample_epoch_end,  // a sampler's per-epoch state update
      halo_bcast, loss, halo_reduce,
      backward, optimize, evaluate, metrics_write, checkpoint;
  PetscLogStage stage_load, stage_train, stage_eval;
};

/// Not collective; idempotent. Registers every model, sampler, loss and optimizer type and the
/// log events. Call once after PetscInitialize.
PetscErrorCode InitializePackage();

/// The events registered by InitializePackage.
const LogEvents& Events();

/// Collective on PETSC_COMM_WORLD. Sets -dataset from the first command-line argument when it is
/// not an option (the drivers' `recns_x DATASET.h5 [options]`); a second plain argument, or a
/// first one besides -dataset, is an input error (PETSc would skip it silently).
PetscErrorCode SetDatasetFromArguments(int argc, char** argv);

/// Collective on `comm`. Reads the options of every registered model, sampler, loss and
/// optimizer type: with the program's own options, every option of recns a run may read.
PetscErrorCode ReadEveryComponentOption(MPI_Comm comm);

/// Collective on `comm`. Checks the options given (on the command line, in an -options_file or
/// in PETSC_OPTIONS) before the program reads them: an option that nothing reads (a misspelling)
/// is an input error naming it and the known option nearest to it, and so is an integer beyond
/// PetscInt's range (PETSc would wrap it). `read_every_option` must read every option the
/// program can read (its own and ReadEveryComponentOption); it runs on a scratch options
/// database holding only -help, whose listing gives the known names. Options of types the run
/// does not select are known, and left to ReportUnusedOptions at the end. Reads
/// -allow_unknown_options (for wrappers passing options of their own), which lets unknown names
/// through; with -help, only lists that option.
PetscErrorCode CheckOptions(MPI_Comm comm, const std::function<PetscErrorCode()>& read_every_option);

/// Collective on PETSC_COMM_WORLD. Prints a warning on rank 0 for every option given but never
/// read (a misspelt option must not pass silently).
PetscErrorCode ReportUnusedOptions();

/// "" when every comma-separated item of `value` that is a decimal integer fits a PetscInt,
/// otherwise the first that does not: PETSc's conversion wraps such a value silently (3000000000
/// becomes -1294967296 with 32-bit PetscInt).
std::string OutOfRangeInteger(const std::string& value);

}  // namespace recns
