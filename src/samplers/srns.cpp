// SRNS: negatives from a per-user memory, chosen by current hardness plus score variance
// (Ding et al. 2020; ALGORITHMS §4.5, which follows the authors' SRNS_real/SRNS_main.py).
//
// Why variance: a false negative (an unlabelled positive) keeps a high score epoch after epoch,
// while an informative true negative's score moves as the model learns. So among the candidates of
// the user's memory M_u the sampler takes
//   j = argmax_c  σ(s_uc − s_ui) + α·min(1, epoch/warmup)·std_t σ(s^t_uc − s^t_ui)
// (argmax of the std alone when α < 0), where t runs over the score snapshots of the last
// ≤ H epoch ends. The memory is then refreshed towards high-scoring candidates, so hard candidates
// are found again: M_u plus S2 fresh pool indices, of which S1 survive, drawn without replacement
// with q ∝ exp(s_uc/τ). With k > 1 negatives per pair the sampler returns the k best candidates of
// M_u by the same criterion (the ranking repeats from its top when k > S1), which keeps k = 1
// exactly the reference rule.
//
// State, per local user (the rank that owns a user owns its state):
//  - 1 + H pools of V uniform negatives (with replacement, rejection of positives): the current one
//    and H look-ahead pools. Past scores cannot be recomputed (old parameters are gone), so a pool
//    is scored at every epoch end while it waits; when it becomes current it carries the snapshots
//    of the last min(epochs, H) epoch ends. The user's training positives are scored at the same
//    epoch ends (a ring of the last H), so snapshot t of a pool and of the positives is one epoch.
//    The pool used in epoch e is "generation" e, drawn from the counter stream
//    (seed, kSampler, e, user): the same at every rank count.
//  - M_u: S1 distinct indices into the current pool.
// Memory: V·(H+1) int32 items + V·H(H+1)/2 float snapshots per user, i.e. 84·V bytes at H = 5
// (≈ 250 kB at V = 3000; 240 MB for MovieLens-100k's 943 users), allocated at the first
// Sample/EndEpoch (the first call that brings the seed) and recycled between epochs.
//
// Everything is a function of (seed, epoch, global user or pair id) and of the scores (recns::Dot,
// summed in index order), so choices are identical at any rank count. A checkpoint holds the
// memories, the snapshots and the positives' history, per user and per pair in dataset order; the
// pools themselves are redrawn from their generations. Pool j (0: current) holds at most H - j
// snapshots, so the state saved is at most 4·(S1 + V·H(H+1)/2) bytes per user plus 4·H per
// training pair, reached after H epochs; every checkpoint has datasets of that size, the unused
// ones made but not written (space reserved, not filled), so its size does not depend on the
// epoch.
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cmath>
#include <deque>
#include <new>

#include "recns/checkpoint.hpp"
#include "recns/error.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/package.hpp"
#include "recns/sampler.hpp"

namespace recns {
namespace {

// Tags in the high bits of a kSampler stream index keep SRNS's three kinds of streams apart (a
// stream index must stay below 2^56; user and pair ids stay far below 2^52).
constexpr uint64_t kPoolStream = 1ull << 52;        // (generation, global user): pool draws
constexpr uint64_t kInitMemoryStream = 2ull << 52;  // (first epoch, global user): initial M_u
constexpr uint64_t kMemoryStream = 3ull << 52;      // (epoch, pair): one memory update

/// out[k] = <user, rows(items[k])> for k < n, four at a time (Dot4: the same bits as Dot); this
/// is most of EndEpoch.
void ScoreRows(const double* user, const RowMatrix& rows, const int32_t* items, int64_t n, int d,
               float* out) {
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const double* const four[4] = {rows.row(items[k]).data(), rows.row(items[k + 1]).data(),
                                   rows.row(items[k + 2]).data(), rows.row(items[k + 3]).data()};
    double s[4];
    Dot4(user, four, d, s);
    for (int t = 0; t < 4; ++t) out[k + t] = (float)s[t];
  }
  for (; k < n; ++k) out[k] = (float)Dot(user, rows.row(items[k]).data(), d);
}

class SRNSSampler final : public Sampler {
 public:
  using Sampler::Sampler;
  const char* Type() const override { return "srns"; }
  bool ReadsGatheredRows() const override { return true; }
  std::string Describe() const override {
    return Format("srns (V=%d, S1=%d, S2=%d, alpha=%g, warmup=%g, tau=%g, history=%d)",
                  (int)pool_size_, (int)s1_, (int)(s1_ * s2_ratio_), (double)alpha_,
                  (double)warmup_, (double)tau_, (int)history_);
  }
  PetscErrorCode Sample(const SampleContext& context, const Batch& batch,
                        Negatives* negatives) override;
  PetscErrorCode EndEpoch(const SampleContext& context) override;
  PetscErrorCode Save(CheckpointFile& file) const override;
  PetscErrorCode Load(CheckpointFile& file) override;

