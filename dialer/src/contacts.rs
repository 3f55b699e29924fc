//! A campaign's contact list from an uploaded CSV file.
//!
//! The original's upload format: a header line naming a `contact_number` column, one contact per line. Files
//! come from spreadsheets, so they may start with a UTF-8 byte-order mark and use `;` (a European locale's list
//! separator) instead of `,`. Every line is accounted for: a contact to dial ([`ContactList::contacts`], with
//! do-not-call numbers marked), or a rejected row with its line number and reason ([`ContactList::rejected`]),
//! or a blank line ([`ContactList::blank_lines`]). The other columns become the contact's `{{variables}}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::phone::{to_e164, CountryPlan, NumberProblem};
use crate::DialerError;

/// The largest contact list accepted (the original's upload limit).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The column holding the number (the original's name, so its CSV files load unchanged).
pub const PHONE_COLUMN: &str = "contact_number";

/// How to read a contact list.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// The country whose national format numbers without `+`/`00` are read in.
    pub country: CountryPlan,
    /// Numbers never to call, in E.164 (`+918000000001`).
    pub do_not_call: HashSet<String>,
}

/// One contact to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The line of the file the contact is on (the header is line 1); the original's `row_number`.
    pub line: usize,
    /// The number in E.164.
    pub number: String,
    /// The number as written in the file.
    pub raw_number: String,
    /// The number is on the do-not-call list: the campaign records it as skipped and never dials it.
    pub do_not_call: bool,
    /// The other columns, by header name: the `{{variables}}` of the agent's prompt and greeting.
    pub variables: BTreeMap<String, String>,
}

/// Why a row was not loaded as a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    /// The number cannot be dialled.
    Number(NumberProblem),
    /// The same number (after normalisation) is on an earlier line.
    Duplicate {
        /// The line kept.
        first_line: usize,
    },
    /// The row has a different number of fields than the header.
    FieldCount {
        /// The header's column count.
        expected: usize,
        /// The row's field count.
        found: usize,
    },
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowProblem::Number(p) => p.fmt(f),
            RowProblem::Duplicate { first_line } => write!(f, "the same number is on line {first_line}"),
            RowProblem::FieldCount { expected, found } => {
                write!(f, "{found} fields where the header has {expected}")
            }
        }
    }
}

/// A row that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The line (the header is line 1).
    pub line: usize,
    /// The phone cell as written (empty when the row had too few fields to have one).
    pub raw_number: String,
    /// The reason.
    pub problem: RowProblem,
}

/// A loaded contact list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactList {
    /// The header's column names, trimmed, in file order.
    pub columns: Vec<String>,
    /// The field separator found in the header: `,` or `;`.
    pub delimiter: char,
    /// The contacts, in file order (do-not-call ones included and marked).
    pub contacts: Vec<Contact>,
    /// Rows not loaded, in file order.
    pub rejected: Vec<RejectedRow>,
    /// Lines with no content, skipped.
    pub blank_lines: Vec<usize>,
}

impl ContactList {
    /// The contacts to dial (not on the do-not-call list).
    pub fn dialable(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.iter().filter(|c| !c.do_not_call)
    }

    /// How many contacts are on the do-not-call list.
    pub fn do_not_call_count(&self) -> usize {
        self.contacts.iter().filter(|c| c.do_not_call).count()
    }
}

/// Reads a contact list: the whole file at once (it is at most [`MAX_FILE_BYTES`]).
pub fn load(bytes: &[u8], options: &ListOptions) -> Result<ContactList, DialerError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(DialerError::TooLarge { size: bytes.len(), limit: MAX_FILE_BYTES });
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(DialerError::Utf16);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = 1 + bytes[..offset].iter().filter(|b| **b == b'\n').count();
        DialerError::NotUtf8 { line, offset, byte: bytes[offset] }
    })?;
    let delimiter = sniff_delimiter(text);
    let mut records = Records { text: text.as_bytes(), pos: 0, line: 1, delimiter: delimiter as u8 };

    let mut blank_lines = Vec::new();
    let columns = loop {
        match records.next_record()? {
            None => return Err(DialerError::Empty),
            Some((line, fields)) if is_blank(&fields) => blank_lines.push(line),
            Some((_, fields)) => break fields.into_iter().map(|f| f.trim().to_string()).collect::<Vec<_>>(),
        }
    };
    let mut seen_columns = HashSet::new();
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(DialerError::UnnamedColumn { column: i + 1 });
        }
        if !seen_columns.insert(name.to_ascii_lowercase()) {
            return Err(DialerError::DuplicateColumn { name: name.clone() });
        }
    }
    let phone = columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case(PHONE_COLUMN))
        .ok_or_else(|| DialerError::MissingPhoneColumn { wanted: PHONE_COLUMN, found: columns.join(", ") })?;

    let mut contacts = Vec::new();
    let mut rejected = Vec::new();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    while let Some((line, fields)) = records.next_record()? {
        if is_blank(&fields) {
            blank_lines.push(line);
            continue;
        }
        let raw_number = fields.get(phone).map(|f| f.trim().to_string()).unwrap_or_default();
        let mut reject = |problem| rejected.push(RejectedRow { line, raw_number: raw_number.clone(), problem });
        if fields.len() != columns.len() {
            reject(RowProblem::FieldCount { expected: columns.len(), found: fields.len() });
            continue;
        }
        let number = match to_e164(&raw_number, &options.country) {
            Ok(number) => number,
            Err(problem) => {
                reject(RowProblem::Number(problem));
                continue;
            }
        };
        if let Some(first_line) = first_line_of.get(&number) {
            reject(RowProblem::Duplicate { first_line: *first_line });
            continue;
        }
        first_line_of.insert(number.clone(), line);
        let variables = columns
            .iter()
            .zip(fields)
            .enumerate()
            .filter(|(i, _)| *i != phone)
            .map(|(_, (name, value))| (name.clone(), value.trim().to_string()))
            .collect();
        let do_not_call = options.do_not_call.contains(&number);
        contacts.push(Contact { line, number, raw_number, do_not_call, variables });
    }
    Ok(ContactList { columns, delimiter, contacts, rejected, blank_lines })
}

