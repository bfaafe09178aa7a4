#include "journal_commit.h"

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "backing_fault.h"
#include "crc32.h"
#include "errors.h"
#include "nt_store.h"
#include "page_state.h"
#include "region_io.h"

namespace daxfs {
namespace {

constexpr uint64_t kMagic = 0x4c4e4a5346584144ull;  // "DAXFSJNL"
constexpr uint64_t kHeaderBytes = 32;
constexpr uint64_t kCommitWord = 64;
constexpr uint64_t kRecordHead = 16;

uint64_t Padded(uint64_t length) { return (length + 7) & ~uint64_t{7}; }

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

struct Commit {
  ByteSpan staging;
  const double* list;
  uint64_t count;
  uint64_t header;
  uint64_t body;
  uint64_t body_bytes;
  uint64_t seq;
  int64_t backup;  // -1: none
  const double* seals;  // per record: -1, or the hole of its seal (null: no seals)
};

// A sealed record ends in a CRC-32 (zlib's) of its other bytes, with the 8
// bytes at the hole counted as zeros: an inode carries one over everything
// but its size word, which has a check of its own (lib/pool/inode.ts).
// Computed here, over the image, rather than by the caller: one native pass
// instead of a zlib call per record from JavaScript.
constexpr uint64_t kSealHole = 8;
constexpr uint64_t kSealBytes = 4;

int64_t SealOf(const Commit& t, uint64_t i) {
  return t.seals == nullptr || t.seals[i] < 0 ? -1 : static_cast<int64_t>(t.seals[i]);
}

void Seal(uint8_t* record, uint64_t length, uint64_t hole) {
  static const uint8_t zeros[kSealHole] = {};
  uint32_t crc = Crc32(0, record, hole);
  crc = Crc32(crc, zeros, kSealHole);
  crc = Crc32(crc, record + hole + kSealHole, length - kSealBytes - hole - kSealHole);
  Put32(record + length - kSealBytes, crc);
}

// Every offset and length, before anything is stored. Returns the body's size.
uint64_t Check(Napi::Env env, const RegionCore& c, const Commit& t) {
  if (t.count == 0) ThrowCode(env, "EINVAL", "count must be at least 1");
  if (t.count > 0xffffffffu) ThrowCode(env, "ERANGE", "count " + std::to_string(t.count) + " must be below 2^32");
  if (t.seq == 0) ThrowCode(env, "EINVAL", "seq must be at least 1 (0 is the clear commit word)");
  if (t.backup >= 0 && static_cast<uint64_t>(t.backup) >= t.count)
    ThrowCode(env, "ERANGE", "backupIndex " + std::to_string(t.backup) + " must be below count " + std::to_string(t.count));
  CheckAligned(env, t.header, 8, "headerOffset");
  CheckRange(env, t.header, kCommitWord + 8, c.size, "headerOffset", "header bytes", "region");
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < t.count; i++) {
    uint64_t target = CheckIndex(env, t.list[3 * i], "targetOffset");
    uint64_t from = CheckIndex(env, t.list[3 * i + 1], "sourceOffset");
    uint64_t length = CheckIndex(env, t.list[3 * i + 2], "length");
    CheckRange(env, from, length, t.staging.length, "sourceOffset", "length", "staging buffer");
    CheckRange(env, target, length, c.size, "targetOffset", "length", "region");
    std::string why;
    if (!CheckUserBuffer(t.staging.data + from, length, false, &why)) ThrowCode(env, "EFAULT", "staging: " + why);
    if (t.seals != nullptr && t.seals[i] != -1) {
      uint64_t hole = CheckIndex(env, t.seals[i], "seal");
      if (length < kSealHole + kSealBytes || hole > length - kSealHole - kSealBytes)
        ThrowCode(env, "ERANGE", "seal hole " + std::to_string(hole) + " + 8 bytes must lie before the last 4 of record " +
                                     std::to_string(i) + " (" + std::to_string(length) + " bytes)");
    }
    bytes += kRecordHead + Padded(length);  // each term is at most the region's size: no overflow
    if (bytes > c.size)
      ThrowCode(env, "ERANGE", "the records need a body of more than the region's " + std::to_string(c.size) + " bytes");
  }
  CheckRange(env, t.body, bytes, c.size, "bodyOffset", "body bytes", "region");
  if (bytes > 0xffffffffu) ThrowCode(env, "ERANGE", "a body of " + std::to_string(bytes) + " bytes must be below 2^32");
  if (t.body < t.header + kCommitWord + 8 && t.header < t.body + bytes)
    ThrowCode(env, "EINVAL", "the body [" + std::to_string(t.body) + ", " + std::to_string(t.body + bytes) +
                                 ") overlaps the header at " + std::to_string(t.header));
  return bytes;
}

// The body and header as they go to media, in `image` (body, then header).
// Reads the staging buffer: runs guarded.
void Build(const Commit& t, uint8_t* image) {
  uint64_t at = 0;
  for (uint64_t i = 0; i < t.count; i++) {
    auto length = static_cast<uint64_t>(t.list[3 * i + 2]);
    Put64(image + at, static_cast<uint64_t>(t.list[3 * i]));
    Put32(image + at + 8, static_cast<uint32_t>(length));
    Put32(image + at + 12, 0);
    std::memcpy(image + at + kRecordHead, t.staging.data + static_cast<uint64_t>(t.list[3 * i + 1]), length);
    std::memset(image + at + kRecordHead + length, 0, Padded(length) - length);
    if (int64_t hole = SealOf(t, i); hole >= 0) Seal(image + at + kRecordHead, length, static_cast<uint64_t>(hole));
    at += kRecordHead + Padded(length);
  }
  uint8_t* h = image + t.body_bytes;
  std::memset(h, 0, kHeaderBytes);
  Put64(h, kMagic);
  Put64(h + 8, t.seq);
  Put32(h + 16, static_cast<uint32_t>(t.count));
  Put32(h + 20, static_cast<uint32_t>(t.body_bytes));
  Put32(h + 24, Crc32(0, image, t.body_bytes));
  Put32(h + 28, Crc32(0, h, 28));
}

// The journal's own stores (body, header, commit word) and records whose
// bytes are whole 8-byte words bypass the cache where the region persists
// by flushing (x86-64): nothing on the commit path reads them back, and a
// streamed line is durable at the fence without the write-back a flushed
// one waits for (~120 against ~190 ns a barrier on the development
// machine). The barriers are the same; msync mode, and other CPUs, copy
// and flush as before.
bool Streams(const RegionCore& c) { return c.mode != Persistence::kMsync; }

// Stores `length` bytes at `offset`, written back (streamed, or flushed):
// durable at the next fence. Returns 0 or an msync errno.
int Put(RegionCore& c, uint64_t offset, const uint8_t* from, uint64_t length) {
  if (length > 0 && Streams(c) && NtCopyWords(c.mapped_ + offset, from, length)) {
    c.stats.bytes_written += length;
    c.stats.nt_bytes += length;
    c.TraceStore(offset, length);
    c.TraceStreamed(offset, length);
    return 0;
  }
  CopyIn(c, c.stats, offset, from, length, false);
  return c.Flush(offset, length);
}

// The commit word: one 8-byte store, made durable (region_io.cc's RegionStore64).
int StoreWord(RegionCore& c, uint64_t offset, uint64_t value) {
  c.stats.bytes_written += 8;
  if (Streams(c) && NtStoreWord(c.mapped_ + offset, value)) {
    c.stats.nt_bytes += 8;
    c.TraceStore(offset, 8);
    c.TraceStreamed(offset, 8);
    c.stats.persist_calls++;
    c.Drain();
    return 0;
  }
  __atomic_store_n(reinterpret_cast<uint64_t*>(c.mapped_ + offset), value, __ATOMIC_RELEASE);
  c.TraceStore(offset, 8);
  return c.Persist(offset, 8);
}

// Applies the records in place from the image: all but the backup with one
// barrier, then the backup with its own. Returns 0 or an msync errno.
int Apply(RegionCore& c, const Commit& t, const uint8_t* image) {
  uint64_t at = 0, others = 0, backup_at = 0;
  for (uint64_t i = 0; i < t.count; i++) {
    auto target = static_cast<uint64_t>(t.list[3 * i]);
    auto length = static_cast<uint64_t>(t.list[3 * i + 2]);
    if (static_cast<int64_t>(i) == t.backup) {
      backup_at = at + kRecordHead;
    } else {
      if (int err = Put(c, target, image + at + kRecordHead, length)) return err;
      others++;
    }
    at += kRecordHead + Padded(length);
  }
  if (others > 0) c.Drain();
  if (t.backup < 0) return 0;
  auto b = static_cast<uint64_t>(t.backup);
  return CopyIn(c, c.stats, static_cast<uint64_t>(t.list[3 * b]), image + backup_at,
                static_cast<uint64_t>(t.list[3 * b + 2]), true);
}

// The image of the last commit, kept for the next: most commits then
// allocate nothing. Per thread (a worker may commit to its own region).
thread_local std::vector<uint8_t> image_buffer;

uint64_t Run(Napi::Env env, RegionCore& c, Commit& t, volatile bool& committed) {
  t.body_bytes = Check(env, c, t);
  if (image_buffer.size() < t.body_bytes + kHeaderBytes) image_buffer.resize(t.body_bytes + kHeaderBytes);
  uint8_t* image = image_buffer.data();
  int err = 0;
  // One guarded run: faults in the region or the staging buffer end it.
  GuardRegion(env, c, GuardRange::Of(t.staging.data, t.staging.length), [&] {
    Build(t, image);
    // Barrier 1: body and header. (The image is the copies' source: the
    // staging buffer may alias the region, the image never does.)
    if ((err = Put(c, t.body, image, t.body_bytes)) != 0) return;
    if ((err = Put(c, t.header, image + t.body_bytes, kHeaderBytes)) != 0) return;
    c.Drain();
    // Barrier 2: the commit point. From its store on the transaction may be durable.
    committed = true;
    if ((err = StoreWord(c, t.header + kCommitWord, t.seq)) != 0) return;
    // Barriers 3 and 4: the records in place, the backup superblock last.
    if ((err = Apply(c, t, image)) != 0) return;
    // Barrier 5: the journal is empty again.
    err = StoreWord(c, t.header + kCommitWord, 0);
  });
  ThrowPersistErrno(env, c, err, committed ? "persisting a committed journal transaction" : "persisting a journal transaction");
  return t.body_bytes;
}

}  // namespace

