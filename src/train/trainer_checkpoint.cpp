// The trainer's side of checkpoints: what a checkpoint holds beyond the objects' own state, when
// one may be restored (same dataset and structural options), and how -restart finds one.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "recns/checkpoint.hpp"
#include "recns/error.hpp"
#include "recns/package.hpp"
#include "recns/parameter.hpp"
#include "recns/trainer.hpp"

namespace recns {

namespace {

/// Creates `path` and its missing parents; false when that fails (errno says why).
bool MakeFolders(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    struct stat info;
    if (stat(prefix.c_str(), &info) != 0 && mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST)
      return false;
    if (slash == std::string::npos) return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  }
}

/// "-name value -flag -name2 value2" (PetscOptionsGetAll) as name -> value. A token starting
/// with '-' and a letter starts an option; anything else (negative numbers too) is a value.
std::map<std::string, std::string> ParseOptions(const std::string& deck) {
  std::map<std::string, std::string> options;
  std::istringstream in(deck);
  std::string token, name;
  while (in >> token) {
    if (token.size() > 1 && token[0] == '-' && std::isalpha((unsigned char)token[1])) {
      name = token.substr(1);
      options[name];
    } else if (!name.empty()) {
      std::string& value = options[name];
      value += (value.empty() ? "" : " ") + token;
    }
  }
  return options;
}

std::string CurrentOptions() {
  char* all = nullptr;
  if (PetscOptionsGetAll(nullptr, &all) != PETSC_SUCCESS) return "";
  std::string deck = all ? all : "";
  PetscFree(all);
  return deck;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : " ") + name;
  return out;
}

/// The digest (16 hex digits, FNV-1a) of what defines a run: the training pairs' `fingerprint`
/// and every option of `deck` but those that only say where outputs go, how long training lasts,
/// what is evaluated or which diagnostics PETSc prints: none of these changes the parameters at a
/// given step, and a run restarted with them changed is the same run.
std::string RunDigest(const std::string& deck, uint64_t fingerprint) {
  static const char* const kNotDefining[] = {"checkpoint_", "restart", "metrics_file", "summary",
                                             "train_epochs", "train_max_steps", "eval_", "dataset",
                                             "log", "info", "options_", "help", "malloc", "history"};
  std::string text = Format("%016llx", (unsigned long long)fingerprint);
  for (const auto& [name, value] : ParseOptions(deck)) {
    bool defining = true;
    for (const char* prefix : kNotDefining) defining = defining && name.rfind(prefix, 0) != 0;
    if (defining) text += " -" + name + " " + value;
  }
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return Format("%016llx", (unsigned long long)hash);
}

/// Not collective. Why the checkpoint folder `folder` cannot be used by a run, or "".
/// `outputs` are the run's other output files (option, path); `fresh` when the run does not
/// resume, `run` its RunName and `bytes` the size of its checkpoints.
std::string CheckpointFolderProblem(const std::string& folder,
                                    const std::vector<std::pair<const char*, std::string>>& outputs,
                                    bool fresh, const std::string& run, int64_t bytes) {
  errno = 0;
  if (!MakeFolders(folder))
    return Format("cannot create the checkpoint folder '%s' (-checkpoint_dir): %s", folder.c_str(),
                  std::strerror(errno ? errno : ENOTDIR));
  // Checkpoints would replace such a file, or pruning remove it.
  for (const auto& [option, path] : outputs) {
    const size_t slash = path.rfind('/');
    const std::string parent = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    std::error_code error;
    if (!path.empty() && IsCheckpointFileName(path.substr(slash + 1)) &&
        std::filesystem::equivalent(parent, folder, error))
      return Format("%s %s is named like a checkpoint in the checkpoint folder '%s' "
                    "(-checkpoint_dir): checkpoints would replace it; choose another name",
                    option, path.c_str(), folder.c_str());
  }
  const std::string space = FolderSpaceProblem(folder, bytes);
  if (!space.empty())
    return Format("cannot write checkpoints in '%s' (-checkpoint_dir): %s", folder.c_str(), space.c_str());
  if (!fresh) return "";
  // A fresh run's checkpoints mixed with another run's would be pruned in favour of theirs
  // (theirs may have more steps), and -restart auto would then resume the other run.
  std::vector<CheckpointEntry> usable;
  std::vector<std::string> skipped;
  if (ScanCheckpoints(folder, &usable, &skipped) != PETSC_SUCCESS) return "";
  for (const CheckpointEntry& entry : usable)
    if (entry.run != run)
      return Format("the checkpoint folder '%s' (-checkpoint_dir) holds checkpoints of another "
                    "run: '%s' (%s; this run: %s); use another -checkpoint_dir, remove them, or "
                    "resume from them with -restart",
                    folder.c_str(), entry.path.c_str(),
                    entry.run.empty() ? "written before checkpoints named their run" : entry.run.c_str(),
                    run.c_str());
  return "";
}

