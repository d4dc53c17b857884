//! A machine's latest report of something (its metrics, filesystems, network interfaces) as the
//! store keeps it: JSON text. The fleet list writes thousands of them at a time, and parsing each
//! only to encode it again was most of that list's cost; a [`Snapshot`] is written out as the text
//! it is, and parsed only where a value inside it is needed.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// JSON text known to be valid, holding a `T`.
pub struct Snapshot<T> {
    json: Box<RawValue>,
    of: PhantomData<fn() -> T>,
}

impl<T> Snapshot<T> {
    /// Takes stored text, checking that it is JSON (not that it is a `T`: see [`Snapshot::parse`]).
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        Ok(Snapshot { json: RawValue::from_string(text)?, of: PhantomData })
    }

    /// The JSON text, as stored and as sent.
    pub fn json(&self) -> &str {
        self.json.get()
    }
}

impl<T: Serialize> Snapshot<T> {
    pub fn of(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Snapshot { json: serde_json::value::to_raw_value(value)?, of: PhantomData })
    }
}

impl<T: DeserializeOwned> Snapshot<T> {
    /// The value, for the few places that look inside (a card's gauges, a cost estimate).
    pub fn parse(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json.get())
    }
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Snapshot { json: self.json.clone(), of: PhantomData }
    }
}

impl<T> PartialEq for Snapshot<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json.get() == other.json.get()
    }
}

impl<T> fmt::Debug for Snapshot<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.json.get())
    }
}

impl<T> Serialize for Snapshot<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Snapshot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Snapshot { json: Box::<RawValue>::deserialize(deserializer)?, of: PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;
    use crate::heartbeat::Metrics;

    #[test]
    fn a_snapshot_is_written_as_its_text_and_parses_to_its_value() {
        let metrics = Metrics { cpu_percent: Some(12.5), ..Metrics::default() };
        let snapshot = Snapshot::of(&metrics).unwrap();
        assert_eq!(snapshot.parse().unwrap(), metrics);
        let stored = Snapshot::<Metrics>::from_json(snapshot.json().to_owned()).unwrap();
        assert_eq!(stored, snapshot);
        assert!(snapshot.json().contains("\"cpu_percent\":12.5"), "{snapshot:?}");
        assert_eq!(serde_json::to_string(&stored).unwrap(), snapshot.json(), "written out as stored");
        assert!(Snapshot::<Metrics>::from_json("{not json".into()).is_err());
    }
}
