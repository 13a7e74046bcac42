//! Timestamps as AWS Step Functions reads and writes them.
//!
//! AWS reads a timestamp (a Wait state's `Timestamp`, the `Timestamp*` Choice operators,
//! `IsTimestamp`) in two places with two parsers: the definition validator checks literals
//! against RFC 3339 ("String does not match RFC3339 timestamp"), and the Java runtime parses
//! values with `DateTimeFormatter.ISO_OFFSET_DATE_TIME` ("cannot be parsed as an ISO-8601
//! extended offset date-time format string"). We accept exactly what both accept:
//!
//! - `YYYY-MM-DDThh:mm:ss`, four-digit year `0000`-`9999`, seconds required;
//! - an optional fraction of 1 to 9 digits (Java keeps nanoseconds; so do we);
//! - `Z` or an offset `+hh:mm` / `-hh:mm` of at most 18 hours (Java's `ZoneOffset` bound);
//! - an uppercase `T` and `Z`, as the ASL specification requires;
//! - real calendar dates and times only: no `24:00`, no leap second `60`, no `02-30`.
//!
//! [`format_iso8601`] renders Context-object times (`$$.Execution.StartTime`,
//! `$$.State.EnteredTime`) the way `ISO_OFFSET_DATE_TIME` formats a UTC time with millisecond
//! precision: `Z`, and the fraction's trailing zeros dropped (`.5Z`, `.12Z`, none at all).
//!
//! ```
//! use steppe_asl::timestamp::{format_iso8601, parse_rfc3339};
//! let millis = parse_rfc3339("2016-03-14T01:59:00.5+01:00").unwrap();
//! assert_eq!(format_iso8601(millis), "2016-03-14T00:59:00.5Z");
//! ```

/// A point in time with nanosecond precision: what AWS compares in `Timestamp*` rules.
///
/// Ordering and equality are those of the instant, whatever offset the text used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z, rounded towards negative infinity.
    pub epoch_seconds: i64,
    /// Nanoseconds after `epoch_seconds`, in `0..1_000_000_000`.
    pub nanos: u32,
}

impl Timestamp {
    /// Parses an RFC 3339 timestamp as AWS accepts it (see the module documentation).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let mut cursor = Cursor {
            bytes: text.as_bytes(),
            position: 0,
        };
        let date = cursor.date()?;
        cursor.expect(b'T')?;
        let seconds_of_day = cursor.time_of_day()?;
        let nanos = cursor.fraction()?;
        let offset_seconds = cursor.offset()?;
        cursor.finish()?;
        let (year, month, day) = date;
        let epoch_seconds =
            days_from_civil(year, month, day) * SECONDS_PER_DAY + seconds_of_day - offset_seconds;
        Some(Timestamp {
            epoch_seconds,
            nanos,
        })
    }

    /// The instant in whole milliseconds since the epoch, rounded towards negative infinity.
    pub fn epoch_millis(self) -> i64 {
        self.epoch_seconds * 1000 + i64::from(self.nanos / 1_000_000)
    }
}

/// Parses an RFC 3339 timestamp as AWS accepts it, into epoch milliseconds.
///
/// Sub-millisecond digits are accepted and dropped (rounded down); use [`Timestamp::parse`]
/// to keep them.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    Timestamp::parse(text).map(Timestamp::epoch_millis)
}

