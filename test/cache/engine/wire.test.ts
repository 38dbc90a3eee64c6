import { describe, expect, it } from 'vitest';
import { decodeSequenced } from '../../../src/cache/engine/coherence/wire.js';

describe('the inbox numbering header (#<seq>:<redis now>;)', () => {
  it('reads the number, the time and the message after it', () => {
    const out = decodeSequenced(Buffer.from('#42:1796407993962;hb:12.5:1796407993962'));
    expect(out && { seq: out.seq, redisNow: out.redisNow, rest: out.rest.toString() }).toEqual({ seq: 42, redisNow: 1796407993962, rest: 'hb:12.5:1796407993962' });
    expect(decodeSequenced(Buffer.from('#1:2;'))?.rest.length).toBe(0);
  });

  it('anything else is not numbered: acks, and malformed headers', () => {
    for (const raw of ['a:msg:from', '', '#', '#:1;x', '#1;x', '#1:;x', '#1:2x', '#x:2;', '#1:2', `#${'9'.repeat(20)}:1;x`]) {
      expect(decodeSequenced(Buffer.from(raw)), raw).toBeUndefined();
    }
  });
});
