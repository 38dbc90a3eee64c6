import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/**
 * Two validators: query strings and params arrive as text, so they are coerced ("20" → 20);
 * bodies are JSON and are not, so `{"content": 123}` is a 400 rather than the string "123".
 */
export function installValidators(app: FastifyInstance, schemas: object[]): void {
  const base: Options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false };
  const make = (coerceTypes: boolean) => {
    const ajv = new Ajv({ ...base, coerceTypes });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    for (const s of schemas) ajv.addSchema(s);
    return ajv;
  };
  const strict = make(false);
  const coercing = make(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
}
