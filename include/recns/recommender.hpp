// Top-K recommendations from a checkpoint (recns_recommend): the dataset is loaded and
// partitioned as for training, the checkpoint's model rows are read and propagated once, and
// Evaluator::Rank streams the item rows around the ranks exactly as an evaluation does, so no
// rank holds users × items and the lists equal the evaluator's for the same users and
// exclusions. The lists go to a CSV file (user,rank,item,score with the dataset's raw ids)
// written by every rank at its own offset (MPI-IO), or to an HDF5 file (parallel HDF5).
//
// HDF5 output schema:
//   /        attrs: format="recns-recommendations", version=1, k, exclude, dataset, checkpoint
//   /user    int64 [n]     dataset ids of the users, ascending
//   /length  int32 [n]     items in each list (k, or fewer when fewer items are rankable)
//   /item    int32 [n, k]  dataset ids, best first; -1 past a list's length
//   /score   float64 [n, k] scores <e_u, e_i>; NaN past a list's length
// Raw ids of the dataset ids are the dataset's /users/raw_id and /items/raw_id.
#pragma once

#include <petscsys.h>

#include <memory>
#include <string>
#include <vector>

#include "recns/evaluator.hpp"
#include "recns/graph.hpp"
#include "recns/model.hpp"

namespace recns {

constexpr const char* kRecommendationsFormat = "recns-recommendations";
constexpr int kRecommendationsVersion = 1;

class Recommender {
 public:
  explicit Recommender(MPI_Comm comm);
  Recommender(const Recommender&) = delete;
  Recommender& operator=(const Recommender&) = delete;
  ~Recommender();

  /// Collective. Reads -dataset, -checkpoint, -k, -users, -user_sample, -sample_seed, -exclude,
  /// -output, -output_format, -eval_item_block and -progress_seconds. Needs no file, so -help
  /// lists every option.
  PetscErrorCode SetFromOptions();
  /// Collective. Loads the dataset and its raw ids, reads the checkpoint's model (its type and
  /// structural sizes come from the checkpoint) and computes the final embeddings. A checkpoint
  /// of another dataset, K beyond the catalogue and unknown user ids are input errors.
  PetscErrorCode SetUp();
  /// Collective. Ranks the chosen users and writes their lists to -output.
  PetscErrorCode Run();

  /// This rank's lists after Run (its share of the users, in dataset order).
  const RankedLists& Lists() const { return lists_; }

 private:
  PetscErrorCode ChooseUsers(std::vector<int64_t>* local_users);
  PetscErrorCode WriteCsv(const std::string& path) const;
  PetscErrorCode WriteHdf5(const std::string& path) const;
  std::string UserName(int64_t user) const;
  std::string ItemName(int32_t item) const;

  MPI_Comm comm_;
  PetscMPIInt rank_ = 0, size_ = 1;
  // Options.
  std::string dataset_path_, checkpoint_path_, users_, output_ = "recommendations.csv",
                                                          exclude_ = "train", format_ = "auto";
  int k_ = 20;
  int64_t user_sample_ = 0, item_block_ = 16384;
  uint64_t sample_seed_ = 2024;
  double progress_seconds_ = 10;

  Graph graph_;
  std::unique_ptr<Model> model_;
  Evaluator evaluator_;
  std::vector<std::string> user_raw_ids_, item_raw_ids_;  // empty: the raw id is the dataset id
  RankedLists lists_;
};

}  // namespace recns
