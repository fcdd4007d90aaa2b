/**
 * UTF-8 helpers over byte ranges, for the byte-level hot paths: the CSV reader
 * and packed bets here, the frame decoder in `protocol/`. Strict like a fatal
 * `TextDecoder`: overlong forms, surrogates and code points past U+10FFFF are
 * invalid.
 *
 * @module
 */

// ignoreBOM: a leading U+FEFF is text like any other, not a byte order mark to drop.
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Length of the UTF-8 sequence that starts with the byte at `at` (not ASCII):
 * 2, 3 or 4 when it is valid, -1 when it is not, 0 when it runs past `end`
 * while valid so far (more bytes may complete it).
 */
export function utf8SequenceLength(bytes: Uint8Array, at: number, end: number): number {
  const c = bytes[at];
  if (c < 0xc2 || c > 0xf4) return -1;
  if (c < 0xe0) {
    if (at + 1 >= end) return 0;
    return (bytes[at + 1] & 0xc0) === 0x80 ? 2 : -1;
  }
  // Range of the second byte: narrower after E0 (overlong), ED (surrogates), F0, F4.
  const low = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
  const high = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
  const length = c < 0xf0 ? 3 : 4;
  for (let i = 1; i < length; i++) {
    if (at + i >= end) return 0;
    const b = bytes[at + i];
    if (i === 1 ? b < low || b > high : (b & 0xc0) !== 0x80) return -1;
  }
  return length;
}

/**
 * Whether `bytes[start..end)` is valid UTF-8, by the rules of a fatal `TextDecoder`,
 * without decoding it (the checks of {@linkcode utf8SequenceLength}, inlined: this
 * runs over every string field of every bet the server receives).
 */
export function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c < 0xc2 || c > 0xf4) return false;
    if (c < 0xe0) {
      if (i + 1 >= end || (bytes[i + 1] & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    // The second byte's range is narrower after E0 (overlong), ED (surrogates), F0 and F4.
    const low = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const high = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const length = c < 0xf0 ? 3 : 4;
    if (i + length > end) return false;
    const b1 = bytes[i + 1];
    if (b1 < low || b1 > high || (bytes[i + 2] & 0xc0) !== 0x80) return false;
    if (length === 4 && (bytes[i + 3] & 0xc0) !== 0x80) return false;
    i += length;
  }
  return true;
}

/**
 * Decodes `bytes[start..end)`, which must be valid UTF-8: ASCII and two-byte
 * sequences (Latin letters with accents) in place, anything else through a
 * fatal `TextDecoder` (TypeError on invalid UTF-8).
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end;) {
    const c = bytes[i];
    if (c < 0x80) {
      text += String.fromCharCode(c);
      i++;
    } else if (c >= 0xc2 && c <= 0xdf && i + 1 < end && (bytes[i + 1] & 0xc0) === 0x80) {
      text += String.fromCharCode(((c & 0x1f) << 6) | (bytes[i + 1] & 0x3f));
      i += 2;
    } else {
      return fatalDecoder.decode(bytes.subarray(start, end));
    }
  }
  return text;
}
