// The training loop (ARCHITECTURE §1): per step, the global batch's pairs of this rank ->
// negatives -> forward -> the step's objective (objective.cpp: halo, loss, backward, L2, one
// reduction) -> optimizer; per epoch, the sampler's update, evaluation, early stopping and
// checkpoints. Options and set-up are here too; what it prints and writes is trainer_report.cpp.
#include "recns/trainer.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <limits>

#include "recns/error.hpp"
#include "recns/json.hpp"
#include "recns/metrics_log.hpp"
#include "recns/package.hpp"
#include "recns/stop_signal.hpp"

namespace recns {

namespace {

/// Adds the seconds since `start` to `phase` and returns the time now.
double Lap(double start, double* phase) {
  const double now = MPI_Wtime();
  *phase += now - start;
  return now;
}

bool MetricBetter(double value, double best) { return std::isfinite(value) && value > best; }

/// Whether two paths name one file, whether or not it exists yet (links and "./" resolved).
bool SameFile(const std::string& a, const std::string& b) {
  std::error_code error;
  if (std::filesystem::equivalent(a, b, error)) return true;
  const auto place_a = std::filesystem::weakly_canonical(a, error);
  if (error) return false;
  const auto place_b = std::filesystem::weakly_canonical(b, error);
  return !error && place_a == place_b;
}

}  // namespace

Trainer::Trainer(MPI_Comm comm) : comm_(comm), evaluator_(comm), objective_(comm) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
}

Trainer::~Trainer() = default;

// --- options ------------------------------------------------------------------------------------

