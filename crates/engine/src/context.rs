//! The evaluation context: who is asking, as named attributes.

use serde_json::{Map, Value};

/// The targeting key's two names: the seed's `user_id` and OpenFeature's
/// `targetingKey`. Each is looked up under the other when absent.
pub const USER_ID: &str = "user_id";
/// OpenFeature's name for the targeting key.
pub const TARGETING_KEY: &str = "targetingKey";

/// A context: attributes whose values are strings, numbers, booleans or lists
/// of them (objects are kept but no operator matches them; `null` counts as
/// absent).
///
/// Attributes are kept in a small vector and found by a linear scan: contexts
/// hold a handful of attributes, for which this beats hashing. Each entry
/// carries a tag of its name (length and first bytes) so that the scan
/// rejects other names without reading their strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
struct Attribute {
    tag: u64,
    name: String,
    value: Value,
}

/// An attribute name with its tag computed once (compiled conditions hold
/// these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributeName {
    name: Box<str>,
    tag: u64,
}

impl AttributeName {
    pub(crate) fn new(name: &str) -> AttributeName {
        AttributeName {
            name: name.into(),
            tag: name_tag(name),
        }
    }
}

/// The first 8 bytes of a name (zero-padded) mixed with its length: equal
/// names have equal tags; most different names have different ones.
#[expect(clippy::arithmetic_side_effects, reason = "i counts to at most 8")]
const fn name_tag(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut word = [0u8; 8];
    let mut i = 0;
    while i < 8 && i < bytes.len() {
        word[i] = bytes[i];
        i += 1;
    }
    u64::from_le_bytes(word) ^ (bytes.len() as u64).rotate_left(56)
}

const USER_ID_TAG: u64 = name_tag(USER_ID);
const TARGETING_KEY_TAG: u64 = name_tag(TARGETING_KEY);

/// Why a JSON value is not a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidContext(pub String);

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// A context with only a targeting key.
    pub fn for_user(user_id: impl Into<String>) -> Context {
        Context::new().with(USER_ID, user_id.into())
    }

    /// Adds or replaces an attribute.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Context {
        self.set(name, value);
        self
    }

    /// Adds or replaces an attribute.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(slot) => slot.value = value,
            None => self.attributes.push(Attribute {
                tag: name_tag(&name),
                name,
                value,
            }),
        }
    }

    /// Reads a context from a JSON object.
    pub fn from_json(value: Value) -> Result<Context, InvalidContext> {
        match value {
            Value::Object(map) => Ok(Context::from_map(map)),
            Value::Null => Ok(Context::new()),
            other => Err(InvalidContext(format!(
                "the context must be a JSON object, found {}",
                crate::values::kind(&other)
            ))),
        }
    }

    /// A context from a JSON object's entries.
    pub fn from_map(map: Map<String, Value>) -> Context {
        Context {
            attributes: map
                .into_iter()
                .map(|(name, value)| Attribute {
                    tag: name_tag(&name),
                    name,
                    value,
                })
                .collect(),
        }
    }

    /// The value of an attribute; `null` counts as absent, and `user_id` and
    /// `targetingKey` stand in for each other.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.lookup(name, name_tag(name))
    }

    /// [`Context::get`] with the name's tag computed in advance.
    pub(crate) fn get_named(&self, name: &AttributeName) -> Option<&Value> {
        self.lookup(&name.name, name.tag)
    }

    #[inline]
    fn lookup(&self, name: &str, tag: u64) -> Option<&Value> {
        self.get_exact(name, tag).or_else(|| match tag {
            USER_ID_TAG if name == USER_ID => self.get_exact(TARGETING_KEY, TARGETING_KEY_TAG),
            TARGETING_KEY_TAG if name == TARGETING_KEY => self.get_exact(USER_ID, USER_ID_TAG),
            _ => None,
        })
    }

    #[inline]
    fn get_exact(&self, name: &str, tag: u64) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.tag == tag && same_name(&a.name, name))
            .map(|a| &a.value)
            .filter(|v| !v.is_null())
    }

    /// The targeting key (`user_id` or `targetingKey`), when it is a string.
    pub fn targeting_key(&self) -> Option<&str> {
        self.get(USER_ID).and_then(Value::as_str)
    }

    /// All attributes, in insertion order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.attributes.iter().map(|a| (a.name.as_str(), &a.value))
    }
}

/// Attribute names are short: compared without a `memcmp` call.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    crate::values::fast_eq(a, b)
}

/// A context read straight from JSON (an object, or `null` for none),
/// without an intermediate map: the OFREP hot path parses one per request.
/// A repeated name keeps its last value, as a JSON object would.
impl<'de> serde::Deserialize<'de> for Context {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Context, D::Error> {
        deserializer.deserialize_option(ContextVisitor)
    }
}

struct ContextVisitor;

impl<'de> serde::de::Visitor<'de> for ContextVisitor {
    type Value = Context;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a context: a JSON object of attributes")
    }

    fn visit_none<E>(self) -> Result<Context, E> {
        Ok(Context::new())
    }

    fn visit_unit<E>(self) -> Result<Context, E> {
        Ok(Context::new())
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, inner: D) -> Result<Context, D::Error> {
        inner.deserialize_map(ContextVisitor)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Context, A::Error> {
        let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(4).min(16));
        while let Some((name, value)) = map.next_entry::<String, Value>()? {
            attributes.push(Attribute {
                tag: name_tag(&name),
                name,
                value,
            });
        }
        let mut context = Context { attributes };
        context.keep_last_of_each_name();
        Ok(context)
    }
}

impl Context {
    /// Drops earlier entries of repeated names (JSON's last-one-wins).
    fn keep_last_of_each_name(&mut self) {
        let attributes = &mut self.attributes;
        let repeated = if attributes.len() <= 16 {
            attributes.iter().enumerate().any(|(i, a)| {
                attributes[i..]
                    .iter()
                    .skip(1)
                    .any(|b| a.tag == b.tag && a.name == b.name)
            })
        } else {
            let mut seen = foldhash::HashSet::default();
            !attributes.iter().all(|a| seen.insert(a.name.as_str()))
        };
        if repeated {
            // Rare: rebuild keeping each name's last entry, in first-seen order.
            let entries = std::mem::take(attributes);
            let mut position: foldhash::HashMap<String, usize> = foldhash::HashMap::default();
            for entry in entries {
                match position.get(&entry.name) {
                    Some(&at) => attributes[at].value = entry.value,
                    None => {
                        position.insert(entry.name.clone(), attributes.len());
                        attributes.push(entry);
                    }
                }
            }
        }
    }
}

impl From<Map<String, Value>> for Context {
    fn from(map: Map<String, Value>) -> Context {
        Context::from_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targeting_key_aliases() {
        let of = Context::new().with("targetingKey", "u1");
        assert_eq!(of.get("user_id"), Some(&json!("u1")));
        let seed = Context::for_user("u2");
        assert_eq!(seed.get("targetingKey"), Some(&json!("u2")));
        assert_eq!(seed.targeting_key(), Some("u2"));
    }

    #[test]
    fn null_is_absent_and_non_objects_are_refused() {
        let ctx = Context::from_json(json!({"a": null})).unwrap_or_default();
        assert_eq!(ctx.get("a"), None);
        assert!(Context::from_json(json!([1])).is_err());
    }
}
