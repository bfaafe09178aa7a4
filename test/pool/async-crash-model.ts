// The bytes the asynchronous crash test writes: half `which` of batch k
// (0: the first half, 1: the second, 2: the first again, written after 0).
export function half(k: number, which: number): Buffer {
  const b = Buffer.alloc(2 ** 19);
  let x = (k * 3 + which + 1) * 0x9e3779b1;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}
