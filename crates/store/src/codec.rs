//! The compact encoding of history rows.
//!
//! A heartbeat carries some 25 samples (machine metrics, one pair per mount and per interface).
//! Stored as one row per series they dirty one B-tree page per series on every heartbeat, which
//! is what capped ingest; stored together, a heartbeat writes one row of about 80 bytes, and a
//! rollup bucket one row for all of a server's series. The layout (version 2), after the
//! version byte:
//!
//! - series ids as runs of consecutive ids: `run count`, then per run `gap from the previous
//!   run's last id` and `length` (a server's series are created together, so a row is usually
//!   one run: three bytes instead of one per sample);
//! - samples: then one `value` per id;
//! - aggregates: then the sample count shared by every series plus one (the usual case: each
//!   series got every heartbeat of the bucket), or 0 and then a count per series; then per id
//!   `min` as a value, `max` as its difference from `min`, and `avg` relative to the midpoint
//!   of `min` and `max`, either as its difference or as the decimal sum of the bucket's readings
//!   less `count × midpoint` (see [`homelab_core::history::decimal_sum`]): an average of five
//!   one-decimal readings is rarely a short decimal itself, but its sum is, and a counter's
//!   average lies near the middle of its range, not near its start.
//!
//! Counts, ids and lengths are LEB128 varints. A value is lossless: a varint whose low bits say
//! how to read it, an integer (zigzag-coded) scaled by 1, 10, 100 or 1000 (metrics are mostly
//! integers or have a decimal or two: 42.3 takes two bytes), or, when no scale is exact, the four
//! bytes of an `f32` that holds it exactly or the eight of an `f64`. Every short form is checked
//! by decoding it before it is chosen, so a row always decodes to the very bits encoded.
//!
//! Version 1 rows (written before the runs and the relative aggregates) are still read: each
//! sample's id as a delta from the previous one, and aggregates as four absolute values.

use homelab_core::history::{Aggregate, DECIMAL_SCALES, decimal_mean, decimal_sum};
use thiserror::Error;

const V1: u8 = 1;
const V2: u8 = 2;
const TAG_F32: u64 = 4;
const TAG_F64: u64 = 5;
/// Tags of a value relative to `min` (`max`, `avg`): 0–3 a scaled difference, 4–7 a scaled
/// decimal sum, then the floats.
const REL_SUM: u64 = 4;
const REL_F32: u64 = 8;
const REL_F64: u64 = 9;
const REL_TAG_BITS: u32 = 4;
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
    let mut out = Vec::with_capacity(8 + samples.len() * 3);
    out.push(V2);
    write_runs(&mut out, samples.iter().map(|(series, _)| *series));
    for (_, value) in samples {
        write_value(&mut out, value);
    }
    out
}

/// Decodes [`encode_samples`] output, in ascending series order.
pub fn decode_samples(bytes: &[u8]) -> Result<Vec<(i64, f64)>, CodecError> {
    let (version, mut reader) = Reader::new(bytes)?;
    let ids = match version {
        V1 => return decode_samples_v1(reader),
        _ => reader.runs()?,
    };
    let mut out = Vec::with_capacity(ids.len());
    for series in ids {
        out.push((series, reader.value()?));
    }
    reader.finish(out)
}

fn decode_samples_v1(mut reader: Reader<'_>) -> Result<Vec<(i64, f64)>, CodecError> {
    let count = reader.count()?;
    let mut out = Vec::with_capacity(count);
    let mut series = 0;
    for _ in 0..count {
        series = reader.next_series(series)?;
        out.push((series, reader.value()?));
    }
    reader.finish(out)
}

/// The value of one series in [`encode_samples`] output, without decoding the rest: the ids
/// say where it is, and only the values before it are stepped over.
pub fn find_sample(bytes: &[u8], wanted: i64) -> Result<Option<f64>, CodecError> {
    let (version, mut reader) = Reader::new(bytes)?;
    if version == V1 {
        let count = reader.count()?;
        let mut series = 0;
        for _ in 0..count {
            series = reader.next_series(series)?;
            let value = reader.value()?;
            if series >= wanted {
                return Ok((series == wanted).then_some(value));
            }
        }
        return Ok(None);
    }
    let Some(position) = reader.position_of(wanted)? else { return Ok(None) };
    for _ in 0..position {
        reader.value()?;
    }
    reader.value().map(Some)
}

