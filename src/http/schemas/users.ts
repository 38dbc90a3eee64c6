import { Type } from 'typebox';
import { LIMITS } from '../../model/limits.js';
import { Avatar, Id, Timestamp } from './common.js';

export const UserSummary = Type.Object(
  { id: Id, username: Type.String(), displayName: Type.String(), avatar: Type.Union([Type.String(), Type.Null()]) },
  { $id: 'UserSummary' },
);

export const User = Type.Object(
  {
    id: Id,
    username: Type.String(),
    displayName: Type.String(),
    avatar: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
  },
  { $id: 'User' },
);

export const Username = Type.String({
  minLength: LIMITS.usernameMin,
  maxLength: LIMITS.usernameMax,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: 'a-z 0-9 _ . - (stored lower-case)',
});
const Password = Type.String({ minLength: LIMITS.passwordMin, maxLength: LIMITS.passwordMax });
const DisplayName = Type.String({ minLength: 1, maxLength: LIMITS.displayNameMax, pattern: '\\S' });

export const RegisterBody = Type.Object(
  { username: Username, password: Password, displayName: Type.Optional(DisplayName) },
  { additionalProperties: false },
);
export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: LIMITS.passwordMax }) },
  { additionalProperties: false },
);
export const AuthResult = Type.Object({ user: Type.Ref('User'), token: Type.String() });

export const ProfilePatch = Type.Object(
  { displayName: Type.Optional(DisplayName), avatar: Type.Optional(Avatar) },
  { additionalProperties: false, minProperties: 1 },
);
export const UserLookupParams = Type.Object(
  { idOrUsername: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }) },
  { additionalProperties: false },
);
