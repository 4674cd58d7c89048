// Runs one tool command: output to a log file, wall time from the harness, peak RSS from GNU time.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';

// GNU time reports ru_maxrss from wait4(), which covers the child and any descendants it reaped;
// Debian's time 1.9 no longer has 1.7's "4x too large" bug. Without it we still time, but report no RSS.
export const haveGnuTime = () => {
  const r = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+\s*$/m.test(r.stderr);
};

// Process groups of the commands under way, so an interrupted bench does not leave a tool running.
const running = new Set();
const killGroup = (pid) => { try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ } };
export const killRunning = () => running.forEach(killGroup);

export class CommandError extends Error {
  constructor(message, logFile) {
    super(message);
    this.logFile = logFile;
    this.logTail = tail(logFile);
  }
}

export function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// Flush earlier writes (the previous tool's repository, the generated corpus) so their writeback
// does not land inside the next timed command.
export const syncDisks = () => spawnSync('sync');

/**
 * Runs `cmd` (argv array) and resolves to { seconds, rssKiB, logFile }; rejects with CommandError
 * (carrying the log tail) on a non-zero exit, a signal or the time limit.
 */
export async function runTimed({ cmd, cwd, env, logFile, timeoutSec, useGnuTime }) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const timeFile = `${logFile}.time`;
  const argv = useGnuTime ? [GNU_TIME, '-o', timeFile, '-f', '%M %e', ...cmd] : cmd;
  fs.writeFileSync(logFile, `$ (cd ${cwd}) ${cmd.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  const started = process.hrtime.bigint();
  let code, signal, timedOut = false;
  try {
    ({ code, signal } = await new Promise((resolve, reject) => {
      // stdin is closed so a tool that unexpectedly prompts (password, confirmation) fails instead of hanging.
      // Own process group: killing GNU time alone would leave the tool itself running.
      const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', fd, fd], detached: true });
      running.add(child.pid);
      const timer = setTimeout(() => { timedOut = true; killGroup(child.pid); }, timeoutSec * 1000);
      const done = () => { clearTimeout(timer); running.delete(child.pid); };
      child.on('error', (err) => { done(); reject(err); });
      child.on('exit', (c, s) => { done(); resolve({ code: c, signal: s }); });
    }));
  } catch (err) {
    fs.closeSync(fd);
    throw new CommandError(`cannot start ${cmd[0]}: ${err.message}`, logFile);
  }
  fs.closeSync(fd);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (timedOut) throw new CommandError(`timed out after ${timeoutSec}s: ${cmd.join(' ')}`, logFile);
  if (code !== 0) throw new CommandError(`exit ${code ?? signal}: ${cmd.join(' ')}`, logFile);
  return { seconds, rssKiB: useGnuTime ? readRss(timeFile) : null, logFile };
}

function readRss(timeFile) {
  // time writes "Command exited with non-zero status" lines first; the format line is last.
  const last = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop();
  const kib = Number(last.split(' ')[0]);
  return Number.isFinite(kib) ? kib : null;
}

/** Runs a helper command (untimed, e.g. du), returning stdout; throws with stderr on failure. */
export function runQuiet(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}
