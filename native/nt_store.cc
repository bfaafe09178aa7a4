#include "nt_store.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu_persist.h"

namespace daxfs {
namespace {

// Splits [dst, dst + length) into a head up to the next cache-line boundary,
// a body of whole lines and a tail.
void Split(const void* dst, size_t length, size_t* head, size_t* body, size_t* tail) {
  uintptr_t p = reinterpret_cast<uintptr_t>(dst);
  size_t to_boundary = (kCacheLine - (p & (kCacheLine - 1))) & (kCacheLine - 1);
  if (to_boundary >= length) {
    *head = length;
    *body = 0;
    *tail = 0;
    return;
  }
  *head = to_boundary;
  *body = (length - to_boundary) & ~(kCacheLine - 1);
  *tail = length - to_boundary - *body;
}

#if defined(__x86_64__)
// 32-byte streaming stores where the CPU has AVX2: measurably faster than
// 16-byte ones for 4 KiB blocks (about 420 vs 450-490 ns on the development
// machine), and the same cache-line granularity.
__attribute__((target("avx2"))) void StreamLinesAvx2(uint8_t* d, const uint8_t* s, size_t body) {
  for (size_t i = 0; i < body; i += kCacheLine) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 32));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + 32), b);
  }
}

void StreamLinesSse2(uint8_t* d, const uint8_t* s, size_t body) {
  for (size_t i = 0; i < body; i += kCacheLine) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
  }
}

const bool kHasAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

void NtCopy(void* dst, const void* src, size_t length, size_t* head, size_t* tail) {
  size_t body = 0;
  Split(dst, length, head, &body, tail);
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  std::memcpy(d, s, *head);
  d += *head;
  s += *head;
#if defined(__x86_64__)
  if (kHasAvx2) {
    StreamLinesAvx2(d, s, body);
  } else {
    StreamLinesSse2(d, s, body);
  }
#else
  // No streaming stores on this architecture: everything after the head is
  // written normally and reported as tail, so the caller flushes all of it.
  std::memcpy(d, s, length - *head);
  *tail = length - *head;
  return;
#endif
  std::memcpy(d + body, s + body, length - *head - body);
}

bool NtCopyWords(void* dst, const void* src, size_t length) {
#if defined(__x86_64__)
  if ((reinterpret_cast<uintptr_t>(dst) & 7) != 0 || (length & 7) != 0) return false;
  size_t head = 0, body = 0, tail = 0;
  Split(dst, length, &head, &body, &tail);
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  auto words = [](uint8_t* to, const uint8_t* from, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      long long w;
      std::memcpy(&w, from + i, 8);
      _mm_stream_si64(reinterpret_cast<long long*>(to + i), w);
    }
  };
  words(d, s, head);
  if (kHasAvx2) {
    StreamLinesAvx2(d + head, s + head, body);
  } else {
    StreamLinesSse2(d + head, s + head, body);
  }
  words(d + head + body, s + head + body, tail);
  return true;
#else
  (void)dst;
  (void)src;
  (void)length;
  return false;
#endif
}

bool NtStoreWord(void* dst, uint64_t value) {
#if defined(__x86_64__)
  if ((reinterpret_cast<uintptr_t>(dst) & 7) != 0) return false;
  _mm_stream_si64(static_cast<long long*>(dst), static_cast<long long>(value));
  return true;
#else
  (void)dst;
  (void)value;
  return false;
#endif
}

void NtZero(void* dst, size_t length, size_t* head, size_t* tail) {
  size_t body = 0;
  Split(dst, length, head, &body, tail);
  auto* d = static_cast<uint8_t*>(dst);
  std::memset(d, 0, *head);
  d += *head;
#if defined(__x86_64__)
  const __m128i zero = _mm_setzero_si128();
  for (size_t i = 0; i < body; i += kCacheLine) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), zero);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), zero);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), zero);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), zero);
  }
#else
  std::memset(d, 0, length - *head);
  *tail = length - *head;
  return;
#endif
  std::memset(d + body, 0, length - *head - body);
}

}  // namespace daxfs
