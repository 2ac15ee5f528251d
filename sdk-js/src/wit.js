// What the SDK shares about the bindings componentize-js generates.

/**
 * The error value of a WIT `result` that an imported function threw: componentize-js
 * throws an error carrying it as `payload`.
 */
export function errorPayload(error) {
  if (error && typeof error === 'object' && 'payload' in error) return error.payload;
  if (error && typeof error === 'object' && 'tag' in error) return error;
  throw error;
}
