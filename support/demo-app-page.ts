import type { Browser, Locator, Page } from 'playwright-core';

/** What a conversation's entry in the list shows. */
export interface ListEntry {
  title: string;
  lastMessage: string;
  members: string;
  unread: number;
}

/**
 * The demo client (public/app/) as a user drives it: by labels, roles and visible text, in a browser
 * context of its own (its own session storage: one user per context).
 */
export class DemoAppPage {
  /** Navigations of the main frame: 1 for as long as the page never reloads. */
  navigations = 0;
  /** Uncaught errors of the page's scripts. */
  readonly pageErrors: string[] = [];
  /** What the page did, for the report of a failing test: API answers, stream frames, errors. */
  readonly journal: string[] = [];
  private readonly started = performance.now();

  private constructor(readonly page: Page) {
    // Long enough for a loaded machine, short enough that a stuck wait fails before the test's timeout.
    page.setDefaultTimeout(15_000);
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) this.navigations++;
    });
    page.on('pageerror', (err) => {
      this.pageErrors.push(err.message);
      this.note(`page error: ${err.message}`);
    });
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/')) this.note(`${r.request().method()} ${r.url()} → ${r.status()}`);
    });
    page.on('websocket', (ws) => {
      this.note('stream opened');
      ws.on('framereceived', (f) => this.note(`frame ${String(f.payload).slice(0, 160)}`));
      ws.on('close', () => this.note('stream closed'));
    });
  }

  private note(line: string): void {
    this.journal.push(`${((performance.now() - this.started) / 1000).toFixed(3)}s ${line}`);
  }

  static async open(browser: Browser, baseUrl: string): Promise<DemoAppPage> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 460 }, locale: 'en-GB', timezoneId: 'UTC' });
    const app = new DemoAppPage(await context.newPage());
    await app.page.goto(`${baseUrl}/app/`);
    return app;
  }

  get status(): Locator {
    return this.page.getByRole('status');
  }

  get error(): Locator {
    return this.page.getByRole('alert');
  }

  async waitForStatus(text: string): Promise<void> {
    await this.status.filter({ hasText: new RegExp(`^${text}$`) }).waitFor();
  }

  /** Logs in through the form, and waits until the stream is live. */
  logIn(username: string, password: string): Promise<void> {
    return this.submitAuth('Log in', username, password);
  }

  /** Registers through the form (logged in then), and waits until the stream is live. */
  async register(username: string, password: string, displayName: string): Promise<void> {
    await this.page.getByLabel('Display name').fill(displayName);
    return this.submitAuth('Register', username, password);
  }

  private async submitAuth(button: string, username: string, password: string): Promise<void> {
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: button, exact: true }).click();
    await this.waitForStatus('Live');
  }

  /** The list entry of the conversation titled `title`. */
  entry(title: string): Locator {
    return this.page.locator('#conversations li').filter({ has: this.page.locator('.title').getByText(title, { exact: true }) });
  }

  /** The titles of the list, top to bottom. */
  titles(): Promise<string[]> {
    return this.page.locator('#conversations .title').allTextContents();
  }

  /** What the entry titled `title` shows, or null when the list has no such entry. */
  async read(title: string): Promise<ListEntry | null> {
    const entry = this.entry(title);
    if ((await entry.count()) === 0) return null;
    const unread = entry.locator('.unread');
    return {
      title,
      lastMessage: (await entry.locator('.last').textContent()) ?? '',
      members: (await entry.locator('.members').textContent()) ?? '',
      unread: (await unread.count()) === 0 ? 0 : Number(await unread.textContent()),
    };
  }

  /** Opens the conversation, and waits for its history. */
  async openConversation(title: string): Promise<void> {
    await this.entry(title).getByRole('button').click();
    await this.waitForConversation(title);
  }

  /** The open conversation's messages, oldest first, as "sender: content". */
  async messages(): Promise<string[]> {
    const items = this.page.getByRole('log', { name: 'Messages' }).getByRole('listitem');
    const out: string[] = [];
    for (const item of await items.all()) {
      out.push(`${await item.locator('.sender').textContent()}: ${await item.locator('.content').textContent()}`);
    }
    return out;
  }

  /** Sends through the form and waits until the message shows in the conversation. */
  async send(content: string): Promise<void> {
    await this.page.getByLabel('Message', { exact: true }).fill(content);
    await this.page.getByRole('button', { name: 'Send', exact: true }).click();
    await this.page.getByRole('log', { name: 'Messages' }).getByText(content, { exact: true }).waitFor();
  }

  async startDirect(username: string, title: string): Promise<void> {
    await this.page.getByLabel('Direct conversation with').fill(username);
    await this.page.getByRole('button', { name: 'Start', exact: true }).click();
    await this.waitForConversation(title);
  }

  /** The conversation titled `title` is open and its history loaded. */
  private async waitForConversation(title: string): Promise<void> {
    await this.page.getByRole('heading', { level: 2, name: title, exact: true }).waitFor();
    await this.page.locator('#messages[aria-busy="false"]').waitFor({ state: 'attached' });
  }

  async leave(): Promise<void> {
    await this.page.getByRole('button', { name: 'Leave', exact: true }).click();
    await this.page.getByRole('heading', { level: 2, name: 'No conversation open', exact: true }).waitFor();
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }
}
