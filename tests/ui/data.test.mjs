// Browser tests of the data pages (run by ./run after ui.test.mjs, against
// the same service): import and export, bulk changes on the flag list,
// people (/users) and the environment comparison with promotion. Each test
// creates the flags it needs (data_…), and leaves ui.test.mjs's alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import {
  url, token, backend, screenshots, browser, api, newPage, axeViolations, enabledIn, assertAccessible, saveScreenshots,
} from "./lib.mjs";

/** Saves the page as it is now (light and dark, at its own width). */
async function snapshot(page, name) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: `${screenshots}/${name}-laptop-${scheme}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: null });
}

/** Creates a flag through the API unless it exists. */
async function flag(document) {
  await api("POST", "/api/v1/flags", document, [201, 409]);
}

test(`${backend}: import a file: preview the diff, then apply`, async () => {
  await flag({ flag_id: "data_import_old", type: "boolean", default_value: false, description: "Before the import" });
  const yaml = [
    "format_version: 1",
    "flags:",
    "  - flag_id: data_import_new",
    "    type: boolean",
    "    default_value: false",
    "    description: Created by an import",
    "    environments:",
    "      development:",
    "        value: true",
    "  - flag_id: data_import_old",
    "    type: boolean",
    "    default_value: false",
    "    description: After the import",
    "",
  ].join("\n");
  const page = await newPage();
  await page.goto(url + "/import");
  await page.setInputFiles("#import-file", { name: "flags.yaml", mimeType: "application/yaml", buffer: Buffer.from(yaml) });
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Preview changes')")]);
  const preview = page.locator(".import-preview");
  assert.match(await preview.locator("h2").first().innerText(), /Preview of flags\.yaml/);
  assert.match(await preview.locator(".import-summary").innerText(), /1 created\s+1 updated\s+0 deleted/);
  assert.match(await preview.innerText(), /data_import_new/);
  // The update's diff, path by path.
  const diff = preview.locator("details.import-diff", { hasText: "data_import_old" });
  const row = diff.locator("tbody tr", { hasText: "description" });
  assert.match(await row.innerText(), /Before the import[\s\S]*After the import/);
  // Nothing changed yet.
  await api("GET", "/api/v1/flags/data_import_new", undefined, [404]);
  assert.deepEqual(await axeViolations(page), [], "import preview accessibility");
  await snapshot(page, "import-preview");
  await page.fill("#import-reason", "flags as code");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Apply 2 changes')")]);
  assert.match(await page.locator(".flash-ok").innerText(), /Imported: 1 created, 1 updated, 0 deleted/);
  const created = await api("GET", "/api/v1/flags/data_import_new");
  assert.equal(created.description, "Created by an import");
  assert.equal(await enabledIn("data_import_new", "development"), true);
  const updated = await api("GET", "/api/v1/flags/data_import_old");
  assert.equal(updated.description, "After the import");
  const audit = await api("GET", "/api/v1/audit?flag_id=data_import_old&action=flag.import");
  assert.equal(audit.items[0].reason, "flags as code");
  await page.context().close();
});

test(`${backend}: an invalid file shows each problem with its path`, async () => {
  const document = {
    flags: [
      {
        flag_id: "data_import_bad",
        default_value: false,
        targeting_rules: [{ conditions: [{ attribute: "plan", operator: "equal", value: "pro" }], value: true, percentage: 120 }],
      },
    ],
  };
  const page = await newPage();
  await page.goto(url + "/import");
  await page.setInputFiles("#import-file", { name: "broken.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(document)) });
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Preview changes')")]);
  const problems = page.locator("#import-problems");
  const text = await problems.innerText();
  assert.match(text, /broken\.json was refused/);
  assert.match(text, /flags\[0\]\.targeting_rules\[0\]\.conditions\[0\]\.operator/);
  assert.match(text, /did you mean "equals"/);
  assert.match(text, /flags\[0\]\.targeting_rules\[0\]\.percentage/);
  // Next to the file field, which points at it.
  assert.equal(await page.locator("#import-file").getAttribute("aria-describedby"), "import-problems");
  await api("GET", "/api/v1/flags/data_import_bad", undefined, [404]);
  // Pasted text that is not a document says so too, and is kept to fix.
  await page.locator("details.paste summary").click();
  await page.fill("#import-text", "flags: [unclosed");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Preview changes')")]);
  assert.match(await page.locator("#import-problems").innerText(), /The pasted document was refused/);
  assert.equal(await page.locator("#import-text").inputValue(), "flags: [unclosed");
  assert.deepEqual(await axeViolations(page), [], "import problems accessibility");
  await snapshot(page, "import-problems");
  await page.context().close();
});

test(`${backend}: export downloads JSON and YAML that parse`, async () => {
  const page = await newPage({ acceptDownloads: true });
  await page.goto(url + "/import");
  for (const format of ["json", "yaml"]) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click(`a:has-text('Download ${format.toUpperCase()}')`),
    ]);
    assert.equal(download.suggestedFilename(), `feature-flags.${format}`);
    const text = readFileSync(await download.path(), "utf8");
    if (format === "json") {
      const parsed = JSON.parse(text);
      assert.equal(parsed.format_version, 1);
      assert.ok(parsed.flags.some((f) => f.flag_id === "new_checkout"));
    } else {
      assert.match(text, /flag_id: new_checkout/);
    }
    // The service reads it back: a dry run finds nothing to change.
    const response = await fetch(`${url}/api/v1/import?dry_run=true&format=${format}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": format === "json" ? "application/json" : "application/yaml" },
      body: text,
    });
    const report = await response.json();
    assert.equal(response.status, 200, JSON.stringify(report));
    assert.deepEqual([report.created.length, report.updated.length], [0, 0], JSON.stringify(report));
  }
  await page.context().close();
});

