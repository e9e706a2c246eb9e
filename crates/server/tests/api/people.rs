//! People: accounts (`/api/v1/users`), sign-in and sessions
//! (`/api/v1/sessions`), CSRF, and people in the write path (roles, the
//! audit actor, four eyes).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

api_tests!(
    accounts_are_checked_and_never_show_a_password,
    signing_in_sets_a_strict_http_only_cookie,
    state_changes_need_the_csrf_token_and_name_the_person,
    ended_sessions_are_refused_everywhere,
    failed_sign_ins_are_throttled_per_account,
    the_first_admin_can_come_from_settings,
    people_sign_in_to_the_admin_pages,
);

/// With production as first start seeds it, and a clock the tests set.
mod governed {
    use super::{four_eyes_applies_to_people, sessions_expire};

    governed_api_tests!(four_eyes_applies_to_people, sessions_expire);
}

/// A signed-in browser: the session cookie and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn create_user(app: &TestApp, email: &str, role: &str) {
    app.post(
        "/api/v1/users",
        ADMIN_TOKEN,
        &json!({"email": email, "display_name": email.split('@').next().unwrap(), "role": role,
                "password": "correct horse battery"}),
    )
    .await
    .expect_status(201);
}

async fn sign_in_reply(app: &TestApp, email: &str, password: &str) -> Reply {
    app.send(
        app.request(Method::POST, "/api/v1/sessions", None)
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

async fn sign_in(app: &TestApp, email: &str) -> Browser {
    let reply = sign_in_reply(app, email, "correct horse battery")
        .await
        .expect_status(201);
    let set_cookie = reply.header("set-cookie").unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    Browser {
        cookie,
        csrf: reply.body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// A request as the browser sends it (its cookie; the CSRF token only when
/// `csrf` says so).
fn from_browser(
    app: &TestApp,
    browser: &Browser,
    method: Method,
    path: &str,
    csrf: bool,
) -> reqwest::RequestBuilder {
    let builder = app
        .request(method, path, None)
        .header("cookie", &browser.cookie);
    if csrf {
        builder.header("x-csrf-token", &browser.csrf)
    } else {
        builder
    }
}

async fn accounts_are_checked_and_never_show_a_password(app: TestApp) {
    let reply = app
        .post(
            "/api/v1/users",
            ADMIN_TOKEN,
            &json!({"email": " Ada@Example.com ", "display_name": "Ada Lovelace",
                    "role": "editor", "password": "correct horse battery"}),
        )
        .await
        .expect_status(201);
    assert_eq!(reply.body["id"], "user:ada@example.com");
    assert_eq!(reply.body["email"], "ada@example.com");
    assert_eq!(reply.body["role"], "editor");
    assert_eq!(reply.body["disabled_at"], Value::Null);
    let everything = reply.body.to_string();
    assert!(
        !everything.contains("password") && !everything.contains("argon2"),
        "{everything}"
    );

    let bad = [
        (
            json!({"email": "ada@example.com", "display_name": "Again", "role": "viewer",
                "password": "correct horse battery"}),
            409,
            "already_exists",
        ),
        (
            json!({"email": "not-an-email", "display_name": "X", "role": "viewer",
                "password": "correct horse battery"}),
            422,
            "invalid_email",
        ),
        (
            json!({"email": "b@example.com", "display_name": "B", "role": "viewer",
                "password": "short"}),
            422,
            "weak_password",
        ),
        (
            json!({"email": "b@example.com", "display_name": "B", "role": "owner",
                "password": "correct horse battery"}),
            422,
            "invalid_role",
        ),
        (
            json!({"email": "b@example.com", "display_name": " ", "role": "viewer",
                "password": "correct horse battery"}),
            422,
            "invalid_display_name",
        ),
    ];
    for (body, status, code) in bad {
        let reply = app.post("/api/v1/users", ADMIN_TOKEN, &body).await;
        reply.expect_error(status, code);
    }
    // Only admins manage people.
    let editor = app.key_with_role("editor").await;
    app.get("/api/v1/users", &editor)
        .await
        .expect_error(403, "forbidden");
    let users = app
        .get("/api/v1/users", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(users.items().len(), 1, "{users}");
    assert!(!users.body.to_string().contains("argon2"));
    // The creation is audited, without the hash.
    let audit = app.audit("action=user.create").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["after"]["email"], "ada@example.com");
    assert!(!audit[0].to_string().contains("argon2"));
}

async fn signing_in_sets_a_strict_http_only_cookie(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    // Wrong password and unknown account: the same answer.
    let wrong = sign_in_reply(&app, "ed@example.com", "wrong password!").await;
    let unknown = sign_in_reply(&app, "nobody@example.com", "wrong password!").await;
    assert_eq!(
        wrong.expect_error(401, "unauthorized"),
        unknown.expect_error(401, "unauthorized")
    );
    assert!(wrong.header("set-cookie").is_none());
    // A form post (not JSON) cannot sign in.
    app.send(
        app.request(Method::POST, "/api/v1/sessions", None)
            .header("content-type", "text/plain")
            .body(r#"{"email": "ed@example.com", "password": "correct horse battery"}"#),
    )
    .await
    .expect_error(415, "unsupported_media_type");

    // An email no account can have (a NUL: PostgreSQL cannot even compare
    // with one) gets the same answer, on both backends.
    sign_in_reply(&app, "ed\u{0}@example.com", "correct horse battery")
        .await
        .expect_error(401, "unauthorized");
    app.patch(
        "/api/v1/users/user:ed%00@example.com",
        ADMIN_TOKEN,
        &json!({"role": "viewer"}),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/v1/experiments/x%00y", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    let reply = sign_in_reply(&app, "ED@example.com", "correct horse battery")
        .await
        .expect_status(201);
    let cookie = reply.header("set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("ff_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert_eq!(reply.body["user"]["email"], "ed@example.com");
    assert_eq!(reply.body["csrf_token"].as_str().unwrap().len(), 64);

    let browser = sign_in(&app, "ed@example.com").await;
    let current = app
        .send(from_browser(
            &app,
            &browser,
            Method::GET,
            "/api/v1/sessions/current",
            false,
        ))
        .await
        .expect_status(200);
    assert_eq!(current.body["user"]["role"], "editor");
    assert_eq!(current.body["csrf_token"], browser.csrf.as_str());
    app.send(from_browser(
        &app,
        &browser,
        Method::GET,
        "/api/v1/flags",
        false,
    ))
    .await
    .expect_status(200);
    // A key has no session.
    app.get("/api/v1/sessions/current", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    // Behind https, the cookie is Secure.
    let https = app
        .fresh(|config| config.public_url = Some("https://flags.example.com".into()))
        .await;
    create_user(&https, "ed@example.com", "editor").await;
    let reply = sign_in_reply(&https, "ed@example.com", "correct horse battery")
        .await
        .expect_status(201);
    assert!(reply.header("set-cookie").unwrap().contains("; Secure"));
}

async fn state_changes_need_the_csrf_token_and_name_the_person(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    create_user(&app, "vi@example.com", "viewer").await;
    let editor = sign_in(&app, "ed@example.com").await;
    let flag = json!({"flag_id": "new_checkout", "default_value": false});
    // Without the token, or with another one: refused, nothing written.
    app.send(from_browser(&app, &editor, Method::POST, "/api/v1/flags", false).json(&flag))
        .await
        .expect_error(403, "csrf_failed");
    let forged = Browser {
        cookie: editor.cookie.clone(),
        csrf: "0".repeat(64),
    };
    app.send(from_browser(&app, &forged, Method::POST, "/api/v1/flags", true).json(&flag))
        .await
        .expect_error(403, "csrf_failed");
    app.get("/api/v1/flags/new_checkout", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    // With it: written, and the audit names the person.
    app.send(from_browser(&app, &editor, Method::POST, "/api/v1/flags", true).json(&flag))
        .await
        .expect_status(201);
    let audit = app.audit("flag_id=new_checkout").await;
    assert_eq!(audit[0]["actor"], "user:ed@example.com");
    // A viewer's role holds for people too.
    let viewer = sign_in(&app, "vi@example.com").await;
    app.send(
        from_browser(&app, &viewer, Method::POST, "/api/v1/flags", true)
            .json(&json!({"flag_id": "other", "default_value": false})),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn ended_sessions_are_refused_everywhere(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    create_user(&app, "root@example.com", "admin").await;
    let flags =
        |browser: &Browser| from_browser(&app, browser, Method::GET, "/api/v1/flags", false);

    // Signing out ends the session, also for a copy of its cookie (stolen
    // before the sign-out), and on another node.
    let browser = sign_in(&app, "ed@example.com").await;
    let other_node = app.another_node().await;
    other_node
        .send(
            other_node
                .request(Method::GET, "/api/v1/flags", None)
                .header("cookie", &browser.cookie),
        )
        .await
        .expect_status(200);
    let out = app
        .send(from_browser(
            &app,
            &browser,
            Method::DELETE,
            "/api/v1/sessions/current",
            true,
        ))
        .await
        .expect_status(204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    app.send(flags(&browser))
        .await
        .expect_error(401, "unauthorized");
    other_node
        .send(
            other_node
                .request(Method::GET, "/api/v1/flags", None)
                .header("cookie", &browser.cookie),
        )
        .await
        .expect_error(401, "unauthorized");
    // A made-up cookie is refused too.
    let made_up = Browser {
        cookie: format!("ff_session={}", "a".repeat(64)),
        csrf: String::new(),
    };
    app.send(flags(&made_up))
        .await
        .expect_error(401, "unauthorized");

    // Disabling the user ends every session and refuses sign-in.
    let browser = sign_in(&app, "ed@example.com").await;
    app.patch(
        "/api/v1/users/user:ed@example.com",
        ADMIN_TOKEN,
        &json!({"disabled": true}),
    )
    .await
    .expect_status(200);
    app.send(flags(&browser))
        .await
        .expect_error(401, "unauthorized");
    sign_in_reply(&app, "ed@example.com", "correct horse battery")
        .await
        .expect_error(401, "unauthorized");
    // Enabled again: signing in works; a new password ends the sessions.
    app.patch(
        "/api/v1/users/user:ed@example.com",
        ADMIN_TOKEN,
        &json!({"disabled": false}),
    )
    .await
    .expect_status(200);
    let browser = sign_in(&app, "ed@example.com").await;
    app.patch(
        "/api/v1/users/user:ed@example.com",
        ADMIN_TOKEN,
        &json!({"password": "another long password"}),
    )
    .await
    .expect_status(200);
    app.send(flags(&browser))
        .await
        .expect_error(401, "unauthorized");
    sign_in_reply(&app, "ed@example.com", "another long password")
        .await
        .expect_status(201);
    // A role change applies at once to a live session.
    let root = sign_in(&app, "root@example.com").await;
    app.send(from_browser(
        &app,
        &root,
        Method::GET,
        "/api/v1/users",
        false,
    ))
    .await
    .expect_status(200);
    // Nobody disables or demotes themselves.
    for change in [json!({"disabled": true}), json!({"role": "editor"})] {
        app.send(
            from_browser(
                &app,
                &root,
                Method::PATCH,
                "/api/v1/users/user:root@example.com",
                true,
            )
            .json(&change),
        )
        .await
        .expect_error(422, "changing_self");
    }
    app.patch(
        "/api/v1/users/user:root@example.com",
        ADMIN_TOKEN,
        &json!({"role": "viewer"}),
    )
    .await
    .expect_status(200);
    app.send(from_browser(
        &app,
        &root,
        Method::GET,
        "/api/v1/users",
        false,
    ))
    .await
    .expect_error(403, "forbidden");
    app.patch(
        "/api/v1/users/user:nobody@example.com",
        ADMIN_TOKEN,
        &json!({"role": "viewer"}),
    )
    .await
    .expect_error(404, "not_found");
    // Disabled, enabled, new password, demoted: four changes audited.
    assert_eq!(app.audit("action=user.update").await.len(), 4);
}

async fn failed_sign_ins_are_throttled_per_account(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    create_user(&app, "vi@example.com", "viewer").await;
    for _ in 0..5 {
        sign_in_reply(&app, "ed@example.com", "guess guess guess")
            .await
            .expect_error(401, "unauthorized");
    }
    // Even the right password waits now; other accounts do not.
    let blocked = sign_in_reply(&app, "ed@example.com", "correct horse battery").await;
    blocked.expect_error(429, "rate_limited");
    let wait: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");
    sign_in_reply(&app, "vi@example.com", "correct horse battery")
        .await
        .expect_status(201);
}

async fn the_first_admin_can_come_from_settings(app: TestApp) {
    let seeded = app
        .fresh(|config| {
            config.admin_email = Some("Owner@Example.com".into());
            config.admin_password = Some("a long enough password".into());
        })
        .await;
    let reply = sign_in_reply(&seeded, "owner@example.com", "a long enough password")
        .await
        .expect_status(201);
    assert_eq!(reply.body["user"]["role"], "admin");
    // Restarting seeds nothing twice.
    let restarted = seeded.restart().await;
    sign_in_reply(&restarted, "owner@example.com", "a long enough password")
        .await
        .expect_status(201);
    let users = restarted.get("/api/v1/users", ADMIN_TOKEN).await;
    assert_eq!(users.items().len(), 1);
    assert_eq!(users.items()[0]["created_by"], "system");
}

async fn four_eyes_applies_to_people(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    create_user(&app, "ann@example.com", "approver").await;
    create_user(&app, "bo@example.com", "approver").await;
    app.create_flag(&json!({"flag_id": "new_search", "default_value": false,
                            "environments": {"production": false}}))
        .await;
    let ann = sign_in(&app, "ann@example.com").await;
    let bo = sign_in(&app, "bo@example.com").await;
    // Ann proposes a production change: held for approval, authored by her.
    let held = app
        .send(
            from_browser(
                &app,
                &ann,
                Method::PUT,
                "/api/v1/flags/new_search/environments/production",
                true,
            )
            .header("x-change-reason", "search for everyone")
            .json(&json!(true)),
        )
        .await
        .expect_status(202);
    let request = &held.body["change_request"];
    assert_eq!(request["author"], "user:ann@example.com");
    let id = request["id"].as_str().unwrap();
    let approve = |browser: &Browser| {
        from_browser(
            &app,
            browser,
            Method::POST,
            &format!("/api/v1/change-requests/{id}/approve"),
            true,
        )
        .json(&json!({"comment": "lgtm"}))
    };
    // She cannot approve her own request.
    app.send(approve(&ann)).await.expect_error(403, "forbidden");
    // Bo can; the change applies, and the audit names both.
    app.send(approve(&bo)).await.expect_status(200);
    let production = app
        .get(
            "/api/v1/flags/new_search/environments/production",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(production.body["entry"], true, "{production}");
    let approvals = app.audit("action=change_request.approve").await;
    assert_eq!(approvals[0]["actor"], "user:bo@example.com");
}

async fn sessions_expire(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    let browser = sign_in(&app, "ed@example.com").await;
    let flags = || from_browser(&app, &browser, Method::GET, "/api/v1/flags", false);
    let clock = app.clock.as_ref().unwrap();
    let signed_in_at = time::OffsetDateTime::now_utc();
    clock.set(signed_in_at + time::Duration::hours(11));
    app.send(flags()).await.expect_status(200);
    clock.set(signed_in_at + time::Duration::hours(13));
    app.send(flags()).await.expect_error(401, "unauthorized");
}

async fn people_sign_in_to_the_admin_pages(app: TestApp) {
    create_user(&app, "ed@example.com", "editor").await;
    app.create_flag(&json!({"flag_id": "page_flag", "default_value": false,
                            "environments": {"development": true}}))
        .await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.base);
    // Not signed in: sent to the sign-in page, which brings you back.
    let page = browser.get(url("/flags/page_flag")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/sign-in?next=%2Fflags%2Fpage_flag"
    );
    let sign_in_page = browser
        .get(url("/sign-in?next=%2Fflags%2Fpage_flag"))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in_page.status(), 200);
    assert!(
        sign_in_page
            .text()
            .await
            .unwrap()
            .contains("name=\"password\"")
    );
    // A wrong password: the page says so.
    let wrong = browser
        .post(url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("email", "ed@example.com"),
            ("password", "not the password"),
            ("next", "/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The email or the password is wrong")
    );
    // A form on another site cannot sign anyone in.
    let forged = browser
        .post(url("/sign-in"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("email", "ed@example.com"),
            ("password", "correct horse battery"),
            ("next", "/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    // Signed in: back where they were going, with their name on the page.
    let signed_in = browser
        .post(url("/sign-in"))
        .header("origin", app.base.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("email", "ed@example.com"),
            ("password", "correct horse battery"),
            ("next", "/flags/page_flag"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/flags/page_flag");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = browser
        .get(url("/flags/page_flag"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(">ed<") && html.contains("Sign out"),
        "the person's name and sign-out"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 64);
    // A form without the session's token is refused; with it, the change is
    // made in the person's name.
    let toggle = |token: &str| {
        browser
            .post(url("/flags/page_flag/environments/development/toggle"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", token),
                ("action", "disable"),
                ("version", "1"),
                ("back", "/flags/page_flag"),
            ]))
            .send()
    };
    assert_eq!(toggle("forged").await.unwrap().status(), 403);
    assert_eq!(toggle("").await.unwrap().status(), 403);
    assert_eq!(
        app.audit("flag_id=page_flag&action=flag.disable")
            .await
            .len(),
        0
    );
    assert_eq!(toggle(&csrf).await.unwrap().status(), 303);
    let entries = app.audit("flag_id=page_flag&action=flag.disable").await;
    assert_eq!(entries[0]["actor"], "user:ed@example.com");
    // Signing out ends the session: the same cookie is sent to sign in again.
    let out = browser
        .post(url("/sign-out"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = browser
        .get(url("/flags/page_flag"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "a revoked session is refused");
}

/// A form body, URL-encoded as browsers send it.
fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}
