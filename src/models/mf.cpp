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
  // The final rows are the ego rows, so their gradient is already the ego rows' gradient.
  PetscErrorCode Backward(const RowFlags* rows) override {
    if (!LayerGradsEnabled()) return PETSC_SUCCESS;
    if (rows) {
      for (size_t r = 0; r < rows->size(); ++r)
        if ((*rows)[r]) ego_grad_.row((Eigen::Index)r) += LayerGrad(0).row((Eigen::Index)r);
    } else {
      ego_grad_ += LayerGrad(0);
    }
    return PETSC_SUCCESS;
  }
  bool RowLocalGradient() const override { return true; }
};

}  // namespace

std::unique_ptr<Model> CreateModel_MF(MPI_Comm comm) { return std::make_unique<MFModel>(comm); }

}  // namespace recns