  /// For the unit test only (see SRNSStateForTest).
  bool View(int32_t local_user, std::vector<int32_t>* pool, std::vector<int32_t>* memory,
            int* snapshots) const {
    if (!built_) return false;
    const Pool& current = pools_.front();
    pool->assign(current.items.begin() + (int64_t)local_user * pool_size_,
                 current.items.begin() + (int64_t)(local_user + 1) * pool_size_);
    memory->assign(memory_.begin() + (int64_t)local_user * s1_,
                   memory_.begin() + (int64_t)(local_user + 1) * s1_);
    *snapshots = (int)current.snapshots.size();
    return true;
  }

 protected:
  PetscErrorCode SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) override;
  PetscErrorCode SetUpImpl() override {
    PetscFunctionBeginUser;
    built_ = false;  // a new graph means new users: the state is rebuilt at the next call
    PetscFunctionReturn(PETSC_SUCCESS);
  }

 private:
  struct Pool {
    uint32_t generation = 0;                    // the epoch during which it is (was) current
    std::vector<int32_t> items;                 // local user u's candidates at [u·V, (u+1)·V)
    std::vector<std::vector<float>> snapshots;  // oldest first, each laid out like `items`
  };

  PetscErrorCode BuildState(const SampleContext& context);
  /// Sizes the state for pools of generations first_generation .. first_generation + H and
  /// draws the pools; the memory is left for the caller to fill.
  PetscErrorCode Allocate(uint64_t seed, uint32_t first_generation);
  void DrawPool(uint32_t generation, std::vector<int32_t>* items) const;
  PetscErrorCode TakeBlock(size_t size, std::vector<float>* block);
  /// The local train-CSR index of (local user, positive item): where its score history lives.
  PetscErrorCode PositiveIndex(int32_t local_user, int32_t item, int64_t* index) const;

  // Defaults: the authors' run.sh on ML-1M (ALGORITHMS §4.5).
  PetscInt pool_size_ = 3000, s1_ = 8, s2_ratio_ = 8, history_ = 5;
  PetscReal alpha_ = 5, warmup_ = 50, tau_ = 10;

  bool built_ = false;
  uint64_t seed_ = 0;
  std::deque<Pool> pools_;  // [0] current, [1..H] look-ahead, in the order they become current
  // The positives' scores at the last ≤ H epoch ends, oldest first; one per local train pair.
  std::deque<std::vector<float>> positive_history_;
  std::vector<int32_t> memory_;            // local user u's M_u at [u·S1, (u+1)·S1)
  std::vector<std::vector<float>> spare_;  // snapshot blocks of retired pools, for reuse
  RowMatrix all_items_;

  // Per-call scratch, kept to avoid reallocating every step.
  std::vector<int32_t> items_, users_, slot_of_user_, extension_, chosen_;
  std::vector<int64_t> first_pair_;
  std::vector<RandomStream> streams_;
  std::vector<uint8_t> taken_;
  std::vector<double> criterion_, likelihood_, score_, weight_;
  std::vector<int> order_;
};

