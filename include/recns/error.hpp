// Error handling shared by every recns module.
//
// Every function that can fail returns PetscErrorCode and uses PetscCall/PetscCheck. Errors about
// bad input (files, datasets, options) are raised *collectively* with PETSC_ERR_USER_INPUT: every
// rank of the communicator fails at the same point with the same one-line message, so the program
// can print it once on rank 0 and exit cleanly on all ranks. Any other error is treated as an
// internal failure of one rank and aborts the whole job, so no rank is left waiting on a dead peer.
#pragma once

#include <petscsys.h>

#include <initializer_list>
#include <string>

// PETSc 3.18 (Debian bookworm) predates the PETSC_SUCCESS constant of 3.19.
#ifndef PETSC_SUCCESS
#define PETSC_SUCCESS 0
#endif

namespace recns {

/// Exit codes of the recns programs (documented in README).
constexpr int kExitBadInput = 2;  ///< bad input file, dataset or option: one line on rank 0
constexpr int kExitInternal = 3;  ///< internal failure on some rank: the job is aborted
/// Stopped by SIGTERM, SIGINT or SIGUSR1 at a step boundary, after writing a checkpoint (when
/// checkpoints are on): a job script resubmits or requeues, and the run resumes with -restart auto.
constexpr int kExitStopped = 4;

/// Collective. Fails on every rank of `comm` with PETSC_ERR_USER_INPUT and the message of the
/// lowest-numbered rank whose `ok` is false; succeeds everywhere when every rank's `ok` is true.
/// Use it wherever a check depends on rank-local data (a slice of a file, a local parse).
PetscErrorCode CheckAllRanks(MPI_Comm comm, bool ok, const std::string& message);

/// Collective. `root`'s `text` on every rank of `comm`.
PetscErrorCode BroadcastString(MPI_Comm comm, int root, std::string* text);

/// Not collective. Why `path` cannot be read as a file ("no such file", "is a directory, not a
/// file", ...), or "" when it can. Check before handing a path to HDF5 or PETSc, whose own reports
/// of these are a flood of lines from every rank.
std::string ReadableFileProblem(const std::string& path);

/// Collective on MPI_COMM_WORLD. Initializes MPI, then PETSc (with InstallQuietErrorHandler).
/// Returns 0 when both are ready; otherwise the process exit code, after printing
/// "<program>: error: <message>" once on rank 0 for a bad input such as an unreadable
/// -options_file. Pair with FinishProgram. Memory running out anywhere after it (an uncaught
/// std::bad_alloc) prints "<program>: error: out of memory on rank R ..." and stops the whole job
/// with exit code kExitBadInput.
int InitializeProgram(const char* program, int* argc, char*** argv, const char* help);

/// Not collective. Replaces PETSc's traceback printer with one that records the first message of
/// an error (for FinishProgram) and prints nothing; also turns off HDF5's own error printing.
PetscErrorCode InstallQuietErrorHandler();

/// Collective on PETSC_COMM_WORLD when `code` is a collective input error (which includes an
/// option value PETSc cannot convert, reported with the option's name), otherwise local.
/// Call at the end of main with the error code of the program's body. Returns the process exit
/// code: 0 on success; kExitBadInput after printing "<program>: error: <message>" once on rank 0
/// and finalizing PETSc; for any other error prints the message with the rank and aborts the job.
int FinishProgram(const char* program, PetscErrorCode code);

/// Collective on `comm`. Checks, before allocating it, that `what` fits in memory: each rank
/// needs the product of its `factors` bytes (computed in 64 bits; an overflow counts as too
/// much), and the ranks of one node share what the node has left (MemAvailable, and the limit
/// of the process's cgroup minus its usage). Otherwise an input error with one line saying what
/// is needed and what is available.
PetscErrorCode CheckMemoryNeed(MPI_Comm comm, std::initializer_list<uint64_t> factors,
                               const std::string& what);

/// printf-style formatting into a std::string (for messages passed to CheckAllRanks).
std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace recns

/// Checks an HDF5 call (negative return = failure) and raises a local PETSC_ERR_LIB naming it.
#define RECNS_H5CALL(call)                                                                      \
  do {                                                                                          \
    if ((call) < 0) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call failed: %s", #call);    \
  } while (0)

/// Raises a collective input error (every rank of `comm` must evaluate the same condition).
#define RECNS_CHECK_INPUT(cond, comm, ...) PetscCheck(cond, comm, PETSC_ERR_USER_INPUT, __VA_ARGS__)
