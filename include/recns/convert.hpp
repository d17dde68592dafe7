// Converters from public recommendation data formats into a recns::Dataset (ARCHITECTURE §4).
//
// Every converter reads whole text files (serial), maps raw ids to dense 0-based ids, applies the
// rating thresholds, k-core filtering and the random splits of ConvertOptions, and returns a
// Dataset ready for WriteDataset. Raw ids are kept in the Dataset.
//
// Id remapping: users and items are each numbered over the union of all files read. When every
// raw id of a kind is a non-negative integer, dense ids follow numeric order (so 0-based
// contiguous ids map to themselves); otherwise they follow the order of first appearance.
//
// Bad input is one PETSC_ERR_USER_INPUT error (on PETSC_COMM_SELF) whose message names the file
// and, where there is one, the line: "data/train.csv:12: rating 'x' is not a number".
#pragma once

#include <petscsys.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "recns/dataset.hpp"

namespace recns {

/// How a converter filters and splits the interactions it reads.
struct ConvertOptions {
  std::string name;  ///< stored as the dataset's name attribute
  /// Rows rated >= this are positive interactions; the default (-inf) takes every row.
  double rating_threshold = -std::numeric_limits<double>::infinity();
  /// Rows rated <= this become exposures (shown, not interacted); must be below
  /// rating_threshold. Rows between the two thresholds are dropped. Default (-inf): none.
  /// Exposures come from the training data only (the train file, or the whole single file).
  double exposure_threshold = -std::numeric_limits<double>::infinity();
  /// Iteratively drop users and items with fewer than kcore train interactions (0 = off); with a
  /// single input file the filter runs on all its interactions, before the split.
  int kcore = 0;
  /// Fraction of each user's interactions put in the valid split: carved from train when no
  /// valid file is given, or taken from the single input file. 0 = no valid split.
  double valid_fraction = 0.0;
  /// Fraction of each user's interactions put in the test split (single input file only).
  double test_fraction = 0.2;
  uint64_t split_seed = 0;  ///< key of the counter RNG (RngPurpose::kSplit) for every split
  /// CSV only. A file of interactions with items shown at random (Yahoo! R3's random.txt): its
  /// rows rated >= rating_threshold become the test_random split, less the user's train and
  /// valid items (an evaluation never ranks those). "" = none.
  std::string test_random_file;
  /// CSV only. A file of exposures (shown, not interacted): every row, or with a rating column
  /// and an exposure_threshold the rows rated <= it. Added to the exposures the threshold takes
  /// from the interaction files; an item shown twice is one exposure, and an exposure that is a
  /// train, valid or test interaction of the same user is dropped. "" = none.
  std::string exposure_file;
};

// Both side files (test_random_file, exposure_file) name only users and items of the interaction
// files, and any other id is an error at its line: so ids are numbered, and the splits drawn,
// exactly as without the side files.

/// The files of a LightGCN text folder: train, valid (optional) and test.
constexpr const char* kLightGcnFiles[] = {"train.txt", "valid.txt", "test.txt"};

/// Not collective. LightGCN text folder: `folder`/train.txt, optional valid.txt, test.txt; each
/// line "user item item ..." with 0-based integer ids (a user may have no items; blank lines are
/// ignored).
PetscErrorCode ConvertLightGcn(const std::string& folder, const ConvertOptions& options,
                               Dataset* data);

/// Not collective. CSV files, one per split; `valid` may be "" (then options.valid_fraction
/// carves one from train). Ids are tokens (as RecBole's: "U10001", "N5523", "42"). A first line
/// that names a column is a header, and the user, item and rating columns are found by name in
/// any order (user, user_id, userId, uid; item, item_id, itemId, iid, movieId; rating, score;
/// case, '_' and '-' do not matter; other columns are ignored); a header without user or item
/// is an error. Without a header the columns are user,item[,rating][,...]. Every line must have
/// as many fields as the first. Lines may end in LF, CRLF or CR CR LF.
PetscErrorCode ConvertCsvFiles(const std::string& train, const std::string& valid,
                               const std::string& test, const ConvertOptions& options,
                               Dataset* data);

/// Not collective. One CSV file (format as in ConvertCsvFiles), split at random per user into
/// train/valid/test by options.valid_fraction and options.test_fraction.
PetscErrorCode ConvertCsvSingle(const std::string& path, const ConvertOptions& options,
                                Dataset* data);

/// Not collective. A RecBole atomic .inter file: tab-separated, a typed header
/// ("user_id:token\titem_id:token\trating:float\ttimestamp:float"); the columns user_id and
/// item_id (and rating, when a threshold is set) are found by name, ids are arbitrary tokens.
/// Split at random per user as ConvertCsvSingle.
PetscErrorCode ConvertRecBole(const std::string& path, const ConvertOptions& options,
                              Dataset* data);

/// Not collective. Fails with PETSC_ERR_USER_INPUT when writing `output` would overwrite one of
/// `inputs`: the same file (device and inode), however it is named (another spelling, a symbolic
/// or hard link). Inputs that do not exist are skipped: their reader reports them.
PetscErrorCode CheckOutputIsNoInput(const std::string& output,
                                    const std::vector<std::string>& inputs);

/// Not collective. Splits every row of `all` at random: per user, round(test_fraction * n) items
/// go to `test` and round(valid_fraction * n) to `valid` (rounded stochastically, so small rows
/// get the right expected share), the rest to `train`; a row with >= 1 item keeps >= 1 train
/// item. Deterministic in (seed, user index, row contents) through RngPurpose::kSplit. `valid`
/// is left absent when valid_fraction is 0. Used by the converters and the synthetic generator.
PetscErrorCode SplitPerUser(const Csr& all, double valid_fraction, double test_fraction,
                            uint64_t seed, Csr* train, Csr* valid, Csr* test);

}  // namespace recns