Napi::Value JournalCommit(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core) {
  Napi::Env env = info.Env();
  volatile bool committed = false;
  try {
    RegionCore& c = RequireWritable(env, core.get());
    Commit t{};
    t.staging = ArgBytes(info, 0, "staging");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      ThrowCode(env, "EINVAL", "list must be a Float64Array");
    Napi::Float64Array list = info[1].As<Napi::Float64Array>();
    t.list = list.Data();
    t.count = ArgIndex(info, 2, "count");
    if (t.count > list.ElementLength() / 3)
      ThrowCode(env, "ERANGE", "count " + std::to_string(t.count) + " needs " + std::to_string(t.count * 3) +
                                   " list entries, the list holds " + std::to_string(list.ElementLength()));
    t.header = ArgIndex(info, 3, "headerOffset");
    t.body = ArgIndex(info, 4, "bodyOffset");
    t.seq = ArgIndex(info, 5, "seq");
    t.backup = ArgOptionalIndex(info, 6, "backupIndex");
    if (info.Length() > 7 && !info[7].IsUndefined()) {
      if (!info[7].IsTypedArray() || info[7].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
        ThrowCode(env, "EINVAL", "seals must be a Float64Array or undefined");
      Napi::Float64Array seals = info[7].As<Napi::Float64Array>();
      if (seals.ElementLength() < t.count)
        ThrowCode(env, "ERANGE", "seals holds " + std::to_string(seals.ElementLength()) + " entries, count is " + std::to_string(t.count));
      t.seals = seals.Data();
    }
    return Napi::Number::New(env, static_cast<double>(Run(env, c, t, committed)));
  } catch (Napi::Error& e) {
    e.Value().Set("committed", Napi::Boolean::New(env, committed));
    throw;
  }
}

}  // namespace daxfs
