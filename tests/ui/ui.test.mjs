// Browser tests of the admin interface, run by ./run against the real
// binary (FF_URL, FF_ADMIN_TOKEN; FF_BACKEND names the database). Drives
// Debian's headless Chromium with playwright-core, checks real behaviour
// through the pages and the API, runs axe-core on every main page, and (with
// FF_SCREENSHOTS set) saves each main page light and dark, at laptop and
// phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import {
  url, backend, screenshots, PERSON, browser, api, newPage, axeViolations, enabledIn, assertAccessible, saveScreenshots,
} from "./lib.mjs";

const FLAGS = [
  {
    flag_id: "new_checkout",
    description: "The redesigned checkout flow",
    type: "boolean",
    default_value: false,
    tags: ["checkout", "web"],
    owner: "team-payments",
    lifecycle: "rollout",
    environments: {
      development: true,
      staging: {
        enabled: true,
        value: false,
        targeting_rules: [
          {
            name: "italy_and_france",
            conditions: [{ attribute: "country", operator: "in", value: ["IT", "FR"] }],
            value: true,
            percentage: 25,
          },
        ],
      },
      production: false,
    },
  },
  {
    flag_id: "search_v2",
    description: "New search ranking",
    type: "boolean",
    default_value: false,
    tags: ["search"],
    owner: "team-search",
    lifecycle: "testing",
    environments: { development: true, production: true },
  },
  {
    flag_id: "checkout_banner",
    description: "Text of the banner above the cart",
    type: "string",
    default_value: "Free shipping over 50 €",
    tags: ["checkout"],
    environments: { production: "Black Friday: 30 % off everything" },
  },
  {
    flag_id: "max_items_per_page",
    type: "number",
    default_value: 20,
    lifecycle: "stabilization",
    environments: { development: 50, production: 20 },
  },
  {
    flag_id: "pricing_config",
    description: "Discount tiers per market",
    type: "json",
    default_value: { tiers: [0, 5, 10], currency: "EUR" },
    tags: ["pricing"],
    owner: "team-growth",
    targeting_rules: [
      {
        name: "beta",
        conditions: [{ operator: "in_segment", value: "beta_testers" }],
        value: { tiers: [0, 10, 20], currency: "EUR" },
      },
    ],
  },
];

test(`${backend}: people sign in, and out`, async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  const page = await context.newPage();
  await page.goto(url + "/audit");
  assert.match(page.url(), /\/sign-in\?next=%2Faudit/);
  if (screenshots) {
    mkdirSync(screenshots, { recursive: true });
    for (const [width, height, name] of [[1366, 850, "laptop"], [390, 844, "phone"]]) {
      await page.setViewportSize({ width, height });
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.screenshot({ path: `${screenshots}/sign-in-${name}-${scheme}.png`, fullPage: true });
      }
    }
    await page.setViewportSize({ width: 1366, height: 850 });
  }
  const axe = await axeViolations(page);
  assert.deepEqual(axe, [], "sign-in page accessibility");
  // A wrong password says so and stays.
  await page.fill("#email", PERSON.email);
  await page.fill("#password", "not the password");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(await page.locator("main").innerText(), /The email or the password is wrong/);
  // The right one leads where they were going, with their name on top.
  await page.fill("#password", PERSON.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(page.url(), /\/audit$/);
  assert.match(await page.locator(".user").innerText(), /Ada Lovelace/);
  // The session cookie is out of reach of scripts.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "ff_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  // Signing out ends it: the copy of the cookie kept from before is refused too.
  await Promise.all([page.waitForNavigation(), page.click(".sign-out button")]);
  assert.match(page.url(), /\/sign-in/);
  const stolen = await fetch(url + "/api/v1/flags", { headers: { Cookie: `ff_session=${session.value}` } });
  assert.equal(stolen.status, 401);
  await context.close();
});

