// Library-wide setup: registries and profiling events (STYLE §7.9).
#pragma once

#include <petsclog.h>

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

/// Collective on PETSC_COMM_WORLD. Prints a warning on rank 0 for every option given but never
/// read (a misspelt option must not pass silently).
PetscErrorCode ReportUnusedOptions();

}  // namespace recns
