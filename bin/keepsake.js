#!/usr/bin/env node
// The AWS SDK warns on stderr about Node 20 at its first import; keepsake supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `keepsake status | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const { main } = await import('../dist/cli/main.js');
// Exit once the command is done: retries still waiting on a destination that failed (e.g. removing
// its lock) must not keep the process alive. Output to files, pipes and terminals is synchronous here.
process.exit(await main(process.argv));
