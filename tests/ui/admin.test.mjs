// The admin pages added for issue 11's remaining gaps, driven in the browser
// as people use them: segments created, edited and deleted through their
// form (conditions from the flag editor's dropdowns, problems next to their
// fields, the API's refusal while a flag still uses one); an environment's
// settings edited (parent, auto-sync, approvals, change windows, the
// reason a protected one wants); a flag's rules copied to another
// environment in the editor; environments created and deleted (asked
// first, what stops a deletion said before the click and the API's refusal
// in words after it); and the phone's menu button. Runs after
// ui.test.mjs against the same service; everything it creates is named
// adm_… (its environments are deleted again at the end, so the files after
// it see the installation's three).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import {
  url, token, backend, screenshots, browser, api, newPage, axeViolations, assertAccessible, saveScreenshots,
} from "./lib.mjs";

/** Clicks a submit button (or link) and waits for the page it leads to. */
async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

/** An admin API call with a reason (protected environments want one). */
async function withReason(method, path, reason, expect = [200]) {
  const response = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "X-Change-Reason": reason, "X-Confirm": "true" },
  });
  assert.ok(expect.includes(response.status), `${method} ${path}: ${response.status} ${await response.text()}`);
}

/** Saves the page as it is now (light and dark) under `name`. */
async function snapshot(page, name, size = "laptop") {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: `${screenshots}/${name}-${size}-${scheme}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: null });
}

after(async () => {
  // The environments made here go again (children first); the protected
  // one wants a reason.
  for (const env of ["adm_new_child", "adm_new", "adm_vault", "adm_qa", "adm_locked"]) {
    await withReason("DELETE", `/api/v1/environments/${env}`, "browser test cleanup", [200, 404]);
  }
});

test(`${backend}: a segment is created through its form, without script`, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/segments");
  await submit(page, page.locator("main a", { hasText: "New segment" }));
  assert.match(page.url(), /\/new-segment$/);
  await page.fill("#f-segment_id", "adm_beta");
  await page.fill("#f-description", "People who asked for early features");
  // The first condition's row is there, from the flag editor's dropdowns.
  await page.fill("#f-conditions-0--attribute", "email");
  await page.selectOption("#f-conditions-0--operator", "ends_with");
  await page.fill("#f-conditions-0--value", "@example.com");
  // Adding a row posts the form back; what was typed stays.
  await submit(page, page.locator("button[value=add_condition]"));
  assert.equal(await page.inputValue("#f-segment_id"), "adm_beta");
  assert.equal(await page.inputValue("#f-conditions-0--value"), "@example.com");
  await page.fill("#f-conditions-1--attribute", "country");
  await page.selectOption("#f-conditions-1--operator", "in");
  await page.fill("#f-conditions-1--value", "IT, FR");
  await submit(page, page.locator("button[value=add_condition]"));
  // A number that is not one: the problem is next to its field, and listed.
  await page.fill("#f-conditions-2--attribute", "age");
  await page.selectOption("#f-conditions-2--operator", "gte");
  await page.fill("#f-conditions-2--value", "lots");
  await submit(page, page.locator("button[value=save]"));
  assert.match(page.url(), /\/new-segment$/);
  const error = page.locator("#f-conditions-2--value-error");
  assert.match(await error.innerText(), /number/);
  assert.equal(await page.getAttribute("#f-conditions-2--value", "aria-invalid"), "true");
  assert.match(await page.locator("#error-summary").innerText(), /condition 3 › value/);
  await snapshot(page, "segment-problem");
  // Removed again; the rest is as typed.
  await submit(page, page.locator("button[aria-label='Remove condition 3 of the segment']"));
  assert.equal(await page.locator("#f-conditions-2--value").count(), 0);
  assert.equal(await page.inputValue("#f-conditions-1--value"), "IT, FR");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Created segment adm_beta/);
  const segment = await api("GET", "/api/v1/segments/adm_beta");
  assert.equal(segment.description, "People who asked for early features");
  assert.deepEqual(segment.conditions, [
    { attribute: "email", operator: "ends_with", value: "@example.com" },
    { attribute: "country", operator: "in", value: ["IT", "FR"] },
  ]);
  const row = page.locator("main tbody tr", { hasText: "adm_beta" });
  assert.match(await row.innerText(), /adm_beta[\s\S]*2[\s\S]*no flag/);

  // The same key again: refused by the API, said next to the key.
  await page.goto(url + "/new-segment");
  await page.fill("#f-segment_id", "adm_beta");
  await page.fill("#f-conditions-0--attribute", "plan");
  await page.fill("#f-conditions-0--value", "pro");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-segment_id-error").innerText(), /already exists; choose another key/);
  // A key that is not one: the engine's problem, at the key.
  await page.fill("#f-segment_id", "Not A Key");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-segment_id-error").innerText(), /not a valid|key/i);
  await page.context().close();
});

test(`${backend}: a segment is edited through its form, with the version it was opened on`, async () => {
  const page = await newPage();
  await page.goto(url + "/segments");
  await submit(page, page.locator("a[aria-label='Edit segment adm_beta']"));
  assert.match(page.url(), /\/segments\/adm_beta\/edit$/);
  assert.match(await page.locator("h1").innerText(), /Edit segment adm_beta/);
  // What is stored, read back into the rows.
  assert.equal(await page.inputValue("#f-conditions-1--value"), "IT, FR");
  assert.equal(await page.inputValue("#f-conditions-1--operator"), "in");
  await page.fill("#f-description", "Early adopters");
  await page.fill("#f-conditions-1--value", "IT, FR, DE");
  await page.fill("#f-reason", "Germany joins the beta");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Saved segment adm_beta \(version 2\)/);
  const segment = await api("GET", "/api/v1/segments/adm_beta");
  assert.equal(segment.description, "Early adopters");
  assert.deepEqual(segment.conditions[1].value, ["IT", "FR", "DE"]);
  const audit = await api("GET", "/api/v1/audit?action=segment.update");
  assert.equal(audit.items[0].reason, "Germany joins the beta");

  // Someone else saves meanwhile: the form says so and keeps the edits.
  await page.goto(url + "/segments/adm_beta/edit");
  await api("PUT", "/api/v1/segments/adm_beta", { ...segment, description: "Changed by the API" });
  await page.fill("#f-description", "Mine");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-error").innerText(), /Someone saved this segment while you were editing/);
  assert.equal(await page.inputValue("#f-description"), "Mine");
  assert.equal((await api("GET", "/api/v1/segments/adm_beta")).description, "Changed by the API");
  // Saving again, knowingly, replaces theirs.
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Saved segment adm_beta/);
  assert.equal((await api("GET", "/api/v1/segments/adm_beta")).description, "Mine");
  await page.context().close();
});

test(`${backend}: a segment is deleted only when no flag uses it, and the API's answer is shown`, async () => {
  await api("POST", "/api/v1/segments", { segment_id: "adm_gone", conditions: [{ attribute: "plan", operator: "equals", value: "trial" }] }, [201, 409]);
  await api("POST", "/api/v1/flags", {
    flag_id: "adm_uses_beta", type: "boolean", default_value: false,
    targeting_rules: [{ conditions: [{ operator: "in_segment", value: ["adm_beta"] }], value: true }],
  }, [201, 409]);
  const page = await newPage({ javaScriptEnabled: false });
  // A segment in use offers no delete button, and says which flags use it.
  await page.goto(url + "/segments/adm_beta/edit");
  assert.equal(await page.locator("button", { hasText: "Delete segment" }).count(), 0);
  assert.match(await page.locator(".danger-zone").innerText(), /cannot be deleted while flags use it[\s\S]*adm_uses_beta/);

  // Unused when the page was opened; a flag starts using it before the click.
  await page.goto(url + "/segments/adm_gone/edit");
  // (A rule of development's own: changing it later is not held for
  // production's approval.)
  await api("POST", "/api/v1/flags", {
    flag_id: "adm_uses_gone", type: "boolean", default_value: false,
    environments: {
      development: { enabled: true, targeting_rules: [{ conditions: [{ operator: "in_segment", value: ["adm_gone"] }], value: true }] },
    },
  }, [201, 409]);
  await submit(page, page.locator("button", { hasText: "Delete segment" }));
  // Without script, a confirmation page first, naming the segment.
  assert.match(await page.locator("h1").innerText(), /Delete segment adm_gone\?/);
  await submit(page, page.locator(".confirm button[type=submit]"));
  assert.match(page.url(), /\/segments\/adm_gone\/edit\?/);
  assert.match(await page.locator(".flash-error").innerText(), /segment "adm_gone" is used by adm_uses_gone; change those flags first/);
  await api("GET", "/api/v1/segments/adm_gone");

  // Once the flag no longer uses it, deleting works.
  await api("PUT", "/api/v1/flags/adm_uses_gone/environments/development", { enabled: true });
  await page.goto(url + "/segments/adm_gone/edit");
  await submit(page, page.locator("button", { hasText: "Delete segment" }));
  await submit(page, page.locator(".confirm button[type=submit]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Deleted segment adm_gone/);
  await api("GET", "/api/v1/segments/adm_gone", undefined, [404]);
  await page.context().close();
});

test(`${backend}: rules are copied to another environment in the editor and saved with it`, async () => {
  await api("POST", "/api/v1/flags", {
    flag_id: "adm_copy", type: "boolean", default_value: false,
    environments: {
      development: {
        enabled: true,
        targeting_rules: [
          { name: "italians", conditions: [{ attribute: "country", operator: "in", value: ["IT"] }], value: true, percentage: 30 },
          { name: "staff", conditions: [{ operator: "in_segment", value: ["adm_beta"] }], value: true },
        ],
      },
    },
  }, [201, 409]);
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/flags/adm_copy/edit");
  const copy = page.locator("button[aria-label='Copy rules to staging from development']");
  assert.match(await copy.innerText(), /Copy rules to staging$/);
  await submit(page, copy);
  assert.match(await page.locator(".flash-ok").innerText(), /Copied 2 rules from development to staging\. Nothing is saved yet/);
  // Staging now has settings and rules of its own: the copies.
  assert.equal(await page.isChecked("#f-environments-staging input.mode-custom"), true);
  assert.equal(await page.isChecked("#f-environments-staging input.rules-own"), true);
  const rule = "#f-environments-staging-targeting_rules-0-";
  assert.equal(await page.inputValue(`${rule}-name`), "italians");
  assert.equal(await page.inputValue(`${rule}-conditions-0--value`), "IT");
  assert.equal(await page.inputValue(`${rule}-percentage`), "30");
  // Nothing saved yet.
  assert.equal((await api("GET", "/api/v1/flags/adm_copy")).environments.staging, undefined);
  await snapshot(page, "editor-copied-rules");
  await submit(page, page.locator("form.editor button[value=save]").first());
  assert.match(await page.locator(".flash-ok").innerText(), /Saved adm_copy/);
  const saved = await api("GET", "/api/v1/flags/adm_copy");
  assert.deepEqual(
    saved.environments.staging.targeting_rules.map((r) => r.name),
    ["italians", "staff"],
  );
  assert.equal(saved.environments.staging.targeting_rules[0].percentage, 30);
  // The source keeps its rules.
  assert.equal(saved.environments.development.targeting_rules.length, 2);
  await page.context().close();
});

test(`${backend}: an environment's settings are edited, with the API's problems next to their fields`, async () => {
  await api("POST", "/api/v1/environments", { key: "adm_qa", parent: "staging", description: "QA" }, [201, 409]);
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/environments");
  await submit(page, page.locator("a[aria-label='Edit settings of adm_qa']"));
  assert.match(page.url(), /\/environments\/adm_qa\/edit$/);
  assert.equal(await page.inputValue("#f-parent"), "staging");
  // A root cannot auto-sync: the API's problem, next to the box.
  await page.selectOption("#f-parent", "");
  await page.check("input[name=auto_sync]");
  // The number of approvals shows once approval is asked for.
  assert.equal(await page.isVisible("#f-required_approvals"), false);
  await page.check("input[name=approval_required]");
  await page.fill("#f-required_approvals", "0");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-auto_sync-error").innerText(), /auto_sync needs a parent to follow/);
  assert.match(await page.locator("#f-required_approvals-error").innerText(), /at least 1/);
  assert.match(await page.locator("#error-summary").innerText(), /2 problems stop/);
  await snapshot(page, "environment-problems");
  // What was typed stays; the parent chosen again.
  assert.equal(await page.isChecked("input[name=auto_sync]"), true);
  await page.selectOption("#f-parent", "staging");
  await page.fill("#f-required_approvals", "2");
  // A change window, added by its button: office hours, then a wrong end.
  await submit(page, page.locator("button[value=add_window]"));
  assert.equal(await page.isChecked("input[name='change_windows[0].days'][value=monday]"), true);
  assert.equal(await page.isChecked("input[name='change_windows[0].days'][value=saturday]"), false);
  await page.uncheck("input[name='change_windows[0].days'][value=friday]");
  await page.fill("#f-change_windows-0--end", "08:00");
  await page.fill("#f-change_windows-0--time_zone", "Europe/Rome");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-change_windows-0--end-error").innerText(), /must end after it starts/);
  await snapshot(page, "environment-window-problem");
  await page.fill("#f-change_windows-0--end", "17:30");
  await page.selectOption("#f-dependency_policy", "refuse");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Saved the settings of adm_qa/);
  const env = await api("GET", "/api/v1/environments/adm_qa");
  assert.equal(env.parent, "staging");
  assert.equal(env.auto_sync, true);
  assert.equal(env.approval_required, true);
  assert.equal(env.required_approvals, 2);
  assert.equal(env.dependency_policy, "refuse");
  assert.equal(env.description, "QA");
  assert.deepEqual(env.change_windows, [
    { days: ["monday", "tuesday", "wednesday", "thursday"], start: "09:00", end: "17:30", time_zone: "Europe/Rome" },
  ]);
  // The list says it in words.
  const row = page.locator("main tbody tr", { hasText: "adm_qa" });
  assert.match(await row.innerText(), /follows staging \(auto-sync\)[\s\S]*2 approvals/);
  // Removing the window (its button) and saving leaves changes always open.
  await page.goto(url + "/environments/adm_qa/edit");
  await submit(page, page.locator("button[aria-label='Remove window 1']"));
  await page.uncheck("input[name=approval_required]");
  await submit(page, page.locator("button[value=save]"));
  assert.deepEqual((await api("GET", "/api/v1/environments/adm_qa")).change_windows ?? [], []);
  await page.context().close();
});

