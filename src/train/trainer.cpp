// The training loop (ARCHITECTURE §1): per step, the global batch's pairs of this rank ->
// negatives -> forward -> halo of remote item rows -> loss -> gradients back to their owners ->
// model backward -> L2 on the batch's ego rows (ALGORITHMS decision 8) -> optimizer.
#include "recns/trainer.hpp"

#include <sys/resource.h>
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

std::string Duration(double seconds) {
  const long s = std::lround(seconds);
  if (s >= 3600) return Format("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return Format("%ldm%02lds", s / 60, s % 60);
  return Format("%lds", s);
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
                            "Keep the newest this many checkpoints, plus the one of the best "
                            "evaluated epoch",
                            "Trainer", keep, &keep, nullptr));
  PetscCall(PetscOptionsString("-restart",
                               "Resume from a checkpoint: auto (the newest usable one in "
                               "-checkpoint_dir; none there: start afresh) or a file; any number "
                               "of ranks",
                               "Trainer", restart, restart, sizeof restart, nullptr));
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
  // Scoring samplers choose with the current parameters, so the forward pass (every row) comes
  // first; the others sample first, and the forward pass computes only the rows the step reads.
  const bool sample_first = needed_rows_only_ && !sampler_->ScoresItems();
  if (!sample_first) PetscCall(Forward());
  t = MPI_Wtime();
  PetscCall(PetscLogEventBegin(Events().sample, 0, 0, 0, 0));
  PetscCall(sampler_->Sample(SampleContext{&graph_, model_.get(), seed_, epoch}, batch_, &negatives_));
  PetscCall(PetscLogEventEnd(Events().sample, 0, 0, 0, 0));
  Lap(t, &phase.sample);
  CastVotes(step_votes_);
  PetscCall(objective_.Prepare(batch_, negatives_));
  if (sample_first) {
    t = MPI_Wtime();
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

std::vector<std::string> Trainer::MetricColumns() const {
  std::vector<std::string> columns = {"epoch", "step", "loss", "learning_rate", "seconds_train",
                                      "seconds_eval"};
  const auto metric_names = evaluator_.MetricNames();
  for (const auto& name : metric_names) columns.push_back("valid_" + name);
  for (const auto& name : metric_names) columns.push_back("test_" + name);
  if (sampling_quality_) columns.insert(columns.end(), {"sampling_tnr", "sampling_inf"});
  return columns;
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
  std::string line = Format("epoch %4d/%d  loss %.6f  %.2f s", epoch + 1, epochs_, epoch_loss, seconds);
  if (sampling_quality_) line += Format("  tnr %.4f inf %.4f", tnr, inf);
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
    line += Format("  | %s", has_valid ? "valid" : "test");
    for (const auto& m : result.metrics)
      if (m.first.rfind("recall@", 0) == 0 || m.first.rfind("ndcg@", 0) == 0)
        line += Format(" %s %.4f", m.first.c_str(), m.second);
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
  if (epoch + 1 < epochs_ && !*stop) {
    const double per_epoch = (MPI_Wtime() - run_start_) / (epoch + 1 - run_first_epoch_);
    line += "  ETA " + Duration(per_epoch * (epochs_ - epoch - 1));
  }
  PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));

  std::vector<double> row = {(double)(epoch + 1), (double)state_.steps_done, epoch_loss, lr, seconds, eval_seconds};
  for (const auto& name : evaluator_.MetricNames()) row.push_back(has_valid ? result.Get(name) : NAN);
  for (const auto& name : evaluator_.MetricNames()) row.push_back(has_valid ? NAN : result.Get(name));
  if (sampling_quality_) row.insert(row.end(), {tnr, inf});
  if (metrics_log_) {
    PetscCall(PetscLogEventBegin(Events().metrics_write, 0, 0, 0, 0));
    PetscCall(metrics_log_->Append(row));
    PetscCall(PetscLogEventEnd(Events().metrics_write, 0, 0, 0, 0));
  }
  state_.metrics_rows.push_back(std::move(row));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void Trainer::RecordStep(double seconds, double* halo_rows_sum, int64_t* steps_this_run) {
  if (++*steps_this_run == 1) {
    outcome_.first_step_seconds = seconds;
    outcome_.first_step_phases = outcome_.phases;
  }
  outcome_.step_seconds += seconds;
  *halo_rows_sum += (double)objective_.HaloRows();  // 0 on one rank, where no row is remote
}

