// Converters from LightGCN text, CSV and RecBole atomic files to a recns::Dataset, and the
// per-user random split they share with the synthetic generator.
//
// Every format is read into one list of rows (interned raw ids, file, line, kind), then one
// pipeline turns it into a dataset: reject repeated (user, item) pairs across the interaction
// files (and within a random test file), number ids densely, k-core filter, split at random,
// build the CSR splits, take the side files' exclusions, check none ends up empty.
#include "recns/convert.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "recns/error.hpp"
#include "recns/rng.hpp"

namespace recns {
namespace {

// --- reading text ------------------------------------------------------------------------------

/// A text file read whole, handed out line by line (1-based line numbers). Carriage returns are
/// left in the line: IsBlank strips them, whether the file ends lines in CRLF or in CR CR LF.
class LineReader {
 public:
  PetscErrorCode Open(const std::string& path);
  bool Next(std::string_view* line);
  /// "path:line" of the line last returned, for error messages.
  std::string Where() const { return path_ + ":" + std::to_string(line_); }
  int64_t Line() const { return line_; }

 private:
  std::string path_, text_;
  size_t position_ = 0;
  int64_t line_ = 0;
};

PetscErrorCode LineReader::Open(const std::string& path) {
  PetscFunctionBeginUser;
  path_ = path;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  PetscCheck(file, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: %s", path.c_str(),
             errno == ENOENT ? "no such file" : std::strerror(errno));
  char buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
    PetscCallCXX(text_.append(buffer, got));
  PetscCheck(!std::ferror(file.get()), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: cannot be read",
             path.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

bool LineReader::Next(std::string_view* line) {
  if (position_ >= text_.size()) return false;
  size_t end = text_.find('\n', position_);
  if (end == std::string::npos) end = text_.size();
  *line = std::string_view(text_).substr(position_, end - position_);
  position_ = end + 1;
  ++line_;
  return true;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// Whitespace-separated words of `line`.
void SplitWords(std::string_view line, std::vector<std::string_view>* words) {
  words->clear();
  size_t k = 0;
  while (k < line.size()) {
    while (k < line.size() && IsBlank(line[k])) ++k;
    const size_t start = k;
    while (k < line.size() && !IsBlank(line[k])) ++k;
    if (k > start) words->push_back(line.substr(start, k - start));
  }
}

/// Fields of `line` between `delimiter`s, with blanks around each field removed.
void SplitFields(std::string_view line, char delimiter, std::vector<std::string_view>* fields) {
  fields->clear();
  for (size_t start = 0;;) {
    const size_t end = std::min(line.find(delimiter, start), line.size());
    std::string_view field = line.substr(start, end - start);
    while (!field.empty() && IsBlank(field.front())) field.remove_prefix(1);
    while (!field.empty() && IsBlank(field.back())) field.remove_suffix(1);
    fields->push_back(field);
    if (end == line.size()) return;
    start = end + 1;
  }
}

bool IsEmptyLine(std::string_view line) { return std::all_of(line.begin(), line.end(), IsBlank); }

bool ParseDouble(std::string_view token, double* value) {
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), *value);
  return error == std::errc() && end == token.data() + token.size() && !token.empty();
}

bool IsNumber(std::string_view token) {
  double unused;
  return ParseDouble(token, &unused);
}

/// Decimal digits without a redundant leading zero: the ids whose numeric order we may use.
bool IsCanonicalInteger(std::string_view token) {
  return !token.empty() && token.size() <= 18 && (token == "0" || token[0] != '0') &&
         std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsNegativeInteger(std::string_view token) {
  int64_t value;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  return error != std::errc::invalid_argument && end == token.data() + token.size() &&
         token.size() > 1 && token[0] == '-';
}

/// `token` in quotes, control characters escaped so a message stays one readable line.
std::string Quoted(std::string_view token) {
  std::string quoted = "'";
  for (const char c : token) {
    if (c == '\r') quoted += "\\r";
    else if (c == '\t') quoted += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) quoted += Format("\\x%02x", c);
    else quoted += c;
  }
  return quoted + "'";
}

/// A non-negative integer id (LightGCN), as canonical decimal text in `raw`.
PetscErrorCode ParseIntegerId(const LineReader& at, const char* what, std::string_view token,
                              std::string* raw) {
  int64_t value = 0;
  PetscFunctionBeginUser;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  PetscCheck(error == std::errc() && end == token.data() + token.size() && !token.empty(),
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: %s id %s is not an integer",
             at.Where().c_str(), what, Quoted(token).c_str());
  PetscCheck(value >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: negative %s id %lld",
             at.Where().c_str(), what, static_cast<long long>(value));
  PetscCallCXX(raw->assign(IsCanonicalInteger(token) ? std::string(token) : std::to_string(value)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// An arbitrary id token (RecBole, CSV), kept as written.
PetscErrorCode ParseTokenId(const LineReader& at, const char* what, std::string_view token,
                            std::string* raw) {
  PetscFunctionBeginUser;
  PetscCheck(!token.empty(), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: empty %s id",
             at.Where().c_str(), what);
  PetscCheck(!IsNegativeInteger(token), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: negative %s id %s", at.Where().c_str(), what, Quoted(token).c_str());
  PetscCallCXX(raw->assign(token));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ParseRating(const LineReader& at, std::string_view token, double* rating) {
  PetscFunctionBeginUser;
  PetscCheck(ParseDouble(token, rating) && std::isfinite(*rating), PETSC_COMM_SELF,
             PETSC_ERR_USER_INPUT, "%s: rating %s is not a number", at.Where().c_str(),
             Quoted(token).c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- collecting rows ---------------------------------------------------------------------------

/// Raw ids of one kind (users or items), numbered by first appearance.
class IdTable {
 public:
  int32_t Intern(const std::string& raw) {
    const auto [entry, added] = index_.try_emplace(raw, static_cast<int32_t>(names_.size()));
    if (added) {
      names_.push_back(raw);
      all_integers_ = all_integers_ && IsCanonicalInteger(raw);
    }
    return entry->second;
  }
  const std::vector<std::string>& Names() const { return names_; }
  bool Contains(const std::string& raw) const { return index_.count(raw) > 0; }
  /// The final id of each id: numeric order when every raw id is a non-negative integer (so
  /// 0-based contiguous ids keep their values), otherwise the order of first appearance.
  std::vector<int32_t> FinalIds() const {
    std::vector<int32_t> order(names_.size()), final_id(names_.size());
    std::iota(order.begin(), order.end(), 0);
    if (all_integers_)
      std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        const std::string &x = names_[a], &y = names_[b];
        return x.size() != y.size() ? x.size() < y.size() : x < y;
      });
    for (size_t k = 0; k < order.size(); ++k) final_id[order[k]] = static_cast<int32_t>(k);
    return final_id;
  }

 private:
  std::unordered_map<std::string, int32_t> index_;
  std::vector<std::string> names_;
  bool all_integers_ = true;
};

/// What a file holds: interactions (kTrain .. kSingle) or one of the side files of
/// ConvertOptions (kTestRandom, kExposure).
enum class Role { kTrain, kValid, kTest, kSingle, kTestRandom, kExposure, kNumRoles };
/// Where a row ends up; kTrain holds all positives of a single file until it is split.
enum Kind : uint8_t { kTrain, kValid, kTest, kExposure, kTestRandom, kDropped, kNumKinds = kDropped };

bool IsSideRole(Role role) { return role == Role::kTestRandom || role == Role::kExposure; }

struct Row {
  int32_t user, item, file;
  Kind kind;
  int64_t line;
};
using Pair = std::pair<int32_t, int32_t>;  // (user, item)

/// Users and items of every pair kind; pairs[kind] for kTrain .. kTestRandom.
struct Graph {
  std::array<std::vector<Pair>, kNumKinds> pairs;
  std::vector<std::string> user_names, item_names;
};

/// Keeps the users and items with >= k train pairs after repeatedly removing those below k,
/// and renumbers the survivors densely in their previous order.
void KCore(int k, Graph* graph) {
  std::vector<char> user_alive(graph->user_names.size(), 1),
      item_alive(graph->item_names.size(), 1);
  for (bool changed = true; changed;) {
    std::vector<int64_t> user_degree(user_alive.size(), 0), item_degree(item_alive.size(), 0);
    for (const auto& [user, item] : graph->pairs[kTrain])
      if (user_alive[user] && item_alive[item]) {
        ++user_degree[user];
        ++item_degree[item];
      }
    changed = false;
    const auto drop = [&](std::vector<char>* alive, const std::vector<int64_t>& degree) {
      for (size_t node = 0; node < alive->size(); ++node) {
        if ((*alive)[node] && degree[node] < k) {
          (*alive)[node] = 0;
          changed = true;
        }
      }
    };
    drop(&user_alive, user_degree);
    drop(&item_alive, item_degree);
  }
  const auto renumber = [](const std::vector<char>& alive, std::vector<std::string>* names) {
    std::vector<int32_t> id(alive.size(), -1);
    int32_t next = 0;
    for (size_t k = 0; k < alive.size(); ++k) {
      if (!alive[k]) continue;
      if (static_cast<size_t>(next) != k) (*names)[next] = std::move((*names)[k]);
      id[k] = next++;
    }
    names->resize(next);
    return id;
  };
  const std::vector<int32_t> user_id = renumber(user_alive, &graph->user_names);
  const std::vector<int32_t> item_id = renumber(item_alive, &graph->item_names);
  for (std::vector<Pair>& pairs : graph->pairs) {
    std::vector<Pair> kept;
    kept.reserve(pairs.size());
    for (const auto& [user, item] : pairs)
      if (user_id[user] >= 0 && item_id[item] >= 0) kept.emplace_back(user_id[user], item_id[item]);
    pairs = std::move(kept);
  }
}

/// CSR by user of `pairs`, each row sorted.
Csr BuildCsr(const std::vector<Pair>& pairs, int64_t num_users) {
  Csr csr;
  csr.indptr.assign(static_cast<size_t>(num_users + 1), 0);
  for (const auto& pair : pairs) ++csr.indptr[pair.first + 1];
  std::partial_sum(csr.indptr.begin(), csr.indptr.end(), csr.indptr.begin());
  csr.indices.resize(pairs.size());
  std::vector<int64_t> next(csr.indptr.begin(), csr.indptr.end() - 1);
  for (const auto& [user, item] : pairs) csr.indices[next[user]++] = item;
  for (int64_t u = 0; u < num_users; ++u)
    std::sort(csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1]);
  return csr;
}

/// The rows of `csr` (sorted, possibly repeating items) with each item once, less the items the
/// same user has in any of `removed` (absent splits remove nothing).
Csr RowsWithout(const Csr& csr, std::initializer_list<const Csr*> removed) {
  Csr out;
  out.indptr.assign(1, 0);
  out.indices.reserve(csr.indices.size());
  std::vector<int32_t> kept, rest;
  for (int64_t u = 0; u < csr.Rows(); ++u) {
    kept.assign(csr.indices.begin() + csr.indptr[u], csr.indices.begin() + csr.indptr[u + 1]);
    kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
    for (const Csr* other : removed) {
      if (!other->Present()) continue;
      rest.clear();
      std::set_difference(kept.begin(), kept.end(), other->indices.begin() + other->indptr[u],
                          other->indices.begin() + other->indptr[u + 1], std::back_inserter(rest));
      kept.swap(rest);
    }
    out.indices.insert(out.indices.end(), kept.begin(), kept.end());
    out.indptr.push_back(static_cast<int64_t>(out.indices.size()));
  }
  return out;
}

/// Every row read from every file, then the pipeline that turns them into a Dataset.
class Interactions {
 public:
  explicit Interactions(const ConvertOptions& options) : options_(options) {}

  /// Rows added next come from `path`, which plays `role`.
  void BeginFile(const std::string& path, Role role) {
    files_.push_back(path);
    file_roles_.push_back(role);
    role_files_[static_cast<int>(role)] = path;
    role_ = role;
  }
  /// One row; `rating` is NaN when the file has no ratings.
  void Add(int64_t line, const std::string& user, const std::string& item, double rating) {
    const bool rated = !std::isnan(rating);
    Kind kind = kDropped;
    if (role_ == Role::kExposure) {
      if (!rated || rating <= options_.exposure_threshold ||
          options_.exposure_threshold == -std::numeric_limits<double>::infinity())
        kind = kExposure;
    } else if (role_ == Role::kTestRandom) {
      if (!rated || rating >= options_.rating_threshold) kind = kTestRandom;
    } else if (!rated || rating >= options_.rating_threshold)
      kind = role_ == Role::kValid ? kValid : role_ == Role::kTest ? kTest : kTrain;
    else if (rating <= options_.exposure_threshold &&
             (role_ == Role::kTrain || role_ == Role::kSingle))
      kind = kExposure;
    rows_.push_back({users_.Intern(user), items_.Intern(item),
                     static_cast<int32_t>(files_.size() - 1), kind, line});
  }
  /// Whether the interaction files read so far name `user` and `item` (side files come last).
  bool Known(const std::string& user, const std::string& item) const {
    return users_.Contains(user) && items_.Contains(item);
  }
  bool KnownUser(const std::string& user) const { return users_.Contains(user); }
  PetscErrorCode Build(Dataset* data);

 private:
  PetscErrorCode CheckDuplicates() const;
  Graph DenseGraph() const;
  /// The file named in errors about the split of `role` (the single file when there is one).
  const std::string& FileOf(Role role) const {
    const std::string& single = role_files_[static_cast<int>(Role::kSingle)];
    return single.empty() ? role_files_[static_cast<int>(role)] : single;
  }

  const ConvertOptions& options_;
  IdTable users_, items_;
  std::vector<Row> rows_;
  std::vector<std::string> files_;
  std::vector<Role> file_roles_;
  std::string role_files_[static_cast<int>(Role::kNumRoles)];
  Role role_ = Role::kTrain;
};

PetscErrorCode Interactions::CheckDuplicates() const {
  std::vector<size_t> order;
  PetscFunctionBeginUser;
  // A pair is rated once over the interaction files, and once in the random test file, which
  // may rate a pair the interaction files rate too. Exposures may repeat (shown twice): they are
  // made unique in Build.
  const auto group = [&](size_t k) {
    return file_roles_[rows_[k].file] == Role::kTestRandom ? 1 : 0;
  };
  PetscCallCXX(order.reserve(rows_.size()));
  for (size_t k = 0; k < rows_.size(); ++k)
    if (file_roles_[rows_[k].file] != Role::kExposure) order.push_back(k);
  const auto key = [&](size_t k) {
    return std::make_tuple(group(k), rows_[k].user, rows_[k].item, rows_[k].file, rows_[k].line);
  };
  PetscCallCXX(
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); }));
  for (size_t k = 1; k < order.size(); ++k) {
    const Row &first = rows_[order[k - 1]], &again = rows_[order[k]];
    PetscCheck(group(order[k - 1]) != group(order[k]) || first.user != again.user ||
                   first.item != again.item,
               PETSC_COMM_SELF,
               PETSC_ERR_USER_INPUT,
               "%s:%lld: duplicate interaction (user %s, item %s), first seen at %s:%lld",
               files_[again.file].c_str(), static_cast<long long>(again.line),
               users_.Names()[again.user].c_str(), items_.Names()[again.item].c_str(),
               files_[first.file].c_str(), static_cast<long long>(first.line));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

Graph Interactions::DenseGraph() const {
  Graph graph;
  const std::vector<int32_t> user_id = users_.FinalIds(), item_id = items_.FinalIds();
  for (const Row& row : rows_)
    if (row.kind != kDropped)
      graph.pairs[row.kind].emplace_back(user_id[row.user], item_id[row.item]);
  const auto place = [](const std::vector<std::string>& names, const std::vector<int32_t>& id) {
    std::vector<std::string> placed(names.size());
    for (size_t k = 0; k < names.size(); ++k) placed[id[k]] = names[k];
    return placed;
  };
  graph.user_names = place(users_.Names(), user_id);
  graph.item_names = place(items_.Names(), item_id);
  return graph;
}

PetscErrorCode Interactions::Build(Dataset* data) {
  Graph graph;
  Dataset built;
  PetscFunctionBeginUser;
  PetscCall(CheckDuplicates());
  PetscCallCXX(graph = DenseGraph());
  if (options_.kcore > 0) PetscCallCXX(KCore(options_.kcore, &graph));
  built.name = options_.name;
  built.num_users = static_cast<int64_t>(graph.user_names.size());
  built.num_items = static_cast<int64_t>(graph.item_names.size());
  Csr splits[kNumKinds];
  for (int kind = 0; kind < kNumKinds; ++kind)
    PetscCallCXX(splits[kind] = BuildCsr(graph.pairs[kind], built.num_users));
  const bool single = !role_files_[static_cast<int>(Role::kSingle)].empty();
  const bool valid_file = !role_files_[static_cast<int>(Role::kValid)].empty();
  if (single) {
    PetscCall(SplitPerUser(splits[kTrain], options_.valid_fraction, options_.test_fraction,
                           options_.split_seed, &built.train, &built.valid, &built.test));
  } else if (valid_file) {
    built.train = std::move(splits[kTrain]);
    built.valid = std::move(splits[kValid]);
    built.test = std::move(splits[kTest]);
  } else {
    Csr no_test;
    PetscCall(SplitPerUser(splits[kTrain], options_.valid_fraction, 0.0, options_.split_seed,
                           &built.train, &built.valid, &no_test));
    built.test = std::move(splits[kTest]);
  }
  // Exposures are items shown but not interacted with; a random test item the user also has in
  // train or valid could never be ranked.
  PetscCallCXX(splits[kExposure] =
                   RowsWithout(splits[kExposure], {&built.train, &built.valid, &built.test}));
  if (splits[kExposure].Nnz() > 0) built.exposure = std::move(splits[kExposure]);
  const std::string& random_file = role_files_[static_cast<int>(Role::kTestRandom)];
  if (!random_file.empty())
    PetscCallCXX(built.test_random =
                     RowsWithout(splits[kTestRandom], {&built.train, &built.valid}));
  const char* filters = "after the rating threshold, k-core and split";
  PetscCheck(built.train.Nnz() > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: no train interactions left %s", FileOf(Role::kTrain).c_str(), filters);
  PetscCheck(built.test.Nnz() > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: no test interactions left %s", FileOf(Role::kTest).c_str(), filters);
  PetscCheck(!built.valid.Present() || built.valid.Nnz() > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: no valid interactions left %s",
             FileOf(valid_file ? Role::kValid : Role::kTrain).c_str(), filters);
  PetscCheck(random_file.empty() || built.test_random.Nnz() > 0, PETSC_COMM_SELF,
             PETSC_ERR_USER_INPUT,
             "%s: no test_random interactions left after the rating threshold, k-core and "
             "removing the users' train and valid items",
             random_file.c_str());
  built.user_raw_ids = std::move(graph.user_names);
  built.item_raw_ids = std::move(graph.item_names);
  *data = std::move(built);
  PetscFunctionReturn(PETSC_SUCCESS);
}

std::string FractionsProblem(double valid, double test) {
  return Format("split fractions (valid %g, test %g) must be >= 0 and sum to less than 1", valid,
                test);
}

// --- formats -----------------------------------------------------------------------------------

PetscErrorCode CheckOptions(const ConvertOptions& options, bool single_file) {
  // Messages are formatted here: PETSc's own printf writes 4 as "4.".
  const double valid = options.valid_fraction, test = single_file ? options.test_fraction : 0.0;
  PetscFunctionBeginUser;
  PetscCheck(!std::isnan(options.rating_threshold) && !std::isnan(options.exposure_threshold),
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "rating thresholds must be numbers");
  PetscCheck(options.exposure_threshold == -std::numeric_limits<double>::infinity() ||
                 options.exposure_threshold < options.rating_threshold,
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s",
             Format("the exposure threshold %g must be below the rating threshold %g",
                    options.exposure_threshold, options.rating_threshold)
                 .c_str());
  PetscCheck(options.kcore >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "k-core %d must be >= 0",
             options.kcore);
  PetscCheck(valid >= 0 && test >= 0 && valid + test < 1, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s", FractionsProblem(valid, test).c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

bool HasRatingThreshold(const ConvertOptions& options) {
  return std::isfinite(options.rating_threshold) || std::isfinite(options.exposure_threshold);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

PetscErrorCode ReadLightGcnFile(const std::string& path, Role role, Interactions* rows) {
  LineReader reader;
  std::string_view line;
  std::vector<std::string_view> words;
  std::string user, item;
  PetscFunctionBeginUser;
  PetscCall(reader.Open(path));
  rows->BeginFile(path, role);
  while (reader.Next(&line)) {
    PetscCallCXX(SplitWords(line, &words));
    if (words.empty()) continue;
    PetscCall(ParseIntegerId(reader, "user", words[0], &user));
    for (size_t k = 1; k < words.size(); ++k) {
      PetscCall(ParseIntegerId(reader, "item", words[k], &item));
      PetscCallCXX(rows->Add(reader.Line(), user, item, NAN));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

// The names a CSV header may give its columns, compared in lower case without '_', '-' or blanks
// (so "userId", "user_id" and "User ID" are one name). Other header fields are ignored columns.
constexpr const char* kUserNames[] = {"user", "userid", "uid"};
constexpr const char* kItemNames[] = {"item", "itemid", "iid", "movieid"};
constexpr const char* kRatingNames[] = {"rating", "score"};
constexpr const char* kKnownColumns =
    "user (user_id, userId, uid), item (item_id, itemId, iid, movieId), rating (score)";

/// Which column of a CSV file holds what: named by a header, or user,item[,rating] in that order.
struct CsvColumns {
  size_t count = 0;  ///< fields on every line; 0 until the first line is read
  int user = 0, item = 1, rating = -1;
};

template <size_t N>
bool Names(std::string_view field, const char* const (&names)[N]) {
  std::string name;
  for (const char c : field)
    if (c != '_' && c != '-' && !IsBlank(c))
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

/// Reads the first line of a CSV file: a header when a field names a column, otherwise the
/// layout user,item[,rating] of its data. A first line that is neither (a rating that is not a
/// number) is an unknown header.
PetscErrorCode ReadCsvColumns(const LineReader& at, const std::vector<std::string_view>& fields,
                              const ConvertOptions& options, Role role, CsvColumns* columns,
                              bool* header) {
  PetscFunctionBeginUser;
  columns->count = fields.size();
  PetscCheck(columns->count >= 2, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: expected user,item[,rating], found %zu field(s)", at.Where().c_str(),
             columns->count);
  *header = std::any_of(fields.begin(), fields.end(), [](std::string_view field) {
    return Names(field, kUserNames) || Names(field, kItemNames) || Names(field, kRatingNames);
  });
  if (*header) {
    columns->user = columns->item = columns->rating = -1;
    for (size_t c = 0; c < fields.size(); ++c) {
      int* const column = Names(fields[c], kUserNames)     ? &columns->user
                          : Names(fields[c], kItemNames)   ? &columns->item
                          : Names(fields[c], kRatingNames) ? &columns->rating
                                                           : nullptr;
      if (!column) continue;
      PetscCheck(*column < 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
                 "%s: header columns %s and %s name the same column", at.Where().c_str(),
                 Quoted(fields[*column]).c_str(), Quoted(fields[c]).c_str());
      *column = static_cast<int>(c);
    }
    PetscCheck(columns->user >= 0 && columns->item >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: the header names no %s column (known columns: %s)", at.Where().c_str(),
               columns->user < 0 ? "user" : "item", kKnownColumns);
  } else if (columns->count >= 3) {
    columns->rating = 2;
    PetscCheck(IsNumber(fields[2]), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: unknown header (or rating %s is not a number): a header names its columns, "
               "known columns: %s",
               at.Where().c_str(), Quoted(fields[2]).c_str(), kKnownColumns);
  }
  // Without ratings, every row of an exposure file is an exposure.
  PetscCheck(columns->rating >= 0 || role == Role::kExposure || !HasRatingThreshold(options),
             PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: no rating column, but a rating threshold is set", at.Where().c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadCsvFile(const std::string& path, Role role, const ConvertOptions& options,
                           Interactions* rows) {
  LineReader reader;
  std::string_view line;
  std::vector<std::string_view> fields;
  std::string user, item;
  CsvColumns columns;
  // A first line of words over integer ids is a header with names we do not know; taken as data
  // it would make its words ids and silently renumber every id by first appearance.
  bool header = false, first_has_words = false;
  int64_t data_lines = 0, first_line = 0;
  PetscFunctionBeginUser;
  PetscCall(reader.Open(path));
  rows->BeginFile(path, role);
  while (reader.Next(&line)) {
    if (IsEmptyLine(line)) continue;
    PetscCallCXX(SplitFields(line, ',', &fields));
    if (columns.count == 0) {
      PetscCall(ReadCsvColumns(reader, fields, options, role, &columns, &header));
      if (header) continue;
    }
    PetscCheck(fields.size() == columns.count, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: malformed line: %zu field(s), expected %zu", reader.Where().c_str(),
               fields.size(), columns.count);
    const bool words =
        !IsCanonicalInteger(fields[columns.user]) || !IsCanonicalInteger(fields[columns.item]);
    if (data_lines++ == 0) {
      first_line = reader.Line();
      first_has_words = words;
    } else if (data_lines == 2) {
      PetscCheck(!first_has_words || words, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
                 "%s:%lld: unknown header (its words would be ids among integer ids): a header "
                 "names its columns, known columns: %s",
                 path.c_str(), static_cast<long long>(first_line), kKnownColumns);
    }
    double rating = NAN;
    PetscCall(ParseTokenId(reader, "user", fields[columns.user], &user));
    PetscCall(ParseTokenId(reader, "item", fields[columns.item], &item));
    if (columns.rating >= 0) PetscCall(ParseRating(reader, fields[columns.rating], &rating));
    PetscCheck(!IsSideRole(role) || rows->Known(user, item), PETSC_COMM_SELF,
               PETSC_ERR_USER_INPUT,
               "%s: %s %s is in none of the interaction files (a random test or exposure file "
               "may only name their users and items)",
               reader.Where().c_str(), rows->KnownUser(user) ? "item" : "user",
               Quoted(rows->KnownUser(user) ? item : user).c_str());
    PetscCallCXX(rows->Add(reader.Line(), user, item, rating));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// Reads the side files of `options` after the interaction files.
PetscErrorCode ReadSideFiles(const ConvertOptions& options, Interactions* rows) {
  PetscFunctionBeginUser;
  if (!options.test_random_file.empty())
    PetscCall(ReadCsvFile(options.test_random_file, Role::kTestRandom, options, rows));
  if (!options.exposure_file.empty())
    PetscCall(ReadCsvFile(options.exposure_file, Role::kExposure, options, rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/// The side files are read by the CSV converters only.
PetscErrorCode CheckNoSideFiles(const ConvertOptions& options, const std::string& input,
                                const char* format) {
  PetscFunctionBeginUser;
  PetscCheck(options.test_random_file.empty() && options.exposure_file.empty(), PETSC_COMM_SELF,
             PETSC_ERR_USER_INPUT, "%s: a random test file or an exposure file applies to CSV "
             "input only, not to %s", input.c_str(), format);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ReadRecBoleFile(const std::string& path, const ConvertOptions& options,
                               Interactions* rows) {
  LineReader reader;
  std::string_view line;
  std::vector<std::string_view> fields;
  std::string user, item, names;
  int user_column = -1, item_column = -1, rating_column = -1;
  size_t columns = 0;
  PetscFunctionBeginUser;
  PetscCall(reader.Open(path));
  rows->BeginFile(path, Role::kSingle);
  while (reader.Next(&line)) {
    if (IsEmptyLine(line)) continue;
    PetscCallCXX(SplitFields(line, '\t', &fields));
    if (columns > 0) {
      PetscCheck(fields.size() == columns, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
                 "%s: malformed line: %zu field(s), expected %zu", reader.Where().c_str(),
                 fields.size(), columns);
      double rating = NAN;
      PetscCall(ParseTokenId(reader, "user", fields[user_column], &user));
      PetscCall(ParseTokenId(reader, "item", fields[item_column], &item));
      if (rating_column >= 0) PetscCall(ParseRating(reader, fields[rating_column], &rating));
      PetscCallCXX(rows->Add(reader.Line(), user, item, rating));
      continue;
    }
    // The typed header "name:type\t...": find the columns we use by name.
    columns = fields.size();
    for (size_t c = 0; c < columns; ++c) {
      const size_t colon = fields[c].find(':');
      PetscCheck(colon != std::string_view::npos && colon > 0, PETSC_COMM_SELF,
                 PETSC_ERR_USER_INPUT, "%s: header field %s is not name:type",
                 reader.Where().c_str(), Quoted(fields[c]).c_str());
      const std::string_view name = fields[c].substr(0, colon), type = fields[c].substr(colon + 1);
      PetscCheck(type == "token" || type == "token_seq" || type == "float" || type == "float_seq",
                 PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
                 "%s: column %s has unknown type %s (expected token, token_seq, float, float_seq)",
                 reader.Where().c_str(), Quoted(name).c_str(), Quoted(type).c_str());
      if (name == "user_id") user_column = static_cast<int>(c);
      if (name == "item_id") item_column = static_cast<int>(c);
      if (name == "rating") rating_column = static_cast<int>(c);
      PetscCallCXX(names += (c ? ", " : "") + std::string(name));
    }
    PetscCheck(user_column >= 0 && item_column >= 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: no column %s among the columns %s", reader.Where().c_str(),
               user_column < 0 ? "user_id" : "item_id", names.c_str());
    PetscCheck(rating_column >= 0 || !HasRatingThreshold(options), PETSC_COMM_SELF,
               PETSC_ERR_USER_INPUT, "%s: no column rating, but a rating threshold is set",
               reader.Where().c_str());
  }
  PetscCheck(columns > 0, PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "%s: empty file (no header)",
             path.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace

// --- public functions --------------------------------------------------------------------------

PetscErrorCode ConvertLightGcn(const std::string& folder, const ConvertOptions& options,
                               Dataset* data) {
  Interactions rows(options);
  PetscFunctionBeginUser;
  PetscCall(CheckOptions(options, false));
  PetscCall(CheckNoSideFiles(options, folder, "LightGCN text"));
  PetscCheck(!HasRatingThreshold(options), PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
             "%s: LightGCN text has no ratings, so rating thresholds do not apply", folder.c_str());
  const std::string train = folder + "/" + kLightGcnFiles[0];
  const std::string valid = folder + "/" + kLightGcnFiles[1];
  const std::string test = folder + "/" + kLightGcnFiles[2];
  PetscCall(ReadLightGcnFile(train, Role::kTrain, &rows));
  if (FileExists(valid)) PetscCall(ReadLightGcnFile(valid, Role::kValid, &rows));
  PetscCall(ReadLightGcnFile(test, Role::kTest, &rows));
  PetscCall(rows.Build(data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ConvertCsvFiles(const std::string& train, const std::string& valid,
                               const std::string& test, const ConvertOptions& options,
                               Dataset* data) {
  Interactions rows(options);
  PetscFunctionBeginUser;
  PetscCall(CheckOptions(options, false));
  PetscCall(ReadCsvFile(train, Role::kTrain, options, &rows));
  if (!valid.empty()) PetscCall(ReadCsvFile(valid, Role::kValid, options, &rows));
  PetscCall(ReadCsvFile(test, Role::kTest, options, &rows));
  PetscCall(ReadSideFiles(options, &rows));
  PetscCall(rows.Build(data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ConvertCsvSingle(const std::string& path, const ConvertOptions& options,
                                Dataset* data) {
  Interactions rows(options);
  PetscFunctionBeginUser;
  PetscCall(CheckOptions(options, true));
  PetscCall(ReadCsvFile(path, Role::kSingle, options, &rows));
  PetscCall(ReadSideFiles(options, &rows));
  PetscCall(rows.Build(data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ConvertRecBole(const std::string& path, const ConvertOptions& options,
                              Dataset* data) {
  Interactions rows(options);
  PetscFunctionBeginUser;
  PetscCall(CheckOptions(options, true));
  PetscCall(CheckNoSideFiles(options, path, "RecBole atomic files"));
  PetscCall(ReadRecBoleFile(path, options, &rows));
  PetscCall(rows.Build(data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CheckOutputIsNoInput(const std::string& output,
                                    const std::vector<std::string>& inputs) {
  struct stat written, read;
  PetscFunctionBeginUser;
  if (stat(output.c_str(), &written) != 0) PetscFunctionReturn(PETSC_SUCCESS);
  for (const std::string& input : inputs)
    PetscCheck(input.empty() || stat(input.c_str(), &read) != 0 ||
                   read.st_dev != written.st_dev || read.st_ino != written.st_ino,
               PETSC_COMM_SELF, PETSC_ERR_USER_INPUT,
               "%s: the output is the input %s; it would be overwritten (choose another output)",
               output.c_str(), input.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode SplitPerUser(const Csr& all, double valid_fraction, double test_fraction,
                            uint64_t seed, Csr* train, Csr* valid, Csr* test) {
  Csr parts[3];  // test, valid, train: the order in which a row's shuffled prefix is dealt out
  std::vector<int32_t> row;
  PetscFunctionBeginUser;
  PetscCheck(valid_fraction >= 0 && test_fraction >= 0 && valid_fraction + test_fraction < 1,
             PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s",
             FractionsProblem(valid_fraction, test_fraction).c_str());
  for (Csr& part : parts) {
    PetscCallCXX(part.indptr.reserve(all.indptr.size()));
    part.indptr.push_back(0);
  }
  PetscCallCXX(parts[2].indices.reserve(static_cast<size_t>(all.Nnz())));
  for (int64_t u = 0; u < all.Rows(); ++u) {
    const int64_t n = all.indptr[u + 1] - all.indptr[u];
    PetscCallCXX(
        row.assign(all.indices.begin() + all.indptr[u], all.indices.begin() + all.indptr[u + 1]));
    // Stochastic rounding gives short rows their expected share; one item always stays in train.
    const RngBlock counts = RandomBlock(seed, RngPurpose::kSplit, 0, static_cast<uint64_t>(u), 0);
    const int64_t held = std::max<int64_t>(n - 1, 0);
    const int64_t n_test = std::min<int64_t>(
        held, static_cast<int64_t>(test_fraction * n + UniformFromWords(counts.v[0], counts.v[1])));
    const int64_t n_valid = std::min<int64_t>(
        held - n_test,
        static_cast<int64_t>(valid_fraction * n + UniformFromWords(counts.v[2], counts.v[3])));
    // A partial Fisher-Yates shuffle picks the held-out items.
    RngBlock draws{};
    for (int64_t k = 0; k < n_test + n_valid; ++k) {
      if (k % 4 == 0)
        draws = RandomBlock(seed, RngPurpose::kSplit, 0, static_cast<uint64_t>(u),
                            static_cast<uint32_t>(1 + k / 4));
      const int64_t pick = k + UniformBelow(draws.v[k % 4], static_cast<uint32_t>(n - k));
      std::swap(row[k], row[pick]);
    }
    const int64_t ends[3] = {n_test, n_test + n_valid, n};
    for (int p = 0; p < 3; ++p) {
      std::vector<int32_t>& indices = parts[p].indices;
      const size_t start = indices.size();
      PetscCallCXX(indices.insert(indices.end(), row.begin() + (p ? ends[p - 1] : 0),
                                  row.begin() + ends[p]));
      std::sort(indices.begin() + start, indices.end());
      parts[p].indptr.push_back(static_cast<int64_t>(indices.size()));
    }
  }
  *test = std::move(parts[0]);
  *valid = std::move(parts[1]);
  *train = std::move(parts[2]);
  if (valid_fraction == 0) *valid = Csr();
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
