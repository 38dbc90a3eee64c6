import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bodyText } from '../../scripts/fuzz/http.js';

/**
 * The fuzzer reads bodies as a client would: a list sent gzipped (to a request that accepts gzip) was
 * taken for a 2xx without `{success, data}` (`npm run fuzz -- --seed 2026 --requests 20000`), and its
 * content escaped every other check (secrets, internals, another user's data).
 */
describe('fuzz: response bodies', () => {
  const json = '{"success":true,"data":[]}';

  it('a gzipped body is read decoded', () => {
    expect(bodyText(gzipSync(json), 'gzip')).toBe(json);
    expect(bodyText(gzipSync(json), ' GZIP ')).toBe(json);
  });

  it('a body without an encoding, or one that does not decode, is read as it came', () => {
    expect(bodyText(Buffer.from(json), undefined)).toBe(json);
    expect(bodyText(Buffer.from(json), 'gzip')).toBe(json); // claims gzip, is not: kept, and the checks see it
    expect(bodyText(Buffer.alloc(0), 'gzip')).toBe('');
  });
});
