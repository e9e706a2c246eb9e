//! A minimal server-sent events parser: just enough to tell `put`, `patch`
//! and `message` events apart and read their revision, without building the
//! data of any event (a `put` may be large; a subscriber only needs its
//! revision).

/// The kinds of event the scenarios look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `event: put` (the whole rule set).
    Put,
    /// `event: patch` (one flag or segment).
    Patch,
    /// `event: delete`.
    Delete,
    /// No `event:` field, or `event: message` (OFREP notifications).
    Message,
    /// Anything else.
    Other,
}

/// One dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// The `id:` field, when it is a number.
    pub id: Option<i64>,
    /// The number after `"revision":` in the data, when there is one.
    pub data_revision: Option<i64>,
}

impl Event {
    /// The revision this event brings the subscriber to: the id, else the
    /// revision in the data.
    pub fn revision(&self) -> Option<i64> {
        self.id.or(self.data_revision)
    }
}

/// Feeds chunks as they arrive; calls back once per complete event.
#[derive(Debug, Default)]
pub struct Parser {
    /// The incomplete last line of the previous chunks.
    partial: Vec<u8>,
    kind: Option<Kind>,
    id: Option<i64>,
    data_revision: Option<i64>,
    has_fields: bool,
}

impl Parser {
    /// Parses a chunk; `on_event` is called for each event it completes.
    pub fn feed(&mut self, chunk: &[u8], mut on_event: impl FnMut(Event)) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end);
            rest = &after[1..];
            if self.partial.is_empty() {
                self.line(line, &mut on_event);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, &mut on_event);
            }
        }
        self.partial.extend_from_slice(rest);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(Event)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_fields {
                on_event(Event {
                    kind: self.kind.take().unwrap_or(Kind::Message),
                    id: self.id.take(),
                    data_revision: self.data_revision.take(),
                });
            }
            self.has_fields = false;
            return;
        }
        if line[0] == b':' {
            return; // a comment (keep-alive)
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(at) => {
                let value = &line[at + 1..];
                (&line[..at], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        self.has_fields = true;
        match field {
            b"event" => {
                self.kind = Some(match value {
                    b"put" => Kind::Put,
                    b"patch" => Kind::Patch,
                    b"delete" => Kind::Delete,
                    b"message" => Kind::Message,
                    _ => Kind::Other,
                })
            }
            b"id" => self.id = parse_int(value),
            b"data" if self.data_revision.is_none() => {
                self.data_revision = find(value, b"\"revision\":").and_then(|at| {
                    let digits = &value[at + b"\"revision\":".len()..];
                    let digits = trim_start(digits);
                    let end = digits
                        .iter()
                        .position(|b| !(b.is_ascii_digit() || *b == b'-'))
                        .unwrap_or(digits.len());
                    parse_int(&digits[..end])
                })
            }
            _ => {}
        }
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn parse_int(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, |e| out.push(e));
        }
        out
    }

    #[test]
    fn put_and_patch_with_ids() {
        let stream = b"event: put\ndata: {\"revision\":7,\"flags\":[]}\nid: 7\n\n\
                       :\n\n\
                       event: patch\ndata: {\"revision\": 9,\"kind\":\"flag\"}\nid: 8\n\n";
        let got = events(&[stream]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].kind, Kind::Put);
        assert_eq!(got[0].revision(), Some(7));
        assert_eq!(got[1].kind, Kind::Patch);
        assert_eq!(got[1].id, Some(8));
        assert_eq!(got[1].data_revision, Some(9));
        assert_eq!(got[1].revision(), Some(8));
    }

    #[test]
    fn events_split_anywhere_and_crlf() {
        let stream: &[u8] =
            b"event: message\r\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"3\"}\r\nid: 3\r\n\r\n";
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            let got = events(&[a, b]);
            assert_eq!(got.len(), 1, "split at {split}");
            assert_eq!(got[0].kind, Kind::Message);
            assert_eq!(got[0].revision(), Some(3));
        }
    }

    #[test]
    fn data_revision_without_id() {
        let got = events(&[b"event: delete\ndata: {\"revision\":12,\"key\":\"x\"}\n\n"]);
        assert_eq!(got[0].kind, Kind::Delete);
        assert_eq!(got[0].revision(), Some(12));
    }
}