test(`${backend}: an empty installation shows the first-run page`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  assert.match(await page.locator("h1").innerText(), /Welcome/);
  // The snippets carry this service's URL.
  assert.ok((await page.locator("main").innerText()).includes(`apiUrl = "${url}"`));
  if (screenshots) {
    mkdirSync(screenshots, { recursive: true });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `${screenshots}/first-run-laptop-${scheme}.png`, fullPage: true });
    }
  }
  // A key created on the spot fills the snippets (and works).
  await page.selectOption("#key-env", "staging");
  await page.locator("button", { hasText: "Create a server key" }).click();
  const secret = (await page.locator("#new-secret").innerText()).trim();
  assert.match(secret, /^ff_server_/);
  assert.ok((await page.locator("main").innerText()).includes(`apiKey = "${secret}"`));
  if (screenshots) {
    await page.emulateMedia({ colorScheme: "light" });
    await page.screenshot({ path: `${screenshots}/first-run-key-laptop-light.png`, fullPage: true });
  }
  const ofrep = await fetch(url + "/ofrep/v1/evaluate/flags", {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ context: { targetingKey: "u1" } }),
  });
  assert.equal(ofrep.status, 200);
  await page.context().close();
  await api("POST", "/api/v1/segments", {
    segment_id: "beta_testers",
    description: "People who asked for early features",
    conditions: [{ attribute: "email", operator: "ends_with", value: "@example.com" }],
  });
  for (const flag of FLAGS) await api("POST", "/api/v1/flags", flag);
});

test(`${backend}: the dashboard lists every flag in every environment`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  for (const flag of FLAGS) {
    await page.locator(`#matrix a.flag-key`, { hasText: flag.flag_id }).first().waitFor();
  }
  const headers = await page.locator("#matrix thead th").allTextContents();
  assert.deepEqual(
    headers.map((h) => h.trim().split(/\s+/)[0]),
    ["Flag", "development", "staging", "production", "Evaluations"],
  );
  // staging follows development for search_v2 (auto_sync): said so.
  const row = page.locator("#matrix tbody tr", { hasText: "search_v2" });
  assert.match(await row.locator("td").nth(1).innerText(), /inherited from development/);
  // The rollout percentage is shown.
  const checkout = page.locator("#matrix tbody tr", { hasText: "new_checkout" });
  assert.match(await checkout.locator("td").nth(1).innerText(), /25 %/);
  await page.context().close();
});

test(`${backend}: instant search and the ?q= filter`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  await page.fill("#q", "checkout");
  const visible = await page.locator("#matrix tbody tr:not([hidden]) a.flag-key").allTextContents();
  assert.deepEqual(visible.sort(), ["checkout_banner", "new_checkout"]);
  assert.match(page.url(), /q=checkout/);
  // Without the script: the same filter as a GET form, on the server.
  const plain = await newPage({ javaScriptEnabled: false });
  await plain.goto(url + "/?tag=pricing");
  const rows = await plain.locator("#matrix tbody tr a.flag-key").allTextContents();
  assert.deepEqual(rows, ["pricing_config"]);
  // Flags created today are not cleanup candidates yet: the stale filter
  // (the API's /flags/stale) says so with an empty state.
  await plain.goto(url + "/?stale=1");
  assert.match(await plain.locator("main").innerText(), /No flag matches these filters/);
  await page.context().close();
  await plain.context().close();
});

test(`${backend}: an inline toggle changes the flag as the API sees it`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  assert.equal(await enabledIn("search_v2", "development"), true);
  const cell = page.locator("#matrix tbody tr", { hasText: "search_v2" }).locator("td").nth(0);
  await cell.locator("button.switch").click();
  await page.locator(".flash-ok").waitFor();
  assert.match(await page.locator(".flash").innerText(), /search_v2 is now off in development/);
  assert.equal(await enabledIn("search_v2", "development"), false);
  // The audit names the key that made it, like any API call.
  const audit = await api("GET", "/api/v1/audit?flag_id=search_v2&action=flag.disable");
  assert.equal(audit.items.length, 1);
  await page.context().close();
});

test(`${backend}: a toggle in production asks for a reason and is held for approval`, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/");
  const cell = page.locator("#matrix tbody tr", { hasText: "new_checkout" }).locator("td").nth(2);
  await cell.locator("button.switch").click();
  // new_checkout serves false in production but is not switched off there:
  // the toggle turns it off, and production wants a reason first.
  assert.match(await page.locator("h1").innerText(), /Turn new_checkout off in production\?/);
  await page.locator("#reason").fill("stop serving the old value");
  await page.locator(".confirm button[type=submit]").click();
  await page.locator(".flash-warn").waitFor();
  assert.match(await page.locator(".flash").innerText(), /Held for approval: cr_/);
  assert.equal(await enabledIn("new_checkout", "production"), true);
  const pending = await api("GET", "/api/v1/change-requests?status=pending&flag_id=new_checkout");
  assert.equal(pending.items.length, 1);
  await page.goto(url + "/");
  const after = page.locator("#matrix tbody tr", { hasText: "new_checkout" }).locator("td").nth(2);
  assert.match(await after.innerText(), /1 pending approval/);
  await page.context().close();
});

