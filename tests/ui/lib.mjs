// What the browser tests share: the service under test (FF_URL,
// FF_ADMIN_TOKEN, FF_BACKEND, FF_SCREENSHOTS), admin API calls, the person
// who signs in, a browser that signs in through the form, axe-core checks
// and screenshots. ./run runs ui.test.mjs first (it starts from an empty
// installation and creates the flags every other file relies on), then the
// other *.test.mjs files in name order, against the same service.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");

export const url = process.env.FF_URL;
export const token = process.env.FF_ADMIN_TOKEN;
export const backend = process.env.FF_BACKEND || "sqlite";
export const screenshots = process.env.FF_SCREENSHOTS || "";
export const auth = { Authorization: `Bearer ${token}` };
// The person who signs in to the pages (created by the admin key).
export const PERSON = { email: "ada@example.com", display_name: "Ada Lovelace", role: "admin", password: "correct horse battery" };

/** An admin API call; fails the test on an unexpected status. */
export async function api(method, path, body, expect = [200, 201, 202]) {
  const response = await fetch(url + path, {
    method,
    headers: { ...auth, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(expect.includes(response.status), `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export let browser;

before(async () => {
  await api("POST", "/api/v1/users", PERSON, [201, 409]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
});

/** A page of a browser that signed in through the sign-in form. */
export async function newPage(options = {}) {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 850 },
    ...options,
  });
  const page = await context.newPage();
  // The interface must never reach another host.
  page.on("request", (request) => {
    assert.ok(request.url().startsWith(url), `request to another host: ${request.url()}`);
  });
  await signIn(page);
  return page;
}

/** The serious and critical axe-core violations of the page shown. */
export async function axeViolations(page) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => await window.axe.run());
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} [${v.impact}] ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`);
}

/** Signs in through the form a page without a session is sent to. */
export async function signIn(page, password = PERSON.password) {
  await page.goto(url + "/");
  assert.match(page.url(), /\/sign-in\?next=/);
  await page.fill("#email", PERSON.email);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}

/** The flag's effective state in an environment, through the API. */
export async function enabledIn(flagId, env) {
  const answer = await api("GET", `/api/v1/flags/${flagId}/environments/${env}`);
  return answer.effective.enabled;
}

/** Checks `pages` ([name, path] pairs) with axe-core, light and dark:
 * no serious or critical violation. */
export async function assertAccessible(pages) {
  const problems = [];
  for (const scheme of ["light", "dark"]) {
    const page = await newPage({ colorScheme: scheme });
    for (const [name, path] of pages) {
      await page.goto(url + path);
      for (const v of await axeViolations(page)) problems.push(`${name} (${scheme}): ${v}`);
    }
    await page.context().close();
  }
  assert.deepEqual(problems, []);
}

/** Saves `pages` ([name, path] pairs) light and dark, at laptop and phone
 * width, under FF_SCREENSHOTS as `<name>-<laptop|phone>-<light|dark>.png`. */
export async function saveScreenshots(pages) {
  mkdirSync(screenshots, { recursive: true });
  const sizes = { laptop: { width: 1366, height: 850 }, phone: { width: 390, height: 844 } };
  for (const [size, viewport] of Object.entries(sizes)) {
    const page = await newPage({ viewport, isMobile: size === "phone" });
    for (const [name, path] of pages) {
      await page.goto(url + path);
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.screenshot({ path: `${screenshots}/${name}-${size}-${scheme}.png`, fullPage: true });
      }
    }
    await page.context().close();
  }
}
