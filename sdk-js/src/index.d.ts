// Types of the Sandcron JavaScript SDK, for TypeScript and for `// @ts-check` editors.

/** Base of the four failure kinds: throw one from `run` to fail with its text. */
export class Failure extends Error {
  constructor(message: string);
  /** The WIT variant of the world's `failure`. */
  readonly kind: 'invalid-config' | 'denied' | 'failed' | 'unavailable';
}
/** The `executor_config` is wrong; the text names the key (`key: problem`). */
export class InvalidConfig extends Failure {}
/** A capability refused a call; the text names the capability and the target. */
export class Denied extends Failure {}
/** The work ran and did not succeed. */
export class Failed extends Failure {}
/** The work could not be done now; a retry may succeed. */
export class Unavailable extends Failure {}
/** An `InvalidConfig` about `key`, reading `key: problem`. */
export function invalidConfig(key: string, problem: string): InvalidConfig;

/** How one `executor_config` key is read. */
export interface KeySpec {
  type?: 'string' | 'bool' | 'int' | 'number' | 'duration' | 'size' | 'list' | 'enum';
  required?: boolean;
  default?: unknown;
  /** The allowed values of an `enum`. */
  values?: string[];
}
/** Keys to their specs. */
export type ConfigSchema = Record<string, KeySpec>;

/** What the host tells the executor about this execution. */
export class Execution {
  readonly jobName: string;
  readonly executionId: string;
  readonly attempt: number;
  readonly scheduledAtMs: number;
  readonly timeLeftMs: number;
  readonly executorConfig: [string, string][];
  readonly environment: [string, string][];
  readonly scheduledAt: Date;
  /** The `executor_config` read by `schema`; throws `InvalidConfig` naming the key. */
  config(schema: ConfigSchema): Record<string, any>;
  configValue(key: string): string | undefined;
  env(name: string): string | undefined;
  printConfig(secretKeys?: string[]): void;
}

/** The component's `run` export made from `fn`: `export const run = executor(fn)`. */
export function executor(fn: (execution: Execution) => void): (execution: unknown) => void;

export namespace config {
  function parse(schema: ConfigSchema, pairs: [string, string][]): Record<string, any>;
  function parseValue(spec: KeySpec, text: string): unknown;
  function parseBool(text: string): boolean;
  /** A Go duration (`1h30m`) in milliseconds. */
  function parseDuration(text: string): number;
  /** A byte size (`512M`) in bytes. */
  function parseSize(text: string): number;
  class ValueError extends Error {}
}

export namespace output {
  function print(text: string): void;
  function eprint(text: string): void;
  function write(chunk: Uint8Array, stderr?: boolean): void;
}

export namespace secrets {
  /** The value of a granted secret; throws `Denied` or `InvalidConfig` naming it. */
  function get(name: string): string;
}

export namespace process {
  interface RunOptions {
    env?: Record<string, string>;
    cwd?: string;
    stdin?: string | Uint8Array;
    /** Seconds. */
    timeout?: number;
    /** Bytes of resident memory of the process group. */
    memoryLimit?: number;
  }
  interface ExitStatus {
    code?: number;
    signal?: number;
    timedOut: boolean;
    memoryExceeded: boolean;
    success: boolean;
  }
  function run(program: string, args?: string[], options?: RunOptions): ExitStatus;
}

export namespace http {
  interface RequestOptions {
    headers?: Record<string, string> | [string, string][];
    body?: string | Uint8Array;
    /** Seconds for the whole exchange. */
    timeout?: number;
  }
  class Response {
    readonly status: number;
    readonly headers: [string, string][];
    readonly body: Uint8Array;
    readonly ok: boolean;
    header(name: string): string | undefined;
    text(): string;
    json(): unknown;
  }
  function request(method: string, url: string, options?: RequestOptions): Response;
  function get(url: string, options?: RequestOptions): Response;
  function post(url: string, body: string | Uint8Array, options?: RequestOptions): Response;
}