test(`${backend}: a protected environment's settings change only with a reason`, async () => {
  await api("POST", "/api/v1/environments", { key: "adm_locked", parent: "production", protected: true }, [201, 409]);
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/environments/adm_locked/edit");
  assert.match(await page.locator("label[for=f-reason]").innerText(), /required: adm_locked is protected/);
  await page.uncheck("input[name=protected]");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-reason-error").innerText(), /environment "adm_locked" is protected: give a reason for this change/);
  assert.equal((await api("GET", "/api/v1/environments/adm_locked")).protected, true);
  assert.equal(await page.isChecked("input[name=protected]"), false);
  await page.fill("#f-reason", "QA no longer needs it");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Saved the settings of adm_locked/);
  assert.equal((await api("GET", "/api/v1/environments/adm_locked")).protected, false);
  const audit = await api("GET", "/api/v1/audit?action=environment.update&environment=adm_locked");
  assert.equal(audit.items[0].reason, "QA no longer needs it");
  await page.context().close();
});

test(`${backend}: editors do not see environment settings, viewers cannot open the new forms`, async () => {
  const viewer = await api("POST", "/api/v1/api-keys", { name: "adm viewer", kind: "admin", role: "viewer" });
  const editor = await api("POST", "/api/v1/api-keys", { name: "adm editor", kind: "admin", role: "editor" });
  const get = async (secret, path) =>
    (await fetch(url + path, { headers: { Authorization: `Bearer ${secret}` } })).status;
  assert.equal(await get(viewer.key, "/new-segment"), 403);
  assert.equal(await get(viewer.key, "/segments/adm_beta/edit"), 403);
  assert.equal(await get(editor.key, "/segments/adm_beta/edit"), 200);
  assert.equal(await get(editor.key, "/environments/adm_qa/edit"), 403);
  assert.equal(await get(viewer.key, "/environments/adm_qa/edit"), 403);
  // Unknown things are a 404 page, not an error of ours.
  assert.equal(await get(token, "/segments/adm_nothing/edit"), 404);
  assert.equal(await get(token, "/environments/adm_nothing/edit"), 404);
});

