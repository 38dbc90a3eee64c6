// @ts-check
/** The list's and the conversation's DOM. User content goes in as text only, never as HTML. */

/** @typedef {import('./api.js').ConversationListItem} ConversationListItem */
/** @typedef {import('./api.js').Message} Message */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} attributes
 * @param {(Node | string)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function titleOf(/** @type {ConversationListItem} */ item) {
  return item.title ?? '(untitled)';
}

/** Up to three members by name, and how many more there are. */
export function membersPreview(/** @type {ConversationListItem} */ item) {
  const names = item.members.slice(0, 3).map((m) => m.user.displayName);
  const more = item.memberCount - names.length;
  return more > 0 ? `${names.join(', ')} +${more}` : names.join(', ');
}

function lastMessageText(/** @type {ConversationListItem} */ item) {
  const last = item.lastMessage;
  return last ? `${last.sender.displayName}: ${last.content}` : 'No messages yet';
}

/** One entry of the conversation list: a button that opens it. */
export function conversationEntry(/** @type {ConversationListItem} */ item, /** @type {boolean} */ current) {
  const button = h(
    'button',
    { type: 'button', 'data-open': item.id, 'aria-current': String(current) },
    h('span', { class: 'title' }, titleOf(item)),
    h('span', { class: 'last' }, lastMessageText(item)),
    h('span', { class: 'members muted' }, membersPreview(item)),
  );
  if (item.unreadCount > 0) {
    button.append(h('span', { class: 'unread', 'aria-label': `${item.unreadCount} unread` }, String(item.unreadCount)));
  }
  return h('li', { 'data-conversation-id': item.id }, button);
}

function clock(/** @type {string} */ iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function messageEntry(/** @type {Message} */ message) {
  return h(
    'li',
    { 'data-message-id': message.id },
    h('span', { class: 'sender' }, message.sender.displayName),
    h('time', { datetime: message.createdAt }, clock(message.createdAt) + (message.editedAt ? ' (edited)' : '')),
    h('p', { class: 'content' }, message.content),
  );
}
