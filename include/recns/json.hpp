// A small JSON writer for run summaries, and an atomic file write.
#pragma once

#include <petscsys.h>

#include "recns/error.hpp"

#include <string>
#include <vector>

namespace recns {

/// Builds one JSON object, member by member, indented two spaces per level. Numbers are written
/// with 17 significant digits (they read back bit for bit); NaN and infinities, which JSON cannot
/// represent, are written as null. Keys are not checked for uniqueness. Not collective.
///
///   JsonWriter json;
///   json.Number("epoch", 12);
///   json.BeginObject("valid");
///   json.Number("recall@20", 0.1824);
///   json.EndObject();
///   std::string text;
///   PetscCall(json.Finish(&text));
class JsonWriter {
 public:
  JsonWriter();
  void Number(const std::string& key, double value);
  void String(const std::string& key, const std::string& value);
  void Bool(const std::string& key, bool value);
  void Numbers(const std::string& key, const std::vector<double>& values);
  /// Opens a nested object; members added until the matching EndObject go into it.
  void BeginObject(const std::string& key);
  void EndObject();
  /// The document, ending with a newline. Fails with PETSC_ERR_ORDER when a nested object is
  /// still open or EndObject was called once too often. The writer is left unchanged.
  PetscErrorCode Finish(std::string* text) const;

 private:
  void Key(const std::string& key);
  std::string text_;
  std::vector<bool> has_members_;  ///< one entry per open object, the outermost first
  bool unbalanced_ = false;        ///< EndObject was called on the outermost object
};

/// Not collective. Writes `text` to "<path>.tmp.<pid>" and renames it to `path`, so readers never
/// see a partial file. Fails with PETSC_ERR_FILE_WRITE, naming the file and the system's reason,
/// and leaves no temporary file behind.
PetscErrorCode WriteFileAtomically(const std::string& path, const std::string& text);

/// Not collective. Fails as WriteFileAtomically(path, ...) would for want of a place to write
/// (no folder, no permission, `path` a directory), by creating its temporary file and removing it:
/// a run checks its output paths before it spends hours on the work they would receive.
PetscErrorCode CheckWritableAtomically(const std::string& path);

}  // namespace recns
