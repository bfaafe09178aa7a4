// A journal commit in one call: the mechanics of lib/pool/journal.ts's
// commit (which records, the capacity and what a failure means stay there).
//
// On media (the layout lib/pool/journal.ts reads back at mount):
//   header, at headerOffset: 0 magic u64 "DAXFSJNL" | 8 seq u64 |
//     16 records u32 | 20 bodyBytes u32 | 24 bodyCrc u32 | 28 headerCrc u32
//     (CRC-32 of bytes 0..28) | 64 commit word u64
//   body, at bodyOffset: per record: target offset u64 | length u32 |
//     4 zero bytes | data, zero-padded to a multiple of 8; bodyCrc covers it.
//
// The persist barriers, in order, and why none can be merged with its
// neighbour (a barrier: flush the lines stored, then one fence — on x86-64
// the journal's own stores and whole-word records are streamed instead,
// needing no flush; in msync mode, msync of each range, which writes back
// and waits):
//   1. body and header. The commit word must not reach media before them: a
//      set word over a torn body is, at mount, a damaged journal (EUCLEAN),
//      not an uncommitted transaction.
//   2. the commit word (the commit point). It must be durable before any
//      record lands in place: a crash with some records in place and no
//      committed transaction to replay would leave torn metadata.
//   3. the records in place, all with one barrier; skipped when the backup
//      superblock is the only record.
//   4. the backup superblock, when the transaction holds it, in an epoch of
//      its own after the primary's (barrier 3): a crash tears at most one
//      copy, so mount always finds the journal through the other.
//   5. the commit word cleared. The records (and the backup) must be durable
//      before it clears, or a crash loses them with nothing to replay; and
//      the clear must be durable before the next commit stores its body,
//      or a crash leaves the old word over a new body (EUCLEAN again).
// So 4 barriers per commit, 5 with the backup superblock: 4 or 5 fences in
// cache-flush modes, as the persist trace records them.
#pragma once

#include <napi.h>

#include <memory>

#include "region_core.h"

namespace daxfs {

// journalCommit(staging, list, count, headerOffset, bodyOffset, seq,
// backupIndex, seals) → body bytes. `list` (a Float64Array) holds `count`
// (targetOffset, sourceOffset, length) triples: the records, their bytes in
// `staging`; record `backupIndex` (undefined: none) is applied after the others
// with a barrier of its own. `seals` (a Float64Array of at least `count`
// entries, or undefined: none) seals record i when seals[i] is not -1: its
// last 4 bytes become the CRC-32 of its other bytes, the 8 at offset
// seals[i] counted as zeros (the staging buffer is left as it is). Every argument is checked before the first
// store. Every error thrown carries `committed`: false when the commit
// point was not reached (nothing is committed; the journal may be reused),
// true when the failure came at or after it (the transaction may be
// durable and is not known to be applied).
Napi::Value JournalCommit(const Napi::CallbackInfo& info, const std::shared_ptr<RegionCore>& core);

}  // namespace daxfs
