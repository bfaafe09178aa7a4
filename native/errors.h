// Typed errors thrown into JS: every error carries `code` and a message that
// names the argument or the system call at fault. The TypeScript layer hands
// its DaxfsError class over at load time (setErrorClass), so errors made here
// are instances of it; without it they are plain Errors with the same fields.
#pragma once

#include <napi.h>

#include <string>

namespace daxfs {

// Throws a DaxfsError whose `code` is `code`. Never returns.
[[noreturn]] void ThrowCode(Napi::Env env, const char* code, const std::string& message);

// Throws a DaxfsError for a failed system call: `code` is the errno name,
// `errno` (negative, as Node's) and `syscall` are set, `path` too when given.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const std::string& detail, const std::string& path = "");

// Throws a DaxfsError for a condition of the system that no system call
// reported (a fault of a region's backing): `code` is the errno name,
// `errno` and `path` are set, `syscall` is not.
[[noreturn]] void ThrowSystemCondition(Napi::Env env, int err, const std::string& message,
                                       const std::string& path);

// The name of an errno value as Node prints it ("ENOENT", "ENOTSUP"): the
// table handed over by setErrnoNames first, then the C library's own;
// "E" and the number only for a value neither names.
std::string ErrnoName(int err);

// setErrorClass(DaxfsError): the constructor every thrown error is made with.
void SetErrorClass(const Napi::CallbackInfo& info);

// setErrnoNames(names): names[n] is the name of errno n, as Node prints it.
void SetErrnoNames(const Napi::CallbackInfo& info);

// errnoName(errno): ErrnoName for a positive errno value.
Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info);

}  // namespace daxfs