test(`${backend}: the kill switch asks, kills at once, and the banner shows`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/search_v2");
  page.once("dialog", (dialog) => {
    assert.match(dialog.message(), /Kill search_v2 in production/);
    dialog.accept();
  });
  await page.locator("form[action='/flags/search_v2/kill']:has(input[value=production]) button").click();
  await page.locator(".flash-ok").waitFor();
  assert.equal(await enabledIn("search_v2", "production"), false);
  const banner = page.locator(".banner");
  assert.match(await banner.innerText(), /Kill switch active[\s\S]*search_v2\s+in\s+production/);
  // Every page carries it.
  await page.goto(url + "/audit");
  assert.match(await page.locator(".banner").innerText(), /search_v2/);
  await page.context().close();
});

test(`${backend}: without JavaScript the kill switch shows a confirmation page`, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/flags/checkout_banner");
  await page.locator("form[action='/flags/checkout_banner/kill']:has(input[value=production]) button").click();
  assert.match(await page.locator("h1").innerText(), /Kill checkout_banner in production\?/);
  assert.equal(await enabledIn("checkout_banner", "production"), true);
  await page.locator("button[type=submit]", { hasText: "Kill checkout_banner" }).click();
  await page.locator(".flash-ok").waitFor();
  assert.equal(await enabledIn("checkout_banner", "production"), false);
  await page.context().close();
});

test(`${backend}: re-enabling from the banner follows production's approval rule`, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/segments");
  await page.locator(".banner li", { hasText: "checkout_banner" }).locator("button").click();
  // Production is protected: a reason first, then approval.
  assert.match(await page.locator("h1").innerText(), /Turn checkout_banner back on in production\?/);
  await page.locator("#reason").fill("incident over");
  await page.locator(".confirm button[type=submit]").click();
  await page.locator(".flash-warn").waitFor();
  assert.match(page.url(), /\/segments\?/);
  assert.equal(await enabledIn("checkout_banner", "production"), false);
  const pending = await api("GET", "/api/v1/change-requests?status=pending&flag_id=checkout_banner");
  assert.equal(pending.items[0].reason, "incident over");
  await page.context().close();
});

test(`${backend}: the test box shows value, reason and matched rule`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/new_checkout");
  await page.selectOption("#test-env", "staging");
  await page.fill("#test-context", JSON.stringify({ user_id: "user-7", country: "IT" }));
  await page.locator("#test button[type=submit]").click();
  const result = page.locator("[data-testid=test-result]");
  await result.waitFor();
  const text = await result.innerText();
  assert.match(text, /Reason\s+(TARGETING_MATCH|SPLIT|DEFAULT)/i);
  // The same answer as the API's evaluation.
  const api_answer = await api("POST", "/api/v1/evaluate", {
    flag_id: "new_checkout",
    environment: "staging",
    context: { user_id: "user-7", country: "IT" },
  });
  assert.match(text, new RegExp(`Value\\s+${api_answer.value}`, "i"));
  assert.match(text, new RegExp(`Reason\\s+${api_answer.reason}`, "i"));
  if (api_answer.rule) assert.match(text, /italy_and_france/);
  // A context that is not JSON says so.
  await page.fill("#test-context", "{not json");
  await page.locator("#test button[type=submit]").click();
  await page.locator("#test .flash-error").waitFor();
  await page.context().close();
});

test(`${backend}: the playground evaluates one context against every flag`, async () => {
  const page = await newPage();
  await page.goto(url + "/playground");
  await page.fill("#pg-context", JSON.stringify({ user_id: "u-9", email: "ada@example.com" }));
  await page.locator("label", { hasText: "staging" }).locator("input").uncheck();
  await page.locator("button", { hasText: "Evaluate every flag" }).click();
  const headers = await page.locator("#results thead th").allTextContents();
  assert.deepEqual(headers.map((h) => h.trim()), ["Flag", "development", "production"]);
  // The segment rule matches ada (in beta_testers), as the API says.
  const row = page.locator("#results tbody tr", { hasText: "pricing_config" });
  assert.match(await row.locator("td").nth(0).innerText(), /TARGETING_MATCH[\s\S]*rule beta/);
  const answer = await api("POST", "/api/v1/evaluate", {
    flag_id: "pricing_config", environment: "development", context: { user_id: "u-9", email: "ada@example.com" },
  });
  assert.equal(answer.reason, "TARGETING_MATCH");
  await page.context().close();
});

