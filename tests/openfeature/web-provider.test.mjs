// The official OpenFeature web provider in a real browser, from another origin.
//
// `@openfeature/web-sdk` with `@openfeature/ofrep-web-provider` (bulk
// evaluation, change notifications over the advertised event stream),
// bundled unchanged by esbuild into a page that a small static server serves
// on another port than the service's: every request the provider makes is
// cross-origin, as a web app's would be. Debian's headless Chromium, driven
// by playwright-core, opens the page with a client key of `development`
// (made here: production asks for approval of the change this file makes).
//
// Proves: a value of each type, typed errors (flag not found, type
// mismatch), a context change re-evaluating, a change on the server reaching
// the open page through the event stream (opened with the advertised
// stream-only credential; the provider's poll interval is an hour, so
// nothing else can bring it), and no console error on the page. Prints the
// latency from a change on the server to the page seeing it.
//
// Run by tests/openfeature/run (FF_OFREP_URL, FF_ADMIN_TOKEN).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const baseUrl = process.env.FF_OFREP_URL;
const adminToken = process.env.FF_ADMIN_TOKEN;
assert.ok(baseUrl && adminToken, 'FF_OFREP_URL and FF_ADMIN_TOKEN are set (run tests/openfeature/run)');

// The provider re-fetches on its own only every hour: a change seen sooner
// came through the event stream.
const POLL_INTERVAL_MS = 60 * 60 * 1000;

/** The page's script: the provider set up as an app would, and a small
 * surface for the test (`window.flags`). The browser's own EventSource is
 * wrapped only to note when messages arrive; the provider uses it as is. */
const PAGE_SCRIPT = `
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const streams = [];
const NativeEventSource = window.EventSource;
window.EventSource = class extends NativeEventSource {
  constructor(url, init) {
    super(url, init);
    const noted = { url: String(url), opened: false, messages: [] };
    streams.push(noted);
    this.addEventListener('open', () => { noted.opened = true; });
    this.addEventListener('message', (event) => noted.messages.push({ at: Date.now(), data: event.data }));
  }
};

const changes = [];
window.flags = {
  streams,
  changes,
  async start(baseUrl, key, pollInterval) {
    const provider = new OFREPWebProvider({
      baseUrl,
      headers: [['Authorization', 'Bearer ' + key]],
      pollInterval,
      cacheMode: 'disabled',
    });
    OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, (event) => {
      changes.push({ at: Date.now(), flags: event.flagsChanged ?? [] });
    });
    await OpenFeature.setProviderAndWait(provider);
  },
  setContext: (context) => OpenFeature.setContext(context),
  details(type, flag, fallback) {
    const client = OpenFeature.getClient();
    const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' }[type];
    const { value, reason, variant, errorCode } = client[method](flag, fallback);
    return { value, reason, variant: variant ?? null, errorCode: errorCode ?? null };
  },
};
`;

