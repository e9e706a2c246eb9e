// Browser tests of change management: the approvals queue (/changes, four
// eyes between two people), scheduled changes and rollout plans
// (/schedules), rollback from a flag's history, and change windows. Runs
// after ui.test.mjs against the same service; creates its own flags (cm_*)
// and a second person, and leaves every environment's settings as it found
// them.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import {
  url, token, backend, screenshots, browser, api, newPage, enabledIn, assertAccessible, saveScreenshots,
} from "./lib.mjs";

// The second person: an approver.
const GRACE = { email: "grace@example.com", display_name: "Grace Hopper", role: "approver", password: "cobol forever and ever" };

const FLAGS = [
  { flag_id: "cm_payments", type: "boolean", default_value: false, description: "Approved by a second person",
    environments: { development: true, staging: true, production: { enabled: false, value: true } } },
  { flag_id: "cm_rejected", type: "boolean", default_value: false, description: "Rejected with a comment",
    environments: { development: true, production: { enabled: false, value: true } } },
  { flag_id: "cm_stale", type: "boolean", default_value: false, description: "Changed while its request waited",
    environments: { development: true, production: { enabled: false, value: true } } },
  { flag_id: "cm_four_eyes", type: "boolean", default_value: false, description: "Waits for approval (screenshots)",
    environments: { development: true, production: { enabled: false, value: true } } },
  { flag_id: "cm_rollout", type: "boolean", default_value: false, description: "Rolled out step by step",
    environments: {
      staging: { enabled: true, value: false, targeting_rules: [{ name: "everyone", conditions: [], value: true, percentage: 5 }] },
    } },
  { flag_id: "cm_rollback", type: "string", default_value: "classic", description: "Rolled back from its history",
    environments: { development: "one" } },
  { flag_id: "cm_live_one", type: "boolean", default_value: false, description: "Waits while a comment is typed",
    environments: { development: true, production: { enabled: false, value: true } } },
  { flag_id: "cm_live_two", type: "boolean", default_value: false, description: "Asked for from another session",
    environments: { development: true, production: { enabled: false, value: true } } },
];

/** The top bar's count of pending change requests (0 when none shows). */
async function pendingCount(page) {
  return page.evaluate(() => {
    const count = document.querySelector("#nav-pending .nav-count");
    return count ? parseInt(count.textContent, 10) : 0;
  });
}

before(async () => {
  for (const flag of FLAGS) await api("POST", "/api/v1/flags", flag, [201]);
  await api("POST", "/api/v1/users", GRACE, [201, 409]);
});

/** A page signed in as `person` through the sign-in form. */
async function pageAs(person, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 }, ...options });
  const page = await context.newPage();
  page.on("request", (request) => {
    assert.ok(request.url().startsWith(url), `request to another host: ${request.url()}`);
  });
  await page.goto(url + "/");
  await page.fill("#email", person.email);
  await page.fill("#password", person.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(await page.locator(".user").innerText(), new RegExp(person.display_name));
  return page;
}

/** Ada turns `flagId` on in production from its page: a reason, then held. */
async function heldToggle(page, flagId, reason) {
  await page.goto(url + `/flags/${flagId}`);
  await page.locator(`#env-card-production button`, { hasText: "Turn on" }).click();
  assert.match(await page.locator("h1").innerText(), new RegExp(`Turn ${flagId} on in production\\?`));
  await page.locator("#reason").fill(reason);
  await page.locator(".confirm button[type=submit]").click();
  const flash = await page.locator(".flash-warn").innerText();
  const id = flash.match(/cr_[A-Za-z0-9_-]+/);
  assert.ok(id, flash);
  return id[0];
}

async function changeRequest(id) {
  return api("GET", `/api/v1/change-requests/${id}`);
}

