// Top-K recommendations from a checkpoint: choose the users, rank them with the evaluator's
// streaming (Evaluator::Rank), write the lists in parallel.
#include "recns/recommender.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "io/hdf5.hpp"
#include "recns/checkpoint.hpp"
#include "recns/error.hpp"
#include "recns/package.hpp"
#include "recns/rng.hpp"

namespace recns {

namespace {

const char* const kExcludes[] = {"none", "train", "train_valid", "all"};
const char* const kFormats[] = {"auto", "csv", "hdf5"};

std::string Seconds(double seconds) {
  const long s = std::lround(seconds);
  if (s >= 3600) return Format("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return Format("%ldm%02lds", s / 60, s % 60);
  return Format("%lds", s);
}

bool EndsWith(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

/// The ids of a -users value: separated by commas, spaces or line ends; empty entries skipped.
std::vector<std::string> SplitIds(const std::string& text) {
  std::vector<std::string> ids;
  std::string id;
  for (char c : text + "\n") {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!id.empty()) ids.push_back(id);
      id.clear();
    } else {
      id += c;
    }
  }
  return ids;
}

}  // namespace

Recommender::Recommender(MPI_Comm comm) : comm_(comm), evaluator_(comm) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
}

Recommender::~Recommender() = default;

// --- options ------------------------------------------------------------------------------------

