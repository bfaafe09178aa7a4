#include "errors.h"

#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include "addon_data.h"
#include "args.h"

namespace daxfs {
namespace {

// Errno names as Node prints them (util.getSystemErrorName, then
// os.constants.errno), handed over by the TypeScript layer at load time, so
// that the addon uses exactly the system table Node uses without depending on
// anything outside Node-API. Shared by every thread; read only on error paths.
std::mutex errno_names_mutex;
std::vector<std::string> errno_names;

// Makes the error object: new DaxfsError(code, message, details) when the
// class was handed over, a plain Error with the same fields otherwise.
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message,
                      Napi::Value details) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->error_class.IsEmpty()) {
    Napi::Object error = data->error_class.New(
        {Napi::String::New(env, code), Napi::String::New(env, message), details});
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object value = error.Value();
  value.Set("code", Napi::String::New(env, code));
  if (details.IsObject()) {
    Napi::Object d = details.As<Napi::Object>();
    for (const char* key : {"errno", "syscall", "path"})
      if (d.Has(key)) value.Set(key, d.Get(key));
  }
  return error;
}

}  // namespace

std::string ErrnoName(int err) {
  {
    std::lock_guard<std::mutex> lock(errno_names_mutex);
    if (err > 0 && static_cast<size_t>(err) < errno_names.size() && !errno_names[err].empty())
      return errno_names[err];
  }
  // Not in Node's tables (or not handed over yet): the C library's name.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* libc = strerrorname_np(err)) return libc;
#endif
  return "E" + std::to_string(err);
}

void ThrowCode(Napi::Env env, const char* code, const std::string& message) {
  throw MakeError(env, code, message, env.Undefined());
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail,
                const std::string& path) {
  // The message leaves the code out: the error carries it in `code`.
  std::string message = std::string(std::strerror(err)) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  if (!detail.empty()) message += " (" + detail + ")";
  Napi::Object details = Napi::Object::New(env);
  details.Set("errno", Napi::Number::New(env, -err));
  details.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) details.Set("path", Napi::String::New(env, path));
  std::string code = ErrnoName(err);
  throw MakeError(env, code.c_str(), message, details);
}

void ThrowSystemCondition(Napi::Env env, int err, const std::string& message,
                          const std::string& path) {
  Napi::Object details = Napi::Object::New(env);
  details.Set("errno", Napi::Number::New(env, -err));
  if (!path.empty()) details.Set("path", Napi::String::New(env, path));
  std::string code = ErrnoName(err);
  throw MakeError(env, code.c_str(), message, details);
}

void SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction())
    ThrowCode(env, "EINVAL", "errorClass must be a constructor");
  env.GetInstanceData<AddonData>()->error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

void SetErrnoNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) ThrowCode(env, "EINVAL", "names must be an array");
  Napi::Array array = info[0].As<Napi::Array>();
  if (array.Length() > 65536) ThrowCode(env, "EINVAL", "names must hold at most 65536 entries");
  std::vector<std::string> names(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    if (v.IsString()) names[i] = v.As<Napi::String>().Utf8Value();
    else if (!v.IsUndefined() && !v.IsNull())
      ThrowCode(env, "EINVAL", "names[" + std::to_string(i) + "] must be a string or absent");
  }
  std::lock_guard<std::mutex> lock(errno_names_mutex);
  errno_names = std::move(names);
}

Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  uint64_t err = ArgIndex(info, 0, "errno");
  if (err == 0 || err > INT_MAX)
    ThrowCode(info.Env(), "ERANGE",
              "errno must be from 1 to " + std::to_string(INT_MAX) + ", got " + std::to_string(err));
  return Napi::String::New(info.Env(), ErrnoName(static_cast<int>(err)));
}

}  // namespace daxfs
