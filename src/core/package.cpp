// InitializePackage: registries and log events, and the type-name option helper.
#include "recns/package.hpp"

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

}  // namespace recns