/// Encodes one bucket's aggregates per series (the bucket start is the row's key, not stored).
pub fn encode_aggregates(aggregates: &[(i64, Aggregate)]) -> Vec<u8> {
    let aggregates = sorted_unique(aggregates);
    let mut out = Vec::with_capacity(8 + aggregates.len() * 8);
    out.push(V2);
    write_runs(&mut out, aggregates.iter().map(|(series, _)| *series));
    let count_of = |aggregate: &Aggregate| aggregate.count.max(0);
    let common = aggregates
        .first()
        .map(|(_, first)| count_of(first))
        .filter(|&count| aggregates.iter().all(|(_, aggregate)| count_of(aggregate) == count) && count < i64::MAX);
    write_varint(&mut out, common.map_or(0, |count| count as u64 + 1));
    for (_, aggregate) in aggregates {
        let count = count_of(&aggregate);
        if common.is_none() {
            write_varint(&mut out, count as u64);
        }
        write_value(&mut out, aggregate.min);
        write_relative(&mut out, aggregate.max, aggregate.min, 1);
        write_relative(&mut out, aggregate.avg, midpoint(aggregate.min, aggregate.max), count);
    }
    out
}

/// The reference an average is stored against; decoding computes it from the decoded bounds.
fn midpoint(min: f64, max: f64) -> f64 {
    min + (max - min) / 2.0
}

/// Decodes [`encode_aggregates`] output, stamping each aggregate with the bucket start `ts`.
pub fn decode_aggregates(bytes: &[u8], ts: i64) -> Result<Vec<(i64, Aggregate)>, CodecError> {
    let (version, mut reader) = Reader::new(bytes)?;
    if version == V1 {
        return decode_aggregates_v1(reader, ts);
    }
    let ids = reader.runs()?;
    let shared = reader.sample_count()?;
    let common = (shared > 0).then(|| shared - 1);
    let mut out = Vec::with_capacity(ids.len());
    for series in ids {
        let count = match common {
            Some(count) => count,
            None => reader.sample_count()?,
        };
        let min = reader.value()?;
        let max = reader.relative(min, 1)?;
        let avg = reader.relative(midpoint(min, max), count)?;
        out.push((series, Aggregate { ts, avg, min, max, count }));
    }
    reader.finish(out)
}

