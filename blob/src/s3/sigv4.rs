//! AWS Signature Version 4 for S3, as pure functions of the request and the time: the `Authorization` header
//! of a request, and presigned GET URLs. What every S3-compatible server checks (MinIO, SeaweedFS, R2, s3s).

use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::fs::encode_hex;

/// The SHA-256 of an empty payload, for bodiless requests.
pub(crate) const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Who signs, and for which region.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) region: String,
}

/// One request to sign: its method, `Host`, URI-encoded path, and query pairs (not yet encoded).
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(&'a str, &'a str)],
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` of a time (UTC).
pub(crate) fn amz_date(now: SystemTime) -> (String, String) {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!("{date}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60);
    (date, stamp)
}

/// The `(year, month, day)` of a count of days since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Percent-encodes as SigV4 wants: everything but `A-Za-z0-9-_.~` (and `/` when `keep_slash`, for paths).
pub(crate) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The canonical query string: pairs encoded, sorted by name then value, joined with `&`.
pub(crate) fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    encode_hex(&Sha256::digest(bytes))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The signature of `string_to_sign` with the day's derived key.
fn signature(creds: &Credentials, date: &str, string_to_sign: &str) -> String {
    let key = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), date);
    let key = hmac(&key, &creds.region);
    let key = hmac(&key, "s3");
    let key = hmac(&key, "aws4_request");
    encode_hex(&hmac(&key, string_to_sign))
}

fn string_to_sign(stamp: &str, scope: &str, canonical_request: &str) -> String {
    format!("AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The headers that sign `request` with a body hashing to `payload_sha256`: `x-amz-date`,
/// `x-amz-content-sha256` and `Authorization` (the `Host` header must be sent as given).
pub(crate) fn sign(
    creds: &Credentials,
    request: &Request<'_>,
    payload_sha256: &str,
    now: SystemTime,
) -> [(&'static str, String); 3] {
    let (date, stamp) = amz_date(now);
    let scope = format!("{date}/{}/s3/aws4_request", creds.region);
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical = format!(
        "{}\n{}\n{}\nhost:{}\nx-amz-content-sha256:{payload_sha256}\nx-amz-date:{stamp}\n\n{signed_headers}\n{payload_sha256}",
        request.method,
        request.path,
        canonical_query(request.query),
        request.host,
    );
    let signature = signature(creds, &date, &string_to_sign(&stamp, &scope, &canonical));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    );
    [("x-amz-date", stamp), ("x-amz-content-sha256", payload_sha256.to_string()), ("authorization", authorization)]
}

/// The query string of a presigned `request` valid for `expires_secs` from `now` (the payload unsigned).
pub(crate) fn presign_query(creds: &Credentials, request: &Request<'_>, expires_secs: u64, now: SystemTime) -> String {
    let (date, stamp) = amz_date(now);
    let scope = format!("{date}/{}/s3/aws4_request", creds.region);
    let credential = format!("{}/{scope}", creds.access_key);
    let expires = expires_secs.to_string();
    let mut query: Vec<(&str, &str)> = request.query.to_vec();
    query.extend([
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", stamp.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", "host"),
    ]);
    let query = canonical_query(&query);
    let canonical =
        format!("{}\n{}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", request.method, request.path, request.host);
    let signature = signature(creds, &date, &string_to_sign(&stamp, &scope, &canonical));
    format!("{query}&X-Amz-Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn example() -> Credentials {
        Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        }
    }

    /// 2013-05-24T00:00:00Z, the time of AWS's published SigV4 examples for S3.
    fn example_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    #[test]
    fn presigned_url_matches_aws_documented_example() {
        let request = Request { method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: &[] };
        let query = presign_query(&example(), &request, 86_400, example_time());
        assert!(
            query.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            "{query}"
        );
        assert!(query.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"));
    }

    #[test]
    fn header_signature_matches_aws_documented_list_objects_example() {
        // GET /?max-keys=2&prefix=J with an empty payload (AWS's "GET Bucket (List Objects)" example).
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/",
            query: &[("max-keys", "2"), ("prefix", "J")],
        };
        let [(_, stamp), _, (_, authorization)] = sign(&example(), &request, EMPTY_SHA256, example_time());
        assert_eq!(stamp, "20130524T000000Z");
        assert!(
            authorization.ends_with("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            "{authorization}"
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 11_016, 15_849, 20_416, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(15_849), (2013, 5, 24));
        assert_eq!(uri_encode("a b/ü~", false), "a%20b%2F%C3%BC~");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
    }
}
