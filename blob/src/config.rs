//! How to reach an S3-compatible server. The binary fills it from `VOICERA_S3_*` or `[storage.s3]`; Debug
//! masks both keys, so it can be logged and shown by `voicera config check`.

/// Where buckets are addressed in a request URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// `https://endpoint/bucket/key`: MinIO, SeaweedFS, s3s and most self-hosted servers.
    Path,
    /// `https://bucket.endpoint/key`: AWS's preferred form (needs DNS for each bucket).
    VirtualHosted,
}

/// An S3 server and the credentials to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `http(s)://host[:port]`, no path.
    pub endpoint: String,
    /// The signing region (`us-east-1` for most self-hosted servers).
    pub region: String,
    /// Put before each bucket's name (`prod-` → `prod-recordings`): several deployments share one server.
    pub bucket_prefix: String,
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
    /// Path-style or virtual-hosted buckets.
    pub url_style: UrlStyle,
}

/// Region servers that do not care about regions accept; AWS's default.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Why an S3 configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3ConfigError {
    /// The endpoint is not `http(s)://host[:port]`.
    #[error("S3 endpoint {0:?} must be http(s)://host[:port] with no path")]
    Endpoint(String),
    /// A key is missing.
    #[error("S3 {0} is empty")]
    MissingKey(&'static str),
    /// The prefix makes bucket names S3 refuses.
    #[error("S3 bucket prefix {0:?} must be lowercase letters, digits and '-' (bucket names are 3-63 of those)")]
    Prefix(String),
    /// An unknown URL style.
    #[error("S3 url_style {0:?} must be \"path\" or \"virtual-hosted\"")]
    UrlStyle(String),
}

impl S3Config {
    /// A checked configuration. `url_style` `None` picks virtual-hosted for AWS endpoints (`*.amazonaws.com`)
    /// and path-style for everything else (self-hosted servers rarely have per-bucket DNS).
    pub fn new(
        endpoint: &str,
        region: Option<&str>,
        bucket_prefix: Option<&str>,
        access_key: &str,
        secret_key: &str,
        url_style: Option<&str>,
    ) -> Result<Self, S3ConfigError> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .filter(|host| !host.is_empty() && !host.contains(['/', '?', '#', '@']))
            .ok_or_else(|| S3ConfigError::Endpoint(endpoint.clone()))?;
        if access_key.is_empty() {
            return Err(S3ConfigError::MissingKey("access key (VOICERA_S3_ACCESS_KEY)"));
        }
        if secret_key.is_empty() {
            return Err(S3ConfigError::MissingKey("secret key (VOICERA_S3_SECRET_KEY)"));
        }
        let prefix = bucket_prefix.unwrap_or_default().to_string();
        let prefix_ok = prefix.len() <= 40
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !prefix.starts_with('-');
        if !prefix_ok {
            return Err(S3ConfigError::Prefix(prefix));
        }
        let url_style = match url_style {
            None | Some("") => {
                let hostname = host.rsplit_once(':').map_or(host, |(name, _)| name);
                if hostname.ends_with(".amazonaws.com") {
                    UrlStyle::VirtualHosted
                } else {
                    UrlStyle::Path
                }
            }
            Some("path") => UrlStyle::Path,
            Some("virtual-hosted" | "virtual") => UrlStyle::VirtualHosted,
            Some(other) => return Err(S3ConfigError::UrlStyle(other.to_string())),
        };
        Ok(Self {
            endpoint,
            region: region.filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REGION).to_string(),
            bucket_prefix: prefix,
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            url_style,
        })
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket_prefix", &self.bucket_prefix)
            .field("access_key", &mask(&self.access_key))
            .field("secret_key", &"****")
            .field("url_style", &self.url_style)
            .finish()
    }
}

/// The first four characters of an access key id (enough to tell keys apart), the rest masked.
fn mask(key: &str) -> String {
    let shown: String = key.chars().take(4).collect();
    format!("{shown}****")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_debug() {
        let config =
            S3Config::new("http://127.0.0.1:9000/", None, Some("prod-"), "AKIAEXAMPLE", "s3cr3t-v4lue", None).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("AKIAEXAMPLE"), "{shown}");
        assert_eq!(config.endpoint, "http://127.0.0.1:9000");
        assert_eq!((config.region.as_str(), config.url_style), ("us-east-1", UrlStyle::Path));
    }

    #[test]
    fn styles_regions_and_bad_values() {
        let aws = S3Config::new("https://s3.eu-west-1.amazonaws.com", Some("eu-west-1"), None, "a", "b", None).unwrap();
        assert_eq!(aws.url_style, UrlStyle::VirtualHosted);
        assert_eq!(aws.region, "eu-west-1");
        let forced = S3Config::new("http://minio:9000", None, None, "a", "b", Some("virtual-hosted")).unwrap();
        assert_eq!(forced.url_style, UrlStyle::VirtualHosted);
        assert!(S3Config::new("minio:9000", None, None, "a", "b", None).is_err());
        assert!(S3Config::new("http://minio:9000/path", None, None, "a", "b", None).is_err());
        assert!(S3Config::new("http://minio:9000", None, None, "", "b", None).is_err());
        assert!(S3Config::new("http://minio:9000", None, Some("Prod_"), "a", "b", None).is_err());
        assert!(S3Config::new("http://minio:9000", None, None, "a", "b", Some("dns")).is_err());
    }
}