PetscErrorCode Trainer::Train() {
  PetscFunctionBeginUser;
  const double run_start = MPI_Wtime();
  run_start_ = run_start;
  run_first_epoch_ = state_.epoch;
  const bool has_valid = graph_.Info().has_valid;
  const auto metric_names = evaluator_.MetricNames();
  // A resumed run rewrites the metrics file with the rows its checkpoint recorded, so rows
  // written after that checkpoint by the interrupted run are neither lost nor repeated.
  if (!metrics_path_.empty()) {
    PetscCall(MetricsLog::Create(comm_, metrics_path_, MetricColumns(), &metrics_log_));
    // What a plot or a comparison of runs labels them with.
    PetscCall(metrics_log_->WriteAttributes(
        {{"model_type", model_type_}, {"sampler_type", sampler_type_}, {"loss_type", loss_type_},
         {"model", model_->Describe()}, {"sampler", sampler_->Describe()},
         {"dataset", graph_.Info().path}, {"dataset_name", graph_.Info().name},
         {"eval_metric", eval_metric_}, {"eval_split", has_valid ? "valid" : "test"},
         {"train_seed", std::to_string(seed_)}}));
    for (const auto& row : state_.metrics_rows) PetscCall(metrics_log_->Append(row));
  }

  PetscCall(PetscPrintf(comm_,
                        "recns_train: %s | %lld users, %lld items, %lld train pairs | %d ranks\n"
                        "  model %s | sampler %s (k=%d) | loss %s, l2 %g | optimizer %s, lr %g | "
                        "batch %lld, %lld steps/epoch | evaluating %s %s\n",
                        graph_.Info().path.c_str(), (long long)graph_.Info().num_users,
                        (long long)graph_.Info().num_items, (long long)graph_.Info().train_nnz,
                        size_, model_->Describe().c_str(), sampler_->Describe().c_str(),
                        sampler_->NegativesPerPair(), loss_->Type(), loss_->L2(), optimizer_->Type(),
                        optimizer_->BaseLearningRate(), (long long)batch_size_,
                        (long long)batcher_.StepsPerEpoch(), has_valid ? "valid" : "test",
                        eval_interval_ > 0 ? Format("every %d epochs", eval_interval_).c_str()
                                           : "after the last epoch"));

  const int64_t steps = batcher_.StepsPerEpoch();
  last_checkpoint_time_ = MPI_Wtime();
  bool interrupted = false, step_limit = false;
  double eval_value = NAN;  // the watched metric of the last finished epoch, when evaluated
  double halo_rows_sum = 0;
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
      RecordStep(MPI_Wtime() - step_start, &halo_rows_sum, &steps_this_run);
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
    outcome_.halo_item_rows_per_step = halo_rows_sum / (double)std::max<int64_t>(steps_this_run, 1);
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
      if (metrics_log_) {
        std::vector<double> row = {(double)(epoch + 1), (double)state_.steps_done, outcome_.final_loss,
                                   lr, state_.epoch_seconds, NAN};
        row.resize(MetricColumns().size(), NAN);
        PetscCall(metrics_log_->Append(row));
      }
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

  // Test metrics at the final epoch, and at the best epoch when a validation split chose it.
  // Without one, the last epoch may have just evaluated the test split at these parameters.
  if (!has_valid && last_test_steps_ == state_.steps_done) outcome_.final_test = last_test_;
  else PetscCall(EvaluateSplit(EvalSplit::kTest, false, &outcome_.final_test));
  if (has_valid && outcome_.best_epoch == outcome_.epochs_run) {
    outcome_.best_test = outcome_.final_test;
  } else if (has_valid && !state_.best_params.empty()) {
    const std::vector<RowMatrix> final_params = CopyValues(objective_.Parameters());
    RestoreValues(state_.best_params, objective_.Parameters());
    PetscCall(EvaluateSplit(EvalSplit::kTest, false, &outcome_.best_test));
    RestoreValues(final_params, objective_.Parameters());
  } else if (!has_valid && outcome_.best_epoch == 0) {
    outcome_.best_test = outcome_.final_test;
  }
  if (metrics_log_) {
    std::vector<double> row = {(double)outcome_.epochs_run, (double)state_.steps_done,
                               outcome_.final_loss, NAN, NAN, NAN};
    for (size_t m = 0; m < metric_names.size(); ++m) row.push_back(NAN);
    for (const auto& name : metric_names) row.push_back(outcome_.final_test.Get(name));
    if (sampling_quality_) row.insert(row.end(), {NAN, NAN});
    PetscCall(metrics_log_->Append(row));
    const PerUserMetrics& per_user = outcome_.final_test.per_user;
    if (evaluator_.PerUser())
      PetscCall(metrics_log_->WriteUsers(
          "test_users", per_user.users, per_user.truth, metric_names, per_user.values,
          {{"split", "test"}, {"dataset_name", graph_.Info().name},
           {"train_fingerprint", Format("%016llx", (unsigned long long)dataset_fingerprint_)}}));
  }
  outcome_.seconds_total = MPI_Wtime() - run_start;

  std::string line = Format("final (epoch %d) test:", outcome_.epochs_run);
  for (const auto& m : outcome_.final_test.metrics) line += Format(" %s %.4f", m.first.c_str(), m.second);
  PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));
  if (outcome_.best_epoch > 0) {
    line = Format("best epoch %d by %s %s %.4f; its test:", outcome_.best_epoch,
                  has_valid ? "valid" : "test", eval_metric_.c_str(), outcome_.best_value);
    for (const auto& m : outcome_.best_test.metrics) line += Format(" %s %.4f", m.first.c_str(), m.second);
    PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));
  }
  // After a restart this process ran only the epochs from run_first_epoch_ on; the training
  // seconds per epoch count every epoch, restored from the checkpoint.
  const std::string resumed =
      run_first_epoch_ > 0 ? Format(", resumed at epoch %d,", run_first_epoch_) : "";
  const std::string per_epoch =
      state_.epoch > 0 ? Format(" (%.3f s/epoch of training)", state_.train_seconds / state_.epoch) : "";
  PetscCall(PetscPrintf(comm_, "trained %d epochs%s in %s%s\n", outcome_.epochs_run,
                        resumed.c_str(), Duration(outcome_.seconds_total).c_str(),
                        per_epoch.c_str()));
  PetscCall(WriteSummary());
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- summary ------------------------------------------------------------------------------------

