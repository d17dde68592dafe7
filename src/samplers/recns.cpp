// RecNS (Yang et al., "Region or Global? A Principle for Negative Sampling in Graph-based
// Recommendation", TKDE; ALGORITHMS §5, §6 and decisions 1-3): per positive pair (u, v),
//
//   RecNS-O (positive-assisted). C_u: M candidates drawn uniformly without replacement from u's
//     region (by default the intermediate one, R_med(u): items reached by walks of odd length
//     3..khop, minus u's items); a user whose region holds fewer than M items gets M uniform
//     negatives instead. The k negatives P_k are drawn with replacement from C_u with
//       p(c) ∝ σ(α s_uc + (1 − α) s_vc)                        (paper eq 7, the default), or
//       p(c) ∝ exp(σ(α s_uc + (1 − α) s_vc))                   (the reference code's logits),
//     α ~ U(0,1) per (pair, candidate) unless fixed. Without positive assistance ("w/o p-a")
//     every negative is the hardest candidate argmax_c s_uc.
//   RecNS-W (exposure-augmented). Mu: M items of E_u, uniform without replacement when
//     |E_u| >= M and with replacement otherwise; Mu := C_u for a user without exposures (as the
//     code does). β_e = |{c ∈ C_u : c ∈ Mu}| for e ∈ Mu ∩ C_u and 1 otherwise; the exposed
//     negative is x = argmax_{e ∈ Mu} σ(β_e s_ue).
//   Merge. Negative t is (1 − 1/k) e_{n_t} + (1/k) e_x (paper eq 11, the default), or the
//     code's nested form (1 − 1/k) e_{n_t} + ((1 − 1/k)/k) e_{n_0} + (1/k²) e_x; without
//     exposure augmentation ("w/o e-a") it is the plain item n_t.
//
// Scores are inner products of final rows, so any encoder works. The choices carry no gradient;
// the merged negative's terms are final rows, so the default Synthesize and SynthesizeBackward
// send its gradient to n_t, x (and n_0) and, through the model, to their neighbourhoods. The L2
// term of each negative is the ego row of its positive-assisted item n_t with weight 1, never
// the exposed item's (the reference LightGCN code). Every random choice (the region draw, α, the
// k multinomial draws, Mu) comes from the pair's counter stream, in that order, so the choices
// are the same at any rank count. Nothing persists between steps; the region is static and is
// rebuilt at set-up, also on a restart.
#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/region.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

enum class Weighting { kSigmoid = 0, kExpSigmoid = 1 };
const char* const kWeightings[] = {"sigmoid", "exp_sigmoid"};
enum class Merge { kPaper = 0, kNested = 1 };
const char* const kMerges[] = {"paper", "nested"};

