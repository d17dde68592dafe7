// The built-in models: one line per type.
#include "recns/model.hpp"

namespace recns {

std::unique_ptr<Model> CreateModel_MF(MPI_Comm comm);
std::unique_ptr<Model> CreateModel_LightGCN(MPI_Comm comm);
std::unique_ptr<Model> CreateModel_NGCF(MPI_Comm comm);
std::unique_ptr<Model> CreateModel_PinSage(MPI_Comm comm);

void ModelRegisterAll() {
  static bool done = false;
  if (done) return;
  ModelRegistry::Get().Add(kModelMF, CreateModel_MF);
  ModelRegistry::Get().Add(kModelLightGCN, CreateModel_LightGCN);
  ModelRegistry::Get().Add(kModelNGCF, CreateModel_NGCF);
  ModelRegistry::Get().Add(kModelPinSage, CreateModel_PinSage);
  done = true;
}

}  // namespace recns