/// `;` when the header line has more semicolons than commas outside quotes, else `,`.
fn sniff_delimiter(text: &str) -> char {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            b'\n' | b'\r' if !quoted => break,
            _ => {}
        }
    }
    if semicolons > commas {
        ';'
    } else {
        ','
    }
}

/// A line with nothing in it (or only separators and spaces).
fn is_blank(fields: &[String]) -> bool {
    fields.iter().all(|f| f.trim().is_empty())
}

/// RFC 4180 records: fields separated by the delimiter, `"quoted"` fields may hold delimiters, line breaks and
/// `""` for a quote. Lines end in LF, CRLF or CR. Works on bytes: the delimiter, quote and line breaks are ASCII,
/// which never occurs inside a UTF-8 multi-byte character, so every field boundary is a character boundary.
struct Records<'a> {
    text: &'a [u8],
    pos: usize,
    /// The physical line `pos` is on.
    line: usize,
    delimiter: u8,
}

impl Records<'_> {
    /// The next record and the line it starts on; `None` at the end of the text.
    fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>, DialerError> {
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        loop {
            // At the start of a field.
            if self.text.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                loop {
                    match self.text.get(self.pos) {
                        None => return Err(DialerError::UnclosedQuote { line: start_line }),
                        Some(b'"') if self.text.get(self.pos + 1) == Some(&b'"') => {
                            field.push(b'"');
                            self.pos += 2;
                        }
                        Some(b'"') => {
                            self.pos += 1;
                            break;
                        }
                        Some(&b) => {
                            if b == b'\n' || (b == b'\r' && self.text.get(self.pos + 1) != Some(&b'\n')) {
                                self.line += 1;
                            }
                            field.push(b);
                            self.pos += 1;
                        }
                    }
                }
            }
            // Unquoted text, or whatever follows a closing quote, up to the field's end.
            loop {
                match self.text.get(self.pos) {
                    None => {
                        fields.push(text_of(field));
                        return Ok(Some((start_line, fields)));
                    }
                    Some(&b) if b == self.delimiter => {
                        self.pos += 1;
                        fields.push(text_of(std::mem::take(&mut field)));
                        break;
                    }
                    Some(b'\r') | Some(b'\n') => {
                        if self.text[self.pos] == b'\r' && self.text.get(self.pos + 1) == Some(&b'\n') {
                            self.pos += 1;
                        }
                        self.pos += 1;
                        self.line += 1;
                        fields.push(text_of(field));
                        return Ok(Some((start_line, fields)));
                    }
                    Some(&b) => {
                        field.push(b);
                        self.pos += 1;
                    }
                }
            }
        }
    }
}

