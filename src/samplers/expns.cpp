// Exposure negative sampling (ExpNS, the RecNS paper's exposure baseline; ALGORITHMS §4.8):
// each negative is uniform over the user's exposed items E_u (shown, not interacted with), and
// uniform over I \ I_u^+ for a user without exposures (an interpretation: the paper leaves that
// case open). A dataset with no /exposure split at all is an input error. Every draw comes from
// the pair's counter stream, so the choices are the same at any rank count. The sampler never
// reads embeddings, so the trainer samples before the forward pass, which then computes only
// the rows the step reads.
#include "recns/sampler.hpp"

namespace recns {
namespace {

class ExposureSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "expns"; }
  bool ScoresItems() const override { return false; }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    negatives->Reset(num_negatives_);
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      int64_t count;
      const int32_t* exposed = ExposedItems(batch.user[b], &count);
      for (int s = 0; s < num_negatives_; ++s)
        negatives->AddItem(count > 0 ? exposed[stream.NextBelow((uint32_t)count)]
                                     : DrawUniformNegative(*graph_, batch.user[b], &stream));
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetUpImpl() override { return RequireExposures(); }
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_ExpNS(MPI_Comm comm) {
  return std::make_unique<ExposureSampler>(comm);
}

}  // namespace recns
