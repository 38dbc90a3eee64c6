import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE } from '../../scripts/openapi/types.js';
import { CLOSE } from '../../src/push/protocol.js';

const APP_TSCONFIG = resolve('tsconfig.app.json');
/** The libraries (lib.dom.d.ts above all) are parsed once for every check of this file. */
const libraries = new Map<string, ts.SourceFile | undefined>();
let previous: ts.Program | undefined;

/**
 * Type-checks the demo client (public/app/*.js, JSDoc types) as `npm run typecheck` does, with the
 * generated API types replaced by `edit` of them; returns the errors, one line each.
 */
function typeCheckClient(edit: (types: string) => string = (t) => t): string[] {
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
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, ...rest) => {
    if (!file.includes('/node_modules/')) return getSourceFile(file, ...rest);
    let parsedFile = libraries.get(file);
    if (!parsedFile) libraries.set(file, (parsedFile = getSourceFile(file, ...rest)));
    return parsedFile;
  };
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host, oldProgram: previous });
  previous = program;
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
  it('type-checks against the committed types, and fails when a field or a route it uses goes', () => {
    expect(typeCheckClient()).toEqual([]);

    const drifted = typeCheckClient((types) => {
      const renamed = types.replace('unreadCount: number;', 'unread: number;');
      const withoutChanges = renamed.replace('"/api/v1/conversations/changes": {', '"/api/v1/conversations/changed": {');
      expect(withoutChanges).not.toBe(renamed);
      expect(renamed).not.toBe(types);
      return withoutChanges;
    });
    expect(drifted.some((e) => e.startsWith('public/app/render.js') && e.includes("'unreadCount'"))).toBe(true);
    expect(drifted.some((e) => e.startsWith('public/app/live-list.js') && e.includes('/api/v1/conversations/changes'))).toBe(true);
  }, 60_000);

  it('speaks the stream’s protocol: the close code it does not reconnect after, and a bounded backoff', async () => {
    const stream = await import(pathToFileURL(resolve('public/app/stream.js')).href);
    expect(stream.CLOSE_UNAUTHORIZED).toBe(CLOSE.UNAUTHORIZED);
    expect([stream.backoffMs(0, 0), stream.backoffMs(0, 1), stream.backoffMs(1, 1), stream.backoffMs(20, 1)]).toEqual([500, 1000, 2000, 30_000]);
  });
});
