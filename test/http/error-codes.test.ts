import { describe, expect, it } from 'vitest';
import { errorShapeProblem } from '../../scripts/fuzz/checks.js';
import { AppError, ERROR_CODES, ErrorCodes, resyncRequired } from '../../src/errors.js';
import { classify } from '../../src/http/plugins/errors.js';

const wire = (status: number, code: string) => ({
  status,
  headers: { 'content-type': 'application/json' },
  text: JSON.stringify({ success: false, error: { code, message: 'm' } }),
  ms: 0,
});

/** src/errors.ts is the one table of codes; the HTTP layer and the fuzzer's oracle read it. */
describe('error codes', () => {
  it('RESYNC_REQUIRED is answered with 410', () => {
    expect(classify(resyncRequired('position too old: reload the list'))).toEqual({
      status: 410,
      code: 'RESYNC_REQUIRED',
      message: 'position too old: reload the list',
    });
  });

  it('every code leaves with the status of its table entry', () => {
    expect(ERROR_CODES).toContain('RESYNC_REQUIRED');
    for (const code of ERROR_CODES) expect(classify(new AppError(code, 'x')).status).toBe(ErrorCodes[code]);
  });

  it("a bare 4xx from Fastify or a plugin gets the code of its status, or the nearest one's", () => {
    const bare = (statusCode: number) => classify(Object.assign(new Error('bare'), { statusCode })).code;
    expect(bare(401)).toBe('UNAUTHORIZED');
    expect(bare(410)).toBe('RESYNC_REQUIRED');
    expect(bare(429)).toBe('RATE_LIMITED');
    expect(bare(405)).toBe('NOT_FOUND');
    expect(classify(Object.assign(new Error('bare'), { statusCode: 405 })).status).toBe(404);
    expect(bare(418)).toBe('VALIDATION_ERROR');
  });

  it("the fuzzer's oracle accepts each code with its status only", () => {
    expect(errorShapeProblem(wire(410, 'RESYNC_REQUIRED'))).toBeUndefined();
    expect(errorShapeProblem(wire(500, 'INTERNAL'))).toBeUndefined();
    expect(errorShapeProblem(wire(400, 'RESYNC_REQUIRED'))).toBe('error.code RESYNC_REQUIRED goes with 410, not 400');
    expect(errorShapeProblem(wire(400, 'toString'))).toBe('error.code "toString" is not a contract code');
    expect(errorShapeProblem(wire(400, 'BAD_THING'))).toBe('error.code "BAD_THING" is not a contract code');
  });
});
