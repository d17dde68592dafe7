// Collective input errors, a quiet error handler, and the clean exit path of the programs.
#include "recns/error.hpp"

#include <hdf5.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <new>
#include <utility>
#include <vector>

namespace recns {

namespace {
const char* program_name = "recns";  // for Terminate's line, set by InitializeProgram

/// The terminate handler. An uncaught std::bad_alloc (from operator new, or from Eigen's
/// allocator, which throws it without calling a new-handler) means memory ran out, perhaps on
/// this rank alone, in code that cannot report it collectively, and the other ranks would wait
/// for this one forever. So the whole job stops here with one line and exit code 2 (the run asked
/// for more memory than the ranks have), in place of a backtrace from every rank and code 134.
[[noreturn]] void Terminate() {
  bool out_of_memory = false;
  try {
    if (std::current_exception()) std::rethrow_exception(std::current_exception());
  } catch (const std::bad_alloc&) {
    out_of_memory = true;
  } catch (...) {
  }
  if (!out_of_memory) std::abort();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr,
               "%s: error: out of memory on rank %d: the run needs more memory than this rank can "
               "have (use a smaller model or batch, or fewer ranks per node)\n",
               program_name, rank);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, kExitBadInput);
  _exit(kExitBadInput);
}

std::string first_error_message;   // message of the first (initial) error raised on this rank
std::string first_error_function;  // the function that raised it
bool have_error_message = false;

PetscErrorCode QuietErrorHandler(MPI_Comm, int, const char* function, const char*,
                                 PetscErrorCode code, PetscErrorType kind, const char* message,
                                 void*) {
  if (kind == PETSC_ERROR_INITIAL && !have_error_message) {
    const char* text = nullptr;
    if (!message || !*message) PetscErrorMessage(code, &text, nullptr);
    first_error_message = (message && *message) ? message : (text ? text : "unknown error");
    first_error_function = function ? function : "";
    have_error_message = true;
  }
  return code;
}

/// What PETSc's converter `function` of option text expects, or nullptr when `function` is not one.
/// These converters raise generic codes (PETSC_ERR_ARG_OUTOFRANGE, PETSC_ERR_ARG_WRONG) that other
/// failures raise too, so only the function that raised the error tells a bad option value apart.
/// An error whose first function is a converter was raised by the converter itself, rejecting the
/// text (a failure of something it calls would name that callee), and the text can only be an
/// option value: recns converts no other text with them. It is collective: every rank holds the
/// same options database (PETSc reads an options file on rank 0 and broadcasts it) and reads it in
/// the same order.
const char* OptionValueKind(const std::string& function) {
  if (function == "PetscOptionsStringToInt") return "an integer";
  if (function == "PetscOptionsStringToReal" || function == "PetscOptionsStringToScalar")
    return "a number";
  if (function == "PetscOptionsStringToBool") return "true or false";
  return nullptr;
}

