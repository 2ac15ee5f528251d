// Why an execution failed: errors whose text is shown to the user as the reason.
//
// Throw one from `run` (or let one thrown by a capability helper pass through) and the
// execution fails with that kind and text. Any other error escaping `run` fails the
// execution as `failed`, naming the error, with its stack written to the output's stderr.

/** Base of the four failure kinds; `kind` is the WIT name of the variant. */
export class Failure extends Error {
  /** @param {string} message the text shown to the user */
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }

  /** The WIT variant: `invalid-config`, `denied`, `failed` or `unavailable`. */
  get kind() {
    return 'failed';
  }
}

/** The `executor_config` is wrong; the text names the key (`key: problem`). */
export class InvalidConfig extends Failure {
  get kind() {
    return 'invalid-config';
  }
}

/** A capability refused a call; the text names the capability and the target. */
export class Denied extends Failure {
  get kind() {
    return 'denied';
  }
}

/** The work ran and did not succeed (a non-zero exit, an unexpected status...). */
export class Failed extends Failure {}

/** The work could not be done now (a peer is down); a retry may succeed. */
export class Unavailable extends Failure {
  get kind() {
    return 'unavailable';
  }
}

/** An `InvalidConfig` about `key`, reading `key: problem`. */
export function invalidConfig(key, problem) {
  return new InvalidConfig(`${key}: ${problem}`);
}
