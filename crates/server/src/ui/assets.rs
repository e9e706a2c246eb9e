//! The interface's stylesheet and script, written in this project and
//! compiled into the binary. Served under a name that carries a hash of
//! their content (`/assets/app.3f9a….css`), so that browsers may keep them
//! for a year and a new release is fetched at once.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// One embedded file and the name it is served under.
struct Asset {
    name: String,
    body: &'static str,
    content_type: &'static str,
}

/// The stylesheet and the script, named once on first use.
fn assets() -> &'static [Asset; 2] {
    static ASSETS: OnceLock<[Asset; 2]> = OnceLock::new();
    ASSETS.get_or_init(|| {
        [
            Asset {
                name: hashed_name("app", "css", CSS),
                body: CSS,
                content_type: "text/css; charset=utf-8",
            },
            Asset {
                name: hashed_name("app", "js", JS),
                body: JS,
                content_type: "text/javascript; charset=utf-8",
            },
        ]
    })
}

/// `app.<first 12 hex digits of the SHA-256>.css`.
fn hashed_name(stem: &str, extension: &str, body: &str) -> String {
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{stem}.{}.{extension}", &digest[..12])
}

/// The stylesheet's URL.
pub fn css_url() -> String {
    format!("/assets/{}", assets()[0].name)
}

/// The script's URL.
pub fn js_url() -> String {
    format!("/assets/{}", assets()[1].name)
}

/// `GET /assets/{name}`: an embedded file under its current name, cached
/// for a year (the name changes with the content).
pub async fn serve_asset(Path(name): Path<String>) -> Response {
    let Some(asset) = assets().iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert!(css_url().starts_with("/assets/app."));
        assert!(css_url().ends_with(".css"));
        assert_ne!(
            hashed_name("app", "css", "a"),
            hashed_name("app", "css", "b")
        );
    }

    /// Every block of the stylesheet is closed: an unclosed `@media` (easy
    /// to make when two changes append to the file) silently swallows every
    /// rule after it.
    #[test]
    fn the_stylesheet_closes_every_block() {
        let mut depth = 0i32;
        let mut in_comment = false;
        let bytes = CSS.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match (in_comment, bytes[i], bytes.get(i + 1)) {
                (false, b'/', Some(b'*')) => {
                    in_comment = true;
                    i += 1;
                }
                (true, b'*', Some(b'/')) => {
                    in_comment = false;
                    i += 1;
                }
                (false, b'{', _) => depth += 1,
                (false, b'}', _) => {
                    depth -= 1;
                    assert!(depth >= 0, "a `}}` closes nothing at byte {i}");
                }
                _ => {}
            }
            i += 1;
        }
        assert_eq!(depth, 0, "a block of app.css is not closed");
        assert!(!in_comment, "a comment of app.css is not closed");
    }
}
