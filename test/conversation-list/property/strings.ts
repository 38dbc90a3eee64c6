import type { Prng } from '../../../scripts/lib/freshness/prng.js';

/**
 * Text that JSON writers disagree on when they are not careful: quotes, backslashes, every short and
 * long escape of the C0 controls, DEL, non-BMP characters (surrogate pairs in JavaScript), joiners,
 * combining marks, right-to-left text, the line and paragraph separators, a byte order mark, and
 * text that looks like JSON or an escape. No NUL: PostgreSQL text cannot hold it.
 */
const PIECES = [
  'Ann',
  'Zoë',
  '"quoted"',
  'back\\slash',
  'tab\there',
  'line\nbreak',
  'cr\rlf',
  'bell\u0007',
  'bs\b',
  'ff\f',
  'esc\u001b[0m',
  'unit\u001f',
  'del\u007f',
  '😀',
  '👩‍👩‍👧',
  'e\u0301',
  'שלום',
  '中文',
  'sep\u2028par\u2029',
  '</script>',
  "it's",
  'nb\u00a0sp',
  '\ufeffbom',
  '{"json" : 1}',
  '\\u0041',
  '\u0080\u009f',
  '\ud83c\udff3\ufe0f\u200d\ud83c\udf08',
];

/** 1–`pieces` fragments joined by spaces, never blank; at most `max` code points. */
export function awkwardText(rng: Prng, pieces = 3, max = 60): string {
  const n = 1 + rng.int(pieces);
  const parts = Array.from({ length: n }, () => rng.pick(PIECES)!);
  return [...parts.join(' ')].slice(0, max).join('');
}

export function awkwardAvatar(rng: Prng): string | null {
  if (rng.chance(0.25)) return null;
  return rng.chance(0.5) ? `https://img.example/${encodeURIComponent(awkwardText(rng, 2))}.png` : awkwardText(rng, 2);
}
