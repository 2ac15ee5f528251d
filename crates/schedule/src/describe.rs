//! A schedule in words, for people: `at 02:30, on Monday through Friday`, `every 15
//! minutes`, `every 1 hour 30 minutes`. Read from the parsed fields (the bit sets the fire
//! times are computed from), so the words say what the schedule does, not what was typed:
//! `0 */15 9-17 * * MON-FRI` and `0 0,15,30,45 9-17 * * 1-5` read the same. The time zone
//! is not part of the text.

use super::{CronSchedule, Schedule};

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// How many times of day are listed one by one (`at 09:00, 12:00 and 17:00`) before the
/// fields are described one at a time.
const LISTED_TIMES: usize = 4;

impl Schedule {
    /// The schedule in words, in English.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron(cron) => cron.describe(),
            Schedule::Every(interval) => {
                format!("every {}", duration_words(interval.num_milliseconds()))
            }
            Schedule::At(at) => format!("once, at {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            Schedule::Manually => "never by itself: only when run by hand or by a parent".into(),
        }
    }
}

impl CronSchedule {
    fn describe(&self) -> String {
        let mut parts = vec![self.time_of_day()];
        parts.extend(self.days());
        if let Some(months) = months(self.months) {
            parts.push(months);
        }
        parts.join(", ")
    }

    /// When in a day it fires.
    fn time_of_day(&self) -> String {
        let seconds = members(self.seconds, 0, 59);
        let minutes = members(self.minutes, 0, 59);
        let hours = members(u64::from(self.hours), 0, 23);
        let all = |set: &[u32], size: usize| set.len() == size;
        if all(&seconds, 60) {
            return match (all(&minutes, 60), all(&hours, 24)) {
                (true, true) => "every second".into(),
                _ => format!(
                    "every second of {}",
                    self.minutes_and_hours(&minutes, &hours)
                ),
            };
        }
        let times = minutes.len() * hours.len();
        if seconds.len() == 1 && times <= LISTED_TIMES {
            let second = seconds[0];
            let clock = hours
                .iter()
                .flat_map(|hour| {
                    minutes.iter().map(move |minute| match second {
                        0 => format!("{hour:02}:{minute:02}"),
                        _ => format!("{hour:02}:{minute:02}:{second:02}"),
                    })
                })
                .collect::<Vec<_>>();
            return format!("at {}", and_list(&clock));
        }
        let second_words = match seconds.as_slice() {
            [0] => None,
            _ => Some(field(&seconds, 0, 59, "second")),
        };
        if all(&minutes, 60) && all(&hours, 24) {
            return second_words.unwrap_or_else(|| "every minute".into());
        }
        let rest = self.minutes_and_hours(&minutes, &hours);
        match second_words {
            None => rest,
            Some(words) => format!("{words}, {rest}"),
        }
    }

    fn minutes_and_hours(&self, minutes: &[u32], hours: &[u32]) -> String {
        let minute_words = match minutes {
            [0] if hours.len() == 24 => return "every hour, on the hour".into(),
            [0] => None,
            _ => Some(field(minutes, 0, 59, "minute")),
        };
        let hour_words = match hours.len() {
            24 => None,
            _ => Some(field(hours, 0, 23, "hour")),
        };
        match (minute_words, hour_words) {
            (Some(minutes), None) if minutes.starts_with("every") => minutes,
            (Some(minutes), None) => format!("{minutes} past every hour"),
            (None, Some(hours)) => format!("on the hour, {hours}"),
            (Some(minutes), Some(hours)) => format!("{minutes}, {hours}"),
            (None, None) => "every hour, on the hour".into(),
        }
    }

    /// Which days: of the month, of the week, either (both restricted: robfig's rule).
    fn days(&self) -> Option<String> {
        let days = members(u64::from(self.days_of_month), 1, 31);
        let weekdays = members(self.weekday_pattern & 0x7f, 0, 6);
        let by_date = (!self.dom_star && days.len() < 31).then(|| {
            let numbers: Vec<String> = days.iter().map(u32::to_string).collect();
            match field(&days, 1, 31, "day") {
                words if words.starts_with("every") => format!("{words} of the month"),
                _ if numbers.len() == 1 => format!("on day {} of the month", numbers[0]),
                _ => format!("on days {} of the month", and_list(&numbers)),
            }
        });
        let by_weekday = (!self.dow_star && weekdays.len() < 7).then(|| {
            let names: Vec<String> = weekdays
                .iter()
                .map(|day| WEEKDAYS[*day as usize].to_string())
                .collect();
            match range(&weekdays) {
                Some((first, last)) if weekdays.len() > 2 => {
                    format!(
                        "on {} through {}",
                        WEEKDAYS[first as usize], WEEKDAYS[last as usize]
                    )
                }
                _ => format!("on {}", and_list(&names)),
            }
        });
        match (by_date, by_weekday) {
            (Some(date), Some(weekday)) => Some(format!("{date} or {weekday}")),
            (date, weekday) => date.or(weekday),
        }
    }
}

