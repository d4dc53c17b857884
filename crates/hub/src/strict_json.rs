//! A deserializer wrapper that reads JSON the way v1 (pydantic) does where serde would not:
//!
//! - It refuses a list where an object is expected. serde's derived structs also accept a list
//!   of their fields in order, so `{"cooldowns":[30,240]}` would be taken as
//!   `{"cooldowns":{"critical_minutes":30,…}}`: a client that sent the wrong shape would get a
//!   200 for something it did not mean.
//! - It takes a whole number written with a fraction (`300.0`, `3e2`) as that integer, as
//!   pydantic and JSON Schema do; serde refuses it for an integer field. Float fields take
//!   integers, so nothing else changes.
//!
//! It wraps any deserializer, so the same rules hold over the request's bytes as they stream
//! (the fast path, no tree built) and over a parsed [`serde_json::Value`] (where an error is
//! located). Everything else behaves as the wrapped deserializer does.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// Deserializes strictly through `D`; wrap it in `serde_path_to_error` to learn where it failed.
pub struct Strict<D>(pub D);

/// Forwards a `deserialize_*` method that has no arguments besides the visitor.
macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap::new(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap::new(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap::new(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap::new(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap::new(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Wrap { visitor, object_of: Some(name) })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap::new(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor whose nested values are read strictly too; `object_of` names the struct being read,
/// which must then be an object.
struct Wrap<V> {
    visitor: V,
    object_of: Option<&'static str>,
}

impl<V> Wrap<V> {
    fn new(visitor: V) -> Self {
        Wrap { visitor, object_of: None }
    }
}

/// Beyond 2⁵³ a float no longer says which integer it was.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Forwards `visit_*` methods that carry a plain value.
macro_rules! pass {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    pass! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_char(char) visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        if v.fract() == 0.0 && v.abs() <= EXACT {
            #[allow(clippy::cast_possible_truncation)]
            return self.visitor.visit_i64(v as i64);
        }
        self.visitor.visit_f64(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if let Some(name) = self.object_of {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &format!("an object ({name})").as_str()));
        }
        self.visitor.visit_seq(Strict(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Strict(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(Strict(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Strict<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(deserializer))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Strict(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Strict(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Strict<A> {
    type Error = A::Error;
    type Variant = Strict<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error> {
        let (variant, access) = self.0.variant_seed(seed)?;
        Ok((variant, Strict(access)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Strict(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap::new(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap { visitor, object_of: Some("variant") })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::Strict;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Cooldowns {
        critical_minutes: Option<i64>,
        high_minutes: Option<i64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Update {
        #[serde(default)]
        cooldowns: Option<Cooldowns>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        ratio: Option<f64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Slack,
    }

    /// The same rules over a parsed tree and over the text as it streams.
    fn both(text: &str) -> [Result<Update, String>; 2] {
        let tree: serde_json::Value = serde_json::from_str(text).unwrap();
        let from_tree = serde_path_to_error::deserialize(Strict(&tree)).map_err(|e| e.path().to_string());
        let mut stream = serde_json::Deserializer::from_str(text);
        let from_text = serde_path_to_error::deserialize(Strict(&mut stream)).map_err(|e| e.path().to_string());
        [from_tree, from_text]
    }

    #[test]
    fn a_list_in_place_of_an_object_is_refused_where_serde_json_takes_it() {
        let wrong = r#"{"cooldowns": [30, 240]}"#;
        assert!(serde_json::from_str::<Update>(wrong).is_ok(), "the lax parse this guards against");
        for outcome in both(wrong) {
            assert_eq!(outcome.unwrap_err(), "cooldowns");
        }
        for outcome in both(r#"[null, ["a"]]"#) {
            assert!(outcome.is_err());
        }
        let right = r#"{"cooldowns": {"high_minutes": 60}, "tags": ["a"], "kind": "slack"}"#;
        for outcome in both(right) {
            assert_eq!(outcome.unwrap(), serde_json::from_str::<Update>(right).unwrap());
        }
    }

    #[test]
    fn whole_numbers_with_a_fraction_are_integers_and_floats_stay_floats() {
        let text = r#"{"cooldowns": {"critical_minutes": 30.0, "high_minutes": 2e2}, "ratio": 0.5}"#;
        assert!(serde_json::from_str::<Update>(text).is_err(), "serde alone refuses 30.0 for an integer");
        for outcome in both(text) {
            let update = outcome.unwrap();
            assert_eq!(update.cooldowns, Some(Cooldowns { critical_minutes: Some(30), high_minutes: Some(200) }));
            assert_eq!(update.ratio, Some(0.5));
        }
        for outcome in both(r#"{"cooldowns": {"critical_minutes": 30.5}}"#) {
            assert_eq!(outcome.unwrap_err(), "cooldowns.critical_minutes");
        }
        let value: serde_json::Value = serde_json::Value::deserialize(Strict(&json!({"a": 3.0}))).unwrap();
        assert!(value["a"].is_i64(), "a whole number is an integer wherever it lands: {value}");
    }
}
