const PREVIEW_BYTES = 200;

/** The start of an answer, for error messages about answers we could not use. */
export function bodyPreview(body: Buffer): string {
  return body.subarray(0, PREVIEW_BYTES).toString('utf8');
}