test(`${backend}: a second person approves Ada's production change; Ada cannot`, async () => {
  const ada = await newPage();
  const id = await heldToggle(ada, "cm_payments", "launch the new payment flow");
  assert.equal(await enabledIn("cm_payments", "production"), false);
  // The top bar counts what waits; the flag's pending chip leads to the queue.
  assert.match(await ada.locator("#nav-pending").innerText(), /^\d+/);
  await ada.goto(url + "/flags/cm_payments");
  await ada.locator(`#env-card-production a.chip.pending`, { hasText: id }).click();
  assert.match(ada.url(), new RegExp(`/changes#${id}$`));
  const card = ada.locator(`article#${id}`);
  const text = await card.innerText();
  assert.match(text, /cm_payments/);
  assert.match(text, /Ada Lovelace/);
  assert.match(text, /launch the new payment flow/);
  // The diff of what it would change.
  assert.match(text, /environments\.production[\s\S]*false[\s\S]*true/);
  // Four eyes, said before the click: no approve button for the author.
  assert.match(await card.locator("[data-testid=four-eyes]").innerText(), /You made this request/);
  assert.equal(await card.locator("button", { hasText: /^Approve$/ }).count(), 0);
  // A forged approval by Ada (her own session and token) is refused by the API.
  const csrf = await card.locator("input[name=csrf]").inputValue();
  const forged = await ada.request.post(url + `/changes/${id}/approve`, { form: { csrf, back: "/changes" } });
  assert.equal(forged.status(), 200);
  assert.match(forged.url(), /flash_kind=error/);
  assert.match(decodeURIComponent(forged.url()), /someone else must approve it/);
  // And without the form's token, nothing is even tried.
  const noToken = await ada.request.post(url + `/changes/${id}/approve`, { form: { back: "/changes" }, maxRedirects: 0 });
  assert.equal(noToken.status(), 403);
  assert.equal((await changeRequest(id)).status, "pending");

  // Grace, an approver, signs in elsewhere and approves it.
  const grace = await pageAs(GRACE);
  await grace.goto(url + "/changes");
  const hers = grace.locator(`article#${id}`);
  assert.equal(await hers.locator("[data-testid=four-eyes]").count(), 0);
  await hers.locator("textarea[name=comment]").fill("checked the rollout plan with payments");
  await hers.locator("button", { hasText: /^Approve$/ }).click();
  assert.match(await grace.locator(".flash-ok").innerText(), new RegExp(`Approved and applied: ${id}`));
  assert.equal(await enabledIn("cm_payments", "production"), true);
  const applied = await changeRequest(id);
  assert.equal(applied.status, "applied");
  assert.equal(applied.approvals[0].actor, "user:grace@example.com");
  // It moves to "recently decided", naming both people.
  const row = grace.locator("#decided tbody tr", { hasText: id });
  assert.match(await row.innerText(), /applied[\s\S]*Ada Lovelace[\s\S]*Grace Hopper[\s\S]*checked the rollout plan/);
  await ada.context().close();
  await grace.context().close();
});

test(`${backend}: the pending count and the queue follow requests made in another session, without a reload`, async () => {
  const ada = await newPage();
  const first = await heldToggle(ada, "cm_live_one", "first of two");
  // Grace has the queue open and types a comment on the first request.
  const grace = await pageAs(GRACE);
  await grace.goto(url + "/changes");
  await grace.evaluate(() => { window.notReloaded = true; });
  const before = await pendingCount(grace);
  assert.ok(before >= 1, `count ${before}`);
  await grace.locator(`article#${first} textarea[name=comment]`).fill("half-typed comment");
  // A second page of hers (the dashboard) follows too.
  const dashboard = await grace.context().newPage();
  await dashboard.goto(url + "/");
  await dashboard.evaluate(() => { window.notReloaded = true; });

  // Ada, in her own session, asks for another change.
  const second = await heldToggle(ada, "cm_live_two", "second of two");
  for (const page of [grace, dashboard]) {
    await page.waitForFunction((n) => {
      const count = document.querySelector("#nav-pending .nav-count");
      return count && parseInt(count.textContent, 10) === n;
    }, before + 1, { timeout: 10000 });
    assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was reloaded");
  }
  // The queue shows the new request; the comment being typed is kept.
  await grace.locator(`article#${second}`).waitFor({ timeout: 10000 });
  assert.match(await grace.locator(`article#${second}`).innerText(), /cm_live_two[\s\S]*second of two/);
  assert.equal(await grace.locator(`article#${first} textarea[name=comment]`).inputValue(), "half-typed comment");
  assert.match(await grace.locator("#tab-pending").innerText(), new RegExp(`^${before + 1}`));

  // Decided through the API: both go from the count and the queue.
  for (const id of [first, second]) {
    await api("POST", `/api/v1/change-requests/${id}/reject`, { comment: "not now" });
  }
  await grace.waitForFunction((ids) => ids.every((id) => !document.getElementById(id)), [first, second], { timeout: 10000 });
  await dashboard.waitForFunction((n) => {
    const count = document.querySelector("#nav-pending .nav-count");
    return (count ? parseInt(count.textContent, 10) : 0) === n;
  }, before - 1, { timeout: 10000 });
  assert.match(await grace.locator("#decided").innerText(), new RegExp(second));
  assert.equal(await grace.evaluate(() => window.notReloaded), true);
  await grace.context().close();
  await ada.context().close();
});