PetscErrorCode Trainer::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscCall(InitializePackage());
  char path[PETSC_MAX_PATH_LEN] = "";
  char metric[64], metrics_path[PETSC_MAX_PATH_LEN], summary[PETSC_MAX_PATH_LEN] = "";
  PetscCall(PetscStrncpy(metric, eval_metric_.c_str(), sizeof metric));
  PetscCall(PetscStrncpy(metrics_path, metrics_path_.c_str(), sizeof metrics_path));
  PetscInt epochs = epochs_, interval = eval_interval_, patience = patience_, seed = (PetscInt)seed_;
  PetscInt batch = (PetscInt)batch_size_, max_steps = (PetscInt)max_steps_;
  char checkpoint_dir[PETSC_MAX_PATH_LEN], restart[PETSC_MAX_PATH_LEN] = "";
  PetscCall(PetscStrncpy(checkpoint_dir, checkpoint_dir_.c_str(), sizeof checkpoint_dir));
  PetscInt every_epochs = checkpoint_every_epochs_, keep = checkpoint_keep_,
           test_kill = checkpoint_test_kill_;
  PetscReal every_minutes = checkpoint_every_minutes_;
  PetscBool restart_set = PETSC_FALSE;
  PetscOptionsBegin(comm_, nullptr, "recns_train: training options", nullptr);
  PetscCall(PetscOptionsString("-dataset",
                               "Dataset file (recns HDF5, made by recns_convert); may also be "
                               "given as the first argument",
                               "Trainer", path, path, sizeof path, nullptr));
  PetscCall(OptionsTypeName(PetscOptionsObject, "-model_type", "Model", "Model",
                            ModelRegistry::Get().Names(), &model_type_));
  PetscCall(OptionsTypeName(PetscOptionsObject, "-sampler_type", "Negative sampler", "Sampler",
                            SamplerRegistry::Get().Names(), &sampler_type_));
  PetscCall(OptionsTypeName(PetscOptionsObject, "-loss_type", "Loss", "Loss", LossRegistry::Get().Names(),
                            &loss_type_));
  PetscCall(OptionsTypeName(PetscOptionsObject, "-optimizer_type", "Optimizer", "Optimizer",
                            OptimizerRegistry::Get().Names(), &optimizer_type_));
  PetscCall(PetscOptionsInt("-train_epochs", "Epochs (each visits every training pair once)",
                            "Trainer", epochs, &epochs, nullptr));
  PetscCall(PetscOptionsInt("-train_batch_size", "Positive pairs per global step", "Trainer", batch,
                            &batch, nullptr));
  PetscCall(PetscOptionsInt("-train_max_steps",
                            "Stop after this many global steps, even within an epoch (0: no "
                            "limit); the test split is evaluated at the end as usual",
                            "Trainer", max_steps, &max_steps, nullptr));
  PetscCall(PetscOptionsInt("-train_seed",
                            "Seed of every random choice (initialisation, order, negatives)",
                            "Trainer", seed, &seed, nullptr));
  PetscCall(PetscOptionsInt("-eval_interval",
                            "Evaluate every this many epochs (0: only after the last epoch)",
                            "Trainer", interval, &interval, nullptr));
  PetscCall(PetscOptionsString("-eval_metric",
                               "Metric that selects the best epoch and drives early stopping",
                               "Trainer", metric, metric, sizeof metric, nullptr));
  PetscCall(PetscOptionsInt("-eval_patience",
                            "Stop after this many evaluations without improvement (0: never)",
                            "Trainer", patience, &patience, nullptr));
  PetscCall(PetscOptionsString("-metrics_file",
                               "HDF5 file receiving one row per evaluated epoch (\"\": none)",
                               "Trainer", metrics_path, metrics_path, sizeof metrics_path, nullptr));
  PetscCall(PetscOptionsString("-summary", "JSON file receiving the run's outcome (\"\": none)",
                               "Trainer", summary, summary, sizeof summary, nullptr));
  PetscCall(PetscOptionsBool("-eval_sampling_quality",
                             "Per epoch, the true-negative rate and informativeness of the sampled "
                             "negatives (BNS paper eq 33-34; a negative is false when it is in the "
                             "user's test split), in the epoch line and the metrics file",
                             "Trainer", sampling_quality_, &sampling_quality_, nullptr));
  PetscCall(PetscOptionsBool("-eval_test_random",
                             "When the dataset has a random test split (/test_random), evaluate it "
                             "beside the test split at the end (metrics named test_random)",
                             "Trainer", eval_test_random_, &eval_test_random_, nullptr));
  PetscCall(PetscOptionsBool("-train_needed_rows_only",
                             "Propagate only the rows a step reads when the sampler scores no "
                             "items, and gather only the nonzero gradient rows backward (exact: "
                             "the same bits as recomputing every row, which false does)",
                             "Trainer", needed_rows_only_, &needed_rows_only_, nullptr));
  PetscCall(PetscOptionsString("-checkpoint_dir",
                               "Folder of the checkpoints (\"\": none; a stop signal then ends "
                               "the run without one)",
                               "Trainer", checkpoint_dir, checkpoint_dir, sizeof checkpoint_dir,
                               nullptr));
  PetscCall(PetscOptionsInt("-checkpoint_every_epochs",
                            "Checkpoint after every this many epochs (0: never on this count); "
                            "there is always one at the end and one on a stop signal",
                            "Trainer", every_epochs, &every_epochs, nullptr));
  PetscCall(PetscOptionsReal("-checkpoint_every_minutes",
                             "Also checkpoint, even mid-epoch, once this many minutes of wall time "
                             "have passed since the last checkpoint (0: never on time)",
                             "Trainer", every_minutes, &every_minutes, nullptr));
  PetscCall(PetscOptionsInt("-checkpoint_keep",
                            "Keep the newest this many of the run's checkpoints, plus the one of "
                            "the best evaluated epoch (other runs' are left alone)",
                            "Trainer", keep, &keep, nullptr));
  PetscCall(PetscOptionsString("-restart",
                               "Resume from a checkpoint: auto (the newest usable one in "
                               "-checkpoint_dir; none there: start afresh) or a file; any number "
                               "of ranks. Without it, a -checkpoint_dir holding another run's "
                               "checkpoints is refused",
                               "Trainer", restart, restart, sizeof restart, &restart_set));
  PetscCall(PetscOptionsInt("-checkpoint_test_kill",
                            "Testing aid: rank 0 kills itself (SIGKILL) in the middle of writing "
                            "this run's n-th checkpoint (0: never)",
                            "Trainer", test_kill, &test_kill, nullptr));
  PetscOptionsEnd();
  RECNS_CHECK_INPUT(epochs >= 0, comm_, "-train_epochs must be >= 0 (got %d)", (int)epochs);
  RECNS_CHECK_INPUT(max_steps >= 0, comm_, "-train_max_steps must be >= 0 (got %d)", (int)max_steps);
  RECNS_CHECK_INPUT(batch >= 1, comm_, "-train_batch_size must be >= 1 (got %d)", (int)batch);
  RECNS_CHECK_INPUT(interval >= 0, comm_, "-eval_interval must be >= 0 (got %d)", (int)interval);
  RECNS_CHECK_INPUT(patience >= 0, comm_, "-eval_patience must be >= 0 (got %d)", (int)patience);
  // Patience counts the evaluations between epochs, and -eval_interval 0 makes none.
  RECNS_CHECK_INPUT(patience == 0 || interval > 0, comm_,
                    "-eval_patience %d needs -eval_interval > 0 (with 0 the validation split is "
                    "never evaluated during training, so early stopping could never act)",
                    (int)patience);
  RECNS_CHECK_INPUT(seed >= 0, comm_, "-train_seed must be >= 0 (got %d)", (int)seed);
  RECNS_CHECK_INPUT(every_epochs >= 0, comm_, "-checkpoint_every_epochs must be >= 0 (got %d)",
                    (int)every_epochs);
  RECNS_CHECK_INPUT(every_minutes >= 0 && std::isfinite((double)every_minutes), comm_,
                    "-checkpoint_every_minutes must be a finite number >= 0 (got %g)",
                    (double)every_minutes);
  RECNS_CHECK_INPUT(keep >= 1, comm_, "-checkpoint_keep must be >= 1 (got %d)", (int)keep);
  RECNS_CHECK_INPUT(test_kill >= 0, comm_, "-checkpoint_test_kill must be >= 0 (got %d)",
                    (int)test_kill);
  // PETSc takes "-restart" without a value as an empty one, which would start afresh.
  RECNS_CHECK_INPUT(!restart_set || restart[0] != '\0', comm_,
                    "-restart needs a value: auto (the newest checkpoint in -checkpoint_dir) or a "
                    "checkpoint file");
  RECNS_CHECK_INPUT(std::string(restart) != "auto" || checkpoint_dir[0] != '\0', comm_,
                    "-restart auto needs a -checkpoint_dir to look in");
  dataset_path_ = path;
  epochs_ = (int)epochs;
  batch_size_ = batch;
  max_steps_ = max_steps;
  seed_ = (uint64_t)seed;
  eval_interval_ = (int)interval;
  patience_ = (int)patience;
  eval_metric_ = metric;
  metrics_path_ = metrics_path;
  summary_path_ = summary;
  checkpoint_dir_ = checkpoint_dir;
  while (checkpoint_dir_.size() > 1 && checkpoint_dir_.back() == '/') checkpoint_dir_.pop_back();
  checkpoint_every_epochs_ = (int)every_epochs;
  checkpoint_every_minutes_ = every_minutes;
  checkpoint_keep_ = (int)keep;
  checkpoint_test_kill_ = (int)test_kill;
  restart_ = restart;

  PetscCall(ModelRegistry::Get().Create("model", model_type_, comm_, &model_));
  PetscCall(SamplerRegistry::Get().Create("sampler", sampler_type_, comm_, &sampler_));
  PetscCall(LossRegistry::Get().Create("loss", loss_type_, comm_, &loss_));
  PetscCall(OptimizerRegistry::Get().Create("optimizer", optimizer_type_, comm_, &optimizer_));
  PetscCall(model_->SetFromOptions());
  PetscCall(sampler_->SetFromOptions());
  RECNS_CHECK_INPUT(!sampler_->MixesLayers() || model_->HasLayerRows(), comm_,
                    "-sampler_type %s mixes single layers of the model, which -model_type %s "
                    "does not have (its final rows are not pooled from layer rows)",
                    sampler_type_.c_str(), model_type_.c_str());
  if (!model_->RegularizesEgoRows()) loss_->SetDefaultL2(0);
  PetscCall(loss_->SetFromOptions());
  PetscCall(optimizer_->SetFromOptions());
  evaluator_.SetSeed(seed_);
  PetscCall(evaluator_.SetFromOptions());
  const auto names = evaluator_.MetricNames();
  RECNS_CHECK_INPUT(std::find(names.begin(), names.end(), eval_metric_) != names.end(), comm_,
                    "-eval_metric %s is not computed: choose recall, ndcg, precision or hr at "
                    "one of the cut-offs of -eval_ks",
                    eval_metric_.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- set-up -------------------------------------------------------------------------------------

// An output must not overwrite an input or the other output, and a run that cannot write its
// summary is told so before it trains, not after (the metrics file is created before training).
PetscErrorCode Trainer::CheckOutputPaths() const {
  PetscFunctionBeginUser;
  std::vector<std::pair<std::string, std::string>> inputs = {{"the dataset", dataset_path_}};
  if (!restart_.empty() && restart_ != "auto")
    inputs.push_back({"the -restart checkpoint", restart_});
  std::string clash;
  for (const auto& [option, output] : {std::make_pair("-metrics_file", metrics_path_),
                                       std::make_pair("-summary", summary_path_)}) {
    if (output.empty()) continue;
    for (const auto& [what, input] : inputs)
      if (clash.empty() && SameFile(output, input))
        clash = Format("%s %s is %s: it would be overwritten", option, output.c_str(), what.c_str());
  }
  if (clash.empty() && !metrics_path_.empty() && !summary_path_.empty() &&
      SameFile(metrics_path_, summary_path_))
    clash = Format("-metrics_file and -summary name one file, %s", summary_path_.c_str());
  PetscCall(CheckAllRanks(comm_, clash.empty(), clash));
  if (!summary_path_.empty()) {
    const PetscErrorCode writable =
        rank_ == 0 ? CheckWritableAtomically(summary_path_) : PETSC_SUCCESS;
    PetscCall(CheckAllRanks(comm_, writable == PETSC_SUCCESS,
                            Format("-summary %s: cannot write there", summary_path_.c_str())));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::SetUp() {
  PetscFunctionBeginUser;
  RECNS_CHECK_INPUT(!dataset_path_.empty(), comm_,
                    "no dataset: give the input file as the first argument or with -dataset");
  PetscCall(CheckOutputPaths());
  PetscCall(PetscLogStagePush(Events().stage_load));
  PetscCall(graph_.Load(comm_, dataset_path_));
  PetscCall(PetscLogStagePop());
  PetscCall(SetUpObjects());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::SetUp(const Dataset& data) {
  PetscFunctionBeginUser;
  PetscCall(graph_.Build(comm_, data));
  PetscCall(SetUpObjects());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::SetUpObjects() {
  PetscFunctionBeginUser;
  // Before the rows are allocated: too large a -model_dim for the ranks' memory would otherwise
  // fail in an allocation on some ranks, or be killed by the kernel mid-run. The least the rows
  // take: ego rows, each layer's, Adam's two moments and the ego gradient (Dim wide), the final
  // rows and their gradient (FinalWidth wide), as doubles.
  const int d = model_->Dim(), layers = model_->NumLayers();
  PetscCall(CheckMemoryNeed(
      comm_,
      {(uint64_t)graph_.GetLayout().LocalRows(),
       (uint64_t)d * (uint64_t)(layers + 4) + 2 * (uint64_t)model_->FinalWidth(), sizeof(double)},
      Format("the model's rows (-model_dim %d, %d layers)", d, layers)));
  PetscCall(model_->SetUp(graph_, seed_));
  PetscCall(sampler_->SetUp(graph_));
  batcher_.SetUp(graph_, batch_size_, seed_);
  state_ = State();
  outcome_ = Outcome();
  PetscCall(objective_.SetUp(graph_, model_.get(), sampler_.get(), loss_.get(), needed_rows_only_,
                             sampling_quality_, &outcome_.phases, state_.quality));
  PetscCall(optimizer_->SetUp(objective_.Parameters()));
  PetscCall(DatasetFingerprint(&dataset_fingerprint_));
  PetscCall(PrepareCheckpointFolder());
  if (!restart_.empty()) {
    std::string path;
    PetscCall(FindRestartFile(&path));
    if (!path.empty()) PetscCall(Resume(path));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- one step -----------------------------------------------------------------------------------

PetscErrorCode Trainer::Forward() {
  PetscFunctionBeginUser;
  const double t = MPI_Wtime();
  PetscCall(model_->Forward());
  ++outcome_.forward_passes;
  outcome_.phases.forward += MPI_Wtime() - t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::LossAndGradient(const Batch& batch, const Negatives& negatives,
                                        double* loss) {
  PetscFunctionBeginUser;
  PetscCall(Forward());
  PetscCall(objective_.Prepare(batch, negatives));
  if (model_->TrainsOnStepRows()) {
    model_->SetStep(0, 0);
    PetscCall(model_->ForwardRows(objective_.StepRowFlags()));
  }
  double votes[2] = {0, 0};
  PetscCall(objective_.Compute(batch, negatives, votes, loss));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::Step(uint32_t epoch, int64_t step, double lr, double* loss) {
  PetscFunctionBeginUser;
  PhaseSeconds& phase = outcome_.phases;
  double t = MPI_Wtime();
  PetscCall(PetscLogEventBegin(Events().batch, 0, 0, 0, 0));
  batcher_.Fill(epoch, step, &batch_);
  PetscCall(PetscLogEventEnd(Events().batch, 0, 0, 0, 0));
  Lap(t, &phase.batch);
  // Samplers that read no rows sample first, and the forward pass computes only the rows the
  // step reads. Scoring samplers choose with the current parameters: one that draws its
  // candidates from counters runs the forward pass itself on the rows it gathers (the batch's
  // included) before it scores them; the others get every row first. A model that trains on
  // rows of its own (PinSage's sampled neighbourhoods) computes them after sampling in any case.
  const bool trains_on_step_rows = model_->TrainsOnStepRows();
  const bool sample_first = (needed_rows_only_ || trains_on_step_rows) && !sampler_->ScoresItems();
  const bool deferred = needed_rows_only_ && !trains_on_step_rows && sampler_->ScoresItems() &&
                        sampler_->ReadsGatheredRows();
  if (!sample_first && !deferred) PetscCall(Forward());
  SampleContext context{&graph_, model_.get(), seed_, epoch};
  context.step = step;
  gathered_ = gathered_all_ = false;
  if (deferred)
    context.compute_rows = [this](const std::vector<int32_t>* items, const Halo* halo) {
      return ForwardGatheredRows(items, halo);
    };
  const double forward_before = phase.forward;
  t = MPI_Wtime();
  PetscCall(PetscLogEventBegin(Events().sample, 0, 0, 0, 0));
  PetscCall(sampler_->Sample(context, batch_, &negatives_));
  PetscCall(PetscLogEventEnd(Events().sample, 0, 0, 0, 0));
  Lap(t, &phase.sample);
  phase.sample -= phase.forward - forward_before;  // a deferred forward pass counts as forward
  CastVotes(step_votes_);
  PetscCall(objective_.Prepare(batch_, negatives_));
  if (gathered_ && !gathered_all_)
    for (int64_t r : objective_.Touched())
      PetscCheck(gathered_rows_[(size_t)r], PETSC_COMM_SELF, PETSC_ERR_PLIB,
                 "-sampler_type %s: the step reads local row %lld, which the sampler's gathers "
                 "did not name (ReadsGatheredRows)",
                 sampler_->Type(), (long long)r);
  // A deferring sampler that gathered nothing (BNS's uniform warm-up) leaves the step's rows.
  if (sample_first || trains_on_step_rows || (deferred && !gathered_)) {
    t = MPI_Wtime();
    model_->SetStep(epoch, step);
    PetscCall(model_->ForwardRows(objective_.StepRowFlags()));
    Lap(t, &phase.forward);
  }
  PetscCall(objective_.Compute(batch_, negatives_, step_votes_, loss));
  // Past this point every parameter would turn NaN and every later figure with it; the loss is
  // the reduced one, so every rank stops here together, and the last checkpoint stays the one to
  // resume from.
  RECNS_CHECK_INPUT(std::isfinite(*loss), comm_,
                    "%s: training diverged: the loss is %s at step %lld of epoch %u (try a "
                    "smaller -optimizer_lr)",
                    graph_.Info().path.c_str(), Format("%g", *loss).c_str(), (long long)step + 1, epoch + 1);
  t = MPI_Wtime();
  PetscCall(PetscLogEventBegin(Events().optimize, 0, 0, 0, 0));
  PetscCall(optimizer_->Step(lr, model_->RowLocalGradient() ? &objective_.Touched() : nullptr));
  PetscCall(PetscLogEventEnd(Events().optimize, 0, 0, 0, 0));
  Lap(t, &phase.optimize);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::ForwardGatheredRows(const std::vector<int32_t>* items, const Halo* halo) {
  PetscFunctionBeginUser;
  if (gathered_all_) PetscFunctionReturn(PETSC_SUCCESS);
  if (!items) {
    PetscCall(Forward());
    gathered_ = gathered_all_ = true;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const double t = MPI_Wtime();
  const Layout& layout = graph_.GetLayout();
  // A second gather in the same step adds its rows: the pass recomputes the union.
  if (!gathered_) gathered_rows_.assign((size_t)layout.LocalRows(), 0);
  for (int32_t user : batch_.user) gathered_rows_[(size_t)user] = 1;
  for (int32_t item : *items)
    if (layout.OwnsItem(item)) gathered_rows_[(size_t)layout.LocalItemRow(item)] = 1;
  if (halo)
    for (int64_t r : halo->ReadByOthers()) gathered_rows_[(size_t)r] = 1;
  gathered_ = true;
  PetscCall(model_->ForwardRows(gathered_rows_));
  outcome_.phases.forward += MPI_Wtime() - t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- the loop -----------------------------------------------------------------------------------

PetscErrorCode Trainer::EvaluateSplit(EvalSplit split, bool forward_current, EvalResult* result) {
  PetscFunctionBeginUser;
  const double start = MPI_Wtime();
  PetscCall(PetscLogStagePush(Events().stage_eval));
  if (!forward_current) {
    PetscCall(model_->Forward());
    ++outcome_.forward_passes;
  }
  PetscCall(evaluator_.Evaluate(graph_, model_->Final(), split, result));
  ++outcome_.evaluations;
  PetscCall(PetscLogStagePop());
  outcome_.phases.evaluate += MPI_Wtime() - start;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Trainer::CastVotes(double votes[2]) const {
  votes[0] = StopSignalReceived() != 0 ? 1 : 0;
  votes[1] = rank_ == 0 && !checkpoint_dir_.empty() && checkpoint_every_minutes_ > 0 &&
                     MPI_Wtime() - last_checkpoint_time_ >= 60 * checkpoint_every_minutes_
                 ? 1
                 : 0;
}

PetscErrorCode Trainer::CombineVotes(double votes[2]) {
  PetscFunctionBeginUser;
  CastVotes(votes);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, votes, 2, MPI_DOUBLE, MPI_SUM, comm_));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// The end of a complete epoch: the sampler's epoch-end update, sampling quality, evaluation,
/// the best epoch and early stopping, the epoch line and the metrics row.
PetscErrorCode Trainer::FinishEpoch(int epoch, double lr, double* eval_value, bool* stop) {
  PetscFunctionBeginUser;
  const bool has_valid = graph_.Info().has_valid;
  PetscCall(PetscLogStagePush(Events().stage_train));
  PetscCall(Forward());
  PetscCall(PetscLogEventBegin(Events().sample_epoch_end, 0, 0, 0, 0));
  PetscCall(sampler_->EndEpoch(SampleContext{&graph_, model_.get(), seed_, (uint32_t)epoch}));
  PetscCall(PetscLogEventEnd(Events().sample_epoch_end, 0, 0, 0, 0));
  PetscCall(PetscLogStagePop());
  double tnr = NAN, inf = NAN;
  if (sampling_quality_) {
    double quality[3] = {state_.quality[0], state_.quality[1], state_.quality[2]};
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, quality, 3, MPI_DOUBLE, MPI_SUM, comm_));
    const double sampled = quality[0] + quality[1];
    tnr = quality[0] / sampled;
    inf = quality[2] / sampled;
  }
  outcome_.sampling_tnr = tnr;
  outcome_.sampling_inf = inf;
  const int64_t steps = batcher_.StepsPerEpoch();
  const double epoch_loss = state_.loss_sum / (double)std::max<int64_t>(steps, 1);
  const double seconds = state_.epoch_seconds;
  state_.train_seconds += seconds;
  outcome_.epochs_run = epoch + 1;
  outcome_.final_loss = epoch_loss;

  const bool evaluate = (eval_interval_ > 0 && (epoch + 1) % eval_interval_ == 0) || epoch + 1 == epochs_;
  EvalResult result;
  double eval_seconds = NAN;
  *stop = false;
  *eval_value = NAN;
  if (evaluate) {
    const double eval_start = MPI_Wtime();
    // The sampler's epoch-end update reads the parameters and changes none: the forward pass
    // made for it is the evaluation's.
    PetscCall(EvaluateSplit(has_valid ? EvalSplit::kValid : EvalSplit::kTest, true, &result));
    eval_seconds = MPI_Wtime() - eval_start;
    *eval_value = result.Get(eval_metric_);
    if (!has_valid) {
      last_test_ = result;
      last_test_steps_ = state_.steps_done;
    }
    if (MetricBetter(*eval_value, state_.best)) {
      state_.best = *eval_value;
      outcome_.best_epoch = epoch + 1;
      outcome_.best_value = *eval_value;
      if (has_valid) {
        outcome_.best_valid = result;
        state_.best_params = CopyValues(objective_.Parameters());
      } else {
        outcome_.best_test = result;
      }
      state_.evaluations_without_gain = 0;
    } else if (patience_ > 0 && ++state_.evaluations_without_gain >= patience_) {
      *stop = true;
    }
  }
  PetscCall(PrintEpochLine(epoch, epoch_loss, seconds, tnr, inf, evaluate ? &result : nullptr,
                           epoch + 1 < epochs_ && !*stop));
  const EvalResult* valid = evaluate && has_valid ? &result : nullptr;
  const EvalResult* test = evaluate && !has_valid ? &result : nullptr;
  std::vector<double> row =
      MetricRow(epoch, epoch_loss, lr, seconds, eval_seconds, valid, test, nullptr, tnr, inf);
  PetscCall(AppendMetricRow(row));
  state_.metrics_rows.push_back(std::move(row));
  // The sampler's next stage may start from the best evaluated parameters (AutoSample's retrain):
  // early stopping then counts afresh, and the best value so far stays the one to beat.
  bool restore_best = false;
  PetscCall(sampler_->NextStage(epoch + 1, *stop, &restore_best));
  if (restore_best) {
    if (!state_.best_params.empty()) RestoreValues(state_.best_params, objective_.Parameters());
    state_.evaluations_without_gain = 0;
    *stop = false;
    PetscCall(PetscPrintf(comm_, "sampler %s: next stage, from %s\n", sampler_->Type(),
                          state_.best_params.empty()
                              ? "the current parameters (no validation split chose a best epoch)"
                              : Format("the parameters of the best epoch, %d", outcome_.best_epoch).c_str()));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Trainer::RecordStep(double seconds, double halo_sums[2], int64_t* steps_this_run) {
  if (++*steps_this_run == 1) {
    outcome_.first_step_seconds = seconds;
    outcome_.first_step_phases = outcome_.phases;
  }
  outcome_.step_seconds += seconds;
  halo_sums[0] += (double)objective_.HaloRows();  // 0 on one rank, where no row is remote
  halo_sums[1] += model_->StepHaloValues();
}

PetscErrorCode Trainer::Train() {
  PetscFunctionBeginUser;
  const double run_start = MPI_Wtime();
  run_start_ = run_start;
  run_first_epoch_ = state_.epoch;
  const bool has_valid = graph_.Info().has_valid;
  PetscCall(OpenMetricsLog());
  PetscCall(PrintHeader());

  const int64_t steps = batcher_.StepsPerEpoch();
  last_checkpoint_time_ = MPI_Wtime();
  bool interrupted = false, step_limit = false;
  double eval_value = NAN;  // the watched metric of the last finished epoch, when evaluated
  double halo_sums[2] = {0, 0};  // the item halo's rows, the model's own halo values
  int64_t steps_this_run = 0;
  while (!state_.finished && state_.epoch < epochs_ && !interrupted && !step_limit) {
    const int epoch = state_.epoch;
    const double lr = optimizer_->LearningRate(epoch);
    double lap = MPI_Wtime();
    if (state_.step == 0) {
      state_.loss_sum = state_.epoch_seconds = 0;
      state_.quality[0] = state_.quality[1] = state_.quality[2] = 0;
    }
    PetscCall(PetscLogStagePush(Events().stage_train));
    while (state_.step < steps && !interrupted) {
      if (max_steps_ > 0 && state_.steps_done >= max_steps_) break;
      double loss;
      const double step_start = MPI_Wtime();
      PetscCall(Step((uint32_t)epoch, state_.step, lr, &loss));
      RecordStep(MPI_Wtime() - step_start, halo_sums, &steps_this_run);
      state_.loss_sum += loss;
      ++state_.step;
      ++state_.steps_done;
      if (step_hook_) step_hook_(state_.steps_done);
      // A stop or timer vote within the epoch checkpoints here; at its end, after the epoch.
      if (state_.step < steps && (step_votes_[0] > 0 || step_votes_[1] > 0)) {
        state_.epoch_seconds += MPI_Wtime() - lap;
        PetscCall(WriteCheckpoint(NAN));
        lap = MPI_Wtime();
        interrupted = step_votes_[0] > 0;
      }
    }
    PetscCall(PetscLogStagePop());
    state_.epoch_seconds += MPI_Wtime() - lap;
    outcome_.steps_run = state_.steps_done;
    outcome_.halo_item_rows_per_step = halo_sums[0] / (double)std::max<int64_t>(steps_this_run, 1);
    outcome_.model_halo_values_per_step = halo_sums[1] / (double)std::max<int64_t>(steps_this_run, 1);
    if (interrupted) break;

    if (state_.step < steps) {
      // -train_max_steps struck within the epoch: report the partial epoch (its row is not part
      // of a checkpoint, which resumes the epoch where it stopped) and end training.
      step_limit = true;
      outcome_.epochs_run = epoch + 1;
      outcome_.final_loss = state_.loss_sum / (double)std::max<int64_t>(state_.step, 1);
      PetscCall(PetscPrintf(comm_, "epoch %4d/%d  loss %.6f  %.2f s  (%lld of %lld steps)\n",
                            epoch + 1, epochs_, outcome_.final_loss, state_.epoch_seconds,
                            (long long)state_.step, (long long)steps));
      PetscCall(AppendMetricRow(MetricRow(epoch, outcome_.final_loss, lr, state_.epoch_seconds,
                                          NAN, nullptr, nullptr, nullptr, NAN, NAN)));
      eval_value = NAN;
      break;
    }

    bool stop = false;
    PetscCall(FinishEpoch(epoch, lr, &eval_value, &stop));
    ++state_.epoch;
    state_.step = 0;
    if (stop) {
      state_.finished = outcome_.stopped_early = true;
      PetscCall(PetscPrintf(comm_, "early stop: %s has not improved for %d evaluations (best %.4f at epoch %d)\n",
                            eval_metric_.c_str(), patience_, state_.best, outcome_.best_epoch));
    }
    step_limit = max_steps_ > 0 && state_.steps_done >= max_steps_ && state_.epoch < epochs_;
    if (step_limit)
      PetscCall(PetscPrintf(comm_, "stopped after %lld steps (-train_max_steps)\n", (long long)state_.steps_done));
    double votes[2];
    PetscCall(CombineVotes(votes));
    interrupted = votes[0] > 0;
    const bool last = state_.finished || state_.epoch == epochs_ || step_limit;
    const bool scheduled = checkpoint_every_epochs_ > 0 && state_.epoch % checkpoint_every_epochs_ == 0;
    if (!last && (interrupted || votes[1] > 0 || scheduled)) PetscCall(WriteCheckpoint(eval_value));
  }
  if (interrupted) {
    outcome_.interrupted = true;
    outcome_.seconds_total = MPI_Wtime() - run_start;
    PetscCall(PetscPrintf(comm_, "stopped by a signal after %lld steps: %s\n", (long long)state_.steps_done,
                          checkpoint_dir_.empty()
                              ? "no checkpoint written (-checkpoint_dir is empty)"
                              : ("resume with -restart auto from " + outcome_.last_checkpoint).c_str()));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  // The end-of-training checkpoint comes before the final test evaluation, whose metrics row a
  // run resumed from it writes again.
  PetscCall(WriteCheckpoint(eval_value));
  outcome_.peak_rss_mb_training = PeakRssMb();

  // Test metrics at the final epoch, and at the best epoch when a validation split chose it.
  // Without one, the last epoch may have just evaluated the test split at these parameters.
  // The random test split is evaluated beside it at the same parameters, reusing the test
  // evaluation's forward pass when there was one.
  const bool test_random = EvaluatesTestRandom();
  const bool test_reused = !has_valid && last_test_steps_ == state_.steps_done;
  if (test_reused) outcome_.final_test = last_test_;
  else PetscCall(EvaluateSplit(EvalSplit::kTest, false, &outcome_.final_test));
  if (test_random)
    PetscCall(EvaluateSplit(EvalSplit::kTestRandom, !test_reused, &outcome_.final_test_random));
  if (has_valid && outcome_.best_epoch == outcome_.epochs_run) {
    outcome_.best_test = outcome_.final_test;
    outcome_.best_test_random = outcome_.final_test_random;
  } else if (has_valid && !state_.best_params.empty()) {
    const std::vector<RowMatrix> final_params = CopyValues(objective_.Parameters());
    RestoreValues(state_.best_params, objective_.Parameters());
    PetscCall(EvaluateSplit(EvalSplit::kTest, false, &outcome_.best_test));
    if (test_random)
      PetscCall(EvaluateSplit(EvalSplit::kTestRandom, true, &outcome_.best_test_random));
    RestoreValues(final_params, objective_.Parameters());
  } else if (!has_valid && outcome_.best_epoch == 0) {
    outcome_.best_test = outcome_.final_test;
  }
  outcome_.seconds_total = MPI_Wtime() - run_start;
  PetscCall(ReportFinal());
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