test(`${backend}: on a phone the navigation is a menu button that works without script, by keyboard`, async () => {
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, javaScriptEnabled: false });
  await phone.goto(url + "/flags");
  // One row: the brand and the menu button; the entries are behind it.
  const bar = await phone.locator("header.topbar").boundingBox();
  assert.ok(bar.height <= 64, `the top bar is ${bar.height}px high`);
  assert.equal(await phone.locator("header nav.nav").isVisible(), false);
  const button = phone.locator("summary.nav-menu-button");
  assert.equal(await button.isVisible(), true);
  assert.equal(await phone.locator("nav.nav-menu-list a", { hasText: "Segments" }).isVisible(), false);
  // The keyboard reaches it (after the skip link and the brand) and opens it.
  await phone.keyboard.press("Tab");
  await phone.keyboard.press("Tab");
  await phone.keyboard.press("Tab");
  assert.equal(await phone.evaluate(() => document.activeElement.className), "nav-menu-button");
  await phone.keyboard.press("Enter");
  const segments = phone.locator("nav.nav-menu-list a", { hasText: "Segments" });
  assert.equal(await segments.isVisible(), true);
  assert.equal(await phone.locator("nav.nav-menu-list a[aria-current=page]").innerText(), "Flags");
  assert.equal(await phone.locator(".nav-menu-user .user-name").isVisible(), true);
  await submit(phone, segments);
  assert.match(phone.url(), /\/segments$/);
  // Closed again on the next page.
  assert.equal(await phone.locator("nav.nav-menu-list a", { hasText: "Flags" }).isVisible(), false);
  await phone.context().close();

  // Open, it has no serious or critical accessibility violation (axe needs
  // the script), light and dark.
  for (const scheme of ["light", "dark"]) {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, colorScheme: scheme });
    await page.goto(url + "/segments");
    await page.locator("summary.nav-menu-button").click();
    assert.equal(await page.locator("nav.nav-menu-list a", { hasText: "Audit" }).isVisible(), true);
    assert.deepEqual(await axeViolations(page), [], `the open menu's accessibility (${scheme})`);
    if (scheme === "light") await snapshot(page, "nav-menu-open", "phone");
    await page.context().close();
  }

  // A laptop keeps the entries in the bar, and no menu button.
  const laptop = await newPage();
  await laptop.goto(url + "/flags");
  assert.equal(await laptop.locator("header nav.nav a", { hasText: "Segments" }).isVisible(), true);
  assert.equal(await laptop.locator("summary.nav-menu-button").isVisible(), false);
  const height = (await laptop.locator("header.topbar").boundingBox()).height;
  assert.ok(height <= 56, `the laptop's top bar is ${height}px high`);
  await laptop.context().close();
});

