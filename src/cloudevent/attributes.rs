//! The one-pass read of an event's four required attributes that also checks every value as `serde_json::Value`
//! would parse it, without building the tree.

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;

/// A CloudEvent attribute's value as [`Head`] followed by a `Cow<str>` parse sees it: `null` counts as absent.
pub(super) enum Attr<'a> {
    Text(Cow<'a, str>),
    Other,
}

/// The top-level attributes of an event, read in a pass that also checks every value the way `serde_json::Value`
/// would parse it, without building the tree. Every value goes through `deserialize_any` and every key through
/// `deserialize_str`, exactly the parser paths `Value` takes, so numbers out of range, lone surrogates and the like
/// fail here whenever they fail there.
#[derive(Default)]
pub(super) struct Attributes<'a> {
    /// `None`: not seen; `Some(None)`: `null`.
    pub(super) specversion: Option<Option<Attr<'a>>>,
    pub(super) id: Option<Option<Attr<'a>>>,
    pub(super) source: Option<Option<Attr<'a>>>,
    pub(super) ty: Option<Option<Attr<'a>>>,
    /// One of them appears twice, which [`Head`] refuses with its own message.
    pub(super) repeated: bool,
}

impl<'de> Deserialize<'de> for Attributes<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = Attributes<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CloudEvent object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes<'de>, A::Error> {
                let mut a = Attributes::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let slot = match key.0.as_ref() {
                        "specversion" => &mut a.specversion,
                        "id" => &mut a.id,
                        "source" => &mut a.source,
                        "type" => &mut a.ty,
                        _ => {
                            map.next_value::<Checked>()?;
                            continue;
                        }
                    };
                    a.repeated |= slot.is_some();
                    *slot = Some(map.next_value::<Option<AttrValue<'de>>>()?.map(|v| v.0));
                }
                Ok(a)
            }
        }
        d.deserialize_any(Top)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An attribute's value: `Option<AttrValue>` maps `null` to `None` as `Option<&RawValue>` does in [`Head`].
struct AttrValue<'a>(Attr<'a>);

impl<'de> Deserialize<'de> for AttrValue<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttrValue<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Text(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Text(Cow::Owned(s.to_owned()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AttrValue(Attr::Other))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                CheckedVisitor.visit_seq(seq).map(|_| AttrValue(Attr::Other))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                CheckedVisitor.visit_map(map).map(|_| AttrValue(Attr::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value, parsed as `serde_json::Value` would parse it and then dropped: nothing is built.
struct Checked;

struct CheckedVisitor;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

/// A map key checked as `Value` reads keys (`deserialize_str`).
struct CheckedKey;

impl<'de> Deserialize<'de> for CheckedKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CheckedVisitor).map(|_| CheckedKey)
    }
}

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<CheckedKey>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}
