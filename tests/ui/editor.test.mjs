// The flag editor (/new-flag, /flags/{id}/edit), driven in the browser:
// a flag with a targeting rule created through the form (without script:
// every button posts the form back), problems shown next to their fields,
// a conflicting save shown with what changed, protected environments, and
// weighted variants. Runs after ui.test.mjs against the same service.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { url, backend, screenshots, api, newPage, assertAccessible, saveScreenshots } from "./lib.mjs";

/** Clicks a submit button and waits for the page it leads to. */
async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

/** Asserts that the save led to the flag's page with this message (and
 * says what the editor showed instead if it did not). */
async function assertSaved(page, message) {
  if (/\/(edit|new-flag)$/.test(new URL(page.url()).pathname)) {
    const shown = await page.locator("main").innerText();
    assert.fail(`the editor refused the save:\n${shown.slice(0, 1500)}`);
  }
  assert.match(await page.locator(".flash").innerText(), message);
}

/** The button of the form with this visible text (the first if several;
 * "+ Rule" is the flag-level one: button[value='add_rule|*']). */
function button(page, text) {
  return page.locator("form.editor button", { hasText: text }).first();
}

test(`${backend}: a flag with a targeting rule is created through the editor, without script`, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/flags");
  await submit(page, page.locator("a", { hasText: "New flag" }));
  assert.match(page.url(), /\/new-flag$/);
  await page.fill("#f-flag_id", "editor_demo");
  await page.fill("#f-description", "Made in the editor");
  await page.fill("#f-tags", "web, editor");
  // On in development with a rule of its own; off in staging. (Production,
  // protected, keeps following the defaults: creating a flag is never held.)
  await page.check("#f-environments-development input.mode-custom");
  await page.check("input[name='environments.development.enabled']");
  await page.check("#f-environments-development input.rules-own");
  await page.check("#f-environments-staging input.mode-custom");
  await page.uncheck("input[name='environments.staging.enabled']");
  // Adding a rule posts the form back: what was typed and chosen stays.
  await submit(page, page.locator("button[value='add_rule|development']"));
  assert.equal(await page.inputValue("#f-flag_id"), "editor_demo");
  assert.equal(await page.inputValue("#f-description"), "Made in the editor");
  assert.equal(await page.isChecked("input[name='environments.staging.enabled']"), false);
  const rule = "#f-environments-development-targeting_rules-0-";
  assert.equal(await page.locator(`${rule} legend`).innerText(), "Rule 1");
  await page.fill(`${rule}-name`, "italy_and_france");
  await page.fill(`${rule}-conditions-0--attribute`, "country");
  await page.selectOption(`${rule}-conditions-0--operator`, "in");
  await page.fill(`${rule}-conditions-0--value`, "IT, FR");
  await page.selectOption(`${rule}-value`, "true");
  await page.fill(`${rule}-percentage`, "50");
  // A second condition, then removed again.
  await submit(page, page.locator(rule).locator("button", { hasText: "+ Condition" }));
  await page.fill(`${rule}-conditions-1--attribute`, "plan");
  await submit(page, page.locator(rule).locator("button[aria-label='Remove condition 2 of rule 1']"));
  assert.equal(await page.locator(`${rule}-conditions-1--attribute`).count(), 0);
  assert.equal(await page.inputValue(`${rule}-conditions-0--value`), "IT, FR");
  await submit(page, button(page, "Create flag"));
  assert.match(page.url(), /\/flags\/editor_demo\?/);
  await assertSaved(page, /Created editor_demo/);
  const flag = await api("GET", "/api/v1/flags/editor_demo");
  assert.equal(flag.description, "Made in the editor");
  assert.deepEqual(flag.tags, ["web", "editor"]);
  assert.deepEqual(flag.environments, {
    development: {
      enabled: true,
      targeting_rules: [
        {
          name: "italy_and_france",
          conditions: [{ attribute: "country", operator: "in", value: ["IT", "FR"] }],
          value: true,
          percentage: 50,
        },
      ],
    },
    staging: { enabled: false },
  });
  // The audit names the person.
  const audit = await api("GET", "/api/v1/audit?flag_id=editor_demo");
  const entries = audit.items || audit.entries || audit;
  assert.ok(JSON.stringify(entries).includes("ada@example.com"), JSON.stringify(entries).slice(0, 400));
  await page.context().close();
});