test(`${backend}: an approver rejects a request with a comment`, async () => {
  const ada = await newPage();
  const id = await heldToggle(ada, "cm_rejected", "turn it on before the sale");
  await ada.context().close();
  const grace = await pageAs(GRACE);
  await grace.goto(url + "/changes");
  const card = grace.locator(`article#${id}`);
  await card.locator("textarea[name=comment]").fill("not during the sale");
  await card.locator("button", { hasText: /^Reject$/ }).click();
  assert.match(await grace.locator(".flash-ok").innerText(), new RegExp(`Rejected: ${id}`));
  const rejected = await changeRequest(id);
  assert.equal(rejected.status, "rejected");
  assert.equal(rejected.rejection.comment, "not during the sale");
  assert.equal(await enabledIn("cm_rejected", "production"), false);
  assert.match(await grace.locator("#decided tbody tr", { hasText: id }).innerText(), /rejected[\s\S]*not during the sale/);
  assert.equal(await grace.locator(`article#${id}`).count(), 0);
  await grace.context().close();
});

test(`${backend}: a stale request is rebased, and whoever rebased it cannot approve it`, async () => {
  const ada = await newPage();
  const id = await heldToggle(ada, "cm_stale", "turn it on");
  await ada.context().close();
  // The flag moves on meanwhile: the request no longer applies as made.
  await api("PATCH", "/api/v1/flags/cm_stale", { description: "Changed meanwhile" });
  const grace = await pageAs(GRACE);
  await grace.goto(url + "/changes");
  const card = grace.locator(`article#${id}`);
  assert.match(await card.locator(".cr-chips").innerText(), /stale/);
  assert.equal(await card.locator("button", { hasText: /^Approve$/ }).count(), 0);
  await card.locator("textarea[name=comment]").fill("onto the new description");
  await card.locator("button", { hasText: "Rebase" }).click();
  assert.match(await grace.locator(".flash-ok").innerText(), new RegExp(`Rebased: ${id}`));
  const rebased = await changeRequest(id);
  assert.equal(rebased.status, "pending");
  assert.equal(rebased.rebases[0].actor, "user:grace@example.com");
  // Now part of it is Grace's: she may not approve it either.
  const after = grace.locator(`article#${id}`);
  assert.equal(await after.locator(".stale-chip").count(), 0);
  assert.match(await after.locator("[data-testid=four-eyes]").innerText(), /You rebased this request/);
  assert.equal(await after.locator("button", { hasText: /^Approve$/ }).count(), 0);
  // Ada withdraws it (a rejection with her comment).
  const ada2 = await newPage();
  await ada2.goto(url + "/changes");
  const hers = ada2.locator(`article#${id}`);
  await hers.locator("summary", { hasText: "Withdraw this request" }).click();
  await hers.locator("textarea[name=comment]").fill("no longer needed");
  await hers.locator("button", { hasText: "Withdraw (reject)" }).click();
  assert.match(await ada2.locator(".flash-ok").innerText(), new RegExp(`Rejected: ${id}`));
  assert.equal((await changeRequest(id)).status, "rejected");
  await grace.context().close();
  await ada2.context().close();
});