PetscErrorCode SRNSSampler::SetFromOptionsImpl(PetscOptionItems* PetscOptionsObject) {
  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "SRNS sampler options");
  PetscCall(PetscOptionsInt("-sampler_srns_pool_size",
                            "SRNS: V uniform negatives per user in each of the 1+H candidate "
                            "pools; the state takes 2*V*(H+1)*(H+2) bytes per user "
                            "(252 kB at V=3000, H=5)",
                            "Sampler", pool_size_, &pool_size_, nullptr));
  PetscCall(PetscOptionsInt("-sampler_srns_s1", "SRNS: memory size S1 (candidates per selection)",
                            "Sampler", s1_, &s1_, nullptr));
  PetscCall(PetscOptionsInt("-sampler_srns_s2_ratio",
                            "SRNS: S2/S1; each memory update adds S2 = S1*ratio fresh pool "
                            "indices",
                            "Sampler", s2_ratio_, &s2_ratio_, nullptr));
  PetscCall(PetscOptionsReal("-sampler_srns_alpha",
                             "SRNS: weight of the score standard deviation in the selection "
                             "(< 0: select by the standard deviation alone)",
                             "Sampler", alpha_, &alpha_, nullptr));
  PetscCall(PetscOptionsReal("-sampler_srns_warmup",
                             "SRNS: epochs over which the variance weight ramps up linearly "
                             "(0: full weight from the start)",
                             "Sampler", warmup_, &warmup_, nullptr));
  PetscCall(PetscOptionsReal("-sampler_srns_tau",
                             "SRNS: temperature of the memory update, q proportional to "
                             "exp(score/tau)",
                             "Sampler", tau_, &tau_, nullptr));
  PetscCall(PetscOptionsInt("-sampler_srns_history",
                            "SRNS: H, epoch-end score snapshots kept per candidate (also the "
                            "number of look-ahead pools; 1 disables the variance term)",
                            "Sampler", history_, &history_, nullptr));
  PetscOptionsHeadEnd();
  RECNS_CHECK_INPUT(pool_size_ >= 1, comm_, "-sampler_srns_pool_size must be >= 1 (got %d)",
                    (int)pool_size_);
  RECNS_CHECK_INPUT(s1_ >= 1, comm_, "-sampler_srns_s1 must be >= 1 (got %d)", (int)s1_);
  RECNS_CHECK_INPUT(s2_ratio_ >= 0, comm_, "-sampler_srns_s2_ratio must be >= 0 (got %d)",
                    (int)s2_ratio_);
  // The memory and its extension are distinct pool indices, so they must fit in the pool.
  const int64_t extended = (int64_t)s1_ * (1 + (int64_t)s2_ratio_);
  RECNS_CHECK_INPUT(extended <= (int64_t)pool_size_, comm_,
                    "-sampler_srns_pool_size (%d) must be >= S1*(1 + S2/S1) = %lld "
                    "(-sampler_srns_s1 %d, -sampler_srns_s2_ratio %d)",
                    (int)pool_size_, (long long)extended, (int)s1_, (int)s2_ratio_);
  RECNS_CHECK_INPUT(std::isfinite((double)alpha_), comm_,
                    "-sampler_srns_alpha must be a finite number (got %g)", (double)alpha_);
  RECNS_CHECK_INPUT(warmup_ >= 0 && std::isfinite((double)warmup_), comm_,
                    "-sampler_srns_warmup must be a finite number >= 0 (got %g)", (double)warmup_);
  RECNS_CHECK_INPUT(tau_ > 0 && std::isfinite((double)tau_), comm_,
                    "-sampler_srns_tau must be a finite number > 0 (got %g)", (double)tau_);
  RECNS_CHECK_INPUT(history_ >= 1, comm_, "-sampler_srns_history must be >= 1 (got %d)",
                    (int)history_);
  PetscFunctionReturn(PETSC_SUCCESS);
}

void SRNSSampler::DrawPool(uint32_t generation, std::vector<int32_t>* items) const {
  const Layout& layout = graph_->GetLayout();
  const int64_t V = pool_size_;
  for (int64_t u = 0; u < layout.LocalUsers(); ++u) {
    RandomStream stream(seed_, RngPurpose::kSampler, generation,
                        kPoolStream | StreamTag() | (uint64_t)(layout.UserBegin() + u));
    int32_t* row = items->data() + u * V;
    for (int64_t k = 0; k < V; ++k) row[k] = DrawUniformNegative(*graph_, (int32_t)u, &stream);
  }
}

