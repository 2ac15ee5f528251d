// The execution's output, through the world's `output` interface. Everything written is
// kept with the execution (its tail, up to the host's cap) and streamed live to anyone
// following it. `console.log` works too: the host routes standard output into the same
// output.
import { write as witWrite } from 'sandcron:executor/output@0.1.0';

const encoder = new TextEncoder();

/** Appends `text` to the output as regular output. Add the `\n` yourself. */
export function print(text) {
  write(encoder.encode(String(text)), false);
}

/** Appends `text` to the output as a diagnostic. Add the `\n` yourself. */
export function eprint(text) {
  write(encoder.encode(String(text)), true);
}

/** Appends raw bytes (a Uint8Array) to the output, on stderr when `stderr` is true. */
export function write(chunk, stderr = false) {
  if (chunk.length > 0) {
    witWrite(stderr ? 'stderr' : 'stdout', chunk);
  }
}
