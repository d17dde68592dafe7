static char help[] =
    "recns_convert: LightGCN text, CSV or RecBole atomic files, synthetic data, or a recns\n"
    "dataset, to a recns HDF5 dataset. -format lightgcn -input FOLDER | csv -train F -test F\n"
    "[-valid F] | csv or recbole -input FILE (split at random) | synthetic | recns -input F.h5;\n"
    "always -output FILE.h5. With csv, -test_random F adds a second test split (items shown at\n"
    "random, as Yahoo! R3's random.txt) and -exposure F adds exposures; both may only name users\n"
    "and items of the interaction files, so ids and splits are as without them.\n"
    "-order locality renumbers users and items so that the training graph's neighbours get\n"
    "nearby ids (faster propagation, fewer ghost rows).\n"
    "Rank 0 works, other ranks wait. Exit codes: 0 ok, 2 bad input (one line), 3 internal.\n\n";

// 1. Read every option (so -help lists them all); unless -help, check that they fit together.
// 2. Rank 0 converts or generates the dataset and writes it; other ranks learn the outcome.
#include <petscsys.h>
#include <petsctime.h>

#include <cstring>
#include <string>
#include <vector>

#include "recns/convert.hpp"
#include "recns/dataset.hpp"
#include "recns/error.hpp"
#include "recns/order.hpp"
#include "recns/package.hpp"
#include "recns/synthetic.hpp"

