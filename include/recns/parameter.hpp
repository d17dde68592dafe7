// Trainable parameters (ARCHITECTURE "Trainable negatives" §1). Every owner of trainable values
// (the model, a sampler, a loss) lists its blocks as Parameters; the optimizer and its moments,
// checkpoints, the best-epoch snapshot, -restart and the finite-difference test all iterate over
// that one list.
#pragma once

#include <petscsys.h>

#include <cmath>
#include <string>
#include <vector>

#include "recns/embedding.hpp"

namespace recns {

class CheckpointFile;

enum class ParamScope {
  kOwnedRows,  ///< one row per owned node (local users, then local items), like the ego rows
  kShared,     ///< dense and the same on every rank; its gradient is summed across ranks
};

struct Parameter {
  std::string group;  ///< checkpoint group of the owner ("/model", "/sampler")
  std::string name;   ///< unique within the group ("embedding", "w_gc_0")
  ParamScope scope = ParamScope::kOwnedRows;
  RowMatrix* value = nullptr;
  RowMatrix* grad = nullptr;  ///< same shape as value; the step's objective fills it
  /// Coupled L2 added by the objective at every step: (weight_decay / 2) ||value||^2 in the loss.
  double weight_decay = 0;
  /// The block's own base learning rate, following the optimizer's schedule (NaN: the optimizer's).
  double lr = NAN;
  std::string Path() const { return group + "/" + name; }
};

using ParameterList = std::vector<Parameter>;

/// A dense block shared by every rank (kShared) under `group`, with its coupled weight decay.
inline Parameter SharedBlock(const std::string& group, const std::string& name, RowMatrix* value,
                             RowMatrix* grad, double weight_decay = 0) {
  Parameter p;
  p.group = group;
  p.name = name;
  p.scope = ParamScope::kShared;
  p.value = value;
  p.grad = grad;
  p.weight_decay = weight_decay;
  return p;
}

/// Collective. Writes every block of `params` under its group: owned rows as
/// `<group>/user_<name>` and `<group>/item_<name>` in dataset order, shared blocks once.
PetscErrorCode SaveParameters(CheckpointFile& file, const ParameterList& params);
/// Collective. Reads what SaveParameters wrote into blocks of the same shapes; every value must
/// be finite and at least `minimum`.
PetscErrorCode LoadParameters(CheckpointFile& file, const ParameterList& params,
                              double minimum = -INFINITY);
/// Not collective. A copy of every block's value, and the way back.
std::vector<RowMatrix> CopyValues(const ParameterList& params);
void RestoreValues(const std::vector<RowMatrix>& values, const ParameterList& params);

}  // namespace recns
