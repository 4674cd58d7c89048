/**
 * Pipelined SFTP reads and writes. Each SFTP request carries at most ~32–256 KiB and is answered
 * separately, so a 16 MiB pack sent one request at a time would wait for ~100 round trips in a row;
 * keeping many requests in flight fills the link instead.
 */
import type { SFTPWrapper } from 'ssh2';
import { Semaphore } from './limiter.js';

const CHUNK = 64 * 1024;
const IN_FLIGHT = 32;

/** Promise form of ssh2's `(err, value)` callbacks. */
export function sftpCall<T = void>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/** Runs `task(i)` for i in [0, n), at most IN_FLIGHT at once. */
function pipelined(n: number, task: (i: number) => Promise<void>): Promise<unknown> {
  const sem = new Semaphore(IN_FLIGHT);
  return Promise.all(Array.from({ length: n }, (_, i) => sem.run(() => task(i))));
}

export async function writeAll(sftp: SFTPWrapper, handle: Buffer, data: Uint8Array): Promise<void> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const chunks = Math.ceil(buf.length / CHUNK);
  await pipelined(chunks, async (i) => {
    const off = i * CHUNK;
    const len = Math.min(CHUNK, buf.length - off);
    await sftpCall((cb) => sftp.write(handle, buf, off, len, off, cb));
  });
}

/** Reads `length` bytes at `offset`; a file that ends early gives a shorter buffer, never garbage. */
export async function readAll(sftp: SFTPWrapper, handle: Buffer, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let end = length; // lowered when the server reports end of file
  await pipelined(Math.ceil(length / CHUNK), async (i) => {
    let got = i * CHUNK;
    const stop = Math.min(got + CHUNK, length);
    while (got < stop && got < end) {
      const n = await new Promise<number>((resolve, reject) =>
        sftp.read(handle, buf, got, stop - got, offset + got, (err, bytesRead) => {
          // Status 1 (EOF) is the end of the file, not a failure.
          if (err && (err as { code?: number }).code !== 1) reject(err);
          else resolve(err ? 0 : bytesRead);
        }));
      if (n === 0) end = Math.min(end, got);
      got += n;
    }
  });
  return end < length ? buf.subarray(0, end) : buf;
}