class RecNSSampler final : public Sampler {
 public:
  // The paper's and the code's k = 15, set before SetFromOptions reads -sampler_num_negatives.
  explicit RecNSSampler(MPI_Comm comm) : Sampler(comm) { num_negatives_ = 15; }
  const char* Type() const override { return "recns"; }
  bool ReadsGatheredRows() const override { return true; }
  std::string Describe() const override {
    const std::string alpha = alpha_ < 0 ? "U(0,1)" : Format("%g", alpha_);
    return Format("recns (M=%d, %s region%s, %s, %s)", candidates_,
                  kRegionKindNames[(int)region_kind_], Walks().c_str(),
                  positive_assisted_
                      ? Format("alpha %s, %s weighting", alpha.c_str(), kWeightings[(int)weighting_]).c_str()
                      : "hardest candidate (w/o p-a)",
                  exposure_augmented_ ? Format("%s merge", kMerges[(int)merge_]).c_str()
                                      : "no exposed negative (w/o e-a)");
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    const int M = candidates_, k = num_negatives_;
    const size_t B = batch.Size(), block = PairBlock();
    // Per pair: C_u, then Mu when exposure-augmented; then every pair's positive.
    items_.resize(B * block + B);
    const bool draw_alpha = positive_assisted_ && alpha_ < 0;
    alpha_draws_.resize(draw_alpha ? B * M : 0);
    choice_draws_.resize(positive_assisted_ ? B * k : 0);
    for (size_t b = 0; b < B; ++b) {
      const int32_t user = batch.user[b];
      RandomStream stream = PairStream(context, batch.pair[b]);
      int32_t* candidate = items_.data() + b * block;
      if (region_.Size(user) >= M) {
        drawn_.clear();
        region_.Draw(user, M, &stream, &drawn_);
        std::copy(drawn_.begin(), drawn_.end(), candidate);
      } else {
        for (int c = 0; c < M; ++c) candidate[c] = DrawUniformNegative(*graph_, user, &stream);
      }
      if (draw_alpha)
        for (int c = 0; c < M; ++c) alpha_draws_[b * M + c] = stream.NextUniform();
      if (positive_assisted_)
        for (int t = 0; t < k; ++t) choice_draws_[b * k + t] = stream.NextUniform();
      if (exposure_augmented_) DrawExposed(user, candidate, &stream, candidate + M);
    }
    std::copy(batch.item.begin(), batch.item.end(), items_.begin() + (long)(B * block));
    PetscCall(GatherItemRows(context, items_));

    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    const int d = context.model->FinalWidth();
    negatives->Reset(k);
    if (exposure_augmented_) negatives->DeclareL2Vectors();
    user_scores_.resize(M);
    chosen_.resize(k);
    for (size_t b = 0; b < B; ++b) {
      const double* user = UserRow(context, batch.user[b]);
      const int32_t* candidate = items_.data() + b * block;
      for (int c = 0; c < M; ++c) user_scores_[c] = Dot(user, ItemRow(candidate[c]), d);
      if (positive_assisted_) {
        ChoosePositiveAssisted(ItemRow(batch.item[b]), d, candidate,
                               draw_alpha ? alpha_draws_.data() + b * M : nullptr,
                               choice_draws_.data() + b * k);
      } else {
        // The first of the highest-scored candidates.
        const int hardest = (int)(std::max_element(user_scores_.begin(), user_scores_.end()) -
                                  user_scores_.begin());
        std::fill(chosen_.begin(), chosen_.end(), candidate[hardest]);
      }
      if (!exposure_augmented_) {
        for (int t = 0; t < k; ++t) negatives->AddItem(chosen_[t]);
        continue;
      }
      const int32_t exposed = ChooseExposed(user, d, candidate, candidate + M);
      const double inv_k = 1.0 / k;
      for (int t = 0; t < k; ++t) {
        negatives->AddTerm(chosen_[t], kFinalLayer, 1 - inv_k);
        if (merge_ == Merge::kPaper) {
          negatives->AddTerm(exposed, kFinalLayer, inv_k);
        } else {
          negatives->AddTerm(chosen_[0], kFinalLayer, (1 - inv_k) * inv_k);
          negatives->AddTerm(exposed, kFinalLayer, inv_k * inv_k);
        }
        negatives->EndNegative();
        negatives->AddL2Term(chosen_[t], 1.0);
        negatives->EndL2();
      }
    }
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt m = candidates_, khop = khop_;
    PetscInt region = (PetscInt)region_kind_, weighting = (PetscInt)weighting_, merge = (PetscInt)merge_;
    PetscBool assisted = positive_assisted_ ? PETSC_TRUE : PETSC_FALSE;
    PetscBool augmented = exposure_augmented_ ? PETSC_TRUE : PETSC_FALSE;
    PetscOptionsHeadBegin(PetscOptionsObject, "RecNS sampler options");
    PetscCall(PetscOptionsInt("-sampler_recns_candidates",
                              "RecNS: candidates M drawn from the region per pair, and exposed "
                              "items Mu (the paper and its code: 20); -sampler_num_negatives is k "
                              "(RecNS's default 15, the paper and its code)",
                              "Sampler", m, &m, nullptr));
    PetscCall(PetscOptionsEList("-sampler_recns_region",
                                "RecNS: region of the candidates: intermediate (R_med, walks of "
                                "odd length 3..khop minus the user's items; RecNS-Med, the "
                                "paper's RecNS), distant (the unobserved items outside it; "
                                "RecNS-Dis) or global (every unobserved item; RecNS-All)",
                                "Sampler", kRegionKindNames, 3, kRegionKindNames[region], &region,
                                nullptr));
    PetscCall(PetscOptionsInt("-sampler_recns_khop",
                              "RecNS: longest walk khop (odd, >= 3) of the intermediate region "
                              "(and so of the distant one), a real option (the paper: 3 Zhihu, "
                              "5 Alibaba; the code always uses 3)",
                              "Sampler", khop, &khop, nullptr));
    PetscCall(PetscOptionsReal("-sampler_recns_alpha",
                               "RecNS-O: weight alpha in [0, 1] of s_uc against s_vc in p(c) "
                               "proportional to w(alpha s_uc + (1 - alpha) s_vc); negative: "
                               "alpha drawn from U(0,1) per pair and candidate (the paper's "
                               "default and the code)",
                               "Sampler", alpha_, &alpha_, nullptr));
    PetscCall(PetscOptionsEList("-sampler_recns_weighting",
                                "RecNS-O: w = sigmoid (the paper's eq 7) or exp_sigmoid (the "
                                "code's multinomial logits, a flatter distribution)",
                                "Sampler", kWeightings, 2, kWeightings[weighting], &weighting,
                                nullptr));
    PetscCall(PetscOptionsBool("-sampler_recns_positive_assisted",
                               "RecNS-O: draw the k negatives by p(c) (true) or take the hardest "
                               "candidate argmax s_uc for all k (false: the paper's w/o p-a)",
                               "Sampler", assisted, &assisted, nullptr));
    PetscCall(PetscOptionsBool("-sampler_recns_exposure_augmented",
                               "RecNS-W: merge the exposed negative into each of the k (true) or "
                               "use the k positive-assisted items alone (false: the paper's "
                               "w/o e-a)",
                               "Sampler", augmented, &augmented, nullptr));
    PetscCall(PetscOptionsEList("-sampler_recns_merge",
                                "RecNS merge: paper ((1 - 1/k) e_n + (1/k) e_x, eq 11) or nested "
                                "(the code's (1 - 1/k) e_n + ((1 - 1/k)/k) e_n0 + e_x/k^2)",
                                "Sampler", kMerges, 2, kMerges[merge], &merge, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(m >= 1, comm_, "-sampler_recns_candidates must be >= 1 (got %d)", (int)m);
    RECNS_CHECK_INPUT(khop >= 3 && khop % 2 == 1, comm_,
                      "-sampler_recns_khop must be odd and >= 3 (got %d)", (int)khop);
    RECNS_CHECK_INPUT(alpha_ <= 1 && !std::isnan(alpha_), comm_,
                      "-sampler_recns_alpha must be in [0, 1], or negative for U(0,1) (got %s)",
                      Format("%g", alpha_).c_str());
    candidates_ = (int)m;
    khop_ = (int)khop;
    region_kind_ = (RegionKind)region;
    weighting_ = (Weighting)weighting;
    merge_ = (Merge)merge;
    positive_assisted_ = assisted == PETSC_TRUE;
    exposure_augmented_ = augmented == PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    PetscCall(region_.Build(*graph_, khop_, region_kind_));
    RegionSummary summary;
    PetscCall(region_.Summarize(candidates_, &summary));
    PetscCall(PetscPrintf(comm_,
                          "recns sampler: %s region%s: %lld users, size mean %.1f min %lld "
                          "max %lld; built in %.3f s, %.1f MB on the largest rank; %lld users "
                          "with fewer than M = %d items in it draw uniform candidates\n",
                          kRegionKindNames[(int)region_kind_], Walks().c_str(), (long long)summary.users,
                          summary.mean_size, (long long)summary.min_size,
                          (long long)summary.max_size, summary.build_seconds,
                          (double)summary.max_bytes / 1e6, (long long)summary.users_below,
                          candidates_));
    if (exposure_augmented_ && !graph_->Info().has_exposure)
      PetscCall(PetscPrintf(comm_,
                            "recns sampler: %s has no /exposure split: every user's exposed "
                            "items Mu are its candidates C_u (as the reference code does)\n",
                            graph_->Info().path.c_str()));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// ", khop K" for the regions made of walks; the global region has none.
  std::string Walks() const {
    return region_kind_ == RegionKind::kGlobal ? "" : Format(", khop %d", khop_);
  }
  size_t PairBlock() const { return (size_t)candidates_ * (exposure_augmented_ ? 2 : 1); }

  /// Mu for a user: M of its exposed items (without replacement when it has at least M, with
  /// replacement otherwise), or its candidates when it has none.
  void DrawExposed(int32_t user, const int32_t* candidate, RandomStream* stream, int32_t* mu) {
    const int M = candidates_;
    int64_t count;
    const int32_t* exposed = ExposedItems(user, &count);
    if (count >= M) {
      drawn_.clear();
      DrawDistinctBelow((uint32_t)count, (uint32_t)M, stream, &drawn_);
      for (int e = 0; e < M; ++e) mu[e] = exposed[drawn_[e]];
    } else if (count > 0) {
      for (int e = 0; e < M; ++e) mu[e] = exposed[stream->NextBelow((uint32_t)count)];
    } else {
      std::copy(candidate, candidate + M, mu);
    }
  }

  /// P_k: k draws with replacement from the candidates with p(c) ∝ w(α_c s_uc + (1 − α_c) s_vc),
  /// each by inverting the cumulative weights at its uniform draw (the same sums, in the same
  /// order, on any rank).
  void ChoosePositiveAssisted(const double* positive, int d, const int32_t* candidate,
                              const double* alpha_draws, const double* choice_draws) {
    const int M = candidates_;
    cumulative_.resize(M);
    double total = 0;
    for (int c = 0; c < M; ++c) {
      const double alpha = alpha_draws ? alpha_draws[c] : alpha_;
      const double positive_score = Dot(positive, ItemRow(candidate[c]), d);
      const double weight = Sigmoid(alpha * user_scores_[c] + (1 - alpha) * positive_score);
      total += weighting_ == Weighting::kSigmoid ? weight : std::exp(weight);
      cumulative_[c] = total;
    }
    for (int t = 0; t < num_negatives_; ++t) {
      const double target = choice_draws[t] * total;
      const int c = (int)(std::upper_bound(cumulative_.begin(), cumulative_.end(), target) -
                          cumulative_.begin());
      chosen_[t] = candidate[std::min(c, M - 1)];
    }
  }

  /// x = argmax over Mu of σ(β_e s_ue), the first on ties. σ is increasing, so β_e s_ue is
  /// compared instead: the same choice, without the ties σ's rounding makes near 1.
  int32_t ChooseExposed(const double* user, int d, const int32_t* candidate, const int32_t* mu) {
    const int M = candidates_;
    auto in = [M](const int32_t* set, int32_t item) { return std::find(set, set + M, item) != set + M; };
    int64_t overlap = 0;
    for (int c = 0; c < M; ++c) overlap += in(mu, candidate[c]) ? 1 : 0;
    int32_t best = -1;
    double best_score = 0;
    for (int e = 0; e < M; ++e) {
      const double beta = in(candidate, mu[e]) ? (double)overlap : 1.0;
      const double score = beta * Dot(user, ItemRow(mu[e]), d);
      if (best < 0 || score > best_score) {
        best = mu[e];
        best_score = score;
      }
    }
    return best;
  }

  ItemRegion region_;
  int candidates_ = 20, khop_ = 3;
  RegionKind region_kind_ = RegionKind::kIntermediate;
  double alpha_ = -1;
  Weighting weighting_ = Weighting::kSigmoid;
  Merge merge_ = Merge::kPaper;
  bool positive_assisted_ = true, exposure_augmented_ = true;
  std::vector<int32_t> items_, drawn_, chosen_;
  std::vector<double> alpha_draws_, choice_draws_, user_scores_, cumulative_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_RecNS(MPI_Comm comm) {
  return std::make_unique<RecNSSampler>(comm);
}

}  // namespace recns
