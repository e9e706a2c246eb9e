//! Form bodies that axum's `Form` cannot read: fields that repeat (a
//! checkbox per flag: `flag=a&flag=b`) and `multipart/form-data` (a file
//! upload). A page handler takes the body as bytes and reads it here, so
//! that every form of the page keeps working without JavaScript. Also the
//! fields every editor form carries ([`Submitted`]: token, reason,
//! confirmation, the button pressed, the version opened).
//!
//! One rule for a name sent more than once where one value is expected:
//! **the last one wins** (a later field overrides an earlier default, as a
//! checkbox after a hidden field of the same name does). Fields meant to
//! repeat are read with [`FormFields::all`].
//!
//! The multipart reader is deliberately small: the pages send a few text
//! fields and at most one file of a few megabytes (the body limit applies
//! before this), and everything is kept in memory.

use axum::http::{HeaderMap, header};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::ui::actions::{CommonFields, check_csrf};
use crate::ui::shell::UiError;

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its value (a file's contents).
    pub value: Vec<u8>,
    /// For a file: the name the browser gave (possibly empty: no file chosen).
    pub filename: Option<String>,
}

/// The fields of a form, in order.
#[derive(Debug, Default)]
pub struct FormFields {
    fields: Vec<Field>,
}

impl FormFields {
    /// Reads a urlencoded or multipart body, as its `Content-Type` says.
    pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<FormFields, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
        {
            let boundary = boundary(content_type).ok_or_else(|| {
                ApiError::bad_request("invalid_form", "the form's boundary is missing")
            })?;
            return multipart(body, &boundary).map(|fields| FormFields { fields });
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::bad_request("invalid_form", e.to_string()))?;
        Ok(FormFields {
            fields: pairs
                .into_iter()
                .map(|(name, value)| Field {
                    name,
                    value: value.into_bytes(),
                    filename: None,
                })
                .collect(),
        })
    }

    /// Name and value pairs already decoded (axum's `Form<Vec<(String,
    /// String)>>`), in the order sent.
    pub fn from_pairs(pairs: &[(String, String)]) -> FormFields {
        FormFields {
            fields: pairs
                .iter()
                .map(|(name, value)| Field {
                    name: name.clone(),
                    value: value.clone().into_bytes(),
                    filename: None,
                })
                .collect(),
        }
    }

    /// The value of a field, as text ("" when absent); the last one when
    /// the name was sent more than once.
    pub fn text(&self, name: &str) -> String {
        self.fields
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
            .unwrap_or_default()
    }

    /// Every value of a repeated field, as text, without empty ones.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.name == name && !f.value.is_empty())
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
            .collect()
    }

    /// A file field, if one was chosen (its name and contents).
    pub fn file(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name == name && f.filename.as_deref().is_some_and(|n| !n.is_empty()))
    }

    /// The fields every action form carries (token, reason, confirmation,
    /// where to go back).
    pub fn common(&self) -> CommonFields {
        CommonFields {
            csrf: self.text("csrf"),
            reason: self.text("reason"),
            confirmed: self.text("confirmed"),
            back: self.text("back"),
        }
    }
}

/// The fields of a submitted editor form (flag, segment, environment)
/// besides the document's own.
#[derive(Debug)]
pub struct Submitted {
    /// Token, reason and confirmation (`confirmed` is `yes` or empty).
    pub common: CommonFields,
    /// The button pressed: `save` (or none: Enter in a field), or one that
    /// adds or removes a row.
    pub op: String,
    /// The version the form was opened on (`If-Match`); `None` for a new
    /// document.
    pub version: Option<i64>,
}

impl Submitted {
    /// Reads the fields and checks the form's CSRF token. Confirmed means
    /// `confirmed=yes`, as every action form says it (the editor's
    /// checkbox, the confirmation page, the script's dialog).
    pub fn read(principal: &Principal, form: &FormFields) -> Result<Submitted, UiError> {
        let submitted = Submitted::of(form);
        check_csrf(principal, &submitted.common)?;
        Ok(submitted)
    }

    /// The fields, unchecked.
    fn of(form: &FormFields) -> Submitted {
        let mut common = form.common();
        if common.confirmed != "yes" {
            common.confirmed.clear();
        }
        // Editors go back where their save leads, never where a field says.
        common.back.clear();
        Submitted {
            common,
            op: form.text("op"),
            version: form.text("version").trim().parse().ok(),
        }
    }

    /// Whether the save button was pressed (or Enter in a field).
    pub fn saves(&self) -> bool {
        self.op.is_empty() || self.op == "save"
    }

