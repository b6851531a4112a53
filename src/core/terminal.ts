/**
 * Text that reaches a terminal. Names, paths, hosts and messages derived from a snapshot or
 * from Cognito may hold control characters: an escape sequence (ESC [ …, or the one-byte CSI
 * U+009B) can recolour, retitle, rewrite or hide what the terminal shows, a carriage return or
 * newline can forge a line, and bidirectional overrides reorder it. Everything printed goes
 * through `forTerminal` (human output) or `jsonForTerminal` (--json output) first.
 */

// C0 controls, DEL, C1 controls; line/paragraph separators; bidi embeddings, overrides and
// isolates; zero-width and BOM characters that hide text.
const CONTROL =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/gu;

function escapeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character shown as `\xNN` / `\uNNNN`: one inert line. */
export function forTerminal(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/**
 * JSON text (as JSON.stringify writes it, which escapes C0 controls but not DEL, C1 or the
 * Unicode controls above) with those characters written as `\uNNNN` escapes too: the same JSON
 * value, inert in a terminal. Line breaks between members (pretty-printing) are kept.
 */
export function jsonForTerminal(json: string): string {
  return json.replace(CONTROL, (c) =>
    c === '\n' ? c : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}