/// Renders epoch milliseconds as AWS renders Context-object times: ISO 8601 in UTC with `Z`,
/// and a fraction only as long as it needs to be.
///
/// Years outside `0000`-`9999` are written as Java writes them (`+10000`, `-0001`).
/// Every `i64` is accepted.
pub fn format_iso8601(epoch_millis: i64) -> String {
    let epoch_seconds = epoch_millis.div_euclid(1000);
    let millis = epoch_millis.rem_euclid(1000);
    let (year, month, day) = civil_from_days(epoch_seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = epoch_seconds.rem_euclid(SECONDS_PER_DAY);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    format!(
        "{}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{}Z",
        format_year(year),
        format_millis(millis)
    )
}

const SECONDS_PER_DAY: i64 = 86_400;
/// The largest offset Java's `ZoneOffset` accepts, in seconds.
const OFFSET_SECONDS_MAX: i64 = 18 * 3600;

/// A read position in a timestamp's text.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.position += 1)
    }

    fn finish(&self) -> Option<()> {
        (self.position == self.bytes.len()).then_some(())
    }

    /// Reads exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let end = self.position.checked_add(count)?;
        let slice = self.bytes.get(self.position..end)?;
        let mut number = 0u32;
        for &byte in slice {
            number = number * 10 + u32::from(ascii_digit(byte)?);
        }
        self.position = end;
        Some(number)
    }

    /// `YYYY-MM-DD`, a real date of the proleptic Gregorian calendar.
    fn date(&mut self) -> Option<(i64, u32, u32)> {
        let year = i64::from(self.digits(4)?);
        self.expect(b'-')?;
        let month = self.digits(2)?;
        self.expect(b'-')?;
        let day = self.digits(2)?;
        let valid = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some((year, month, day))
    }

    /// `hh:mm:ss`, in seconds since midnight.
    fn time_of_day(&mut self) -> Option<i64> {
        let hour = self.digits(2)?;
        self.expect(b':')?;
        let minute = self.digits(2)?;
        self.expect(b':')?;
        let second = self.digits(2)?;
        let valid = hour < 24 && minute < 60 && second < 60;
        valid.then(|| i64::from(hour * 3600 + minute * 60 + second))
    }

    /// An optional `.` and 1 to 9 digits, in nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        if self.peek() != Some(b'.') {
            return Some(0);
        }
        self.position += 1;
        let start = self.position;
        let mut nanos = 0u32;
        while let Some(digit) = self.peek().and_then(ascii_digit) {
            if self.position - start == 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(digit);
            self.position += 1;
        }
        let count = self.position - start;
        (count > 0).then(|| nanos * 10u32.pow((9 - count) as u32))
    }

    /// `Z`, `+hh:mm` or `-hh:mm`, in seconds east of UTC.
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.peek()? {
            b'Z' => {
                self.position += 1;
                return Some(0);
            }
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.position += 1;
        let hours = self.digits(2)?;
        self.expect(b':')?;
        let minutes = self.digits(2)?;
        let seconds = i64::from(hours * 3600 + minutes * 60);
        (minutes < 60 && seconds <= OFFSET_SECONDS_MAX).then_some(sign * seconds)
    }
}

