// MixGCF (Huang et al., KDD'21; ALGORITHMS §4.6): a synthetic hard negative per slot from the
// layer rows of the positive and of n_negs uniform candidates.
//
// For each pair and each of its K negatives, a disjoint slice of n_negs candidates (the pair's
// first K·n_negs uniform draws, as DNS draws them) and, after them in the same stream, one
// α^(l) ~ U(0,1) per (negative, layer) shared by the slice's candidates (the reference draws
// fresh α for each of its K calls). Per layer l:
//   positive mixing  e'^(l)_c = α^(l) e_i^(l) + (1 − α^(l)) e_c^(l),
//   hop mixing       c*_l = argmax_c ⟨e_u, contribution_l(e'^(l)_c)⟩ (ties: the earlier),
// where contribution_l is how the model pools layer l into a final row (AddLayerContribution):
// 1/(L+1) of it for LightGCN's mean, so the score is the reference's pooled user, divided by
// L+1; its own slice for a concatenation (NGCF), so the score is the reference's per-layer
// user. The score is computed as ⟨q_l, e'⟩ with q_l = contribution_lᵀ(e_u)
// (AddLayerContributionGrad), i.e. α·⟨q_l, e_i⟩ + (1 − α)·⟨q_l, e_c⟩. Since α is shared by the
// candidates and 1 − α > 0, the choice is that of the highest ⟨q_l, e_c⟩; mixing shapes the
// negative's value, not the choice.
//
// The negative is the terms (i, l, α^(l)) and (c*_l, l, 1 − α^(l)) for l = 0..L, so the default
// Synthesize gives pool_l(e'^(l)_{c*_l}) and SynthesizeBackward sends the gradient to the
// positive's and the chosen candidates' layer rows. Its L2 vector is the mixed layer-0 vector
// α^(0) e0_i + (1 − α^(0)) e0_{c*_0}. The choices carry no gradient.
#include <algorithm>

#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

class MixGCFSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "mixgcf"; }
  bool ReadsGatheredRows() const override { return true; }
  bool MixesLayers() const override { return true; }
  std::string Describe() const override {
    return Format("mixgcf (n_negs=%d, K=%d)", candidates_, num_negatives_);
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    const Model& model = *context.model;
    const int layers = model.NumLayers(), d = model.Dim(), k = num_negatives_;
    const size_t per_pair = (size_t)k * candidates_, alphas = (size_t)k * (layers + 1);
    // The candidates, then the positives (their rows give the mixed scores' constant term).
    items_.resize(batch.Size() * per_pair + batch.Size());
    alpha_.resize(batch.Size() * alphas);
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      for (size_t c = 0; c < per_pair; ++c)
        items_[b * per_pair + c] = DrawUniformNegative(*graph_, batch.user[b], &stream);
      for (size_t a = 0; a < alphas; ++a) alpha_[b * alphas + a] = stream.NextUniform();
    }
    std::copy(batch.item.begin(), batch.item.end(), items_.begin() + (long)(batch.Size() * per_pair));
    PetscCall(GatherItemLayerRows(context, items_));

    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    negatives->Reset(k);
    negatives->DeclareLayerTerms();
    negatives->DeclareL2Vectors();
    const size_t width = (size_t)layers + 1;
    user_layers_.resize(width * d);
    positive_scores_.resize(width);
    chosen_.resize(width);
    rows_.resize((per_pair + 1) * width);
    for (size_t b = 0; b < batch.Size(); ++b) {
      const int32_t positive = batch.item[b];
      const double* user = UserRow(context, batch.user[b]);
      // Every layer row of the pair's candidates (rows_[c·(L+1) + l]) and of its positive.
      for (size_t c = 0; c < per_pair; ++c) ItemLayerRows(items_[b * per_pair + c], &rows_[c * width]);
      ItemLayerRows(positive, &rows_[per_pair * width]);
      // q_l = contribution_lᵀ(e_u): ⟨e_u, contribution_l(x)⟩ = ⟨q_l, x⟩ for any layer row x.
      std::fill(user_layers_.begin(), user_layers_.end(), 0.0);
      for (int l = 0; l <= layers; ++l) {
        double* q = user_layers_.data() + (size_t)l * d;
        model.AddLayerContributionGrad(l, user, 1.0, q);
        positive_scores_[l] = Dot(q, rows_[per_pair * width + l], d);
      }
      for (int s = 0; s < k; ++s) {
        const int32_t* candidate = items_.data() + b * per_pair + (size_t)s * candidates_;
        const double* const* candidate_rows = rows_.data() + (size_t)s * candidates_ * width;
        const double* alpha = alpha_.data() + b * alphas + (size_t)s * width;
        for (int l = 0; l <= layers; ++l)
          chosen_[l] = Choose(user_layers_.data() + (size_t)l * d, d, candidate,
                              candidate_rows + l, width, alpha[l], positive_scores_[l]);
        for (int l = 0; l <= layers; ++l) {
          negatives->AddTerm(positive, l, alpha[l]);
          negatives->AddTerm(chosen_[l], l, 1.0 - alpha[l]);
        }
        negatives->EndNegative();
        negatives->AddL2Term(positive, alpha[0]);
        negatives->AddL2Term(chosen_[0], 1.0 - alpha[0]);
        negatives->EndL2();
      }
    }
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt n = candidates_;
    PetscOptionsHeadBegin(PetscOptionsObject, "MixGCF sampler options");
    PetscCall(PetscOptionsInt("-sampler_mixgcf_candidates",
                              "MixGCF: uniform candidates n_negs per negative, mixed with the "
                              "positive and chosen per layer (the paper's runs: 16 Amazon, 32 "
                              "Alibaba, 64 Yelp2018); -sampler_num_negatives is K",
                              "Sampler", n, &n, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(n >= 1, comm_, "-sampler_mixgcf_candidates must be >= 1 (got %d)", (int)n);
    candidates_ = (int)n;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// The candidate of the slice whose mix with the positive scores highest against q:
  /// α·⟨q, e_i⟩ + (1 − α)·⟨q, e_c⟩, with candidate c's row at row[c·stride], scored four
  /// candidates at a time.
  int32_t Choose(const double* q, int d, const int32_t* candidate, const double* const* row,
                 size_t stride, double alpha, double positive_score) const {
    const double base = alpha * positive_score, mix = 1.0 - alpha;
    int32_t best = -1;
    double best_score = 0;
    auto consider = [&](int32_t item, double dot) {
      const double score = base + mix * dot;
      if (best < 0 || score > best_score) {  // ties keep the earlier candidate
        best_score = score;
        best = item;
      }
    };
    int c = 0;
    for (; c + 4 <= candidates_; c += 4) {
      const double* four[4] = {row[c * stride], row[(c + 1) * stride], row[(c + 2) * stride],
                               row[(c + 3) * stride]};
      double dots[4];
      Dot4(q, four, d, dots);
      for (int j = 0; j < 4; ++j) consider(candidate[c + j], dots[j]);
    }
    for (; c < candidates_; ++c) consider(candidate[c], Dot(q, row[c * stride], d));
    return best;
  }

  int candidates_ = 16;
  std::vector<int32_t> items_;
  std::vector<double> alpha_, user_layers_, positive_scores_;
  std::vector<int32_t> chosen_;
  std::vector<const double*> rows_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_MixGCF(MPI_Comm comm) {
  return std::make_unique<MixGCFSampler>(comm);
}

}  // namespace recns
