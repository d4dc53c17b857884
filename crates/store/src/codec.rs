//! The compact encoding of history rows.
//!
//! A heartbeat carries some 25 samples (machine metrics, one pair per mount and per interface).
//! Stored as one row per series they dirty one B-tree page per series on every heartbeat, which
//! is what capped ingest; stored together, a heartbeat writes one row of about 100 bytes, and a
//! rollup bucket one row for all of a server's series. The layout, after a version byte:
//!
//! - samples: `count`, then per sample `series-id delta`, `value`;
//! - aggregates: `count`, then per series `series-id delta`, `sample count`, `avg`, `min`, `max`.
//!
//! Series ids are sorted and delta-coded as LEB128 varints. A value is lossless: a varint whose
//! low three bits say how to read it, either an integer (zigzag-coded) scaled by 1, 10, 100 or
//! 1000 (metrics are mostly integers or have a decimal or two: 42.3 takes two bytes), or, when
//! no scale is exact, the four bytes of an `f32` that holds it exactly or the eight of an `f64`.

use homelab_core::history::Aggregate;
use thiserror::Error;

const VERSION: u8 = 1;
const SCALES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
const TAG_F32: u64 = 4;
const TAG_F64: u64 = 5;
/// Integers beyond this are not exact in an `f64`; such values are stored as floats.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A stored history row that cannot be read back: the file was damaged or written by a newer
/// version.
#[derive(Debug, Error, PartialEq)]
#[error("unreadable history row: {0}")]
pub struct CodecError(&'static str);

/// Encodes `(series id, value)` samples; a series listed twice keeps its last value.
pub fn encode_samples(samples: &[(i64, f64)]) -> Vec<u8> {
    let samples = sorted_unique(samples);
    let mut out = header(samples.len(), 4);
    let mut previous = 0;
    for (series, value) in samples {
        write_varint(&mut out, series.wrapping_sub(previous) as u64);
        write_value(&mut out, value);
        previous = series;
    }
    out
}

/// Decodes [`encode_samples`] output, in ascending series order.
pub fn decode_samples(bytes: &[u8]) -> Result<Vec<(i64, f64)>, CodecError> {
    let mut walk = SampleWalk::new(bytes)?;
    let samples = (&mut walk).collect::<Result<Vec<_>, _>>()?;
    walk.reader.finish(samples)
}

/// The value of one series in [`encode_samples`] output, without decoding the rest: series are
/// stored in ascending order, so the walk stops at the first id at or past `wanted`.
pub fn find_sample(bytes: &[u8], wanted: i64) -> Result<Option<f64>, CodecError> {
    for entry in SampleWalk::new(bytes)? {
        let (series, value) = entry?;
        if series >= wanted {
            return Ok((series == wanted).then_some(value));
        }
    }
    Ok(None)
}

/// [`encode_samples`] output, one `(series, value)` at a time.
struct SampleWalk<'a> {
    reader: Reader<'a>,
    left: usize,
    series: i64,
}

impl<'a> SampleWalk<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, CodecError> {
        let mut reader = Reader::new(bytes)?;
        let left = reader.count()?;
        Ok(SampleWalk { reader, left, series: 0 })
    }

    fn entry(&mut self) -> Result<(i64, f64), CodecError> {
        self.series = self.reader.next_series(self.series)?;
        Ok((self.series, self.reader.value()?))
    }
}

impl Iterator for SampleWalk<'_> {
    type Item = Result<(i64, f64), CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        Some(self.entry())
    }
}

/// Encodes one bucket's aggregates per series (the bucket start is the row's key, not stored).
pub fn encode_aggregates(aggregates: &[(i64, Aggregate)]) -> Vec<u8> {
    let aggregates = sorted_unique(aggregates);
    let mut out = header(aggregates.len(), 12);
    let mut previous = 0;
    for (series, aggregate) in aggregates {
        write_varint(&mut out, series.wrapping_sub(previous) as u64);
        write_varint(&mut out, aggregate.count.max(0) as u64);
        write_value(&mut out, aggregate.avg);
        write_value(&mut out, aggregate.min);
        write_value(&mut out, aggregate.max);
        previous = series;
    }
    out
}

