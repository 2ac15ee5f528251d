// Write Sandcron executors in JavaScript, as WebAssembly components built with
// componentize-js.
//
// An executor exports `run(execution)`, which the host calls once per execution, in a fresh
// instance. It returns to succeed, or throws a `Failure` (`InvalidConfig`, `Denied`,
// `Failed`, `Unavailable`) whose text is shown to the user. It reaches the world only
// through the capabilities the host grants: `output`, `http`, `process`, `secrets`.
//
//   import { executor, output } from './sandcron-sdk/src/index.js';
//   export const run = executor((execution) => {
//     output.print(`hello from ${execution.jobName}\n`);
//   });
import { Execution } from './execution.js';
import { Failure } from './failure.js';
import { eprint } from './output.js';

export * as config from './config.js';
export * as http from './http.js';
export * as output from './output.js';
export * as process from './process.js';
export * as secrets from './secrets.js';
export { Execution } from './execution.js';
export { Denied, Failed, Failure, InvalidConfig, Unavailable, invalidConfig } from './failure.js';

/**
 * The component's `run` export, made from `fn(execution)`: export it as `run`. A `Failure`
 * thrown by `fn` fails the execution with its kind and text; any other error fails it as
 * `failed`, naming the error, its stack written to the output's stderr.
 */
export function executor(fn) {
  return function run(witExecution) {
    try {
      fn(new Execution(witExecution));
    } catch (error) {
      if (error instanceof Failure) {
        throw { tag: error.kind, val: error.message };
      }
      eprint(`${error?.stack ?? error}\n`);
      throw { tag: 'failed', val: `unhandled ${error?.name ?? 'error'}: ${error?.message ?? error}` };
    }
  };
}
