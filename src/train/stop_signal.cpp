// Stop-signal handlers: async-signal-safe, they store the signal number and nothing else.
#include "recns/stop_signal.hpp"

#include <csignal>

#include "recns/error.hpp"

namespace recns {

namespace {
volatile std::sig_atomic_t received = 0;

extern "C" void RecordStopSignal(int signal) { received = signal; }
}  // namespace

PetscErrorCode InstallStopSignalHandlers() {
  PetscFunctionBeginUser;
  struct sigaction action = {};
  action.sa_handler = RecordStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a signal during I/O must not fail the call with EINTR
  // SIGINT too: Ctrl-C on a terminal reaches a rank started without mpirun (or by srun, on the
  // second Ctrl-C), and by default it would kill that rank alone, without a checkpoint.
  for (int signal : {SIGTERM, SIGINT, SIGUSR1})
    PetscCheck(sigaction(signal, &action, nullptr) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS,
               "cannot install the handler of signal %d", signal);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int StopSignalReceived() { return received; }

void ClearStopSignal() { received = 0; }

}  // namespace recns
