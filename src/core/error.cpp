// Collective input errors, a quiet error handler, and the clean exit path of the programs.
#include "recns/error.hpp"

#include <hdf5.h>

#include <cstdarg>
#include <cstdio>

namespace recns {

namespace {
std::string first_error_message;  // message of the first (initial) error raised on this rank
bool have_error_message = false;

PetscErrorCode QuietErrorHandler(MPI_Comm, int, const char*, const char*, PetscErrorCode code,
                                 PetscErrorType kind, const char* message, void*) {
  if (kind == PETSC_ERROR_INITIAL && !have_error_message) {
    const char* text = nullptr;
    if (!message || !*message) PetscErrorMessage(code, &text, nullptr);
    first_error_message = (message && *message) ? message : (text ? text : "unknown error");
    have_error_message = true;
  }
  return code;
}
}  // namespace

std::string Format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, args);
  va_end(args);
  return out;
}

PetscErrorCode BroadcastString(MPI_Comm comm, int root, std::string* text) {
  PetscFunctionBeginUser;
  int64_t length = static_cast<int64_t>(text->size());
  PetscCallMPI(MPI_Bcast(&length, 1, MPI_INT64_T, root, comm));
  text->resize(static_cast<size_t>(length));
  PetscCallMPI(MPI_Bcast(text->data(), static_cast<PetscMPIInt>(length), MPI_CHAR, root, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckAllRanks(MPI_Comm comm, bool ok, const std::string& message) {
  PetscMPIInt rank, size;
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscMPIInt mine = ok ? size : rank, failing;
  PetscCallMPI(MPI_Allreduce(&mine, &failing, 1, MPI_INT, MPI_MIN, comm));
  if (failing == size) PetscFunctionReturn(PETSC_SUCCESS);
  std::string text = rank == failing ? message : std::string();
  PetscCall(BroadcastString(comm, failing, &text));
  SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s", text.c_str());
}

PetscErrorCode InstallQuietErrorHandler() {
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(QuietErrorHandler, nullptr));
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int FinishProgram(const char* program, PetscErrorCode code) {
  if (code == PETSC_SUCCESS) return PetscFinalize() == PETSC_SUCCESS ? 0 : kExitInternal;
  const std::string message = have_error_message ? first_error_message : "unknown error";
  // Options errors detected by PETSc itself are seen identically by every rank.
  const bool collective = code == PETSC_ERR_USER_INPUT || code == PETSC_ERR_ARG_UNKNOWN_TYPE ||
                          code == PETSC_ERR_USER;
  if (collective) {
    PetscMPIInt rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (rank == 0) std::fprintf(stderr, "%s: error: %s\n", program, message.c_str());
    std::fflush(stderr);
    PetscFinalize();
    return kExitBadInput;
  }
  PetscMPIInt rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "%s: internal error on rank %d (PETSc code %d): %s\n", program, rank,
               static_cast<int>(code), message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, kExitInternal);
  return kExitInternal;
}

}  // namespace recns
