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

}  // namespace recns
