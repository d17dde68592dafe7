// AutoSample (ALGORITHMS §10, decision 7): a search over candidate samplers by loss-level
// weighting. Each candidate (a registered sampler with options prefix autosample_<type>_ and an
// instance of its own, so its own random streams) draws k negatives per positive; the pair's
// k·T negatives come in T groups of k slots, group t from candidate t, and the loss is
// Σ_t p_t L_t + L2, L_t the pair loss with candidate t's negatives (BPR for k = 1). The weights
//   p = softmax((ln softmax(θ) + g) / τ) = softmax((θ + g) / τ),
// θ ∈ R^T learnable logits (a shared block, initialised to 0, with a learning rate of its own),
// g_t = -ln(-ln U_t) Gumbel noise drawn once per global step from the counter stream
// (seed, epoch, step): every rank, and any rank count, uses the same p. With straight-through the
// loss takes the one-hot of the largest p and the gradient the soft p. The gradient of θ is
//   dL/dθ_i = p_i (L_i - Σ_t p_t L_t) / τ,
// linear in the L_t: each rank adds its own pairs' share and the step's reduction of shared
// gradients sums them, at no extra message. τ goes geometrically from -sampler_autosample_tau to
// -sampler_autosample_tau_final over the search epochs.
//
// After -sampler_autosample_search_epochs epochs (0: no limit), or earlier when early stopping
// would end the search (the paper searches to convergence), the retrain stage starts from the best evaluated parameters (NextStage asks the trainer for them): the
// candidate of largest softmax(θ) alone (decision 7), or with -sampler_autosample_retrain mixture
// all of them with the weights frozen at softmax(θ). The stage and the frozen weights are part of
// the checkpoint.
//
// Interpretations [I]: the L2 term is the usual one over every row of the step, each of the T·k
// negatives counted once whatever its weight; a candidate's own loss terms (AddLoss; none of the
// paper's four has any) are added unweighted and do not enter θ's gradient.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "recns/checkpoint.hpp"
#include "recns/error.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

// The Gumbel draws' stream index: a tag above the step (SRNS's kSampler tags are 1..3 << 52).
constexpr uint64_t kGumbelStream = 4ull << 52;

enum class Stage : int64_t { kSearch = 0, kSingle = 1, kMixture = 2 };
const char* const kRetrainNames[] = {"single", "mixture"};

class AutoSampleSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "autosample"; }

  std::string Describe() const override {
    std::string text = "autosample (";
    for (size_t t = 0; t < candidates_.size(); ++t)
      text += (t ? ", " : "") + candidates_[t]->Describe();
    text += Format("; tau %g", tau_);
    if (tau_final_ != tau_) text += Format(" to %g", tau_final_);
    if (straight_through_) text += ", straight-through";
    text += search_epochs_ > 0 ? Format("; %d search epochs at most", search_epochs_) : "; search to convergence";
    text += Format(", then %s", kRetrainNames[retrain_mixture_ ? 1 : 0]);
    if (stage_ == Stage::kSingle) text += "; retraining with " + names_[(size_t)chosen_];
    if (stage_ == Stage::kMixture) text += "; retraining with the frozen mixture";
    return text + ")";
  }

  bool ScoresItems() const override {
    bool any = false;
    for (size_t t : Active()) any = any || candidates_[t]->ScoresItems();
    return any;
  }
  // Only when every candidate does: a candidate that does not would read rows no gather computed.
  bool ReadsGatheredRows() const override {
    bool all = true;
    for (size_t t : Active()) all = all && candidates_[t]->ReadsGatheredRows();
    return all;
  }
  bool MixesLayers() const override {
    bool any = false;
    for (const auto& candidate : candidates_) any = any || candidate->MixesLayers();
    return any;
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    if (stage_ == Stage::kSingle) {
      PetscCall(candidates_[(size_t)chosen_]->Sample(context, batch, &sub_[(size_t)chosen_]));
      PetscCall(Merge(batch, negatives));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    for (size_t t = 0; t < candidates_.size(); ++t)
      PetscCall(candidates_[t]->Sample(context, batch, &sub_[t]));
    PetscCall(Merge(batch, negatives));
    if (stage_ == Stage::kSearch) {
      DrawGumbel(context.seed, context.epoch, context.step, &gumbel_);
      step_tau_ = TauAt((int)context.epoch);
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  void GroupWeights(const Negatives&, double* weights) const override {
    const size_t T = candidates_.size();
    if (stage_ == Stage::kMixture) {
      std::copy(frozen_.begin(), frozen_.end(), weights);
      return;
    }
    std::vector<double> p(T);
    Relaxed(&p);
    if (!straight_through_) {
      std::copy(p.begin(), p.end(), weights);
      return;
    }
    const size_t best = (size_t)(std::max_element(p.begin(), p.end()) - p.begin());
    for (size_t t = 0; t < T; ++t) weights[t] = t == best ? 1.0 : 0.0;
  }

  void Synthesize(const StepRows& rows, const Negatives& negatives, int64_t slot,
                  double* value) const override {
    int64_t sub_slot;
    const size_t t = Owner(negatives, slot, &sub_slot);
    candidates_[t]->Synthesize(rows, sub_[t], sub_slot, value);
  }
  void SynthesizeBackward(StepRows* rows, const Negatives& negatives, int64_t slot,
                          const double* value_grad) const override {
    int64_t sub_slot;
    const size_t t = Owner(negatives, slot, &sub_slot);
    candidates_[t]->SynthesizeBackward(rows, sub_[t], sub_slot, value_grad);
  }

  PetscErrorCode AddLoss(StepRows* rows, const Batch& batch, const Negatives& /*negatives*/,
                         double scale, double* loss) override {
    PetscFunctionBeginUser;
    for (size_t t : Active()) PetscCall(candidates_[t]->AddLoss(rows, batch, sub_[t], scale, loss));
    if (stage_ != Stage::kSearch) PetscFunctionReturn(PETSC_SUCCESS);
    // dL/dθ_i = p_i (L_i - Σ_t p_t L_t) / τ with this rank's group losses (linear in them).
    const std::vector<double>& losses = rows->GroupLosses();
    const size_t T = candidates_.size();
    std::vector<double> p(T);
    Relaxed(&p);
    double mean = 0;
    for (size_t t = 0; t < T; ++t) mean += p[t] * losses[t];
    for (size_t t = 0; t < T; ++t) logits_grad_(0, (Eigen::Index)t) += p[t] * (losses[t] - mean) / step_tau_;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  void GetParameters(ParameterList* params) override {
    Parameter logits = SharedBlock(Group(), "logits", &logits_, &logits_grad_);
    logits.lr = lr_;
    params->push_back(logits);
    for (const auto& candidate : candidates_) candidate->GetParameters(params);
  }

  PetscErrorCode EndEpoch(const SampleContext& context) override {
    PetscFunctionBeginUser;
    for (size_t t : Active()) PetscCall(candidates_[t]->EndEpoch(context));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  std::vector<std::string> StatisticNames() const override {
    std::vector<std::string> names;
    for (const std::string& name : names_) names.push_back("autosample_alpha_" + name);
    return names;
  }
  /// softmax(θ) during the search, the frozen weights (or the one-hot choice) after it.
  void Statistics(std::vector<double>* values) const override {
    std::vector<double> alpha(candidates_.size());
    if (stage_ == Stage::kSearch) Alpha(&alpha);
    else if (stage_ == Stage::kMixture) alpha = frozen_;
    else for (size_t t = 0; t < alpha.size(); ++t) alpha[t] = (int64_t)t == chosen_ ? 1.0 : 0.0;
    values->insert(values->end(), alpha.begin(), alpha.end());
  }

  /// The search ends after its epochs, or earlier when early stopping finds it converged.
  PetscErrorCode NextStage(int epochs_done, bool stopping, bool* restore_best) override {
    PetscFunctionBeginUser;
    *restore_best = false;
    if (stage_ != Stage::kSearch || (epochs_done != search_epochs_ && !stopping))
      PetscFunctionReturn(PETSC_SUCCESS);
    std::vector<double> alpha(candidates_.size());
    Alpha(&alpha);
    frozen_ = alpha;
    SetStage(retrain_mixture_ ? Stage::kMixture : Stage::kSingle,
             (int64_t)(std::max_element(alpha.begin(), alpha.end()) - alpha.begin()));
    std::string weights;
    for (size_t t = 0; t < alpha.size(); ++t)
      weights += Format("%s%s %.4f", t ? ", " : "", names_[t].c_str(), alpha[t]);
    PetscCall(PetscPrintf(comm_, "autosample: search over after %d epochs (alpha: %s); retraining with %s\n",
                          epochs_done, weights.c_str(),
                          retrain_mixture_ ? "the frozen mixture" : names_[(size_t)chosen_].c_str()));
    *restore_best = true;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode Save(CheckpointFile& file) const override {
    PetscFunctionBeginUser;
    PetscCall(file.WriteAttribute(Group(), "autosample_stage", (int64_t)stage_));
    PetscCall(file.WriteAttribute(Group(), "autosample_chosen", chosen_));
    PetscCall(file.WriteAttribute(Group(), "autosample_candidates", Join()));
    PetscCall(file.WriteRows(Group() + "/autosample_frozen", RowScope::kShared, frozen_.data(),
                             (int64_t)frozen_.size(), 1));
    for (const auto& candidate : candidates_) PetscCall(candidate->Save(file));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode Load(CheckpointFile& file) override {
    PetscFunctionBeginUser;
    std::string saved;
    PetscCall(file.ReadAttribute(Group(), "autosample_candidates", &saved));
    RECNS_CHECK_INPUT(saved == Join(), comm_,
                      "checkpoint '%s' searched over the candidates %s; this run has "
                      "-%ssampler_autosample_candidates %s",
                      file.Path().c_str(), saved.c_str(), prefix_.c_str(), Join().c_str());
    int64_t stage, chosen;
    PetscCall(file.ReadAttribute(Group(), "autosample_stage", &stage));
    PetscCall(file.ReadAttribute(Group(), "autosample_chosen", &chosen));
    RECNS_CHECK_INPUT(stage >= 0 && stage <= 2 && chosen >= 0 && chosen < (int64_t)candidates_.size(),
                      comm_, "checkpoint '%s': AutoSample's stage %lld or chosen candidate %lld is out of range",
                      file.Path().c_str(), (long long)stage, (long long)chosen);
    PetscCall(file.ReadRows(Group() + "/autosample_frozen", RowScope::kShared, frozen_.data(),
                            (int64_t)frozen_.size(), 1));
    SetStage((Stage)stage, chosen);
    for (const auto& candidate : candidates_) PetscCall(candidate->Load(file));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// The Gumbel noise of a step, g_t = -ln(-ln U_t) with U_t in (0, 1): one stream per
  /// (seed, epoch, step), the same on every rank.
  void DrawGumbel(uint64_t seed, uint32_t epoch, int64_t step, std::vector<double>* g) const {
    RandomStream stream(seed, RngPurpose::kSampler, epoch, kGumbelStream | (uint64_t)step | StreamTag());
    g->resize(candidates_.size());
    for (double& value : *g) value = -std::log(-std::log(stream.NextUniform() + 0x1p-54));
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    char list[PETSC_MAX_PATH_LEN];
    PetscCall(PetscStrncpy(list, Join().c_str(), sizeof list));
    PetscBool straight = straight_through_ ? PETSC_TRUE : PETSC_FALSE;
    PetscInt search = search_epochs_, retrain = retrain_mixture_ ? 1 : 0;
    PetscBool tau_final_set = PETSC_FALSE;
    PetscOptionsHeadBegin(PetscOptionsObject, "AutoSample sampler options");
    PetscCall(PetscOptionsString("-sampler_autosample_candidates",
                                 "AutoSample: comma list of the candidate sampler types; each reads "
                                 "its options with the prefix autosample_<type>_ (e.g. "
                                 "-autosample_dns_sampler_dns_candidates 16) and draws "
                                 "-sampler_num_negatives negatives per positive",
                                 "Sampler", list, list, sizeof list, nullptr));
    PetscCall(PetscOptionsReal("-sampler_autosample_lr",
                               "AutoSample: learning rate of the logits theta (the paper searches "
                               "3e-2 to 1e-5), following the optimizer's schedule",
                               "Sampler", lr_, &lr_, nullptr));
    PetscCall(PetscOptionsReal("-sampler_autosample_tau",
                               "AutoSample: Gumbel-softmax temperature tau > 0 of the first epoch "
                               "(the paper gives none)",
                               "Sampler", tau_, &tau_, nullptr));
    PetscCall(PetscOptionsReal("-sampler_autosample_tau_final",
                               "AutoSample: temperature of the last search epoch, reached "
                               "geometrically per epoch (default: -sampler_autosample_tau, no "
                               "annealing); needs -sampler_autosample_search_epochs",
                               "Sampler", tau_final_, &tau_final_, &tau_final_set));
    PetscCall(PetscOptionsBool("-sampler_autosample_straight_through",
                               "AutoSample: the loss takes the one-hot of the largest relaxed "
                               "weight and the logits' gradient the soft weights",
                               "Sampler", straight, &straight, nullptr));
    PetscCall(PetscOptionsInt("-sampler_autosample_search_epochs",
                              "AutoSample: epochs of the search stage (fewer when early stopping "
                              "ends it), after which training restarts from the best evaluated "
                              "parameters with the retrain sampler (0: no limit; without "
                              "-eval_patience the search then lasts the whole run)",
                              "Sampler", search, &search, nullptr));
    PetscCall(PetscOptionsEList("-sampler_autosample_retrain",
                                "AutoSample: retrain stage: the candidate of largest softmax(theta) "
                                "alone (single), or every candidate with the weights frozen at "
                                "softmax(theta) (mixture)",
                                "Sampler", kRetrainNames, 2, kRetrainNames[retrain], &retrain, nullptr));
    PetscOptionsHeadEnd();
    RECNS_CHECK_INPUT(lr_ >= 0 && std::isfinite(lr_), comm_,
                      "-%ssampler_autosample_lr must be a finite number >= 0 (got %s)", prefix_.c_str(),
                      Format("%g", lr_).c_str());
    if (!tau_final_set) tau_final_ = tau_;
    RECNS_CHECK_INPUT(tau_ > 0 && tau_final_ > 0 && std::isfinite(tau_) && std::isfinite(tau_final_),
                      comm_, "-%ssampler_autosample_tau and _tau_final must be finite numbers > 0",
                      prefix_.c_str());
    RECNS_CHECK_INPUT(search >= 0, comm_, "-%ssampler_autosample_search_epochs must be >= 0 (got %d)",
                      prefix_.c_str(), (int)search);
    RECNS_CHECK_INPUT(tau_final_ == tau_ || search > 0, comm_,
                      "-%ssampler_autosample_tau_final anneals over the search epochs: give "
                      "-%ssampler_autosample_search_epochs",
                      prefix_.c_str(), prefix_.c_str());
    straight_through_ = straight == PETSC_TRUE;
    search_epochs_ = (int)search;
    retrain_mixture_ = retrain == 1;
    RECNS_CHECK_INPUT(num_negatives_ >= 1, comm_, "-%ssampler_num_negatives must be >= 1 (got %d)",
                      prefix_.c_str(), num_negatives_);
    PetscCall(CreateCandidates(list));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    for (const auto& candidate : candidates_) PetscCall(candidate->SetUp(*graph_));
    const Eigen::Index T = (Eigen::Index)candidates_.size();
    logits_ = RowMatrix::Zero(1, T);
    logits_grad_ = RowMatrix::Zero(1, T);
    frozen_.assign((size_t)T, 1.0 / (double)T);
    sub_.resize((size_t)T);
    gumbel_.assign((size_t)T, 0.0);
    SetStage(Stage::kSearch, 0);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// Creates the candidates named in `list`. Under -help, every other registered type is created
  /// with its prefix too, so that -help lists (and the option check knows) the options of any list.
  PetscErrorCode CreateCandidates(const std::string& list) {
    PetscFunctionBeginUser;
    std::vector<std::string> names;
    std::stringstream in(list);
    for (std::string name; std::getline(in, name, ',');)
      if (!name.empty()) names.push_back(name);
    RECNS_CHECK_INPUT(!names.empty(), comm_, "-%ssampler_autosample_candidates names no sampler",
                      prefix_.c_str());
    for (size_t t = 0; t < names.size(); ++t) {
      RECNS_CHECK_INPUT(names[t] != Type(), comm_,
                        "-%ssampler_autosample_candidates: autosample cannot be its own candidate",
                        prefix_.c_str());
      RECNS_CHECK_INPUT(std::count(names.begin(), names.end(), names[t]) == 1, comm_,
                        "-%ssampler_autosample_candidates names %s twice", prefix_.c_str(),
                        names[t].c_str());
    }
    PetscBool help = PETSC_FALSE;
    PetscCall(PetscOptionsHasHelp(nullptr, &help));
    std::vector<std::string> created = names;
    if (help)
      for (const std::string& name : SamplerRegistry::Get().Names())
        if (name != Type() && std::find(names.begin(), names.end(), name) == names.end())
          created.push_back(name);
    candidates_.clear();
    for (size_t t = 0; t < created.size(); ++t) {
      std::unique_ptr<Sampler> candidate;
      PetscCall(SamplerRegistry::Get().Create("sampler", created[t], comm_, &candidate));
      candidate->SetOptionsPrefix(prefix_ + "autosample_" + created[t] + "_");
      candidate->SetInstance(instance_ + 1 + (uint32_t)t);
      candidate->SetNegativesPerPair(num_negatives_);
      PetscCall(candidate->SetFromOptions());
      RECNS_CHECK_INPUT(t >= names.size() || candidate->NegativesPerPair() == num_negatives_, comm_,
                        "-%sautosample_%s_sampler_num_negatives %d: every AutoSample candidate "
                        "draws -%ssampler_num_negatives (%d) negatives per positive",
                        prefix_.c_str(), created[t].c_str(), candidate->NegativesPerPair(),
                        prefix_.c_str(), num_negatives_);
      if (t < names.size()) candidates_.push_back(std::move(candidate));
    }
    names_ = names;
    per_candidate_ = num_negatives_;
    num_negatives_ = per_candidate_ * (int)candidates_.size();
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  std::string Join() const {
    std::string text;
    for (size_t t = 0; t < names_.size(); ++t) text += (t ? "," : "") + names_[t];
    return text.empty() ? "uniform,pns,dns,aobpr" : text;
  }

  /// The candidates that sample in the current stage.
  const std::vector<size_t>& Active() const { return active_; }
  void SetStage(Stage stage, int64_t chosen) {
    stage_ = stage;
    chosen_ = chosen;
    active_.clear();
    for (size_t t = 0; t < candidates_.size(); ++t)
      if (stage_ != Stage::kSingle || (int64_t)t == chosen_) active_.push_back(t);
  }

  double TauAt(int epoch) const {
    if (search_epochs_ <= 1 || tau_final_ == tau_) return tau_;
    const double progress = (double)std::min(epoch, search_epochs_ - 1) / (search_epochs_ - 1);
    return tau_ * std::pow(tau_final_ / tau_, progress);
  }

  void Alpha(std::vector<double>* alpha) const { Softmax(logits_.data(), nullptr, 1.0, alpha); }
  /// p = softmax((θ + g) / τ) at the step's noise and temperature.
  void Relaxed(std::vector<double>* p) const { Softmax(logits_.data(), gumbel_.data(), step_tau_, p); }
  static void Softmax(const double* theta, const double* noise, double tau, std::vector<double>* p) {
    const size_t T = p->size();
    double top = -INFINITY;
    for (size_t t = 0; t < T; ++t) {
      (*p)[t] = (theta[t] + (noise ? noise[t] : 0.0)) / tau;
      top = std::max(top, (*p)[t]);
    }
    double sum = 0;
    for (double& v : *p) sum += (v = std::exp(v - top));
    for (double& v : *p) v /= sum;
  }

  /// The composite's negatives from the candidates' (the sampling candidates' only, in the
  /// single-sampler stage): pair b's slots are group t's k slots for each candidate t in turn.
  PetscErrorCode Merge(const Batch& batch, Negatives* negatives) const {
    PetscFunctionBeginUser;
    const std::vector<size_t> active = Active();
    const int k = per_candidate_;
    negatives->Reset(k * (int)active.size());
    negatives->groups = (int)active.size();
    bool layers = false, l2 = false;
    for (size_t t : active) {
      layers = layers || sub_[t].HasLayerTerms();
      l2 = l2 || sub_[t].HasL2Vectors();
    }
    if (layers) negatives->DeclareLayerTerms();
    if (l2) negatives->DeclareL2Vectors();
    for (size_t b = 0; b < batch.Size(); ++b)
      for (size_t t : active) {
        const Negatives& sub = sub_[t];
        for (int s = 0; s < k; ++s) {
          const int64_t slot = (int64_t)b * k + s;
          for (int64_t term = sub.offset[slot]; term < sub.offset[slot + 1]; ++term)
            negatives->AddTerm(sub.item[term], sub.TermLayer(term), sub.weight[term]);
          negatives->EndNegative();
          if (!l2) continue;
          if (sub.HasL2Vectors()) {
            for (int64_t term = sub.l2_offset[slot]; term < sub.l2_offset[slot + 1]; ++term)
              negatives->AddL2Term(sub.l2_item[term], sub.l2_weight[term]);
          } else {
            // The default L2 of a single-row negative is its row's: the same as its vector.
            PetscCheck(sub.offset[slot + 1] - sub.offset[slot] == 1, PETSC_COMM_SELF,
                       PETSC_ERR_SUP,
                       "AutoSample: candidate %s makes negatives of several rows without L2 "
                       "vectors, which cannot stand beside a candidate that gives L2 vectors",
                       candidates_[t]->Type());
            negatives->AddL2Term(sub.item[sub.offset[slot]], 1.0);
          }
          negatives->EndL2();
        }
      }
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// The candidate that made the composite's negative `slot`, and its slot among its own.
  size_t Owner(const Negatives& negatives, int64_t slot, int64_t* sub_slot) const {
    const int64_t pair = slot / negatives.k, within = slot % negatives.k;
    const int64_t group = within / per_candidate_;
    *sub_slot = pair * per_candidate_ + within % per_candidate_;
    return Active()[(size_t)group];
  }

  // Options.
  double lr_ = 1e-2, tau_ = 1.0, tau_final_ = 1.0;
  bool straight_through_ = false, retrain_mixture_ = false;
  int search_epochs_ = 0;
  // The candidates, their types, and the negatives they drew this step.
  std::vector<std::unique_ptr<Sampler>> candidates_;
  std::vector<std::string> names_;
  int per_candidate_ = 1;
  std::vector<Negatives> sub_;
  // The search: logits, the step's noise and temperature; the retrain stage's choice.
  RowMatrix logits_, logits_grad_;
  std::vector<double> gumbel_;
  double step_tau_ = 1.0;
  Stage stage_ = Stage::kSearch;
  int64_t chosen_ = 0;
  std::vector<size_t> active_;
  std::vector<double> frozen_;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_AutoSample(MPI_Comm comm) {
  return std::make_unique<AutoSampleSampler>(comm);
}

}  // namespace recns
