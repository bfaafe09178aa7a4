#include "args.h"

#include <cmath>
#include <string>

#include "errors.h"

namespace daxfs {
namespace {

std::string Describe(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return "an object";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    case napi_external: return "an external";
    default: return "a number";
  }
}

[[noreturn]] void Invalid(Napi::Env env, const char* name, const std::string& why) {
  ThrowCode(env, "EINVAL", std::string(name) + " " + why);
}

}  // namespace

void ThrowBadIndex(Napi::Env env, double d, const char* name) {
  if (std::isnan(d)) Invalid(env, name, "must be a non-negative integer, got NaN");
  if (std::isinf(d)) Invalid(env, name, "must be a non-negative integer, got Infinity");
  if (d < 0) Invalid(env, name, "must be a non-negative integer, got " + std::to_string(d));
  if (d != std::trunc(d)) Invalid(env, name, "must be an integer, got " + std::to_string(d));
  Invalid(env, name, "must be at most 2^53-1, got " + std::to_string(d));
}

uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];  // undefined when missing
  if (!value.IsNumber())
    Invalid(env, name, "must be a non-negative integer, got " + Describe(value));
  return CheckIndex(env, value.As<Napi::Number>().DoubleValue(), name);
}

int64_t ArgOptionalIndex(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info[index].IsUndefined()) return -1;
  return static_cast<int64_t>(ArgIndex(info, index, name));
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* name, bool fallback) {
  Napi::Value value = info[index];
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) Invalid(info.Env(), name, "must be a boolean, got " + Describe(value));
  return value.As<Napi::Boolean>().Value();
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (value.IsBigInt()) {
    int sign = 0;
    size_t count = 2;
    uint64_t words[2] = {0, 0};
    napi_status status =
        napi_get_value_bigint_words(env, value, &sign, &count, words);
    if (status != napi_ok) Invalid(env, name, "could not be read as a bigint");
    if (sign != 0 && (words[0] != 0 || count > 1))
      Invalid(env, name, "must be a non-negative 64-bit value, got a negative bigint");
    if (count > 1 && words[1] != 0)
      Invalid(env, name, "must fit in 64 bits (0 ..= 2^64-1)");
    return words[0];
  }
  if (value.IsNumber()) return CheckIndex(env, value.As<Napi::Number>().DoubleValue(), name);
  Invalid(env, name, "must be a bigint or a non-negative integer, got " + Describe(value));
}

ByteSpan ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return BytesOf(info.Env(), info[index], name);
}

ByteSpan BytesOf(Napi::Env env, napi_value value, const char* name) {
  bool is = false;
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  size_t elements = 0;
  napi_value buffer;
  size_t byte_offset = 0;
  // The hot path first, without asking: napi_get_buffer_info answers for
  // Buffers and Uint8Arrays (and, in Node, any ArrayBufferView) with the byte
  // length, at about half the cost of napi_get_typedarray_info, and fails
  // cleanly (napi_invalid_arg) for anything it does not take.
  if (napi_get_buffer_info(env, value, &data, &length) == napi_ok)
    return ByteSpan{static_cast<uint8_t*>(data), data == nullptr ? 0 : length};
  if (napi_get_typedarray_info(env, value, &type, &elements, &data, &buffer, &byte_offset) ==
      napi_ok) {
    size_t element_size = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: element_size = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: element_size = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: element_size = 8; break;
      default: break;
    }
    length = elements * element_size;
  } else if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    napi_get_dataview_info(env, value, &length, &data, &buffer, &byte_offset);
  } else if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    napi_get_arraybuffer_info(env, value, &data, &length);
  } else {
    Invalid(env, name, "must be a Buffer, TypedArray, DataView or ArrayBuffer, got " +
                           Describe(Napi::Value(env, value)));
  }
  // A detached buffer reports length 0 and may report a null data pointer.
  return ByteSpan{static_cast<uint8_t*>(data), data == nullptr ? 0 : length};
}

void ThrowBadRange(Napi::Env env, uint64_t offset, uint64_t length, uint64_t limit,
                   const char* offset_name, const char* length_name, const char* what) {
  ThrowCode(env, "ERANGE",
            std::string(offset_name) + " " + std::to_string(offset) + " + " + length_name + " " +
                std::to_string(length) + " is past the end of the " + what + " (" +
                std::to_string(limit) + " bytes)");
}

void CheckAligned(Napi::Env env, uint64_t value, uint64_t unit, const char* name) {
  if (value & (unit - 1)) {
    ThrowCode(env, "EINVAL", std::string(name) + " " + std::to_string(value) +
                                 " must be a multiple of " + std::to_string(unit));
  }
}

Napi::Object NumbersObject(Napi::Env env,
                           std::initializer_list<std::pair<const char*, uint64_t>> fields) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [key, value] : fields) o.Set(key, Napi::Number::New(env, static_cast<double>(value)));
  return o;
}

}  // namespace daxfs
