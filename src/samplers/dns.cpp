// Dynamic negative sampling (DNS, ALGORITHMS §4.3): for each negative slot, M uniform candidates
// from I \ I_u^+ and the one the current model scores highest. The candidates are the first M
// draws of the pair's uniform stream, so M = 1 is exactly the uniform sampler. The choice carries
// no gradient; the chosen item is an ordinary negative. With -loss_type soft_bpr this is SDNS.
#include <algorithm>

#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

class DynamicSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "dns"; }
  std::string Describe() const override { return Format("dns (M=%d)", candidates_); }
  bool ReadsGatheredRows() const override { return true; }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    const size_t per_pair = (size_t)num_negatives_ * candidates_;
    // The candidates, then the positives: the gather names every row the step reads.
    pool_.resize(batch.Size() * per_pair + batch.Size());
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      for (size_t c = 0; c < per_pair; ++c)
        pool_[b * per_pair + c] = DrawUniformNegative(*graph_, batch.user[b], &stream);
    }
    std::copy(batch.item.begin(), batch.item.end(), pool_.begin() + (long)(batch.Size() * per_pair));
    PetscCall(GatherItemRows(context, pool_));

    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    const int d = context.model->FinalWidth();
    negatives->Reset(num_negatives_);
    rows_.resize((size_t)candidates_);
    scores_.resize((size_t)candidates_);
    for (size_t b = 0; b < batch.Size(); ++b) {
      const double* user = UserRow(context, batch.user[b]);
      for (int s = 0; s < num_negatives_; ++s) {
        const int32_t* candidate = pool_.data() + b * per_pair + (size_t)s * candidates_;
        for (int c = 0; c < candidates_; ++c) rows_[(size_t)c] = ItemRow(candidate[c]);
        DotRows(user, rows_.data(), candidates_, d, scores_.data());
        int best = 0;
        for (int c = 1; c < candidates_; ++c)
          if (scores_[(size_t)c] > scores_[(size_t)best]) best = c;  // ties keep the earlier one
        negatives->AddItem(candidate[best]);
      }
    }
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt m = candidates_;
    PetscCall(PetscOptionsInt("-sampler_dns_candidates",
                              "DNS: uniform candidates M per negative; the highest-scored is "
                              "taken (1: uniform sampling)",
                              "Sampler", m, &m, nullptr));
    RECNS_CHECK_INPUT(m >= 1, comm_, "-sampler_dns_candidates must be >= 1 (got %d)", (int)m);
    candidates_ = (int)m;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  int candidates_ = 5;
  std::vector<int32_t> pool_;
  std::vector<const double*> rows_;  // a slot's candidate rows and their scores
  std::vector<double> scores_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_DNS(MPI_Comm comm) {
  return std::make_unique<DynamicSampler>(comm);
}

}  // namespace recns