test(`${backend}: an environment is created from its form, starting from another's flag settings, without script`, async () => {
  await api("POST", "/api/v1/flags", {
    flag_id: "adm_env_copy", type: "boolean", default_value: false,
    environments: { staging: { enabled: true, value: true } },
  }, [201, 409]);
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/environments");
  await submit(page, page.locator("main a", { hasText: "New environment" }));
  assert.match(page.url(), /\/new-environment$/);
  assert.match(await page.locator("h1").innerText(), /New environment/);
  // A key that exists already: the API's refusal, next to the key.
  await page.fill("#f-key", "staging");
  await page.fill("#f-description", "Acceptance tests");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator("#f-key-error").innerText(), /environment "staging" already exists; choose another key/);
  assert.equal(await page.inputValue("#f-description"), "Acceptance tests");
  await snapshot(page, "environment-new-problem");
  // A row button keeps what was typed (no JavaScript needed).
  await submit(page, page.locator("button[value=add_window]"));
  assert.equal(await page.inputValue("#f-description"), "Acceptance tests");
  await submit(page, page.locator("button[aria-label='Remove window 1']"));
  await page.fill("#f-key", "adm_new");
  await page.selectOption("#f-parent", "staging");
  await page.selectOption("#f-copy_from", "staging");
  await submit(page, page.locator("button[value=save]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Created environment adm_new, with the flag settings of staging\./);
  const env = await api("GET", "/api/v1/environments/adm_new");
  assert.equal(env.parent, "staging");
  assert.equal(env.description, "Acceptance tests");
  // The flags' staging settings were copied to it, through the API's copy_from.
  const flag = await api("GET", "/api/v1/flags/adm_env_copy");
  assert.equal(flag.environments.adm_new.enabled, true);
  const row = page.locator("main tbody tr", { hasText: "adm_new" });
  assert.match(await row.innerText(), /child of staging/);
  await page.context().close();
});

test(`${backend}: creating and deleting environments is for admins, as in the API`, async () => {
  await api("POST", "/api/v1/users", { email: "eve@example.com", display_name: "Eve Editor", role: "editor", password: "editors edit everything" }, [201, 409]);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url + "/");
  await page.fill("#email", "eve@example.com");
  await page.fill("#password", "editors edit everything");
  await submit(page, page.locator("button[type=submit]"));
  await page.goto(url + "/environments");
  assert.equal(await page.locator("main a", { hasText: "New environment" }).count(), 0);
  // A forged form post (with her own session's token) is refused as the
  // API refuses her (before any write).
  const csrf = await page.locator("header .user form.sign-out input[name=csrf]").inputValue();
  const response = await page.goto(url + "/new-environment");
  assert.equal(response.status(), 403);
  const post = await page.request.post(url + "/environments/staging/delete", { form: { csrf, confirmed: "yes" }, maxRedirects: 0 });
  assert.equal(post.status(), 403);
  await api("GET", "/api/v1/environments/staging");
  await context.close();
});