PetscErrorCode SRNSSampler::TakeBlock(size_t size, std::vector<float>* block) {
  PetscFunctionBeginUser;
  if (!spare_.empty()) {
    *block = std::move(spare_.back());
    spare_.pop_back();
  }
  try {
    block->resize(size);
  } catch (const std::bad_alloc&) {
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_MEM,
            "srns: cannot allocate %zu score snapshots (lower -sampler_srns_pool_size or "
            "-sampler_srns_history)",
            size);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::Allocate(uint64_t seed, uint32_t first_generation) {
  PetscFunctionBeginUser;
  const int64_t users = graph_->GetLayout().LocalUsers(), V = pool_size_, S1 = s1_;
  seed_ = seed;
  pools_.clear();
  positive_history_.clear();
  spare_.clear();
  try {
    for (PetscInt g = 0; g <= history_; ++g) {
      Pool pool;
      pool.generation = first_generation + (uint32_t)g;
      pool.items.resize((size_t)(users * V));
      pools_.push_back(std::move(pool));
    }
    memory_.resize((size_t)(users * S1));
    slot_of_user_.assign((size_t)users, -1);
    taken_.assign((size_t)V, 0);
  } catch (const std::bad_alloc&) {
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_MEM,
            "srns: cannot allocate the candidate pools of %lld users (lower "
            "-sampler_srns_pool_size or -sampler_srns_history)",
            (long long)users);
  }
  for (Pool& pool : pools_) DrawPool(pool.generation, &pool.items);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::BuildState(const SampleContext& context) {
  PetscFunctionBeginUser;
  const Layout& layout = graph_->GetLayout();
  const int64_t users = layout.LocalUsers(), V = pool_size_, S1 = s1_;
  // Pool generation g is current during epoch g; a state first built at epoch E starts as if
  // nothing had been recorded before E.
  PetscCall(Allocate(context.seed, context.epoch));
  // M_u starts as S1 distinct random pool indices.
  for (int64_t u = 0; u < users; ++u) {
    RandomStream stream(seed_, RngPurpose::kSampler, context.epoch,
                        kInitMemoryStream | StreamTag() | (uint64_t)(layout.UserBegin() + u));
    int32_t* memory = memory_.data() + u * S1;
    for (int64_t m = 0; m < S1; ++m) {
      int32_t index;
      do index = (int32_t)stream.NextBelow((uint32_t)V);
      while (taken_[index]);
      taken_[index] = 1;
      memory[m] = index;
    }
    for (int64_t m = 0; m < S1; ++m) taken_[memory[m]] = 0;
  }
  built_ = true;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::Save(CheckpointFile& file) const {
  PetscFunctionBeginUser;
  const Layout& layout = graph_->GetLayout();
  const int64_t users = layout.LocalUsers(), pairs = (int64_t)graph_->Slice().train.indices.size();
  const int64_t H = history_;
  PetscCall(file.WriteAttribute(Group(), "built", (int64_t)built_));
  if (!built_ && !file.Measuring()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(file.WriteAttribute(Group(), "pool_size", (int64_t)pool_size_));
  PetscCall(file.WriteAttribute(Group(), "s1", (int64_t)s1_));
  PetscCall(file.WriteAttribute(Group(), "history", (int64_t)history_));
  PetscCall(file.WriteAttribute(Group(), "seed", (int64_t)seed_));
  PetscCall(file.WriteAttribute(Group(), "first_generation", built_ ? (int64_t)pools_.front().generation : 0));
  PetscCall(file.WriteRows(Group() + "/memory", RowScope::kUsers, built_ ? memory_.data() : nullptr,
                           users, s1_));
  // The same datasets at every epoch, so that a checkpoint's size is known before training and
  // does not grow over the first H epochs: pool j (0 the current one) has a slot for each of the
  // H - j snapshots it can hold, the positives one for each of H. The attributes count the slots
  // in use; the others are made but not written.
  for (int64_t j = 0; j <= H; ++j) {
    const size_t used = built_ ? pools_[j].snapshots.size() : 0;
    PetscCall(file.WriteAttribute(Group(), Format("pool%lld_snapshots", (long long)j), (int64_t)used));
    for (int64_t t = 0; t < H - j; ++t)
      PetscCall(file.WriteRows(Group() + Format("/pool%lld_snapshot%lld", (long long)j, (long long)t),
                               RowScope::kUsers, (size_t)t < used ? pools_[j].snapshots[t].data() : nullptr,
                               users, pool_size_));
  }
  const size_t used = built_ ? positive_history_.size() : 0;
  PetscCall(file.WriteAttribute(Group(), "positive_snapshots", (int64_t)used));
  for (int64_t t = 0; t < H; ++t)
    PetscCall(file.WriteRows(Group() + Format("/positive_score%lld", (long long)t), RowScope::kTrainPairs,
                             (size_t)t < used ? positive_history_[t].data() : nullptr, pairs, 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::Load(CheckpointFile& file) {
  int64_t built, value, seed, first_generation, count;
  PetscFunctionBeginUser;
  const Layout& layout = graph_->GetLayout();
  const int64_t users = layout.LocalUsers(), pairs = (int64_t)graph_->Slice().train.indices.size();
  PetscCall(file.ReadAttribute(Group(), "built", &built));
  built_ = false;
  if (!built) PetscFunctionReturn(PETSC_SUCCESS);
  const std::pair<const char*, PetscInt> sizes[] = {
      {"pool_size", pool_size_}, {"s1", s1_}, {"history", history_}};
  for (const auto& [name, mine] : sizes) {
    PetscCall(file.ReadAttribute(Group(), name, &value));
    RECNS_CHECK_INPUT(value == (int64_t)mine, comm_,
                      "checkpoint '%s' holds SRNS state for -sampler_srns_%s %lld; this run has %lld",
                      file.Path().c_str(), name, (long long)value, (long long)mine);
  }
  PetscCall(file.ReadAttribute(Group(), "seed", &seed));
  PetscCall(file.ReadAttribute(Group(), "first_generation", &first_generation));
  const int64_t last_generation = (int64_t)UINT32_MAX - history_;
  RECNS_CHECK_INPUT(first_generation >= 0 && first_generation <= last_generation, comm_,
                    "checkpoint '%s': /sampler attribute 'first_generation' is %lld; it must be in "
                    "[0, %lld]",
                    file.Path().c_str(), (long long)first_generation, (long long)last_generation);
  PetscCall(Allocate((uint64_t)seed, (uint32_t)first_generation));
  PetscCall(file.ReadRows(Group() + "/memory", RowScope::kUsers, memory_.data(), users, s1_));
  // A memory entry indexes its user's pool; one outside it would be read and written past it.
  const auto outside = std::find_if(memory_.begin(), memory_.end(),
                                    [this](int32_t slot) { return slot < 0 || slot >= pool_size_; });
  PetscCall(CheckAllRanks(
      comm_, outside == memory_.end(),
      outside == memory_.end()
          ? std::string()
          : Format("checkpoint '%s': /sampler/memory holds %d, not a slot of a pool of %d",
                   file.Path().c_str(), (int)*outside, (int)pool_size_)));
  // Snapshot t of the current pool and of the positives are one epoch end (top comment), and
  // no pool holds more than H.
  int64_t current_snapshots = 0;
  for (size_t j = 0; j < pools_.size(); ++j) {
    PetscCall(file.ReadAttribute(Group(), Format("pool%zu_snapshots", j), &count));
    RECNS_CHECK_INPUT(count >= 0 && count <= history_ - (int64_t)j, comm_,
                      "checkpoint '%s': /sampler attribute 'pool%zu_snapshots' is %lld; it must be "
                      "in [0, %lld], -sampler_srns_history less the pool's place",
                      file.Path().c_str(), j, (long long)count, (long long)(history_ - (int64_t)j));
    if (j == 0) current_snapshots = count;
    for (int64_t t = 0; t < count; ++t) {
      std::vector<float> block;
      PetscCall(TakeBlock((size_t)(users * pool_size_), &block));
      PetscCall(file.ReadRows(Group() + Format("/pool%zu_snapshot%lld", j, (long long)t),
                              RowScope::kUsers, block.data(), users, pool_size_));
      pools_[j].snapshots.push_back(std::move(block));
    }
  }
  PetscCall(file.ReadAttribute(Group(), "positive_snapshots", &count));
  RECNS_CHECK_INPUT(count == current_snapshots, comm_,
                    "checkpoint '%s': /sampler attribute 'positive_snapshots' is %lld, not the "
                    "current pool's %lld snapshots",
                    file.Path().c_str(), (long long)count, (long long)current_snapshots);
  for (int64_t t = 0; t < count; ++t) {
    std::vector<float> scores((size_t)pairs);
    PetscCall(file.ReadRows(Group() + Format("/positive_score%lld", (long long)t),
                            RowScope::kTrainPairs, scores.data(), pairs, 1));
    positive_history_.push_back(std::move(scores));
  }
  built_ = true;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::PositiveIndex(int32_t local_user, int32_t item, int64_t* index) const {
  PetscFunctionBeginUser;
  int64_t count;
  const int32_t* positives = graph_->TrainItems(local_user, &count);
  const int32_t* at = std::lower_bound(positives, positives + count, item);
  PetscCheck(at != positives + count && *at == item, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "srns: item %d is not a training item of local user %d", (int)item, (int)local_user);
  *index = at - graph_->Slice().train.indices.data();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::Sample(const SampleContext& context, const Batch& batch,
                                   Negatives* negatives) {
  PetscFunctionBeginUser;
  if (!built_) PetscCall(BuildState(context));
  const int64_t V = pool_size_, S1 = s1_, S2 = s1_ * s2_ratio_;
  const Pool& pool = pools_.front();
  const int d = context.model->FinalWidth();
  // A step reads up to B·(1 + S1 + S2) item rows. Once that reaches the catalogue size their
  // union covers most of it (uniform pools: 1 − 1/e of it at equality), and one all-gather of
  // every item row is far cheaper than building this step's halo over ~10^4 repeated ids (ML-100k,
  // 2 ranks: 0.03 ms against milliseconds). The rule uses global quantities only, so every rank
  // takes the same collective path; one rank needs no halo at all.
  const Layout& layout = graph_->GetLayout();
  const bool gather_all =
      layout.Size() > 1 && batch.global_size * (1 + S1 + S2) >= layout.NumItems();
  auto row = [&](int32_t item) { return gather_all ? all_items_.row(item).data() : ItemRow(item); };

  // The distinct users of the batch, in first-appearance order. Each one's memory extension is
  // drawn now, so that every row the step needs is gathered in one collective call, from the
  // stream of the user's first pair: a pair occurs once per epoch, and the local batch keeps the
  // global order, so the stream is the same at any rank count.
  users_.clear();
  first_pair_.clear();
  streams_.clear();
  items_.clear();
  for (size_t b = 0; b < batch.Size(); ++b) {
    const int32_t u = batch.user[b];
    if (!gather_all) {
      items_.push_back(batch.item[b]);
      for (int64_t m = 0; m < S1; ++m) items_.push_back(pool.items[u * V + memory_[u * S1 + m]]);
    }
    if (slot_of_user_[u] < 0) {
      slot_of_user_[u] = (int32_t)users_.size();
      users_.push_back(u);
      first_pair_.push_back(batch.pair[b]);
    }
  }
  extension_.resize(users_.size() * (size_t)S2);
  for (size_t slot = 0; slot < users_.size(); ++slot) {
    const int32_t u = users_[slot];
    streams_.emplace_back(seed_, RngPurpose::kSampler, context.epoch,
                          kMemoryStream | StreamTag() | (uint64_t)first_pair_[slot]);
    RandomStream& stream = streams_.back();
    const int32_t* memory = memory_.data() + u * S1;
    int32_t* extension = extension_.data() + slot * S2;
    // Distinct from M_u and from each other. (The reference code only avoids M_u, so its
    // extension may repeat an index; ALGORITHMS §4.5 asks for distinct ones.)
    for (int64_t m = 0; m < S1; ++m) taken_[memory[m]] = 1;
    for (int64_t m = 0; m < S2; ++m) {
      int32_t index;
      do index = (int32_t)stream.NextBelow((uint32_t)V);
      while (taken_[index]);
      taken_[index] = 1;
      extension[m] = index;
      if (!gather_all) items_.push_back(pool.items[u * V + index]);
    }
    for (int64_t m = 0; m < S1; ++m) taken_[memory[m]] = 0;
    for (int64_t m = 0; m < S2; ++m) taken_[extension[m]] = 0;
  }
  if (gather_all)
    PetscCall(GatherAllItemRows(context, &all_items_));
  else
    PetscCall(GatherItemRows(context, items_));

  PetscCall(PetscLogEventBegin(Events().sample_score, 0, 0, 0, 0));
  negatives->Reset(num_negatives_);
  // Snapshot t of the pool and of the positives must be the same epoch end (top comment).
  const size_t snapshots = pool.snapshots.size();
  PetscCheck(snapshots == positive_history_.size(), PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "srns: %zu pool snapshots but %zu positive snapshots", snapshots,
             positive_history_.size());
  const double ramp = warmup_ > 0 ? std::min(1.0, (double)context.epoch / (double)warmup_) : 1.0;
  criterion_.resize((size_t)S1);
  likelihood_.resize(snapshots);
  order_.resize((size_t)S1);
  // Selection, with every pair of the batch seeing the memory before this step's update.
  for (size_t b = 0; b < batch.Size(); ++b) {
    const int32_t u = batch.user[b];
    const double* user = UserRow(context, u);
    const double positive = Dot(user, row(batch.item[b]), d);
    int64_t positive_index = 0;
    if (snapshots >= 2) PetscCall(PositiveIndex(u, batch.item[b], &positive_index));
    for (int64_t m = 0; m < S1; ++m) {
      const int64_t slot = u * V + memory_[u * S1 + m];
      const double now = Sigmoid(Dot(user, row(pool.items[slot]), d) - positive);
      // Population standard deviation of σ(s^t_uc − s^t_ui) over the snapshots; 0 until there
      // are two of them.
      double deviation = 0;
      if (snapshots >= 2) {
        double mean = 0;
        for (size_t t = 0; t < snapshots; ++t) {
          likelihood_[t] = Sigmoid((double)pool.snapshots[t][slot] -
                                   (double)positive_history_[t][positive_index]);
          mean += likelihood_[t];
        }
        mean /= (double)snapshots;
        for (size_t t = 0; t < snapshots; ++t)
          deviation += (likelihood_[t] - mean) * (likelihood_[t] - mean);
        deviation = std::sqrt(deviation / (double)snapshots);
      }
      criterion_[m] = alpha_ < 0 ? deviation : now + alpha_ * ramp * deviation;
    }
    // k > 1: the k best candidates by the criterion (ties: the earlier memory slot); with more
    // negatives than S1 the ranking repeats from its top.
    for (int64_t m = 0; m < S1; ++m) order_[m] = (int)m;
    std::stable_sort(order_.begin(), order_.end(),
                     [&](int a, int c) { return criterion_[a] > criterion_[c]; });
    for (int s = 0; s < num_negatives_; ++s)
      negatives->AddItem(pool.items[u * V + memory_[u * S1 + order_[s % S1]]]);
  }

  // Memory update, once per distinct user: keep S1 of M_u ∪ extension, drawn without replacement
  // with q ∝ exp(s_uc/τ) (sequential draws, renormalised over the candidates left).
  const int64_t extended = S1 + S2;
  score_.resize((size_t)extended);
  weight_.resize((size_t)extended);
  chosen_.resize((size_t)S1);
  for (size_t slot = 0; slot < users_.size(); ++slot) {
    const int32_t u = users_[slot];
    const double* user = UserRow(context, u);
    int32_t* memory = memory_.data() + u * S1;
    const int32_t* extension = extension_.data() + slot * S2;
    auto candidate = [&](int64_t c) { return c < S1 ? memory[c] : extension[c - S1]; };
    double top = -INFINITY;
    for (int64_t c = 0; c < extended; ++c) {
      score_[c] = Dot(user, row(pool.items[u * V + candidate(c)]), d) / tau_;
      top = std::max(top, score_[c]);
    }
    // Shifting by the maximum keeps exp finite (the reference code does not shift).
    for (int64_t c = 0; c < extended; ++c) weight_[c] = std::exp(score_[c] - top);
    RandomStream& stream = streams_[slot];
    for (int64_t r = 0; r < S1; ++r) {
      // Taken candidates carry weight -1 so they are never drawn again.
      double total = 0;
      for (int64_t c = 0; c < extended; ++c)
        if (weight_[c] >= 0) total += weight_[c];
      if (!(total >= DBL_MIN)) {
        // Every candidate left underflowed: renormalise against the best of them.
        double best = -INFINITY;
        for (int64_t c = 0; c < extended; ++c)
          if (weight_[c] >= 0) best = std::max(best, score_[c]);
        total = 0;
        for (int64_t c = 0; c < extended; ++c)
          if (weight_[c] >= 0) total += weight_[c] = std::exp(score_[c] - best);
      }
      const double x = stream.NextUniform() * total;
      double cumulative = 0;
      int64_t pick = -1, last = -1;
      for (int64_t c = 0; c < extended && pick < 0; ++c) {
        if (weight_[c] < 0) continue;
        last = c;
        cumulative += weight_[c];
        if (x < cumulative) pick = c;
      }
      if (pick < 0) pick = last;  // rounding left x just past the end
      chosen_[r] = candidate(pick);
      weight_[pick] = -1;
    }
    // Kept in draw order (as the reference code does); only ties in the selection see the order.
    std::copy(chosen_.begin(), chosen_.end(), memory);
    slot_of_user_[u] = -1;
  }
  PetscCall(PetscLogEventEnd(Events().sample_score, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SRNSSampler::EndEpoch(const SampleContext& context) {
  PetscFunctionBeginUser;
  if (!built_) PetscCall(BuildState(context));
  // Scoring needs every item of 1+H pools of V uniform draws per local user: for any realistic
  // number of users per rank their union is the whole catalogue, so one all-gather of the item
  // rows (n_i·d doubles) is cheaper than building a halo over millions of repeated ids.
  PetscCall(GatherAllItemRows(context, &all_items_));
  const Layout& layout = graph_->GetLayout();
  const int64_t users = layout.LocalUsers(), V = pool_size_;
  const int d = (int)all_items_.cols();

  // The current pool retires: its snapshots are never read again (nor does the reference code
  // score it), so its blocks are reused for this epoch end's snapshots.
  Pool retired = std::move(pools_.front());
  pools_.pop_front();
  for (std::vector<float>& block : retired.snapshots) spare_.push_back(std::move(block));
  retired.snapshots.clear();

  for (Pool& pool : pools_) {
    std::vector<float> block;
    PetscCall(TakeBlock((size_t)(users * V), &block));
    for (int64_t u = 0; u < users; ++u)
      ScoreRows(UserRow(context, (int32_t)u), all_items_, pool.items.data() + u * V, V, d,
                block.data() + u * V);
    pool.snapshots.push_back(std::move(block));
  }

  const std::vector<int32_t>& train = graph_->Slice().train.indices;
  std::vector<float> positives;
  if ((PetscInt)positive_history_.size() == history_) {
    positives = std::move(positive_history_.front());
    positive_history_.pop_front();
  }
  positives.resize(train.size());
  for (int64_t u = 0; u < users; ++u) {
    int64_t count;
    const int32_t* items = graph_->TrainItems(u, &count);
    ScoreRows(UserRow(context, (int32_t)u), all_items_, items, count, d,
              positives.data() + (items - train.data()));
  }
  positive_history_.push_back(std::move(positives));

  // A fresh look-ahead pool, in the retired pool's storage. M_u is deliberately left as it is: its
  // indices now point at other items of the new current pool. That is what the reference code
  // does (ALGORITHMS §4.5 lists it as a quirk), so the memory's bias towards hard items is lost at
  // every epoch end and rebuilt by the updates.
  retired.generation = pools_.back().generation + 1;
  DrawPool(retired.generation, &retired.items);
  pools_.push_back(std::move(retired));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

std::unique_ptr<Sampler> CreateSampler_SRNS(MPI_Comm comm) {
  return std::make_unique<SRNSSampler>(comm);
}

/// Test-only view of an SRNS sampler's state, declared by tests/unit/srns_test.cpp alone (no
/// header: nothing else should depend on the internals). For a local user: the current pool's
/// items, the memory M_u as pool indices, and how many score snapshots the current pool carries.
/// False when `sampler` is not SRNS or its state is not built yet (it is built at the first
/// Sample or EndEpoch).
bool SRNSStateForTest(const Sampler& sampler, int32_t local_user, std::vector<int32_t>* pool,
                      std::vector<int32_t>* memory, int* snapshots) {
  const auto* srns = dynamic_cast<const SRNSSampler*>(&sampler);
  return srns && srns->View(local_user, pool, memory, snapshots);
}

}  // namespace recns
