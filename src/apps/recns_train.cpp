static char help[] =
    "recns_train: trains a graph recommender with negative sampling, in parallel over MPI ranks.\n"
    "Usage: mpirun -n P recns_train DATASET.h5 [options]   (or -dataset DATASET.h5;\n"
    "       decks: -options_file input/NAME.opts; profile: -log_view)\n"
    "Exit codes: 0 success, 2 bad input (one line on rank 0), 3 internal error (job aborted),\n"
    "            4 stopped by SIGTERM/SIGINT/SIGUSR1 after a checkpoint (resume with -restart auto).\n"
    "Stopping under Open MPI's mpirun: kill -USR1 <mpirun pid>, which mpirun forwards as it is\n"
    "(exit 4). On SIGTERM or Ctrl-C mpirun itself sends the ranks SIGTERM after\n"
    "odls_base_sigkill_timeout seconds (default 1) and SIGKILL as many seconds later, then exits 1;\n"
    "for time to checkpoint, set OMPI_MCA_odls_base_sigkill_timeout=30 (see README).\n"
    "Options that nothing reads are an error; -allow_unknown_options accepts a wrapper's own.\n\n";

// 1. Initialise PETSc and the library; the first plain argument names the dataset, and no other
//    plain argument may follow (PETSc would ignore it).
// 2. Check the options given (an option nothing reads, a misspelling, or an integer out of
//    range stops the run here), then read them and create the model, sampler, loss and optimizer.
// 3. With -help, stop after listing the options; otherwise load the dataset (and the checkpoint
//    of -restart) and train until done or stopped by a signal.
// 4. Report the options given but unused (another type's, or a wrapper's with
//    -allow_unknown_options) and finish.
#include <petscsys.h>

#include "recns/error.hpp"
#include "recns/package.hpp"
#include "recns/stop_signal.hpp"
#include "recns/trainer.hpp"

/// Every option recns_train can read: its own and the evaluator's, and those of every type.
static PetscErrorCode ReadEveryOption() {
  PetscFunctionBeginUser;
  recns::Trainer defaults(PETSC_COMM_WORLD);
  PetscCall(defaults.SetFromOptions());
  PetscCall(recns::ReadEveryComponentOption(PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Run(int argc, char** argv, bool* stopped) {
  PetscFunctionBeginUser;
  PetscCall(recns::InitializePackage());
  PetscCall(recns::SetDatasetFromArguments(argc, argv));
  PetscCall(recns::CheckOptions(PETSC_COMM_WORLD, ReadEveryOption));
  recns::Trainer trainer(PETSC_COMM_WORLD);
  PetscCall(trainer.SetFromOptions());
  PetscBool help = PETSC_FALSE;
  PetscCall(PetscOptionsHasHelp(nullptr, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(trainer.SetUp());
  PetscCall(trainer.Train());
  *stopped = trainer.GetOutcome().interrupted;
  PetscCall(recns::ReportUnusedOptions());
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char** argv) {
  if (const int code = recns::InitializeProgram("recns_train", &argc, &argv, help)) return code;
  if (recns::InstallStopSignalHandlers() != PETSC_SUCCESS) return recns::kExitInternal;
  bool stopped = false;
  const int code = recns::FinishProgram("recns_train", Run(argc, argv, &stopped));
  return code == 0 && stopped ? recns::kExitStopped : code;
}
