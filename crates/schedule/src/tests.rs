//! Tests of schedule parsing and fire times: robfig/cron's examples, Dkron's extensions,
//! daylight saving time in several zones, brute-force cross-checks and fuzzed input.
use super::cron::ALL_HOURS;
use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
        .to_utc()
}

fn parse(spec: &str) -> Schedule {
    Schedule::parse(spec, None, "job").unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn parse_in(spec: &str, zone: &str) -> Schedule {
    Schedule::parse(spec, Some(zone), "job").unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// The next `n` fire times after `from`, each computed from the previous one.
fn series(schedule: &Schedule, from: &str, n: usize) -> Vec<String> {
    let mut at = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        match schedule.next_after(at) {
            Some(next) => {
                assert!(next > at, "{schedule:?}: {next} is not after {at}");
                out.push(next.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                at = next;
            }
            None => break,
        }
    }
    out
}

fn assert_series(spec: &str, from: &str, expected: &[&str]) {
    assert_eq!(
        series(&parse(spec), from, expected.len()),
        expected,
        "{spec}"
    );
}

fn assert_series_in(spec: &str, zone: &str, from: &str, expected: &[&str]) {
    let schedule = parse_in(spec, zone);
    assert_eq!(
        series(&schedule, from, expected.len()),
        expected,
        "{spec} in {zone}"
    );
}

fn error(spec: &str, zone: Option<&str>) -> ScheduleError {
    match Schedule::parse(spec, zone, "job") {
        Ok(schedule) => panic!("{spec:?} parsed as {schedule:?}"),
        Err(e) => e,
    }
}

// robfig/cron's documented examples (README / godoc).

#[test]
fn robfig_every_hour_on_the_half_hour() {
    assert_series(
        "0 30 * * * *",
        "2026-05-04T10:45:00Z",
        &[
            "2026-05-04T11:30:00Z",
            "2026-05-04T12:30:00Z",
            "2026-05-04T13:30:00Z",
        ],
    );
    // The five-field form from the v3 README means the same.
    assert_series(
        "30 * * * *",
        "2026-05-04T10:45:00Z",
        &["2026-05-04T11:30:00Z", "2026-05-04T12:30:00Z"],
    );
}

#[test]
fn robfig_ranges_in_hours() {
    // "30 3-6,20-23 * * *": on the half hour 3-6am and 8-11pm.
    assert_series(
        "30 3-6,20-23 * * *",
        "2026-05-04T05:45:00Z",
        &[
            "2026-05-04T06:30:00Z",
            "2026-05-04T20:30:00Z",
            "2026-05-04T21:30:00Z",
            "2026-05-04T22:30:00Z",
            "2026-05-04T23:30:00Z",
            "2026-05-05T03:30:00Z",
        ],
    );
}

#[test]
fn robfig_cron_tz_prefix() {
    // "CRON_TZ=Asia/Tokyo 30 04 * * *": 04:30 Tokyo time (19:30 UTC) every day.
    let schedule =
        Schedule::parse("CRON_TZ=Asia/Tokyo 30 04 * * *", Some("Europe/Berlin"), "j").unwrap();
    assert_eq!(
        series(&schedule, "2026-05-04T00:00:00Z", 2),
        ["2026-05-04T19:30:00Z", "2026-05-05T19:30:00Z"]
    );
    let schedule = Schedule::parse("TZ=Asia/Tokyo @daily", None, "j").unwrap();
    assert_eq!(
        series(&schedule, "2026-05-04T00:00:00Z", 2),
        ["2026-05-04T15:00:00Z", "2026-05-05T15:00:00Z"]
    );
}

#[test]
fn robfig_descriptor_table() {
    assert_series(
        "@yearly",
        "2026-05-04T10:00:00Z",
        &["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"],
    );
    assert_series(
        "@annually",
        "2026-05-04T10:00:00Z",
        &["2027-01-01T00:00:00Z"],
    );
    assert_series(
        "@monthly",
        "2026-05-04T10:00:00Z",
        &["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"],
    );
    // 2026-05-04 is a Monday; @weekly is midnight between Saturday and Sunday.
    assert_series(
        "@weekly",
        "2026-05-04T10:00:00Z",
        &["2026-05-10T00:00:00Z", "2026-05-17T00:00:00Z"],
    );
    assert_series(
        "@daily",
        "2026-05-04T10:00:00Z",
        &["2026-05-05T00:00:00Z", "2026-05-06T00:00:00Z"],
    );
    assert_series(
        "@midnight",
        "2026-05-04T10:00:00Z",
        &["2026-05-05T00:00:00Z"],
    );
    assert_series(
        "@hourly",
        "2026-05-04T10:00:00Z",
        &["2026-05-04T11:00:00Z", "2026-05-04T12:00:00Z"],
    );
    assert_series(
        "@minutely",
        "2026-05-04T10:00:30Z",
        &["2026-05-04T10:01:00Z", "2026-05-04T10:02:00Z"],
    );
    // Each descriptor equals its documented expression.
    for (descriptor, expression) in [
        ("@yearly", "0 0 0 1 1 *"),
        ("@annually", "0 0 0 1 1 *"),
        ("@monthly", "0 0 0 1 * *"),
        ("@weekly", "0 0 0 * * 0"),
        ("@daily", "0 0 0 * * *"),
        ("@midnight", "0 0 0 * * *"),
        ("@hourly", "0 0 * * * *"),
        ("@minutely", "0 * * * * *"),
    ] {
        assert_eq!(parse(descriptor), parse(expression), "{descriptor}");
    }
}

#[test]
fn robfig_every() {
    assert_series(
        "@every 1h30m",
        "2026-05-04T10:00:00Z",
        &[
            "2026-05-04T11:30:00Z",
            "2026-05-04T13:00:00Z",
            "2026-05-04T14:30:00Z",
        ],
    );
}

#[test]
fn godoc_style_examples() {
    assert_series(
        "0 0 0 1 * *",
        "2026-05-04T10:00:00Z",
        &["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"],
    );
    assert_series(
        "*/15 * * * * *",
        "2026-05-04T10:00:07Z",
        &[
            "2026-05-04T10:00:15Z",
            "2026-05-04T10:00:30Z",
            "2026-05-04T10:00:45Z",
            "2026-05-04T10:01:00Z",
        ],
    );
    assert_series(
        "0 5 4 * * SUN",
        "2026-05-04T10:00:00Z",
        &["2026-05-10T04:05:00Z", "2026-05-17T04:05:00Z"],
    );
    assert_series(
        "0 0 9-17 * * MON-FRI",
        "2026-05-08T16:30:00Z",
        &[
            "2026-05-08T17:00:00Z",
            "2026-05-11T09:00:00Z",
            "2026-05-11T10:00:00Z",
        ],
    );
}

/// Cases from robfig/cron's `spec_test.go` (`TestNext`).
#[test]
fn robfig_spec_test_table() {
    let cases = [
        (
            "2012-07-09T14:45:00Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T14:59:00Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T14:59:59Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T15:45:00Z",
            "0 20-35/15 * * * *",
            "2012-07-09T16:20:00Z",
        ),
        (
            "2012-07-09T23:46:00Z",
            "0 */15 * * * *",
            "2012-07-10T00:00:00Z",
        ),
        (
            "2012-07-09T23:45:00Z",
            "0 20-35/15 * * * *",
            "2012-07-10T00:20:00Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * * * *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 * * *",
            "2012-07-10T01:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 10-12 * * *",
            "2012-07-10T10:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 */2 * *",
            "2012-07-11T01:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 * *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 Jul *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 9 Apr-Oct ?",
            "2012-08-09T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Apr,Aug,Oct Mon",
            "2012-08-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Oct Mon",
            "2012-10-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon",
            "2013-02-04T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon/2",
            "2013-02-01T00:00:00Z",
        ),
        (
            "2012-12-31T23:59:45Z",
            "0 * * * * *",
            "2013-01-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 29 Feb ?",
            "2016-02-29T00:00:00Z",
        ),
        // DST in robfig's table: the nonexistent 02:30 is skipped to the next year's.
        (
            "2012-03-11T05:00:00Z",
            "TZ=America/New_York 0 30 2 11 Mar ?",
            "2013-03-11T06:30:00Z",
        ),
        // 02:30 on a fall-back day happens once (after the repeated hour).
        (
            "2012-11-04T04:00:00Z",
            "TZ=America/New_York 0 30 2 04 Nov ?",
            "2012-11-04T07:30:00Z",
        ),
    ];
    for (from, spec, expected) in cases {
        assert_eq!(
            series(&parse(spec), from, 1),
            [expected],
            "{spec} after {from}"
        );
    }
}

#[test]
fn day_of_month_or_day_of_week_when_both_restricted() {
    // Both restricted: the 13th OR any Friday (robfig and Vixie cron), not Friday the 13th.
    assert_series(
        "0 0 0 13 * FRI",
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-02T00:00:00Z",
            "2026-01-09T00:00:00Z",
            "2026-01-13T00:00:00Z",
            "2026-01-16T00:00:00Z",
        ],
    );
    // One side `*` or `?`: both must match, which leaves only the other side.
    assert_series(
        "0 0 0 * * FRI",
        "2026-01-01T00:00:00Z",
        &["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"],
    );
    assert_series(
        "0 0 0 13 * ?",
        "2026-01-01T00:00:00Z",
        &["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"],
    );
}

#[test]
fn weekday_numbers_names_and_seven() {
    // 2026-05-04 is a Monday. 0 and 7 are Sunday, 1 is Monday.
    for spec in [
        "0 0 12 * * 0",
        "0 0 12 * * 7",
        "0 0 12 * * sun",
        "0 0 12 * * Sun",
    ] {
        assert_series(spec, "2026-05-04T00:00:00Z", &["2026-05-10T12:00:00Z"]);
    }
    assert_series(
        "0 0 12 * * 1",
        "2026-05-04T00:00:00Z",
        &["2026-05-04T12:00:00Z"],
    );
    // 5-7 is Friday, Saturday, Sunday.
    assert_series(
        "0 0 12 * * 5-7",
        "2026-05-04T00:00:00Z",
        &[
            "2026-05-08T12:00:00Z",
            "2026-05-09T12:00:00Z",
            "2026-05-10T12:00:00Z",
        ],
    );
    // Month names, any case.
    assert_series(
        "0 0 0 1 jUn *",
        "2026-05-04T00:00:00Z",
        &["2026-06-01T00:00:00Z"],
    );
    assert_eq!(parse("0 0 0 * * MON-FRI"), parse("0 0 0 * * 1-5"));
    assert_eq!(parse("0 0 0 1 JAN-MAR *"), parse("0 0 0 1 1-3 *"));
}

#[test]
fn five_fields_are_minute_level() {
    assert_eq!(parse("*/5 * * * *"), parse("0 */5 * * * *"));
    assert_series(
        "*/5 * * * *",
        "2026-05-04T10:02:30Z",
        &["2026-05-04T10:05:00Z", "2026-05-04T10:10:00Z"],
    );
}

#[test]
fn every_accepts_go_durations() {
    let cases = [
        ("@every 10s", 10_000_000_000),
        ("@every 1h30m", 5_400_000_000_000),
        ("@every 500ms", 500_000_000),
        ("@every 1.5h", 5_400_000_000_000),
        ("@every .5s", 500_000_000),
        ("@every 1m0.25s", 60_250_000_000),
        ("@every 100us", 100_000),
        ("@every 100µs", 100_000),
        ("@every 7ns", 7),
        ("@every +2s", 2_000_000_000),
        ("@every   3s  ", 3_000_000_000),
    ];
    for (spec, nanos) in cases {
        assert_eq!(
            parse(spec),
            Schedule::Every(TimeDelta::nanoseconds(nanos)),
            "{spec}"
        );
    }
    // No drift: each fire time is the previous one plus the interval.
    assert_series(
        "@every 500ms",
        "2026-05-04T10:00:00.250Z",
        &["2026-05-04T10:00:00.750Z", "2026-05-04T10:00:01.250Z"],
    );
}

#[test]
fn at_fires_once() {
    let schedule = parse("@at 2026-06-01T12:00:00+02:00");
    assert_eq!(schedule, Schedule::At(utc("2026-06-01T10:00:00Z")));
    assert!(schedule.is_scheduled());
    assert_eq!(
        schedule.next_after(utc("2026-05-01T00:00:00Z")),
        Some(utc("2026-06-01T10:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-06-01T09:59:59.999Z")),
        Some(utc("2026-06-01T10:00:00Z"))
    );
    assert_eq!(schedule.next_after(utc("2026-06-01T10:00:00Z")), None);
    assert_eq!(schedule.next_after(utc("2027-01-01T00:00:00Z")), None);
}

#[test]
fn manually_never_fires() {
    let schedule = parse("@manually");
    assert_eq!(schedule, Schedule::Manually);
    assert!(!schedule.is_scheduled());
    assert_eq!(schedule.next_after(utc("2026-05-04T00:00:00Z")), None);
    assert!(parse("@daily").is_scheduled());
    assert!(parse("@every 1s").is_scheduled());
    // A hand-built non-positive interval never fires rather than going backwards.
    let never = Schedule::Every(TimeDelta::zero());
    assert_eq!(never.next_after(utc("2026-05-04T00:00:00Z")), None);
}

#[test]
fn descriptors_ignore_case_and_surrounding_space() {
    assert_eq!(parse("  @Daily "), parse("@daily"));
    assert_eq!(parse("@MANUALLY"), Schedule::Manually);
}

#[test]
fn tilde_hash_uses_the_job_name() {
    // "backup" = 98 + 97 + 99 + 107 + 117 + 112 = 630.
    // sec/min 630 % 60 = 30; hour 630 % 24 = 6; dom 630 % 28 + 1 = 15;
    // month 630 % 12 + 1 = 7; dow 630 % 7 = 0.
    let hashed = Schedule::parse("~ ~ ~ ~ ~ ~", None, "backup").unwrap();
    assert_eq!(hashed, parse("30 30 6 15 7 0"));
    // Five fields: the first field is the minutes field.
    let hashed = Schedule::parse("~ * * * *", None, "backup").unwrap();
    assert_eq!(hashed, parse("0 30 * * * *"));
    // `~` can be part of a larger field.
    let hashed = Schedule::parse("0 ~/20 * * * *", None, "backup").unwrap();
    assert_eq!(hashed, parse("0 30/20 * * * *"));
    // Unicode scalar values: "jöb" = 106 + 246 + 98 = 450; 450 % 60 = 30, 450 % 24 = 18.
    let hashed = Schedule::parse("0 ~ ~ * * *", None, "jöb").unwrap();
    assert_eq!(hashed, parse("0 30 18 * * *"));
    // Ignored in `@` forms.
    assert_eq!(
        Schedule::parse("@daily", None, "backup").unwrap(),
        parse("@daily")
    );
}

#[test]
fn timezone_default_is_utc_and_applies_to_descriptors() {
    assert_eq!(
        parse("@daily"),
        Schedule::parse("@daily", Some(""), "j").unwrap()
    );
    assert_eq!(parse("@daily"), parse_in("@daily", "UTC"));
    assert_series_in(
        "@daily",
        "Europe/Berlin",
        "2026-06-01T00:00:00Z",
        &["2026-06-01T22:00:00Z", "2026-06-02T22:00:00Z"],
    );
    assert_series_in(
        "@daily",
        "Europe/Berlin",
        "2026-01-10T00:00:00Z",
        &["2026-01-10T23:00:00Z"],
    );
    let Schedule::Cron(cron) = parse_in("@hourly", "Asia/Kolkata") else {
        panic!("not cron");
    };
    assert_eq!(cron.timezone(), Tz::Asia__Kolkata);
    assert_series_in(
        "@hourly",
        "Asia/Kolkata",
        "2026-06-01T00:00:00Z",
        &["2026-06-01T00:30:00Z", "2026-06-01T01:30:00Z"],
    );
}

// DST, America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z);
// 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).

#[test]
fn new_york_spring_forward_skips_the_missing_time() {
    assert_series_in(
        "0 30 2 * * *",
        "America/New_York",
        "2026-03-06T12:00:00Z",
        &[
            "2026-03-07T07:30:00Z", // 02:30 EST
            "2026-03-09T06:30:00Z", // 02:30 EDT; 03-08 02:30 does not exist
            "2026-03-10T06:30:00Z",
        ],
    );
    // Hourly jobs keep real-time rhythm: 01:00 EST, then 03:00 EDT an hour later.
    assert_series_in(
        "0 0 * * * *",
        "America/New_York",
        "2026-03-08T05:30:00Z",
        &[
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T08:00:00Z",
        ],
    );
    // Every second through the gap.
    assert_series_in(
        "* * * * * *",
        "America/New_York",
        "2026-03-08T06:59:58Z",
        &[
            "2026-03-08T06:59:59Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:00:01Z",
        ],
    );
}

#[test]
fn new_york_fall_back_runs_a_daily_job_once() {
    assert_series_in(
        "0 30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00Z",
        &[
            "2026-11-01T05:30:00Z", // 01:30 EDT (first occurrence)
            "2026-11-02T06:30:00Z", // 01:30 EST the next day; not 2026-11-01T06:30Z
        ],
    );
    let schedule = parse_in("0 30 1 * * *", "America/New_York");
    // From inside either pass through the repeated hour, the next run is the next day.
    for from in [
        "2026-11-01T05:45:00Z",
        "2026-11-01T06:10:00Z",
        "2026-11-01T06:30:00Z",
    ] {
        assert_eq!(
            schedule.next_after(utc(from)),
            Some(utc("2026-11-02T06:30:00Z")),
            "from {from}"
        );
    }
}

#[test]
fn new_york_fall_back_hourly_follows_real_time() {
    // "0 0 * * * *" fires at every real hour: 01:00 EDT, 01:00 EST, 02:00 EST.
    assert_series_in(
        "0 0 * * * *",
        "America/New_York",
        "2026-11-01T04:30:00Z",
        &[
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z",
        ],
    );
    assert_series_in(
        "0 30 * * * *",
        "America/New_York",
        "2026-11-01T04:45:00Z",
        &[
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:30:00Z",
        ],
    );
    // Starting late in the first pass, the next time is in the second pass.
    let schedule = parse_in("0 15 * * * *", "America/New_York");
    assert_eq!(
        schedule.next_after(utc("2026-11-01T05:50:00Z")),
        Some(utc("2026-11-01T06:15:00Z"))
    );
    // Every 15 minutes stays every 15 real minutes.
    assert_series_in(
        "0 */15 * * * *",
        "America/New_York",
        "2026-11-01T05:40:00Z",
        &[
            "2026-11-01T05:45:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:15:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T06:45:00Z",
            "2026-11-01T07:00:00Z",
        ],
    );
}

#[test]
fn new_york_fall_back_fixed_hour_every_second_runs_the_hour_once() {
    // Hour field 1 only: the repeated 01:xx hour runs once, during its first pass.
    let schedule = parse_in("* * 1 * * *", "America/New_York");
    assert_eq!(
        schedule.next_after(utc("2026-11-01T05:59:59Z")),
        Some(utc("2026-11-02T06:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-11-01T06:30:00Z")),
        Some(utc("2026-11-02T06:00:00Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-11-01T05:00:00Z")),
        Some(utc("2026-11-01T05:00:01Z"))
    );
}

// DST, Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z);
// 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).

#[test]
fn berlin_spring_forward_skips_the_missing_time() {
    assert_series_in(
        "0 30 2 * * *",
        "Europe/Berlin",
        "2026-03-27T12:00:00Z",
        &[
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-30T00:30:00Z", // 02:30 CEST; 03-29 02:30 does not exist
        ],
    );
}

#[test]
fn berlin_fall_back_runs_a_daily_job_once() {
    assert_series_in(
        "0 30 2 * * *",
        "Europe/Berlin",
        "2026-10-24T12:00:00Z",
        &[
            "2026-10-25T00:30:00Z", // 02:30 CEST (first occurrence)
            "2026-10-26T01:30:00Z", // 02:30 CET the next day
        ],
    );
    assert_series_in(
        "@hourly",
        "Europe/Berlin",
        "2026-10-24T23:30:00Z",
        &[
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ],
    );
}

#[test]
fn day_long_gap_in_apia() {
    // Samoa skipped 2011-12-30 entirely.
    assert_series_in(
        "0 0 12 * * *",
        "Pacific/Apia",
        "2011-12-29T00:00:00Z",
        &["2011-12-29T22:00:00Z", "2011-12-30T22:00:00Z"],
    );
}

/// The reference semantics, instant by instant (every `step` seconds from `from` to `to`):
/// an instant fires when its local time is selected and it is the first instant with that
/// local time, or the hour field selects every hour.
fn brute_force_fires(
    cron: &CronSchedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: i64,
) -> Vec<DateTime<Utc>> {
    let mut fires = Vec::new();
    let mut t = from;
    while t <= to {
        let local = t.with_timezone(&cron.tz).naive_local();
        let selected = cron.months & (1 << local.month()) != 0
            && cron.day_mask(local.year(), local.month()).unwrap() & (1 << local.day()) != 0
            && cron.hours & (1 << local.hour()) != 0
            && cron.minutes & (1 << local.minute()) != 0
            && cron.seconds & (1 << local.second()) != 0;
        let first = match cron.tz.from_local_datetime(&local) {
            MappedLocalTime::Ambiguous(a, b) => min(a, b).to_utc() == t,
            _ => true,
        };
        if selected && (first || cron.hours == ALL_HOURS) {
            fires.push(t);
        }
        t += TimeDelta::seconds(step);
    }
    fires
}

/// Checks `next_after` against the brute-force reference from many starting instants in
/// `[from, to]`: every fire time, a second before it, and every `stride`.
fn check_against_brute_force(specs: &[&str], windows: &[(&str, &str, &str)], step: i64) {
    for &(zone, from, to) in windows {
        let (from, to) = (utc(from), utc(to));
        for spec in specs {
            let Schedule::Cron(cron) = parse_in(spec, zone) else {
                panic!("{spec} is not cron");
            };
            // Far enough past `to` for most starts' next fire time (a daily expression's
            // when stepping by minutes); starts past the last known fire are not checked.
            let horizon = to + TimeDelta::seconds(step * 2880);
            let fires = brute_force_fires(&cron, from, horizon, step);
            let mut starts: Vec<DateTime<Utc>> = fires
                .iter()
                .filter(|&&f| f <= to)
                .flat_map(|&f| [f, f - TimeDelta::seconds(1)])
                .collect();
            let stride = TimeDelta::seconds(step * 7 + 3);
            let mut t = from;
            while t <= to {
                starts.push(t);
                t += stride;
            }
            for start in starts.into_iter().filter(|&s| s >= from) {
                if let Some(expected) = fires.iter().copied().find(|&f| f > start) {
                    let actual = cron.next_after(start);
                    assert_eq!(actual, Some(expected), "{spec} in {zone} after {start}");
                }
            }
        }
    }
}

#[test]
fn matches_brute_force_around_transitions() {
    let specs = [
        "0 0 * * * *",
        "0 30 * * * *",
        "0 */7 * * * *",
        "0 30 1 * * *",
        "0 30 2 * * *",
        "0 0 0 * * *",
        "0 15 1-3 * * *",
        "0 0 23 * * *",
        "0 45 0,1,2,3 * * *",
    ];
    let windows = [
        (
            "America/New_York",
            "2026-03-07T20:00:00Z",
            "2026-03-09T12:00:00Z",
        ),
        (
            "America/New_York",
            "2026-10-31T20:00:00Z",
            "2026-11-02T12:00:00Z",
        ),
        (
            "Europe/Berlin",
            "2026-03-28T20:00:00Z",
            "2026-03-29T12:00:00Z",
        ),
        (
            "Europe/Berlin",
            "2026-10-24T20:00:00Z",
            "2026-10-25T12:00:00Z",
        ),
        // 30-minute DST shifts.
        (
            "Australia/Lord_Howe",
            "2026-04-04T10:00:00Z",
            "2026-04-05T06:00:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "2026-10-03T10:00:00Z",
            "2026-10-04T06:00:00Z",
        ),
        // Transitions at midnight (Santiago: 24:00 -> 23:00 and 24:00 -> 01:00).
        (
            "America/Santiago",
            "2026-04-04T00:00:00Z",
            "2026-04-06T00:00:00Z",
        ),
        (
            "America/Santiago",
            "2026-09-05T00:00:00Z",
            "2026-09-07T00:00:00Z",
        ),
    ];
    check_against_brute_force(&specs, &windows, 60);
}

#[test]
fn matches_brute_force_second_by_second() {
    let specs = [
        "*/20 * * * * *",
        "*/20 * 1 * * *",
        "* 59 * * * *",
        "30 59 1,2 * * *",
    ];
    let windows = [
        (
            "America/New_York",
            "2026-11-01T04:30:00Z",
            "2026-11-01T07:30:00Z",
        ),
        (
            "America/New_York",
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:30:00Z",
        ),
        (
            "Europe/Berlin",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:30:00Z",
        ),
    ];
    check_against_brute_force(&specs, &windows, 1);
}

#[test]
fn series_never_stalls_over_a_year() {
    for zone in [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "UTC",
    ] {
        for spec in ["@hourly", "0 30 2 * * *", "0 30 1 * * *", "0 0 */2 * * *"] {
            let schedule = parse_in(spec, zone);
            let mut t = utc("2026-01-01T00:00:00Z");
            let mut count = 0;
            while t < utc("2027-01-01T00:00:00Z") {
                let next = schedule.next_after(t).unwrap();
                assert!(
                    next > t && next - t <= TimeDelta::hours(48),
                    "{spec} {zone} {t}"
                );
                t = next;
                count += 1;
            }
            assert!(count >= 364, "{spec} in {zone}: only {count} runs");
        }
    }
}

#[test]
fn sub_second_after_is_strict() {
    let schedule = parse("* * * * * *");
    assert_eq!(
        schedule.next_after(utc("2026-05-04T10:00:00.5Z")),
        Some(utc("2026-05-04T10:00:01Z"))
    );
    assert_eq!(
        schedule.next_after(utc("2026-05-04T10:00:00Z")),
        Some(utc("2026-05-04T10:00:01Z"))
    );
    let schedule = parse_in("* * * * * *", "Europe/Berlin");
    assert_eq!(
        schedule.next_after(utc("2026-05-04T10:00:00.999Z")),
        Some(utc("2026-05-04T10:00:01Z"))
    );
}

#[test]
fn leap_day_and_long_gaps() {
    assert_series(
        "0 0 0 29 2 *",
        "2096-03-01T00:00:00Z",
        &["2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"],
    );
    assert_series(
        "0 0 0 31 * *",
        "2026-01-31T00:00:00Z",
        &["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"],
    );
}

#[test]
fn next_within_bounds() {
    let daily = parse("0 0 12 * * *");
    let from = utc("2026-05-04T00:00:00Z");
    assert_eq!(
        daily.next_within(from, Some(utc("2026-05-10T12:00:00Z")), None),
        Some(utc("2026-05-10T12:00:00Z"))
    );
    assert_eq!(
        daily.next_within(from, Some(utc("2026-05-10T12:00:01Z")), None),
        Some(utc("2026-05-11T12:00:00Z"))
    );
    assert_eq!(
        daily.next_within(from, None, Some(utc("2026-05-04T12:00:00Z"))),
        Some(utc("2026-05-04T12:00:00Z"))
    );
    assert_eq!(
        daily.next_within(from, None, Some(utc("2026-05-04T11:59:59Z"))),
        None
    );
    assert_eq!(
        daily.next_within(from, Some(utc("2026-01-01T00:00:00Z")), None),
        Some(utc("2026-05-04T12:00:00Z"))
    );
    let every = parse("@every 1h");
    assert_eq!(
        every.next_within(from, Some(utc("2026-05-04T05:30:00Z")), None),
        Some(utc("2026-05-04T06:00:00Z"))
    );
    assert_eq!(
        every.next_within(from, Some(utc("2026-05-04T06:00:00Z")), None),
        Some(utc("2026-05-04T06:00:00Z"))
    );
    assert_eq!(
        every.next_within(from, Some(utc("2026-05-04T00:30:00Z")), None),
        Some(utc("2026-05-04T01:00:00Z"))
    );
    assert_eq!(parse("@manually").next_within(from, None, None), None);
    let at = parse("@at 2026-05-05T00:00:00Z");
    assert_eq!(
        at.next_within(from, Some(utc("2026-05-06T00:00:00Z")), None),
        None
    );
}

// Bad input: each error names its field.

#[test]
fn invalid_cron_names_the_schedule_field() {
    let cases = [
        ("* * * *", "expected 5 or 6 fields, found 4"),
        ("* * * * * * *", "expected 5 or 6 fields, found 7"),
        (
            "*/0 * * * * *",
            "seconds field \"*/0\": step must be a positive number",
        ),
        (
            "60 * * * * *",
            "seconds field \"60\": 60 is out of range 0-59",
        ),
        (
            "0 0 24 * * *",
            "hours field \"24\": 24 is out of range 0-23",
        ),
        (
            "0 0 0 0 * *",
            "day-of-month field \"0\": 0 is out of range 1-31",
        ),
        (
            "0 0 0 * 13 *",
            "month field \"13\": 13 is out of range 1-12",
        ),
        (
            "0 0 0 * * 8",
            "day-of-week field \"8\": 8 is out of range 0-7",
        ),
        (
            "0 0 0 * * FOO",
            "\"FOO\" is not a number or a day-of-week name",
        ),
        ("0 5-3 * * * *", "range 5-3 ends before it starts"),
        ("0 1-2-3 * * *", "too many hyphens"),
        ("0 1/2/3 * * *", "too many slashes"),
        ("0 1,,2 * * *", "empty list item"),
        ("0 *-5 * * *", "* cannot start a range"),
        ("0 99999999999 * * * *", "\"99999999999\" is too large"),
        ("0 */x * * * *", "step \"x\" is not a number"),
        ("0 0 0 30 2 *", "never fires"),
        ("0 0 0 31 4,6,9,11 ?", "never fires"),
    ];
    for (spec, expected) in cases {
        let e = error(spec, None);
        assert_eq!(e.field(), "schedule", "{spec}");
        assert!(e.message().contains(expected), "{spec}: {e}");
        assert!(e.to_string().starts_with("schedule: "), "{spec}: {e}");
    }
    assert_eq!(
        error("*/0 * * * * *", None).to_string(),
        "schedule: \"*/0 * * * * *\": seconds field \"*/0\": step must be a positive number"
    );
    assert_eq!(
        error("* * * *", None).to_string(),
        "schedule: \"* * * *\": expected 5 or 6 fields, found 4"
    );
    assert_eq!(error("", None).field(), "schedule");
    assert_eq!(error("   ", None).field(), "schedule");
    // Both day fields restricted: OR semantics, so 30 February on Fridays is fine.
    assert!(Schedule::parse("0 0 0 30 2 FRI", None, "j").is_ok());
}

#[test]
fn invalid_descriptors_name_the_schedule_field() {
    let cases = [
        ("@every 0s", "must be positive"),
        ("@every 0", "must be positive"),
        ("@every -5m", "it is negative"),
        ("@every", "@every needs a duration"),
        ("@every 5", "@every needs a duration"),
        ("@every 5x", "@every needs a duration"),
        ("@every 1h 30m", "@every needs a duration"),
        ("@every 9999999999h", "longer than 292 years"),
        ("@every 3000000h", "longer than 292 years"),
        ("@at garbage", "@at needs an RFC 3339 time"),
        ("@at 2026-13-01T00:00:00Z", "@at needs an RFC 3339 time"),
        ("@at", "@at needs an RFC 3339 time"),
        ("@daily 5", "@daily takes no argument"),
        ("@manually now", "@manually takes no argument"),
        ("@fortnightly", "unknown descriptor \"@fortnightly\""),
        ("@", "unknown descriptor"),
        (
            "TZ=Mars/Base @daily",
            "unknown time zone \"Mars/Base\" in the TZ= prefix",
        ),
        ("CRON_TZ=Local * * * * *", "\"Local\" is not accepted"),
        ("CRON_TZ=UTC", "nothing follows the CRON_TZ= prefix"),
    ];
    for (spec, expected) in cases {
        let e = error(spec, None);
        assert_eq!(e.field(), "schedule", "{spec}");
        assert!(e.message().contains(expected), "{spec}: {e}");
    }
}

#[test]
fn invalid_timezone_names_the_timezone_field() {
    let e = error("@daily", Some("Mars/Base"));
    assert_eq!(e.field(), "timezone");
    assert_eq!(e.to_string(), "timezone: unknown time zone \"Mars/Base\"");
    let e = error("0 0 0 * * *", Some("Local"));
    assert_eq!(e.field(), "timezone");
    assert!(e.message().contains("\"Local\" is not accepted"), "{e}");
    // Zone names are case-sensitive, as in Go's time.LoadLocation.
    assert_eq!(error("@daily", Some("europe/berlin")).field(), "timezone");
    // The zone in a prefix wins, even over an invalid `timezone`.
    assert!(Schedule::parse("TZ=UTC @daily", Some("Mars/Base"), "j").is_ok());
}

#[test]
fn long_input_is_cut_in_messages() {
    let spec = "x".repeat(10_000);
    let e = error(&spec, None);
    assert!(e.to_string().len() < 200, "{e}");
}

/// A tiny deterministic generator for the fuzz tests (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn fuzzed_input_never_panics() {
    let pieces = [
        "*",
        "?",
        "/",
        "-",
        ",",
        "~",
        " ",
        "0",
        "1",
        "7",
        "59",
        "60",
        "31",
        "99999999999999999999",
        "MON",
        "jan",
        "@",
        "@every",
        "@at",
        "@daily",
        "TZ=",
        "CRON_TZ=",
        "Europe/Berlin",
        "é",
        "🦀",
        "\u{0}",
        "\t",
        ".",
        "h",
        "ms",
        "µs",
        "2026-01-01T00:00:00Z",
        "+",
        "ス",
        "\u{3000}",
    ];
    let zones = [
        None,
        Some(""),
        Some("UTC"),
        Some("Mars/Base"),
        Some("Europe/Berlin"),
        Some("é"),
    ];
    let field_templates = [
        "*", "?", "~", "N", "N", "N", "N-N", "*/N", "N/N", "N,N", "N-N/N", "~/N", "jan-N",
        "MON-FRI", "N-", "/N",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = utc("2026-03-08T06:30:00Z");
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut spec = String::new();
        if round % 2 == 0 {
            // Random tokens glued together.
            for _ in 0..(rng.next() % 14) {
                spec.push_str(rng.pick(&pieces));
            }
        } else {
            // Five to seven fields, each from a template with random numbers.
            for _ in 0..(5 + rng.next() % 3) {
                for (i, piece) in rng.pick(&field_templates).split('N').enumerate() {
                    if i > 0 {
                        let limit = if rng.next().is_multiple_of(8) { 70 } else { 8 };
                        spec.push_str(&(1 + rng.next() % limit).to_string());
                    }
                    spec.push_str(piece);
                }
                spec.push(' ');
            }
        }
        let zone = zones[(rng.next() % zones.len() as u64) as usize];
        let name = rng.pick(&pieces);
        if let Ok(schedule) = Schedule::parse(&spec, zone, name) {
            parsed += 1;
            let next = schedule.next_after(start);
            assert!(next.is_none_or(|next| next > start), "{spec:?}");
        }
    }
    assert!(parsed > 300, "the fuzzer parsed only {parsed} specs");
    // Random bytes as text.
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..(rng.next() % 40)).map(|_| rng.next() as u8).collect();
        let spec = String::from_utf8_lossy(&bytes);
        let _ = Schedule::parse(&spec, None, &spec);
    }
}

