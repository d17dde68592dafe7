static char help[] =
    "recns_recommend: the top-K items of every user (or of chosen users) from a checkpoint of\n"
    "recns_train, in parallel over MPI ranks, with the evaluator's streaming ranking.\n"
    "Usage: mpirun -n P recns_recommend DATASET.h5 -checkpoint FILE.h5 [-k 20] [-users ID,ID,...\n"
    "       | -users FILE | -user_sample N] [-exclude train] [-output recommendations.csv|.h5]\n"
    "Exit codes: 0 success, 2 bad input (one line on rank 0), 3 internal error (job aborted).\n\n";

// 1. Initialise PETSc and the library; the first plain argument names the dataset.
// 2. Check the options given (as recns_train does), then read them; with -help, stop after
//    listing them.
// 3. Load the dataset, the checkpoint's model and its final embeddings.
// 4. Rank the chosen users' items and write the lists; report unused options and finish.
#include <petscsys.h>

#include "recns/error.hpp"
#include "recns/package.hpp"
#include "recns/recommender.hpp"

/// Every option recns_recommend can read: its own, and those of every type (the checkpoint's
/// model reads the model options).
static PetscErrorCode ReadEveryOption() {
  PetscFunctionBeginUser;
  recns::Recommender defaults(PETSC_COMM_WORLD);
  PetscCall(defaults.SetFromOptions());
  PetscCall(recns::ReadEveryComponentOption(PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Run(int argc, char** argv) {
  PetscFunctionBeginUser;
  PetscCall(recns::InitializePackage());
  PetscCall(recns::SetDatasetFromArguments(argc, argv));
  PetscCall(recns::CheckOptions(PETSC_COMM_WORLD, ReadEveryOption));
  recns::Recommender recommender(PETSC_COMM_WORLD);
  PetscCall(recommender.SetFromOptions());
  PetscBool help = PETSC_FALSE;
  PetscCall(PetscOptionsHasHelp(nullptr, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(recommender.SetUp());
  PetscCall(recommender.Run());
  PetscCall(recns::ReportUnusedOptions());
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char** argv) {
  if (const int code = recns::InitializeProgram("recns_recommend", &argc, &argv, help)) return code;
  return recns::FinishProgram("recns_recommend", Run(argc, argv));
}