test(`${backend}: a scheduled change is created and cancelled`, async () => {
  const page = await newPage();
  await page.goto(url + "/schedules");
  await page.fill("#sch-flag", "cm_payments");
  await page.selectOption("#sch-env", "staging");
  await page.selectOption("#sch-action", "disable");
  await page.fill("#sch-at", "2031-03-02T09:30");
  await page.fill("#sch-reason", "end of the campaign");
  await page.locator("#schedule-form button[type=submit]").click();
  const flash = await page.locator(".flash-ok").innerText();
  assert.match(flash, /Scheduled sch_\S+: cm_payments changes at 2031-03-02 09:30 UTC/);
  const listed = await api("GET", "/api/v1/schedules?flag_id=cm_payments");
  assert.equal(listed.items.length, 1);
  const schedule = listed.items[0];
  assert.equal(schedule.status, "scheduled");
  assert.equal(schedule.due_at, "2031-03-02T09:30:00Z");
  assert.deepEqual(schedule.action, { type: "disable" });
  const row = page.locator(`#schedules tr#${schedule.id}`);
  assert.match(await row.innerText(), /cm_payments[\s\S]*staging[\s\S]*disable[\s\S]*2031-03-02 09:30 UTC[\s\S]*scheduled/);
  await row.locator("button", { hasText: "Cancel" }).click();
  assert.match(await page.locator(".flash-ok").innerText(), new RegExp(`Cancelled ${schedule.id}`));
  assert.equal((await api("GET", `/api/v1/schedules/${schedule.id}`)).status, "cancelled");
  assert.match(await page.locator(`#schedules tr#${schedule.id}`).innerText(), /cancelled/);
  assert.equal(await page.locator(`#schedules tr#${schedule.id} button`).count(), 0);
  // A time that is not one says which field.
  await page.fill("#sch-flag", "cm_payments");
  await page.evaluate(() => { document.querySelector("#sch-at").type = "text"; });
  await page.fill("#sch-at", "tomorrow");
  await page.locator("#schedule-form button[type=submit]").click();
  assert.match(await page.locator(".flash-error").innerText(), /when: give a date and time/);
  await page.context().close();
});

test(`${backend}: a rollout plan is created, paused and resumed`, async () => {
  const page = await newPage();
  await page.goto(url + "/schedules");
  await page.fill("#plan-flag", "cm_rollout");
  await page.selectOption("#plan-env", "staging");
  await page.fill("#plan-steps", "10, 50, 100");
  await page.fill("#plan-start", "2031-03-02T08:00");
  await page.fill("#plan-every", "24");
  await page.fill("#plan-reason", "watch the error rate between steps");
  await page.locator("#plan-form button[type=submit]").click();
  const flash = await page.locator(".flash-ok").innerText();
  const id = flash.match(/plan_[A-Za-z0-9_-]+/)?.[0];
  assert.ok(id, flash);
  const plan = await api("GET", `/api/v1/rollout-plans/${id}`);
  assert.equal(plan.status, "active");
  assert.deepEqual(plan.steps.map((s) => s.percentage), [10, 50, 100]);
  // The timeline: the first step next, the others later, with their times.
  const card = page.locator(`article#${id}`);
  const steps = await card.locator(".plan-step").allInnerTexts();
  assert.equal(steps.length, 3);
  assert.match(steps[0], /10 %[\s\S]*next[\s\S]*2031-03-02 08:00 UTC/i);
  assert.match(steps[1], /50 %[\s\S]*later[\s\S]*2031-03-03 08:00 UTC/i);
  assert.match(steps[2], /100 %[\s\S]*later[\s\S]*2031-03-04 08:00 UTC/i);
  // Pause, with a reason; then resume.
  await card.locator("input[name=reason]").fill("error rate up");
  await card.locator("button", { hasText: "Pause" }).click();
  assert.match(await page.locator(".flash-ok").innerText(), new RegExp(`Paused ${id}`));
  assert.equal((await api("GET", `/api/v1/rollout-plans/${id}`)).status, "paused");
  assert.match(await page.locator(`article#${id}`).innerText(), /paused[\s\S]*error rate up/);
  await page.locator(`article#${id} button`, { hasText: "Resume" }).click();
  assert.match(await page.locator(".flash-ok").innerText(), new RegExp(`Resumed ${id}`));
  assert.equal((await api("GET", `/api/v1/rollout-plans/${id}`)).status, "active");
  await page.context().close();
});