#[test]
fn extreme_instants_never_panic() {
    let specs = [
        "* * * * * *",
        "@hourly",
        "0 30 2 * * *",
        "@every 1h",
        "@at 2026-01-01T00:00:00Z",
    ];
    for zone in [
        "UTC",
        "America/New_York",
        "Pacific/Kiritimati",
        "Etc/GMT+12",
    ] {
        for spec in specs {
            let schedule = parse_in(spec, zone);
            for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let _ = schedule.next_after(at);
                let _ = schedule.next_within(at, Some(at), Some(at));
            }
        }
    }
    assert_eq!(
        parse("@every 1s").next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
    assert_eq!(
        parse("* * * * * *").next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
}

#[test]
fn the_shortest_gap_is_the_interval_or_the_closest_two_ticks() {
    let from = utc("2026-03-01T00:00:00Z");
    let gap = |spec: &str| {
        parse(spec)
            .shortest_gap(from)
            .map(|gap| gap.num_milliseconds())
    };
    assert_eq!(gap("@every 1ms"), Some(1));
    assert_eq!(gap("@every 90s"), Some(90_000));
    assert_eq!(gap("* * * * * *"), Some(1_000));
    assert_eq!(gap("*/5 * * * *"), Some(300_000));
    assert_eq!(gap("@hourly"), Some(3_600_000));
    // Two ticks a second apart, once a day: the gap that counts is the short one.
    assert_eq!(gap("0,1 30 4 * * *"), Some(1_000));
    // Seconds 0 and 59 of every minute: 59 → 0 of the next minute is one second.
    assert_eq!(gap("0,59 * * * * *"), Some(1_000));
    assert_eq!(gap("@manually"), None);
    assert_eq!(gap("@at 2030-01-01T00:00:00Z"), None);
}