test(`${backend}: an environment is deleted after a confirmation; what stops it is said before and after`, async () => {
  await api("POST", "/api/v1/environments", { key: "adm_new_child", parent: "adm_new" }, [201, 409]);
  // Without script: the page says what stops it, and offers no button.
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/environments/adm_new/edit");
  assert.equal(await page.locator("button", { hasText: "Delete environment" }).count(), 0);
  assert.match(await page.locator(".danger-zone").innerText(), /cannot be deleted while adm_new_child inherits from it/);
  await snapshot(page, "environment-delete-blocked");
  // A post anyway (a page opened before the child was made): the API's
  // refusal, in words.
  const csrf = await page.locator("form.editor input[name=csrf]").inputValue();
  await page.goto(url + "/environments/adm_new_child/edit");
  await api("POST", "/api/v1/environments", { key: "adm_new_grandchild", parent: "adm_new_child" }, [201, 409]);
  await submit(page, page.locator("button", { hasText: "Delete environment" }));
  assert.match(await page.locator("h1").innerText(), /Delete environment adm_new_child\?/);
  assert.match(await page.locator(".confirm").innerText(), /stop getting its flags/);
  await submit(page, page.locator(".confirm button[type=submit]"));
  assert.match(page.url(), /\/environments\/adm_new_child\/edit\?/);
  assert.match(await page.locator(".flash-error").innerText(), /adm_new_child was not deleted\. adm_new_grandchild inherits from it: give it another parent, or delete it, first\./);
  await api("GET", "/api/v1/environments/adm_new_child");
  // Deleting the grandchild from its page, without script: asked on a page.
  await page.goto(url + "/environments/adm_new_grandchild/edit");
  await submit(page, page.locator("button", { hasText: "Delete environment" }));
  await submit(page, page.locator(".confirm button[type=submit]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Deleted environment adm_new_grandchild\./);
  await api("GET", "/api/v1/environments/adm_new_grandchild", undefined, [404]);
  assert.ok(csrf);
  await page.context().close();

  // With script: the dialog names it and what goes with it.
  const live = await newPage();
  await live.goto(url + "/environments/adm_new_child/edit");
  let asked = "";
  live.once("dialog", (dialog) => { asked = dialog.message(); dialog.accept(); });
  await submit(live, live.locator("button", { hasText: "Delete environment" }));
  assert.match(asked, /Delete the environment adm_new_child\?/);
  assert.match(await live.locator(".flash-ok").innerText(), /Deleted environment adm_new_child\./);
  await api("GET", "/api/v1/environments/adm_new_child", undefined, [404]);
  // A dismissed dialog deletes nothing.
  await live.goto(url + "/environments/adm_new/edit");
  live.once("dialog", (dialog) => dialog.dismiss());
  await live.locator("button", { hasText: "Delete environment" }).click();
  await api("GET", "/api/v1/environments/adm_new");
  await live.context().close();
});

test(`${backend}: a protected environment is deleted only with a reason`, async () => {
  await api("POST", "/api/v1/environments", { key: "adm_vault", parent: "production", protected: true }, [201, 409]);
  const page = await newPage();
  await page.goto(url + "/environments/adm_vault/edit");
  assert.match(await page.locator(".danger-zone label[for=delete-reason]").innerText(), /required: adm_vault is protected/);
  // Confirmed in the dialog but no reason: the confirmation page asks for one.
  page.once("dialog", (dialog) => dialog.accept());
  await submit(page, page.locator("button", { hasText: "Delete environment" }));
  assert.match(await page.locator("h1").innerText(), /Delete environment adm_vault\?/);
  await api("GET", "/api/v1/environments/adm_vault");
  await page.fill("#reason", "the vault moved to its own installation");
  await submit(page, page.locator(".confirm button[type=submit]"));
  assert.match(await page.locator(".flash-ok").innerText(), /Deleted environment adm_vault\./);
  await api("GET", "/api/v1/environments/adm_vault", undefined, [404]);
  const audit = await api("GET", "/api/v1/audit?action=environment.delete&environment=adm_vault");
  assert.equal(audit.items[0].reason, "the vault moved to its own installation");
  await page.context().close();
});

const ADMIN_PAGES = [
  ["segments", "/segments"],
  ["segment-new", "/new-segment"],
  ["segment-edit", "/segments/adm_beta/edit"],
  ["environments", "/environments"],
  ["environment-edit", "/environments/adm_qa/edit"],
  ["environment-new", "/new-environment"],
  ["environment-delete", "/environments/adm_new/edit"],
  ["editor-copy", "/flags/adm_copy/edit"],
];

test(`${backend}: the new pages have no serious or critical accessibility violation`, async () => {
  await assertAccessible(ADMIN_PAGES);
});

test(`${backend}: screenshots of the new pages`, { skip: !screenshots }, async () => {
  await saveScreenshots(ADMIN_PAGES);
});