fn months(bits: u16) -> Option<String> {
    let months = members(u64::from(bits), 1, 12);
    if months.len() == 12 {
        return None;
    }
    let name = |month: u32| MONTHS[month as usize - 1];
    Some(match range(&months) {
        Some((first, last)) if months.len() > 2 => {
            format!("from {} through {}", name(first), name(last))
        }
        _ => {
            let names: Vec<String> = months.iter().map(|m| name(*m).to_string()).collect();
            format!("in {}", and_list(&names))
        }
    })
}

/// The values of `bits` between `min` and `max`.
fn members(bits: u64, min: u32, max: u32) -> Vec<u32> {
    (min..=max).filter(|n| bits & (1 << n) != 0).collect()
}

/// The first and last value when `set` is one unbroken run.
fn range(set: &[u32]) -> Option<(u32, u32)> {
    let (first, last) = (*set.first()?, *set.last()?);
    (last - first + 1 == set.len() as u32).then_some((first, last))
}

/// One field's values in words: `every minute`, `every 15 minutes`, `every 10 minutes
/// from minute 5`, `every minute from 9 through 17`, `at minute 30`, `at minutes 0 and
/// 30`.
fn field(set: &[u32], min: u32, max: u32, unit: &str) -> String {
    if set.len() as u32 == max - min + 1 {
        return format!("every {unit}");
    }
    if let [only] = set {
        return format!("at {unit} {only}");
    }
    let step = set[1] - set[0];
    let stepped = set.windows(2).all(|pair| pair[1] - pair[0] == step);
    let first = set[0];
    if stepped && step > 1 && first + step * set.len() as u32 > max {
        return match first == min {
            true => format!("every {step} {unit}s"),
            false => format!("every {step} {unit}s from {unit} {first}"),
        };
    }
    if let Some((first, last)) = range(set) {
        return format!("every {unit} from {first} through {last}");
    }
    let numbers: Vec<String> = set.iter().map(u32::to_string).collect();
    format!("at {unit}s {}", and_list(&numbers))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `1 hour 30 minutes`, `10 seconds`, `500 milliseconds`.
fn duration_words(millis: i64) -> String {
    let units = [
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1_000, "second"),
        (1, "millisecond"),
    ];
    let mut left = millis;
    let mut words = Vec::new();
    for (size, name) in units {
        let count = left / size;
        if count > 0 {
            left -= count * size;
            words.push(match count {
                1 => format!("1 {name}"),
                _ => format!("{count} {name}s"),
            });
        }
    }
    if words.is_empty() {
        return "less than a millisecond".into();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(spec: &str) -> String {
        Schedule::parse(spec, None, "job").unwrap().describe()
    }

    #[test]
    fn common_schedules_read_as_people_say_them() {
        for (spec, expected) in [
            ("* * * * * *", "every second"),
            ("0 * * * * *", "every minute"),
            ("@hourly", "every hour, on the hour"),
            ("@daily", "at 00:00"),
            ("30 2 * * *", "at 02:30"),
            ("0 30 2 * * *", "at 02:30"),
            ("15 30 2 * * *", "at 02:30:15"),
            (
                "0 9,17 * * MON-FRI",
                "at 09:00 and 17:00, on Monday through Friday",
            ),
            ("*/15 * * * *", "every 15 minutes"),
            ("5/10 * * * *", "every 10 minutes from minute 5"),
            (
                "*/15 9-17 * * *",
                "every 15 minutes, every hour from 9 through 17",
            ),
            ("0 0 1 * *", "at 00:00, on day 1 of the month"),
            ("0 0 1,15 * *", "at 00:00, on days 1 and 15 of the month"),
            ("0 0 1 * 1", "at 00:00, on day 1 of the month or on Monday"),
            ("@yearly", "at 00:00, on day 1 of the month, in January"),
            ("0 0 * 3-10 *", "at 00:00, from March through October"),
            ("*/30 * * * * *", "every 30 seconds"),
            ("@every 1h30m", "every 1 hour 30 minutes"),
            ("@every 500ms", "every 500 milliseconds"),
            (
                "@at 2026-03-08T02:30:00Z",
                "once, at 2026-03-08 02:30:00 UTC",
            ),
            ("@weekly", "at 00:00, on Sunday"),
            ("0 0 * * SAT,SUN", "at 00:00, on Sunday and Saturday"),
        ] {
            assert_eq!(words(spec), expected, "{spec}");
        }
        assert!(words("@manually").starts_with("never by itself"));
    }

    #[test]
    fn the_same_set_reads_the_same_however_it_is_written() {
        assert_eq!(
            words("0 */15 9-17 * * MON-FRI"),
            words("0 0,15,30,45 9,10,11,12,13,14,15,16,17 * * 1-5")
        );
    }
}
