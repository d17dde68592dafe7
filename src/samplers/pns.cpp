// Popularity-biased negative sampling (PNS, ALGORITHMS §4.2): P(j) ∝ pop_j^β over I \ I_u^+,
// pop_j = item j's training degree. One alias table over the whole catalogue, built once, and exact
// rejection of the user's positives, so a draw is O(1) expected and the table is the same on every
// rank. Items never seen in training have weight 0 and are never drawn.
#include <cmath>

#include "recns/alias_table.hpp"
#include "recns/error.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

class PopularitySampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "pns"; }
  bool ScoresItems() const override { return false; }
  std::string Describe() const override { return Format("pns (beta=%g)", beta_); }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    negatives->Reset(num_negatives_);
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      for (int s = 0; s < num_negatives_; ++s) {
        int32_t item;
        do {
          // Column and coin from two words of the stream, in this order.
          const uint32_t column_word = stream.NextWord();
          item = table_.Draw(column_word, stream.NextWord());
        } while (IsPositive(batch.user[b], item));
        negatives->AddItem(item);
      }
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscCall(PetscOptionsReal("-sampler_pns_beta",
                               "PNS exponent: negatives drawn with probability proportional to "
                               "(training degree)^beta",
                               "Sampler", beta_, &beta_, nullptr));
    RECNS_CHECK_INPUT(beta_ >= 0 && std::isfinite(beta_), comm_,
                      "-sampler_pns_beta must be a finite number >= 0 (got %g)", beta_);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    const std::vector<int64_t>& degree = graph_->ItemDegrees();
    std::vector<int32_t> items;
    std::vector<double> weights;
    for (size_t j = 0; j < degree.size(); ++j)
      if (degree[j] > 0) {
        items.push_back((int32_t)j);
        weights.push_back(std::pow((double)degree[j], beta_));
      }
    // Rejection terminates only if every user has a drawable item outside its positives; all of
    // a user's positives have degree > 0, so that holds when it has fewer positives than there
    // are drawable items.
    const Layout& layout = graph_->GetLayout();
    int64_t stuck_user = -1;
    for (int64_t u = 0; u < layout.LocalUsers() && stuck_user < 0; ++u) {
      int64_t count;
      graph_->TrainItems(u, &count);
      if (count >= (int64_t)items.size()) stuck_user = layout.UserBegin() + u;
    }
    PetscCall(CheckAllRanks(comm_, stuck_user < 0,
                            Format("%s: user %lld has interacted with every item that has a "
                                   "training interaction, so PNS has no negative to draw for it",
                                   graph_->Info().path.c_str(), (long long)stuck_user)));
    table_ = AliasTable(items, weights);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  double beta_ = 0.75;
  AliasTable table_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_PNS(MPI_Comm comm) {
  return std::make_unique<PopularitySampler>(comm);
}

}  // namespace recns