    /// Whether the form says the change was confirmed.
    pub fn confirmed(&self) -> bool {
        self.common.confirmed == "yes"
    }
}

/// The `boundary` parameter of a multipart `Content-Type`.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// The parts of a `multipart/form-data` body (RFC 7578).
fn multipart(body: &[u8], boundary: &str) -> Result<Vec<Field>, ApiError> {
    let invalid = || ApiError::bad_request("invalid_form", "the uploaded form could not be read");
    let delimiter = format!("--{boundary}").into_bytes();
    let next_part = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)
        .ok_or_else(invalid)?
        .saturating_add(delimiter.len());
    let mut fields = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        at = at.saturating_add(
            body[at..]
                .starts_with(b"\r\n")
                .then_some(2)
                .ok_or_else(invalid)?,
        );
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(invalid)?;
        let head = String::from_utf8_lossy(&body[at..head_end]);
        let content_start = head_end.saturating_add(4);
        let content_end = find(body, &next_part, content_start).ok_or_else(invalid)?;
        let (name, filename) = disposition(&head).ok_or_else(invalid)?;
        fields.push(Field {
            name,
            value: body[content_start..content_end].to_vec(),
            filename,
        });
        at = content_end.saturating_add(next_part.len());
    }
}

/// The `name` and `filename` of a part's `Content-Disposition`.
fn disposition(head: &str) -> Option<(String, Option<String>)> {
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    let mut name = None;
    let mut filename = None;
    for param in line.split(';').skip(1) {
        let Some((key, value)) = param.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "filename" => filename = Some(value),
            _ => {}
        }
    }
    Some((name?, filename))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|i| i.saturating_add(from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn urlencoded_fields_repeat() {
        let form = FormFields::read(
            &headers("application/x-www-form-urlencoded"),
            b"csrf=t&flag=a&flag=b&flag=&reason=why+not%3F",
        )
        .unwrap_or_default();
        assert_eq!(form.all("flag"), vec!["a", "b"]);
        assert_eq!(form.text("reason"), "why not?");
        assert_eq!(form.common().csrf, "t");
        assert_eq!(form.text("missing"), "");
    }

    #[test]
    fn the_last_of_a_repeated_field_wins_and_confirmed_means_yes() {
        let form = FormFields::from_pairs(&[
            ("op".to_owned(), "add_rule".to_owned()),
            ("confirmed".to_owned(), String::new()),
            ("op".to_owned(), "save".to_owned()),
            ("confirmed".to_owned(), "yes".to_owned()),
            ("version".to_owned(), " 7 ".to_owned()),
        ]);
        let submitted = Submitted::of(&form);
        assert!(submitted.saves() && submitted.confirmed());
        assert_eq!(submitted.version, Some(7));
        // Only `yes` confirms (an `on` from a checkbox without a value does not).
        let form = FormFields::from_pairs(&[
            ("confirmed".to_owned(), "on".to_owned()),
            ("op".to_owned(), "add_window".to_owned()),
        ]);
        let submitted = Submitted::of(&form);
        assert!(!submitted.confirmed() && !submitted.saves());
        assert_eq!(submitted.common.confirmed, "");
        assert_eq!(submitted.version, None);
    }

    #[test]
    fn multipart_fields_and_a_file() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"flags.yaml\"\r\n\
                    Content-Type: application/yaml\r\n\r\nflags:\r\n  - flag_id: a\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n\r\n\
                    --XyZ--\r\n";
        let form = FormFields::read(
            &headers("multipart/form-data; boundary=XyZ"),
            body.as_bytes(),
        )
        .unwrap_or_default();
        assert_eq!(form.text("csrf"), "tok");
        let file = form
            .file("file")
            .map(|f| f.value.clone())
            .unwrap_or_default();
        assert_eq!(file, b"flags:\r\n  - flag_id: a");
        assert_eq!(
            form.file("file")
                .and_then(|f| f.filename.clone())
                .as_deref(),
            Some("flags.yaml")
        );
        assert!(form.file("empty").is_none());
    }

    #[test]
    fn broken_multipart_is_a_bad_request() {
        for body in ["", "--XyZ\r\nno end", "--XyZ\r\n\r\n\r\nvalue\r\n--XyZ--"] {
            assert!(
                FormFields::read(
                    &headers("multipart/form-data; boundary=XyZ"),
                    body.as_bytes()
                )
                .is_err(),
                "{body:?}"
            );
        }
        assert!(FormFields::read(&headers("multipart/form-data"), b"").is_err());
    }
}
