//! Decoding a JSON body straight into a caller's own tree, without an
//! intermediate `serde_json::Value`: the Python bindings build Python
//! objects with it, and the fuzz target `json_decode` builds a
//! `serde_json::Value` with the very same visitor to check it against
//! `serde_json` itself. Values keep their JSON type: integers stay integers
//! (all of `u64` and `i64`), keys keep their spelling, and a key given twice
//! keeps its first position and its last value (as `dict` and `Value` do).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Makes the nodes of a decoded document.
pub trait Builder: Copy {
    type Node;
    type Error: std::fmt::Display;
    fn null(self) -> Result<Self::Node, Self::Error>;
    fn bool(self, v: bool) -> Result<Self::Node, Self::Error>;
    fn int(self, v: i64) -> Result<Self::Node, Self::Error>;
    fn uint(self, v: u64) -> Result<Self::Node, Self::Error>;
    fn float(self, v: f64) -> Result<Self::Node, Self::Error>;
    fn str(self, v: &str) -> Result<Self::Node, Self::Error>;
    /// An object's key; [`Builder::str`] unless the builder caches keys
    /// (the same few keys repeat through a large answer).
    fn key(self, v: &str) -> Result<Self::Node, Self::Error> {
        self.str(v)
    }
    /// An empty list, filled by [`Builder::push`].
    fn list(self) -> Result<Self::Node, Self::Error>;
    fn push(self, list: &mut Self::Node, item: Self::Node) -> Result<(), Self::Error>;
    /// An empty object, filled by [`Builder::insert`]; keys are made by
    /// [`Builder::key`].
    fn map(self) -> Result<Self::Node, Self::Error>;
    fn insert(
        self,
        map: &mut Self::Node,
        key: Self::Node,
        value: Self::Node,
    ) -> Result<(), Self::Error>;
}

/// Decodes JSON text (the whole of `body`, trailing whitespace allowed)
/// with `builder`. Nesting deeper than serde_json's limit (128) is an
/// error, not a stack overflow.
pub fn decode<B: Builder>(builder: B, body: &[u8]) -> Result<B::Node, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed(builder).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Builds a `serde_json::Value` (tests and fuzzing).
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueBuilder;

impl Builder for ValueBuilder {
    type Node = serde_json::Value;
    type Error = std::convert::Infallible;
    fn null(self) -> Result<Self::Node, Self::Error> {
        Ok(serde_json::Value::Null)
    }
    fn bool(self, v: bool) -> Result<Self::Node, Self::Error> {
        Ok(v.into())
    }
    fn int(self, v: i64) -> Result<Self::Node, Self::Error> {
        Ok(v.into())
    }
    fn uint(self, v: u64) -> Result<Self::Node, Self::Error> {
        Ok(v.into())
    }
    fn float(self, v: f64) -> Result<Self::Node, Self::Error> {
        Ok(v.into())
    }
    fn str(self, v: &str) -> Result<Self::Node, Self::Error> {
        Ok(v.into())
    }
    fn list(self) -> Result<Self::Node, Self::Error> {
        Ok(serde_json::Value::Array(Vec::new()))
    }
    fn push(self, list: &mut Self::Node, item: Self::Node) -> Result<(), Self::Error> {
        if let serde_json::Value::Array(items) = list {
            items.push(item);
        }
        Ok(())
    }
    fn map(self) -> Result<Self::Node, Self::Error> {
        Ok(serde_json::Value::Object(serde_json::Map::new()))
    }
    fn insert(
        self,
        map: &mut Self::Node,
        key: Self::Node,
        value: Self::Node,
    ) -> Result<(), Self::Error> {
        if let (serde_json::Value::Object(fields), serde_json::Value::String(key)) = (map, key) {
            fields.insert(key, value);
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Seed<B>(B);

impl<'de, B: Builder> DeserializeSeed<'de> for Seed<B> {
    type Value = B::Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, B: Builder> Visitor<'de> for Seed<B> {
    type Value = B::Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.null().map_err(E::custom)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.0.bool(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.int(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.uint(v).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.0.float(v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.str(v).map_err(E::custom)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = self.0.list().map_err(de::Error::custom)?;
        while let Some(item) = seq.next_element_seed(self)? {
            self.0.push(&mut list, item).map_err(de::Error::custom)?;
        }
        Ok(list)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = self.0.map().map_err(de::Error::custom)?;
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            let value = map.next_value_seed(self)?;
            self.0
                .insert(&mut object, key, value)
                .map_err(de::Error::custom)?;
        }
        Ok(object)
    }
}

/// An object's key: JSON keys are strings, made by [`Builder::key`].
#[derive(Clone, Copy)]
struct KeySeed<B>(B);

impl<'de, B: Builder> DeserializeSeed<'de> for KeySeed<B> {
    type Value = B::Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, B: Builder> Visitor<'de> for KeySeed<B> {
    type Value = B::Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.key(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_serde_json() {
        for text in [
            r#"{"a":[1,-2,18446744073709551615,1.5,"x",null,true],"a":{"b":{}}}"#,
            " [] ",
            "\"\\ud83d\\ude00\"",
        ] {
            let ours = decode(ValueBuilder, text.as_bytes()).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
        for bad in ["", "[1,]", "{} x", &"[".repeat(200)] {
            assert!(decode(ValueBuilder, bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
