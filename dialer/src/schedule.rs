//! When a campaign may call: a start and end, daily windows and days of the week in the campaign's time zone.
//!
//! The time zone is a fixed UTC offset: no time-zone database is in the build (no `chrono-tz` in Cargo.lock),
//! and a campaign that must follow daylight saving time is given the offset for its dates by the API layer.

use crate::{DialerError, UnixMillis};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    /// The day `days` days after 1970-01-01, a Thursday.
    fn from_epoch_day(days: i64) -> Weekday {
        Weekday::ALL[(days + 3).rem_euclid(7) as usize]
    }
}

/// A daily calling window in local time: from `start_minute` (inclusive) to `end_minute` (exclusive), minutes
/// after local midnight. A window never crosses midnight: an evening-to-morning range is two windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyWindow {
    /// Minutes after midnight the window opens (0..1440).
    pub start_minute: u16,
    /// Minutes after midnight the window closes (start_minute+1..=1440).
    pub end_minute: u16,
}

impl DailyWindow {
    /// The window from `start` to `end`, each `(hour, minute)`; `(24, 0)` is the end of the day.
    pub fn new(start: (u16, u16), end: (u16, u16)) -> Result<DailyWindow, DialerError> {
        let window = DailyWindow { start_minute: start.0 * 60 + start.1, end_minute: end.0 * 60 + end.1 };
        if start.1 >= 60
            || end.1 >= 60
            || window.start_minute >= window.end_minute
            || window.end_minute > MINUTES_PER_DAY
        {
            return Err(DialerError::Settings(format!(
                "calling window {:02}:{:02}-{:02}:{:02} must start before it ends, within one day",
                start.0, start.1, end.0, end.1
            )));
        }
        Ok(window)
    }
}

/// When a campaign may place calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// No call before this instant (None: from the start).
    pub start_at: Option<UnixMillis>,
    /// No call from this instant on; contacts still waiting then end as outside-window (None: no end).
    pub end_at: Option<UnixMillis>,
    /// The local time zone, minutes east of UTC (India: 330).
    pub utc_offset_minutes: i32,
    /// The days calls may be placed on (local dates).
    pub days: Vec<Weekday>,
    /// Daily windows (local time); empty: the whole day.
    pub windows: Vec<DailyWindow>,
}

impl Schedule {
    /// Any time, every day.
    pub fn always() -> Schedule {
        Schedule { start_at: None, end_at: None, utc_offset_minutes: 0, days: Weekday::ALL.to_vec(), windows: vec![] }
    }