/** An admin API call; fails the test on an unexpected status. */
async function admin(method, path, body, expect = [200, 201]) {
  const response = await fetch(baseUrl + path, {
    method,
    headers: {
      Authorization: `Bearer ${adminToken}`,
      'Content-Type': 'application/json',
      // production is protected: every change says why.
      'X-Change-Reason': 'tests/openfeature/web-provider.test.mjs',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(expect.includes(response.status), `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

let clientKey;
let server;
let pageOrigin;
let browser;
let page;
const consoleErrors = [];
const requests = [];

before(async () => {
  ({ key: clientKey } = await admin('POST', '/api/v1/api-keys',
    { name: 'web provider tests', kind: 'client', environment: 'development' }, [201]));
  // The flag this file changes while the page is open.
  await admin('POST', '/api/v1/flags', {
    flag_id: 'web_banner',
    description: 'changed by tests/openfeature/web-provider.test.mjs while a page is open',
    type: 'string',
    default_value: 'before',
  }, [201]);

  const bundle = await build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: import.meta.dirname, sourcefile: 'page.js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0].text;
  const html = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>web provider</title>'
    + '<link rel="icon" href="data:,"><script type="module" src="/app.js"></script></head>'
    + '<body><p>OpenFeature web provider test page</p></body></html>';
  server = createServer((request, response) => {
    const [type, body] = request.url === '/' ? ['text/html', html]
      : request.url === '/app.js' ? ['text/javascript', script]
      : [null, null];
    if (!type) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': `${type}; charset=utf-8` }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // `localhost` rather than 127.0.0.1: another host name as well as another
  // port than the service's, so the page's origin differs in every part
  // but the scheme.
  pageOrigin = `http://localhost:${server.address().port}`;
  assert.notEqual(new URL(pageOrigin).origin, new URL(baseUrl).origin);

  // playwright-core gives the browser a fresh profile of its own.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A stream the page closes itself (on unload) is not a failure.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') consoleErrors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('request', (request) => requests.push({ url: request.url(), method: request.method(), type: request.resourceType() }));
  await page.goto(pageOrigin + '/');
  await page.waitForFunction(() => window.flags !== undefined);
  await page.evaluate(([url, key, poll]) => window.flags.start(url, key, poll), [baseUrl, clientKey, POLL_INTERVAL_MS]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await new Promise((resolve) => server.close(resolve));
});

const details = (type, flag, fallback) => page.evaluate(([t, f, d]) => window.flags.details(t, f, d), [type, flag, fallback]);

/** The streams the page opened (each `new EventSource`). */
const streams = () => page.evaluate(() => window.flags.streams);
/** Bulk evaluations the page sent (a re-fetch on a notice adds the
 * notice's `?flagConfigEtag=`). */
const bulkRequests = () => requests.filter((r) => {
  const url = new URL(r.url);
  return r.method === 'POST' && url.origin + url.pathname === new URL('/ofrep/v1/evaluate/flags', baseUrl).href;
}).length;

describe('@openfeature/web-sdk + @openfeature/ofrep-web-provider in Chromium, from another origin', () => {
  test('a value of each type', async () => {
    assert.deepEqual(await details('boolean', 'new_payment_flow', false),
      { value: true, reason: 'STATIC', variant: 'default', errorCode: null });
    assert.deepEqual(await details('string', 'checkout_button_color', 'red'),
      { value: 'blue', reason: 'STATIC', variant: 'default', errorCode: null });
    assert.deepEqual(await details('number', 'cart_max_items', 1),
      { value: 10, reason: 'STATIC', variant: 'default', errorCode: null });
    assert.deepEqual(await details('number', 'pricing_discount_rate', 0),
      { value: 10.5, reason: 'STATIC', variant: 'default', errorCode: null });
    assert.deepEqual(await details('object', 'ui_theme_config', { theme: 'none' }),
      { value: { theme: 'light' }, reason: 'STATIC', variant: 'default', errorCode: null });
  });

  test('typed errors: flag not found, type mismatch', async () => {
    assert.deepEqual(await details('boolean', 'web_no_such_flag', true),
      { value: true, reason: 'ERROR', variant: null, errorCode: 'FLAG_NOT_FOUND' });
    assert.deepEqual(await details('number', 'checkout_button_color', 7),
      { value: 7, reason: 'ERROR', variant: null, errorCode: 'TYPE_MISMATCH' });
  });

  test('a context change re-evaluates', async () => {
    assert.equal((await details('string', 'checkout_experience', 'none')).value, 'classic');
    await page.evaluate(() => window.flags.setContext({ targetingKey: 'user-42' }));
    assert.deepEqual(await details('string', 'checkout_experience', 'none'),
      { value: 'express', reason: 'TARGETING_MATCH', variant: 'express', errorCode: null });
    await page.evaluate(() => window.flags.setContext({ targetingKey: 'user-7' }));
    assert.equal((await details('string', 'checkout_experience', 'none')).value, 'classic');
  });

  test('the event stream is opened with the advertised stream credential', async () => {
    const opened = await streams();
    // One stream: re-fetches (here, after each context change) advertise
    // the same URL, so the provider keeps it. A second only where the test
    // crossed the boundary of a credential window (stream_token.rs).
    assert.ok(opened.length >= 1 && opened.length <= 2, JSON.stringify(opened));
    assert.equal(new Set(opened.map((s) => s.url)).size, opened.length, 'no reconnect to the same URL');
    for (const stream of opened) {
      const url = new URL(stream.url);
      assert.equal(url.origin + url.pathname, new URL('/ofrep/v1/stream', baseUrl).href);
      assert.match(url.searchParams.get('token') ?? '', /^s1\./, `a stream credential in ${url}`);
      assert.ok(!stream.url.includes(clientKey), 'not the client key itself');
      assert.ok(stream.opened, `the stream opened (no 401): ${url}`);
    }
    assert.equal(requests.filter((r) => r.type === 'eventsource').length, opened.length);
  });

  test('a change on the server reaches the open page through the stream', async () => {
    assert.equal((await details('string', 'web_banner', 'none')).value, 'before');
    const bulkBefore = bulkRequests();
    const streamsBefore = (await streams()).length;
    const changed = Date.now();
    await admin('PATCH', '/api/v1/flags/web_banner', { environments: { development: 'after' } });
    await page.waitForFunction(() => window.flags.details('string', 'web_banner', 'none').value === 'after',
      null, { timeout: 15_000, polling: 5 });
    const seenAt = await page.evaluate(() => window.flags.changes.findLast((c) => c.flags.includes('web_banner'))?.at);
    assert.ok(seenAt, 'the provider announced the change (ConfigurationChanged naming the flag)');
    const latency = seenAt - changed;
    // The provider polls once an hour: only the stream can have told it.
    assert.ok(latency < POLL_INTERVAL_MS, `${latency} ms`);
    const opened = await streams();
    // The notice came over a stream that was open before the change.
    const notices = opened.slice(0, streamsBefore).flatMap((s) => s.messages)
      .filter((m) => m.at >= changed && m.at <= seenAt);
    assert.ok(notices.some((m) => JSON.parse(m.data).type === 'refetchEvaluation'),
      `a refetchEvaluation notice arrived on the open stream before the page changed: ${JSON.stringify(opened)}`);
    assert.ok(bulkRequests() > bulkBefore, `the provider re-fetched on the notice: ${JSON.stringify(requests)}`);
    console.log(`stream latency: ${latency} ms from the admin API's change request to the page's ConfigurationChanged`);
  });

  test('no console error or warning on the page', async () => {
    assert.deepEqual(consoleErrors, []);
  });
});
