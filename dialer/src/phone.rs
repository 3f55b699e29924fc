//! E.164 normalisation of the numbers in a contact list.
//!
//! Contact lists arrive as people type numbers: `+91 80000 00001`, `0091-8000000001`, `08000000001`,
//! `8000000001`, `918000000001`. A campaign has a default country ([`CountryPlan`]); numbers without an
//! international prefix are read in its national format. The result is `+` and 8 to 15 digits (E.164 §6.1 caps
//! a number at 15 digits; the original accepted `^\+?\d{8,15}$`).

use std::fmt;

/// The longest E.164 number, in digits (country code included).
const MAX_E164_DIGITS: usize = 15;
/// The shortest number accepted (the original's lower bound; shorter "numbers" are extensions or short codes).
const MIN_E164_DIGITS: usize = 8;

/// How a country writes its numbers nationally: enough to turn a national number into E.164.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryPlan {
    /// ISO 3166-1 alpha-2 code, upper case.
    pub iso: &'static str,
    /// The country calling code, digits only (`91`).
    pub calling_code: &'static str,
    /// The trunk prefix dialled before national numbers (`0` in India and most of Europe, `1` in the NANP).
    pub trunk_prefix: Option<&'static str>,
    /// The national significant number's length in digits (shortest, longest).
    pub national_lengths: (usize, usize),
}

/// The countries a campaign can name as its default. Small on purpose: each entry is checked by a test; add
/// one when an operator needs it.
const PLANS: &[CountryPlan] = &[
    CountryPlan { iso: "IN", calling_code: "91", trunk_prefix: Some("0"), national_lengths: (10, 10) },
    CountryPlan { iso: "US", calling_code: "1", trunk_prefix: Some("1"), national_lengths: (10, 10) },
    CountryPlan { iso: "CA", calling_code: "1", trunk_prefix: Some("1"), national_lengths: (10, 10) },
    CountryPlan { iso: "GB", calling_code: "44", trunk_prefix: Some("0"), national_lengths: (9, 10) },
    CountryPlan { iso: "AU", calling_code: "61", trunk_prefix: Some("0"), national_lengths: (9, 9) },
    CountryPlan { iso: "AE", calling_code: "971", trunk_prefix: Some("0"), national_lengths: (8, 9) },
    CountryPlan { iso: "SG", calling_code: "65", trunk_prefix: None, national_lengths: (8, 8) },
    CountryPlan { iso: "DE", calling_code: "49", trunk_prefix: Some("0"), national_lengths: (6, 13) },
    CountryPlan { iso: "FR", calling_code: "33", trunk_prefix: Some("0"), national_lengths: (9, 9) },
];

impl CountryPlan {
    /// The plan for an ISO 3166-1 alpha-2 code (any case); `None` for a country not in the table.
    pub fn for_country(iso: &str) -> Option<CountryPlan> {
        PLANS.iter().copied().find(|p| p.iso.eq_ignore_ascii_case(iso.trim()))
    }

    /// Every country a campaign can name, for error messages and the API's help.
    pub fn known() -> impl Iterator<Item = &'static str> {
        PLANS.iter().map(|p| p.iso)
    }
}

/// Why a cell is not a dialable number (the row is reported with this reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberProblem {
    /// The cell is empty.
    Empty,
    /// A character that is neither a digit nor a separator (space, `-`, `.`, `(`, `)`), or a `+` inside.
    Unreadable(char),
    /// Fewer digits than any phone number has.
    TooShort(usize),
    /// More digits than E.164 allows.
    TooLong(usize),
    /// A national number whose length does not fit the default country's plan.
    WrongNationalLength {
        /// The default country.
        country: &'static str,
        /// Digits after the trunk prefix.
        digits: usize,
    },
    /// `+0…`: country codes never begin with 0.
    BadCountryCode,
}

impl fmt::Display for NumberProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberProblem::Empty => write!(f, "the number is empty"),
            NumberProblem::Unreadable(c) => write!(f, "{c:?} is not part of a phone number"),
            NumberProblem::TooShort(n) => {
                write!(f, "{n} digits is too short for a phone number (at least {MIN_E164_DIGITS})")
            }
            NumberProblem::TooLong(n) => {
                write!(f, "{n} digits is too long for a phone number (at most {MAX_E164_DIGITS})")
            }
            NumberProblem::WrongNationalLength { country, digits } => {
                write!(f, "{digits} digits is not a national number of {country}")
            }
            NumberProblem::BadCountryCode => write!(f, "a country code never begins with 0"),
        }
    }
}