    /// Settings that can never place a call are refused up front rather than leaving a campaign waiting.
    pub fn validate(&self) -> Result<(), DialerError> {
        if self.days.is_empty() {
            return Err(DialerError::Settings("a schedule needs at least one day of the week".into()));
        }
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return Err(DialerError::Settings(format!(
                "UTC offset {} minutes is beyond ±14 h",
                self.utc_offset_minutes
            )));
        }
        if let (Some(start), Some(end)) = (self.start_at, self.end_at) {
            if start >= end {
                return Err(DialerError::Settings("the campaign ends before it starts".into()));
            }
        }
        Ok(())
    }

    /// Whether a call may start at `now`.
    pub fn is_open(&self, now: UnixMillis) -> bool {
        if self.start_at.is_some_and(|s| now < s) || self.has_ended(now) {
            return false;
        }
        let local = now + i64::from(self.utc_offset_minutes) * MINUTE_MS;
        if !self.days.contains(&Weekday::from_epoch_day(local.div_euclid(DAY_MS))) {
            return false;
        }
        let minute = (local.rem_euclid(DAY_MS) / MINUTE_MS) as u16;
        self.windows.is_empty() || self.windows.iter().any(|w| (w.start_minute..w.end_minute).contains(&minute))
    }

    /// Whether the campaign's end has passed.
    pub fn has_ended(&self, now: UnixMillis) -> bool {
        self.end_at.is_some_and(|e| now >= e)
    }

    /// The first instant at or after `from` a call may start; `None` if none comes before the end.
    pub fn next_open(&self, from: UnixMillis) -> Option<UnixMillis> {
        let from = from.max(self.start_at.unwrap_or(from));
        if self.is_open(from) {
            return Some(from);
        }
        let offset = i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let local_day = (from + offset).div_euclid(DAY_MS);
        // Every window recurs within a week; 8 days covers a window earlier today recurring next week.
        let everything = [DailyWindow { start_minute: 0, end_minute: MINUTES_PER_DAY }];
        let windows = if self.windows.is_empty() { &everything[..] } else { &self.windows[..] };
        let mut starts: Vec<UnixMillis> = (0..=8)
            .flat_map(|d| {
                windows.iter().map(move |w| (local_day + d) * DAY_MS + i64::from(w.start_minute) * MINUTE_MS - offset)
            })
            .filter(|t| *t > from)
            .collect();
        starts.sort_unstable();
        starts.into_iter().find(|t| self.is_open(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T00:00:00Z, a Monday.
    const MONDAY: UnixMillis = 1_796_601_600_000;
    const HOUR: i64 = 60 * MINUTE_MS;

    fn office_hours_india() -> Schedule {
        Schedule {
            start_at: None,
            end_at: None,
            utc_offset_minutes: 330,
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            windows: vec![DailyWindow::new((9, 30), (13, 0)).unwrap(), DailyWindow::new((14, 0), (18, 0)).unwrap()],
        }
    }

    #[test]
    fn the_epoch_reference_is_a_monday() {
        assert_eq!(Weekday::from_epoch_day(MONDAY / DAY_MS), Weekday::Mon);
        assert_eq!(Weekday::from_epoch_day(0), Weekday::Thu);
        assert_eq!(Weekday::from_epoch_day(-1), Weekday::Wed);
    }

    #[test]
    fn windows_are_in_local_time() {
        let s = office_hours_india();
        // 09:30 IST is 04:00 UTC.
        assert!(!s.is_open(MONDAY + 4 * HOUR - 1));
        assert!(s.is_open(MONDAY + 4 * HOUR));
        // 13:00 IST (07:30 UTC) closes; 14:00 IST (08:30 UTC) reopens.
        assert!(s.is_open(MONDAY + 7 * HOUR + 29 * MINUTE_MS));
        assert!(!s.is_open(MONDAY + 7 * HOUR + 30 * MINUTE_MS));
        assert!(s.is_open(MONDAY + 8 * HOUR + 30 * MINUTE_MS));
        // Saturday 10:00 IST.
        assert!(!s.is_open(MONDAY + 5 * DAY_MS + 4 * HOUR + 30 * MINUTE_MS));
    }

    #[test]
    fn next_open_finds_the_next_window() {
        let s = office_hours_india();
        assert_eq!(s.next_open(MONDAY), Some(MONDAY + 4 * HOUR));
        assert_eq!(s.next_open(MONDAY + 5 * HOUR), Some(MONDAY + 5 * HOUR));
        assert_eq!(s.next_open(MONDAY + 7 * HOUR + 45 * MINUTE_MS), Some(MONDAY + 8 * HOUR + 30 * MINUTE_MS));
        // Friday after 18:00 IST: Monday 09:30 IST.
        let friday_evening = MONDAY + 4 * DAY_MS + 13 * HOUR;
        assert_eq!(s.next_open(friday_evening), Some(MONDAY + 7 * DAY_MS + 4 * HOUR));
        let mut ending = office_hours_india();
        ending.end_at = Some(MONDAY + 5 * DAY_MS);
        assert_eq!(ending.next_open(friday_evening), None);
        let mut later = office_hours_india();
        later.start_at = Some(MONDAY + DAY_MS);
        assert_eq!(later.next_open(MONDAY), Some(MONDAY + DAY_MS + 4 * HOUR));
    }

    #[test]
    fn impossible_settings_are_refused() {
        assert!(DailyWindow::new((18, 0), (9, 0)).is_err());
        assert!(DailyWindow::new((9, 60), (10, 0)).is_err());
        assert!(DailyWindow::new((9, 0), (24, 1)).is_err());
        assert!(DailyWindow::new((0, 0), (24, 0)).is_ok());
        let mut s = Schedule::always();
        assert!(s.validate().is_ok());
        s.days.clear();
        assert!(s.validate().is_err());
        let mut s = Schedule::always();
        s.start_at = Some(5);
        s.end_at = Some(5);
        assert!(s.validate().is_err());
    }
}