fn decode_aggregates_v1(mut reader: Reader<'_>, ts: i64) -> Result<Vec<(i64, Aggregate)>, CodecError> {
    let count = reader.count()?;
    let mut out = Vec::with_capacity(count);
    let mut series = 0i64;
    for _ in 0..count {
        series = reader.next_series(series)?;
        let count = reader.sample_count()?;
        let (avg, min, max) = (reader.value()?, reader.value()?, reader.value()?);
        out.push((series, Aggregate { ts, avg, min, max, count }));
    }
    reader.finish(out)
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

/// Ascending, distinct ids as runs of consecutive ids.
fn write_runs(out: &mut Vec<u8>, ids: impl Iterator<Item = i64>) {
    let mut runs: Vec<(i64, u64)> = Vec::new();
    for id in ids {
        match runs.last_mut() {
            Some((start, length)) if start.wrapping_add(*length as i64) == id => *length += 1,
            _ => runs.push((id, 1)),
        }
    }
    write_varint(out, runs.len() as u64);
    let mut last = 0i64;
    for (start, length) in runs {
        write_varint(out, start.wrapping_sub(last) as u64);
        write_varint(out, length);
        last = start.wrapping_add(length as i64 - 1);
    }
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
    for (tag, scale) in DECIMAL_SCALES.iter().enumerate() {
        let scaled = (value * scale).round();
        if scaled.abs() < MAX_EXACT && scaled / scale == value {
            write_varint(out, (zigzag(scaled as i64) << 3) | tag as u64);
            return;
        }
    }
    write_float(out, value, TAG_F32, TAG_F64);
}

/// The four bytes of an `f32` when it holds `value` exactly, else the eight of an `f64`.
fn write_float(out: &mut Vec<u8>, value: f64, tag_f32: u64, tag_f64: u64) {
    let narrow = value as f32;
    if f64::from(narrow) == value {
        write_varint(out, tag_f32);
        out.extend_from_slice(&narrow.to_le_bytes());
    } else {
        write_varint(out, tag_f64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// `reference` in units of `1 / scale`, when that is an exact integer range.
fn units(reference: f64, scale: f64) -> Option<i64> {
    let units = (reference * scale).round();
    (units.abs() < MAX_EXACT).then_some(units as i64)
}

/// What a relative value of tag `tag` and difference `delta` stands for, given the aggregate's
/// `min` and sample `count`. Encoding and decoding both go through here.
fn relative_value(tag: u64, delta: i64, reference: f64, count: i64) -> Option<f64> {
    let (form, scale) = (tag / REL_SUM, *DECIMAL_SCALES.get((tag % REL_SUM) as usize)?);
    let base = units(reference, scale)?;
    match form {
        0 => Some(base.checked_add(delta)? as f64 / scale),
        1 if count > 0 => Some(decimal_mean(base.checked_mul(count)?.checked_add(delta)?, scale, count)),
        _ => None,
    }
}

/// `value` as a short difference from `reference` (the aggregate's `min`): either its own
/// scaled difference, or (for an average over `count` samples) the difference of its decimal
/// sum from `count × reference`. The shortest form that decodes to exactly `value` wins.
fn write_relative(out: &mut Vec<u8>, value: f64, reference: f64, count: i64) {
    let mut best: Option<(u64, i64)> = None;
    for (index, &scale) in DECIMAL_SCALES.iter().enumerate() {
        let Some(base) = units(reference, scale) else { continue };
        let direct = units(value, scale).and_then(|v| v.checked_sub(base)).map(|d| (index as u64, d));
        let summed = (count > 1)
            .then(|| decimal_sum(value, count, scale))
            .flatten()
            .and_then(|sum| sum.checked_sub(base.checked_mul(count)?))
            .map(|d| (REL_SUM + index as u64, d));
        for (tag, delta) in direct.into_iter().chain(summed) {
            let exact = relative_value(tag, delta, reference, count).is_some_and(|v| v.to_bits() == value.to_bits());
            if exact && best.is_none_or(|(_, d)| zigzag(delta) < zigzag(d)) && zigzag(delta) < 1 << 59 {
                best = Some((tag, delta));
            }
        }
    }
    match best {
        Some((tag, delta)) => write_varint(out, (zigzag(delta) << REL_TAG_BITS) | tag),
        None => write_float(out, value, REL_F32, REL_F64),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The row's version and a reader past it.
    fn new(bytes: &'a [u8]) -> Result<(u8, Self), CodecError> {
        match bytes.split_first() {
            Some((&version @ (V1 | V2), rest)) => Ok((version, Reader { bytes: rest })),
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

    /// An entry count, bounded by the bytes left (every entry takes at least one) so a damaged
    /// row cannot ask for a huge buffer.
    fn count(&mut self) -> Result<usize, CodecError> {
        let count = self.varint()?;
        usize::try_from(count).ok().filter(|&c| c <= self.bytes.len()).ok_or(CodecError("bad entry count"))
    }

    fn sample_count(&mut self) -> Result<i64, CodecError> {
        i64::try_from(self.varint()?).map_err(|_| CodecError("sample count out of range"))
    }

    fn next_series(&mut self, previous: i64) -> Result<i64, CodecError> {
        let delta = i64::try_from(self.varint()?).map_err(|_| CodecError("series id out of range"))?;
        previous.checked_add(delta).ok_or(CodecError("series id out of range"))
    }

    /// Walks the runs of ids, calling `each(start, length)`; returns how many ids there are.
    fn walk_runs(&mut self, mut each: impl FnMut(i64, usize)) -> Result<usize, CodecError> {
        let runs = self.count()?;
        let (mut last, mut total) = (0i64, 0usize);
        for index in 0..runs {
            let start = self.next_series(last)?;
            if index > 0 && start == last {
                return Err(CodecError("series ids not ascending"));
            }
            let length = self.count()?;
            if length == 0 {
                return Err(CodecError("empty run"));
            }
            total = total.checked_add(length).ok_or(CodecError("bad entry count"))?;
            last = start.checked_add(length as i64 - 1).ok_or(CodecError("series id out of range"))?;
            each(start, length);
        }
        // Every id has a value of at least one byte after the runs.
        if total > self.bytes.len() {
            return Err(CodecError("bad entry count"));
        }
        Ok(total)
    }

    fn runs(&mut self) -> Result<Vec<i64>, CodecError> {
        let mut ids = Vec::new();
        self.walk_runs(|start, length| ids.extend((0..length as i64).map(|offset| start + offset)))?;
        Ok(ids)
    }

    /// Where `wanted` is among the row's ids, reading past all of them.
    fn position_of(&mut self, wanted: i64) -> Result<Option<usize>, CodecError> {
        let (mut before, mut found) = (0usize, None);
        self.walk_runs(|start, length| {
            if found.is_none() && wanted >= start && wanted - start < length as i64 {
                found = Some(before + (wanted - start) as usize);
            }
            before += length;
        })?;
        Ok(found)
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
                let scale = DECIMAL_SCALES.get(tag as usize).ok_or(CodecError("unknown value tag"))?;
                Ok(unzigzag(word >> 3) as f64 / scale)
            }
        }
    }

    fn relative(&mut self, reference: f64, count: i64) -> Result<f64, CodecError> {
        let word = self.varint()?;
        match word & ((1 << REL_TAG_BITS) - 1) {
            REL_F32 => Ok(f64::from(f32::from_le_bytes(self.take()?))),
            REL_F64 => Ok(f64::from_le_bytes(self.take()?)),
            tag => relative_value(tag, unzigzag(word >> REL_TAG_BITS), reference, count)
                .ok_or(CodecError("bad relative value")),
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
    fn a_heartbeat_of_25_samples_is_about_sixty_bytes() {
        let samples: Vec<(i64, f64)> = (1..=25).map(|id| (1000 + id, f64::from(id as i32 * 37) / 10.0)).collect();
        let encoded = encode_samples(&samples);
        assert!(encoded.len() < 60, "{} bytes", encoded.len());
        assert_eq!(decode_samples(&encoded).unwrap(), samples);
    }

    #[test]
    fn samples_come_back_sorted_and_a_repeated_series_keeps_its_last_value() {
        let encoded = encode_samples(&[(7, 1.0), (3, 2.0), (7, 5.0)]);
        assert_eq!(decode_samples(&encoded).unwrap(), [(3, 2.0), (7, 5.0)]);
        assert_eq!(decode_samples(&encode_samples(&[])).unwrap(), []);
    }

    #[test]
    fn ids_with_gaps_are_several_runs_and_each_is_found() {
        let samples = [(5, 1.0), (6, 2.0), (7, 3.0), (20, 4.0), (22, 5.0), (23, 6.0)];
        let encoded = encode_samples(&samples);
        assert_eq!(&encoded[..8], [V2, 3, 5, 3, 13, 1, 2, 2], "three runs: 5–7, 20, 22–23");
        assert_eq!(decode_samples(&encoded).unwrap(), samples);
        for wanted in 0..30 {
            let expected = samples.iter().find(|(id, _)| *id == wanted).map(|(_, v)| *v);
            assert_eq!(find_sample(&encoded, wanted).unwrap(), expected, "series {wanted}");
        }
    }

    #[test]
    fn aggregates_round_trip_with_the_bucket_start() {
        let aggregate = Aggregate { ts: 0, avg: 12.345_678_9, min: 1.5, max: 99.9, count: 5 };
        let decoded = decode_aggregates(&encode_aggregates(&[(9, aggregate), (4, aggregate)]), 600_000).unwrap();
        assert_eq!(decoded, [(4, Aggregate { ts: 600_000, ..aggregate }), (9, Aggregate { ts: 600_000, ..aggregate })]);
    }

    #[test]
    fn a_bucket_of_decimal_readings_takes_a_few_bytes_per_series() {
        // Five one-decimal readings: their mean is no short decimal, their sum is.
        let readings = [42.3, 41.9, 57.1, 40.7, 43.8];
        let bucket = readings[1..]
            .iter()
            .fold(Aggregate::of_sample(0, readings[0]), |acc, &v| acc.merge(&Aggregate::of_sample(0, v)));
        assert_eq!(decimal_sum(bucket.avg, 5, 10.0), Some(2258));
        // A counter: big, but max and avg are close to min.
        let counter = [21_000_000_000_000.0, 21_000_000_740_700.0, 21_000_001_481_400.0]
            .iter()
            .fold(Aggregate { ts: 0, avg: 0.0, min: f64::MAX, max: f64::MIN, count: 0 }, |acc, &v| {
                acc.merge(&Aggregate::of_sample(0, v))
            });
        let encoded = encode_aggregates(&[(1, bucket), (2, counter)]);
        // Header 4 bytes, then the counts (5 and 3: one each, and a 0 saying so); readings: min
        // 2 + max 2 + avg 2; counter: min 7 + max 4 + avg 1 (its average is mid-range).
        // Version 1: 1 + 9 + 2 + 2 and 1 + 9 + 7 + 7, plus an id byte each.
        assert_eq!(encoded.len(), 4 + 1 + (1 + 6) + (1 + 7 + 4 + 1), "per-series counts, as they differ");
        let decoded = decode_aggregates(&encoded, 0).unwrap();
        assert_eq!(decoded, [(1, bucket), (2, counter)]);
        let same_count = Aggregate { count: 5, ..counter };
        let encoded = encode_aggregates(&[(1, bucket), (2, same_count)]);
        assert_eq!(encoded.len(), 4 + 1 + 6 + 7 + 4 + 1, "one shared count");
        let decoded = decode_aggregates(&encoded, 0).unwrap();
        assert_eq!(decoded, [(1, bucket), (2, same_count)]);
        assert_eq!(decoded[0].1.avg.to_bits(), bucket.avg.to_bits());
    }

    /// Rows as the first version of this codec wrote them (bytes taken from its encoder).
    #[test]
    fn version_1_rows_still_decode() {
        // (3, 2.0), (7, 5.0), (9, 42.3): per sample an id delta and a value.
        let samples = [V1, 3, 3, 32, 4, 80, 2, 0xF1, 0x34];
        assert_eq!(decode_samples(&samples).unwrap(), [(3, 2.0), (7, 5.0), (9, 42.3)]);
        assert_eq!(find_sample(&samples, 9).unwrap(), Some(42.3));
        assert_eq!(find_sample(&samples, 8).unwrap(), None);
        assert_eq!(find_sample(&samples, 3).unwrap(), Some(2.0));
        // Series 4: 5 samples, avg 2.0, min 1.0, max 3.0, all absolute.
        let aggregates = [V1, 1, 4, 5, 32, 16, 48];
        assert_eq!(
            decode_aggregates(&aggregates, 300_000).unwrap(),
            [(4, Aggregate { ts: 300_000, avg: 2.0, min: 1.0, max: 3.0, count: 5 })]
        );
        assert_eq!(encode_v1_samples(&[(3, 2.0), (7, 5.0), (9, 42.3)]), samples, "the kept encoder is the old one");
        let aggregate = Aggregate { ts: 0, avg: 2.0, min: 1.0, max: 3.0, count: 5 };
        assert_eq!(encode_v1_aggregates(&[(4, aggregate)]), aggregates);
    }

    /// The version 1 encoder, kept to prove that what it wrote is still read.
    fn encode_v1_samples(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut out = vec![V1];
        write_varint(&mut out, samples.len() as u64);
        let mut previous = 0;
        for &(series, value) in samples {
            write_varint(&mut out, series.wrapping_sub(previous) as u64);
            write_value(&mut out, value);
            previous = series;
        }
        out
    }

    fn encode_v1_aggregates(aggregates: &[(i64, Aggregate)]) -> Vec<u8> {
        let mut out = vec![V1];
        write_varint(&mut out, aggregates.len() as u64);
        let mut previous = 0;
        for (series, aggregate) in aggregates {
            write_varint(&mut out, series.wrapping_sub(previous) as u64);
            write_varint(&mut out, aggregate.count.max(0) as u64);
            for value in [aggregate.avg, aggregate.min, aggregate.max] {
                write_value(&mut out, value);
            }
            previous = *series;
        }
        out
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
        assert_eq!(decode_samples(&[V2, 200, 1]), Err(CodecError("bad entry count")));
        assert_eq!(decode_samples(&[V2, 1, 1, 1, 7]), Err(CodecError("unknown value tag")));
        assert_eq!(decode_samples(&[V2, 1, 1, 0, 7]), Err(CodecError("empty run")));
        assert_eq!(decode_samples(&[V2, 2, 1, 1, 0, 1, 2, 2]), Err(CodecError("series ids not ascending")));
        assert_eq!(decode_aggregates(&[V2, 1, 1, 1, 1, 2, 15], 0), Err(CodecError("bad relative value")));
        assert!(decode_aggregates(&[V2, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0).is_err());
        assert_eq!(decode_samples(&[V1, 200, 1]), Err(CodecError("bad entry count")));
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
        fn version_1_rows_decode_as_they_were_written(
            samples in proptest::collection::btree_map(1i64..1_000_000, -1e9f64..1e9, 0..40),
            wanted in 0i64..1_000_001,
        ) {
            let samples: Vec<(i64, f64)> = samples.into_iter().collect();
            let old = encode_v1_samples(&samples);
            prop_assert_eq!(decode_samples(&old).unwrap(), samples.clone());
            let expected = samples.iter().find(|(id, _)| *id == wanted).map(|(_, v)| *v);
            prop_assert_eq!(find_sample(&old, wanted).unwrap(), expected);
            let aggregates: Vec<(i64, Aggregate)> = samples
                .iter()
                .map(|&(id, v)| (id, Aggregate { ts: 7, avg: v / 3.0, min: v - 1.0, max: v + 0.5, count: id % 50 }))
                .collect();
            prop_assert_eq!(decode_aggregates(&encode_v1_aggregates(&aggregates), 7).unwrap(), aggregates);
        }

        #[test]
        fn any_aggregates_round_trip_to_the_same_bits(
            buckets in proptest::collection::btree_map(
                1i64..1_000_000,
                proptest::collection::vec(
                    prop_oneof![
                        (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(n, d)| n as f64 / 10f64.powi(d as i32)),
                        any::<f64>().prop_filter("finite", |v| v.is_finite()),
                        (0u64..1 << 50).prop_map(|n| n as f64),
                    ],
                    1..20,
                ),
                0..30,
            )
        ) {
            let aggregates: Vec<(i64, Aggregate)> = buckets
                .into_iter()
                .map(|(id, readings)| {
                    let first = Aggregate::of_sample(0, readings[0]);
                    (id, readings[1..].iter().fold(first, |acc, &v| acc.merge(&Aggregate::of_sample(0, v))))
                })
                .collect();
            let decoded = decode_aggregates(&encode_aggregates(&aggregates), 0).unwrap();
            prop_assert_eq!(decoded.len(), aggregates.len());
            for ((id, got), (want_id, want)) in decoded.iter().zip(&aggregates) {
                prop_assert_eq!(id, want_id);
                prop_assert_eq!(got.count, want.count);
                for (a, b) in [(got.avg, want.avg), (got.min, want.min), (got.max, want.max)] {
                    prop_assert!(a == b || (a.is_nan() && b.is_nan()), "{} != {}", a, b);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_samples(&bytes);
            let _ = decode_aggregates(&bytes, 0);
            let _ = find_sample(&bytes, 3);
        }
    }
}
