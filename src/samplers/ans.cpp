// ANS, augmented negative sampling (Zhao et al., RecSys'23; ALGORITHMS §9): per negative, M
// uniform candidates, each split by a learned gate into hard and easy factors, its easy factor
// pushed towards the positive by a margin-bounded noise, and per layer the augmented candidate of
// highest score + ε·gain.
//
// For each pair, its k negatives take disjoint slices of M candidates, the pair's first k·M
// uniform draws (as DNS and MixGCF draw them). Per layer l = 0..L, with u, p and n the layer-l
// rows of the user, the positive and a candidate (the gates' weights are shared by the layers):
//   gate     g = σ((W_i n + b_i) ⊙ (W_u u + b_u))       (b_i, b_u only with -sampler_ans_gate_bias)
//   factors  n_hard = n ⊙ g, n_easy = n − n_hard, p_hard = p ⊙ g, p_easy = p − p_hard
//   margin   μ = σ(1 / D), D = w·(n_hard ⊙ p_hard) + b, with |D| raised to 1e-6 when below
//            it (keeping its sign, + for 0) and no gradient through D there [I]
//   noise    Δ = 0.1 μ r/‖r‖, r ~ U(0,1)^d from a counter stream of (epoch, pair, slot,
//            candidate, layer), so it is the same at any rank count and between the evaluations
//            of a finite-difference check
//   augment  ñ = n_hard + (n_easy + sign(p_easy − n_easy) ⊙ Δ) = n + sign(·) ⊙ Δ
//   choice   m*_l = argmax_m score(ñ_m) + ε (score(ñ_m) − score(n_m))   (ties: the earlier)
// where score is the paper's s(e_u, ·) of the final user row with what the layer row contributes
// to a final row (as MixGCF scores: ⟨q_l, x⟩, q_l = contribution_lᵀ(e_u)), or with
// -sampler_ans_score layer_sum the reference code's ⟨u_l, x⟩. The negative is the pooled
// Σ_l contribution_l(ñ_{m*_l, l}); its terms are (c*_l, l, 1) for l = 0..L, then, when γ > 0,
// every candidate of its slice with weight 0, so the step's halo brings every row the loss terms
// read; its L2 vector is the ego row of c*_0. Synthesize recomputes ñ from the current rows and
// blocks (the sign is piecewise constant, the noise and the choices are fixed), and
// SynthesizeBackward sends the gradient into the chosen rows, and through μ into w, b, the gates,
// n, p and u. The blocks take their width, the model's Dim, from the model's ego block.
//
// AddLoss adds γ times the contrastive and disentanglement losses over every candidate and layer,
// in the paper's forms (eq 5, 7: Σ_m over the slice, the mean over layers)
//   L_c = ⟨u, n_easy⟩ − ⟨u, n_hard⟩,  L_d = ‖p_hard − n_hard‖² + ⟨p_easy, n_easy⟩,
// or with -sampler_ans_losses code the reference code's: the mean over layers of
// ln(1 + Σ_m exp(⟨u, n_easy⟩ − ⟨u, n_hard⟩)), the mean over (m, l) of ‖n_hard − p_hard + 1e-6‖ and
// the mean over m of Σ_l ‖p_easy ⊙ n_easy‖ (norms, not squared). They train the gates, u, p and n.
#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

using Vector = Eigen::VectorXd;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXd>;
using VectorMap = Eigen::Map<Eigen::VectorXd>;
using ConstArray = Eigen::Map<const Eigen::ArrayXd>;
using ArrayMap = Eigen::Map<Eigen::ArrayXd>;

constexpr double kNoiseScale = 0.1;           // ‖Δ‖ = 0.1 μ (§9: the code's Δ)
constexpr double kDenominatorFloor = 1e-6;    // [I] the margin's |D| is at least this
constexpr double kDistanceOffset = 1e-6;      // the code's pairwise distance adds it
constexpr uint64_t kInitKey = 0x414E53;       // the key of the blocks' initial values