test(`${backend}: bulk: disable two flags in development, tag three, hold a production change`, async () => {
  for (const n of [1, 2, 3]) {
    await flag({
      flag_id: `data_bulk_${n}`, type: "boolean", default_value: false,
      environments: { development: true, production: { enabled: false } },
    });
  }
  const page = await newPage();
  await page.goto(url + "/flags?q=data_bulk");
  assert.equal(await page.locator("#flag-list tbody tr").count(), 3);
  await page.check("input[data-bulk-pick][value=data_bulk_1]");
  await page.check("input[data-bulk-pick][value=data_bulk_2]");
  assert.match(await page.locator("[data-bulk-count]").innerText(), /2 flags selected/);
  await page.selectOption("#bulk-env", "development");
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=disable]")]);
  assert.match(await page.locator(".flash-ok").innerText(), /2 flags now off in development: data_bulk_1 and data_bulk_2/);
  assert.equal(await enabledIn("data_bulk_1", "development"), false);
  assert.equal(await enabledIn("data_bulk_2", "development"), false);
  assert.equal(await enabledIn("data_bulk_3", "development"), true);
  // The header's box selects every flag shown; one change tags all three.
  await page.check("#pick-all");
  assert.match(await page.locator("[data-bulk-count]").innerText(), /3 flags selected/);
  await page.fill("#bulk-tag", "spring-cleaning");
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=tag]")]);
  assert.match(await page.locator(".flash-ok").innerText(), /Tagged #spring-cleaning/);
  for (const n of [1, 2, 3]) {
    const stored = await api("GET", `/api/v1/flags/data_bulk_${n}`);
    assert.ok(stored.tags.includes("spring-cleaning"), JSON.stringify(stored.tags));
  }
  // Production wants approval: the whole batch is held, and the flash says so.
  await page.check("input[data-bulk-pick][value=data_bulk_1]");
  await page.check("input[data-bulk-pick][value=data_bulk_2]");
  await page.selectOption("#bulk-env", "production");
  await page.fill("#bulk-reason", "launch both");
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=enable]")]);
  assert.match(await page.locator(".flash-warn").innerText(), /Held for approval: cr_/);
  assert.equal(await enabledIn("data_bulk_1", "production"), false);
  // Deleting names the flags before anything happens. A flag exists in
  // production too, so deleting it waits for an approver there.
  await page.check("input[data-bulk-pick][value=data_bulk_3]");
  await page.fill("#bulk-reason", "retired");
  let asked = "";
  page.once("dialog", (dialog) => { asked = dialog.message(); dialog.accept(); });
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=delete]")]);
  assert.match(asked, /Delete 1 flag: data_bulk_3\?/);
  assert.match(await page.locator(".flash-warn").innerText(), /Held for approval: cr_/);
  const held = await api("GET", "/api/v1/change-requests?status=pending&flag_id=data_bulk_3");
  assert.equal(held.items.length, 1);
  await page.context().close();
});

