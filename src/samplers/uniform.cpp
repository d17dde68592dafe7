// Uniform negative sampling (RNS, ALGORITHMS §4.1): each negative is uniform over I \ I_u^+ by
// exact rejection of the user's training items. No state, no gradient through the choice.
#include "recns/sampler.hpp"

namespace recns {
namespace {

class UniformSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return kSamplerUniform; }
  bool ScoresItems() const override { return false; }
  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    SampleUniformly(context, batch, negatives);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_Uniform(MPI_Comm comm) {
  return std::make_unique<UniformSampler>(comm);
}

}  // namespace recns
