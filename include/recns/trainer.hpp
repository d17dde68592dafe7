// The training loop: options, set-up, synchronous global steps, evaluation, early stopping,
// per-epoch reporting (rank 0 line + metrics file), checkpoints and restarts, and the run summary.
#pragma once

#include <petscsys.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recns/batcher.hpp"
#include "recns/evaluator.hpp"
#include "recns/graph.hpp"
#include "recns/halo.hpp"
#include "recns/loss.hpp"
#include "recns/model.hpp"
#include "recns/objective.hpp"
#include "recns/optimizer.hpp"
#include "recns/sampler.hpp"

namespace recns {

class MetricsLog;
class CheckpointFile;

class Trainer {
 public:
  explicit Trainer(MPI_Comm comm);
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  ~Trainer();

  /// Collective. Reads every option (trainer, model, sampler, loss, optimizer, evaluation) and
  /// creates the selected types. Needs no dataset, so `-help` lists everything without one.
  PetscErrorCode SetFromOptions();
  /// Collective. Loads the dataset named by -dataset and sets every object up; with -restart,
  /// restores the state of the chosen checkpoint.
  PetscErrorCode SetUp();
  /// Collective. The same on a dataset already in memory on every rank (tests).
  PetscErrorCode SetUp(const Dataset& data);
  /// Collective. Trains for -train_epochs epochs (or until early stopping), evaluating every
  /// -eval_interval epochs and checkpointing as -checkpoint_* ask, then evaluates the test split
  /// at the final and the best epoch and writes the summary. A stop signal (SIGTERM, SIGUSR1) on
  /// any rank ends it early at a step boundary, after a checkpoint: Outcome().interrupted.
  PetscErrorCode Train();

  /// Collective. The global loss (mean over the global batch, plus L2 on the batch's ego rows
  /// and the blocks' decay) of `batch` with `negatives` at the current parameters; leaves every
  /// block's gradient in Parameters(). The building block of a step, public for gradient checks.
  PetscErrorCode LossAndGradient(const Batch& batch, const Negatives& negatives, double* loss);
  /// Every trainable block of the run (valid after SetUp).
  const ParameterList& Parameters() const { return objective_.Parameters(); }

  Model& GetModel() { return *model_; }
  Sampler& GetSampler() { return *sampler_; }
  const Graph& GetGraph() const { return graph_; }
  const Batcher& GetBatcher() const { return batcher_; }
  uint64_t Seed() const { return seed_; }

  /// Test hook: called on every rank after each global step with the number of steps done.
  void SetStepHook(std::function<void(int64_t)> hook) { step_hook_ = std::move(hook); }

  /// Results of the run, valid after Train.
  struct Outcome {
    int epochs_run = 0, best_epoch = 0;
    int evaluations = 0;  // evaluations of a split (valid, test or test_random) this run made
    int forward_passes = 0;  // forward passes over every row (not the steps' restricted ones)
    int64_t steps_run = 0;
    double best_value = 0;
    bool stopped_early = false;
    EvalResult best_valid, best_test, final_test;
    /// The random test split's metrics (-eval_test_random), at the final parameters and at the
    /// best epoch's when a validation split chose it; empty (no users, no metrics) otherwise.
    EvalResult best_test_random, final_test_random;
    double final_loss = 0;
    /// This rank's peak resident memory (MiB) up to the end of training, before the final
    /// evaluations: what the steps (and any evaluation between epochs) needed.
    double peak_rss_mb_training = 0;
    /// The last epoch's sampling quality (NaN unless -eval_sampling_quality).
    double sampling_tnr = NAN, sampling_inf = NAN;
    double seconds_total = 0;
    PhaseSeconds phases;
    /// Wall seconds of this run's global steps on this rank's clock: all of them, and the first
    /// alone with its phases (the first step also pays for first touches of the work arrays).
    double step_seconds = 0, first_step_seconds = NAN;
    PhaseSeconds first_step_phases;
    /// Remote item rows this rank fetched through the per-step item halo, mean over the steps.
    double halo_item_rows_per_step = 0;
    /// Values the model's own halos brought to this rank per step (Model::StepHaloValues), mean.
    double model_halo_values_per_step = 0;
    /// Stopped by a signal before the end (the run resumes from its last checkpoint).
    bool interrupted = false;
    /// Checkpoints written by this run, and the last one.
    int checkpoints_written = 0;
    std::string last_checkpoint;
  };
  const Outcome& GetOutcome() const { return outcome_; }

 private:
  /// Where a run is: the cursor into the epochs and steps, the sums of a partial epoch, the
  /// early-stopping bookkeeping and the metrics rows of finished epochs. A checkpoint saves it.
  struct State {
    int epoch = 0;           // the epoch in progress (0-based) = epochs completed
    int64_t step = 0;        // the next step within it
    int64_t steps_done = 0;  // global steps trained in all
    double loss_sum = 0, epoch_seconds = 0, train_seconds = 0;
    double quality[3] = {0, 0, 0};  // this epoch's true negatives, false negatives, Σ info·sgn
    double best = -INFINITY;
    int evaluations_without_gain = 0;
    bool finished = false;  // early stop, or a restart of a finished run
    std::vector<RowMatrix> best_params;  // the best epoch's blocks (when a valid split chooses it)
    std::vector<std::vector<double>> metrics_rows;  // one per finished epoch
  };

