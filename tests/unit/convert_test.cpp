// Converters: each format on small files, id remapping, thresholds, k-core, random splits, every
// kind of bad input (one message naming file and line), and the real datasets when present.
#include "recns/convert.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "recns/dataset.hpp"
#include "recns/error.hpp"

namespace {

using recns::ConvertOptions;
using recns::Csr;
using recns::Dataset;

using recns::test::InputError;

std::set<int32_t> Row(const Csr& csr, int64_t user) {
  if (!csr.Present()) return {};
  return {csr.indices.begin() + csr.indptr[user], csr.indices.begin() + csr.indptr[user + 1]};
}

class convert_test : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = recns::test::ScratchDir(PETSC_COMM_SELF, "convert"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  /// Writes `text` to `name` under the scratch folder (making sub-folders) and returns the path.
  std::string File(const std::string& name, const std::string& text) const {
    const std::filesystem::path path = std::filesystem::path(dir_) / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }
  /// The dataset after a write/read round trip through the HDF5 file.
  Dataset RoundTrip(const Dataset& data) const {
    Dataset read;
    EXPECT_EQ(recns::WriteDataset(dir_ + "/round_trip.h5", data), PETSC_SUCCESS);
    EXPECT_EQ(recns::ReadDataset(dir_ + "/round_trip.h5", &read), PETSC_SUCCESS);
    return read;
  }
  std::string dir_;
};

// --- formats -----------------------------------------------------------------------------------

TEST_F(convert_test, LightGcnFolder) {
  File("lg/train.txt", "0 1 2\n1 2 3\n\n2\n");
  File("lg/valid.txt", "0 3\n");
  File("lg/test.txt", "1 0\n2 1\n");
  ConvertOptions options;
  options.name = "tiny";
  Dataset data;
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/lg", options, &data), PETSC_SUCCESS);
  const Dataset read = RoundTrip(data);
  EXPECT_EQ(read.name, "tiny");
  EXPECT_EQ(read.num_users, 3);
  EXPECT_EQ(read.num_items, 4);
  EXPECT_EQ(read.train.indptr, (std::vector<int64_t>{0, 2, 4, 4}));
  EXPECT_EQ(read.train.indices, (std::vector<int32_t>{1, 2, 2, 3}));
  EXPECT_EQ(read.valid.indptr, (std::vector<int64_t>{0, 1, 1, 1}));
  EXPECT_EQ(read.valid.indices, (std::vector<int32_t>{3}));
  EXPECT_EQ(read.test.indptr, (std::vector<int64_t>{0, 0, 1, 2}));
  EXPECT_EQ(read.test.indices, (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(read.exposure.Present());
  EXPECT_EQ(read.user_raw_ids, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(read.item_raw_ids, (std::vector<std::string>{"0", "1", "2", "3"}));
}

TEST_F(convert_test, CsvHeaderIsDetected) {
  const std::string test = File("test.csv", "0,0,3\n");
  const std::string with = File("with.csv", "user , item , rating\n0,1,5\n1,0,4\n");
  const std::string without = File("without.csv", "0,1,5\r\n1,0,4\r\n");
  Dataset a, b;
  ASSERT_EQ(recns::ConvertCsvFiles(with, "", test, ConvertOptions(), &a), PETSC_SUCCESS);
  ASSERT_EQ(recns::ConvertCsvFiles(without, "", test, ConvertOptions(), &b), PETSC_SUCCESS);
  EXPECT_EQ(a.train.indices, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(a.train.indptr, b.train.indptr);
  EXPECT_EQ(a.train.indices, b.train.indices);
  EXPECT_FALSE(a.valid.Present());
}

TEST_F(convert_test, CsvHeaderNamesTheColumns) {
  const std::string test = File("test.csv", "0,0,5\n");
  const std::string plain = File("plain.csv", "0,1,5\n1,0,4\n2,1,3\n");
  const std::string swapped = File("swapped.csv", "item,user,rating\n1,0,5\n0,1,4\n1,2,3\n");
  const std::string movielens =
      File("ratings.csv", "userId,movieId,rating,timestamp\n0,1,5,881250949\n1,0,4,1\n2,1,3,1\n");
  const std::string ignored =
      File("ignored.csv", "Time Stamp,ITEM_ID,User-Id\n9,1,0\n9,0,1\n9,1,2\n");
  ConvertOptions options;
  options.rating_threshold = 4;  // also finds the rating column by name
  Dataset expected, data;
  ASSERT_EQ(recns::ConvertCsvFiles(plain, "", test, options, &expected), PETSC_SUCCESS);
  for (const std::string& path : {swapped, movielens}) {
    ASSERT_EQ(recns::ConvertCsvFiles(path, "", test, options, &data), PETSC_SUCCESS) << path;
    EXPECT_EQ(data.train.indptr, expected.train.indptr) << path;
    EXPECT_EQ(data.train.indices, expected.train.indices) << path;
    EXPECT_EQ(data.user_raw_ids, expected.user_raw_ids) << path;
  }
  ASSERT_EQ(recns::ConvertCsvFiles(ignored, "", test, ConvertOptions(), &data), PETSC_SUCCESS);
  EXPECT_EQ(data.train.indptr, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(data.train.indices, (std::vector<int32_t>{1, 0, 1}));
}

TEST_F(convert_test, CsvLineEndsLfCrLfAndCrCrLfReadAlike) {
  const std::string test = File("test.csv", "0,0,3\n");
  Dataset lf, other;
  ASSERT_EQ(recns::ConvertCsvFiles(File("lf.csv", "user,item,rating\n0,1,5\n1,0,4\n"), "", test,
                                   ConvertOptions(), &lf),
            PETSC_SUCCESS);
  for (const char* text : {"user,item,rating\r\n0,1,5\r\n1,0,4\r\n",
                           "user,item,rating\r\r\n0,1,5\r\r\n1,0,4\r\r\n\r\n"}) {
    ASSERT_EQ(recns::ConvertCsvFiles(File("other.csv", text), "", test, ConvertOptions(), &other),
              PETSC_SUCCESS);
    EXPECT_EQ(other.train.indptr, lf.train.indptr);
    EXPECT_EQ(other.train.indices, lf.train.indices);
    EXPECT_EQ(other.user_raw_ids, lf.user_raw_ids);
  }
}

TEST_F(convert_test, CsvIdsAreTokens) {
  const std::string train = File("train.csv", "U10001,N5523,5\nU7,N5523,4\nU7,N1,3\n");
  const std::string test = File("test.csv", "U10001,N1,5\n");
  Dataset data;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, ConvertOptions(), &data), PETSC_SUCCESS);
  EXPECT_EQ(data.user_raw_ids, (std::vector<std::string>{"U10001", "U7"}));  // first appearance
  EXPECT_EQ(data.item_raw_ids, (std::vector<std::string>{"N5523", "N1"}));
  EXPECT_EQ(data.train.indptr, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(data.train.indices, (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(data.test.indices, (std::vector<int32_t>{1}));
}

TEST_F(convert_test, OutputMustBeNoInput) {
  const std::string input = File("in.csv", "0,1\n"), other = File("other.csv", "0,1\n");
  std::filesystem::create_symlink(input, dir_ + "/symlink.csv");
  std::filesystem::create_hard_link(input, dir_ + "/hardlink.csv");
  const std::vector<std::string> inputs = {"", dir_ + "/missing.csv", dir_ + "/./in.csv"};
  std::filesystem::create_directory(dir_ + "/sub");
  for (const std::string name : {"/in.csv", "/symlink.csv", "/hardlink.csv", "/sub/../in.csv"}) {
    const std::string message = InputError(recns::CheckOutputIsNoInput(dir_ + name, inputs));
    EXPECT_NE(message.find(dir_ + name + ": the output is the input " + dir_ + "/./in.csv"),
              std::string::npos)
        << message;
  }
  EXPECT_EQ(recns::CheckOutputIsNoInput(other, inputs), PETSC_SUCCESS);
  EXPECT_EQ(recns::CheckOutputIsNoInput(dir_ + "/new.h5", inputs), PETSC_SUCCESS);
}

TEST_F(convert_test, ThresholdsMakePositivesAndExposures) {
  const std::string train =
      File("train.csv", "user,item,rating\n0,0,5\n0,1,1\n0,2,3\n1,0,2\n1,3,4\n");
  // Exposures come from the training data only: the low rating in the test file is dropped.
  const std::string test = File("test.csv", "0,3,5\n1,2,1\n1,1,4\n");
  ConvertOptions options;
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  Dataset data;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &data), PETSC_SUCCESS);
  const Dataset read = RoundTrip(data);
  EXPECT_EQ(read.num_users, 2);
  EXPECT_EQ(read.num_items, 4);  // item 2 has no positive or exposure but is in the files
  EXPECT_EQ(read.train.indices, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(read.exposure.indptr, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(read.exposure.indices, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(read.test.indptr, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(read.test.indices, (std::vector<int32_t>{3, 1}));
}

TEST_F(convert_test, IntegerIdsFollowNumericOrder) {
  const std::string train = File("train.csv", "10,5\n3,7\n7,5\n");
  const std::string test = File("test.csv", "3,5\n");
  Dataset data;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, ConvertOptions(), &data), PETSC_SUCCESS);
  EXPECT_EQ(data.user_raw_ids, (std::vector<std::string>{"3", "7", "10"}));
  EXPECT_EQ(data.item_raw_ids, (std::vector<std::string>{"5", "7"}));
  EXPECT_EQ(data.train.indptr, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(data.train.indices, (std::vector<int32_t>{1, 0, 0}));
  EXPECT_EQ(data.test.indices, (std::vector<int32_t>{0}));
}

TEST_F(convert_test, RecBoleFindsColumnsByNameAndKeepsFirstAppearance) {
  const std::string path = File("x.inter",
                                "item_id:token\ttimestamp:float\tuser_id:token\trating:float\n"
                                "i9\t100\tbob\t5\ni2\t101\talice\t4\ni9\t102\talice\t3\n"
                                "i5\t103\tbob\t1\n");
  ConvertOptions options;
  options.test_fraction = 0.5;  // each user: one test and one train item
  Dataset data;
  ASSERT_EQ(recns::ConvertRecBole(path, options, &data), PETSC_SUCCESS);
  const Dataset read = RoundTrip(data);
  EXPECT_EQ(read.user_raw_ids, (std::vector<std::string>{"bob", "alice"}));
  EXPECT_EQ(read.item_raw_ids, (std::vector<std::string>{"i9", "i2", "i5"}));
  for (int64_t user = 0; user < 2; ++user) {
    EXPECT_EQ(Row(read.train, user).size(), 1u);
    EXPECT_EQ(Row(read.test, user).size(), 1u);
  }
  std::set<int32_t> bob = Row(read.train, 0);
  bob.merge(Row(read.test, 0));
  EXPECT_EQ(bob, (std::set<int32_t>{0, 2}));
}

TEST_F(convert_test, KCoreDropsUsersAndItemsIteratively) {
  // User 3 (one item) goes first; then item 3 keeps one user, then user 2 keeps one item.
  File("kc/train.txt", "0 0 1 2\n1 0 1 2\n2 1 3\n3 3\n4 0 1\n");
  File("kc/test.txt", "4 2\n0 3\n");
  ConvertOptions options;
  options.kcore = 2;
  Dataset data;
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/kc", options, &data), PETSC_SUCCESS);
  EXPECT_EQ(data.user_raw_ids, (std::vector<std::string>{"0", "1", "4"}));
  EXPECT_EQ(data.item_raw_ids, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(data.train.indptr, (std::vector<int64_t>{0, 3, 6, 8}));
  EXPECT_EQ(data.train.indices, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 0, 1}));
  EXPECT_EQ(data.test.indptr, (std::vector<int64_t>{0, 0, 0, 1}));
  EXPECT_EQ(data.test.indices, (std::vector<int32_t>{2}));
}

// --- random splits -----------------------------------------------------------------------------

/// Every user's items of `all` end up in exactly one of train/valid/test, train never empty.
void ExpectPartition(const Csr& all, const Dataset& data) {
  for (int64_t user = 0; user < all.Rows(); ++user) {
    const std::set<int32_t> train = Row(data.train, user), valid = Row(data.valid, user),
                            test = Row(data.test, user);
    std::set<int32_t> joined = train;
    joined.insert(valid.begin(), valid.end());
    joined.insert(test.begin(), test.end());
    EXPECT_EQ(joined.size(), train.size() + valid.size() + test.size()) << "user " << user;
    EXPECT_EQ(joined, Row(all, user)) << "user " << user;
    if (!joined.empty()) EXPECT_FALSE(train.empty()) << "user " << user;
  }
}

TEST_F(convert_test, SingleFileSplitIsDeterministicAndDisjoint) {
  std::string text = "user,item,rating\n";
  Csr full;  // ids 0..40 and 0..49 all occur, so they keep their values
  full.indptr.push_back(0);
  for (int user = 0; user < 40; ++user) {
    std::set<int32_t> row;
    for (int k = 0; k < 12; ++k) {
      row.insert((user + 3 * k) % 50);
      text += recns::Format("%d,%d,5\n", user, (user + 3 * k) % 50);
    }
    full.indices.insert(full.indices.end(), row.begin(), row.end());
    full.indptr.push_back(static_cast<int64_t>(full.indices.size()));
  }
  text += "40,7,5\n";  // a user with a single interaction keeps it in train
  full.indices.push_back(7);
  full.indptr.push_back(static_cast<int64_t>(full.indices.size()));
  const std::string path = File("all.csv", text);
  ConvertOptions options;
  options.valid_fraction = 0.2;
  options.test_fraction = 0.2;
  options.split_seed = 1;
  Dataset a, b, c;
  ASSERT_EQ(recns::ConvertCsvSingle(path, options, &a), PETSC_SUCCESS);
  ASSERT_EQ(recns::ConvertCsvSingle(path, options, &b), PETSC_SUCCESS);
  options.split_seed = 2;
  ASSERT_EQ(recns::ConvertCsvSingle(path, options, &c), PETSC_SUCCESS);
  ASSERT_EQ(a.num_users, 41);
  ASSERT_EQ(a.num_items, 50);
  EXPECT_EQ(a.test.indices, b.test.indices);
  EXPECT_EQ(a.valid.indices, b.valid.indices);
  EXPECT_NE(a.test.indices, c.test.indices);
  ExpectPartition(full, a);
  ExpectPartition(full, c);
  EXPECT_EQ(Row(a.train, 40), (std::set<int32_t>{7}));
  // Stochastic rounding: about 20% of 480 in each held-out split.
  EXPECT_NEAR(static_cast<double>(a.test.Nnz()), 96.0, 16.0);
  EXPECT_NEAR(static_cast<double>(a.valid.Nnz()), 96.0, 16.0);
}

TEST_F(convert_test, ValidCarvedFromTrainIsDeterministicAndDisjoint) {
  std::string train, test;
  for (int user = 0; user < 30; ++user) {
    train += std::to_string(user);
    for (int k = 0; k < 10; ++k) train += " " + std::to_string((user + 2 * k) % 40);
    train += "\n";
    test += recns::Format("%d %d\n", user, (user + 1) % 40);
  }
  File("carve/train.txt", train);
  File("carve/test.txt", test);
  Dataset plain, a, b, c;
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/carve", ConvertOptions(), &plain), PETSC_SUCCESS);
  EXPECT_FALSE(plain.valid.Present());
  ConvertOptions options;
  options.valid_fraction = 0.3;
  options.split_seed = 5;
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/carve", options, &a), PETSC_SUCCESS);
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/carve", options, &b), PETSC_SUCCESS);
  options.split_seed = 6;
  ASSERT_EQ(recns::ConvertLightGcn(dir_ + "/carve", options, &c), PETSC_SUCCESS);
  EXPECT_EQ(a.valid.indices, b.valid.indices);
  EXPECT_NE(a.valid.indices, c.valid.indices);
  EXPECT_EQ(a.test.indices, plain.test.indices);
  EXPECT_NEAR(static_cast<double>(a.valid.Nnz()), 90.0, 15.0);
  Dataset without_test = a;
  without_test.test = Csr();
  ExpectPartition(plain.train, without_test);
}

TEST_F(convert_test, SplitPerUserKeepsATrainItem) {
  Csr all;
  all.indptr = {0, 1, 3, 3};
  all.indices = {4, 1, 2};
  Csr train, valid, test;
  ASSERT_EQ(recns::SplitPerUser(all, 0.45, 0.45, 3, &train, &valid, &test), PETSC_SUCCESS);
  EXPECT_EQ(train.indptr[1] - train.indptr[0], 1);  // the only item stays in train
  EXPECT_EQ(train.indptr[2] - train.indptr[1], 1);  // two items: one may leave
  EXPECT_EQ(train.Rows(), 3);
  EXPECT_EQ(train.Nnz() + valid.Nnz() + test.Nnz(), 3);
  EXPECT_EQ(recns::SplitPerUser(all, 0.5, 0.5, 3, &train, &valid, &test), PETSC_ERR_ARG_OUTOFRANGE);
}

// --- bad input ---------------------------------------------------------------------------------

TEST_F(convert_test, BadInputNamesFileAndLine) {
  struct Case {
    const char* expected;  // found in the message after the scratch folder
    std::function<PetscErrorCode(const std::string& folder)> convert;
  };
  const auto csv = [this](const std::string& folder, const std::string& train,
                          const std::string& test, ConvertOptions options = ConvertOptions()) {
    Dataset data;
    return recns::ConvertCsvFiles(File(folder + "/train.csv", train), "",
                                  File(folder + "/test.csv", test), options, &data);
  };
  const auto recbole = [this](const std::string& folder, const std::string& text) {
    Dataset data;
    return recns::ConvertRecBole(File(folder + "/x.inter", text), ConvertOptions(), &data);
  };
  const auto lightgcn = [this](const std::string& folder, const std::string& train,
                               const char* test) {
    Dataset data;
    File(folder + "/train.txt", train);
    if (test) File(folder + "/test.txt", test);
    return recns::ConvertLightGcn(dir_ + "/" + folder, ConvertOptions(), &data);
  };
  ConvertOptions thresholds;
  thresholds.rating_threshold = 4;
  const Case cases[] = {
      {"/train.csv:3: malformed line: 1 field(s), expected 2",
       [&](const std::string& f) { return csv(f, "0,1\n1,2\n3\n", "0,2\n"); }},
      {"/train.csv:2: negative user id '-1'",
       [&](const std::string& f) { return csv(f, "0,1\n-1,2\n", "0,2\n"); }},
      {"/train.csv:3: rating 'abc' is not a number",
       [&](const std::string& f) {
         return csv(f, "user,item,rating\n0,1,5\n1,2,abc\n", "0,2,5\n");
       }},
      {"/train.csv:2: empty item id",
       [&](const std::string& f) { return csv(f, "0,1\n1,\n", "0,2\n"); }},
      {"/train.csv:1: the header names no user column (known columns: user (user_id",
       [&](const std::string& f) { return csv(f, "customer,item_id,rating\n0,1,5\n", "0,2\n"); }},
      {"/train.csv:1: header columns 'item' and 'movieId' name the same column",
       [&](const std::string& f) { return csv(f, "user,item,movieId\n0,1,2\n", "0,2\n"); }},
      {"/train.csv:1: unknown header (or rating 'stars' is not a number)",
       [&](const std::string& f) { return csv(f, "who,what,stars\n0,1,5\n", "0,2,5\n"); }},
      {"/train.csv:2: unknown header (its words would be ids among integer ids)",
       [&](const std::string& f) { return csv(f, "\nwho,what\n0,1\n", "0,2\n"); }},
      {"/train.csv:2: rating '4\\r\\x01' is not a number",
       [&](const std::string& f) { return csv(f, "0,1,5\n0,2,4\r\x01\n", "0,2,5\n"); }},
      {"/train.csv:3: duplicate interaction (user 0, item 1), first seen at ",
       [&](const std::string& f) { return csv(f, "0,1\n1,2\n0,1\n", "0,2\n"); }},
      {"/test.csv:1: duplicate interaction (user 1, item 2), first seen at ",
       [&](const std::string& f) { return csv(f, "0,1\n1,2\n", "1,2\n"); }},
      {"/test.csv: no test interactions left",
       [&](const std::string& f) { return csv(f, "0,1,5\n", "0,2,1\n", thresholds); }},
      {"/train.csv:1: no rating column, but a rating threshold is set",
       [&](const std::string& f) { return csv(f, "0,1\n", "0,2\n", thresholds); }},
      {"/nothere.csv: no such file",
       [&](const std::string& f) {
         Dataset data;
         return recns::ConvertCsvSingle(dir_ + "/" + f + "/nothere.csv", ConvertOptions(), &data);
       }},
      {"/x.inter:1: no column user_id among the columns user, item_id",
       [&](const std::string& f) { return recbole(f, "user:token\titem_id:token\nu\ti\n"); }},
      {"/x.inter:1: column 'item_id' has unknown type 'tok'",
       [&](const std::string& f) { return recbole(f, "user_id:token\titem_id:tok\nu\ti\n"); }},
      {"/x.inter:1: header field 'item_id' is not name:type",
       [&](const std::string& f) { return recbole(f, "user_id:token\titem_id\nu\ti\n"); }},
      {"/x.inter:3: malformed line: 1 field(s), expected 2",
       [&](const std::string& f) { return recbole(f, "user_id:token\titem_id:token\nu\ti\nv\n"); }},
      {"/x.inter:2: negative user id '-3'",
       [&](const std::string& f) { return recbole(f, "user_id:token\titem_id:token\n-3\ti\n"); }},
      {"/train.txt:1: item id 'x' is not an integer",
       [&](const std::string& f) { return lightgcn(f, "0 1 x\n", "0 2\n"); }},
      {"/train.txt:2: negative item id -2",
       [&](const std::string& f) { return lightgcn(f, "0 1\n1 -2\n", "0 2\n"); }},
      {"/test.txt: no such file",
       [&](const std::string& f) { return lightgcn(f, "0 1\n", nullptr); }},
      {"/train.txt:2: duplicate interaction (user 0, item 1), first seen at ",
       [&](const std::string& f) { return lightgcn(f, "0 1 2\n0 1\n", "0 3\n"); }},
  };
  int index = 0;
  for (const Case& c : cases) {
    const std::string folder = "case" + std::to_string(index++);
    const std::string message = InputError(c.convert(folder));
    EXPECT_NE(message.find(dir_ + "/" + folder + c.expected), std::string::npos)
        << "message: " << message << "\nexpected: " << c.expected;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(convert_test, BadOptions) {
  const std::string train = File("train.csv", "0,1,5\n"), test = File("test.csv", "0,2,5\n");
  Dataset data;
  ConvertOptions options;
  options.rating_threshold = 4;
  options.exposure_threshold = 4;
  EXPECT_EQ(InputError(recns::ConvertCsvFiles(train, "", test, options, &data)),
            "the exposure threshold 4 must be below the rating threshold 4");
  options = ConvertOptions();
  options.rating_threshold = 3;
  File("lg/train.txt", "0 1\n");
  File("lg/test.txt", "0 2\n");
  EXPECT_NE(InputError(recns::ConvertLightGcn(dir_ + "/lg", options, &data))
                .find("LightGCN text has no ratings"),
            std::string::npos);
  options = ConvertOptions();
  options.valid_fraction = 0.5;
  options.test_fraction = 0.5;
  EXPECT_NE(InputError(recns::ConvertCsvSingle(train, options, &data)).find("split fractions"),
            std::string::npos);
}

// --- side files: the random test split and exposures ------------------------------------------

/// A single rated file over users 0..29 and items 0..39 whose ids all occur (so they keep their
/// values), ratings 1..5.
std::string RatedText() {
  std::string text;
  for (int user = 0; user < 30; ++user)
    for (int k = 0; k < 14; ++k)
      text += recns::Format("%d,%d,%d\n", user, (user * 3 + k * 7) % 40, 1 + (user + k) % 5);
  return text;
}

TEST_F(convert_test, TestRandomKeepsTheSplitAndMapsIds) {
  // String ids: numbered by first appearance, so the random file's ids must map to the same
  // dense ids; its first user appears late in the interactions file.
  const std::string single = File("user.csv",
                                  "ua,i1,5\nua,i2,4\nua,i3,5\nua,i4,1\nub,i2,5\nub,i5,4\nub,i6,2\n"
                                  "uc,i1,5\nuc,i3,4\nuc,i6,5\n");
  // ub's i1 (rated 5) and ua's i5 (4) are positives; uc's i2 (1) is not; ub,i2 repeats a train
  // pair of ub, which the evaluation could never rank, so it is left out.
  const std::string random = File("random.csv", "uc,i2,1\nub,i1,5\nua,i5,4\nub,i2,5\n");
  ConvertOptions options;
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  options.valid_fraction = 0;
  options.test_fraction = 0.3;
  options.split_seed = 3;
  Dataset alone, with;
  ASSERT_EQ(recns::ConvertCsvSingle(single, options, &alone), PETSC_SUCCESS);
  options.test_random_file = random;
  ASSERT_EQ(recns::ConvertCsvSingle(single, options, &with), PETSC_SUCCESS);
  EXPECT_FALSE(alone.test_random.Present());
  const Dataset read = RoundTrip(with);
  EXPECT_EQ(read.user_raw_ids, alone.user_raw_ids);
  EXPECT_EQ(read.item_raw_ids, alone.item_raw_ids);
  EXPECT_EQ(read.user_raw_ids, (std::vector<std::string>{"ua", "ub", "uc"}));
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure}) {
    EXPECT_EQ((read.*part).indptr, (alone.*part).indptr);
    EXPECT_EQ((read.*part).indices, (alone.*part).indices);
  }
  // i1..i6 are items 0..5.
  ASSERT_TRUE(read.test_random.Present());
  EXPECT_EQ(Row(read.test_random, 0), (std::set<int32_t>{4}));
  // ub's i2 is a positive of ub: kept only when the split put it in test, not in train.
  std::set<int32_t> ub = {0};
  if (Row(read.test, 1).count(1)) ub.insert(1);
  EXPECT_EQ(Row(read.test_random, 1), ub);
  EXPECT_TRUE(Row(read.test_random, 2).empty());
}

TEST_F(convert_test, TestRandomLeavesTheUserSplitUnchanged) {
  const std::string single = File("user.csv", RatedText());
  std::string text;
  for (int user = 0; user < 30; user += 2)
    for (int k = 0; k < 5; ++k)
      text += recns::Format("%d,%d,%d\n", user, (user + 11 * k) % 40, 5 - k);
  const std::string random = File("random.csv", text);
  ConvertOptions options;
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  options.valid_fraction = 0.1;
  options.test_fraction = 0.1;
  options.split_seed = 7;
  Dataset alone, with;
  ASSERT_EQ(recns::ConvertCsvSingle(single, options, &alone), PETSC_SUCCESS);
  options.test_random_file = random;
  ASSERT_EQ(recns::ConvertCsvSingle(single, options, &with), PETSC_SUCCESS);
  EXPECT_EQ(with.num_users, alone.num_users);
  EXPECT_EQ(with.num_items, alone.num_items);
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure}) {
    EXPECT_EQ((with.*part).indptr, (alone.*part).indptr);
    EXPECT_EQ((with.*part).indices, (alone.*part).indices);
  }
  // The rows rated 4 and 5 of every second user, less their train and valid items.
  int64_t expected = 0;
  for (int user = 0; user < 30; ++user)
    for (int k = 0; k < 2 && user % 2 == 0; ++k) {
      const int32_t item = (user + 11 * k) % 40;
      const bool taken = Row(with.train, user).count(item) || Row(with.valid, user).count(item);
      EXPECT_EQ(Row(with.test_random, user).count(item), taken ? 0u : 1u) << user << " " << item;
      expected += !taken;
    }
  EXPECT_EQ(with.test_random.Nnz(), expected);
  // Separate files (-train/-test) read the random file alike.
  const std::string train = File("train.csv", "0,0,5\n0,1,5\n1,1,4\n");
  const std::string test = File("test.csv", "0,2,5\n1,0,5\n");
  options = ConvertOptions();
  options.rating_threshold = 4;
  options.test_random_file = File("random2.csv", "1,2,4\n0,1,5\n");
  Dataset files;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &files), PETSC_SUCCESS);
  EXPECT_EQ(files.test_random.indptr, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(files.test_random.indices, (std::vector<int32_t>{2}));
}

TEST_F(convert_test, ExposureFileAddsExposuresButNoInteractions) {
  const std::string train = File("train.csv", "0,0,5\n0,1,2\n1,1,4\n1,2,5\n2,3,5\n");
  const std::string test = File("test.csv", "0,2,5\n1,3,5\n2,0,4\n");
  // Repeats (0,1 shown twice, and also a train exposure), train and test positives of the same
  // user (dropped), and ratings above the exposure threshold (not exposures).
  const std::string exposures =
      File("exposure.csv",
           "user,item,rating\n0,1,1\n0,1,2\n0,3,2\n0,0,1\n1,0,1\n1,3,2\n2,1,3\n2,2,1\n");
  ConvertOptions options;
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  Dataset without, with;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &without), PETSC_SUCCESS);
  options.exposure_file = exposures;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &with), PETSC_SUCCESS);
  const Dataset read = RoundTrip(with);
  for (auto part : {&Dataset::train, &Dataset::test}) {
    EXPECT_EQ((read.*part).indptr, (without.*part).indptr);
    EXPECT_EQ((read.*part).indices, (without.*part).indices);
  }
  EXPECT_EQ(without.exposure.indices, (std::vector<int32_t>{1}));
  EXPECT_EQ(read.exposure.indptr, (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(read.exposure.indices, (std::vector<int32_t>{1, 3, 0, 2}));
  // Without a rating column every row is an exposure.
  options.exposure_file = File("shown.csv", "2,1\n2,2\n1,0\n");
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &with), PETSC_SUCCESS);
  EXPECT_EQ(with.exposure.indptr, (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(with.exposure.indices, (std::vector<int32_t>{1, 0, 1, 2}));
}

TEST_F(convert_test, SideFileErrorsNameFileAndLine) {
  const std::string single = File("user.csv", "0,0,5\n0,1,5\n1,1,4\n1,2,1\n2,0,5\n");
  const auto convert = [&](const char* random, const char* exposure) {
    ConvertOptions options;
    options.rating_threshold = 4;
    options.test_fraction = 0.5;  // user 0's two positives give one test item
    if (random) options.test_random_file = random;
    if (exposure) options.exposure_file = exposure;
    Dataset data;
    return InputError(recns::ConvertCsvSingle(single, options, &data));
  };
  const std::string unknown_user = File("r1.csv", "0,2,5\n7,1,5\n");
  EXPECT_EQ(convert(unknown_user.c_str(), nullptr),
            unknown_user + ":2: user '7' is in none of the interaction files (a random test or "
                           "exposure file may only name their users and items)");
  const std::string unknown_item = File("r2.csv", "0,2,5\n1,9,1\n");
  EXPECT_EQ(convert(unknown_item.c_str(), nullptr),
            unknown_item + ":2: item '9' is in none of the interaction files (a random test or "
                           "exposure file may only name their users and items)");
  const std::string repeated = File("r3.csv", "0,2,5\n0,2,4\n");
  EXPECT_EQ(convert(repeated.c_str(), nullptr)
                .rfind(repeated + ":2: duplicate interaction (user 0, item 2)", 0),
            0u);
  const std::string nothing = File("r4.csv", "0,2,1\n");
  EXPECT_EQ(convert(nothing.c_str(), nullptr),
            nothing + ": no test_random interactions left after the rating threshold, k-core "
                      "and removing the users' train and valid items");
  const std::string bad_line = File("e1.csv", "0,2,1\n1,0\n");
  EXPECT_EQ(convert(nullptr, bad_line.c_str()),
            bad_line + ":2: malformed line: 2 field(s), expected 3");
  const std::string bad_rating = File("e2.csv", "0,2,1\n1,0,x\n");
  EXPECT_EQ(convert(nullptr, bad_rating.c_str()), bad_rating + ":2: rating 'x' is not a number");
  const std::string unknown = File("e3.csv", "0,2\nu9,0\n");
  EXPECT_EQ(convert(nullptr, unknown.c_str()),
            unknown + ":2: user 'u9' is in none of the interaction files (a random test or "
                      "exposure file may only name their users and items)");
  const std::string missing = dir_ + "/missing.csv";
  EXPECT_EQ(convert(missing.c_str(), nullptr), missing + ": no such file");
  // Other formats have no side files.
  File("lg/train.txt", "0 1\n");
  File("lg/test.txt", "0 2\n");
  ConvertOptions options;
  options.test_random_file = unknown_user;
  Dataset data;
  EXPECT_NE(InputError(recns::ConvertLightGcn(dir_ + "/lg", options, &data)).find("CSV input only"),
            std::string::npos);
}

// --- the real datasets -------------------------------------------------------------------------

TEST_F(convert_test, MovieLens100kCsvSplit) {
  RECNS_REQUIRE_SHARED_DATA(train, "ml-100k/train.csv");
  RECNS_REQUIRE_SHARED_DATA(test, "ml-100k/test.csv");
  ConvertOptions options;
  options.name = "ml-100k";
  Dataset data;
  ASSERT_EQ(recns::ConvertCsvFiles(train, "", test, options, &data), PETSC_SUCCESS);
  const Dataset read = RoundTrip(data);
  EXPECT_EQ(read.num_users, 943);
  EXPECT_EQ(read.num_items, 1682);  // 35 of them occur only in test.csv
  EXPECT_EQ(read.train.Nnz(), 80000);
  EXPECT_EQ(read.test.Nnz(), 20000);
  EXPECT_FALSE(read.valid.Present());
  for (int64_t item = 0; item < read.num_items; ++item)
    ASSERT_EQ(read.item_raw_ids[item], std::to_string(item));  // 0-based ids keep their values
  EXPECT_EQ(std::set<int32_t>(read.train.indices.begin(), read.train.indices.end()).size(), 1647u);
}

TEST_F(convert_test, YahooR3WithRandomTestSplit) {
  RECNS_REQUIRE_SHARED_DATA(user, "yahoo-r3/user.txt");
  RECNS_REQUIRE_SHARED_DATA(random, "yahoo-r3/random.txt");
  ConvertOptions options;
  options.name = "yahoo-r3";
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  options.valid_fraction = 0.1;
  options.test_fraction = 0.1;
  options.split_seed = 2024;
  Dataset alone, data;
  ASSERT_EQ(recns::ConvertCsvSingle(user, options, &alone), PETSC_SUCCESS);
  options.test_random_file = random;
  ASSERT_EQ(recns::ConvertCsvSingle(user, options, &data), PETSC_SUCCESS);
  const Dataset read = RoundTrip(data);
  EXPECT_EQ(read.num_users, 15400);
  EXPECT_EQ(read.num_items, 1000);
  EXPECT_EQ(read.train.Nnz() + read.valid.Nnz() + read.test.Nnz(), 48480 + 76597);  // 4 and 5
  EXPECT_EQ(read.exposure.Nnz(), 97844 + 39652);                                    // 1 and 2
  // random.txt rates no pair of user.txt, so every one of its ratings >= 4 is kept.
  EXPECT_EQ(read.test_random.Nnz(), 4749);
  for (auto part : {&Dataset::train, &Dataset::valid, &Dataset::test, &Dataset::exposure})
    EXPECT_EQ((read.*part).indices, (alone.*part).indices);
  EXPECT_EQ(read.train.Nnz(), 100345);
  EXPECT_EQ(read.valid.Nnz(), 12358);
  EXPECT_EQ(read.test.Nnz(), 12374);
}

TEST_F(convert_test, LastFmLightGcn) {
  RECNS_REQUIRE_SHARED_DATA(folder, "lastfm");
  Dataset data;
  ASSERT_EQ(recns::ConvertLightGcn(folder, ConvertOptions(), &data), PETSC_SUCCESS);
  EXPECT_EQ(data.num_users, 1885);
  EXPECT_EQ(data.num_items, 17388);
  EXPECT_EQ(data.train.Nnz(), 64315);
  EXPECT_EQ(data.valid.Nnz(), 9143);
  EXPECT_EQ(data.test.Nnz(), 18321);
  // Users without held-out items have no line in valid.txt / test.txt, and 3,415 items occur
  // only in valid or test (ids cover 0..17387, but train uses 13,973 of them).
  const auto users_with_items = [](const Csr& csr) {
    int64_t users = 0;
    for (int64_t u = 0; u < csr.Rows(); ++u) users += csr.indptr[u + 1] > csr.indptr[u];
    return users;
  };
  EXPECT_EQ(users_with_items(data.train), 1885);
  EXPECT_EQ(users_with_items(data.valid), 1854);
  EXPECT_EQ(users_with_items(data.test), 1863);
  EXPECT_EQ(std::set<int32_t>(data.train.indices.begin(), data.train.indices.end()).size(), 13973u);
}

TEST_F(convert_test, MovieLens100kRecBole) {
  RECNS_REQUIRE_SHARED_DATA(path, "ml-100k/ml-100k.inter");
  ConvertOptions options;
  options.valid_fraction = 0.1;
  options.test_fraction = 0.2;
  options.split_seed = 2024;
  Dataset data;
  ASSERT_EQ(recns::ConvertRecBole(path, options, &data), PETSC_SUCCESS);
  EXPECT_EQ(data.num_users, 943);
  EXPECT_EQ(data.num_items, 1682);
  EXPECT_EQ(data.train.Nnz() + data.valid.Nnz() + data.test.Nnz(), 100000);
  EXPECT_NEAR(static_cast<double>(data.test.Nnz()), 20000.0, 300.0);
  EXPECT_EQ(data.user_raw_ids.front(), "1");  // 1-based raw ids, numeric order
  EXPECT_EQ(data.user_raw_ids.back(), "943");
  options.rating_threshold = 4;
  options.exposure_threshold = 2;
  ASSERT_EQ(recns::ConvertRecBole(path, options, &data), PETSC_SUCCESS);
  EXPECT_EQ(data.train.Nnz() + data.valid.Nnz() + data.test.Nnz(), 21201 + 34174);  // 5 and 4
  EXPECT_EQ(data.exposure.Nnz(), 6110 + 11370);                                     // 1 and 2
}

}  // namespace
