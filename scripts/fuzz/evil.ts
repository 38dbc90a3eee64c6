import type { Prng } from '../../support/prng.js';

/**
 * Hostile values. None of them contains the victims' marker strings (those are generated at run time
 * from a random run id), so finding a marker in the attacker's answers can only mean a leak.
 */

export const SQL_STRINGS = [
  "' OR 1=1 --",
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '"; DROP TABLE messages; --',
  '1; SELECT pg_sleep(5)',
  "1' AND (SELECT pg_sleep(5)) IS NULL --",
  "' UNION SELECT password_hash, username FROM users --",
  '$1',
  '$1::text',
  '$$ || $$',
  '$tag$x$tag$',
  '1)::bigint',
  "E'\\x00'",
  '\\',
  "\\'",
  '%',
  '_%_',
  'NULL',
  "'||(SELECT current_user)||'",
  '1 OR 1=1',
  '/* comment */',
  "';COPY users TO '/tmp/x';--",
];

export const REDIS_STRINGS = [
  '*',
  '?',
  '[a-z]',
  '{}',
  '{user}',
  '{',
  '}',
  '\r\n',
  '*1\r\n$8\r\nFLUSHALL\r\n',
  '\r\nFLUSHALL\r\n',
  'chatgate:cl:*',
  '$-1',
  ':',
  '::::',
  'KEYS *',
];

export const TRAVERSAL_STRINGS = [
  '..',
  '.',
  '../',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '....//....//etc/passwd',
  '/etc/passwd',
  '~',
  '~root',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
];

export const UNICODE_STRINGS = [
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  '\u0000',
  'a\u0000b',
  '\u202eevil\u202c',
  '\u200f\u05e9\u05dc\u05d5\u05dd',
  'مرحبا بالعالم',
  '\u200b',
  '\u200b\u200b\u200b',
  '\ufeff',
  '\ufeffbom',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '😀'.repeat(50),
  'e\u0301',
  'Z' + '\u0336\u0337\u0338\u0321\u0322'.repeat(40),
  '\u{10ffff}',
  '\uffff',
  '\ufffe',
  'ﬁ',
  'İı',
  'ß',
  '\u2028\u2029',
  '\x7f',
  '\x01\x02\x03\x1b[31m',
  '\t\n\r',
  ' \u00a0\u3000 ',
  '\u00ad',
  'ｆｕｌｌｗｉｄｔｈ',
  '한국어',
  '日本語テキスト',
];

export const FORMAT_STRINGS = [
  '%s%s%s%n',
  '%x%x',
  '{{7*7}}',
  '${7*7}',
  '#{7*7}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'true',
  '[]',
  '{}',
  '""',
  '',
  ' ',
  '   ',
  '\n',
  'me',
  'admin',
];

/** Number-like strings: ids, limits and offsets in every odd spelling. */
export const NUMBER_STRINGS = [
  '0',
  '-1',
  '-0',
  '1.5',
  '1.0',
  '1e3',
  '1E2',
  '1e400',
  '-1e400',
  '0x10',
  '0b1',
  '0o7',
  '01',
  '+1',
  ' 1',
  '1 ',
  '1_000',
  'Infinity',
  '-Infinity',
  'NaN',
  '99999999999999999999999999999',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '18446744073709551616',
  '999999999999999999',
  '1000000000000000000',
  '4294967296',
  '2147483648',
  '1,2',
  '1;2',
  '٣',
  '１',
];

export const BOUNDARY_LENGTHS = [0, 1, 2, 3, 4, 31, 32, 33, 63, 64, 65, 99, 100, 101, 127, 128, 129, 200, 201, 2047, 2048, 2049, 3999, 4000, 4001, 8000, 8001, 16_000];

export const ALL_EVIL = [
  ...SQL_STRINGS,
  ...REDIS_STRINGS,
  ...TRAVERSAL_STRINGS,
  ...UNICODE_STRINGS,
  ...FORMAT_STRINGS,
  ...NUMBER_STRINGS,
];

/** A hostile string: from the pools, a boundary-length run, or a mix of pieces. */
export function evilString(rng: Prng): string {
  return rng.weighted<() => string>([
    [6, () => rng.pick(ALL_EVIL)],
    [2, () => rng.pick(['a', 'é', '😀', ' ', 'x\u0301']).repeat(rng.pick(BOUNDARY_LENGTHS))],
    [2, () => Array.from({ length: rng.int(2, 4) }, () => rng.pick(ALL_EVIL)).join('')],
    [1, () => randomUnicode(rng, rng.int(1, 64))],
  ])();
}

