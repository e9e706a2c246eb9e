// Browser tests of usage metrics and experiments in the admin interface:
// the flag page's usage chart, the dashboard's "last 24 h" column, and the
// experiment pages. Runs after ui.test.mjs against the same service (./run)
// and creates its own flags, key and experiment.
//
// Counts reach the store every 10 s; reading a flag's metrics (the flag
// page does, through the API's handler) adds this node's counts first, so
// the tests see them without waiting.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { url, backend, screenshots, api, newPage, assertAccessible, saveScreenshots } from "./lib.mjs";

const FLAG = "checkout_button";
let serverKey;

/** A call with the staging server key (as an SDK or an app makes it). */
async function asApp(path, body) {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${serverKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

before(async () => {
  await api("POST", "/api/v1/flags", {
    flag_id: FLAG,
    description: "Colour of the checkout button",
    type: "string",
    default_value: "blue",
    variants: { blue: "blue", green: "green" },
    environments: {
      staging: {
        enabled: true,
        value: "blue",
        targeting_rules: [
          { name: "split", conditions: [], variants: [{ variant: "blue", weight: 50 }, { variant: "green", weight: 50 }] },
        ],
      },
    },
  });
  await api("POST", "/api/v1/flags", { flag_id: "never_evaluated", type: "boolean", default_value: false });
  const key = await api("POST", "/api/v1/api-keys", { name: "metrics tests", kind: "server", environment: "staging" });
  serverKey = key.key;
});

test(`${backend}: a flag nobody evaluated says so honestly`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/never_evaluated");
  const usage = await page.locator("#usage").innerText();
  assert.match(usage, /No evaluations counted yet/);
  assert.match(usage, /every 60 s/);
  assert.match(usage, /last evaluated\s+never/i);
  assert.equal(await page.locator("#usage svg.usage-chart").count(), 0);
  await page.context().close();
});

test(`${backend}: SDK reports and OFREP evaluations show in the flag page's chart`, async () => {
  const accepted = await asApp("/api/v1/metrics", {
    sdk: "browser-tests/1.0",
    evaluations: [
      { flag_id: FLAG, variant: "blue", reason: "SPLIT", count: 30 },
      { flag_id: FLAG, variant: "green", reason: "SPLIT", count: 12 },
      { flag_id: FLAG, reason: "ERROR", error_code: "GENERAL", count: 2 },
    ],
  });
  assert.equal(accepted.accepted, 44);
  for (let i = 0; i < 5; i++) {
    await asApp(`/ofrep/v1/evaluate/flags/${FLAG}`, { context: { targetingKey: `visitor-${i}` } });
  }
  const page = await newPage();
  await page.goto(url + `/flags/${FLAG}`);
  const usage = page.locator("#usage");
  assert.equal((await usage.locator("[data-testid=usage-total]").innerText()).trim(), "49");
  // 2 errors of 49.
  assert.match(await usage.innerText(), /error rate\s+4\.1 %/i);
  // The chart names its numbers (title and description) and has a legend in words.
  assert.match(await usage.locator("svg.usage-chart desc").textContent(), /staging: 49/);
  assert.match(await usage.locator(".legend").innerText(), /staging\s+49/);
  assert.match(await usage.locator("svg.usage-chart title").first().textContent(), /Evaluations per hour/);
  // The table behind the chart: staging's column adds up to 49.
  const headers = (await usage.locator("#usage-table thead th").allTextContents()).map((h) => h.trim());
  const column = headers.indexOf("staging");
  assert.ok(column > 0, `no staging column in ${headers}`);
  const cells = await usage.locator(`#usage-table tbody tr`).evaluateAll(
    (rows, column) => rows.map((r) => Number(r.children[column].textContent)), column,
  );
  assert.equal(cells.reduce((a, b) => a + b, 0), 49);
  // The values served: blue at least the 30 reported (OFREP adds some).
  const blue = await usage.locator(".shares li", { hasText: "blue" }).first().innerText();
  assert.ok(Number(blue.match(/\d+/g)[0]) >= 30, blue);
  // Other ranges, chosen with links.
  await page.click("#usage nav a:has-text('Last hour')");
  assert.match(page.url(), /usage=hour/);
  assert.equal((await page.locator("[data-testid=usage-total]").innerText()).trim(), "49");
  assert.match(await page.locator("svg.usage-chart title").first().textContent(), /per minute/);
  await page.click("#usage nav a:has-text('Last 30 days')");
  assert.equal((await page.locator("[data-testid=usage-total]").innerText()).trim(), "49");
  // The API says the same.
  const answer = await api("GET", `/api/v1/flags/${FLAG}/metrics?environment=staging`);
  assert.equal(answer.totals.evaluations, 49);
  await page.context().close();
});

test(`${backend}: the dashboard shows each flag's evaluations in the last 24 hours`, async () => {
  // The column's figure is read again in the background when 10 s old
  // (only the first view of the dashboard waits for it): reload until the
  // counts show.
  const page = await newPage();
  const cell = page.locator(`#row-${FLAG} td.col-usage`);
  const deadline = Date.now() + 30_000;
  let text = "";
  do {
    await page.goto(url + "/");
    text = (await cell.innerText()).trim();
    if (/^49\b/.test(text)) break;
    await page.waitForTimeout(1_000);
  } while (Date.now() < deadline);
  assert.match(text, /^49\b/);
  assert.equal(await cell.locator("svg.sparkline").count(), 1);
  assert.match(await page.locator("#row-never_evaluated td.col-usage").innerText(), /^0\b/);
  await page.context().close();
});

test(`${backend}: an experiment is started in the UI, measured through the API, and stopped`, async () => {
  const page = await newPage();
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(url + "/experiments");
  assert.match(await page.locator("main").innerText(), /No experiment yet/);
  // A refusal of the API comes back as a message, the form filled in again.
  await page.fill("#exp-id", "button_colour");
  await page.selectOption("#exp-flag", FLAG);
  await page.selectOption("#exp-env", "staging");
  await page.fill("#exp-control", "purple");
  await page.fill("#exp-event", "checkout_completed");
  await Promise.all([page.waitForNavigation(), page.click("#new button[type=submit]")]);
  assert.match(await page.locator(".flash-error").innerText(), /control: "purple" is not a variant/);
  assert.equal(await page.inputValue("#exp-id"), "button_colour");
  await page.selectOption("#exp-env", "staging");
  await page.fill("#exp-control", "blue");
  await page.fill("#exp-secondary", "revenue");
  await Promise.all([page.waitForNavigation(), page.click("#new button[type=submit]")]);
  assert.match(page.url(), /\/experiments\/button_colour/);
  assert.match(await page.locator(".flash-ok").innerText(), /button_colour is running/);
  assert.match(await page.locator("#verdict").innerText(), /Not enough data/);

  // Exposures as an SDK reports them, then what users did (a moment
  // later: only events after a user's first exposure count).
  const later = new Date(Date.now() + 2_000).toISOString();
  const users = (variant, n) => Array.from({ length: n }, (_, i) => `${variant}-user-${i}`);
  const exposures = [
    ...users("blue", 120).map((u) => ({ flag_id: FLAG, variant: "blue", user_id: u })),
    ...users("green", 120).map((u) => ({ flag_id: FLAG, variant: "green", user_id: u })),
  ];
  const reported = await asApp("/api/v1/metrics", { exposures });
  assert.equal(reported.exposures, 240);
  const events = [
    ...users("blue", 12).map((u) => ({ event: "checkout_completed", user_id: u, timestamp: later })),
    ...users("green", 36).map((u) => ({ event: "checkout_completed", user_id: u, timestamp: later })),
    ...users("green", 36).map((u) => ({ event: "revenue", user_id: u, value: 20, timestamp: later })),
  ];
  await asApp("/api/v1/track", { events });

  await page.reload();
  const row = (variant) => page.locator(`table[data-metric=checkout_completed] tr[data-variant=${variant}]`);
  const cellsOf = async (variant) => (await row(variant).locator("td").allInnerTexts()).map((t) => t.trim());
  const blue = await cellsOf("blue");
  const green = await cellsOf("green");
  assert.deepEqual(blue.slice(0, 3), ["120", "12", "10.0 %"]);
  assert.deepEqual(green.slice(0, 3), ["120", "36", "30.0 %"]);
  assert.match(blue[4], /control/);
  assert.match(green[4], /^\+200\.0 %/);
  // The verdict and p-value the API gives.
  const results = await api("GET", "/api/v1/experiments/button_colour/results");
  assert.match(await page.locator("#verdict").innerText(), new RegExp(results.verdict.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i"));
  assert.match(results.verdict, /green beats control/);
  const p = results.metrics[0].variants.find((v) => v.name === "green").p_value;
  assert.equal(green[5], p < 0.0001 ? "< 0.0001" : p.toFixed(4));
  // The secondary metric: mean revenue per exposed user.
  const revenue = (await page.locator("table[data-metric=revenue] tr[data-variant=green] td").allInnerTexts()).map((t) => t.trim());
  assert.equal(revenue[0], "120");
  assert.equal(revenue[1], "6.00");

  // The list shows the exposures.
  await page.goto(url + "/experiments");
  const listed = page.locator("#experiments tbody tr", { hasText: "button_colour" });
  assert.match(await listed.innerText(), /running/);
  assert.equal((await listed.locator("td").last().innerText()).trim(), "240");
  await page.goto(url + "/experiments/button_colour");

  // Stop it (the script's dialog asks first).
  await Promise.all([page.waitForNavigation(), page.click("form[action='/experiments/button_colour/stop'] button")]);
  assert.match(await page.locator(".flash-ok").innerText(), /button_colour is stopped/);
  assert.match(await page.locator(".facts").innerText(), /stopped/);
  assert.equal((await api("GET", "/api/v1/experiments/button_colour")).status, "stopped");
  await page.context().close();
});

test(`${backend}: without JavaScript, stopping asks on a page of its own`, async () => {
  await api("POST", "/api/v1/experiments", {
    id: "button_colour_2", flag_id: FLAG, environment: "staging", control: "blue",
    primary_metric: { event: "checkout_completed", kind: "conversion" },
  }, [201]);
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/experiments/button_colour_2");
  await page.click("form[action='/experiments/button_colour_2/stop'] button");
  assert.match(await page.locator("main h1").innerText(), /Stop experiment button_colour_2\?/);
  await page.click("main form button[type=submit]");
  assert.match(await page.locator(".flash-ok").innerText(), /button_colour_2 is stopped/);
  await page.context().close();
});

const PAGES = [
  ["flag-usage", `/flags/${FLAG}?usage=day`],
  ["flag-usage-empty", "/flags/never_evaluated"],
  ["experiments", "/experiments"],
  ["experiment", "/experiments/button_colour"],
  ["dashboard-usage", "/"],
];

test(`${backend}: usage and experiment pages have no serious accessibility violation (axe-core)`, async () => {
  await assertAccessible(PAGES);
});

test(`${backend}: screenshots of the usage and experiment pages`, { skip: !screenshots }, async () => {
  await saveScreenshots(PAGES);
  // The usage card alone on a phone, to look at the chart close up.
  const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await page.goto(url + `/flags/${FLAG}?usage=day`);
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.locator("#usage").screenshot({ path: `${screenshots}/flag-usage-card-phone-${scheme}.png` });
  }
  await page.context().close();
});
