// One execution of a job, as the host hands it to `run`.
import { parse } from './config.js';
import { print } from './output.js';

/** What the host tells the executor about this execution. */
export class Execution {
  constructor(witExecution) {
    /** The job's name. */
    this.jobName = witExecution.jobName;
    /** This execution's id, unique across the cluster: an idempotency key. */
    this.executionId = witExecution.executionId;
    /** 1 for the first attempt; each retry adds one. */
    this.attempt = witExecution.attempt;
    /** The instant it was scheduled for, in milliseconds since the Unix epoch. */
    this.scheduledAtMs = Number(witExecution.scheduledAtMs);
    /** Milliseconds left, when `run` was called, before the host ends the execution. */
    this.timeLeftMs = Number(witExecution.timeLeftMs);
    /** The job's `executor_config` as `[key, value]` pairs, in order. */
    this.executorConfig = witExecution.executorConfig;
    /** The job's environment as `[name, value]` pairs (the host's is never shown). */
    this.environment = witExecution.environment;
  }

  /** The `executor_config` read by `schema`; see config.js. Throws `InvalidConfig`. */
  config(schema) {
    return parse(schema, this.executorConfig);
  }

  /** The raw value of one `executor_config` key, or undefined. */
  configValue(key) {
    return this.executorConfig.find(([name]) => name === key)?.[1];
  }

  /** The value of one of the job's environment variables, or undefined. */
  env(name) {
    return this.environment.find(([key]) => key === name)?.[1];
  }

  /** The instant this execution was scheduled for. */
  get scheduledAt() {
    return new Date(this.scheduledAtMs);
  }

  /**
   * Writes the `executor_config` to the output, one `key: value` line each, the values of
   * `secretKeys` shown as `***`: what Dkron's `debug` key prints.
   */
  printConfig(secretKeys = []) {
    const lines = this.executorConfig.map(([key, value]) =>
      `  ${key}: ${secretKeys.includes(key) && value !== '' ? '***' : value}\n`);
    print(`debug: config:\n${lines.join('')}`);
  }
}
