/** Input limits of the contract, in one place. */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 128,
  displayNameMax: 64,
  avatarMax: 2048,
  titleMax: 100,
  messageMax: 4000,
  groupOtherMembersMax: 500,
  /** Members of a group or public conversation, all additions included. */
  conversationMembersMax: 1000,
  listLimitMax: 100,
  listLimitDefault: 20,
  historyLimitMax: 100,
  historyLimitDefault: 50,
  bodyMaxBytes: 64 * 1024,
} as const;