/// Decodes [`encode_aggregates`] output, stamping each aggregate with the bucket start `ts`.
pub fn decode_aggregates(bytes: &[u8], ts: i64) -> Result<Vec<(i64, Aggregate)>, CodecError> {
    let mut reader = Reader::new(bytes)?;
    let count = reader.count()?;
    let mut out = Vec::with_capacity(count);
    let mut series = 0i64;
    for _ in 0..count {
        series = reader.next_series(series)?;
        let count = i64::try_from(reader.varint()?).map_err(|_| CodecError("sample count out of range"))?;
        let (avg, min, max) = (reader.value()?, reader.value()?, reader.value()?);
        out.push((series, Aggregate { ts, avg, min, max, count }));
    }
    reader.finish(out)
}

/// The version byte and entry count, in a buffer sized for `entries` of about `entry_bytes`.
fn header(entries: usize, entry_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + entries * entry_bytes);
    out.push(VERSION);
    write_varint(&mut out, entries as u64);
    out
}

/// Sorts by series id; of duplicates the last one wins (a later report supersedes an earlier).
fn sorted_unique<T: Copy>(entries: &[(i64, T)]) -> Vec<(i64, T)> {
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|(series, _)| *series); // stable: duplicates keep their order
    let mut out: Vec<(i64, T)> = Vec::with_capacity(sorted.len());
    for entry in sorted {
        match out.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => out.push(entry),
        }
    }
    out
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn write_value(out: &mut Vec<u8>, value: f64) {
    for (tag, scale) in SCALES.iter().enumerate() {
        let scaled = (value * scale).round();
        if scaled.abs() < MAX_EXACT && scaled / scale == value {
            write_varint(out, (zigzag(scaled as i64) << 3) | tag as u64);
            return;
        }
    }
    let narrow = value as f32;
    if f64::from(narrow) == value {
        write_varint(out, TAG_F32);
        out.extend_from_slice(&narrow.to_le_bytes());
    } else {
        write_varint(out, TAG_F64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, CodecError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => Ok(Reader { bytes: rest }),
            Some(_) => Err(CodecError("unknown format version")),
            None => Err(CodecError("empty")),
        }
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or(CodecError("truncated"))?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError("varint too long"))
    }

    /// The entry count, bounded by the bytes left so a damaged row cannot ask for a huge buffer.
    fn count(&mut self) -> Result<usize, CodecError> {
        let count = self.varint()?;
        usize::try_from(count).ok().filter(|&c| c <= self.bytes.len()).ok_or(CodecError("bad entry count"))
    }

    fn next_series(&mut self, previous: i64) -> Result<i64, CodecError> {
        let delta = i64::try_from(self.varint()?).map_err(|_| CodecError("series id out of range"))?;
        previous.checked_add(delta).ok_or(CodecError("series id out of range"))
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let (head, rest) = self.bytes.split_first_chunk::<N>().ok_or(CodecError("truncated"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn value(&mut self) -> Result<f64, CodecError> {
        let word = self.varint()?;
        match word & 7 {
            TAG_F32 => Ok(f64::from(f32::from_le_bytes(self.take()?))),
            TAG_F64 => Ok(f64::from_le_bytes(self.take()?)),
            tag => {
                let scale = SCALES.get(tag as usize).ok_or(CodecError("unknown value tag"))?;
                Ok(unzigzag(word >> 3) as f64 / scale)
            }
        }
    }

    fn finish<T>(self, decoded: T) -> Result<T, CodecError> {
        if self.bytes.is_empty() { Ok(decoded) } else { Err(CodecError("trailing bytes")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typical_values_take_few_bytes() {
        for (value, bytes) in
            [(0.0, 1), (3.0, 1), (42.0, 2), (42.3, 2), (1.25, 2), (0.125, 2), (16_384.0, 3), (1e12, 7)]
        {
            let mut out = Vec::new();
            write_value(&mut out, value);
            assert_eq!(out.len(), bytes, "{value}");
        }
        let mut out = Vec::new();
        write_value(&mut out, 0.1 + 0.2); // not a short decimal: stored as f64
        assert_eq!(out.len(), 9);
    }

    #[test]
    fn a_heartbeat_of_25_samples_is_about_a_hundred_bytes() {
        let samples: Vec<(i64, f64)> = (1..=25).map(|id| (1000 + id, f64::from(id as i32 * 37) / 10.0)).collect();
        let encoded = encode_samples(&samples);
        assert!(encoded.len() < 110, "{} bytes", encoded.len());
        assert_eq!(decode_samples(&encoded).unwrap(), samples);
    }

    #[test]
    fn samples_come_back_sorted_and_a_repeated_series_keeps_its_last_value() {
        let encoded = encode_samples(&[(7, 1.0), (3, 2.0), (7, 5.0)]);
        assert_eq!(decode_samples(&encoded).unwrap(), [(3, 2.0), (7, 5.0)]);
        assert_eq!(decode_samples(&encode_samples(&[])).unwrap(), []);
    }

    #[test]
    fn aggregates_round_trip_with_the_bucket_start() {
        let aggregate = Aggregate { ts: 0, avg: 12.345_678_9, min: 1.5, max: 99.9, count: 5 };
        let decoded = decode_aggregates(&encode_aggregates(&[(9, aggregate), (4, aggregate)]), 600_000).unwrap();
        assert_eq!(decoded, [(4, Aggregate { ts: 600_000, ..aggregate }), (9, Aggregate { ts: 600_000, ..aggregate })]);
    }

    #[test]
    fn damaged_rows_are_errors_not_panics() {
        let good = encode_samples(&[(1, 1.5), (2, 1e300)]);
        assert_eq!(decode_samples(&[]), Err(CodecError("empty")));
        assert_eq!(decode_samples(&[9, 0]), Err(CodecError("unknown format version")));
        for cut in 1..good.len() {
            assert!(decode_samples(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode_samples(&trailing), Err(CodecError("trailing bytes")));
        assert_eq!(decode_samples(&[VERSION, 200, 1]), Err(CodecError("bad entry count")));
        assert_eq!(decode_samples(&[VERSION, 1, 1, 7]), Err(CodecError("unknown value tag")));
        assert!(
            decode_aggregates(&[VERSION, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0).is_err()
        );
    }

    proptest! {
        #[test]
        fn any_finite_value_round_trips_exactly(
            value in prop_oneof![
                any::<f64>().prop_filter("finite", |v| v.is_finite()),
                (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(n, d)| n as f64 / 10f64.powi(d as i32)),
                any::<i64>().prop_map(|n| n as f64),
            ]
        ) {
            let decoded = decode_samples(&encode_samples(&[(1, value)])).unwrap();
            prop_assert_eq!(decoded[0].1, value);
        }

        #[test]
        fn any_set_of_samples_round_trips(
            samples in proptest::collection::btree_map(1i64..i64::MAX / 2, -1e9f64..1e9, 0..40)
        ) {
            let samples: Vec<(i64, f64)> = samples.into_iter().collect();
            prop_assert_eq!(decode_samples(&encode_samples(&samples)).unwrap(), samples);
        }

        #[test]
        fn one_sample_is_found_as_a_full_decode_would(
            samples in proptest::collection::btree_map(1i64..1_000, -1e9f64..1e9, 0..40),
            wanted in 0i64..1_001,
        ) {
            let expected = samples.get(&wanted).copied();
            let samples: Vec<(i64, f64)> = samples.into_iter().collect();
            prop_assert_eq!(find_sample(&encode_samples(&samples), wanted).unwrap(), expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_samples(&bytes);
            let _ = decode_aggregates(&bytes, 0);
            let _ = find_sample(&bytes, 3);
        }
    }
}
