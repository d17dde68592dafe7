// Matrix factorisation (MF-BPR, ALGORITHMS §1.1): the final embedding is the ego embedding,
// s(u, i) = <p_u, q_i>, no biases.
#include "recns/model.hpp"

namespace recns {
namespace {

class MFModel final : public Model {
 public:
  using Model::Model;
  const char* Type() const override { return kModelMF; }
  PetscErrorCode Forward() override { return PETSC_SUCCESS; }
  const RowMatrix& Final() const override { return ego_; }
  PetscErrorCode Backward(RowMatrix*) override { return PETSC_SUCCESS; }
  bool RowLocalGradient() const override { return true; }
};

}  // namespace

std::unique_ptr<Model> CreateModel_MF(MPI_Comm comm) { return std::make_unique<MFModel>(comm); }

}  // namespace recns