PetscErrorCode Trainer::WriteSummary() const {
  PetscFunctionBeginUser;
  if (summary_path_.empty()) PetscFunctionReturn(PETSC_SUCCESS);
  // Peak resident memory of the largest rank (Linux reports ru_maxrss in KiB).
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  // Every rank's peak, and the item halo's rows per step of every rank, on rank 0.
  std::vector<double> rank_rss((size_t)size_), rank_halo((size_t)size_);
  PetscCallMPI(MPI_Gather(&peak_rss_mb, 1, MPI_DOUBLE, rank_rss.data(), 1, MPI_DOUBLE, 0, comm_));
  PetscCallMPI(MPI_Gather(&outcome_.halo_item_rows_per_step, 1, MPI_DOUBLE, rank_halo.data(), 1,
                          MPI_DOUBLE, 0, comm_));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &peak_rss_mb, 1, MPI_DOUBLE, MPI_MAX, comm_));
  PetscErrorCode failed = PETSC_SUCCESS;
  if (rank_ == 0) {
    JsonWriter json;
    char* options = nullptr;
    PetscCall(PetscOptionsGetAll(nullptr, &options));
    json.String("dataset", graph_.Info().path);
    json.String("options", options ? options : "");
    PetscCall(PetscFree(options));
    json.Number("ranks", size_);
    json.String("model", model_type_);
    json.String("sampler", sampler_type_);
    json.Number("epochs_run", outcome_.epochs_run);
    json.Bool("stopped_early", outcome_.stopped_early);
    json.Number("final_loss", outcome_.final_loss);
    json.Number("peak_rss_mb", peak_rss_mb);
    json.Numbers("peak_rss_mb_per_rank", rank_rss);
    json.Number("steps_run", (double)outcome_.steps_run);
    json.Numbers("halo_item_rows_per_step_per_rank", rank_halo);
    if (sampling_quality_) {
      json.Number("sampling_tnr", outcome_.sampling_tnr);
      json.Number("sampling_inf", outcome_.sampling_inf);
    }
    json.String("eval_metric", eval_metric_);
    json.Number("best_epoch", outcome_.best_epoch);
    auto metrics = [&](const char* key, const EvalResult& result) {
      json.BeginObject(key);
      for (const auto& m : result.metrics) json.Number(m.first, m.second);
      json.EndObject();
    };
    json.BeginObject("best");
    json.Number("epoch", outcome_.best_epoch);
    if (graph_.Info().has_valid) metrics("valid", outcome_.best_valid);
    metrics("test", outcome_.best_test);
    json.EndObject();
    json.BeginObject("final");
    json.Number("epoch", outcome_.epochs_run);
    metrics("test", outcome_.final_test);
    json.EndObject();
    auto step_phases = [&](const PhaseSeconds& p) {
      json.Number("batch", p.batch);
      json.Number("sample", p.sample);
      json.Number("forward", p.forward);
      json.Number("halo", p.halo);
      json.Number("loss", p.loss);
      json.Number("backward", p.backward);
      json.Number("optimize", p.optimize);
    };
    json.BeginObject("seconds");
    json.Number("total", outcome_.seconds_total);
    step_phases(outcome_.phases);
    json.Number("evaluate", outcome_.phases.evaluate);
    json.Number("steps", outcome_.step_seconds);
    json.Number("first_step", outcome_.first_step_seconds);
    json.EndObject();
    json.BeginObject("first_step_seconds");
    step_phases(outcome_.first_step_phases);
    json.EndObject();
    json.Number("eval_users", (double)outcome_.final_test.users);
    json.Number("forward_passes", outcome_.forward_passes);
    std::string text;
    PetscCall(json.Finish(&text));
    failed = WriteFileAtomically(summary_path_, text);
  }
  PetscCall(CheckAllRanks(comm_, failed == PETSC_SUCCESS,
                          Format("%s: cannot write the summary", summary_path_.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