test(`${backend}: bulk without JavaScript: a plain form, delete confirmed on a page`, async () => {
  await flag({ flag_id: "data_nojs_1", type: "boolean", default_value: false, environments: { development: true } });
  await flag({ flag_id: "data_nojs_2", type: "boolean", default_value: false, environments: { development: true } });
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/flags?q=data_nojs");
  // The header's box stands for every flag the search shows.
  await page.check("#pick-all");
  await page.selectOption("#bulk-lifecycle", "cleanup");
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=lifecycle]")]);
  assert.match(await page.locator(".flash-ok").innerText(), /2 flags now in the cleanup stage/);
  assert.equal((await api("GET", "/api/v1/flags/data_nojs_2")).lifecycle, "cleanup");
  await page.check("#pick-all");
  await Promise.all([page.waitForNavigation(), page.click("#bulk button[value=delete]")]);
  assert.match(await page.locator("h1").innerText(), /Delete 2 flags\?/);
  assert.match(await page.locator(".confirm").innerText(), /data_nojs_1 and data_nojs_2 will be deleted/);
  await page.fill("#reason", "cleanup done");
  await Promise.all([page.waitForNavigation(), page.click(".confirm button[type=submit]")]);
  // Both wait for one approval, as one change request.
  assert.match(await page.locator(".flash-warn").innerText(), /Held for approval: cr_/);
  const held = await api("GET", "/api/v1/change-requests?status=pending&flag_id=data_nojs_1");
  assert.equal(held.items.length, 1);
  assert.deepEqual(held.items[0].changes.map((c) => c.flag_id).sort(), ["data_nojs_1", "data_nojs_2"]);
  await page.context().close();
});

test(`${backend}: people: create one, they sign in, disabling ends their session`, async () => {
  const page = await newPage();
  await page.goto(url + "/");
  await page.click("nav a:has-text('Users')");
  assert.match(page.url(), /\/users$/);
  await page.fill("#user-email", "margaret@example.com");
  await page.fill("#user-name", "Margaret Hamilton");
  await page.selectOption("#user-role", "editor");
  // No password typed: one is generated, and shown once.
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Add person')")]);
  const password = (await page.locator("#new-password").innerText()).trim();
  assert.equal(password.length, 20);
  assert.match(await page.locator("#user-list").innerText(), /Margaret Hamilton[\s\S]*margaret@example\.com/);
  // Shown once: the list page again has no password.
  await page.goto(url + "/users");
  assert.equal(await page.locator("#new-password").count(), 0);

  // Margaret signs in with it; as an editor she has no Users link, and the page refuses her.
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  const margaret = await context.newPage();
  await margaret.goto(url + "/");
  await margaret.fill("#email", "margaret@example.com");
  await margaret.fill("#password", password);
  await Promise.all([margaret.waitForNavigation(), margaret.click("button[type=submit]")]);
  assert.match(await margaret.locator(".user").innerText(), /Margaret Hamilton/);
  assert.equal(await margaret.locator("nav a:has-text('Users')").count(), 0);
  const refused = await margaret.goto(url + "/users");
  assert.equal(refused.status(), 403);
  assert.match(await margaret.locator("main").innerText(), /Only admins manage people; you are signed in as editor/);

  // Ada makes her a viewer, then disables her.
  const row = page.locator("#user-list tbody tr", { hasText: "margaret@example.com" });
  await row.locator("select[name=role]").selectOption("viewer");
  await Promise.all([page.waitForNavigation(), row.locator("button:has-text('Change')").click()]);
  assert.match(await page.locator(".flash-ok").innerText(), /margaret@example\.com is now viewer/);
  page.once("dialog", (dialog) => dialog.accept());
  await Promise.all([
    page.waitForNavigation(),
    page.locator("#user-list tbody tr", { hasText: "margaret@example.com" }).locator("button:has-text('Disable')").click(),
  ]);
  assert.match(await page.locator(".flash-ok").innerText(), /margaret@example\.com is disabled/);
  assert.match(await page.locator("#user-list tbody tr", { hasText: "margaret@example.com" }).innerText(), /disabled/);
  const users = await api("GET", "/api/v1/users");
  const account = users.items.find((u) => u.email === "margaret@example.com");
  assert.equal(account.role, "viewer");
  assert.ok(account.disabled_at);
  // Her open session is refused: the next page sends her to sign in.
  await margaret.goto(url + "/flags");
  assert.match(margaret.url(), /\/sign-in\?next=/);
  await context.close();
  await page.context().close();
});

