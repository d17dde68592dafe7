// JSON output for run summaries (RFC 8259): escaping, full-precision numbers, atomic writes.
#include "recns/json.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "recns/error.hpp"

namespace recns {

namespace {

void AppendEscaped(const std::string& value, std::string* out) {
  out->push_back('"');
  for (const char c : value) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          *out += escaped;
        } else {
          out->push_back(c);  // bytes of multi-byte UTF-8 pass through unchanged
        }
    }
  }
  out->push_back('"');
}

void AppendNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    *out += "null";
    return;
  }
  char number[32];
  std::snprintf(number, sizeof number, "%.17g", value);
  *out += number;
}

}  // namespace

// --- JsonWriter ---------------------------------------------------------------------------------

JsonWriter::JsonWriter() : text_("{"), has_members_{false} {}

void JsonWriter::Key(const std::string& key) {
  if (has_members_.back()) text_ += ",";
  has_members_.back() = true;
  text_ += "\n";
  text_.append(2 * has_members_.size(), ' ');
  AppendEscaped(key, &text_);
  text_ += ": ";
}

void JsonWriter::Number(const std::string& key, double value) {
  Key(key);
  AppendNumber(value, &text_);
}

void JsonWriter::String(const std::string& key, const std::string& value) {
  Key(key);
  AppendEscaped(value, &text_);
}

void JsonWriter::Bool(const std::string& key, bool value) {
  Key(key);
  text_ += value ? "true" : "false";
}

void JsonWriter::Numbers(const std::string& key, const std::vector<double>& values) {
  Key(key);
  text_ += "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text_ += ", ";
    AppendNumber(values[i], &text_);
  }
  text_ += "]";
}

void JsonWriter::BeginObject(const std::string& key) {
  Key(key);
  text_ += "{";
  has_members_.push_back(false);
}

void JsonWriter::EndObject() {
  if (has_members_.size() == 1) {
    unbalanced_ = true;
    return;
  }
  const bool had_members = has_members_.back();
  has_members_.pop_back();
  if (had_members) {
    text_ += "\n";
    text_.append(2 * has_members_.size(), ' ');
  }
  text_ += "}";
}

PetscErrorCode JsonWriter::Finish(std::string* text) const {
  PetscFunctionBeginUser;
  PetscCheck(!unbalanced_ && has_members_.size() == 1, PETSC_COMM_SELF, PETSC_ERR_ORDER,
             "JSON document unbalanced: %s",
             unbalanced_ ? "EndObject without BeginObject" : "BeginObject without EndObject");
  *text = text_ + (has_members_.back() ? "\n}\n" : "}\n");
  PetscFunctionReturn(PETSC_SUCCESS);
}

// --- WriteFileAtomically ------------------------------------------------------------------------

namespace {
std::string TemporaryFor(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long>(getpid()));
}
}  // namespace

PetscErrorCode CheckWritableAtomically(const std::string& path) {
  const std::string temporary = TemporaryFor(path);
  PetscFunctionBeginUser;
  struct stat status;
  PetscCheck(stat(path.c_str(), &status) != 0 || !S_ISDIR(status.st_mode), PETSC_COMM_SELF,
             PETSC_ERR_FILE_WRITE, "cannot write '%s': it is a directory", path.c_str());
  FILE* file = std::fopen(temporary.c_str(), "wb");
  PetscCheck(file, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s", path.c_str(),
             std::strerror(errno));
  std::fclose(file);
  std::remove(temporary.c_str());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = TemporaryFor(path);
  PetscFunctionBeginUser;
  FILE* file = std::fopen(temporary.c_str(), "wb");
  PetscCheck(file, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s", path.c_str(),
             std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  int error = written ? 0 : (errno != 0 ? errno : EIO);
  // fclose flushes, so a full disk may only show here.
  if (std::fclose(file) != 0 && error == 0) error = errno;
  if (written && error == 0 && std::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) std::remove(temporary.c_str());
  PetscCheck(error == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s",
             path.c_str(), std::strerror(error));
  PetscFunctionReturn(PETSC_SUCCESS);
}

}  // namespace recns