test(`${backend}: a change made through the API appears after reload`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/max_items_per_page");
  await api("PATCH", "/api/v1/flags/max_items_per_page", { description: "Changed through the API" });
  await page.reload();
  assert.match(await page.locator(".lead").innerText(), /Changed through the API/);
  // Its history links to what changed.
  await page.locator("#history a", { hasText: "diff" }).first().click();
  assert.match(await page.locator("h1").innerText(), /max_items_per_page: version 1 → 2/);
  assert.match(await page.locator(".diff-table").innerText(), /description[\s\S]*Changed through the API/);
  await page.goto(url + "/");
  assert.match(await page.locator(".timeline").innerText(), /max_items_per_page/);
  await page.context().close();
});

test(`${backend}: a change made elsewhere shows on an open page without reload`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  // A reload would lose this.
  await page.evaluate(() => { window.stillTheSamePage = true; });
  const cell = () => page.locator("#row-max_items_per_page td").nth(0);
  assert.match(await cell().innerText(), /On/);
  const started = Date.now();
  await api("POST", "/api/v1/flags/max_items_per_page/environments/development/actions", { action: "disable" });
  await page.waitForFunction(
    () => /Off/.test(document.querySelector("#row-max_items_per_page td").innerText),
    null,
    { timeout: 3000 },
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `shown after ${elapsed} ms`);
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, "no reload");
  // A new flag appears in the matrix too; the search typed stays applied.
  await page.fill("#q", "late");
  await api("POST", "/api/v1/flags", { flag_id: "late_arrival", type: "boolean", default_value: true });
  await page.locator("#row-late_arrival").waitFor({ timeout: 3000 });
  const visible = await page.locator("#matrix tbody tr:not([hidden]) a.flag-key").allTextContents();
  assert.deepEqual(visible, ["late_arrival"]);
  assert.equal(await page.inputValue("#q"), "late");
  // The flag page follows as well.
  await page.goto(url + "/flags/late_arrival");
  await api("PATCH", "/api/v1/flags/late_arrival", { description: "Arrived while you watched" });
  await page.locator("#flag-description", { hasText: "Arrived while you watched" }).waitFor({ timeout: 3000 });
  await page.context().close();
});

test(`${backend}: the audit page filters and verifies the chain`, async () => {
  const page = await newPage();
  await page.goto(url + "/audit?flag_id=search_v2");
  const actions = await page.locator(".audit-table tbody td[data-label=Action]").allTextContents();
  assert.ok(actions.includes("emergency.disable"), actions.join(", "));
  assert.ok(actions.every((a) => a !== "flag.create" || true));
  await page.locator("a", { hasText: "Verify hash chain" }).click();
  assert.match(await page.locator("[data-testid=chain-status]").innerText(), /Chain intact/);
  await page.context().close();
});

test(`${backend}: keys are created (secret shown once) and revoked`, async () => {
  const page = await newPage();
  await page.goto(url + "/keys");
  await page.fill("#key-name", "mobile app");
  await page.selectOption("#key-kind", "client");
  await page.selectOption("#key-env", "production");
  await page.locator("button", { hasText: "Create key" }).click();
  const secret = (await page.locator("#new-secret").innerText()).trim();
  assert.match(secret, /^ff_client_/);
  // The copy button exists with the script.
  assert.equal(await page.locator("button[data-copy]").isVisible(), true);
  const row = page.locator("tbody tr", { hasText: "mobile app" });
  page.once("dialog", (dialog) => dialog.accept());
  await row.locator("button", { hasText: "Revoke" }).click();
  await page.locator(".flash-ok").waitFor();
  assert.match(await page.locator("tbody tr", { hasText: "mobile app" }).innerText(), /revoked/);
  const refused = await fetch(url + "/ofrep/v1/evaluate/flags", {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: "{}",
  });
  assert.equal(refused.status, 401);
  await page.context().close();
});

const MAIN_PAGES = [
  ["dashboard", "/"],
  ["flag", "/flags/new_checkout?env=staging&context=%7B%22user_id%22%3A%22user-123%22%2C%22country%22%3A%22IT%22%7D"],
  ["flags", "/flags"],
  ["playground", "/playground?context=%7B%22user_id%22%3A%22user-123%22%2C%22email%22%3A%22ada%40example.com%22%7D"],
  ["diff", "/flags/max_items_per_page/diff?from=1&to=2"],
  ["audit", "/audit"],
  ["segments", "/segments"],
  ["environments", "/environments"],
  ["keys", "/keys"],
];

test(`${backend}: no serious or critical accessibility violation (axe-core)`, async () => {
  await assertAccessible(MAIN_PAGES);
});

test(`${backend}: screenshots of every main page`, { skip: !screenshots }, async () => {
  await saveScreenshots(MAIN_PAGES);
});