test(`${backend}: compare two environments and promote one flag`, async () => {
  // Staging has its own entry (off), development is on: they differ.
  await flag({
    flag_id: "data_promote", type: "boolean", default_value: false,
    environments: { development: true, staging: { enabled: false }, production: { enabled: false } },
  });
  const page = await newPage();
  await page.goto(url + "/environments");
  // Each child links to its comparison with its parent.
  assert.equal(await page.locator("a[href='/environments/compare?from=staging&to=production']").count(), 1);
  await page.click("a:has-text('Compare environments')");
  assert.match(page.url(), /\/environments\/compare$/);
  await page.selectOption("#cmp-from", "development");
  await page.selectOption("#cmp-to", "staging");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Compare')")]);
  const row = page.locator("#cmp-data_promote");
  assert.match(await row.innerText(), /enabled[\s\S]*on[\s\S]*off/);
  await Promise.all([page.waitForNavigation(), row.locator("button:has-text('Promote')").click()]);
  // The preview: nothing changed yet.
  assert.match(await page.locator("h1").innerText(), /Promote 1 flag from development to staging\?/);
  assert.equal(await enabledIn("data_promote", "staging"), false);
  assert.deepEqual(await axeViolations(page), [], "promotion preview accessibility");
  await snapshot(page, "promote-preview");
  await page.fill("#promote-reason", "ready for QA");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Promote to staging')")]);
  assert.match(await page.locator(".flash-ok").innerText(), /Promoted from development to staging: data_promote/);
  assert.equal(await enabledIn("data_promote", "staging"), true);
  assert.equal(await page.locator("#cmp-data_promote").count(), 0);

  // Into production: approval required, said before the click, held after it.
  await page.goto(url + "/environments/compare?from=staging&to=production");
  assert.match(await page.locator(".compare-summary").innerText(), /production requires approval/);
  const prod = page.locator("#cmp-data_promote");
  await Promise.all([page.waitForNavigation(), prod.locator("button:has-text('Promote')").click()]);
  await page.fill("#promote-reason", "release 2.4");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Promote to production')")]);
  assert.match(await page.locator(".flash-warn").innerText(), /Held for approval: cr_/);
  assert.equal(await enabledIn("data_promote", "production"), false);
  const pending = await api("GET", "/api/v1/change-requests?status=pending&flag_id=data_promote");
  assert.equal(pending.items.length, 1);
  // A pair that is not parent and child explains where promotion comes from.
  await page.goto(url + "/environments/compare?from=development&to=production");
  assert.match(await page.locator(".compare-summary").innerText(), /compare staging → production/);
  await page.context().close();
});

const DATA_PAGES = [
  ["import", "/import"],
  ["flags-bulk", "/flags?q=data_"],
  ["users", "/users"],
  ["compare", "/environments/compare?from=staging&to=production"],
];

test(`${backend}: the data pages have no serious or critical accessibility violation`, async () => {
  await assertAccessible(DATA_PAGES);
});

test(`${backend}: screenshots of the data pages`, { skip: !screenshots }, async () => {
  await saveScreenshots(DATA_PAGES);
});
