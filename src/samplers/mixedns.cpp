// Mixed exposure and uniform negative sampling (MixedNS, the RecNS paper's exposure baseline;
// ALGORITHMS §4.8, an interpretation of the paper's one-line description): each negative is,
// with probability ω, uniform over the user's exposed items E_u, and otherwise uniform over the
// items neither interacted with nor exposed, I \ (I_u^+ ∪ E_u), by exact rejection. A user without
// exposures draws uniformly over I \ I_u^+; a user whose interactions and exposures cover the
// catalogue draws from E_u. A dataset with no /exposure split at all is an input error. Every
// draw (the ω coin, then the item) comes from the pair's counter stream, so the choices are the
// same at any rank count. No embeddings are read: the trainer samples before the forward pass.
#include <algorithm>

#include "recns/error.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

class MixedExposureSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "mixedns"; }
  std::string Describe() const override { return Format("mixedns (omega=%g)", omega_); }
  bool ScoresItems() const override { return false; }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    negatives->Reset(num_negatives_);
    const uint32_t num_items = (uint32_t)graph_->GetLayout().NumItems();
    for (size_t b = 0; b < batch.Size(); ++b) {
      const int32_t user = batch.user[b];
      RandomStream stream = PairStream(context, batch.pair[b]);
      int64_t count, positives;
      const int32_t* exposed = ExposedItems(user, &count);
      graph_->TrainItems(user, &positives);
      // |I_u^+ ∪ E_u| < n_i: some item is neither interacted with nor exposed.
      const bool unseen_left = positives + count - Overlap(user, exposed, count) < (int64_t)num_items;
      for (int s = 0; s < num_negatives_; ++s) {
        if (count == 0) {
          negatives->AddItem(DrawUniformNegative(*graph_, user, &stream));
        } else if (stream.NextUniform() < omega_ || !unseen_left) {
          negatives->AddItem(exposed[stream.NextBelow((uint32_t)count)]);
        } else {
          int32_t item;
          do item = (int32_t)stream.NextBelow(num_items);
          while (IsPositive(user, item) || std::binary_search(exposed, exposed + count, item));
          negatives->AddItem(item);
        }
      }
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscOptionsHeadBegin(PetscOptionsObject, "MixedNS sampler options");
    PetscCall(PetscOptionsReal("-sampler_mixedns_exposure_probability",
                               "MixedNS: probability omega in [0, 1] of drawing from the user's "
                               "exposures, otherwise uniform over the items neither interacted "
                               "with nor exposed (the paper tunes omega and gives no value)",
                               "Sampler", omega_, &omega_, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(omega_ >= 0 && omega_ <= 1, comm_,
                      "-sampler_mixedns_exposure_probability must be in [0, 1] (got %s)",
                      Format("%g", omega_).c_str());
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscErrorCode SetUpImpl() override { return RequireExposures(); }

 private:
  /// |I_u^+ ∩ E_u| (none in datasets whose converters keep the two apart, but not assumed).
  int64_t Overlap(int32_t user, const int32_t* exposed, int64_t count) const {
    int64_t both = 0;
    for (int64_t e = 0; e < count; ++e) both += IsPositive(user, exposed[e]) ? 1 : 0;
    return both;
  }

  double omega_ = 0.5;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_MixedNS(MPI_Comm comm) {
  return std::make_unique<MixedExposureSampler>(comm);
}

}  // namespace recns
