// Reading the secrets the execution was granted, through the world's `secrets` interface.
import { get as witGet } from 'sandcron:executor/secrets@0.1.0';
import { Denied, InvalidConfig } from './failure.js';
import { errorPayload } from './wit.js';

/**
 * The value of the secret called `name`. A secret that was not granted throws `Denied`,
 * one that does not exist `InvalidConfig`; both texts name the secret.
 */
export function get(name) {
  try {
    return witGet(name);
  } catch (error) {
    const payload = errorPayload(error);
    if (payload.tag === 'denied') throw new Denied(payload.val);
    throw new InvalidConfig(payload.val);
  }
}