test(`${backend}: a flag is rolled back from its history (without JavaScript)`, async () => {
  await api("PATCH", "/api/v1/flags/cm_rollback", { environments: { development: "two" } });
  const before = await api("GET", "/api/v1/flags/cm_rollback");
  assert.equal(before.environments.development, "two");
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(url + "/flags/cm_rollback");
  // The current version offers no rollback; the first one does.
  const history = page.locator("#history li");
  assert.equal(await history.nth(0).locator("a.rollback-link").count(), 0);
  await page.locator("#history a.rollback-link[href$='version=1']").click();
  assert.match(await page.locator("h1").innerText(), /Roll back cm_rollback to version 1\?/);
  // What it would change, before anything changes.
  assert.match(await page.locator(".diff-table").innerText(), /environments\.development[\s\S]*two[\s\S]*one/);
  await page.locator("label", { hasText: "Only development" }).locator("input").check();
  await page.locator("#reason").fill("two broke the search page");
  await page.locator("button", { hasText: "Roll back to version 1" }).click();
  assert.match(await page.locator(".flash-ok").innerText(), /cm_rollback in development is back to version 1/);
  const after = await api("GET", "/api/v1/flags/cm_rollback");
  assert.equal(after.environments.development, "one");
  const versions = await api("GET", "/api/v1/flags/cm_rollback/versions");
  assert.equal(versions.items[0].action, "flag.rollback");
  assert.equal(versions.items[0].reason, "two broke the search page");
  await page.context().close();
});

/** Replaces production's change windows (an admin change: needs a reason). */
async function setProductionWindows(windows) {
  const env = await api("GET", "/api/v1/environments/production");
  const response = await fetch(url + "/api/v1/environments/production", {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "X-Change-Reason": "browser tests of change windows" },
    body: JSON.stringify({ ...env, change_windows: windows }),
  });
  assert.equal(response.status, 200, await response.text());
}

const TOMORROW = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"][(new Date().getUTCDay() + 1) % 7];

test(`${backend}: change windows show whether they are open now and when they next open`, async () => {
  await setProductionWindows([{ days: [TOMORROW], start: "09:00", end: "17:00", time_zone: "UTC" }]);
  try {
    const page = await newPage();
    await page.goto(url + "/environments");
    const row = page.locator("tbody tr", { hasText: "Production environment" });
    assert.match(await row.innerText(), new RegExp(`closed: opens \\w+ \\d{4}-\\d\\d-\\d\\d 09:00 UTC[\\s\\S]*${TOMORROW} 09:00–17:00 UTC`));
    await page.goto(url + "/flags/cm_payments");
    assert.match(await page.locator("#env-card-production .window-state").innerText(), /Change window closed: opens/);
    assert.equal(await page.locator("#env-card-staging .window-state").count(), 0);
    if (screenshots) await saveScreenshots([["environments-windows", "/environments"]]);
    await page.context().close();
  } finally {
    await setProductionWindows([]);
  }
});

const PAGES = [
  ["changes", "/changes"],
  ["schedules", "/schedules"],
  ["flag-history", "/flags/cm_rollback"],
  ["rollback", "/flags/cm_rollback/rollback?version=2"],
];

test(`${backend}: change management pages pass axe-core, and screenshots`, async () => {
  // Something waits in the queue for the pictures (Ada's own request).
  const ada = await newPage();
  await heldToggle(ada, "cm_four_eyes", "turn it on for everyone");
  await ada.context().close();
  await assertAccessible(PAGES);
  if (screenshots) await saveScreenshots(PAGES);
});
