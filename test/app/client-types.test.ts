import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE } from '../../scripts/openapi/types.js';
import { CLOSE } from '../../src/push/protocol.js';

const APP_TSCONFIG = resolve('tsconfig.app.json');

/**
 * Type-checks the demo client (public/app/*.js, JSDoc types) as `npm run typecheck` does, with the
 * generated API types replaced by `edit` of them; returns the errors, one line each.
 */
function typeCheckClient(edit: (types: string) => string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(APP_TSCONFIG, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`cannot read ${APP_TSCONFIG}`);
  const host = ts.createCompilerHost(parsed.options);
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => {
    const text = readFile(file);
    return text !== undefined && resolve(file) === API_TYPES_FILE ? edit(text) : text;
  };
  const program = ts.createProgram(parsed.fileNames, parsed.options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(process.cwd().length + 1)}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, ' ');
  });
}

/**
 * The demo client is checked against the document the gateway serves: its calls and the fields it reads
 * are typed by src/http/generated/openapi.ts (which test/http/openapi.test.ts keeps equal to the served
 * document), so a change of the API that the client does not follow fails the typecheck.
 */
describe('the demo client against the API types', () => {
  // `npm run typecheck` checks it against the committed types (tsconfig.app.json); this shows that the
  // check has teeth: the client's JSDoc types really come from the generated file, they are not `any`.
  it('fails to type-check when a field or a route it uses is gone from the types', () => {
    const errors = typeCheckClient((types) => {
      const renamed = types.replace('unreadCount: number;', 'unread: number;');
      const withoutChanges = renamed.replace('"/api/v1/conversations/changes": {', '"/api/v1/conversations/changed": {');
      expect(renamed).not.toBe(types);
      expect(withoutChanges).not.toBe(renamed);
      return withoutChanges;
    });
    expect(errors.filter((e) => e.startsWith('public/app/render.js') && e.includes("'unreadCount'")), errors.join('\n')).not.toEqual([]);
    expect(errors.filter((e) => e.startsWith('public/app/live-list.js') && e.includes('/api/v1/conversations/changes')), errors.join('\n')).not.toEqual([]);
  }, 60_000);

  it('speaks the stream’s protocol: the close code it does not reconnect after, and a bounded backoff', async () => {
    const stream = await import(pathToFileURL(resolve('public/app/stream.js')).href);
    expect(stream.CLOSE_UNAUTHORIZED).toBe(CLOSE.UNAUTHORIZED);
    expect([stream.backoffMs(0, 0), stream.backoffMs(0, 1), stream.backoffMs(1, 1), stream.backoffMs(20, 1)]).toEqual([500, 1000, 2000, 30_000]);
  });
});
