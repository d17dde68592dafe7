// Serial GoogleTest main. PETSc is initialized (one rank) because the kernels report errors
// through PetscErrorCode; the tests themselves use no communication.
#include <gtest/gtest.h>
#include <petscsys.h>

#include "recns/error.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (PetscInitialize(&argc, &argv, nullptr, nullptr) != PETSC_SUCCESS) return 1;
  if (recns::InstallQuietErrorHandler() != PETSC_SUCCESS) return 1;
  const int failed = RUN_ALL_TESTS();
  PetscFinalize();
  return failed;
}
