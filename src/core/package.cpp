// InitializePackage: registries and log events, the type-name option helper, and the drivers'
// dataset argument.
#include "recns/package.hpp"

#include "recns/error.hpp"
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

PetscErrorCode ReportUnusedOptions() {
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

}  // namespace recns