std::vector<std::string> SplitAt(const std::string& text, char separator) {
  std::vector<std::string> parts;
  for (size_t begin = 0;;) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

/// The line for a bad option value that PETSc's converter rejected with `message`. PETSc's message
/// quotes the text but not the option, so the option is the read one whose value (or an item of
/// its comma-separated list) is the word of the message nearest its start.
std::string BadOptionValueMessage(const char* expected, const std::string& message) {
  char* all = nullptr;
  if (PetscOptionsGetAll(nullptr, &all) != PETSC_SUCCESS) return "bad option value: " + message;
  std::vector<std::pair<std::string, std::string>> options;  // name (no dash), value
  for (const std::string& token : SplitAt(all, ' ')) {
    PetscBool key = PETSC_FALSE;
    PetscOptionsValidKey(token.c_str(), &key);
    if (key) options.emplace_back(token.substr(1), "");
    else if (!token.empty() && !options.empty() && options.back().second.empty())
      options.back().second = token;
  }
  PetscFree(all);
  for (const std::string& word : SplitAt(message, ' ')) {
    for (const auto& [name, value] : options) {
      PetscBool used = PETSC_FALSE;
      PetscOptionsUsed(nullptr, name.c_str(), &used);
      if (!used || word.empty()) continue;
      for (const std::string& item : SplitAt(value, ','))
        if (item == word)
          return Format("-%s: '%s' is not %s", name.c_str(), word.c_str(), expected);
    }
  }
  return "bad option value: " + message;
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

std::string ReadableFileProblem(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? std::string("no such file") : std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return "is a directory, not a file";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return "";
}

namespace {
/// The first number in file `path`, or `fallback` when it cannot be read (or says "max").
uint64_t ReadNumber(const std::string& path, uint64_t fallback) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (!file) return fallback;
  unsigned long long value = 0;
  const bool read = std::fscanf(file, "%llu", &value) == 1;
  std::fclose(file);
  return read ? (uint64_t)value : fallback;
}

/// Bytes this node can still give its processes: MemAvailable of /proc/meminfo, and the room left
/// under the memory limit of this process's cgroup (v2 memory.max, or v1 limit_in_bytes; inside a
/// container the cgroup's own folder is the mount's root).
uint64_t NodeMemoryAvailable() {
  uint64_t available = UINT64_MAX;
  if (std::FILE* meminfo = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kb;
    while (std::fgets(line, sizeof line, meminfo))
      if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) available = (uint64_t)kb * 1024;
    std::fclose(meminfo);
  }
  std::string v2 = "/", v1 = "/";
  if (std::FILE* cgroup = std::fopen("/proc/self/cgroup", "r")) {
    char line[1024];
    while (std::fgets(line, sizeof line, cgroup)) {
      std::string entry(line);
      if (!entry.empty() && entry.back() == '\n') entry.pop_back();
      if (entry.rfind("0::", 0) == 0) v2 = entry.substr(3);
      const size_t memory = entry.find(":memory:");
      if (memory != std::string::npos) v1 = entry.substr(memory + 8);
    }
    std::fclose(cgroup);
  }
  const std::pair<std::string, std::string> limits[] = {
      {"/sys/fs/cgroup" + v2 + "/memory.max", "/sys/fs/cgroup" + v2 + "/memory.current"},
      {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
      {"/sys/fs/cgroup/memory" + v1 + "/memory.limit_in_bytes",
       "/sys/fs/cgroup/memory" + v1 + "/memory.usage_in_bytes"},
      {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
  for (const auto& [limit_path, usage_path] : limits) {
    const uint64_t limit = ReadNumber(limit_path, UINT64_MAX);
    if (limit == UINT64_MAX) continue;
    const uint64_t usage = ReadNumber(usage_path, 0);
    available = std::min(available, limit > usage ? limit - usage : 0);
    break;
  }
  return available;
}

double GiB(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0 * 1024.0); }
}  // namespace

PetscErrorCode CheckMemoryNeed(MPI_Comm comm, std::initializer_list<uint64_t> factors,
                               const std::string& what) {
  MPI_Comm node;
  PetscMPIInt node_ranks;
  PetscFunctionBeginUser;
  uint64_t need = 1;
  for (uint64_t factor : factors)
    if (__builtin_mul_overflow(need, factor, &need)) need = UINT64_MAX;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_size(node, &node_ranks));
  uint64_t node_need = 0, node_available = NodeMemoryAvailable(), most = need;
  // The node's sum saturates rather than wraps; MAX of the need names the largest rank's share.
  std::vector<uint64_t> needs((size_t)node_ranks);
  PetscCallMPI(MPI_Allgather(&need, 1, MPI_UINT64_T, needs.data(), 1, MPI_UINT64_T, node));
  for (uint64_t n : needs) {
    if (__builtin_add_overflow(node_need, n, &node_need)) node_need = UINT64_MAX;
    most = std::max(most, n);
  }
  PetscCallMPI(MPI_Bcast(&node_available, 1, MPI_UINT64_T, 0, node));
  PetscCallMPI(MPI_Comm_free(&node));
  const bool fits = node_need <= node_available;
  PetscCall(CheckAllRanks(
      comm, fits,
      Format("not enough memory: %s needs %s%.1f GiB on the largest rank, %.1f GiB for the %d "
             "ranks of this node, which has %.1f GiB available (MemAvailable and the cgroup's "
             "memory limit)",
             what.c_str(), most == UINT64_MAX ? "more than " : "", GiB(most), GiB(node_need),
             (int)node_ranks, GiB(node_available))));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int InitializeProgram(const char* program, int* argc, char*** argv, const char* help) {
  program_name = program;
  std::set_terminate(Terminate);
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return kExitInternal;
  // PETSc reads every -options_file while it initializes, on rank 0 only, and a file it cannot
  // read stops rank 0 with a traceback while the other ranks wait for the file's contents; so
  // rank 0 checks them first and every rank learns the verdict.
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string problem;
  for (int a = 1; rank == 0 && problem.empty() && a + 1 < *argc; ++a) {
    if (strcasecmp((*argv)[a], "-options_file") != 0) continue;
    const std::string file_problem = ReadableFileProblem((*argv)[a + 1]);
    if (!file_problem.empty())
      problem = Format("-options_file %s: %s", (*argv)[a + 1], file_problem.c_str());
  }
  int bad = !problem.empty();
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad) {
    if (rank == 0) std::fprintf(stderr, "%s: error: %s\n", program, problem.c_str());
    MPI_Finalize();
    return kExitBadInput;
  }
  if (PetscInitialize(argc, argv, nullptr, help) != PETSC_SUCCESS) return kExitInternal;
  return InstallQuietErrorHandler() == PETSC_SUCCESS ? 0 : kExitInternal;
}

PetscErrorCode InstallQuietErrorHandler() {
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(QuietErrorHandler, nullptr));
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {
/// PETSc finalizes MPI only when it initialized it, and InitializeProgram does that itself.
PetscErrorCode FinalizeAll() {
  const PetscErrorCode code = PetscFinalize();
  int finalized = 1;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
  return code;
}
}  // namespace

int FinishProgram(const char* program, PetscErrorCode code) {
  if (code == PETSC_SUCCESS) return FinalizeAll() == PETSC_SUCCESS ? 0 : kExitInternal;
  std::string message = have_error_message ? first_error_message : "unknown error";
  const char* option_kind = have_error_message ? OptionValueKind(first_error_function) : nullptr;
  if (option_kind) message = BadOptionValueMessage(option_kind, message);
  // Options errors detected by PETSc itself are seen identically by every rank.
  const bool collective = code == PETSC_ERR_USER_INPUT || code == PETSC_ERR_ARG_UNKNOWN_TYPE ||
                          code == PETSC_ERR_USER || option_kind;
  if (collective) {
    PetscMPIInt rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (rank == 0) std::fprintf(stderr, "%s: error: %s\n", program, message.c_str());
    std::fflush(stderr);
    FinalizeAll();
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