fn ascii_digit(byte: u8) -> Option<u8> {
    byte.is_ascii_digit().then(|| byte - b'0')
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
/// `month` is `1..=12`; any `year` whose day count fits an `i64` is fine.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01; the inverse of
/// [`days_from_civil`]. Defined for every day count that whole `i64` milliseconds produce.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = (if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    }) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A year as Java's ISO formatter writes it: four digits, a `+` beyond 9999, a `-` before 0.
fn format_year(year: i64) -> String {
    match year {
        0..=9999 => format!("{year:04}"),
        10_000.. => format!("+{year}"),
        _ => format!("-{:04}", year.unsigned_abs()),
    }
}

/// `.` and the milliseconds without trailing zeros, or nothing for a whole second.
fn format_millis(millis: i64) -> String {
    if millis == 0 {
        return String::new();
    }
    let digits = format!("{millis:03}");
    format!(".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected instants were computed with Python's `datetime`/`calendar.timegm`, not by
    /// this module.
    fn check(text: &str, expected: Option<(i64, u32)>) {
        let parsed = Timestamp::parse(text).map(|t| (t.epoch_seconds, t.nanos));
        assert_eq!(parsed, expected, "{text:?}");
    }

    fn check_format(epoch_millis: i64, expected: &str) {
        assert_eq!(format_iso8601(epoch_millis), expected, "{epoch_millis}");
    }

    #[test]
    fn parses_valid_timestamps() {
        check("2016-03-14T01:59:00Z", Some((1_457_920_740, 0)));
        check("2012-10-09T19:00:55Z", Some((1_349_809_255, 0)));
        check("1970-01-01T00:00:00Z", Some((0, 0)));
        check("1969-12-31T23:59:59Z", Some((-1, 0)));
        check("2000-02-29T00:00:00Z", Some((951_782_400, 0)));
        check("1600-02-29T12:00:00Z", Some((-11_670_955_200, 0)));
        check("1900-03-01T00:00:00Z", Some((-2_203_891_200, 0)));
        check("0000-01-01T00:00:00Z", Some((-62_167_219_200, 0)));
        check("0001-01-01T00:00:00Z", Some((-62_135_596_800, 0)));
        check("9999-12-31T23:59:59Z", Some((253_402_300_799, 0)));
    }

    #[test]
    fn parses_offsets() {
        check("2016-12-05T21:29:29+05:30", Some((1_480_953_569, 0)));
        check("2016-12-05T21:29:29+18:00", Some((1_480_908_569, 0)));
        check("2016-12-05T21:29:29-18:00", Some((1_481_038_169, 0)));
        check("1970-01-01T00:00:00+00:00", Some((0, 0)));
        check("1970-01-01T00:00:00-00:00", Some((0, 0)));
        check("2016-12-05T21:29:29+18:01", None);
        check("2016-12-05T21:29:29+19:00", None);
        check("2016-12-05T21:29:29+05:60", None);
        check("2016-12-05T21:29:29+0530", None);
        check("2016-12-05T21:29:29+05", None);
        check("2016-12-05T21:29:29+05:30:00", None);
    }

    #[test]
    fn parses_fractions() {
        check(
            "2016-03-05T21:29:29.243167252Z",
            Some((1_457_213_369, 243_167_252)),
        );
        check("2016-03-05T21:29:29.5Z", Some((1_457_213_369, 500_000_000)));
        check("2016-03-05T21:29:29.000000001Z", Some((1_457_213_369, 1)));
        check("1969-12-31T23:59:59.999Z", Some((-1, 999_000_000)));
        check("2016-03-05T21:29:29.Z", None);
        check("2016-03-05T21:29:29.1234567891Z", None);
        check("2016-03-05T21:29:29,5Z", None);
    }

    #[test]
    fn rejects_what_aws_rejects() {
        // The four recorded AWS rejections (Wait state cases in the LocalStack corpus).
        check("05-12-2016T21:29:29Z", None);
        check("2016-12-05T25:29:29Z", None);
        check("2016-12-05 21:29:29Z", None);
        check("2016-12-05T21:29:29", None);
        // The ASL specification's uppercase rule.
        check("2016-12-05t21:29:29Z", None);
        check("2016-12-05T21:29:29z", None);
        // Calendar and clock ranges.
        check("2016-02-30T00:00:00Z", None);
        check("2015-02-29T00:00:00Z", None);
        check("1900-02-29T00:00:00Z", None);
        check("2016-13-01T00:00:00Z", None);
        check("2016-00-01T00:00:00Z", None);
        check("2016-01-00T00:00:00Z", None);
        check("2016-04-31T00:00:00Z", None);
        check("2016-12-05T24:00:00Z", None);
        check("2016-12-05T23:60:00Z", None);
        check("2016-12-31T23:59:60Z", None);
        // Shape.
        check("2016-12-05T21:29Z", None);
        check("+2016-12-05T21:29:29Z", None);
        check("12016-12-05T21:29:29Z", None);
        check("2016-1-05T21:29:29Z", None);
        check(" 2016-12-05T21:29:29Z", None);
        check("2016-12-05T21:29:29Z ", None);
        check("2016-12-05T21:29:29ZZ", None);
        check("2016-12-05", None);
        check("", None);
        check("２０16-12-05T21:29:29Z", None);
    }

    #[test]
    fn millis_round_down() {
        assert_eq!(
            parse_rfc3339("2016-03-05T21:29:29.243967Z"),
            Some(1_457_213_369_243)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9999Z"), Some(-1));
        assert_eq!(parse_rfc3339("nonsense"), None);
    }

    #[test]
    fn formats_with_variable_precision() {
        check_format(0, "1970-01-01T00:00:00Z");
        check_format(1_457_920_740_123, "2016-03-14T01:59:00.123Z");
        check_format(1_457_920_740_120, "2016-03-14T01:59:00.12Z");
        check_format(1_457_920_740_500, "2016-03-14T01:59:00.5Z");
        check_format(1_457_920_740_001, "2016-03-14T01:59:00.001Z");
        check_format(-1, "1969-12-31T23:59:59.999Z");
        check_format(951_782_400_000, "2000-02-29T00:00:00Z");
        check_format(253_402_300_799_999, "9999-12-31T23:59:59.999Z");
        check_format(-62_167_219_200_000, "0000-01-01T00:00:00Z");
    }

    #[test]
    fn formats_extreme_years_as_java_does() {
        // Java: Instant.ofEpochMilli(Long.MAX_VALUE / Long.MIN_VALUE).toString().
        check_format(i64::MAX, "+292278994-08-17T07:12:55.807Z");
        check_format(i64::MIN, "-292275055-05-16T16:47:04.192Z");
        check_format(253_402_300_800_000, "+10000-01-01T00:00:00Z");
        check_format(-62_167_219_200_001, "-0001-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_conversions_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
