// Bayesian negative sampling (BNS, ALGORITHMS §7, decision 5). For each negative slot, m
// candidates drawn uniformly without replacement from I \ I_u^+; for each candidate l
//   info(l)   = 1 - σ(x_ui - x_ul)                       (BPR's gradient magnitude)
//   F(l)      = #{l' ∈ I_u^- : x_ul' <= x_ul} / |I_u^-|  (empirical CDF, paper eq 16)
//   P_fn(l)   = pop_l / N                                 (prior, eq 17; or 1/n_i)
//   unbias(l) = (1-F)(1-P_fn) / ((1-F)(1-P_fn) + F·P_fn)  (eq 15)
// and the choice  argmin info·[1 - (1+λ)·unbias]  (eq 32), or argmax unbias (posterior rule).
// The exact CDF scores every item once per user of the step, O(n_i·d), and counts each candidate
// by binary search in the user's sorted un-interacted scores, O(n_i·log n_i) per user, or, when
// the user has too few candidates in the step to repay the sort, by one pass over the scores per
// candidate, O(n_i) (the counts, and so the choices, are the same either way). For large
// catalogues F is estimated from S uniform un-interacted items instead (unbiased, O(S·d) per
// pair).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "recns/error.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

enum class CdfMode { kAuto, kExact, kSubsample };
const char* const kCdfModes[] = {"auto", "exact", "subsample"};
enum class Prior { kPopularity, kUniform };
const char* const kPriors[] = {"popularity", "uniform"};
enum class Rule { kRisk, kPosterior };
const char* const kRules[] = {"risk", "posterior"};
constexpr int64_t kExactItemLimit = 10000;  // auto: exact CDF up to this many items
/// The exact CDF sorts a user's scores when it has more candidates in the step than this many
/// times log2(n_i): measured, a sort of n_i scores costs about as much as 12 to 16 log2(n_i)
/// vectorised counting passes over them (1,682 and 30,000 items).
constexpr double kSortPerLog2Items = 16;

/// unbias(l) of eq 15. F = 1 with P_fn = 0 is the limit P_fn -> 0, where unbias = 1.
double Unbias(double cdf, double prior) {
  const double true_negative = (1 - cdf) * (1 - prior);
  const double total = true_negative + cdf * prior;
  return total > 0 ? true_negative / total : 1.0;
}

class BayesianSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "bns"; }
  bool ReadsGatheredRows() const override { return true; }
  std::string Describe() const override {
    std::string text = Format("bns (|M_u|=%d, lambda=%g", candidates_, lambda_);
    if (lambda_decay_ > 0) text += Format(" from %g by -%g/epoch", lambda_start_, lambda_decay_);
    text += Format(", %s prior, %s rule, %s CDF", kPriors[(int)prior_], kRules[(int)rule_],
                   exact_ ? "exact" : Format("%d-sample", cdf_samples_).c_str());
    if (uniform_epochs_ > 0) text += Format(", uniform for %d epochs", uniform_epochs_);
    return text + ")";
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override;

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override;
  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    const int64_t num_items = graph_->GetLayout().NumItems();
    exact_ = cdf_mode_ == CdfMode::kExact || (cdf_mode_ == CdfMode::kAuto && num_items <= kExactItemLimit);
    prior_value_.resize(num_items);
    const double total = (double)graph_->Info().train_nnz;
    for (int64_t j = 0; j < num_items; ++j)
      prior_value_[j] = prior_ == Prior::kUniform ? 1.0 / (double)num_items
                                                  : (double)graph_->ItemDegrees()[j] / total;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  double LambdaAt(uint32_t epoch) const {
    return lambda_decay_ > 0 ? std::max(lambda_start_ - lambda_decay_ * epoch, lambda_) : lambda_;
  }
  /// The pair's candidates (m distinct negatives per slot) and, without the exact CDF, its S
  /// CDF samples, from the pair's stream.
  void DrawCandidates(const SampleContext& context, const Batch& batch, size_t b);

  int candidates_ = 5, cdf_samples_ = 100, uniform_epochs_ = 0;
  double lambda_ = 5, lambda_start_ = NAN, lambda_decay_ = 0;
  CdfMode cdf_mode_ = CdfMode::kAuto;
  Prior prior_ = Prior::kPopularity;
  Rule rule_ = Rule::kRisk;
  bool exact_ = true;
  std::vector<double> prior_value_;
  // Per step: candidates (num_negatives_ × m per pair, fewer when a user has fewer negatives),
  // CDF samples (S per pair), their rows, a user's scores over all items and, sorted, over its
  // un-interacted items (exact CDF), and the pairs in user order with their choices.
  std::vector<int64_t> candidate_offset_, sample_offset_;
  std::vector<int32_t> candidate_, cdf_sample_, needed_, chosen_;
  RowMatrix all_buffer_;
  Eigen::VectorXd scores_;
  std::vector<double> negative_scores_;
  std::vector<size_t> by_user_;
  std::vector<double> candidate_score_, sample_score_;
  std::vector<const double*> rows_;
  std::vector<int64_t> below_;
};