/** Random code points from every plane, lone surrogates included. */
export function randomUnicode(rng: Prng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const range = rng.weighted<[number, number]>([
      [4, [0x20, 0x7e]],
      [1, [0x00, 0x1f]],
      [2, [0x80, 0x7ff]],
      [2, [0x800, 0xd7ff]],
      [1, [0xd800, 0xdfff]],
      [1, [0xe000, 0xffff]],
      [1, [0x10000, 0x10ffff]],
    ]);
    s += String.fromCodePoint(rng.int(range[0], range[1]));
  }
  return s;
}

/** A number as JSON would carry it: huge, negative, fractional, exponent, unsafe integers. */
export function evilNumber(rng: Prng): number {
  return rng.pick([
    0,
    -1,
    -0,
    1.5,
    0.1,
    1e-7,
    1e21,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    Number.MIN_SAFE_INTEGER,
    2 ** 31,
    2 ** 63,
    2 ** 64,
    101,
    100,
    1,
    4001,
    1_000_001,
  ]);
}

/** Raw JSON number texts that JSON.stringify cannot write (overflow to Infinity, 30 digits, ...). */
export const RAW_JSON_NUMBERS = ['1e999999', '-1e999999', '123456789012345678901234567890', '0.0000000000000000000000001', '1E+2', '-0.0', '9223372036854775808'];

/** Any JSON value, up to `depth` levels deep. */
export function randomJson(rng: Prng, depth = 3): unknown {
  const leaf = (): unknown =>
    rng.weighted<() => unknown>([
      [3, () => evilString(rng)],
      [2, () => evilNumber(rng)],
      [1, () => rng.bool()],
      [1, () => null],
    ])();
  if (depth <= 0) return leaf();
  return rng.weighted<() => unknown>([
    [4, leaf],
    [1, () => Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth - 1))],
    [
      1,
      () => {
        const o: Record<string, unknown> = {};
        for (let i = rng.int(0, 4); i > 0; i--) o[rng.bool(0.7) ? evilKey(rng) : evilString(rng)] = randomJson(rng, depth - 1);
        return o;
      },
    ],
  ])();
}

export function evilKey(rng: Prng): string {
  return rng.pick(['extra', 'id', 'userId', 'role', 'isAdmin', 'admin', 'senderId', 'conversationId', 'deletedAt', 'type', 'success', '$where', '$gt', '__proto__', 'constructor', '', ' ', 'content ', 'Content', 'CONTENT', '\u0000', 'a.b', '[0]']);
}

/** Nested `depth` levels deep: `[[[...]]]` or `{"a":{"a":...}}`, optionally with a poisoned leaf. */
export function deepJsonText(rng: Prng, depth: number): string {
  const leaf = rng.pick(['1', '"x"', 'null', '{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"x":1}}}', '"\\u0000"', '[]']);
  if (rng.bool()) return '['.repeat(depth) + leaf + ']'.repeat(depth);
  const key = rng.pick(['a', 'content', 'messageId', 'title', 'memberIds']);
  return `{"${key}":`.repeat(depth) + leaf + '}'.repeat(depth);
}

/** Text that is not JSON, or JSON that is cut or otherwise broken. */
export function malformedJson(rng: Prng, valid: string): string {
  return rng.weighted<() => string>([
    [2, () => valid.slice(0, Math.max(0, rng.int(0, valid.length - 1)))],
    [1, () => valid + rng.pick(['}', ']', ',', 'x', ' garbage', '\u0000', '{}'])],
    [1, () => valid.replace(/"/g, "'")],
    [1, () => valid.replace(/:/, '')],
    [1, () => rng.pick(['', ' ', '{', '}', '[', '{"a":}', '{"a":1,}', '[1,]', 'undefined', 'NaN', 'Infinity', "{'a':1}", '{a:1}', '\u0000', '"unterminated', '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":1e}', '//c\n{}', '/*c*/{}', '{"a":1}{"b":2}', 'null null', '\ufeff\ufeff{}'])],
    [1, () => `{"content":"${'\\'.repeat(rng.int(1, 5))}"}`],
  ])();
}
