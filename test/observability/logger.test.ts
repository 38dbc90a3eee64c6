import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from '../../src/observability/logger.js';

describe('lazyChildLogger', () => {
  it('makes the child on first use only, with the request bindings, and behaves as one', () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const parent = pino({ level: 'info' }, stream);
    let children = 0;
    const counting = Object.assign(Object.create(parent) as typeof parent, {
      child: (b: Record<string, unknown>, o?: object) => {
        children++;
        return parent.child(b, o);
      },
    });
    const log = lazyChildLogger(counting, { reqId: 'req-1' }, {});
    expect(children).toBe(0); // a request that logs nothing pays nothing
    log.debug('below the level');
    expect(children).toBe(1);
    log.info({ code: 'X' }, 'failed');
    log.error('again');
    expect(children).toBe(1);
    log.child({ part: 'db' }).warn('nested');
    expect(log.level).toBe('info');
    expect(lines.map((l) => [l.reqId, l.msg, l.code, l.part])).toEqual([
      ['req-1', 'failed', 'X', undefined],
      ['req-1', 'again', undefined, undefined],
      ['req-1', 'nested', undefined, 'db'],
    ]);
  });
});