PetscErrorCode Recommender::SetFromOptions() {
  PetscFunctionBeginUser;
  PetscCall(InitializePackage());
  char dataset[PETSC_MAX_PATH_LEN] = "", checkpoint[PETSC_MAX_PATH_LEN] = "", users[PETSC_MAX_PATH_LEN] = "",
       output[PETSC_MAX_PATH_LEN];
  PetscCall(PetscStrncpy(output, output_.c_str(), sizeof output));
  PetscInt k = k_, sample = (PetscInt)user_sample_, seed = (PetscInt)sample_seed_, block = (PetscInt)item_block_;
  PetscInt exclude = 1, format = 0;
  PetscReal progress = progress_seconds_;
  PetscOptionsBegin(comm_, nullptr, "recns_recommend: recommendation options", nullptr);
  PetscCall(PetscOptionsString("-dataset",
                               "Dataset file the checkpoint was trained on (recns HDF5); may also "
                               "be given as the first argument",
                               "Recommender", dataset, dataset, sizeof dataset, nullptr));
  PetscCall(PetscOptionsString("-checkpoint", "Checkpoint file written by recns_train (required)",
                               "Recommender", checkpoint, checkpoint, sizeof checkpoint, nullptr));
  PetscCall(PetscOptionsInt("-k", "Items recommended per user (at most the number of items)",
                            "Recommender", k, &k, nullptr));
  PetscCall(PetscOptionsString("-users",
                               "Users to recommend for, by raw id: a file of ids (when a file of "
                               "that name exists; separated by commas, spaces or lines) or a "
                               "comma-separated list (default: every user)",
                               "Recommender", users, users, sizeof users, nullptr));
  PetscCall(PetscOptionsInt("-user_sample",
                            "Instead, a seeded sample of about N users, the same at any rank "
                            "count (0: not sampled)",
                            "Recommender", sample, &sample, nullptr));
  PetscCall(PetscOptionsInt("-sample_seed", "Seed of -user_sample", "Recommender", seed, &seed, nullptr));
  PetscCall(PetscOptionsEList("-exclude",
                              "Items left out of a user's list: none, train (the user's training "
                              "items), train_valid (also validation items: the lists of a test "
                              "evaluation), all (also test items, and random-test items when the "
                              "dataset has a /test_random split)",
                              "Recommender", kExcludes, 4, kExcludes[exclude], &exclude, nullptr));
  PetscCall(PetscOptionsString("-output",
                               "Output file: CSV (user,rank,item,score with raw ids) or HDF5",
                               "Recommender", output, output, sizeof output, nullptr));
  PetscCall(PetscOptionsEList("-output_format",
                              "Output format: auto (hdf5 for a name ending in .h5 or .hdf5, else "
                              "csv), csv or hdf5",
                              "Recommender", kFormats, 3, kFormats[format], &format, nullptr));
  PetscCall(PetscOptionsInt("-eval_item_block",
                            "Item rows per chunk streamed between ranks (bounds the memory for "
                            "other ranks' items at 2 chunks)",
                            "Recommender", block, &block, nullptr));
  PetscCall(PetscOptionsReal("-progress_seconds",
                             "Print the progress and ETA on rank 0 at most this often (0: never)",
                             "Recommender", progress, &progress, nullptr));
  PetscOptionsEnd();
  RECNS_CHECK_INPUT(k >= 1, comm_, "-k must be >= 1 (got %d)", (int)k);
  RECNS_CHECK_INPUT(sample >= 0, comm_, "-user_sample must be 0 (not sampled) or positive (got %d)",
                    (int)sample);
  RECNS_CHECK_INPUT(sample == 0 || users[0] == '\0', comm_, "give -users or -user_sample, not both");
  RECNS_CHECK_INPUT(seed >= 0, comm_, "-sample_seed must be >= 0 (got %d)", (int)seed);
  RECNS_CHECK_INPUT(block > 0, comm_, "-eval_item_block must be positive (got %d)", (int)block);
  RECNS_CHECK_INPUT(progress >= 0 && std::isfinite((double)progress), comm_,
                    "-progress_seconds must be a finite number >= 0 (got %g)", (double)progress);
  RECNS_CHECK_INPUT(output[0] != '\0', comm_, "-output must name a file");
  dataset_path_ = dataset;
  checkpoint_path_ = checkpoint;
  users_ = users;
  output_ = output;
  exclude_ = kExcludes[exclude];
  format_ = kFormats[format];
  if (format_ == "auto") format_ = EndsWith(output_, ".h5") || EndsWith(output_, ".hdf5") ? "hdf5" : "csv";
  k_ = (int)k;
  user_sample_ = sample;
  sample_seed_ = (uint64_t)seed;
  item_block_ = block;
  progress_seconds_ = progress;
  evaluator_.SetItemBlock(item_block_);
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- set-up -------------------------------------------------------------------------------------

PetscErrorCode Recommender::SetUp() {
  std::unique_ptr<CheckpointFile> file;
  std::string type;
  std::vector<std::string> names;
  uint64_t fingerprint;
  PetscFunctionBeginUser;
  RECNS_CHECK_INPUT(!dataset_path_.empty(), comm_,
                    "no dataset: give the input file as the first argument or with -dataset");
  RECNS_CHECK_INPUT(!checkpoint_path_.empty(), comm_, "no checkpoint: give one with -checkpoint FILE");
  const std::string problem = ReadableFileProblem(checkpoint_path_);
  RECNS_CHECK_INPUT(problem.empty(), comm_, "-checkpoint %s: %s", checkpoint_path_.c_str(), problem.c_str());
  for (const std::string& input : {dataset_path_, checkpoint_path_}) {
    std::error_code error;
    RECNS_CHECK_INPUT(!std::filesystem::equivalent(output_, input, error), comm_,
                      "-output %s is an input file: it would be overwritten", output_.c_str());
  }
  PetscCall(PetscLogStagePush(Events().stage_load));
  PetscCall(graph_.Load(comm_, dataset_path_));
  PetscCall(PetscLogStagePop());
  const DatasetInfo& info = graph_.Info();
  RECNS_CHECK_INPUT(k_ <= info.num_items, comm_, "-k %d is larger than the catalogue of %s (%lld items)",
                    k_, info.path.c_str(), (long long)info.num_items);
  PetscCall(ReadDatasetRawIds(comm_, info, &user_raw_ids_, &item_raw_ids_));

  // The checkpoint: the dataset it was written for, then its model, whose type and structural
  // sizes (-model_dim, -model_layers, ...) it records.
  PetscCall(CheckpointFile::Open(graph_, checkpoint_path_, &file));
  PetscCall(TrainPairsFingerprint(graph_, &fingerprint));
  PetscCall(CheckCheckpointDataset(*file, graph_, fingerprint));
  PetscCall(file->ReadAttribute("/model", "type", &type));
  PetscCall(ModelRegistry::Get().Create("model", type, comm_, &model_));
  PetscCall(file->AttributeNames("/model", &names));
  for (const std::string& name : names) {
    if (name == "type") continue;
    int64_t value;
    PetscCall(file->ReadAttribute("/model", name, &value));
    PetscCall(PetscOptionsSetValue(nullptr, ("-" + name).c_str(), std::to_string(value).c_str()));
  }
  PetscCall(model_->SetFromOptions());
  PetscCall(model_->SetUp(graph_, 0));
  PetscCall(model_->Load(*file));
  file.reset();
  PetscCall(model_->Forward());
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::string Recommender::UserName(int64_t user) const {
  return user_raw_ids_.empty() ? std::to_string(user) : user_raw_ids_[(size_t)user];
}

std::string Recommender::ItemName(int32_t item) const {
  return item_raw_ids_.empty() ? std::to_string(item) : item_raw_ids_[(size_t)item];
}

/// Collective. This rank's users to rank (local rows, ascending): all, those -users names, or
/// the seeded sample.
PetscErrorCode Recommender::ChooseUsers(std::vector<int64_t>* local_users) {
  PetscFunctionBeginUser;
  const Layout& layout = graph_.GetLayout();
  local_users->clear();
  if (users_.empty()) {
    const double keep = (double)user_sample_ / (double)layout.NumUsers();
    for (int64_t u = 0; u < layout.LocalUsers(); ++u) {
      if (user_sample_ > 0 && user_sample_ < layout.NumUsers()) {
        const RngBlock b = RandomBlock(sample_seed_, RngPurpose::kEvalSample, 1, (uint64_t)(layout.UserBegin() + u), 0);
        if (UniformFromWords(b.v[0], b.v[1]) >= keep) continue;
      }
      local_users->push_back(u);
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  // A file of ids when one of that name exists (rank 0 reads it), else the list itself.
  std::string text = users_, problem;
  if (rank_ == 0 && ReadableFileProblem(users_).empty()) {
    std::ifstream in(users_);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in) problem = Format("-users %s: cannot be read", users_.c_str());
    text = contents.str();
  }
  PetscCall(CheckAllRanks(comm_, problem.empty(), problem));
  PetscCall(BroadcastString(comm_, 0, &text));
  std::vector<std::string> ids;
  PetscCallCXX(ids = SplitIds(text));
  RECNS_CHECK_INPUT(!ids.empty(), comm_, "-users %s names no user", users_.c_str());
  std::unordered_map<std::string, int64_t> by_raw;
  for (int64_t u = 0; u < layout.NumUsers() && !user_raw_ids_.empty(); ++u) by_raw.emplace(user_raw_ids_[(size_t)u], u);
  std::vector<int64_t> chosen;
  std::string unknown;
  int64_t unknown_count = 0;
  for (const std::string& id : ids) {
    int64_t user = -1;
    if (!user_raw_ids_.empty()) {
      const auto found = by_raw.find(id);
      if (found != by_raw.end()) user = found->second;
    } else {
      char* end = nullptr;
      const long long value = std::strtoll(id.c_str(), &end, 10);
      if (end && *end == '\0' && value >= 0 && value < layout.NumUsers()) user = value;
    }
    if (user < 0) {
      if (unknown_count++ == 0) unknown = id;
      continue;
    }
    chosen.push_back(user);
  }
  RECNS_CHECK_INPUT(unknown_count == 0, comm_,
                    "-users: user '%s'%s is not a user of %s (%lld users%s)", unknown.c_str(),
                    unknown_count > 1 ? Format(" and %lld more", (long long)(unknown_count - 1)).c_str() : "",
                    graph_.Info().path.c_str(), (long long)layout.NumUsers(),
                    user_raw_ids_.empty() ? ", named by their ids 0.." : ", named by /users/raw_id");
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  for (int64_t user : chosen)
    if (user >= layout.UserBegin() && user < layout.UserEnd()) local_users->push_back(user - layout.UserBegin());
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- ranking and output -------------------------------------------------------------------------

PetscErrorCode Recommender::Run() {
  std::vector<int64_t> users;
  PetscFunctionBeginUser;
  PetscCall(ChooseUsers(&users));
  int64_t local = (int64_t)users.size(), total = 0;
  PetscCallMPI(MPI_Allreduce(&local, &total, 1, MPI_INT64_T, MPI_SUM, comm_));
  Exclusion exclude;
  exclude.train = exclude_ != "none";
  exclude.valid = exclude_ == "train_valid" || exclude_ == "all";
  exclude.test = exclude.test_random = exclude_ == "all";
  PetscCall(PetscPrintf(comm_,
                        "recns_recommend: %s | %lld users, %lld items | model %s | top %d for %lld "
                        "users, excluding %s | %d ranks\n",
                        graph_.Info().path.c_str(), (long long)graph_.Info().num_users,
                        (long long)graph_.Info().num_items, model_->Describe().c_str(), k_,
                        (long long)total, exclude_ == "train_valid" ? "train and valid items"
                                          : exclude_ == "all"       ? "every item of the user"
                                          : exclude_ == "train"     ? "train items"
                                                                    : "nothing",
                        size_));
  const double start = MPI_Wtime();
  double last_report = start;
  // Rank 0 reports its own share of the work: every rank has about as many users.
  const RankProgressFn progress = [&](double done) -> PetscErrorCode {
    PetscFunctionBeginUser;
    const double now = MPI_Wtime();
    if (rank_ == 0 && progress_seconds_ > 0 && now - last_report >= progress_seconds_ && done > 0 && done < 1) {
      last_report = now;
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "  ranked %.0f%% in %s, ETA %s\n", 100 * done,
                            Seconds(now - start).c_str(), Seconds((now - start) * (1 - done) / done).c_str()));
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  PetscCall(PetscLogStagePush(Events().stage_eval));
  PetscCall(PetscLogEventBegin(Events().evaluate, 0, 0, 0, 0));
  PetscCall(evaluator_.Rank(graph_, model_->Final(), users, exclude, k_, progress, &lists_));
  PetscCall(PetscLogEventEnd(Events().evaluate, 0, 0, 0, 0));
  PetscCall(PetscLogStagePop());
  const double ranked = MPI_Wtime();
  if (format_ == "hdf5") PetscCall(WriteHdf5(output_));
  else PetscCall(WriteCsv(output_));
  PetscCall(PetscPrintf(comm_, "wrote %s: top %d for %lld users (ranking %.2f s, writing %.2f s)\n",
                        output_.c_str(), k_, (long long)total, ranked - start, MPI_Wtime() - ranked));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Every rank formats its users' lines and writes them at its offset of the file (its users
/// follow the previous rank's), to a temporary name renamed by rank 0 once complete.
PetscErrorCode Recommender::WriteCsv(const std::string& path) const {
  std::string text;
  PetscFunctionBeginUser;
  if (rank_ == 0) text = "user,rank,item,score\n";
  char number[64];
  for (size_t b = 0; b < lists_.users.size(); ++b) {
    const std::string user = UserName(lists_.users[b]);
    for (int r = 0; r < lists_.length[b]; ++r) {
      const size_t at = b * (size_t)lists_.k + (size_t)r;
      std::snprintf(number, sizeof number, "%.17g", lists_.scores[at]);
      text += user + "," + std::to_string(r + 1) + "," + ItemName(lists_.items[at]) + "," + number + "\n";
    }
  }
  const long long length = (long long)text.size();
  long long offset = 0;
  PetscCallMPI(MPI_Exscan(&length, &offset, 1, MPI_LONG_LONG, MPI_SUM, comm_));
  if (rank_ == 0) offset = 0;
  const std::string temporary = path + ".partial";
  MPI_File file;
  const int opened = MPI_File_open(comm_, temporary.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY,
                                   MPI_INFO_NULL, &file);
  int failed = opened != MPI_SUCCESS, any_failed = 0;
  PetscCallMPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm_));
  RECNS_CHECK_INPUT(!any_failed, comm_, "-output %s: cannot write there (does its folder exist?)", path.c_str());
  PetscCallMPI(MPI_File_set_size(file, 0));
  // MPI counts are int: write in pieces of at most 1 GiB.
  constexpr long long kPiece = 1ll << 30;
  long long pieces = (length + kPiece - 1) / kPiece, most = 0;
  PetscCallMPI(MPI_Allreduce(&pieces, &most, 1, MPI_LONG_LONG, MPI_MAX, comm_));
  for (long long p = 0; p < most; ++p) {
    const long long begin = std::min(length, p * kPiece), count = std::min(kPiece, length - begin);
    PetscCallMPI(MPI_File_write_at_all(file, (MPI_Offset)(offset + begin), text.data() + begin, (int)count,
                                       MPI_CHAR, MPI_STATUS_IGNORE));
  }
  PetscCallMPI(MPI_File_close(&file));
  if (rank_ == 0) failed = std::rename(temporary.c_str(), path.c_str()) != 0;
  PetscCall(CheckAllRanks(comm_, !failed, Format("-output %s: cannot rename %s to it", path.c_str(), temporary.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Recommender::WriteHdf5(const std::string& path) const {
  PetscFunctionBeginUser;
  const std::string temporary = path + ".partial";
  h5::Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  RECNS_H5CALL(access.get());
  RECNS_H5CALL(H5Pset_fapl_mpio(access.get(), comm_, MPI_INFO_NULL));
  h5::Handle file;
  H5E_BEGIN_TRY {
    file = h5::Handle(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
  }
  H5E_END_TRY;
  PetscCall(CheckAllRanks(comm_, file.ok(), Format("-output %s: cannot write there (does its folder exist?)", path.c_str())));
  const hid_t root = file.get();
  RECNS_H5CALL(h5::WriteStringAttribute(root, "format", kRecommendationsFormat));
  RECNS_H5CALL(h5::WriteIntAttribute(root, "version", H5T_STD_I32LE, kRecommendationsVersion));
  RECNS_H5CALL(h5::WriteIntAttribute(root, "k", H5T_STD_I32LE, k_));
  RECNS_H5CALL(h5::WriteStringAttribute(root, "exclude", exclude_));
  RECNS_H5CALL(h5::WriteStringAttribute(root, "dataset", dataset_path_));
  RECNS_H5CALL(h5::WriteStringAttribute(root, "checkpoint", checkpoint_path_));
  const long long local = (long long)lists_.users.size();
  long long offset = 0, total = 0;
  PetscCallMPI(MPI_Exscan(&local, &offset, 1, MPI_LONG_LONG, MPI_SUM, comm_));
  if (rank_ == 0) offset = 0;
  PetscCallMPI(MPI_Allreduce(&local, &total, 1, MPI_LONG_LONG, MPI_SUM, comm_));
  h5::Handle transfer(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  RECNS_H5CALL(transfer.get());
  RECNS_H5CALL(H5Pset_dxpl_mpio(transfer.get(), H5FD_MPIO_COLLECTIVE));
  // One rank's block of rows [offset, offset + local) of a [total] or [total, k] dataset.
  auto write = [&](const char* name, hid_t stored, hid_t memory, int width, const void* data) -> PetscErrorCode {
    PetscFunctionBeginUser;
    const hsize_t dims[2] = {(hsize_t)total, (hsize_t)width}, start[2] = {(hsize_t)offset, 0},
                  count[2] = {(hsize_t)local, (hsize_t)width};
    const int rank = width > 0 ? 2 : 1;
    const h5::Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
    RECNS_H5CALL(space.get());
    const h5::Handle dataset(H5Dcreate2(root, name, stored, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                             H5Dclose);
    RECNS_H5CALL(dataset.get());
    const h5::Handle memory_space(H5Screate_simple(rank, count, nullptr), H5Sclose);
    RECNS_H5CALL(memory_space.get());
    if (local > 0) {
      RECNS_H5CALL(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr));
    } else {
      RECNS_H5CALL(H5Sselect_none(space.get()));
      RECNS_H5CALL(H5Sselect_none(memory_space.get()));
    }
    RECNS_H5CALL(H5Dwrite(dataset.get(), memory, memory_space.get(), space.get(), transfer.get(), data));
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  const int64_t unused = 0;
  auto data = [&](const auto& values) -> const void* { return values.empty() ? (const void*)&unused : values.data(); };
  PetscCall(write("user", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, data(lists_.users)));
  PetscCall(write("length", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, data(lists_.length)));
  PetscCall(write("item", H5T_STD_I32LE, H5T_NATIVE_INT32, k_, data(lists_.items)));
  PetscCall(write("score", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, k_, data(lists_.scores)));
  RECNS_H5CALL(file.Close());
  int failed = 0;
  if (rank_ == 0) failed = std::rename(temporary.c_str(), path.c_str()) != 0;
  PetscCall(CheckAllRanks(comm_, !failed, Format("-output %s: cannot rename %s to it", path.c_str(), temporary.c_str())));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
