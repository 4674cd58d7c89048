#!/usr/bin/env node
// 1 MiB V8 semi-spaces instead of up to 16: a backup produces short-lived garbage in bulk (tree
// nodes, messages) and peak memory is lower at the same speed (measured on a 58,833-file first
// backup). Set here rather than on the #! line: `env -S` is missing from BusyBox (Alpine images).
// The size limit reaches worker threads (their heaps are made later); the main thread's heap was
// sized before this line runs, so it is kept from growing instead (see heap-settings.ts). The
// `keepsake` launcher also passes the flag to node itself, which holds the main thread to it from
// the start (a few MiB less at a first backup's peak); this covers `node bin/keepsake.js`.
//
// V8's "optimize for size" mode for the heap: it compacts fragmented old-generation pages more
// readily and grows the heap in smaller steps. A first backup of 58,833 small photos promotes ~250 MB
// of short-lived objects (files in flight to the chunk workers) between the long-lived ones, and the
// main heap's pages stayed half empty: peak 127.0 -> 122.3-123.6 MiB (medians of 6, alternating,
// three sets), 0-7% slower across the sets (this VM's runs move by 10%); the 1.92 GiB backup,
// restore, check and a no-change backup kept their times and peaks. Set here or on node's command
// line, the same (V8 reads it at each collection).
import v8 from 'node:v8';

v8.setFlagsFromString('--max-semi-space-size=1');
v8.setFlagsFromString('--optimize-for-size');
const { applyHeapSettings } = await import('../dist/util/heap-settings.js');
applyHeapSettings();

// The AWS SDK warns on stderr about Node 20 at its first import; keepsake supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `keepsake status | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const { main } = await import('../dist/cli/main.js');
const code = await main(process.argv);
// Exit once the command is done: retries still waiting on a destination that failed (e.g. removing
// its lock) must not keep the process alive. But not before the output is out: a pipe takes 64 KiB
// at once, and Node queues the rest of a larger write (`status --json | jq` lost everything after
// the first 64 KiB). A write's callback runs once everything written before it is flushed.
const flushed = (stream) => new Promise((resolve) => stream.write('', resolve));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