namespace {
enum Format { kLightGcn, kCsv, kRecBole, kSynthetic, kRecns };
const char* const kFormats[] = {"lightgcn", "csv", "recbole", "synthetic", "recns"};
enum Order { kNatural, kLocality };
const char* const kOrders[] = {"natural", "locality"};

struct Settings {
  PetscInt format = kLightGcn;
  PetscInt order = kNatural;
  PetscInt part_nodes = 1024;
  char input[PETSC_MAX_PATH_LEN] = "", train[PETSC_MAX_PATH_LEN] = "",
       valid[PETSC_MAX_PATH_LEN] = "", test[PETSC_MAX_PATH_LEN] = "",
       test_random[PETSC_MAX_PATH_LEN] = "", exposure[PETSC_MAX_PATH_LEN] = "",
       output[PETSC_MAX_PATH_LEN] = "", name[PETSC_MAX_PATH_LEN] = "";
  recns::ConvertOptions convert;
  recns::SyntheticOptions synthetic;
};

/// Collective: every rank holds the same options, so every rank reaches the same verdict.
PetscErrorCode ReadSettings(Settings* s, PetscBool* help) {
  recns::ConvertOptions& c = s->convert;
  recns::SyntheticOptions& g = s->synthetic;
  PetscInt kcore = 0, split_seed = 0, users = 1000, items = 2000, communities = 16, seed = 1, left;
  PetscInt total_interactions = 0, total_exposures = 0;
  char **names, **values;
  PetscFunctionBeginUser;
  PetscOptionsBegin(PETSC_COMM_WORLD, nullptr, "recns_convert options", nullptr);
  const auto text = [&](const char* key, const char* what, char* value) {
    return PetscOptionsString(key, what, "", value, value, PETSC_MAX_PATH_LEN, nullptr);
  };
  const auto real = [&](const char* key, const char* what, PetscReal* value) {
    return PetscOptionsReal(key, what, "", *value, value, nullptr);
  };
  const auto integer = [&](const char* key, const char* what, PetscInt* value) -> PetscErrorCode {
    char typed[64] = "";
    PetscBool set = PETSC_FALSE;
    PetscFunctionBeginUser;
    PetscCall(PetscOptionsInt(key, what, "", *value, value, &set));
    if (set) PetscCall(PetscOptionsGetString(nullptr, nullptr, key, typed, sizeof typed, nullptr));
    RECNS_CHECK_INPUT(recns::OutOfRangeInteger(typed).empty(), PETSC_COMM_WORLD,
                      "%s %s is out of range: integer options go from %d to %d", key, typed,
                      (int)PETSC_MIN_INT, (int)PETSC_MAX_INT);
    PetscFunctionReturn(PETSC_SUCCESS);
  };
  PetscCall(PetscOptionsEList("-format", "Input format", "", kFormats, 5, kFormats[s->format],
                              &s->format, nullptr));
  PetscCall(text("-input", "LightGCN folder, one CSV/RecBole file to split, or a .h5", s->input));
  PetscCall(text("-train", "CSV train file (with -test, instead of -input)", s->train));
  PetscCall(text("-valid", "CSV valid file (optional)", s->valid));
  PetscCall(text("-test", "CSV test file", s->test));
  PetscCall(text("-test_random",
                 "CSV file of items shown at random: its rows rated >= -rating_threshold are the "
                 "split /test_random, less each user's train and valid items (csv only)",
                 s->test_random));
  PetscCall(text("-exposure",
                 "CSV file of exposures (shown, not interacted): every row, or with a rating "
                 "column and -exposure_threshold the rows rated <= it; an exposure that is a "
                 "train, valid or test interaction of the user is dropped (csv only)",
                 s->exposure));
  PetscCall(text("-output", "Dataset file to write (required)", s->output));
  PetscCall(text("-name", "Dataset name (default: the output file's stem)", s->name));
  PetscCall(real("-rating_threshold", "Rows rated >= this are positive", &c.rating_threshold));
  PetscCall(real("-exposure_threshold", "Train rows (and -exposure rows) rated <= it: exposed",
                 &c.exposure_threshold));
  PetscCall(integer("-kcore", "Drop users/items below k train interactions (0: off)", &kcore));
  PetscCall(real("-valid_fraction", "Per-user valid share (or of train)", &c.valid_fraction));
  PetscCall(real("-test_fraction", "Per-user test share (one input file)", &c.test_fraction));
  PetscCall(integer("-split_seed", "Seed of the random splits", &split_seed));
  PetscCall(integer("-synthetic_users", "Synthetic: users", &users));
  PetscCall(integer("-synthetic_items", "Synthetic: items", &items));
  PetscCall(real("-synthetic_mean_degree", "Synthetic: interactions per user", &g.mean_degree));
  PetscCall(integer("-synthetic_communities", "Synthetic: planted communities", &communities));
  PetscCall(real("-synthetic_exposures", "Synthetic: exposures per user", &g.mean_exposures));
  PetscCall(integer("-synthetic_total_interactions",
                    "Synthetic: exact interactions, all splits (0: mean degree x users on average)",
                    &total_interactions));
  PetscCall(integer("-synthetic_total_exposures",
                    "Synthetic: exact exposures (0: -synthetic_exposures x users on average)",
                    &total_exposures));
  PetscCall(integer("-synthetic_seed", "Synthetic: seed of data and split", &seed));
  PetscCall(PetscOptionsEList("-order", "Numbering of users and items: as read, or for locality",
                              "", kOrders, 2, kOrders[s->order], &s->order, nullptr));
  PetscCall(integer("-order_part_nodes", "Locality order: nodes per innermost part",
                    &s->part_nodes));
  PetscOptionsEnd();
  c.kcore = static_cast<int>(kcore);
  c.split_seed = static_cast<uint64_t>(split_seed);
  c.test_random_file = s->test_random;
  c.exposure_file = s->exposure;
  g.valid_fraction = c.valid_fraction;
  g.test_fraction = c.test_fraction;
  g.num_users = users;
  g.num_items = items;
  g.communities = static_cast<int>(communities);
  g.total_interactions = total_interactions;
  g.total_exposures = total_exposures;
  g.seed = static_cast<uint64_t>(seed);
  const std::string output = s->output, stem = output.substr(output.find_last_of('/') + 1);
  c.name = g.name = s->name[0] ? s->name : stem.substr(0, stem.rfind('.'));
  PetscCall(PetscOptionsHasHelp(nullptr, help));
  if (*help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscOptionsLeftGet(nullptr, &left, &names, &values));
  const std::string unknown = left > 0 ? names[0] : "";
  PetscCall(PetscOptionsLeftRestore(nullptr, &left, &names, &values));
  RECNS_CHECK_INPUT(unknown.empty(), PETSC_COMM_WORLD,
                    "unknown option -%s (-help lists the options)", unknown.c_str());
  RECNS_CHECK_INPUT(s->output[0], PETSC_COMM_WORLD, "option -output FILE.h5 is required");
  const bool input = s->input[0], files = s->train[0] || s->valid[0] || s->test[0];
  RECNS_CHECK_INPUT(s->format == kCsv || !files, PETSC_COMM_WORLD,
                    "-train, -valid and -test apply to -format csv only (use -input)");
  RECNS_CHECK_INPUT(s->format == kSynthetic ? !input : input != files, PETSC_COMM_WORLD,
                    "-format %s needs %s", kFormats[s->format],
                    s->format == kSynthetic ? "no -input"
                    : s->format == kCsv     ? "either -input FILE or -train FILE -test FILE"
                                            : "-input");
  RECNS_CHECK_INPUT(s->format == kCsv || (!s->test_random[0] && !s->exposure[0]),
                    PETSC_COMM_WORLD, "-test_random and -exposure apply to -format csv only");
  RECNS_CHECK_INPUT(!files || (s->train[0] && s->test[0]), PETSC_COMM_WORLD,
                    "-format csv with separate files needs both -train and -test");
  RECNS_CHECK_INPUT(s->part_nodes >= 1, PETSC_COMM_WORLD,
                    "-order_part_nodes must be at least 1, not %lld", (long long)s->part_nodes);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ConvertAndWrite(const Settings& s) {
  recns::Dataset d;
  PetscLogDouble start, end;
  PetscFunctionBeginUser;
  PetscCall(PetscTime(&start));
  std::vector<std::string> inputs = {s.input, s.train,       s.valid,
                                     s.test,  s.test_random, s.exposure};
  if (s.format == kLightGcn)
    for (const char* file : recns::kLightGcnFiles)
      inputs.push_back(std::string(s.input) + "/" + file);
  PetscCall(recns::CheckOutputIsNoInput(s.output, inputs));
  PetscCall(s.format == kSynthetic  ? recns::GenerateSynthetic(s.synthetic, &d)
            : s.format == kLightGcn ? recns::ConvertLightGcn(s.input, s.convert, &d)
            : s.format == kRecBole  ? recns::ConvertRecBole(s.input, s.convert, &d)
            : s.format == kRecns    ? recns::ReadDataset(s.input, &d)
            : s.input[0]            ? recns::ConvertCsvSingle(s.input, s.convert, &d)
                         : recns::ConvertCsvFiles(s.train, s.valid, s.test, s.convert, &d));
  if (s.format == kRecns) d.name = s.convert.name;
  if (s.order == kLocality) {
    recns::Dataset ordered;
    PetscCall(recns::OrderForLocality(d, s.part_nodes, &ordered));
    d = std::move(ordered);
  }
  PetscCall(recns::WriteDataset(s.output, d));
  PetscCall(PetscTime(&end));
  const auto n = [](int64_t value) { return static_cast<long long>(value); };
  PetscCall(PetscPrintf(PETSC_COMM_SELF,
                        "recns_convert: wrote %s: %lld users, %lld items; nnz train %lld, valid "
                        "%lld, test %lld, exposure %lld%s; %.2f s\n",
                        s.output, n(d.num_users), n(d.num_items), n(d.train.Nnz()),
                        n(d.valid.Nnz()), n(d.test.Nnz()), n(d.exposure.Nnz()),
                        d.test_random.Present()
                            ? recns::Format(", test_random %lld", n(d.test_random.Nnz())).c_str()
                            : "",
                        end - start));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode Run() {
  Settings s;
  PetscBool help = PETSC_FALSE;
  PetscMPIInt rank;
  char* message = nullptr;
  PetscFunctionBeginUser;
  PetscCall(ReadSettings(&s, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(recns::InstallWriteSignalHandlers());
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  // An input error on rank 0 is shared so every rank exits cleanly; any other failure is
  // returned as is, and FinishProgram aborts the job.
  const PetscErrorCode code = rank == 0 ? ConvertAndWrite(s) : PETSC_SUCCESS;
  if (code != PETSC_SUCCESS && code != PETSC_ERR_USER_INPUT) PetscFunctionReturn(code);
  PetscCall(PetscErrorMessage(code, nullptr, &message));
  PetscCall(recns::CheckAllRanks(PETSC_COMM_WORLD, code == PETSC_SUCCESS, message ? message : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}
}  // namespace

int main(int argc, char** argv) {
  if (const int code = recns::InitializeProgram("recns_convert", &argc, &argv, help)) return code;
  const PetscErrorCode code = Run();
  return recns::FinishProgram("recns_convert", code);
}
