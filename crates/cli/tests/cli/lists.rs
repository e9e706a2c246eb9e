//! Lists longer than one answer of the service: `flags list` follows the
//! pages to the end; the lists the service answers in one request without
//! a next page (change requests, schedules) say when they were cut.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Proxy, Run, Setup, ff_as};

/// The `id`s (or `flag_id`s) of a list printed with `-o json`, in order.
fn listed(run: &Run, key: &str) -> Vec<String> {
    run.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_list_follows_every_page() {
    let setup = Setup::new().await;
    for (flag, tags) in [
        ("flag_a", json!(["web"])),
        ("flag_b", json!([])),
        ("flag_c", json!(["web"])),
        ("flag_d", json!(["web"])),
        ("flag_e", json!([])),
    ] {
        setup
            .create_flag(json!({"flag_id": flag, "default_value": false, "tags": tags}))
            .await;
    }
    let proxy = Proxy::start(&setup.server.url, |_| async {}).await;
    let dir = setup.dir.path();
    let all = ff_as(
        &proxy.url,
        ADMIN_TOKEN,
        dir,
        &["flags", "list", "--page-size", "2", "-o", "json"],
    )
    .ok();
    assert_eq!(
        listed(&all, "flag_id"),
        ["flag_a", "flag_b", "flag_c", "flag_d", "flag_e"]
    );
    assert_eq!(all.json()["total"], 5);
    let pages: Vec<String> = proxy.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        pages,
        [
            "/api/v1/flags?limit=2",
            "/api/v1/flags?limit=2&cursor=flag_b",
            "/api/v1/flags?limit=2&cursor=flag_d",
        ]
    );

    // The filters hold on every page; the table has every row.
    let tagged = setup
        .ff(&["flags", "list", "--tag", "web", "--page-size", "2"])
        .ok();
    for flag in ["flag_a", "flag_c", "flag_d"] {
        assert!(tagged.stdout.contains(flag), "{flag}: {}", tagged.stdout);
    }
    assert!(!tagged.stdout.contains("flag_b"), "{}", tagged.stdout);
    setup.ff(&["flags", "list", "--page-size", "0"]).code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_without_a_next_page_say_when_they_were_cut() {
    let setup = Setup::new().await;
    // Three change requests: production requires approval.
    for flag in ["held_a", "held_b", "held_c"] {
        setup
            .create_flag(json!({"flag_id": flag, "default_value": false}))
            .await;
        let args = [
            "flags",
            "set-value",
            flag,
            "true",
            "--environment",
            "production",
            "--reason",
            "launch",
        ];
        setup.ff(&args).code(8);
    }
    let proxy = Proxy::start(&setup.server.url, |_| async {}).await;
    let dir = setup.dir.path();
    let everything = ff_as(
        &proxy.url,
        ADMIN_TOKEN,
        dir,
        &["change-requests", "list", "-o", "json"],
    )
    .ok();
    let ids = listed(&everything, "id");
    assert_eq!(ids.len(), 3);
    assert_eq!(everything.stderr, "");
    assert_eq!(
        proxy.seen()[0].path,
        "/api/v1/change-requests?limit=1000",
        "as many as the service answers, not its default of 100"
    );

    let cut = setup
        .ff(&["change-requests", "list", "--limit", "2", "-o", "json"])
        .ok();
    assert_eq!(listed(&cut, "id"), ids[..2], "the newest two");
    assert!(
        cut.stderr
            .contains("warning: only the newest 2 change requests are shown; there are more"),
        "{}",
        cut.stderr
    );
    let whole = setup
        .ff(&["change-requests", "list", "--limit", "3", "-o", "json"])
        .ok();
    assert_eq!(listed(&whole, "id"), ids);
    assert_eq!(whole.stderr, "", "exactly the limit is not cut");

    // Schedules, in a table too.
    for hour in ["01", "02", "03"] {
        let at = format!("2099-01-01T{hour}:00:00Z");
        let args = [
            "schedule",
            "create",
            "--flag",
            "held_a",
            "--environment",
            "staging",
            "--at",
            &at,
            "--action",
            "enable",
        ];
        setup.ff(&args).ok();
    }
    let all: Value = setup.ff(&["schedule", "list", "-o", "json"]).ok().json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let cut = setup.ff(&["schedule", "list", "--limit", "2"]).ok();
    assert!(
        cut.stderr
            .contains("warning: only the newest 2 schedules are shown; there are more"),
        "{}",
        cut.stderr
    );
    let rows = cut.stdout.lines().filter(|l| l.contains("sch_")).count();
    assert_eq!(rows, 2, "{}", cut.stdout);
}
