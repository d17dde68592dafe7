// Adaptive oversampling (AOBPR, Rendle & Freudenthaler 2014; ALGORITHMS §4.4, decision 6).
//
// The target is P(j | u) ∝ exp(−rank_u(j)/λ) over I \ I_u^+, rank 1 = highest score on the
// current final embeddings, λ = ρ·n_i: hard negatives are oversampled with a geometric tail.
// Two ways to get there, chosen by -sampler_aobpr_mode (decision 6):
//  - exact, the rule that BNS and AutoSample's Table 2 describe: score every item for each
//    distinct user of the step, draw r by inverting the truncated geometric CDF (in floating
//    point: LibRec's integer division turns the pmf into a step function) and return the item at
//    rank r, redrawing while it is a positive. Ties rank the smaller item id first, so the order
//    is total and the same on every rank.
//  - factor, the original paper's sampler for catalogues too large to rank per user: per-factor
//    item orders and spreads σ_f, refreshed every ⌈n_i·ln n_i⌉ draws; a draw picks r as above and
//    a factor f ∝ |e_{u,f}|·σ_f, then the r-th largest (e_{u,f} > 0) or r-th smallest item on f.
// Every random choice of a pair comes from its own stream and the factor refresh is keyed to the
// global count of draws, so the negatives do not depend on the number of ranks.
//
// Redrawing positives is exact rejection, but it can take arbitrarily long when the positives
// hold the ranks the pmf favours (a tiny ρ and a positive at rank 1 never terminates). After
// kMaxRejections failed attempts a draw therefore samples the same conditional distribution
// directly (the rejection output is distributed as the target whatever the number of failures,
// so switching to an exact draw after a fixed count leaves the distribution unchanged).
#include <petscsys.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "recns/checkpoint.hpp"
#include "recns/embedding.hpp"
#include "recns/error.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

constexpr const char* kSamplerAOBPR = "aobpr";
/// auto mode ranks exactly up to this many items and switches to the factor rule above it.
constexpr int64_t kExactMaxItems = 20000;
/// Failed rejection attempts after which a draw samples the conditional distribution directly.
constexpr int kMaxRejections = 32;
/// Draws of one user in one step answered by a selection pass before its ranking is sorted.
constexpr int kSelectionsBeforeSort = 8;
/// Stride of the score subsample that places the selection threshold.
constexpr int64_t kSampleStride = 8;

/// An item and its sort value; the order puts larger values first, ties by smaller id.
struct Ranked {
  double value;
  int32_t item;
};
struct RanksBefore {  // a function object, so sorts and selections inline the comparison
  bool operator()(const Ranked& a, const Ranked& b) const {
    return a.value > b.value || (a.value == b.value && a.item < b.item);
  }
};
/// NaN has no place in an order; it ranks last (lowest) so the comparison stays a strict weak
/// ordering even if the embeddings diverge.
inline double Orderable(double x) {
  return std::isnan(x) ? -std::numeric_limits<double>::infinity() : x;
}

class AobprSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return kSamplerAOBPR; }
  std::string Describe() const override {
    const char* mode = mode_.c_str();  // auto is resolved by SetUp, from the catalogue size
    if (mode_ == "auto" && num_items_ > 0) mode = factor_ ? "factor" : "exact";
    return Format("aobpr (%s, rho=%g)", mode, rho_);
  }

  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override {
    PetscFunctionBeginUser;
    negatives->Reset(num_negatives_);
    if (factor_) PetscCall(SampleFactor(context, batch, negatives));
    else PetscCall(SampleExact(context, batch, negatives));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override {
    PetscFunctionBeginUser;
    char mode[32];
    PetscCall(PetscStrncpy(mode, mode_.c_str(), sizeof mode));
    PetscCall(PetscOptionsReal("-sampler_aobpr_rho",
                               "AOBPR tail fraction rho: negatives drawn with probability "
                               "proportional to exp(-rank/(rho*n_items)), rank 1 = highest score",
                               "Sampler", rho_, &rho_, nullptr));
    PetscCall(PetscOptionsString("-sampler_aobpr_mode",
                                 "AOBPR rule: exact (score and rank every item for each user of "
                                 "the step), factor (per-factor item rankings of the original "
                                 "paper, refreshed every n_items*ln(n_items) draws) or auto "
                                 "(exact up to 20000 items, factor above)",
                                 "Sampler", mode, mode, sizeof mode, nullptr));
    RECNS_CHECK_INPUT(rho_ > 0 && std::isfinite(rho_), comm_,
                      "-sampler_aobpr_rho must be a finite number > 0 (got %g)", rho_);
    const std::string chosen = mode;
    RECNS_CHECK_INPUT(chosen == "auto" || chosen == "exact" || chosen == "factor", comm_,
                      "-sampler_aobpr_mode must be auto, exact or factor (got '%s')", mode);
    mode_ = chosen;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    const Layout& layout = graph_->GetLayout();
    num_items_ = layout.NumItems();
    factor_ = mode_ == "factor" || (mode_ == "auto" && num_items_ > kExactMaxItems);
    lambda_ = rho_ * (double)num_items_;
    tail_ = std::expm1(-1.0 / rho_);  // −(1 − q^n) with q = exp(−1/λ): the CDF's normaliser
    refresh_interval_ =
        std::max<int64_t>(1, (int64_t)std::ceil((double)num_items_ * std::log((double)num_items_)));
    draws_ = 0;
    next_refresh_ = 0;
    order_.clear();
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  /// r ∈ {1..n_i} with P(r) ∝ exp(−r/λ), by inversion of the truncated geometric CDF
  /// F(r) = (1 − q^r)/(1 − q^n): the smallest r with F(r) ≥ U is ⌈−λ·ln(1 − U(1 − q^n))⌉.
  int64_t DrawRank(RandomStream* stream) const {
    const double x = -lambda_ * std::log1p(stream->NextUniform() * tail_);
    if (!(x >= 1)) return 1;  // also U = 0 and a NaN, which cannot arise from finite λ
    if (x >= (double)num_items_) return num_items_;
    return (int64_t)std::ceil(x);
  }

  // Only the factor mode carries state between steps: the rankings of the last refresh (made
  // from parameters that are gone by the next step) and the draw count that times the next one.
  // The mode itself is recorded so a restart in the other mode is refused rather than misread.
  PetscErrorCode Save(CheckpointFile& file) const override {
    PetscFunctionBeginUser;
    PetscCall(file.WriteAttribute(Group(), "mode", std::string(factor_ ? "factor" : "exact")));
    if (!factor_) PetscFunctionReturn(PETSC_SUCCESS);
    const int64_t factors = (int64_t)order_.size();
    PetscCall(file.WriteAttribute(Group(), "draws", draws_));
    PetscCall(file.WriteAttribute(Group(), "next_refresh", next_refresh_));
    PetscCall(file.WriteAttribute(Group(), "factors", factors));
    if (factors == 0) PetscFunctionReturn(PETSC_SUCCESS);
    std::vector<int32_t> order;
    order.reserve((size_t)(factors * num_items_));
    for (const std::vector<int32_t>& column : order_) order.insert(order.end(), column.begin(), column.end());
    PetscCall(file.WriteRows(Group() + "/factor_order", RowScope::kShared, order.data(), factors, num_items_));
    PetscCall(file.WriteRows(Group() + "/factor_sigma", RowScope::kShared, sigma_.data(), factors, 1));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscErrorCode Load(CheckpointFile& file) override {
    std::vector<std::string> names;
    std::string saved;
    PetscFunctionBeginUser;
    // Files written before the mode was recorded hold factor state exactly in factor mode.
    PetscCall(file.AttributeNames(Group(), &names));
    if (std::binary_search(names.begin(), names.end(), "mode"))
      PetscCall(file.ReadAttribute(Group(), "mode", &saved));
    else
      saved = std::binary_search(names.begin(), names.end(), "draws") ? "factor" : "exact";
    const char* mode = factor_ ? "factor" : "exact";
    RECNS_CHECK_INPUT(saved == mode, comm_,
                      "checkpoint '%s' holds the state of AOBPR's %s mode; this run uses its %s "
                      "mode (-sampler_aobpr_mode %s%s), and the mode cannot change on restart",
                      file.Path().c_str(), saved.c_str(), mode, mode_.c_str(),
                      mode_ == "auto" ? Format(" with %lld items", (long long)num_items_).c_str() : "");
    if (!factor_) PetscFunctionReturn(PETSC_SUCCESS);
    int64_t factors;
    PetscCall(file.ReadAttribute(Group(), "draws", &draws_));
    PetscCall(file.ReadAttribute(Group(), "next_refresh", &next_refresh_));
    PetscCall(file.ReadAttribute(Group(), "factors", &factors));
    RECNS_CHECK_INPUT(draws_ >= 0 && next_refresh_ >= 0, comm_,
                      "checkpoint '%s': /sampler attributes 'draws' (%lld) and 'next_refresh' "
                      "(%lld) must be >= 0",
                      file.Path().c_str(), (long long)draws_, (long long)next_refresh_);
    // A refresh ranks the items along every factor of a final row; the model, loaded first, has
    // checked that the file's structure is this run's.
    int64_t width;
    PetscCall(file.ReadAttribute("/model", "final_width", &width));
    RECNS_CHECK_INPUT(factors == 0 || factors == width, comm_,
                      "checkpoint '%s': /sampler attribute 'factors' is %lld; it must be 0 or "
                      "the model's final width %lld",
                      file.Path().c_str(), (long long)factors, (long long)width);
    order_.clear();
    if (factors == 0) PetscFunctionReturn(PETSC_SUCCESS);
    std::vector<int32_t> order((size_t)(factors * num_items_));
    sigma_.resize((size_t)factors);
    PetscCall(file.ReadRows(Group() + "/factor_order", RowScope::kShared, order.data(), factors, num_items_));
    PetscCall(file.ReadRows(Group() + "/factor_sigma", RowScope::kShared, sigma_.data(), factors, 1));
    // Draws index the items by these orders and scale by sigma; every rank read the same rows.
    const auto outside = std::find_if(order.begin(), order.end(), [this](int32_t item) {
      return item < 0 || item >= num_items_;
    });
    RECNS_CHECK_INPUT(outside == order.end(), comm_,
                      "checkpoint '%s': /sampler/factor_order holds item %d of %lld items",
                      file.Path().c_str(), outside == order.end() ? 0 : (int)*outside,
                      (long long)num_items_);
    const auto bad_sigma = std::find_if(sigma_.begin(), sigma_.end(),
                                        [](double sigma) { return !(sigma >= 0) || std::isinf(sigma); });
    RECNS_CHECK_INPUT(bad_sigma == sigma_.end(), comm_,
                      "checkpoint '%s': /sampler/factor_sigma holds %s; it must be finite and >= 0",
                      file.Path().c_str(),
                      bad_sigma == sigma_.end() ? "" : Format("%g", *bad_sigma).c_str());
    for (int64_t f = 0; f < factors; ++f)
      order_.emplace_back(order.begin() + f * num_items_, order.begin() + (f + 1) * num_items_);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  // ---- exact mode ----

  PetscErrorCode SampleExact(const SampleContext& context, const Batch& batch,
                             Negatives* negatives) {
    PetscFunctionBeginUser;
    const double* rows = nullptr;
    PetscCall(GatherAllItemRows(context, &all_rows_, &rows));  // collective: every rank, even with no pairs
    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    const int d = (int)context.model->Final().cols();
    const int k = num_negatives_;
    // Pairs grouped by user (stable, so each group keeps pair order): one ranking per user.
    std::vector<size_t> by_user(batch.Size());
    std::iota(by_user.begin(), by_user.end(), size_t{0});
    std::stable_sort(by_user.begin(), by_user.end(),
                     [&](size_t a, size_t b) { return batch.user[a] < batch.user[b]; });
    std::vector<int32_t> chosen(batch.Size() * (size_t)k);
    score_.resize((size_t)num_items_);
    for (size_t g = 0; g < by_user.size();) {
      const int32_t user = batch.user[by_user[g]];
      ScoreAllItems(UserRow(context, user), rows, d);
      sorted_ = false;
      selections_ = 0;
      for (; g < by_user.size() && batch.user[by_user[g]] == user; ++g) {
        const size_t b = by_user[g];
        RandomStream stream = PairStream(context, batch.pair[b]);
        for (int s = 0; s < k; ++s) chosen[b * k + s] = DrawExact(user, &stream);
      }
    }
    for (const int32_t item : chosen) negatives->AddItem(item);
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// score_[j] = Dot(user, item j) for every item, four at a time (Dot4: the same bits as Dot).
  void ScoreAllItems(const double* user, const double* rows, int d) {
    const int64_t n = num_items_;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      const double* const four[4] = {rows + j * d, rows + (j + 1) * d, rows + (j + 2) * d,
                                     rows + (j + 3) * d};
      double s[4];
      Dot4(user, four, d, s);
      for (int k = 0; k < 4; ++k) score_[j + k] = Orderable(s[k]);
    }
    for (; j < n; ++j) score_[j] = Orderable(Dot(user, rows + j * d, d));
  }

  /// Sorts the current user's items by rank (later draws for the user are lookups).
  void SortRanking() {
    ranked_.resize((size_t)num_items_);
    for (int64_t j = 0; j < num_items_; ++j) ranked_[j] = {score_[j], (int32_t)j};
    std::sort(ranked_.begin(), ranked_.end(), RanksBefore());
    sorted_ = true;
  }

  /// The item at rank r (1-based) of the current user's ranking. The ranked items with score
  /// ≥ t are exactly the first ones of the ranking, so when t is chosen with at least r of them
  /// the r-th can be selected among those alone. t comes from a fixed subsample of the scores
  /// (every kSampleStride-th item), at a position whose expected count of items above is a few
  /// standard deviations past r; if it falls short, or r is deep in the ranking, the selection
  /// runs over all items. A user drawn more often (k > 1, rejected positives) is sorted once.
  int32_t ItemAtRank(int64_t r) {
    if (!sorted_ && ++selections_ > kSelectionsBeforeSort) SortRanking();
    if (sorted_) return ranked_[r - 1].item;
    const int64_t n = num_items_;
    int64_t candidates = 0;  // none selected yet: the fallback below takes every item
    sample_.clear();
    for (int64_t j = 0; j < n; j += kSampleStride) sample_.push_back(score_[j]);
    const double expected = (double)r * (double)sample_.size() / (double)n;
    const size_t position = (size_t)(expected + 3 * std::sqrt(expected) + 2);
    selected_.resize((size_t)n);
    if (position < sample_.size()) {
      std::nth_element(sample_.begin(), sample_.begin() + position, sample_.end(),
                       std::greater<double>());
      const double threshold = sample_[position];
      candidates = 0;
      for (int64_t j = 0; j < n; ++j) {  // branch-free compaction of the items ≥ threshold
        selected_[candidates] = {score_[j], (int32_t)j};
        candidates += score_[j] >= threshold;
      }
    }
    if (candidates < r) {
      for (int64_t j = 0; j < n; ++j) selected_[j] = {score_[j], (int32_t)j};
      candidates = n;
    }
    std::nth_element(selected_.begin(), selected_.begin() + (r - 1),
                     selected_.begin() + candidates, RanksBefore());
    return selected_[r - 1].item;
  }

  int32_t DrawExact(int32_t user, RandomStream* stream) {
    for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
      const int32_t item = ItemAtRank(DrawRank(stream));
      if (!IsPositive(user, item)) return item;
    }
    // Direct draw over the non-positive ranks, weights exp(−(r − r0)/λ) relative to the first
    // one r0 so they cannot all underflow.
    if (!sorted_) SortRanking();
    double total = 0;
    int64_t first = -1;
    for (int64_t r = 1; r <= num_items_; ++r) {
      if (IsPositive(user, ranked_[r - 1].item)) continue;
      if (first < 0) first = r;
      total += std::exp(-(double)(r - first) / lambda_);
    }
    const double target = stream->NextUniform() * total;
    double sum = 0;
    int32_t last = -1;
    for (int64_t r = first; r <= num_items_; ++r) {
      if (IsPositive(user, ranked_[r - 1].item)) continue;
      last = ranked_[r - 1].item;
      sum += std::exp(-(double)(r - first) / lambda_);
      if (sum > target) return last;
    }
    return last;  // rounding left the target at the very end
  }

  // ---- factor mode ----

  PetscErrorCode SampleFactor(const SampleContext& context, const Batch& batch,
                              Negatives* negatives) {
    PetscFunctionBeginUser;
    // The draw count is global (identical on every rank), so every rank refreshes at the same
    // step and the collective gather inside matches up.
    if (order_.empty() || draws_ >= next_refresh_) {
      PetscCall(RefreshFactors(context));
      next_refresh_ = (draws_ / refresh_interval_ + 1) * refresh_interval_;
    }
    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    const int d = (int)sigma_.size();
    std::vector<double> weight(d);
    for (size_t b = 0; b < batch.Size(); ++b) {
      RandomStream stream = PairStream(context, batch.pair[b]);
      const double* user_row = UserRow(context, batch.user[b]);
      const double total = FactorWeights(user_row, &weight);
      for (int s = 0; s < num_negatives_; ++s)
        negatives->AddItem(DrawFactor(batch.user[b], user_row, weight, total, &stream));
    }
    draws_ += batch.global_size * num_negatives_;
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// Collective. Per factor f: the items in increasing order of their value on f (ties by
  /// smaller id), and σ_f, the population standard deviation of f over all items.
  PetscErrorCode RefreshFactors(const SampleContext& context) {
    PetscFunctionBeginUser;
    const double* rows = nullptr;
    PetscCall(GatherAllItemRows(context, &all_rows_, &rows));
    PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
    const int d = (int)context.model->Final().cols();
    const int64_t n = num_items_;
    sigma_.assign(d, 0.0);
    order_.assign((size_t)d, std::vector<int32_t>((size_t)n));
    std::vector<Ranked> column((size_t)n);
    for (int f = 0; f < d; ++f) {
      double mean = 0;
      for (int64_t j = 0; j < n; ++j) mean += rows[j * d + f];
      mean /= (double)n;
      double variance = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double deviation = rows[j * d + f] - mean;
        variance += deviation * deviation;
      }
      sigma_[f] = std::sqrt(variance / (double)n);
      // Sorted decreasing by −value, i.e. increasing by value with ties by smaller id (so among
      // tied items the r-th smallest takes the smaller id first, the r-th largest the larger).
      for (int64_t j = 0; j < n; ++j) column[j] = {-Orderable(rows[j * d + f]), (int32_t)j};
      std::sort(column.begin(), column.end(), RanksBefore());
      for (int64_t j = 0; j < n; ++j) order_[f][j] = column[j].item;
    }
    PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /// Factor weights |e_{u,f}|·σ_f and their sum; when they carry no information (all zero, or
  /// not finite) every factor gets weight 1.
  double FactorWeights(const double* user_row, std::vector<double>* weight) const {
    double total = 0;
    for (size_t f = 0; f < weight->size(); ++f)
      total += (*weight)[f] = std::fabs(user_row[f]) * sigma_[f];
    if (total > 0 && std::isfinite(total)) return total;
    std::fill(weight->begin(), weight->end(), 1.0);
    return (double)weight->size();
  }

  /// The r-th item (1-based) on factor f for a user whose value on f is `direction`: r-th
  /// largest when positive, r-th smallest otherwise.
  int32_t FactorItem(int f, double direction, int64_t r) const {
    return direction > 0 ? order_[f][num_items_ - r] : order_[f][r - 1];
  }

  int32_t DrawFactor(int32_t user, const double* user_row, const std::vector<double>& weight,
                     double total, RandomStream* stream) const {
    const int d = (int)weight.size();
    for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
      const int64_t r = DrawRank(stream);
      const double target = stream->NextUniform() * total;
      int f = -1;  // the first factor whose running sum passes the target (or the last one)
      double sum = 0;
      for (int g = 0; g < d; ++g) {
        if (weight[g] == 0) continue;
        f = g;
        sum += weight[g];
        if (target < sum) break;
      }
      const int32_t item = FactorItem(f, user_row[f], r);
      if (!IsPositive(user, item)) return item;
    }
    // Direct draw over (f, r) with weight w_f·exp(−(r − 1)/λ) on the non-positive items, scaled
    // by the largest weight so the sums cannot all underflow: pick f by its total, then r in f.
    // O(n_i·d·log|I_u^+|), but only after kMaxRejections failures.
    const double minus_infinity = -std::numeric_limits<double>::infinity();
    std::vector<double> log_weight(d, minus_infinity), factor_total(d, 0.0);
    double top = minus_infinity;
    for (int f = 0; f < d; ++f) {
      if (weight[f] == 0) continue;
      log_weight[f] = std::log(weight[f]);
      for (int64_t r = 1; r <= num_items_; ++r)
        if (!IsPositive(user, FactorItem(f, user_row[f], r))) {
          top = std::max(top, log_weight[f] - (double)(r - 1) / lambda_);
          break;
        }
    }
    auto term = [&](int f, int64_t r) {
      return std::exp(log_weight[f] - (double)(r - 1) / lambda_ - top);
    };
    double total_all = 0;
    for (int f = 0; f < d; ++f) {
      if (weight[f] == 0) continue;
      for (int64_t r = 1; r <= num_items_; ++r)
        if (!IsPositive(user, FactorItem(f, user_row[f], r))) factor_total[f] += term(f, r);
      total_all += factor_total[f];
    }
    double target = stream->NextUniform() * total_all;
    int f = -1;  // rounding may leave the target past the end: then the last factor with mass
    for (int g = 0; g < d; ++g) {
      if (factor_total[g] == 0) continue;
      f = g;
      if (target < factor_total[g]) break;
      target -= factor_total[g];
    }
    double sum = 0;
    int32_t last = -1;
    for (int64_t r = 1; r <= num_items_; ++r) {
      const int32_t item = FactorItem(f, user_row[f], r);
      if (IsPositive(user, item)) continue;
      last = item;
      sum += term(f, r);
      if (sum > target) break;
    }
    return last;
  }

  std::string mode_ = "auto";
  double rho_ = 0.05;
  bool factor_ = false;
  int64_t num_items_ = 0;
  double lambda_ = 0, tail_ = 0;
  RowMatrix all_rows_;
  // exact mode: the current user's scores by item id, its full ranking once sorted, and the
  // selection's scratch
  std::vector<double> score_, sample_;
  std::vector<Ranked> ranked_, selected_;
  bool sorted_ = false;
  int selections_ = 0;
  // factor mode: per-factor increasing orders, spreads, and the global draw count
  std::vector<std::vector<int32_t>> order_;
  std::vector<double> sigma_;
  int64_t refresh_interval_ = 1, draws_ = 0, next_refresh_ = 0;
};

}  // namespace

std::unique_ptr<Sampler> CreateSampler_AOBPR(MPI_Comm comm) {
  return std::make_unique<AobprSampler>(comm);
}

}  // namespace recns
