// Argument checking at the JS/native boundary. Every offset and length that
// reaches native code passes through here first: no raw double is ever used
// as an address.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace daxfs {

constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// A non-negative safe integer (0 ..= 2^53-1) at argument `index`. Anything
// else (missing, not a number, NaN, +-Infinity, fractional, negative, too
// large) throws EINVAL naming `name`.
uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t index, const char* name);

// The error half of CheckIndex: throws EINVAL describing what `value` is.
[[noreturn]] void ThrowBadIndex(Napi::Env env, double value, const char* name);

// The same check for a number already read (from a fast-call argument block).
// Inline: it runs three to six times on every fast call, and the accepting
// test is two compares and a round trip through uint64_t (NaN fails the
// compares, fractions fail the round trip).
inline uint64_t CheckIndex(Napi::Env env, double value, const char* name) {
  if (value >= 0 && value <= static_cast<double>(kMaxSafeInteger)) {
    auto n = static_cast<uint64_t>(value);
    if (static_cast<double>(n) == value) return n;
  }
  ThrowBadIndex(env, value, name);
}

// Like ArgIndex, but a missing or undefined argument is accepted and
// returned as -1 (absent).
int64_t ArgOptionalIndex(const Napi::CallbackInfo& info, size_t index, const char* name);

// A boolean (missing or undefined → `fallback`); anything else → EINVAL.
bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name, bool fallback);

// A 64-bit unsigned value from a BigInt (0 ..= 2^64-1) or a safe non-negative
// integer Number.
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t index, const char* name);

// Bytes of an ArrayBuffer, TypedArray, DataView or Buffer at `index`.
struct ByteSpan {
  uint8_t* data;
  size_t length;
};
ByteSpan ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name);
ByteSpan BytesOf(Napi::Env env, napi_value value, const char* name);

// The error half of CheckRange.
[[noreturn]] void ThrowBadRange(Napi::Env env, uint64_t offset, uint64_t length, uint64_t limit,
                                const char* offset_name, const char* length_name,
                                const char* what);

// Throws ERANGE unless [offset, offset + length) lies inside [0, limit).
// Written so that offset + length cannot overflow.
inline void CheckRange(Napi::Env env, uint64_t offset, uint64_t length, uint64_t limit,
                       const char* offset_name, const char* length_name, const char* what) {
  if (offset > limit || length > limit - offset)
    ThrowBadRange(env, offset, length, limit, offset_name, length_name, what);
}

// Throws EINVAL unless `value` is a multiple of `unit` (a power of two).
void CheckAligned(Napi::Env env, uint64_t value, uint64_t unit, const char* name);

// A plain object of numbers, for statistics.
Napi::Object NumbersObject(Napi::Env env,
                           std::initializer_list<std::pair<const char*, uint64_t>> fields);

}  // namespace daxfs
