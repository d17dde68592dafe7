// The trainer's reporting: the run's header line, one line per epoch, the metrics file's rows
// (one builder for the epochs', a partial epoch's and the final test's), the closing lines and
// the JSON summary. The loop that calls them is in trainer.cpp.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>

#include "recns/error.hpp"
#include "recns/json.hpp"
#include "recns/metrics_log.hpp"
#include "recns/package.hpp"
#include "recns/trainer.hpp"

namespace recns {

namespace {

std::string Duration(double seconds) {
  const long s = std::lround(seconds);
  if (s >= 3600) return Format("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return Format("%ldm%02lds", s / 60, s % 60);
  return Format("%lds", s);
}

}  // namespace

std::vector<std::string> Trainer::MetricColumns() const {
  std::vector<std::string> columns = {"epoch", "step", "loss", "learning_rate", "seconds_train",
                                      "seconds_eval"};
  const auto metric_names = evaluator_.MetricNames();
  for (const auto& name : metric_names) columns.push_back("valid_" + name);
  for (const auto& name : metric_names) columns.push_back("test_" + name);
  if (EvaluatesTestRandom())
    for (const auto& name : metric_names) columns.push_back("test_random_" + name);
  if (sampling_quality_) columns.insert(columns.end(), {"sampling_tnr", "sampling_inf"});
  for (const std::string& name : sampler_->StatisticNames()) columns.push_back("sampler_" + name);
  return columns;
}

std::vector<double> Trainer::MetricRow(int epoch, double loss, double lr, double seconds,
                                       double eval_seconds, const EvalResult* valid,
                                       const EvalResult* test, const EvalResult* test_random,
                                       double tnr, double inf) const {
  std::vector<double> row = {(double)(epoch + 1), (double)state_.steps_done, loss, lr, seconds,
                             eval_seconds};
  const auto names = evaluator_.MetricNames();
  for (const auto& name : names) row.push_back(valid ? valid->Get(name) : NAN);
  for (const auto& name : names) row.push_back(test ? test->Get(name) : NAN);
  if (EvaluatesTestRandom())
    for (const auto& name : names) row.push_back(test_random ? test_random->Get(name) : NAN);
  if (sampling_quality_) row.insert(row.end(), {tnr, inf});
  sampler_->Statistics(&row);
  return row;
}

bool Trainer::EvaluatesTestRandom() const {
  return eval_test_random_ && graph_.Info().has_test_random;
}

PetscErrorCode Trainer::AppendMetricRow(const std::vector<double>& row) {
  PetscFunctionBeginUser;
  if (!metrics_log_) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogEventBegin(Events().metrics_write, 0, 0, 0, 0));
  PetscCall(metrics_log_->Append(row));
  PetscCall(PetscLogEventEnd(Events().metrics_write, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::OpenMetricsLog() {
  PetscFunctionBeginUser;
  const bool has_valid = graph_.Info().has_valid;
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
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::PrintHeader() const {
  PetscFunctionBeginUser;
  const bool has_valid = graph_.Info().has_valid;
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
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::PrintEpochLine(int epoch, double loss, double seconds, double tnr,
                                       double inf, const EvalResult* result, bool eta) const {
  PetscFunctionBeginUser;
  std::string line = Format("epoch %4d/%d  loss %.6f  %.2f s", epoch + 1, epochs_, loss, seconds);
  if (sampling_quality_) line += Format("  tnr %.4f inf %.4f", tnr, inf);
  if (result) {
    line += Format("  | %s", graph_.Info().has_valid ? "valid" : "test");
    for (const auto& m : result->metrics)
      if (m.first.rfind("recall@", 0) == 0 || m.first.rfind("ndcg@", 0) == 0)
        line += Format(" %s %.4f", m.first.c_str(), m.second);
  }
  if (eta) {
    const double per_epoch = (MPI_Wtime() - run_start_) / (epoch + 1 - run_first_epoch_);
    line += "  ETA " + Duration(per_epoch * (epochs_ - epoch - 1));
  }
  PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::ReportFinal() {
  PetscFunctionBeginUser;
  const bool has_valid = graph_.Info().has_valid;
  const auto metric_names = evaluator_.MetricNames();
  PetscCall(AppendMetricRow(MetricRow(outcome_.epochs_run - 1, outcome_.final_loss, NAN, NAN, NAN,
                                      nullptr, &outcome_.final_test,
                                      EvaluatesTestRandom() ? &outcome_.final_test_random : nullptr,
                                      NAN, NAN)));
  if (metrics_log_) {
    const PerUserMetrics& per_user = outcome_.final_test.per_user;
    if (evaluator_.PerUser())
      PetscCall(metrics_log_->WriteUsers(
          "test_users", per_user.users, per_user.truth, metric_names, per_user.values,
          {{"split", "test"}, {"dataset_name", graph_.Info().name},
           {"train_fingerprint", Format("%016llx", (unsigned long long)dataset_fingerprint_)}}));
  }
  std::string line = Format("final (epoch %d) test:", outcome_.epochs_run);
  for (const auto& m : outcome_.final_test.metrics) line += Format(" %s %.4f", m.first.c_str(), m.second);
  PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));
  // The random test split's lines follow the test split's they stand beside.
  const auto random_line = [&](const char* what, const EvalResult& result) {
    std::string text = Format("%s test_random (%lld users):", what, (long long)result.users);
    for (const auto& m : result.metrics) text += Format(" %s %.4f", m.first.c_str(), m.second);
    return text;
  };
  if (EvaluatesTestRandom())
    PetscCall(PetscPrintf(comm_, "%s\n",
                          random_line(Format("final (epoch %d)", outcome_.epochs_run).c_str(),
                                      outcome_.final_test_random)
                              .c_str()));
  if (outcome_.best_epoch > 0) {
    line = Format("best epoch %d by %s %s %.4f; its test:", outcome_.best_epoch,
                  has_valid ? "valid" : "test", eval_metric_.c_str(), outcome_.best_value);
    for (const auto& m : outcome_.best_test.metrics) line += Format(" %s %.4f", m.first.c_str(), m.second);
    PetscCall(PetscPrintf(comm_, "%s\n", line.c_str()));
    if (!outcome_.best_test_random.metrics.empty())
      PetscCall(PetscPrintf(comm_, "%s\n",
                            random_line(Format("best epoch %d", outcome_.best_epoch).c_str(),
                                        outcome_.best_test_random)
                                .c_str()));
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

double PeakRssMb() {
  // Linux reports ru_maxrss in KiB.
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

PetscErrorCode Trainer::WriteSummary() const {
  PetscFunctionBeginUser;
  if (summary_path_.empty()) PetscFunctionReturn(PETSC_SUCCESS);
  double peak_rss_mb = PeakRssMb();
  // Every rank's peak (overall and up to the end of training), and the item halo's rows per
  // step of every rank, on rank 0.
  std::vector<double> rank_rss((size_t)size_), rank_training_rss((size_t)size_), rank_halo((size_t)size_),
      rank_model_halo((size_t)size_);
  PetscCallMPI(MPI_Gather(&peak_rss_mb, 1, MPI_DOUBLE, rank_rss.data(), 1, MPI_DOUBLE, 0, comm_));
  PetscCallMPI(MPI_Gather(&outcome_.peak_rss_mb_training, 1, MPI_DOUBLE, rank_training_rss.data(),
                          1, MPI_DOUBLE, 0, comm_));
  PetscCallMPI(MPI_Gather(&outcome_.halo_item_rows_per_step, 1, MPI_DOUBLE, rank_halo.data(), 1,
                          MPI_DOUBLE, 0, comm_));
  PetscCallMPI(MPI_Gather(&outcome_.model_halo_values_per_step, 1, MPI_DOUBLE, rank_model_halo.data(),
                          1, MPI_DOUBLE, 0, comm_));
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
    json.Numbers("peak_rss_mb_training_per_rank", rank_training_rss);
    json.Number("steps_run", (double)outcome_.steps_run);
    json.Numbers("halo_item_rows_per_step_per_rank", rank_halo);
    json.Numbers("model_halo_values_per_step_per_rank", rank_model_halo);
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
    if (!outcome_.best_test_random.metrics.empty())
      metrics("test_random", outcome_.best_test_random);
    json.EndObject();
    json.BeginObject("final");
    json.Number("epoch", outcome_.epochs_run);
    metrics("test", outcome_.final_test);
    if (EvaluatesTestRandom()) metrics("test_random", outcome_.final_test_random);
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
    if (EvaluatesTestRandom())
      json.Number("eval_users_test_random", (double)outcome_.final_test_random.users);
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
