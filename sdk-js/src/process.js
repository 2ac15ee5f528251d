// Running programs on the host machine, through the world's `process` interface. The
// program must be on the allow-list the executor was granted, or `run` throws `Denied`
// without starting anything. Its stdout and stderr go straight into the execution's
// output. Nothing of the host's environment is inherited: `env` is the whole environment.
import { run as witRun } from 'sandcron:executor/process@0.1.0';
import { Denied, Failed } from './failure.js';
import { errorPayload } from './wit.js';

/**
 * Runs `program` (an absolute path, or a name the host looks up in its `PATH`) to its end.
 *
 * Options: `env` (an object), `cwd`, `stdin` (string or Uint8Array), `timeout` (seconds),
 * `memoryLimit` (bytes). Returns `{ code, signal, timedOut, memoryExceeded, success,
 * toString() }`; a non-zero exit is a result, not an error. A program that is not allowed
 * throws `Denied`, one that is missing or cannot start `Failed`.
 */
export function run(program, args = [], options = {}) {
  const stdin = options.stdin;
  const command = {
    program,
    args: [...args],
    env: Object.entries(options.env ?? {}),
    cwd: options.cwd,
    stdin: typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin,
    timeoutMs: options.timeout === undefined ? undefined : BigInt(Math.ceil(options.timeout * 1000)),
    memoryLimitBytes: options.memoryLimit === undefined ? undefined : BigInt(options.memoryLimit),
  };
  let status;
  try {
    status = witRun(command);
  } catch (error) {
    const payload = errorPayload(error);
    if (payload.tag === 'denied') throw new Denied(payload.val);
    throw new Failed(payload.val);
  }
  return exitStatus(status);
}

function exitStatus(status) {
  const result = {
    code: status.tag === 'exited' ? status.val : undefined,
    signal: status.tag === 'signaled' ? status.val : undefined,
    timedOut: status.tag === 'timed-out',
    memoryExceeded: status.tag === 'memory-exceeded',
  };
  result.success = result.code === 0;
  result.toString = () => {
    if (result.code !== undefined) return `exit status ${result.code}`;
    if (result.signal !== undefined) return `killed by signal ${result.signal}`;
    return result.timedOut ? 'timed out' : 'memory limit exceeded';
  };
  return result;
}
