// A starting point for a Sandcron executor in JavaScript.
//
// The host calls `run` once per execution, in a fresh instance. Everything the executor
// needs arrives in the `Execution`: the job's name, its `executor_config` (all strings, as
// in Dkron), its environment, and the time left before the host stops it. `run` returns to
// succeed, or throws a `Failure` whose text is shown to the user.
//
// Build:  sandcron executor build   (or npm run build; docs/sdk.md in the Sandcron repository)
// Try it: sandcron exec executor.wasm --config greeting=hi
import { executor, http, invalidConfig, output, secrets } from './sandcron-sdk/src/index.js';

/** The most lines one execution may write. */
const MAX_REPEAT = 100;

/**
 * The `executor_config` this executor reads. A missing required key or a value that does
 * not parse fails the execution with `InvalidConfig` naming the key (`greeting: is
 * required`, `repeat: "two" is not a whole number`). Keys not named here are ignored.
 */
const CONFIG = {
  // What to say.
  greeting: { type: 'string', required: true },
  // How many times to say it.
  repeat: { type: 'int', default: 1 },
  // A URL to fetch after greeting. The host sends the request only if the job's grants
  // allow the host (`http`); otherwise the execution fails as denied.
  url: { type: 'string' },
  // The name of a secret to read (granted to the job); its length is printed.
  secret: { type: 'string' },
};

export const run = executor((execution) => {
  // Typed config: the SDK parses each value and names the key on errors.
  const config = execution.config(CONFIG);

  // Checks the schema cannot express are yours; throw invalidConfig naming the key.
  if (config.greeting.trim() === '') throw invalidConfig('greeting', 'is empty');
  if (config.repeat < 1 || config.repeat > MAX_REPEAT) {
    throw invalidConfig('repeat', `${config.repeat} is not between 1 and ${MAX_REPEAT}`);
  }

  // Output: output.print / output.eprint (console.log works too).
  output.eprint(`${execution.executionId} (attempt ${execution.attempt}), ${execution.timeLeftMs} ms left\n`);
  for (let i = 1; i <= config.repeat; i++) {
    output.print(`${config.greeting} from ${execution.jobName} (${i}/${config.repeat})\n`);
  }

  // Capabilities: a secret the job was granted; a denied one throws Denied naming it.
  if (config.secret) {
    const value = secrets.get(config.secret);
    output.print(`secret ${config.secret}: ${value.length} characters\n`);
  }

  // An HTTP request goes through the host, which checks it against the grants; a denied
  // one throws Denied naming the URL, and the execution fails with that reason.
  if (config.url) {
    const response = http.get(config.url, { timeout: 10 });
    output.print(`GET ${config.url}: ${response.status}\n`);
  }
});