PetscErrorCode WriteResult(CheckpointFile& file, const std::string& group, const EvalResult& result) {
  PetscFunctionBeginUser;
  PetscCall(file.WriteAttribute(group, "users", result.users));
  for (const auto& [name, value] : result.metrics) PetscCall(file.WriteAttribute(group, name, value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Reads the metrics of `names` that the group holds, in that order.
PetscErrorCode ReadResult(CheckpointFile& file, const std::string& group,
                          const std::vector<std::string>& names, EvalResult* result) {
  std::vector<std::string> present;
  PetscFunctionBeginUser;
  PetscCall(file.AttributeNames(group, &present));
  PetscCall(file.ReadAttribute(group, "users", &result->users));
  result->metrics.clear();
  for (const std::string& name : names) {
    if (!std::binary_search(present.begin(), present.end(), name)) continue;
    double value;
    PetscCall(file.ReadAttribute(group, name, &value));
    result->metrics.emplace_back(name, value);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Reads an integer attribute that counts, indexes or sizes part of the state, and checks it is
/// in [low, high], `bound` saying where those limits come from.
PetscErrorCode ReadCounter(CheckpointFile& file, MPI_Comm comm, const char* group, const char* name,
                           int64_t low, int64_t high, const std::string& bound, int64_t* value) {
  PetscFunctionBeginUser;
  PetscCall(file.ReadAttribute(group, name, value));
  RECNS_CHECK_INPUT(*value >= low && *value <= high, comm,
                    "checkpoint '%s': %s attribute '%s' is %lld; it must be in [%lld, %lld] (%s)",
                    file.Path().c_str(), group, name, (long long)*value, (long long)low,
                    (long long)high, bound.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

// The best epoch's blocks, named like the blocks under /trainer/best.
ParameterList Trainer::BestParameterViews() {
  ParameterList views = objective_.Parameters();
  for (size_t b = 0; b < views.size(); ++b) {
    views[b].group = "/trainer/best" + views[b].group;
    views[b].value = &state_.best_params[b];
    views[b].grad = nullptr;
  }
  return views;
}

PetscErrorCode Trainer::DatasetFingerprint(uint64_t* fingerprint) const {
  PetscFunctionBeginUser;
  PetscCall(TrainPairsFingerprint(graph_, fingerprint));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::MeasureCheckpoint(int64_t* bytes) {
  std::unique_ptr<CheckpointFile> file, best;
  PetscFunctionBeginUser;
  PetscCall(CheckpointFile::Measure(graph_, &file));
  PetscCall(SaveState(*file, NAN));
  *bytes = file->Bytes();
  // What a checkpoint gains later: the best epoch's copy of the parameter blocks (when a
  // validation split chooses it) and one metrics row per epoch.
  if (graph_.Info().has_valid && state_.best_params.empty()) {
    PetscCall(CheckpointFile::Measure(graph_, &best));
    PetscCall(SaveParameters(*best, objective_.Parameters()));
    *bytes += best->Bytes();
  }
  const int64_t rows = std::max<int64_t>(epochs_ - (int64_t)state_.metrics_rows.size(), 0);
  *bytes += rows * (int64_t)MetricColumns().size() * (int64_t)sizeof(double);
  // HDF5's own structures (superblock, object headers, B-trees: 22-31 kB measured on 0.5 and
  // 2.7 MB checkpoints, LightGCN and SRNS), 1 % of the data for larger files, and the 64 kB that
  // Commit reserves beyond the file.
  *bytes += 2 * 65536 + *bytes / 100;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::PrepareCheckpointFolder() {
  PetscFunctionBeginUser;
  if (checkpoint_dir_.empty()) PetscFunctionReturn(PETSC_SUCCESS);
  run_name_ = RunName((int64_t)seed_, RunDigest(CurrentOptions(), dataset_fingerprint_));
  int64_t bytes;
  PetscCall(MeasureCheckpoint(&bytes));
  PetscCall(PetscInfo(nullptr, "a checkpoint of this run takes at most %lld bytes\n", (long long)bytes));
  std::string problem;
  std::vector<std::string> removed;
  if (rank_ == 0) {
    problem = CheckpointFolderProblem(checkpoint_dir_,
                                      {{"-metrics_file", metrics_path_}, {"-summary", summary_path_}},
                                      restart_.empty(), run_name_, bytes);
    if (problem.empty()) PetscCall(RemovePartialCheckpoints(checkpoint_dir_, &removed));
  }
  PetscCall(CheckAllRanks(comm_, problem.empty(), problem));
  for (const std::string& path : removed)
    PetscCall(PetscPrintf(comm_, "checkpoint: removed '%s', left by a write that never finished\n", path.c_str()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::SaveState(CheckpointFile& file, double eval_value) {
  PetscFunctionBeginUser;
  const DatasetInfo& info = graph_.Info();
  PetscCall(file.WriteAttribute("/", "epoch", (int64_t)state_.epoch));
  PetscCall(file.WriteAttribute("/", "step", state_.step));
  PetscCall(file.WriteAttribute("/", "steps", state_.steps_done));
  PetscCall(file.WriteAttribute("/", "seed", (int64_t)seed_));
  PetscCall(file.WriteAttribute("/", "run_digest", RunDigest(CurrentOptions(), dataset_fingerprint_)));
  PetscCall(file.WriteAttribute("/", "batch_size", batch_size_));
  PetscCall(file.WriteAttribute("/", "ranks", (int64_t)size_));
  PetscCall(file.WriteAttribute("/", "options", CurrentOptions()));
  PetscCall(file.WriteAttribute("/", "dataset", info.path));
  PetscCall(file.WriteAttribute("/", "dataset_name", info.name));
  PetscCall(file.WriteAttribute("/", "num_users", info.num_users));
  PetscCall(file.WriteAttribute("/", "num_items", info.num_items));
  PetscCall(file.WriteAttribute("/", "train_pairs", info.train_nnz));
  PetscCall(file.WriteAttribute("/", "train_fingerprint", (int64_t)dataset_fingerprint_));
  PetscCall(file.WriteAttribute("/", "eval_metric", eval_metric_));
  PetscCall(file.WriteAttribute("/", "eval_value", eval_value));

  PetscCall(model_->Save(file));
  PetscCall(file.WriteAttribute("/optimizer", "type", std::string(optimizer_->Type())));
  PetscCall(optimizer_->Save(file));
  PetscCall(file.WriteAttribute("/sampler", "type", std::string(sampler_->Type())));
  PetscCall(sampler_->Save(file));
  ParameterList sampler_params;
  sampler_->GetParameters(&sampler_params);
  PetscCall(SaveParameters(file, sampler_params));

  const char* trainer = "/trainer";
  PetscCall(file.WriteAttribute(trainer, "learning_rate", optimizer_->LearningRate(state_.epoch)));
  PetscCall(file.WriteAttribute(trainer, "best_value", state_.best));
  PetscCall(file.WriteAttribute(trainer, "best_epoch", (int64_t)outcome_.best_epoch));
  PetscCall(file.WriteAttribute(trainer, "evaluations_without_gain", (int64_t)state_.evaluations_without_gain));
  PetscCall(file.WriteAttribute(trainer, "finished", (int64_t)state_.finished));
  PetscCall(file.WriteAttribute(trainer, "stopped_early", (int64_t)outcome_.stopped_early));
  PetscCall(file.WriteAttribute(trainer, "loss_sum", state_.loss_sum));
  PetscCall(file.WriteAttribute(trainer, "epoch_seconds", state_.epoch_seconds));
  PetscCall(file.WriteAttribute(trainer, "train_seconds", state_.train_seconds));
  PetscCall(file.WriteAttribute(trainer, "final_loss", outcome_.final_loss));
  PetscCall(file.WriteAttribute(trainer, "sampling_tnr", outcome_.sampling_tnr));
  PetscCall(file.WriteAttribute(trainer, "sampling_inf", outcome_.sampling_inf));
  // Each rank's own partial sums, so a restart on as many ranks adds them in the same order.
  PetscCall(file.WriteRows("/trainer/partial_quality", RowScope::kRanks, state_.quality, 1, 3));
  PetscCall(WriteResult(file, "/trainer/best_valid", outcome_.best_valid));
  PetscCall(WriteResult(file, "/trainer/best_test", outcome_.best_test));
  PetscCall(file.WriteAttribute(trainer, "has_best_parameters", (int64_t)!state_.best_params.empty()));
  if (!state_.best_params.empty()) PetscCall(SaveParameters(file, BestParameterViews()));
  const std::vector<std::string> columns = MetricColumns();
  std::vector<double> rows;
  for (const auto& row : state_.metrics_rows) rows.insert(rows.end(), row.begin(), row.end());
  PetscCall(file.WriteAttribute(trainer, "metrics_columns", Join(columns)));
  PetscCall(file.WriteRows("/trainer/metrics", RowScope::kShared, rows.data(),
                           (int64_t)state_.metrics_rows.size(), (int64_t)columns.size()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::WriteCheckpoint(double eval_value) {
  PetscFunctionBeginUser;
  last_checkpoint_time_ = MPI_Wtime();
  if (checkpoint_dir_.empty()) PetscFunctionReturn(PETSC_SUCCESS);
  const double start = MPI_Wtime();
  PetscCall(PetscLogEventBegin(Events().checkpoint, 0, 0, 0, 0));
  const std::string path = checkpoint_dir_ + "/" + CheckpointName(state_.epoch, state_.steps_done);
  std::unique_ptr<CheckpointFile> file;
  PetscCall(CheckpointFile::Create(graph_, path, &file));
  PetscCall(SaveState(*file, eval_value));
  if (++outcome_.checkpoints_written == checkpoint_test_kill_) {
    PetscCall(file->Flush());
    if (rank_ == 0) raise(SIGKILL);
  }
  PetscCall(file->Commit());
  outcome_.last_checkpoint = path;
  std::vector<std::string> removed;
  double megabytes = 0;
  if (rank_ == 0) {
    struct stat written;
    if (stat(path.c_str(), &written) == 0) megabytes = (double)written.st_size / 1e6;
    PetscCall(PruneCheckpoints(checkpoint_dir_, checkpoint_keep_, run_name_, &removed));
  }
  PetscCall(PetscLogEventEnd(Events().checkpoint, 0, 0, 0, 0));
  PetscCall(PetscPrintf(comm_, "checkpoint: %s (%.1f MB in %.2f s)\n", path.c_str(), megabytes,
                        MPI_Wtime() - start));
  last_checkpoint_time_ = MPI_Wtime();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::FindRestartFile(std::string* path) {
  PetscFunctionBeginUser;
  if (restart_ != "auto") {
    *path = restart_;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  std::vector<CheckpointEntry> usable;
  std::vector<std::string> skipped;
  if (rank_ == 0) PetscCall(ScanCheckpoints(checkpoint_dir_, &usable, &skipped));
  for (const std::string& reason : skipped)
    PetscCall(PetscPrintf(comm_, "warning: restart: skipping %s\n", reason.c_str()));
  *path = usable.empty() ? "" : usable.front().path;
  PetscCall(BroadcastString(comm_, 0, path));
  if (path->empty())
    PetscCall(PetscPrintf(comm_, "restart: no usable checkpoint in '%s'; starting from scratch\n",
                          checkpoint_dir_.c_str()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::ReportChangedOptions(const std::string& saved_options) const {
  PetscFunctionBeginUser;
  const auto before = ParseOptions(saved_options), now = ParseOptions(CurrentOptions());
  std::string changes;
  auto add = [&](const std::string& name, const char* value, const char* was) {
    if (name == "restart") return;
    changes += Format("\n  -%s %s (checkpoint: %s)", name.c_str(), value, was);
  };
  for (const auto& [name, value] : now) {
    const auto old = before.find(name);
    if (old == before.end()) add(name, value.c_str(), "not given");
    else if (old->second != value) add(name, value.c_str(), old->second.c_str());
  }
  for (const auto& [name, value] : before)
    if (!now.count(name)) add(name, "not given", value.c_str());
  if (!changes.empty())
    PetscCall(PetscPrintf(comm_, "restart: options that differ from the checkpoint's:%s\n", changes.c_str()));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Trainer::Resume(const std::string& path) {
  std::unique_ptr<CheckpointFile> file;
  int64_t value, ranks;
  std::string text;
  PetscFunctionBeginUser;
  const double start = MPI_Wtime();
  PetscCall(CheckpointFile::Open(graph_, path, &file));
  PetscCall(CheckCheckpointDataset(*file, graph_, dataset_fingerprint_));
  const std::pair<const char*, int64_t> structure[] = {{"train_seed", (int64_t)seed_},
                                                       {"train_batch_size", batch_size_}};
  const char* attribute[] = {"seed", "batch_size"};
  for (int s = 0; s < 2; ++s) {
    PetscCall(file->ReadAttribute("/", attribute[s], &value));
    RECNS_CHECK_INPUT(value == structure[s].second, comm_,
                      "checkpoint '%s' was written with -%s %lld; this run has %lld (structural "
                      "options cannot change on restart)",
                      path.c_str(), structure[s].first, (long long)value, (long long)structure[s].second);
  }
  // Open checked the counters against the file's batch size and training pairs, which are now
  // known to be this run's; what is left is whether this run trains as far.
  PetscCall(file->ReadAttribute("/", "step", &state_.step));
  PetscCall(file->ReadAttribute("/", "steps", &state_.steps_done));
  PetscCall(ReadCounter(*file, comm_, "/", "epoch", 0, epochs_ - (state_.step > 0),
                        Format("this run's -train_epochs %d%s", epochs_,
                               state_.step > 0 ? ", and the checkpoint is within the next epoch" : ""),
                        &value));
  state_.epoch = (int)value;
  PetscCall(model_->Load(*file));
  PetscCall(file->ReadAttribute("/optimizer", "type", &text));
  RECNS_CHECK_INPUT(text == optimizer_->Type(), comm_,
                    "checkpoint '%s' holds the state of optimizer %s; this run has -optimizer_type %s",
                    path.c_str(), text.c_str(), optimizer_->Type());
  PetscCall(optimizer_->Load(*file));
  // An optimizer that counts its steps (Adam's bias correction) has taken one per training step.
  std::vector<std::string> names;
  PetscCall(file->AttributeNames("/optimizer", &names));
  if (std::binary_search(names.begin(), names.end(), "step"))
    PetscCall(ReadCounter(*file, comm_, "/optimizer", "step", state_.steps_done, state_.steps_done,
                          "the steps trained", &value));
  PetscCall(file->ReadAttribute("/sampler", "type", &text));
  RECNS_CHECK_INPUT(text == sampler_->Type(), comm_,
                    "checkpoint '%s' holds the state of sampler %s; this run has -sampler_type %s",
                    path.c_str(), text.c_str(), sampler_->Type());
  PetscCall(sampler_->Load(*file));
  ParameterList sampler_params;
  sampler_->GetParameters(&sampler_params);
  PetscCall(LoadParameters(*file, sampler_params));

  const char* trainer = "/trainer";
  PetscCall(file->ReadAttribute(trainer, "metrics_columns", &text));
  const std::vector<std::string> columns = MetricColumns();
  RECNS_CHECK_INPUT(text == Join(columns), comm_,
                    "checkpoint '%s' recorded the metrics columns '%s'; this run has '%s' "
                    "(-eval_ks, -eval_sampling_quality and -eval_test_random must stay as they "
                    "were)",
                    path.c_str(), text.c_str(), Join(columns).c_str());
  PetscCall(file->ReadAttribute(trainer, "best_value", &state_.best));
  PetscCall(ReadCounter(*file, comm_, trainer, "best_epoch", 0, state_.epoch,
                        "0 or an epoch trained", &value));
  outcome_.best_epoch = (int)value;
  outcome_.best_value = state_.best;
  PetscCall(ReadCounter(*file, comm_, trainer, "evaluations_without_gain", 0, state_.epoch,
                        "at most one evaluation per epoch trained", &value));
  state_.evaluations_without_gain = (int)value;
  PetscCall(file->ReadAttribute(trainer, "finished", &value));
  state_.finished = value != 0;
  PetscCall(file->ReadAttribute(trainer, "stopped_early", &value));
  outcome_.stopped_early = value != 0;
  PetscCall(file->ReadAttribute(trainer, "loss_sum", &state_.loss_sum));
  PetscCall(file->ReadAttribute(trainer, "epoch_seconds", &state_.epoch_seconds));
  PetscCall(file->ReadAttribute(trainer, "train_seconds", &state_.train_seconds));
  PetscCall(file->ReadAttribute(trainer, "final_loss", &outcome_.final_loss));
  PetscCall(file->ReadAttribute(trainer, "sampling_tnr", &outcome_.sampling_tnr));
  PetscCall(file->ReadAttribute(trainer, "sampling_inf", &outcome_.sampling_inf));
  outcome_.epochs_run = state_.epoch;
  outcome_.steps_run = state_.steps_done;
  // Partial sums: each rank its own when the rank count is the same, else rank 0 all of them.
  PetscCall(ReadCounter(*file, comm_, "/", "ranks", 1,
                        std::min(graph_.Info().num_users, graph_.Info().num_items),
                        "no more ranks than users or items", &ranks));
  std::vector<double> quality((size_t)(3 * ranks));
  PetscCall(file->ReadRows("/trainer/partial_quality", RowScope::kShared, quality.data(), ranks, 3));
  for (int c = 0; c < 3; ++c) {
    state_.quality[c] = 0;
    if (ranks == size_) state_.quality[c] = quality[3 * rank_ + c];
    else if (rank_ == 0)
      for (int64_t r = 0; r < ranks; ++r) state_.quality[c] += quality[3 * r + c];
  }
  const auto metric_names = evaluator_.MetricNames();
  PetscCall(ReadResult(*file, "/trainer/best_valid", metric_names, &outcome_.best_valid));
  PetscCall(ReadResult(*file, "/trainer/best_test", metric_names, &outcome_.best_test));
  PetscCall(file->ReadAttribute(trainer, "has_best_parameters", &value));
  if (value) {
    state_.best_params = CopyValues(objective_.Parameters());
    PetscCall(LoadParameters(*file, BestParameterViews()));
  }
  // One metrics row per finished epoch.
  const int64_t width = (int64_t)columns.size();
  std::vector<double> rows((size_t)(state_.epoch * width));
  PetscCall(file->ReadRows("/trainer/metrics", RowScope::kShared, rows.data(), state_.epoch, width));
  state_.metrics_rows.clear();
  for (int64_t r = 0; r < state_.epoch; ++r)
    state_.metrics_rows.emplace_back(rows.begin() + r * width, rows.begin() + (r + 1) * width);
  PetscCall(file->ReadAttribute("/", "options", &text));
  PetscCall(PetscPrintf(comm_, "restart: resuming from %s at epoch %d, step %lld (%lld steps done; read in %.2f s)\n",
                        path.c_str(), state_.epoch + 1, (long long)state_.step, (long long)state_.steps_done,
                        MPI_Wtime() - start));
  PetscCall(ReportChangedOptions(text));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
