import { Type, type TSchema } from 'typebox';
import { LIMITS } from '../../model/limits.js';
import { ERROR_CODES } from '../../errors.js';

export const Id = Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'A numeric id, as a string' });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' });
export const Avatar = Type.Union([Type.String({ minLength: 1, maxLength: LIMITS.avatarMax }), Type.Null()]);

export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({
      code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
      message: Type.String(),
    }),
  },
  { $id: 'ErrorBody' },
);

export const ok = <T extends TSchema>(data: T) => Type.Object({ success: Type.Literal(true), data });

/** The error responses every authenticated route may give, for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('ErrorBody')]));
export const AUTH_ERRORS = [400, 401, 429, 503];
/** The error responses any route may give before its handler runs: no Host header (400), the rate limit (429). */
export const PUBLIC_ERRORS = [400, 429];

export const ConversationParams = Type.Object({ id: Id }, { additionalProperties: false });
