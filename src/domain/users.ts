import type { Db } from '../db/index.js';
import { conflict, notFound, unauthorized } from '../errors.js';
import { bumpConversationsShowing } from '../store/list-state.js';
import * as users from '../store/users.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './auth/passwords.js';
import type { TokenService } from './auth/tokens.js';
import type { User } from '../model/model.js';
import type { Writer } from './writer.js';

export interface AuthResult {
  user: User;
  token: string;
}

export class UserService {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
    private readonly tokens: TokenService,
    private readonly adminUsernames: ReadonlySet<string>,
  ) {}

  async register(input: { username: string; password: string; displayName?: string | undefined }): Promise<AuthResult> {
    const username = input.username.toLowerCase();
    const passwordHash = await hashPassword(input.password);
    const user = await this.writer.write(async (tx) => {
      const created = await users.insertUser(tx, {
        username,
        passwordHash,
        displayName: input.displayName?.trim() || username,
      });
      if (!created) throw conflict('username is taken');
      // A new user is in nobody's list yet.
      return {
        result: created,
        event: { kind: 'user.registered', actorId: created.id, conversationId: null, affectedUserIds: [], changed: { conversations: [], memberLists: [] } },
      };
    });
    return { user, token: this.tokens.sign({ sub: user.id, username: user.username }) };
  }

  async login(input: { username: string; password: string }): Promise<AuthResult> {
    const found = await users.findUserByUsername(this.db, input.username.toLowerCase());
    const ok = await verifyPassword(input.password, found?.passwordHash ?? DUMMY_HASH);
    if (!found || !ok) throw unauthorized('wrong username or password');
    const { passwordHash: _hidden, ...user } = found;
    return { user, token: this.tokens.sign({ sub: user.id, username: user.username }) };
  }

  async get(id: string): Promise<User> {
    const user = await users.findUserById(this.db, id);
    if (!user) throw notFound('user');
    return user;
  }

  async lookup(idOrUsername: string): Promise<User> {
    const byId = /^[1-9][0-9]{0,17}$/.test(idOrUsername) ? await users.findUserById(this.db, idOrUsername) : null;
    if (byId) return byId;
    const byName = await users.findUserByUsername(this.db, idOrUsername.toLowerCase());
    if (!byName) throw notFound('user');
    const { passwordHash: _hidden, ...user } = byName;
    return user;
  }

  /** A new name or avatar shows in every co-member's list (previews, direct titles). */
  async updateProfile(userId: string, patch: { displayName?: string | undefined; avatar?: string | null | undefined }): Promise<User> {
    return this.writer.write(async (tx) => {
      const user = await users.updateUserProfile(tx, userId, { ...patch, displayName: patch.displayName?.trim() });
      if (!user) throw notFound('user');
      const showing = await bumpConversationsShowing(tx, userId);
      const affected = await users.coMemberIds(tx, userId);
      return {
        result: user,
        event: {
          kind: 'user.updated',
          actorId: userId,
          conversationId: null,
          affectedUserIds: affected,
          changed: { conversations: showing, memberLists: [] },
        },
      };
    });
  }

  isAdmin(username: string): boolean {
    return this.adminUsernames.has(username.toLowerCase());
  }
}
