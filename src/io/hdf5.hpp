// HDF5 helpers shared by the recns file formats (dataset, metrics, checkpoint), so that every file
// stores its string attributes the same way (variable-length UTF-8, read by h5py as str) and every
// reader accepts what h5py and earlier recns builds wrote (fixed-length or ASCII strings too).
//
// Nothing here raises an error. Readers return a status and writers a negative herr_t on failure,
// because the callers report problems differently: the dataset reader turns them into messages
// checked on every rank, the metrics log into PetscErrorCode on rank 0.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace recns::h5 {

/// Owns one HDF5 identifier and closes it with the matching H5?close on every path.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  /// Takes a failed call's negative id too, so a call can be wrapped first and checked after.
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      Close();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { Close(); }

  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  /// Closes now; the status matters for files and datasets, whose close flushes the data.
  herr_t Close() { return id_ >= 0 ? closer_(std::exchange(id_, H5I_INVALID_HID)) : 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// The variable-length UTF-8 string type; not ok() when HDF5 fails.
Handle Utf8StringType();

/// Creates scalar attribute `name` of `object` as a variable-length UTF-8 string.
herr_t WriteStringAttribute(hid_t object, const char* name, const std::string& value);

/// Creates scalar attribute `name` of `object`, stored as the integer type `stored_type`
/// (H5T_STD_I32LE, H5T_STD_I64LE, ...), which is part of each file format.
herr_t WriteIntAttribute(hid_t object, const char* name, hid_t stored_type, int64_t value);

/// Outcome of reading a single-valued attribute.
enum class AttributeStatus {
  kOk,
  kMissing,     ///< `object` has no attribute of that name
  kNotSingle,   ///< it holds more or fewer than one value
  kWrongClass,  ///< it is not a string (an integer) as asked
  kFailed,      ///< an HDF5 call failed: a damaged file or a library problem
};

/// Reads a string attribute of any length kind and character set; `value` is set only on kOk.
AttributeStatus ReadStringAttribute(hid_t object, const char* name, std::string* value);

/// Reads an integer attribute of any stored width, converted by HDF5; `value` is set only on kOk.
AttributeStatus ReadIntAttribute(hid_t object, const char* name, int64_t* value);

/// Reads every element of a string dataset of any length kind and character set; false when HDF5
/// fails or the elements are not strings.
bool ReadStringDataset(hid_t dataset, std::vector<std::string>* values);

/// Why the HDF5 write just made to the file `path` failed ("no space left on device"), which HDF5
/// does not say: errno when the write set it (set errno to 0 before it), else "no space left on
/// device" when the file's file system is full (MPI-IO reports a short write on a full disk as a
/// plain failure, errno untouched), else "input/output error".
std::string WriteErrorText(const std::string& path);

/// Whether `path` ("/train/indptr") exists below `location`, every group on the way included:
/// H5Lexists alone fails, rather than answering false, when an intermediate group is missing.
bool LinkExists(hid_t location, const std::string& path);

}  // namespace recns::h5