enum ScoreForm { kScoreFinal, kScoreLayerSum };
const char* const kScoreNames[] = {"final", "layer_sum"};
enum LossForm { kLossPaper, kLossCode };
const char* const kLossNames[] = {"paper", "code"};

/// r/‖r‖ for r ~ U(0,1)^d: a splitmix64 sequence seeded by one counter block.
void UnitNoise(const RngBlock& block, int d, double* r) {
  uint64_t state = ((uint64_t)block.v[0] << 32 | block.v[1]) ^
                   (((uint64_t)block.v[2] << 32 | block.v[3]) * 0x9E3779B97F4A7C15ull);
  double norm = 0;
  for (int j = 0; j < d; ++j) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r[j] = (double)(z >> 11) * (1.0 / 9007199254740992.0);
    norm += r[j] * r[j];
  }
  const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (int j = 0; j < d; ++j) r[j] = norm > 0 ? r[j] * scale : 1.0 / std::sqrt((double)d);
}

inline double Sign(double x) { return (double)((x > 0) - (x < 0)); }

/// The margin μ = σ(1/D) of D = w·(n ⊙ g ⊙ p ⊙ g) + b, with |D| raised to the floor.
struct Margin {
  double denominator = 0;
  bool clamped = false;
  double value = 0;
};

class AnsSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "ans"; }
  bool ReadsGatheredRows() const override { return true; }
  bool MixesLayers() const override { return true; }
  std::string Describe() const override {
    return Format("ans (M=%d, gamma=%g, epsilon=%g, score %s, losses %s%s)", candidates_, gamma_,
                  epsilon_, kScoreNames[score_], kLossNames[losses_], gate_bias_ ? ", gate bias" : "");
  }

  /// The blocks take the model's Dim from its ego block, which comes first in the objective's
  /// list (the model's blocks, then the sampler's); a list without it (the checkpoint's list of
  /// the sampler's blocks) gets the blocks as they are.
  void GetParameters(ParameterList* params) override {
    int d = (int)w_user_.rows();
    for (const Parameter& p : *params)
      if (p.scope == ParamScope::kOwnedRows) {
        d = (int)p.value->cols();
        break;
      }
    if (d == 0) return;
    if (w_user_.rows() != d) Initialize(d);
    auto add = [&](const char* name, RowMatrix* value, RowMatrix* grad) {
      params->push_back(SharedBlock(Group(), name, value, grad));
    };
    add("user_gate", &w_user_, &w_user_grad_);
    add("item_gate", &w_item_, &w_item_grad_);
    add("margin_weight", &w_margin_, &w_margin_grad_);
    add("margin_bias", &b_margin_, &b_margin_grad_);
    if (gate_bias_) {
      add("user_gate_bias", &b_user_, &b_user_grad_);
      add("item_gate_bias", &b_item_, &b_item_grad_);
    }
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    const Model& model = *context.model;
    const int layers = model.NumLayers(), d = model.Dim(), k = num_negatives_, M = candidates_;
    PetscCheck(w_user_.rows() == d, comm_, PETSC_ERR_ARG_WRONGSTATE,
               "-sampler_type ans: its blocks are not set up for -model_dim %d (GetParameters)", d);
    const size_t pairs = batch.Size(), per_pair = (size_t)k * M, width = (size_t)layers + 1;
    DrawCandidates(context, batch, &items_);
    // The candidates' rows, then the positives' (the direction of each augmentation).
    items_.insert(items_.end(), batch.item.begin(), batch.item.end());
    PetscCall(GatherItemLayerRows(context, items_));

    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    pair_user_.assign(batch.user.begin(), batch.user.end());
    pair_positive_.assign(batch.item.begin(), batch.item.end());
    noise_.resize(pairs * k * width * d);
    chosen_.resize(pairs * k * width);
    rows_.resize(items_.size() * width);
    for (size_t c = 0; c < items_.size(); ++c) ItemLayerRows(items_[c], &rows_[c * width]);
    // Layer by layer, every candidate's pre-gate W_i n and every user's gate W_u u at once.
    Vector q(d), r(d), g(d);
    for (int l = 0; l <= layers; ++l) {
      LayerRows(pairs * per_pair, [&](size_t c) { return rows_[c * width + l]; }, d, &candidate_rows_);
      pre_gates_.noalias() = candidate_rows_ * w_item_.transpose();
      LayerRows(pairs, [&](size_t b) { return model.Layer(l).row(batch.user[b]).data(); }, d, &user_rows_);
      UserGates(user_rows_, &user_gates_);
      for (size_t b = 0; b < pairs; ++b) {
        const double* u = user_rows_.row((Eigen::Index)b).data();
        const double* p = rows_[(pairs * per_pair + b) * width + l];
        if (score_ == kScoreFinal) {
          q.setZero();
          model.AddLayerContributionGrad(l, UserRow(context, batch.user[b]), 1.0, q.data());
        } else {
          q = ConstVectorMap(u, d);
        }
        for (int s = 0; s < k; ++s) {
          int best = -1;
          double best_value = 0;
          for (int m = 0; m < M; ++m) {
            const Eigen::Index row = (Eigen::Index)(b * per_pair + (size_t)s * M + m);
            const double* n = candidate_rows_.row(row).data();
            ItemGate(pre_gates_.row(row).data(), user_gates_.row((Eigen::Index)b).data(), d, g.data());
            const Margin margin = MarginOf(n, p, g.data(), d);
            UnitNoise(NoiseBlock(context, batch.pair[b], s, m, l), d, r.data());
            double along = 0, base = 0;  // ⟨q, sign(p_easy − n_easy) ⊙ r̂⟩ and ⟨q, n⟩
            for (int j = 0; j < d; ++j) {
              along += q[j] * Direction(n[j], p[j], g[j]) * r[j];
              base += q[j] * n[j];
            }
            const double gain = kNoiseScale * margin.value * along;
            const double value = base + gain + epsilon_ * gain;
            if (best < 0 || value > best_value) {
              best = m;
              best_value = value;
            }
          }
          const size_t slot = b * k + s;
          chosen_[slot * width + l] = best;
          UnitNoise(NoiseBlock(context, batch.pair[b], s, best, l), d, noise_.data() + (slot * width + l) * d);
        }
      }
    }
    negatives->Reset(k);
    negatives->DeclareLayerTerms();
    negatives->DeclareL2Vectors();
    for (size_t b = 0; b < pairs; ++b)
      for (int s = 0; s < k; ++s) {
        const int32_t* candidate = items_.data() + b * per_pair + (size_t)s * M;
        const int* chosen = chosen_.data() + (b * k + s) * width;
        for (int l = 0; l <= layers; ++l) negatives->AddTerm(candidate[chosen[l]], l, 1.0);
        // The loss terms read every candidate: weight-0 terms bring their rows into the step.
        if (gamma_ > 0)
          for (int m = 0; m < M; ++m) negatives->AddTerm(candidate[m], 0, 0.0);
        negatives->EndNegative();
        negatives->AddL2Term(candidate[chosen[0]], 1.0);
        negatives->EndL2();
      }
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  void Synthesize(const StepRows& rows, const Negatives& negatives, int64_t slot,
                  double* value) const override {
    const Model& model = rows.GetModel();
    const int layers = model.NumLayers(), d = model.Dim();
    std::fill(value, value + model.FinalWidth(), 0.0);
    Vector augmented(d), c(d), a(d), g(d);
    for (int l = 0; l <= layers; ++l) {
      const Layer at = LayerOf(rows, negatives, slot, l);
      UserGate(at.u, c.data());
      a.noalias() = w_item_ * ConstVectorMap(at.n, d);
      ItemGate(a.data(), c.data(), d, g.data());
      const Margin margin = MarginOf(at.n, at.p, g.data(), d);
      for (int j = 0; j < d; ++j)
        augmented[j] = at.n[j] + Direction(at.n[j], at.p[j], g[j]) * kNoiseScale * margin.value * at.noise[j];
      model.AddLayerContribution(l, augmented.data(), 1.0, value);
    }
  }

  void SynthesizeBackward(StepRows* rows, const Negatives& negatives, int64_t slot,
                          const double* value_grad) const override {
    const Model& model = rows->GetModel();
    const int layers = model.NumLayers(), d = model.Dim();
    Vector dn(d), c(d), a(d), g(d), dz(d), dp(d);
    for (int l = 0; l <= layers; ++l) {
      const Layer at = LayerOf(*rows, negatives, slot, l);
      dn.setZero();
      model.AddLayerContributionGrad(l, value_grad, 1.0, dn.data());
      UserGate(at.u, c.data());
      a.noalias() = w_item_ * ConstVectorMap(at.n, d);
      if (gate_bias_) a += b_item_.row(0).transpose();
      ItemGate(a.data(), c.data(), d, g.data(), /*biased=*/true);
      const Margin margin = MarginOf(at.n, at.p, g.data(), d);
      double dmargin = 0;
      for (int j = 0; j < d; ++j) dmargin += dn[j] * Direction(at.n[j], at.p[j], g[j]) * at.noise[j];
      dmargin *= kNoiseScale;
      // dL/dD: σ'(1/D) · (−1/D²), none where D was clamped.
      const double dden =
          margin.clamped ? 0.0
                         : -dmargin * margin.value * (1 - margin.value) / (margin.denominator * margin.denominator);
      double* n_grad = rows->ItemLayerGrad(l, at.n_item);
      VectorMap(n_grad, d) += dn;
      if (dden == 0) continue;
      // D = Σ_j w_j n_j p_j g_j² + b.
      b_margin_grad_(0, 0) += dden;
      for (int j = 0; j < d; ++j) {
        const double dx = dden * w_margin_(0, j), g2 = g[j] * g[j];
        w_margin_grad_(0, j) += dden * at.n[j] * at.p[j] * g2;
        n_grad[j] += dx * at.p[j] * g2;
        dp[j] = dx * at.n[j] * g2;
        dz[j] = dx * at.n[j] * at.p[j] * 2 * g[j] * g[j] * (1 - g[j]);  // through g = σ(z)
      }
      VectorMap(rows->ItemLayerGrad(l, at.p_item), d) += dp;
      GateBackward(dz, a, c, at.n, n_grad, at.u, rows->UserLayerGrad(l, at.user), d);
    }
  }

  PetscErrorCode AddLoss(StepRows* rows, const Batch& batch, const Negatives& negatives,
                         double scale, double* loss) override {
    PetscFunctionBeginUser;
    if (gamma_ == 0 || batch.Size() == 0) PetscFunctionReturn(PETSC_SUCCESS);
    const Model& model = rows->GetModel();
    const int layers = model.NumLayers(), d = model.Dim(), k = num_negatives_, M = candidates_;
    const size_t pairs = batch.Size(), per_pair = (size_t)k * M;
    const double per_layer = 1.0 / (layers + 1), weight = gamma_ * scale;
    // Candidate m of negative (b, s) is row (b·k + s)·M + m; its item is the negative's term
    // L + 1 + m.
    auto candidate = [&](size_t c) {
      const size_t slot = c / (size_t)M;
      return negatives.item[(size_t)negatives.offset[slot] + (size_t)layers + 1 + c % (size_t)M];
    };
    RowMatrix positive_rows, candidate_grads, pre_gate_grads, user_grads, positive_grads, user_gate_grads;
    Eigen::ArrayXd dg(d);
    Vector y(M), lse_weight(M);
    double total = 0;
    for (int l = 0; l <= layers; ++l) {
      LayerRows(pairs * per_pair, [&](size_t c) { return rows->ItemLayer(l, candidate(c)); }, d,
                &candidate_rows_);
      LayerRows(pairs, [&](size_t b) { return rows->UserLayer(l, batch.user[b]); }, d, &user_rows_);
      LayerRows(pairs, [&](size_t b) { return rows->ItemLayer(l, batch.item[b]); }, d, &positive_rows);
      pre_gates_.noalias() = candidate_rows_ * w_item_.transpose();
      if (gate_bias_) pre_gates_.rowwise() += b_item_.row(0);
      UserGates(user_rows_, &user_gates_);
      gates_.resize(candidate_rows_.rows(), d);
      candidate_grads.resize(candidate_rows_.rows(), d);
      pre_gate_grads.resize(candidate_rows_.rows(), d);
      user_grads = RowMatrix::Zero((Eigen::Index)pairs, d);
      positive_grads = RowMatrix::Zero((Eigen::Index)pairs, d);
      user_gate_grads = RowMatrix::Zero((Eigen::Index)pairs, d);
      for (size_t b = 0; b < pairs; ++b) {
        const double* u = user_rows_.row((Eigen::Index)b).data();
        const double* p = positive_rows.row((Eigen::Index)b).data();
        const double* c = user_gates_.row((Eigen::Index)b).data();
        for (int s = 0; s < k; ++s) {
          const Eigen::Index first = (Eigen::Index)(b * per_pair + (size_t)s * M);
          // The contrastive scores y_m = ⟨u, n_easy − n_hard⟩ = ⟨u, n ⊙ (1 − 2g)⟩.
          for (int m = 0; m < M; ++m) {
            double* g = gates_.row(first + m).data();
            ItemGate(pre_gates_.row(first + m).data(), c, d, g, true);
            y[m] = (ConstArray(u, d) * ConstArray(candidate_rows_.row(first + m).data(), d) *
                    (1 - 2 * ConstArray(g, d)))
                       .sum();
          }
          if (losses_ == kLossCode) {  // ln(1 + Σ_m exp y_m) and its weights dL/dy_m
            const double top = std::max(0.0, y.maxCoeff());
            lse_weight = (y.array() - top).exp();
            const double sum = std::exp(-top) + lse_weight.sum();
            total += per_layer * (top + std::log(sum));
            lse_weight *= per_layer / sum;
          } else {
            total += per_layer * y.sum();
            lse_weight.setConstant(per_layer);
          }
          const ConstArray uu(u, d), pp(p, d), cc(c, d);
          ArrayMap du(user_grads.row((Eigen::Index)b).data(), d);
          ArrayMap dp(positive_grads.row((Eigen::Index)b).data(), d);
          ArrayMap dc(user_gate_grads.row((Eigen::Index)b).data(), d);
          for (int m = 0; m < M; ++m) {
            const ConstArray nn(candidate_rows_.row(first + m).data(), d);
            const ConstArray g(gates_.row(first + m).data(), d);
            ArrayMap dn(candidate_grads.row(first + m).data(), d);
            const double wc = lse_weight[m];
            du += wc * nn * (1 - 2 * g);
            dn = wc * uu * (1 - 2 * g);
            dg = -2 * wc * uu * nn;
            if (losses_ == kLossPaper) {
              // ‖(p − n) ⊙ g‖² + ⟨p ⊙ (1 − g), n ⊙ (1 − g)⟩, per layer.
              const auto diff = pp - nn;
              const auto easy = (1 - g).square();
              total += per_layer * ((diff * g).square().sum() + (pp * nn * easy).sum());
              dp += per_layer * (2 * diff * g.square() + nn * easy);
              dn += per_layer * (-2 * diff * g.square() + pp * easy);
              dg += per_layer * (2 * diff.square() * g - 2 * pp * nn * (1 - g));
            } else {
              // The mean over (m, l) of ‖(n − p) ⊙ g + 1e-6‖, the mean over m of
              // Σ_l ‖p ⊙ n ⊙ (1 − g)²‖.
              const double w1 = per_layer / M, w2 = 1.0 / M;
              const auto e1 = (nn - pp) * g + kDistanceOffset;
              const auto e2 = pp * nn * (1 - g).square();
              const double norm1 = std::sqrt(e1.square().sum()), norm2 = std::sqrt(e2.square().sum());
              total += w1 * norm1 + w2 * norm2;
              if (norm1 > 0) {
                dn += (w1 / norm1) * e1 * g;
                dp -= (w1 / norm1) * e1 * g;
                dg += (w1 / norm1) * e1 * (nn - pp);
              }
              if (norm2 > 0) {
                dp += (w2 / norm2) * e2 * nn * (1 - g).square();
                dn += (w2 / norm2) * e2 * pp * (1 - g).square();
                dg += (w2 / norm2) * e2 * -2 * pp * nn * (1 - g);
              }
            }
            // Through g = σ(a ⊙ c): the candidate's pre-gate and the user's gate.
            const auto dz = dg * g * (1 - g);
            ArrayMap(pre_gate_grads.row(first + m).data(), d) = dz * cc;
            dc += dz * ConstArray(pre_gates_.row(first + m).data(), d);
          }
        }
      }
      // a = W_i n + b_i for every candidate, c = W_u u + b_u for every user.
      w_item_grad_.noalias() += weight * pre_gate_grads.transpose() * candidate_rows_;
      candidate_grads.noalias() += pre_gate_grads * w_item_;
      w_user_grad_.noalias() += weight * user_gate_grads.transpose() * user_rows_;
      user_grads.noalias() += user_gate_grads * w_user_;
      if (gate_bias_) {
        b_item_grad_.row(0) += weight * pre_gate_grads.colwise().sum();
        b_user_grad_.row(0) += weight * user_gate_grads.colwise().sum();
      }
      for (size_t c = 0; c < pairs * per_pair; ++c)
        VectorMap(rows->ItemLayerGrad(l, candidate(c)), d) += weight * candidate_grads.row((Eigen::Index)c).transpose();
      for (size_t b = 0; b < pairs; ++b) {
        VectorMap(rows->UserLayerGrad(l, batch.user[b]), d) += weight * user_grads.row((Eigen::Index)b).transpose();
        VectorMap(rows->ItemLayerGrad(l, batch.item[b]), d) += weight * positive_grads.row((Eigen::Index)b).transpose();
      }
    }
    *loss += weight * total;
    PetscFunctionReturn(PETSC_SUCCESS);
  }


 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    PetscInt m = candidates_;
    PetscInt score = score_, losses = losses_;
    PetscBool bias = gate_bias_ ? PETSC_TRUE : PETSC_FALSE;
    PetscOptionsHeadBegin(PetscOptionsObject, "ANS sampler options");
    PetscCall(PetscOptionsInt("-sampler_ans_candidates",
                              "ANS: uniform candidates M per negative, each augmented and the best "
                              "taken per layer (the paper tries 2 to 32)",
                              "Sampler", m, &m, nullptr));
    PetscCall(PetscOptionsReal("-sampler_ans_gamma",
                               "ANS: weight gamma of the contrastive and disentanglement losses, "
                               "summed over the M candidates (the paper searches [0, 1] and gives "
                               "no value; 0: no such losses)",
                               "Sampler", gamma_, &gamma_, nullptr));
    PetscCall(PetscOptionsReal("-sampler_ans_epsilon",
                               "ANS: weight epsilon of the augmentation gain in the choice, "
                               "argmax score + epsilon gain (the paper searches [0, 1])",
                               "Sampler", epsilon_, &epsilon_, nullptr));
    PetscCall(PetscOptionsEList("-sampler_ans_score",
                                "ANS: score of the choice: final (the paper's s(e_u, .) with the "
                                "final user row, as the model pools the layer) or layer_sum (the "
                                "reference code's <u_l, .> with the user's layer row)",
                                "Sampler", kScoreNames, 2, kScoreNames[score], &score, nullptr));
    PetscCall(PetscOptionsEList("-sampler_ans_losses",
                                "ANS: forms of the contrastive and disentanglement losses: paper "
                                "(eq 5, 7) or code (log-sum-exp contrast, norms, not squared)",
                                "Sampler", kLossNames, 2, kLossNames[losses], &losses, nullptr));
    PetscCall(PetscOptionsBool("-sampler_ans_gate_bias",
                               "ANS: biases b_u, b_i in the gates (the reference code's Linear "
                               "layers; the paper has none)",
                               "Sampler", bias, &bias, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(m >= 1, comm_, "-sampler_ans_candidates must be >= 1 (got %d)", (int)m);
    RECNS_CHECK_INPUT(gamma_ >= 0, comm_, "-sampler_ans_gamma must be >= 0 (got %g)", gamma_);
    RECNS_CHECK_INPUT(epsilon_ >= 0, comm_, "-sampler_ans_epsilon must be >= 0 (got %g)", epsilon_);
    candidates_ = (int)m;
    score_ = (ScoreForm)score;
    losses_ = (LossForm)losses;
    gate_bias_ = bias == PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// The layer-l rows Synthesize and its backward read for a negative.
  struct Layer {
    int32_t user, n_item, p_item;
    const double *u, *n, *p, *noise;
  };
  Layer LayerOf(const StepRows& rows, const Negatives& negatives, int64_t slot, int l) const {
    const int layers = rows.GetModel().NumLayers(), d = rows.GetModel().Dim();
    const size_t b = (size_t)slot / (size_t)num_negatives_;
    Layer at;
    at.user = pair_user_[b];
    at.p_item = pair_positive_[b];
    at.n_item = negatives.item[(size_t)(negatives.offset[slot] + l)];
    at.u = rows.UserLayer(l, at.user);
    at.n = rows.ItemLayer(l, at.n_item);
    at.p = rows.ItemLayer(l, at.p_item);
    at.noise = noise_.data() + ((size_t)slot * (layers + 1) + l) * d;
    return at;
  }

  /// The pair's uniform candidates, k·M per pair in pair order: the first k·M draws of the pair's
  /// stream, as DNS draws them.
  void DrawCandidates(const SampleContext& context, const Batch& batch, std::vector<int32_t>* items) const {
    const size_t per_pair = (size_t)num_negatives_ * candidates_;
    items->resize(batch.Size() * per_pair);
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      for (size_t c = 0; c < per_pair; ++c)
        (*items)[b * per_pair + c] = DrawUniformNegative(*graph_, batch.user[b], &stream);
    }
  }

  /// The counter block of the noise of (pair, slot, candidate, layer) in this epoch.
  RngBlock NoiseBlock(const SampleContext& context, int64_t pair, int s, int m, int l) const {
    const int width = context.model->NumLayers() + 1;
    return RandomBlock(context.seed, RngPurpose::kSampler, context.epoch, (uint64_t)pair | StreamTag(),
                       (uint32_t)(((int64_t)s * candidates_ + m) * width + l));
  }

  /// sign(p_easy − n_easy) of one entry.
  static double Direction(double n, double p, double g) { return Sign(p * (1 - g) - n * (1 - g)); }

  /// The `count` rows row(i) (Dim values each) into `out`.
  template <class Row>
  static void LayerRows(size_t count, Row row, int d, RowMatrix* out) {
    out->resize((Eigen::Index)count, d);
    for (size_t i = 0; i < count; ++i) out->row((Eigen::Index)i) = Eigen::Map<const Eigen::RowVectorXd>(row(i), d);
  }
  /// c = W_u u (+ b_u) for every row of `users`.
  void UserGates(const RowMatrix& users, RowMatrix* gates) const {
    gates->noalias() = users * w_user_.transpose();
    if (gate_bias_) gates->rowwise() += b_user_.row(0);
  }
  /// c = W_u u (+ b_u).
  void UserGate(const double* u, double* c) const {
    const int d = (int)w_user_.rows();
    VectorMap(c, d).noalias() = w_user_ * ConstVectorMap(u, d);
    if (gate_bias_) VectorMap(c, d) += b_user_.row(0).transpose();
  }
  /// g = σ(a ⊙ c) from the item's pre-gate a = W_i n, with b_i added here unless `biased`.
  /// Row by row with Eigen's vectorised exp, so a row's values do not depend on where it lies.
  void ItemGate(const double* a, const double* c, int d, double* g, bool biased = false) const {
    using Array = Eigen::Map<const Eigen::ArrayXd>;
    Eigen::Map<Eigen::ArrayXd> gate(g, d);
    if (gate_bias_ && !biased)
      gate = (Array(a, d) + b_item_.row(0).transpose().array()) * Array(c, d);
    else
      gate = Array(a, d) * Array(c, d);
    gate = 1.0 / (1.0 + (-gate).exp());
  }
  Margin MarginOf(const double* n, const double* p, const double* g, int d) const {
    double den = b_margin_(0, 0);
    for (int j = 0; j < d; ++j) den += w_margin_(0, j) * n[j] * p[j] * g[j] * g[j];
    Margin margin;
    margin.clamped = std::fabs(den) < kDenominatorFloor;
    margin.denominator = margin.clamped ? (den < 0 ? -kDenominatorFloor : kDenominatorFloor) : den;
    margin.value = Sigmoid(1.0 / margin.denominator);
    return margin;
  }
  /// From dL/dz (z = a ⊙ c, a = W_i n + b_i biased, c = W_u u + b_u) into W_i, b_i, n and the
  /// user's side.
  void GateBackward(const Vector& dz, const Vector& a, const Vector& c, const double* n, double* n_grad,
                    const double* u, double* u_grad, int d) const {
    const Vector da = dz.cwiseProduct(c), dc = dz.cwiseProduct(a);
    w_item_grad_.noalias() += da * ConstVectorMap(n, d).transpose();
    if (gate_bias_) b_item_grad_.row(0) += da.transpose();
    VectorMap(n_grad, d).noalias() += w_item_.transpose() * da;
    UserGateBackward(dc, u, u_grad, d);
  }
  void UserGateBackward(const Vector& dc, const double* u, double* u_grad, int d) const {
    w_user_grad_.noalias() += dc * ConstVectorMap(u, d).transpose();
    if (gate_bias_) b_user_grad_.row(0) += dc.transpose();
    VectorMap(u_grad, d).noalias() += w_user_.transpose() * dc;
  }

  /// Every block at U(±1/√d), as PyTorch's Linear layers start, from counters of a fixed key: the
  /// same on every rank.
  void Initialize(int d) {
    const double bound = 1.0 / std::sqrt((double)d);
    auto fill = [&](uint64_t index, int rows, int cols, RowMatrix* value, RowMatrix* grad) {
      value->resize(rows, cols);
      *grad = RowMatrix::Zero(rows, cols);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          const RngBlock block = RandomBlock(kInitKey, RngPurpose::kSampler, 0, index | StreamTag(),
                                             (uint32_t)(r * cols + c));
          (*value)(r, c) = bound * (2 * UniformFromWords(block.v[0], block.v[1]) - 1);
        }
    };
    fill(0, d, d, &w_user_, &w_user_grad_);
    fill(1, d, d, &w_item_, &w_item_grad_);
    fill(2, 1, d, &w_margin_, &w_margin_grad_);
    fill(3, 1, 1, &b_margin_, &b_margin_grad_);
    fill(4, 1, d, &b_user_, &b_user_grad_);
    fill(5, 1, d, &b_item_, &b_item_grad_);
  }

  int candidates_ = 16;
  double gamma_ = 0.01, epsilon_ = 0.1;
  ScoreForm score_ = kScoreFinal;
  LossForm losses_ = kLossPaper;
  bool gate_bias_ = false;
  // The blocks, and their gradients (the synthesis's backward is const, as the sampler's rows).
  RowMatrix w_user_, w_item_, w_margin_, b_margin_, b_user_, b_item_;
  mutable RowMatrix w_user_grad_, w_item_grad_, w_margin_grad_, b_margin_grad_, b_user_grad_,
      b_item_grad_;
  // The step's choices: per pair its user and positive, per (negative, layer) the chosen noise.
  std::vector<int32_t> items_, pair_user_, pair_positive_;
  std::vector<int> chosen_;
  std::vector<double> noise_;
  std::vector<const double*> rows_;
  // Work arrays of one layer: every candidate's row, pre-gate and gate, every user's row and gate.
  RowMatrix candidate_rows_, pre_gates_, gates_, user_rows_, user_gates_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_ANS(MPI_Comm comm) { return std::make_unique<AnsSampler>(comm); }

}  // namespace recns