/// A field's bytes as text: the file was checked to be UTF-8 and fields split at ASCII bytes only.
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ListOptions {
        ListOptions { country: CountryPlan::for_country("IN").unwrap(), do_not_call: HashSet::new() }
    }

    fn rejected_lines(list: &ContactList) -> Vec<(usize, RowProblem)> {
        list.rejected.iter().map(|r| (r.line, r.problem.clone())).collect()
    }

    #[test]
    fn the_originals_format_loads_with_variables() {
        let csv = "contact_number,name,city\n+91 80000 00001,Asha,Pune\n08000000002,\"Rao, K\",\"New\nDelhi\"\n8000000003,Ben,\n";
        let list = load(csv.as_bytes(), &options()).unwrap();
        assert_eq!(list.delimiter, ',');
        assert_eq!(list.columns, ["contact_number", "name", "city"]);
        let numbers: Vec<_> = list.contacts.iter().map(|c| (c.line, c.number.as_str())).collect();
        assert_eq!(numbers, [(2, "+918000000001"), (3, "+918000000002"), (5, "+918000000003")]);
        assert_eq!(list.contacts[1].variables["name"], "Rao, K");
        assert_eq!(list.contacts[1].variables["city"], "New\nDelhi");
        assert_eq!(list.contacts[2].variables["city"], "");
        assert!(!list.contacts[0].variables.contains_key("contact_number"));
        assert!(list.rejected.is_empty());
    }

    #[test]
    fn bom_semicolons_and_crlf() {
        let csv =
            "\u{feff}Name;Contact_Number\r\n\"Smith; J\";+44 20 7946 0958\r\nA \"\"quoted\"\" word;8000000001\r\n";
        let list = load(csv.as_bytes(), &options()).unwrap();
        assert_eq!(list.delimiter, ';');
        assert_eq!(list.columns, ["Name", "Contact_Number"]);
        assert_eq!(list.contacts[0].number, "+442079460958");
        assert_eq!(list.contacts[0].variables["Name"], "Smith; J");
        assert_eq!(list.contacts[1].line, 3);
        assert_eq!(list.contacts[1].variables["Name"], "A \"\"quoted\"\" word");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = "contact_number,name\n8000000001,a\n\nnot a number,b\n+91 8000000001,c\n123,d\n8000000005\n8000000006,e,extra\n,f\n8000000009,g";
        let mut opts = options();
        opts.do_not_call.insert("+918000000009".into());
        let list = load(csv.as_bytes(), &opts).unwrap();
        assert_eq!(
            rejected_lines(&list),
            [
                (4, RowProblem::Number(NumberProblem::Unreadable('n'))),
                (5, RowProblem::Duplicate { first_line: 2 }),
                (6, RowProblem::Number(NumberProblem::TooShort(3))),
                (7, RowProblem::FieldCount { expected: 2, found: 1 }),
                (8, RowProblem::FieldCount { expected: 2, found: 3 }),
                (9, RowProblem::Number(NumberProblem::Empty)),
            ]
        );
        assert_eq!(list.blank_lines, [3]);
        let kept: Vec<_> = list.contacts.iter().map(|c| (c.line, c.do_not_call)).collect();
        assert_eq!(kept, [(2, false), (10, true)]);
        assert_eq!(list.dialable().count(), 1);
        assert_eq!(list.do_not_call_count(), 1);
        // Nothing silently dropped: header + contacts + rejected + blank = every line.
        assert_eq!(1 + list.contacts.len() + list.rejected.len() + list.blank_lines.len(), csv.lines().count());
        assert_eq!(list.rejected[0].to_owned().problem.to_string(), "'n' is not part of a phone number");
    }

    #[test]
    fn file_level_errors_are_precise() {
        let o = options();
        assert_eq!(load(b"", &o), Err(DialerError::Empty));
        assert_eq!(load(b"\n\n", &o), Err(DialerError::Empty));
        assert_eq!(
            load(b"phone,name\n8000000001,a\n", &o),
            Err(DialerError::MissingPhoneColumn { wanted: "contact_number", found: "phone, name".into() })
        );
        assert_eq!(load(b"contact_number,,x\n", &o), Err(DialerError::UnnamedColumn { column: 2 }));
        assert_eq!(load(b"contact_number,a,A\n", &o), Err(DialerError::DuplicateColumn { name: "A".into() }));
        assert_eq!(
            load(b"contact_number,name\n8000000001,\"open\n8000000002,b\n", &o),
            Err(DialerError::UnclosedQuote { line: 2 })
        );
        // "José" in Windows-1252: é is 0xE9.
        assert_eq!(
            load(b"contact_number,name\n8000000001,Jos\xe9\n", &o),
            Err(DialerError::NotUtf8 { line: 2, offset: 34, byte: 0xE9 })
        );
        assert_eq!(load(b"\xff\xfec\x00o\x00", &o), Err(DialerError::Utf16));
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(load(&big, &o), Err(DialerError::TooLarge { size: MAX_FILE_BYTES + 1, limit: MAX_FILE_BYTES }));
        assert!(DialerError::NotUtf8 { line: 2, offset: 34, byte: 0xE9 }.to_string().contains("line 2"));
    }

    #[test]
    fn a_hundred_thousand_rows_load_fully() {
        let mut csv = String::from("contact_number,name,plan\n");
        for i in 0..100_000u32 {
            csv.push_str(&format!("+9170{i:08},Customer {i},gold\n"));
        }
        assert!(csv.len() <= MAX_FILE_BYTES, "{}", csv.len());
        let list = load(csv.as_bytes(), &options()).unwrap();
        assert_eq!(list.contacts.len(), 100_000);
        assert!(list.rejected.is_empty());
        let last = &list.contacts[99_999];
        assert_eq!((last.line, last.number.as_str()), (100_001, "+917000099999"));
        assert_eq!(last.variables["name"], "Customer 99999");
    }
}
