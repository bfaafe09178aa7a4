// Typed errors thrown into JS: every error carries `code` (an errno-style
// name) and a message that names the argument or the system call at fault.
#pragma once

#include <napi.h>

#include <string>

namespace daxfs {

// Throws an Error whose `code` is `code`. Never returns.
[[noreturn]] void ThrowCode(Napi::Env env, const char* code, const std::string& message);

// Throws an Error for a failed system call: `code` is the errno name,
// `errno` and `syscall` are set, `path` too when one is given.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const std::string& detail, const std::string& path = "");

// The errno name ("ENOENT") for an errno value, or "EUNKNOWN".
const char* ErrnoName(int err);

}  // namespace daxfs