  PetscErrorCode SetUpObjects();
  PetscErrorCode CheckOutputPaths() const;
  // Reporting (trainer_report.cpp).
  std::vector<std::string> MetricColumns() const;
  /// A metrics row: the 0-based `epoch`'s figures, the metrics of `valid`, `test` and
  /// `test_random` (NaN where null; test_random's columns only when EvaluatesTestRandom) and the
  /// sampling quality.
  std::vector<double> MetricRow(int epoch, double loss, double lr, double seconds,
                                double eval_seconds, const EvalResult* valid,
                                const EvalResult* test, const EvalResult* test_random, double tnr,
                                double inf) const;
  /// Whether the final evaluation covers the dataset's /test_random split: it has one and
  /// -eval_test_random is on.
  bool EvaluatesTestRandom() const;
  PetscErrorCode AppendMetricRow(const std::vector<double>& row);
  /// Collective. Creates the metrics file with the rows a checkpoint restored.
  PetscErrorCode OpenMetricsLog();
  PetscErrorCode PrintHeader() const;
  PetscErrorCode PrintEpochLine(int epoch, double loss, double seconds, double tnr, double inf,
                                const EvalResult* result, bool eta) const;
  /// Collective. The final test row (and per-user metrics), the closing lines, the summary.
  PetscErrorCode ReportFinal();
  PetscErrorCode FinishEpoch(int epoch, double lr, double* eval_value, bool* stop);
  /// Collective. Sums the ranks' stop and timer votes (outside the steps, which carry them
  /// with the loss): votes[0] > 0 when some rank got a stop signal, votes[1] when a timed
  /// checkpoint is due.
  PetscErrorCode CombineVotes(double votes[2]);
  void CastVotes(double votes[2]) const;
  /// Adds one global step's wall seconds and item-halo rows to this run's sums in Outcome.
  void RecordStep(double seconds, double halo_sums[2], int64_t* steps_this_run);
  // Checkpoints (trainer_checkpoint.cpp).
  PetscErrorCode PrepareCheckpointFolder();
  /// Collective. The bytes a checkpoint of this run takes at most (CheckpointFile::Measure).
  PetscErrorCode MeasureCheckpoint(int64_t* bytes);
  /// Collective. Writes the whole state of the run to `file` (WriteCheckpoint, MeasureCheckpoint).
  PetscErrorCode SaveState(CheckpointFile& file, double eval_value);
  PetscErrorCode WriteCheckpoint(double eval_value);
  PetscErrorCode FindRestartFile(std::string* path);
  PetscErrorCode Resume(const std::string& path);
  PetscErrorCode ReportChangedOptions(const std::string& saved_options) const;
  PetscErrorCode DatasetFingerprint(uint64_t* fingerprint) const;
  ParameterList BestParameterViews();
  uint64_t dataset_fingerprint_ = 0;  // of the training pairs: a checkpoint's dataset identity
  std::string run_name_;              // RunName of this run, which its checkpoints record
  PetscErrorCode Step(uint32_t epoch, int64_t step, double lr, double* loss);
  PetscErrorCode Forward();
  /// Collective. The deferred forward pass of a step whose sampler ReadsGatheredRows (its
  /// ComputeRows): the rows of the batch's users and of the gathered items, and those other
  /// ranks gather; every row when `items` is null.
  PetscErrorCode ForwardGatheredRows(const std::vector<int32_t>* items, const Halo* halo);
  /// Collective. Metrics of `split` at the current parameters; `forward_current` when the last
  /// full forward pass was made at them.
  PetscErrorCode EvaluateSplit(EvalSplit split, bool forward_current, EvalResult* result);
  PetscErrorCode WriteSummary() const;

  MPI_Comm comm_;
  PetscMPIInt rank_ = 0, size_ = 1;
  // Options.
  std::string dataset_path_, model_type_ = kModelLightGCN, sampler_type_ = kSamplerUniform,
                             loss_type_ = kLossBPR, optimizer_type_ = kOptimizerAdam;
  std::string eval_metric_ = "recall@20", metrics_path_ = "metrics.h5", summary_path_;
  int epochs_ = 100, eval_interval_ = 1, patience_ = 0;
  int64_t batch_size_ = 2048, max_steps_ = 0;
  uint64_t seed_ = 2024;
  PetscBool sampling_quality_ = PETSC_FALSE;
  PetscBool eval_test_random_ = PETSC_TRUE;
  PetscBool needed_rows_only_ = PETSC_TRUE;
  std::string checkpoint_dir_ = "checkpoints", restart_;
  int checkpoint_every_epochs_ = 1, checkpoint_keep_ = 2, checkpoint_test_kill_ = 0;
  double checkpoint_every_minutes_ = 0;

  State state_;
  double last_checkpoint_time_ = 0, run_start_ = 0;
  int run_first_epoch_ = 0;  // the epoch this process started in (for the ETA)
  double step_votes_[2] = {0, 0};  // this step's stop and timer votes, summed over ranks
  std::function<void(int64_t)> step_hook_;

  Graph graph_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Loss> loss_;
  std::unique_ptr<Optimizer> optimizer_;
  Evaluator evaluator_;
  Batcher batcher_;
  std::unique_ptr<MetricsLog> metrics_log_;

  Objective objective_;
  // Per-step work arrays, kept to avoid reallocation.
  Batch batch_;
  Negatives negatives_;
  // A deferred forward pass's rows this step, and whether it ran (and on every row).
  RowFlags gathered_rows_;
  bool gathered_ = false, gathered_all_ = false;
  Outcome outcome_;
  // The test evaluation of an epoch without a validation split, and the step count it was at.
  EvalResult last_test_;
  int64_t last_test_steps_ = -1;
};

/// Not collective. This process's peak resident memory so far, in MiB.
double PeakRssMb();

}  // namespace recns
