// Checkpointing and snapshots of a parameter list.
#include "recns/parameter.hpp"

#include "recns/checkpoint.hpp"
#include "recns/error.hpp"

namespace recns {
namespace {

// Shared blocks are read whole on every rank, so every rank finds a bad value and fails alike.
PetscErrorCode CheckValues(const CheckpointFile& file, const Parameter& p, double minimum) {
  PetscFunctionBeginUser;
  for (Eigen::Index x = 0; x < p.value->size(); ++x) {
    const double v = p.value->data()[x];
    RECNS_CHECK_INPUT(std::isfinite(v) && v >= minimum, PETSC_COMM_SELF,
                      "checkpoint '%s': %s holds %s at row %lld, column %lld; its values must be "
                      "finite%s",
                      file.Path().c_str(), p.Path().c_str(), Format("%g", v).c_str(),
                      (long long)(x / p.value->cols()), (long long)(x % p.value->cols()),
                      minimum > -INFINITY ? Format(" and at least %g", minimum).c_str() : "");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

PetscErrorCode SaveParameters(CheckpointFile& file, const ParameterList& params) {
  PetscFunctionBeginUser;
  for (const Parameter& p : params) {
    if (p.scope == ParamScope::kOwnedRows)
      PetscCall(file.WriteOwnedRows(p.group, p.name, *p.value));
    else
      PetscCall(file.WriteRows(p.Path(), RowScope::kShared, p.value->data(), p.value->rows(),
                               p.value->cols()));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode LoadParameters(CheckpointFile& file, const ParameterList& params, double minimum) {
  PetscFunctionBeginUser;
  for (const Parameter& p : params) {
    if (p.scope == ParamScope::kOwnedRows) {
      PetscCall(file.ReadOwnedRows(p.group, p.name, p.value, minimum));
    } else {
      PetscCall(file.ReadRows(p.Path(), RowScope::kShared, p.value->data(), p.value->rows(),
                              p.value->cols()));
      PetscCall(CheckValues(file, p, minimum));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::vector<RowMatrix> CopyValues(const ParameterList& params) {
  std::vector<RowMatrix> values;
  values.reserve(params.size());
  for (const Parameter& p : params) values.push_back(*p.value);
  return values;
}

void RestoreValues(const std::vector<RowMatrix>& values, const ParameterList& params) {
  for (size_t b = 0; b < params.size(); ++b) *params[b].value = values[b];
}

}  // namespace recns
