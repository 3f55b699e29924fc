//! Object keys and bucket names: what is accepted, so that no key reaches outside its bucket on the
//! filesystem store and every key means the same on both stores.

use crate::BlobError;

/// Longest key accepted (S3's limit is 1024 bytes).
const MAX_KEY_LEN: usize = 1024;

/// Checks an object key: 1–1024 bytes of `/`-separated segments, none empty, `.` or `..`, no backslash or
/// control character, not absolute. The filesystem store relies on it to stay inside its bucket directory.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let bad = key.is_empty()
        || key.len() > MAX_KEY_LEN
        || key.chars().any(|c| c == '\\' || c.is_control())
        || key.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        Err(BlobError::InvalidKey(key.to_string()))
    } else {
        Ok(())
    }
}

/// Checks a bucket name against S3's rules (3–63 of lowercase letters, digits, `-` and `.`, starting and
/// ending with a letter or digit), which also keeps it one safe directory name on the filesystem.
pub(crate) fn validate_bucket(bucket: &str) -> Result<(), BlobError> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidBucket(bucket.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_climb_out_or_are_absolute_are_rejected() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\..\\b", "a/", "nul\0", ".."] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "2026-11-25/rec-1-ab.wav", "org/x y/ünï.txt", "a..b", ".hidden"] {
            assert!(validate_key(good).is_ok(), "{good:?}");
        }
        assert!(validate_key(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn bucket_names_follow_s3() {
        for good in ["recordings", "prod-recordings", "a.b-c"] {
            assert!(validate_bucket(good).is_ok(), "{good:?}");
        }
        for bad in ["ab", "Recordings", "-x-y", "x-y-", "a..b", "../etc", "a/b", ""] {
            assert!(validate_bucket(bad).is_err(), "{bad:?}");
        }
    }
}