test(`${backend}: a problem is shown next to its field and nothing is saved`, async () => {
  const page = await newPage();
  const R = "#f-environments-development-targeting_rules-0-";
  await page.goto(url + "/flags/editor_demo/edit");
  const before = await api("GET", "/api/v1/flags/editor_demo");
  await page.selectOption(R + "-conditions-0--operator", "semver_gte");
  await page.fill(R + "-conditions-0--value", "1.x");
  await page.fill(R + "-percentage", "150");
  await submit(page, button(page, "Save changes"));
  // Each problem next to its field, tied to it for assistive technology.
  const valueError = page.locator(R + "-conditions-0--value-error");
  assert.match(await valueError.innerText(), /"1\.x" is not a semantic version/);
  assert.equal(await page.getAttribute(R + "-conditions-0--value", "aria-invalid"), "true");
  assert.match(await page.locator(R + "-percentage-error").innerText(), /0 (to|and) 100/);
  // The summary lists both, with links to the fields.
  const summary = page.locator("#error-summary");
  assert.match(await summary.locator("h2").innerText(), /2 problems stop this flag from being saved/);
  const links = await summary.locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  assert.ok(links.includes(R + "-conditions-0--value"), links.join(" "));
  // What was typed is still there; the flag is unchanged.
  assert.equal(await page.inputValue(R + "-conditions-0--value"), "1.x");
  const after = await api("GET", "/api/v1/flags/editor_demo");
  assert.equal(after.version, before.version);
  if (screenshots) {
    mkdirSync(screenshots, { recursive: true });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `${screenshots}/editor-problems-laptop-${scheme}.png`, fullPage: true });
    }
  }
  // Fixed, it saves.
  await page.selectOption(R + "-conditions-0--operator", "semver_gte");
  await page.fill(R + "-conditions-0--value", "2.1.0");
  await page.fill(R + "-conditions-0--attribute", "app_version");
  await page.fill(R + "-percentage", "25");
  await submit(page, button(page, "Save changes"));
  await assertSaved(page, /Saved editor_demo/);
  const saved = await api("GET", "/api/v1/flags/editor_demo");
  assert.deepEqual(saved.environments.development.targeting_rules[0].conditions, [
    { attribute: "app_version", operator: "semver_gte", value: "2.1.0" },
  ]);
  assert.equal(saved.environments.development.targeting_rules[0].percentage, 25);
  await page.context().close();
});

test(`${backend}: a save over someone else's change shows what they changed`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/editor_demo/edit");
  await page.fill("#f-description", "Mine");
  // Meanwhile, through the API:
  await api("PATCH", "/api/v1/flags/editor_demo", { description: "Theirs" });
  // The open editor says so without a reload.
  await page.locator("#editor-stale").waitFor({ state: "visible", timeout: 15000 });
  assert.match(await page.locator("#editor-stale").innerText(), /changed elsewhere/);
  assert.equal(await page.inputValue("#f-description"), "Mine");
  await submit(page, button(page, "Save changes"));
  const conflict = page.locator("#conflict");
  assert.match(await conflict.innerText(), /Someone saved this flag while you were editing/);
  assert.match(await conflict.locator("tbody").innerText(), /description[\s\S]*Made in the editor[\s\S]*Theirs/);
  assert.equal((await api("GET", "/api/v1/flags/editor_demo")).description, "Theirs");
  // The form kept "Mine"; saving again replaces theirs, on purpose.
  assert.equal(await page.inputValue("#f-description"), "Mine");
  await submit(page, button(page, "Save changes"));
  await assertSaved(page, /Saved editor_demo/);
  assert.equal((await api("GET", "/api/v1/flags/editor_demo")).description, "Mine");
  await page.context().close();
});

