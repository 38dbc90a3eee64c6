// @ts-check
/**
 * The demo client (README "Demo client"): log in or register, the conversation list kept live by the
 * stream, a conversation's history, sending, marking read, starting a direct conversation, leaving.
 * Only the public API, through the typed client of api.js.
 */
import { api, ApiError, compareIds, unwrap, useToken } from './api.js';
import { LiveList } from './live-list.js';
import { conversationEntry, membersPreview, messageEntry, titleOf } from './render.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').Message} Message */
/** @typedef {import('./live-list.js').MessageFrame} MessageFrame */

const SESSION_KEY = 'chatgate.session';
const HISTORY_LIMIT = 50;
const STATUS_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', syncing: 'Catching up…' };

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} type
 * @returns {T}
 */
function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing from index.html`);
  return node;
}

const ui = {
  status: byId('status', HTMLElement),
  error: byId('error', HTMLElement),
  me: byId('me', HTMLElement),
  meName: byId('me-name', HTMLElement),
  logout: byId('logout', HTMLButtonElement),
  auth: byId('auth', HTMLElement),
  authForm: byId('auth-form', HTMLFormElement),
  username: byId('username', HTMLInputElement),
  password: byId('password', HTMLInputElement),
  displayName: byId('display-name', HTMLInputElement),
  chat: byId('chat', HTMLElement),
  directForm: byId('direct-form', HTMLFormElement),
  directUsername: byId('direct-username', HTMLInputElement),
  list: byId('conversations', HTMLUListElement),
  empty: byId('empty', HTMLElement),
  title: byId('conversation-title', HTMLElement),
  members: byId('conversation-members', HTMLElement),
  leave: byId('leave', HTMLButtonElement),
  messages: byId('messages', HTMLOListElement),
  sendForm: byId('send-form', HTMLFormElement),
  messageInput: byId('message-input', HTMLInputElement),
};

/** @type {Session | undefined} */
let session;
/** @type {string | undefined} */
let openId;
/** @type {Map<string, Message>} the open conversation's messages */
let messages = new Map();

const live = new LiveList({
  onChange: renderList,
  onRemoved: (id) => {
    if (id === openId) closeConversation();
  },
  onMessage: receiveMessage,
  onSynced: () => {
    // Message frames of the open conversation may have been missed too.
    if (openId !== undefined) void openConversation(openId).catch(showError);
  },
  onState: (state) => {
    ui.status.textContent = STATUS_TEXT[state];
  },
  onUnauthorized: () => logout('Your session has expired: log in again.'),
  onError: showError,
});

function showError(/** @type {unknown} */ err) {
  if (err instanceof ApiError && err.status === 401 && session) return logout('Your session has expired: log in again.');
  ui.error.textContent = err instanceof Error ? err.message : String(err);
}

function clearError() {
  ui.error.textContent = '';
}

function start(/** @type {Session} */ s) {
  session = s;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  useToken(s.token);
  ui.meName.textContent = `${s.user.displayName} (@${s.user.username})`;
  ui.auth.hidden = true;
  ui.chat.hidden = false;
  ui.me.hidden = false;
  live.start(s.token);
}

function logout(message = '') {
  live.stop();
  session = undefined;
  sessionStorage.removeItem(SESSION_KEY);
  useToken(undefined);
  closeConversation();
  renderList();
  ui.chat.hidden = true;
  ui.me.hidden = true;
  ui.auth.hidden = false;
  ui.status.textContent = 'Signed out';
  ui.error.textContent = message;
}

function renderList() {
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.open : undefined;
  const items = live.sorted();
  ui.list.replaceChildren(...items.map((item) => conversationEntry(item, item.id === openId)));
  ui.empty.hidden = items.length > 0;
  // The list is rebuilt on every change: keyboard users keep their place in it.
  if (focused !== undefined) /** @type {HTMLButtonElement | null} */ (ui.list.querySelector(`[data-open="${CSS.escape(focused)}"]`))?.focus();
  const open = openId === undefined ? undefined : live.items.get(openId);
  if (open) {
    ui.title.textContent = titleOf(open);
    ui.members.textContent = `${open.memberCount} members: ${membersPreview(open)}`;
  }
}

/** Oldest first, as a chat shows them. */
function renderMessages() {
  const ordered = [...messages.values()].sort((a, b) => (a.createdAt === b.createdAt ? compareIds(a.id, b.id) : a.createdAt < b.createdAt ? -1 : 1));
  ui.messages.replaceChildren(...ordered.map(messageEntry));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

async function openConversation(/** @type {string} */ id) {
  const switching = id !== openId;
  openId = id;
  if (switching) messages = new Map();
  ui.leave.hidden = false;
  ui.sendForm.hidden = false;
  renderList();
  ui.messages.setAttribute('aria-busy', 'true');
  const history = await unwrap(
    api.GET('/api/v1/conversations/{id}/messages', { params: { path: { id }, query: { limit: HISTORY_LIMIT } } }),
  ).finally(() => ui.messages.setAttribute('aria-busy', 'false'));
  if (openId !== id) return;
  // Newest first: what was sent or pushed after the page was read stays.
  const newest = history[0]?.id ?? '0';
  const later = [...messages.values()].filter((m) => compareIds(m.id, newest) > 0);
  messages = new Map([...history, ...later].map((m) => [m.id, m]));
  renderMessages();
  await markRead(id);
}

function closeConversation() {
  openId = undefined;
  messages = new Map();
  ui.title.textContent = 'No conversation open';
  ui.members.textContent = '';
  ui.leave.hidden = true;
  ui.sendForm.hidden = true;
  ui.messages.replaceChildren();
}

async function markRead(/** @type {string} */ id, /** @type {string | undefined} */ messageId = undefined) {
  const item = await unwrap(api.POST('/api/v1/conversations/{id}/read', { params: { path: { id } }, body: messageId ? { messageId } : {} }));
  live.put(item);
}

function receiveMessage(/** @type {MessageFrame} */ frame) {
  if (frame.conversationId !== openId) return;
  if (frame.event === 'deleted' || frame.message === null) messages.delete(frame.messageId);
  else messages.set(frame.messageId, frame.message);
  renderMessages();
  const fromOthers = frame.event === 'created' && frame.message?.senderId !== session?.user.id;
  if (fromOthers && document.visibilityState === 'visible') void markRead(frame.conversationId, frame.messageId).catch(showError);
}

ui.authForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const action = event.submitter instanceof HTMLButtonElement ? event.submitter.value : 'login';
  const body = { username: ui.username.value.trim(), password: ui.password.value };
  const displayName = ui.displayName.value.trim();
  const call =
    action === 'register'
      ? api.POST('/api/v1/auth/register', { body: displayName ? { ...body, displayName } : body })
      : api.POST('/api/v1/auth/login', { body });
  unwrap(call).then((s) => {
    ui.password.value = '';
    start(s);
  }, showError);
});

ui.logout.addEventListener('click', () => logout());

ui.list.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-open]') : null;
  if (!(button instanceof HTMLButtonElement) || button.dataset.open === undefined) return;
  clearError();
  openConversation(button.dataset.open).catch(showError);
});

ui.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const id = openId;
  const content = ui.messageInput.value;
  if (id === undefined || content.trim() === '') return;
  clearError();
  unwrap(api.POST('/api/v1/conversations/{id}/messages', { params: { path: { id } }, body: { content } })).then((message) => {
    ui.messageInput.value = '';
    if (openId !== id) return;
    messages.set(message.id, message);
    renderMessages();
  }, showError);
});

ui.directForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const username = ui.directUsername.value.trim().toLowerCase();
  (async () => {
    const other = await unwrap(api.GET('/api/v1/users/{idOrUsername}', { params: { path: { idOrUsername: username } } }));
    const item = await unwrap(api.POST('/api/v1/conversations', { body: { type: 'direct', memberIds: [other.id] } }));
    ui.directUsername.value = '';
    live.put(item);
    await openConversation(item.id);
  })().catch(showError);
});

ui.leave.addEventListener('click', () => {
  const id = openId;
  if (id === undefined || !session) return;
  clearError();
  unwrap(api.DELETE('/api/v1/conversations/{id}/members/{userId}', { params: { path: { id, userId: session.user.id } } })).then(() => {
    live.drop(id);
    closeConversation();
    renderList();
  }, showError);
});

/** A session of this tab (a reload keeps it), checked before it is used. */
async function resume() {
  const stored = sessionStorage.getItem(SESSION_KEY);
  if (stored === null) return;
  const s = /** @type {Session} */ (JSON.parse(stored));
  useToken(s.token);
  try {
    start({ user: await unwrap(api.GET('/api/v1/auth/me')), token: s.token });
  } catch (err) {
    logout(err instanceof ApiError && err.status === 401 ? 'Your session has expired: log in again.' : '');
  }
}

void resume();
