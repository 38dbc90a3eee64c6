import type { Prng } from '../../../support/prng.js';

/**
 * Text that JSON writers disagree on when they are not careful (no NUL: the service refuses it, see
 * HistoryGenerator.rejected).
 * Every string draws one fragment of each kind.
 */
const KINDS: ReadonlyArray<readonly string[]> = [
  // C0 controls: the short escapes (\b \f \n \r \t), the long ones (\u00XX), and DEL and C1, which JSON leaves as they are.
  [
    'tab\there', 'line\nbreak', 'cr\rlf', 'bs\b', 'ff\f', 'bell\u0007', 'esc\u001b[0m', 'unit\u001f', 'del\u007f', 'c1\u0080\u009f',
    'c0\u0001\u0002\u0003\u0004\u0005\u0006\u000b\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001c\u001d\u001e',
  ],
  // Quoting: quotes, backslashes, text that looks like JSON or like an escape, a slash.
  ['"quoted"', 'back\\slash', "it's", '{"json" : 1}', '\\u0041', '</script>', '\\"\\'],
  // Beyond ASCII: non-BMP (surrogate pairs in JavaScript), joiners, combining marks, right-to-left,
  // CJK, the line and paragraph separators, a byte order mark, a no-break space, a lone surrogate (stored
  // as U+FFFD: UTF-8 cannot hold it).
  ['lone\ud800', '😀', '👩‍👩‍👧', '\ud83c\udff3\ufe0f\u200d\ud83c\udf08', 'e\u0301', 'שלום', '中文', 'sep\u2028par\u2029', '\ufeffbom', 'nb\u00a0sp', 'Zoë'],
];

/** One fragment of each kind, in random order, never blank; at most `max` code points. */
export function awkwardText(rng: Prng, max = 60): string {
  const parts = rng.sample(KINDS.map((k) => rng.pick(k)), KINDS.length);
  return [...parts.join(' ')].slice(0, max).join('');
}

export function awkwardAvatar(rng: Prng): string | null {
  if (rng.bool(0.25)) return null;
  // encodeURIComponent refuses a lone surrogate: it gets the replacement character the database would store.
  const url = () => `https://img.example/${encodeURIComponent(awkwardText(rng).replace(/[\ud800-\udfff]/gu, '\ufffd'))}.png`;
  return rng.bool(0.5) ? url() : awkwardText(rng);
}