test(`${backend}: production asks for a reason, then holds the change for approval`, async () => {
  const page = await newPage();
  await page.goto(url + "/flags/editor_demo/edit");
  await page.check("#f-environments-production input.mode-custom");
  await page.check("input[name='environments.production.enabled']");
  await submit(page, button(page, "Save changes"));
  const reasonError = page.locator("#f-reason-error");
  assert.match(await reasonError.innerText(), /reason/i);
  // The choice made is still there.
  assert.equal(await page.isChecked("#f-environments-production input.mode-custom"), true);
  await page.fill("#f-reason", "Launch in production");
  await page.check("input[name=confirmed]");
  await submit(page, button(page, "Save changes"));
  await assertSaved(page, /Held for approval/);
  const flag = await api("GET", "/api/v1/flags/editor_demo");
  assert.equal(flag.environments.production, undefined);
  await page.context().close();
});

test(`${backend}: weighted variants and a JSON value`, async () => {
  const page = await newPage();
  await page.goto(url + "/new-flag");
  await page.fill("#f-flag_id", "editor_pricing");
  await page.selectOption("#f-type", "json");
  await submit(page, page.locator("button", { hasText: "update the form" }));
  // A JSON value that does not parse is a problem at its field.
  await page.fill("#f-default_value", '{"tiers": [0, 5');
  await submit(page, button(page, "+ Variant"));
  await submit(page, button(page, "+ Variant"));
  await page.fill("#f-variants-0--name", "control");
  await page.fill("#f-variants-0--value", '{"tiers": [0, 5]}');
  await page.fill("#f-variants-1--name", "generous");
  await page.fill("#f-variants-1--value", '{"tiers": [0, 10]}');
  await submit(page, page.locator("button[value='add_rule|*']"));
  // Choosing a split shows its rows (no script needed: CSS follows the select).
  await page.selectOption("#f-targeting_rules-0--serve", "split");
  await submit(page, page.locator("#f-targeting_rules-0-").locator("button", { hasText: "+ Share" }));
  await submit(page, page.locator("#f-targeting_rules-0-").locator("button", { hasText: "+ Share" }));
  await submit(page, page.locator("#f-targeting_rules-0-").locator("button[aria-label='Remove condition 1 of rule 1']"));
  await page.selectOption("#f-targeting_rules-0--variants-0--variant", "control");
  await page.fill("#f-targeting_rules-0--variants-0--weight", "50");
  await page.selectOption("#f-targeting_rules-0--variants-1--variant", "generous");
  await page.fill("#f-targeting_rules-0--variants-1--weight", "40");
  await submit(page, button(page, "Create flag"));
  assert.match(await page.locator("#f-default_value-error").innerText(), /not valid JSON/);
  await page.fill("#f-default_value", '{"tiers": [0, 5]}');
  await submit(page, button(page, "Create flag"));
  // The engine's own check of the split, at the rule.
  assert.match(await page.locator("#f-targeting_rules-0-").innerText(), /add up to 100, they add up to 90/);
  await page.fill("#f-targeting_rules-0--variants-1--weight", "50");
  await submit(page, button(page, "Create flag"));
  await assertSaved(page, /Created editor_pricing/);
  const flag = await api("GET", "/api/v1/flags/editor_pricing");
  assert.deepEqual(flag.default_value, { tiers: [0, 5] });
  assert.deepEqual(flag.variants, { control: { tiers: [0, 5] }, generous: { tiers: [0, 10] } });
  assert.deepEqual(flag.targeting_rules, [
    { name: "rule_1", variants: [{ variant: "control", weight: 50 }, { variant: "generous", weight: 50 }] },
  ]);
  await page.context().close();
});

test(`${backend}: a viewer cannot open the editor`, async () => {
  const key = await api("POST", "/api/v1/api-keys", { name: "viewer for editor test", kind: "admin", role: "viewer" });
  const response = await fetch(url + "/flags/editor_demo/edit", { headers: { Authorization: `Bearer ${key.secret || key.key}` } });
  assert.equal(response.status, 403);
});

const EDITOR_PAGES = [
  ["editor-new", "/new-flag"],
  ["editor", "/flags/new_checkout/edit"],
];

test(`${backend}: the editor has no serious or critical accessibility violation`, async () => {
  await assertAccessible(EDITOR_PAGES);
});

test(`${backend}: screenshots of the editor`, { skip: !screenshots }, async () => {
  await saveScreenshots(EDITOR_PAGES);
});
