// Name -> factory registries for the pluggable families (models, samplers, losses, optimizers).
//
// Registration is explicit (one RegisterAll per family, called from InitializePackage), never by
// static initializers, which static libraries silently drop. Type names are lower-case and stable:
// checkpoints store them.
#pragma once

#include <petscsys.h>

#include "recns/error.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace recns {

/// Not collective. Lets -help list again the options blocks it has listed (see
/// ReadOptionsOfEveryType).
PetscErrorCode ForgetListedOptionTitles();

template <class Base>
class Registry {
 public:
  using Factory = std::unique_ptr<Base> (*)(MPI_Comm);

  static Registry& Get() {
    static Registry registry;
    return registry;
  }

  /// Adds (or replaces) the type `name`; tests may register their own types.
  void Add(const std::string& name, Factory factory) { factories_[name] = factory; }

  /// The registered names, sorted (the order -help lists them in).
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : factories_) names.push_back(entry.first);
    return names;
  }

  /// Collective on comm. Creates an object of type `name`; an unknown name is an input error
  /// listing the valid ones.
  PetscErrorCode Create(const std::string& family, const std::string& name, MPI_Comm comm,
                        std::unique_ptr<Base>* object) const {
    PetscFunctionBeginUser;
    const auto it = factories_.find(name);
    if (it == factories_.end()) {
      std::string valid;
      for (const auto& entry : factories_) valid += (valid.empty() ? "" : ", ") + entry.first;
      SETERRQ(comm, PETSC_ERR_USER_INPUT, "unknown %s type '%s' (valid: %s)", family.c_str(),
              name.c_str(), valid.c_str());
    }
    *object = it->second(comm);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// Collective on comm. Creates an object of every registered type and reads its options: in
  /// CollectOptionNames' dry pass, this lists the options of the types a run did not select.
  PetscErrorCode ReadOptionsOfEveryType(MPI_Comm comm) const {
    PetscFunctionBeginUser;
    for (const auto& entry : factories_) {
      std::unique_ptr<Base> object = entry.second(comm);
      // The types of a family share one options title, which PETSc lists only once per run.
      PetscCall(ForgetListedOptionTitles());
      PetscCall(object->SetFromOptions());
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  std::map<std::string, Factory> factories_;
};

/// Reads a type name option `key` (e.g. "-model_type") inside an open PetscOptionsBegin block,
/// listing the registered names in -help under the manual section `section`; an unknown name is
/// an input error naming the valid ones. `value` holds the default on entry.
PetscErrorCode OptionsTypeName(PetscOptionItems* items, const char* key, const char* text,
                               const char* section, const std::vector<std::string>& names,
                               std::string* value);

}  // namespace recns
