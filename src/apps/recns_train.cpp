static char help[] =
    "recns_train: trains a graph recommender with negative sampling, in parallel over MPI ranks.\n"
    "Usage: mpirun -n P recns_train DATASET.h5 [options]   (or -dataset DATASET.h5;\n"
    "       decks: -options_file input/NAME.opts; profile: -log_view)\n"
    "Exit codes: 0 success, 2 bad input (one line on rank 0), 3 internal error (job aborted),\n"
    "            4 stopped by SIGTERM/SIGUSR1 after a checkpoint (resume with -restart auto).\n\n";

// 1. Initialise PETSc and the library; the first plain argument names the dataset, and no other
//    plain argument may follow (PETSc would ignore it).
// 2. Read every option and create the model, sampler, loss and optimizer by name.
// 3. With -help, stop after listing the options; otherwise load the dataset (and the checkpoint
//    of -restart) and train until done or stopped by a signal.
// 4. Report unused options (a misspelt option must not pass silently) and finish.
#include <petscsys.h>

#include "recns/error.hpp"
#include "recns/package.hpp"
#include "recns/stop_signal.hpp"
#include "recns/trainer.hpp"

static PetscErrorCode ReportUnusedOptions() {
  PetscInt count;
  char** names;
  char** values;
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(nullptr, &count, &names, &values));
  for (PetscInt n = 0; n < count; ++n)
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "warning: option -%s was given but never used\n", names[n]));
  PetscCall(PetscOptionsLeftRestore(nullptr, &count, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. Takes the dataset from the first argument when it is not an option. PETSc skips an
/// argument that is neither an option nor an option's value, so a second dataset (or a stray word)
/// would otherwise pass silently, as would a first argument that -dataset then overrides.
static PetscErrorCode SetDatasetFromArguments(int argc, char** argv) {
  PetscFunctionBeginUser;
  PetscBool first_is_option = PETSC_TRUE, previous_is_option = PETSC_FALSE;
  for (int a = 1; a < argc; ++a) {
    PetscBool is_option;
    PetscCall(PetscOptionsValidKey(argv[a], &is_option));
    RECNS_CHECK_INPUT(is_option || previous_is_option || a == 1, PETSC_COMM_WORLD,
                      "unexpected argument '%s': only the first argument may name the dataset",
                      argv[a]);
    if (a == 1) first_is_option = is_option;
    previous_is_option = is_option;
  }
  if (argc < 2 || first_is_option) PetscFunctionReturn(PETSC_SUCCESS);
  char option[PETSC_MAX_PATH_LEN];
  PetscBool set;
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-dataset", option, sizeof option, &set));
  RECNS_CHECK_INPUT(!set, PETSC_COMM_WORLD, "two datasets given: '%s' and -dataset '%s'", argv[1],
                    option);
  PetscCall(PetscOptionsSetValue(nullptr, "-dataset", argv[1]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Run(int argc, char** argv, bool* stopped) {
  PetscFunctionBeginUser;
  PetscCall(recns::InitializePackage());
  PetscCall(SetDatasetFromArguments(argc, argv));
  recns::Trainer trainer(PETSC_COMM_WORLD);
  PetscCall(trainer.SetFromOptions());
  PetscBool help = PETSC_FALSE;
  PetscCall(PetscOptionsHasHelp(nullptr, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(trainer.SetUp());
  PetscCall(trainer.Train());
  *stopped = trainer.GetOutcome().interrupted;
  PetscCall(ReportUnusedOptions());
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char** argv) {
  if (const int code = recns::InitializeProgram("recns_train", &argc, &argv, help)) return code;
  if (recns::InstallStopSignalHandlers() != PETSC_SUCCESS) return recns::kExitInternal;
  bool stopped = false;
  const int code = recns::FinishProgram("recns_train", Run(argc, argv, &stopped));
  return code == 0 && stopped ? recns::kExitStopped : code;
}
