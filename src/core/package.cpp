// InitializePackage: registries and log events, the type-name option helper, and the drivers'
// dataset argument.
#include "recns/package.hpp"

#include <petscmat.h>
#include <petscsf.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdarg>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "recns/error.hpp"
#include "recns/graph.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/optimizer.hpp"
#include "recns/registry.hpp"
#include "recns/sampler.hpp"

namespace recns {

namespace {
LogEvents events;
bool initialized = false;
}  // namespace

const LogEvents& Events() { return events; }

PetscErrorCode InitializePackage() {
  PetscFunctionBeginUser;
  if (initialized) PetscFunctionReturn(PETSC_SUCCESS);
  ModelRegisterAll();
  SamplerRegisterAll();
  LossRegisterAll();
  OptimizerRegisterAll();
  PetscClassId id;
  PetscCall(PetscClassIdRegister("recns", &id));
  PetscCall(PetscLogEventRegister("Load", id, &events.load));
  PetscCall(PetscLogEventRegister("GraphBuild", id, &events.graph_build));
  PetscCall(PetscLogEventRegister("Batch", id, &events.batch));
  PetscCall(PetscLogEventRegister("Sample", id, &events.sample));
  PetscCall(PetscLogEventRegister("SampleRows", id, &events.sample_rows));
  PetscCall(PetscLogEventRegister("SampleScore", id, &events.sample_score));
  PetscCall(PetscLogEventRegister("SampleEpochEnd", id, &events.sample_epoch_end));
  PetscCall(PetscLogEventRegister("Propagate", id, &events.forward));
  PetscCall(PetscLogEventRegister("HaloBcast", id, &events.halo_bcast));
  PetscCall(PetscLogEventRegister("Loss", id, &events.loss));
  PetscCall(PetscLogEventRegister("HaloReduce", id, &events.halo_reduce));
  PetscCall(PetscLogEventRegister("Backward", id, &events.backward));
  PetscCall(PetscLogEventRegister("Optimize", id, &events.optimize));
  PetscCall(PetscLogEventRegister("Evaluate", id, &events.evaluate));
  PetscCall(PetscLogEventRegister("MetricsWrite", id, &events.metrics_write));
  PetscCall(PetscLogEventRegister("Checkpoint", id, &events.checkpoint));
  PetscCall(PetscLogStageRegister("Load", &events.stage_load));
  PetscCall(PetscLogStageRegister("Train", &events.stage_train));
  PetscCall(PetscLogStageRegister("Eval", &events.stage_eval));
  initialized = true;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode OptionsTypeName(PetscOptionItems* PetscOptionsObject, const char* key,
                               const char* text, const char* section,
                               const std::vector<std::string>& names, std::string* value) {
  PetscFunctionBeginUser;
  std::vector<const char*> list;
  PetscInt current = 0;
  for (size_t n = 0; n < names.size(); ++n) {
    list.push_back(names[n].c_str());
    if (names[n] == *value) current = (PetscInt)n;
  }
  PetscCall(PetscOptionsEList(key, text, section, list.data(), (PetscInt)list.size(),
                              list[current], &current, nullptr));
  *value = names[current];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Collective. Takes the dataset from the first argument when it is not an option. PETSc skips an
/// argument that is neither an option nor an option's value, so a second dataset (or a stray word)
/// would otherwise pass silently, as would a first argument that -dataset then overrides.
PetscErrorCode SetDatasetFromArguments(int argc, char** argv) {
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

PetscErrorCode ForgetListedOptionTitles() {
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHelpPrintedDestroy(&PetscOptionsHelpPrintedSingleton));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadEveryComponentOption(MPI_Comm comm) {
  PetscFunctionBeginUser;
  PetscCall(ModelRegistry::Get().ReadOptionsOfEveryType(comm));
  PetscCall(SamplerRegistry::Get().ReadOptionsOfEveryType(comm));
  PetscCall(LossRegistry::Get().ReadOptionsOfEveryType(comm));
  PetscCall(OptimizerRegistry::Get().ReadOptionsOfEveryType(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

namespace {
/// PETSc 3.18's options that only PetscFinalize reads, after every check and report of ours
/// (found by giving each of PETSc's general options and looking which stay unused until then).
bool ReadByPetscFinalize(const std::string& name) {
  for (const char* late :
       {"citations", "get_total_flops", "mpidump", "nox", "options_left", "options_view"})
    if (name == late) return true;
  return false;
}

/// Collective. Reads, from the run's own options, now, the options of the PETSc objects that the
/// library configures later (the graph's matrix while the dataset loads, every halo's star
/// forest while training): PETSc lists some of them outside PetscHelpPrintf, so the dry pass of
/// CollectOptionNames cannot see them, and a bad value of one is then reported before any work.
PetscErrorCode ReadPetscObjectOptions(MPI_Comm comm) {
  Mat matrix;
  PetscSF sf;
  PetscFunctionBeginUser;
  PetscCall(MatCreate(comm, &matrix));
  PetscCall(MatSetSizes(matrix, 0, 0, PETSC_DETERMINE, PETSC_DETERMINE));
  PetscCall(MatSetType(matrix, MATAIJ));
  PetscCall(MatSetOptionsPrefix(matrix, kGraphOptionsPrefix));
  PetscCall(MatSetFromOptions(matrix));
  PetscCall(MatDestroy(&matrix));
  PetscCall(PetscSFCreate(comm, &sf));
  PetscCall(PetscSFSetFromOptions(sf));
  PetscCall(PetscSFDestroy(&sf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// The options a program can read, as its -help lists them: names in lower case, without the dash.
struct OptionNames {
  std::set<std::string> all;
  std::set<std::string> integers;  // PetscInt options: PETSc converts them with no range check
};
OptionNames* listed = nullptr;  // where CollectHelpLine puts names, while it runs

/// Stands in for PetscHelpPrintf during the dry pass: PETSc lists one option per call, as
/// "  -name <now ...>: text" (or "  -name: <...>" for a flag); continuation calls (the choices of
/// a list, the values of an array) do not start with a dash. PetscOptionsInt and
/// PetscOptionsIntArray print the value with PetscInt_FMT, which tells the integer options.
PetscErrorCode CollectHelpLine(MPI_Comm, const char format[], ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  const char* c = line;
  while (*c == ' ') ++c;
  if (*c++ != '-') return PETSC_SUCCESS;
  std::string name;
  for (; std::isalnum((unsigned char)*c) || *c == '_'; ++c) name += (char)std::tolower(*c);
  if (name.empty()) return PETSC_SUCCESS;
  listed->all.insert(name);
  if (std::strstr(format, "<now %" PetscInt_FMT " :") || std::strstr(format, " <%" PetscInt_FMT))
    listed->integers.insert(name);
  return PETSC_SUCCESS;
}

/// Collective. The options `read` lists under -help, run on a scratch database holding only
/// -help so that no given value is read or checked.
PetscErrorCode CollectOptionNames(const std::function<PetscErrorCode()>& read, OptionNames* names) {
  PetscOptions scratch;
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(&scratch));
  PetscCall(PetscOptionsSetValue(scratch, "-help", nullptr));
  PetscCall(PetscOptionsPush(scratch));
  const auto print = PetscHelpPrintf;
  const PetscOptionsHelpPrinted printed = PetscOptionsHelpPrintedSingleton;
  PetscHelpPrintf = CollectHelpLine;
  PetscOptionsHelpPrintedSingleton = nullptr;
  listed = names;
  const PetscErrorCode code = read();
  listed = nullptr;
  PetscHelpPrintf = print;
  PetscCall(ForgetListedOptionTitles());
  PetscOptionsHelpPrintedSingleton = printed;
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&scratch));
  PetscCall(code);
  PetscFunctionReturn(PETSC_SUCCESS);
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// "-name", with " (did you mean -known?)" for the known name nearest to it when it is near:
/// within a third of its length in single-character edits (a typo, a missing word of two).
std::string UnknownOptionText(const std::string& name, const std::set<std::string>& known) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : known) {
    const size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  return "-" + name + (best.empty() ? "" : " (did you mean -" + best + "?)");
}
}  // namespace

// Text that is not a decimal integer is left to PETSc, which rejects it.
std::string OutOfRangeInteger(const std::string& value) {
  for (size_t begin = 0; begin <= value.size();) {
    size_t end = value.find(',', begin);
    if (end == std::string::npos) end = value.size();
    const std::string item = value.substr(begin, end - begin);
    const size_t digits = item.find_first_not_of("+-") == 1 ? 1 : 0;
    if (item.size() > digits && item.find_first_not_of("0123456789", digits) == std::string::npos) {
      errno = 0;
      const long long number = std::strtoll(item.c_str(), nullptr, 10);
      if (errno == ERANGE || number > PETSC_MAX_INT || number < PETSC_MIN_INT) return item;
    }
    begin = end + 1;
  }
  return "";
}

PetscErrorCode CheckOptions(MPI_Comm comm, const std::function<PetscErrorCode()>& read_every_option) {
  PetscBool allow = PETSC_FALSE, help = PETSC_FALSE;
  PetscInt count;
  char** names;
  char** values;
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Option checking", nullptr);
  PetscCall(PetscOptionsBool("-allow_unknown_options",
                             "Accept options that nothing reads (a wrapper's own), reporting them "
                             "only at the end, instead of stopping before any work",
                             "Options", allow, &allow, nullptr));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasHelp(nullptr, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(ReadPetscObjectOptions(comm));
  OptionNames known;
  PetscCall(CollectOptionNames(read_every_option, &known));
  // Every option PETSc has not read yet (it read its own general ones while it initialized).
  PetscCall(PetscOptionsLeftGet(nullptr, &count, &names, &values));
  std::vector<std::pair<std::string, std::string>> left;
  for (PetscInt n = 0; n < count; ++n) {
    std::string name = names[n];
    for (char& c : name) c = (char)std::tolower((unsigned char)c);
    if (!ReadByPetscFinalize(name)) left.emplace_back(name, values[n] ? values[n] : "");
  }
  PetscCall(PetscOptionsLeftRestore(nullptr, &count, &names, &values));
  std::string unknown;
  size_t unknown_count = 0;
  for (const auto& [name, value] : left) {
    if (known.all.count(name)) {
      const std::string number = known.integers.count(name) ? OutOfRangeInteger(value) : "";
      RECNS_CHECK_INPUT(number.empty(), comm,
                        "-%s %s is out of range: integer options go from %d to %d", name.c_str(),
                        number.c_str(), (int)PETSC_MIN_INT, (int)PETSC_MAX_INT);
    } else if (!allow) {
      unknown += (unknown.empty() ? "" : ", ") + UnknownOptionText(name, known.all);
      ++unknown_count;
    }
  }
  RECNS_CHECK_INPUT(unknown_count == 0, comm,
                    "unknown option%s %s (-help lists the options; -allow_unknown_options "
                    "accepts options meant for a wrapper)",
                    unknown_count > 1 ? "s" : "", unknown.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReportUnusedOptions() {
  PetscInt count;
  char** names;
  char** values;
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(nullptr, &count, &names, &values));
  for (PetscInt n = 0; n < count; ++n)
    if (!ReadByPetscFinalize(names[n]))
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "warning: option -%s was given but never used\n", names[n]));
  PetscCall(PetscOptionsLeftRestore(nullptr, &count, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
