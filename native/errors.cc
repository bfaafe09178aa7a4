#include "errors.h"

#include <cerrno>
#include <cstring>

namespace daxfs {

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENXIO: return "ENXIO";
    case EAGAIN: return "EAGAIN";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "EUNKNOWN";
  }
}

void ThrowCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", Napi::String::New(env, code));
  throw error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail,
                const std::string& path) {
  std::string message = std::string(ErrnoName(err)) + ": " + std::strerror(err) + ", " +
                        syscall;
  if (!path.empty()) message += " '" + path + "'";
  if (!detail.empty()) message += " (" + detail + ")";
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object value = error.Value();
  value.Set("code", Napi::String::New(env, ErrnoName(err)));
  value.Set("errno", Napi::Number::New(env, -err));
  value.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) value.Set("path", Napi::String::New(env, path));
  throw error;
}

}  // namespace daxfs