/// `text` as an E.164 number (`+` and digits), reading numbers without `+` or `00` in `country`'s national
/// format. A national number of `country` written with its calling code but no `+` (`918000000001`) is
/// recognised by its length.
pub fn to_e164(text: &str, country: &CountryPlan) -> Result<String, NumberProblem> {
    let text = text.trim();
    let mut digits = String::with_capacity(text.len());
    let mut international = false;
    for (i, c) in text.char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => international = true,
            ' ' | '\t' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(NumberProblem::Unreadable(c)),
        }
    }
    if digits.is_empty() {
        return Err(if international { NumberProblem::TooShort(0) } else { NumberProblem::Empty });
    }
    if !international {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_string();
            international = true;
        }
    }
    let e164 = if international {
        if digits.starts_with('0') {
            return Err(NumberProblem::BadCountryCode);
        }
        digits
    } else {
        national_to_e164(&digits, country)?
    };
    match e164.len() {
        n if n < MIN_E164_DIGITS => Err(NumberProblem::TooShort(n)),
        n if n > MAX_E164_DIGITS => Err(NumberProblem::TooLong(n)),
        _ => Ok(format!("+{e164}")),
    }
}

/// The E.164 digits (no `+`) of `digits` written nationally in `country`.
fn national_to_e164(digits: &str, country: &CountryPlan) -> Result<String, NumberProblem> {
    let (shortest, longest) = country.national_lengths;
    let fits = |n: usize| (shortest..=longest).contains(&n);
    if fits(digits.len())
        && !country.trunk_prefix.is_some_and(|p| digits.starts_with(p) && !fits(digits.len() - p.len()))
    {
        return Ok(format!("{}{digits}", country.calling_code));
    }
    if let Some(national) = country.trunk_prefix.and_then(|p| digits.strip_prefix(p)) {
        if fits(national.len()) {
            return Ok(format!("{}{national}", country.calling_code));
        }
    }
    if let Some(national) = digits.strip_prefix(country.calling_code) {
        if fits(national.len()) {
            return Ok(digits.to_string());
        }
    }
    if digits.len() > MAX_E164_DIGITS {
        return Err(NumberProblem::TooLong(digits.len()));
    }
    if digits.len() < MIN_E164_DIGITS.min(shortest) {
        return Err(NumberProblem::TooShort(digits.len()));
    }
    Err(NumberProblem::WrongNationalLength { country: country.iso, digits: digits.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn india() -> CountryPlan {
        CountryPlan::for_country("in").unwrap()
    }

    #[test]
    fn indian_numbers_in_every_common_spelling() {
        for text in [
            "+91 80000 00001",
            "+918000000001",
            "0091-8000000001",
            "08000000001",
            "8000000001",
            "918000000001",
            "(800) 000-0001",
            " 80000.00001 ",
        ] {
            assert_eq!(to_e164(text, &india()).as_deref(), Ok("+918000000001"), "{text}");
        }
    }

    #[test]
    fn nanp_trunk_prefix_is_one() {
        let us = CountryPlan::for_country("US").unwrap();
        assert_eq!(to_e164("(415) 555-0100", &us).as_deref(), Ok("+14155550100"));
        assert_eq!(to_e164("1 415 555 0100", &us).as_deref(), Ok("+14155550100"));
        assert_eq!(to_e164("+44 20 7946 0958", &us).as_deref(), Ok("+442079460958"));
    }

    #[test]
    fn uk_national_numbers_drop_the_zero() {
        let gb = CountryPlan::for_country("GB").unwrap();
        assert_eq!(to_e164("020 7946 0958", &gb).as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("07700 900123", &gb).as_deref(), Ok("+447700900123"));
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(to_e164("", &india()), Err(NumberProblem::Empty));
        assert_eq!(to_e164("   ", &india()), Err(NumberProblem::Empty));
        assert_eq!(to_e164("+", &india()), Err(NumberProblem::TooShort(0)));
        assert_eq!(to_e164("800O000001", &india()), Err(NumberProblem::Unreadable('O')));
        assert_eq!(to_e164("91+8000000001", &india()), Err(NumberProblem::Unreadable('+')));
        assert_eq!(to_e164("*99#", &india()), Err(NumberProblem::Unreadable('*')));
        assert_eq!(to_e164("+0123456789", &india()), Err(NumberProblem::BadCountryCode));
        assert_eq!(to_e164("+1234567", &india()), Err(NumberProblem::TooShort(7)));
        assert_eq!(to_e164("+1234567890123456", &india()), Err(NumberProblem::TooLong(16)));
        assert_eq!(to_e164("12345", &india()), Err(NumberProblem::TooShort(5)));
        assert_eq!(
            to_e164("800000001", &india()),
            Err(NumberProblem::WrongNationalLength { country: "IN", digits: 9 })
        );
        assert_eq!(to_e164("12345678901234567", &india()), Err(NumberProblem::TooLong(17)));
    }

    #[test]
    fn every_plan_round_trips_a_national_number() {
        for iso in CountryPlan::known() {
            let plan = CountryPlan::for_country(iso).unwrap();
            let national: String = "2".repeat(plan.national_lengths.1);
            let expected = format!("+{}{national}", plan.calling_code);
            assert_eq!(to_e164(&national, &plan), Ok(expected.clone()), "{iso}");
            if let Some(prefix) = plan.trunk_prefix {
                assert_eq!(to_e164(&format!("{prefix}{national}"), &plan), Ok(expected.clone()), "{iso}");
            }
            assert_eq!(to_e164(&expected, &plan), Ok(expected), "{iso}");
        }
        assert_eq!(CountryPlan::for_country("XX"), None);
    }
}
