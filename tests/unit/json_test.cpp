// The JSON writer and the atomic file write.
#include "recns/json.hpp"

#include <gtest/gtest.h>
#include <petscsys.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "../test_util.hpp"
#include "recns/error.hpp"

namespace recns {
namespace {

std::string Finished(const JsonWriter& json) {
  std::string text;
  EXPECT_EQ(json.Finish(&text), PETSC_SUCCESS);
  return text;
}

TEST(json_test, EscapesStringsAndKeys) {
  JsonWriter json;
  json.String("quote\"back\\slash", "tab\tnew\nline\r\b\f \x01 \x1f caf\xc3\xa9 /");
  EXPECT_EQ(Finished(json),
            "{\n  \"quote\\\"back\\\\slash\": "
            "\"tab\\tnew\\nline\\r\\b\\f \\u0001 \\u001f caf\xc3\xa9 /\"\n}\n");
}

TEST(json_test, NestsObjectsAndWritesEveryKind) {
  JsonWriter json;
  json.String("sampler", "hard");
  json.BeginObject("valid");
  json.Number("recall@20", 0.125);
  json.BeginObject("empty");
  json.EndObject();
  json.Bool("best", true);
  json.EndObject();
  json.Numbers("loss", {0.5, 0.25, -2});
  json.Numbers("none", {});
  json.Bool("restarted", false);
  EXPECT_EQ(Finished(json),
            "{\n"
            "  \"sampler\": \"hard\",\n"
            "  \"valid\": {\n"
            "    \"recall@20\": 0.125,\n"
            "    \"empty\": {},\n"
            "    \"best\": true\n"
            "  },\n"
            "  \"loss\": [0.5, 0.25, -2],\n"
            "  \"none\": [],\n"
            "  \"restarted\": false\n"
            "}\n");
  EXPECT_EQ(Finished(JsonWriter()), "{}\n");
}

TEST(json_test, NumbersKeepFullPrecisionAndNonFiniteIsNull) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  JsonWriter json;
  json.Number("tenth", 0.1);
  json.Number("big", 12345678901234567.0);
  json.Number("nan", nan);
  json.Numbers("mixed", {1, -inf, inf, nan, 1.0 / 3.0});
  EXPECT_EQ(Finished(json),
            "{\n"
            "  \"tenth\": 0.10000000000000001,\n"
            "  \"big\": 12345678901234568,\n"
            "  \"nan\": null,\n"
            "  \"mixed\": [1, null, null, null, 0.33333333333333331]\n"
            "}\n");
  // Read back, the digits give the same doubles.
  EXPECT_EQ(std::strtod("0.10000000000000001", nullptr), 0.1);
  EXPECT_EQ(std::strtod("0.33333333333333331", nullptr), 1.0 / 3.0);
}

TEST(json_test, FinishRejectsUnbalancedObjects) {
  std::string text;
  JsonWriter open;
  open.BeginObject("left_open");
  EXPECT_EQ(open.Finish(&text), PETSC_ERR_ORDER);
  JsonWriter closed;
  closed.EndObject();
  EXPECT_EQ(closed.Finish(&text), PETSC_ERR_ORDER);
}

TEST(json_test, AtomicWriteLeavesNoTemporaryFile) {
  const std::string dir = test::ScratchDir(PETSC_COMM_WORLD, "json");
  const std::string path = dir + "/summary.json";
  JsonWriter json;
  json.String("text", "line\n\"quoted\"\t\x02");
  json.BeginObject("test");
  json.Numbers("ndcg@k", {0.25, std::numeric_limits<double>::quiet_NaN()});
  json.EndObject();
  std::string text;
  ASSERT_EQ(json.Finish(&text), PETSC_SUCCESS);
  ASSERT_EQ(WriteFileAtomically(path, "old contents"), PETSC_SUCCESS);
  ASSERT_EQ(WriteFileAtomically(path, text), PETSC_SUCCESS);

  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), text);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "summary.json");
    ++files;
  }
  EXPECT_EQ(files, 1);

  struct stat st;
  if (stat("/usr/bin/python3", &st) == 0) {
    const std::string check =
        "/usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' " + path;
    EXPECT_EQ(std::system(check.c_str()), 0) << text;
  }
  std::filesystem::remove_all(dir);
}

TEST(json_test, AtomicWriteNamesTheFileItCannotWrite) {
  const std::string path = "/nonexistent-recns-folder/summary.json";
  const PetscErrorCode code = WriteFileAtomically(path, "{}\n");
  EXPECT_EQ(code, PETSC_ERR_FILE_WRITE);
  char* message = nullptr;
  PetscErrorMessage(code, nullptr, &message);
  ASSERT_NE(message, nullptr);
  EXPECT_NE(std::string(message).find("cannot write '" + path + "'"), std::string::npos) << message;
}

}  // namespace
}  // namespace recns
