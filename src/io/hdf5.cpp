// HDF5 helpers shared by the recns file formats (see hdf5.hpp).
#include "io/hdf5.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace recns::h5 {
namespace {

/// Free space under which a failed write is put down to a full disk: less than a few HDF5 blocks.
constexpr unsigned long long kFullDiskBytes = 1 << 16;

/// Reads `count` strings, fixed- or variable-length, stored with `stored_type`, through
/// read(memory_type, buffer): attributes and datasets differ only in that call.
template <class ReadFn>
bool ReadStrings(hid_t stored_type, size_t count, ReadFn read, std::vector<std::string>* out) {
  out->clear();
  if (H5Tget_class(stored_type) != H5T_STRING) return false;
  const htri_t variable = H5Tis_variable_str(stored_type);
  if (variable < 0) return false;
  if (variable) {
    Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!memory_type.ok() || H5Tset_size(memory_type.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(memory_type.get(), H5Tget_cset(stored_type)) < 0)
      return false;
    std::vector<char*> pointers(count, nullptr);
    const bool ok = read(memory_type.get(), pointers.data()) >= 0;
    for (char* text : pointers) {
      if (ok) out->emplace_back(text ? text : "");
      H5free_memory(text);
    }
    return ok;
  }
  const size_t size = H5Tget_size(stored_type);
  Handle memory_type(H5Tcopy(stored_type), H5Tclose);
  std::vector<char> buffer(count * size);
  if (size == 0 || !memory_type.ok() || read(memory_type.get(), buffer.data()) < 0) return false;
  // A string that fills its whole fixed size has no terminating null.
  for (size_t k = 0; k < count; ++k) {
    const char* text = buffer.data() + k * size;
    out->emplace_back(text, strnlen(text, size));
  }
  return true;
}

/// Opens attribute `name` of `object` and its type, when it holds one value of class `wanted`.
AttributeStatus OpenSingleAttribute(hid_t object, const char* name, H5T_class_t wanted,
                                    Handle* attribute, Handle* type) {
  const htri_t exists = H5Aexists(object, name);
  if (exists <= 0) return exists == 0 ? AttributeStatus::kMissing : AttributeStatus::kFailed;
  *attribute = Handle(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attribute->ok()) return AttributeStatus::kFailed;
  const Handle space(H5Aget_space(attribute->get()), H5Sclose);
  const hssize_t points = space.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (points < 0) return AttributeStatus::kFailed;
  if (points != 1) return AttributeStatus::kNotSingle;
  *type = Handle(H5Aget_type(attribute->get()), H5Tclose);
  const H5T_class_t type_class = type->ok() ? H5Tget_class(type->get()) : H5T_NO_CLASS;
  if (type_class == H5T_NO_CLASS) return AttributeStatus::kFailed;
  return type_class == wanted ? AttributeStatus::kOk : AttributeStatus::kWrongClass;
}

Handle CreateScalarAttribute(hid_t object, const char* name, hid_t stored_type) {
  const Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.ok()) return Handle();
  return Handle(H5Acreate2(object, name, stored_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
}

}  // namespace

Handle Utf8StringType() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.ok() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    return Handle();
  return type;
}

herr_t WriteStringAttribute(hid_t object, const char* name, const std::string& value) {
  const Handle type = Utf8StringType();
  if (!type.ok()) return -1;
  const Handle attribute = CreateScalarAttribute(object, name, type.get());
  const char* text = value.c_str();
  return attribute.ok() ? H5Awrite(attribute.get(), type.get(), &text) : -1;
}

herr_t WriteIntAttribute(hid_t object, const char* name, hid_t stored_type, int64_t value) {
  const Handle attribute = CreateScalarAttribute(object, name, stored_type);
  return attribute.ok() ? H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value) : -1;
}

AttributeStatus ReadStringAttribute(hid_t object, const char* name, std::string* value) {
  Handle attribute, type;
  const AttributeStatus status = OpenSingleAttribute(object, name, H5T_STRING, &attribute, &type);
  if (status != AttributeStatus::kOk) return status;
  std::vector<std::string> values;
  const auto read = [&attribute](hid_t memory_type, void* buffer) {
    return H5Aread(attribute.get(), memory_type, buffer);
  };
  if (!ReadStrings(type.get(), 1, read, &values)) return AttributeStatus::kFailed;
  *value = std::move(values[0]);
  return AttributeStatus::kOk;
}

AttributeStatus ReadIntAttribute(hid_t object, const char* name, int64_t* value) {
  Handle attribute, type;
  const AttributeStatus status = OpenSingleAttribute(object, name, H5T_INTEGER, &attribute, &type);
  if (status != AttributeStatus::kOk) return status;
  int64_t read = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT64, &read) < 0) return AttributeStatus::kFailed;
  *value = read;
  return AttributeStatus::kOk;
}

bool ReadStringDataset(hid_t dataset, std::vector<std::string>* values) {
  const Handle type(H5Dget_type(dataset), H5Tclose);
  const Handle space(H5Dget_space(dataset), H5Sclose);
  const hssize_t count = space.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  const auto read = [dataset](hid_t memory_type, void* buffer) {
    return H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  return type.ok() && count >= 0 &&
         ReadStrings(type.get(), static_cast<size_t>(count), read, values);
}

std::string WriteErrorText(const std::string& path) {
  int error = errno;
  if (error == 0) {
    const size_t slash = path.rfind('/');
    struct statvfs space;
    // Root may write into the blocks reserved for it, which f_bavail leaves out.
    if (statvfs(slash == std::string::npos ? "." : path.substr(0, slash + 1).c_str(), &space) == 0)
      error = (geteuid() == 0 ? space.f_bfree : space.f_bavail) * space.f_frsize < kFullDiskBytes
                  ? ENOSPC
                  : EIO;
    else
      error = EIO;
  }
  std::string text = std::strerror(error);
  if (!text.empty()) text[0] = (char)std::tolower((unsigned char)text[0]);  // as our messages
  return text;
}

bool LinkExists(hid_t location, const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    if (H5Lexists(location, path.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

}  // namespace recns::h5