PetscErrorCode BayesianSampler::SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) {
  PetscFunctionBeginUser;
  PetscInt m = candidates_, samples = cdf_samples_, warmup = uniform_epochs_;
  PetscInt mode = (PetscInt)cdf_mode_, prior = (PetscInt)prior_, rule = (PetscInt)rule_;
  PetscCall(PetscOptionsInt("-sampler_bns_candidates",
                            "BNS: candidate set size |M_u| (uniform, without replacement)",
                            "Sampler", m, &m, nullptr));
  PetscCall(PetscOptionsReal("-sampler_bns_lambda",
                             "BNS: weight lambda of the rule argmin info*(1-(1+lambda)*unbias); "
                             "the floor of the schedule when -sampler_bns_lambda_decay > 0",
                             "Sampler", lambda_, &lambda_, nullptr));
  PetscCall(PetscOptionsReal("-sampler_bns_lambda_start",
                             "BNS warm start (BNS-1): lambda at epoch 0, decreasing by "
                             "-sampler_bns_lambda_decay per epoch down to -sampler_bns_lambda "
                             "(the paper: 10, 0.1, 2)",
                             "Sampler", lambda_start_, &lambda_start_, nullptr));
  PetscCall(PetscOptionsReal("-sampler_bns_lambda_decay",
                             "BNS warm start: decrease of lambda per epoch (0: constant lambda)",
                             "Sampler", lambda_decay_, &lambda_decay_, nullptr));
  PetscCall(PetscOptionsInt("-sampler_bns_uniform_epochs",
                            "BNS-2: sample uniformly for this many epochs, then by BNS", "Sampler",
                            warmup, &warmup, nullptr));
  PetscCall(PetscOptionsEList("-sampler_bns_prior",
                              "BNS prior P_fn: popularity (pop/N, eq 17) or uniform (1/n_items, "
                              "the non-informative BNS-3)",
                              "Sampler", kPriors, 2, kPriors[prior], &prior, nullptr));
  PetscCall(PetscOptionsEList("-sampler_bns_rule",
                              "BNS rule: risk (argmin info*(1-(1+lambda)*unbias), eq 32) or "
                              "posterior (argmax unbias, eq 35)",
                              "Sampler", kRules, 2, kRules[rule], &rule, nullptr));
  PetscCall(PetscOptionsEList("-sampler_bns_cdf",
                              "BNS empirical CDF: exact (scores every item, O(n_items*d) per "
                              "user of the step), subsample (S uniform un-interacted items), or "
                              "auto (exact up to 10000 items)",
                              "Sampler", kCdfModes, 3, kCdfModes[mode], &mode, nullptr));
  PetscCall(PetscOptionsInt("-sampler_bns_cdf_samples",
                            "BNS: items S per pair estimating the CDF in subsample mode",
                            "Sampler", samples, &samples, nullptr));
  RECNS_CHECK_INPUT(m >= 1, comm_, "-sampler_bns_candidates must be >= 1 (got %d)", (int)m);
  RECNS_CHECK_INPUT(samples >= 1, comm_, "-sampler_bns_cdf_samples must be >= 1 (got %d)",
                    (int)samples);
  RECNS_CHECK_INPUT(warmup >= 0, comm_, "-sampler_bns_uniform_epochs must be >= 0 (got %d)",
                    (int)warmup);
  RECNS_CHECK_INPUT(lambda_ >= 0 && std::isfinite(lambda_), comm_,
                    "-sampler_bns_lambda must be a finite number >= 0 (got %g)", lambda_);
  RECNS_CHECK_INPUT(lambda_decay_ >= 0 && std::isfinite(lambda_decay_), comm_,
                    "-sampler_bns_lambda_decay must be a finite number >= 0 (got %g)",
                    lambda_decay_);
  if (std::isnan(lambda_start_)) lambda_start_ = lambda_;
  RECNS_CHECK_INPUT(std::isfinite(lambda_start_) && lambda_start_ >= lambda_, comm_,
                    "-sampler_bns_lambda_start (%g) must be >= -sampler_bns_lambda (%g)",
                    lambda_start_, lambda_);
  candidates_ = (int)m;
  cdf_samples_ = (int)samples;
  uniform_epochs_ = (int)warmup;
  cdf_mode_ = (CdfMode)mode;
  prior_ = (Prior)prior;
  rule_ = (Rule)rule;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void BayesianSampler::DrawCandidates(const SampleContext& context, const Batch& batch, size_t b) {
  const int32_t user = batch.user[b];
  int64_t positives;
  graph_->TrainItems(user, &positives);
  const int m = (int)std::min<int64_t>(candidates_, graph_->GetLayout().NumItems() - positives);
  RandomStream stream = PairStream(context, batch.pair[b]);
  for (int s = 0; s < num_negatives_; ++s) {
    const size_t first = candidate_.size();
    while ((int)(candidate_.size() - first) < m) {
      const int32_t item = DrawUniformNegative(*graph_, user, &stream);
      if (std::find(candidate_.begin() + first, candidate_.end(), item) == candidate_.end())
        candidate_.push_back(item);
    }
    candidate_offset_.push_back((int64_t)candidate_.size());
  }
  if (!exact_) {
    for (int t = 0; t < cdf_samples_; ++t)
      cdf_sample_.push_back(DrawUniformNegative(*graph_, user, &stream));
    sample_offset_.push_back((int64_t)cdf_sample_.size());
  }
}

PetscErrorCode BayesianSampler::Sample(const SampleContext& context, const Batch& batch,
                                       Negatives* negatives) {
  PetscFunctionBeginUser;
  if ((int)context.epoch < uniform_epochs_) {  // BNS-2's warm-up is the uniform sampler
    SampleUniformly(context, batch, negatives);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  negatives->Reset(num_negatives_);

  candidate_.clear();
  cdf_sample_.clear();
  candidate_offset_.assign(1, 0);
  sample_offset_.assign(1, 0);
  for (size_t b = 0; b < batch.Size(); ++b) DrawCandidates(context, batch, b);

  const int d = context.model->FinalWidth();
  const int64_t num_items = graph_->GetLayout().NumItems();
  const double* all_rows = nullptr;
  if (exact_) {
    PetscCall(GatherAllItemRows(context, &all_buffer_, &all_rows));
  } else {
    needed_ = candidate_;
    needed_.insert(needed_.end(), cdf_sample_.begin(), cdf_sample_.end());
    needed_.insert(needed_.end(), batch.item.begin(), batch.item.end());
    PetscCall(GatherItemRows(context, needed_));
  }

  PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
  const double lambda = LambdaAt(context.epoch);
  // Pairs grouped by user (stable, so each group keeps pair order): the exact CDF scores (and
  // sorts) once per user. Each pair's choices depend on nothing but the pair, so they are the
  // same in any order; they are stored by slot and handed out in pair order.
  by_user_.resize(batch.Size());
  std::iota(by_user_.begin(), by_user_.end(), size_t{0});
  std::stable_sort(by_user_.begin(), by_user_.end(),
                   [&](size_t a, size_t b) { return batch.user[a] < batch.user[b]; });
  chosen_.resize(batch.Size() * (size_t)num_negatives_);
  bool sorted = false;
  for (size_t g = 0; g < by_user_.size(); ++g) {
    const size_t b = by_user_[g];
    const int32_t user = batch.user[b];
    const double* user_row = UserRow(context, user);
    int64_t count;
    const int32_t* positives = graph_->TrainItems(user, &count);
    // Score of an item for this pair: from the all-item score vector in exact mode, computed at
    // the user's first pair, with the sorted scores of its un-interacted items if the user has
    // enough candidates in this step. A NaN score is never <= anything, so NaNs are left out of
    // the sorted scores (and a NaN candidate counts none).
    if (exact_ && (g == 0 || batch.user[by_user_[g - 1]] != user)) {
      const Eigen::Map<const RowMatrix> items(all_rows, num_items, d);
      scores_.noalias() = items * Eigen::Map<const Eigen::VectorXd>(user_row, d);
      int64_t to_count = 0;
      for (size_t h = g; h < by_user_.size() && batch.user[by_user_[h]] == user; ++h)
        to_count += candidate_offset_[(by_user_[h] + 1) * num_negatives_] -
                    candidate_offset_[by_user_[h] * num_negatives_];
      sorted = (double)to_count > kSortPerLog2Items * std::log2((double)num_items);
      if (sorted) {
        negative_scores_.assign(scores_.data(), scores_.data() + num_items);
        for (int64_t p = 0; p < count; ++p) negative_scores_[positives[p]] = NAN;
        negative_scores_.erase(std::remove_if(negative_scores_.begin(), negative_scores_.end(),
                                              [](double x) { return std::isnan(x); }),
                               negative_scores_.end());
        std::sort(negative_scores_.begin(), negative_scores_.end());
      }
    }
    auto score = [&](int32_t item) {
      return exact_ ? scores_[item] : Dot(user_row, ItemRow(item), d);
    };
    // Scores of many rows for one user: four chains at a time (DotRows, the same bits as Dot).
    auto score_all = [&](const int32_t* items, int64_t n, double* out) {
      if (exact_) {
        for (int64_t t = 0; t < n; ++t) out[t] = scores_[items[t]];
        return;
      }
      rows_.resize((size_t)n);
      for (int64_t t = 0; t < n; ++t) rows_[(size_t)t] = ItemRow(items[t]);
      DotRows(user_row, rows_.data(), n, d, out);
    };
    const double positive_score = score(batch.item[b]);
    if (!exact_) {  // the pair's CDF sample, shared by its k slots
      sample_score_.resize((size_t)cdf_samples_);
      score_all(cdf_sample_.data() + sample_offset_[b], cdf_samples_, sample_score_.data());
    }
    for (int s = 0; s < num_negatives_; ++s) {
      const int64_t slot = (int64_t)b * num_negatives_ + s;
      const int32_t* candidate = candidate_.data() + candidate_offset_[slot];
      const int m = (int)(candidate_offset_[slot + 1] - candidate_offset_[slot]);
      // Empirical CDF of each candidate's score among the user's un-interacted items.
      below_.assign(m, 0);
      candidate_score_.resize(m);
      score_all(candidate, m, candidate_score_.data());
      int64_t support;
      if (exact_) {
        for (int c = 0; c < m; ++c) {  // the un-interacted items scored <= x
          const double x = candidate_score_[c];
          if (sorted) {
            if (!std::isnan(x))
              below_[c] = std::upper_bound(negative_scores_.begin(), negative_scores_.end(), x) -
                          negative_scores_.begin();
          } else {
            int64_t n = 0;
            for (int64_t j = 0; j < num_items; ++j) n += scores_[j] <= x;
            for (int64_t p = 0; p < count; ++p) n -= scores_[positives[p]] <= x;
            below_[c] = n;
          }
        }
        support = num_items - count;
      } else {
        for (const double x : sample_score_)
          for (int c = 0; c < m; ++c) below_[c] += x <= candidate_score_[c];
        support = cdf_samples_;
      }
      int best = 0;
      double best_value = 0;
      for (int c = 0; c < m; ++c) {
        const double unbias = Unbias((double)below_[c] / (double)support, prior_value_[candidate[c]]);
        const double info = 1.0 - Sigmoid(positive_score - candidate_score_[c]);
        // Both rules as a minimisation; ties keep the earlier candidate.
        const double value = rule_ == Rule::kPosterior ? -unbias : info * (1.0 - (1.0 + lambda) * unbias);
        if (c == 0 || value < best_value) {
          best = c;
          best_value = value;
        }
      }
      chosen_[slot] = candidate[best];
    }
  }
  for (const int32_t item : chosen_) negatives->AddItem(item);
  PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

std::unique_ptr<Sampler> CreateSampler_BNS(MPI_Comm comm) {
  return std::make_unique<BayesianSampler>(comm);
}

}  // namespace recns
