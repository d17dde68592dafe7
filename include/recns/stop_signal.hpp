// Stopping on request: SIGTERM, SIGINT (Ctrl-C) and SIGUSR1 (a batch system's early warning, or
// `kill`) ask a run to checkpoint and stop. The handler only records the signal; the trainer
// combines every rank's record at step boundaries, so all ranks stop at the same step even when
// one was signalled.
#pragma once

#include <petscsys.h>

namespace recns {

/// Not collective. Installs the handlers of SIGTERM, SIGINT and SIGUSR1 (replacing PETSc's,
/// which would abort the run). Call after PetscInitialize.
PetscErrorCode InstallStopSignalHandlers();

/// The number of the last stop signal received by this process, 0 when none.
int StopSignalReceived();

/// Forgets a received signal (a run that has acted on it, or a test).
void ClearStopSignal();

}  // namespace recns
