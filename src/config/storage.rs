//! `[storage.s3]` and `VOICERA_S3_*`: where recordings, transcripts and knowledge documents go. Unset: the
//! filesystem under the data dir. Each environment variable wins over its key in the file; the keys are
//! never logged (the compiled [`S3Config`]'s Debug masks them).

use anyhow::{bail, Result};
use serde::Deserialize;
use voicera_blob::recording::RecordingFormat;
use voicera_blob::S3Config;

/// `[storage]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    s3: Option<RawS3>,
    /// Days a call's recording, transcript and log are kept before the sweeper deletes them, for orgs that
    /// set none of their own (`VOICERA_RECORDING_RETENTION_DAYS`); unset or 0: kept for ever.
    recording_retention_days: Option<u32>,
    /// MiB of knowledge documents' extracted texts kept in memory between retrievals
    /// (`VOICERA_KNOWLEDGE_CACHE_MIB`); 0: none kept (every retrieval reads the blob store).
    knowledge_cache_mib: Option<u64>,
}

/// The knowledge-text cache's size when none is set: the API's default, 64 MiB.
const DEFAULT_KNOWLEDGE_CACHE_MIB: u64 = (voicera_api::knowledge_texts::DEFAULT_CAPACITY_BYTES >> 20) as u64;
/// The largest accepted: 1 TiB, far above any node's memory, so a value meant in bytes is caught.
const MAX_KNOWLEDGE_CACHE_MIB: u64 = 1 << 20;

/// `[storage.s3]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    /// `http(s)://host[:port]` (`VOICERA_S3_ENDPOINT`).
    endpoint: Option<String>,
    /// Signing region, default `us-east-1` (`VOICERA_S3_REGION`).
    region: Option<String>,
    /// Put before the bucket names (`VOICERA_S3_BUCKET_PREFIX`).
    bucket_prefix: Option<String>,
    /// `VOICERA_S3_ACCESS_KEY`.
    access_key: Option<String>,
    /// `VOICERA_S3_SECRET_KEY`.
    secret_key: Option<String>,
    /// `path` or `virtual-hosted` (`VOICERA_S3_URL_STYLE`); default: virtual-hosted on AWS, else path.
    url_style: Option<String>,
}

impl std::fmt::Debug for RawS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawS3")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket_prefix", &self.bucket_prefix)
            .field("access_key", &self.access_key.as_ref().map(|_| "****"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "****"))
            .field("url_style", &self.url_style)
            .finish()
    }
}

/// The S3 server to use, if any: from `VOICERA_S3_*` over `[storage.s3]`, through `env`.
pub(super) fn compile_s3(raw: RawStorage, env: impl Fn(&str) -> Option<String>) -> Result<Option<S3Config>> {
    let file = raw.s3.unwrap_or_default();
    let pick = |var: &str, key: Option<String>| env(var).filter(|v| !v.trim().is_empty()).or(key);
    let Some(endpoint) = pick("VOICERA_S3_ENDPOINT", file.endpoint).filter(|e| !e.trim().is_empty()) else {
        let stray = ["VOICERA_S3_ACCESS_KEY", "VOICERA_S3_SECRET_KEY", "VOICERA_S3_BUCKET_PREFIX"]
            .into_iter()
            .find(|var| env(var).is_some_and(|v| !v.is_empty()));
        if let Some(var) = stray {
            bail!("{var} is set but VOICERA_S3_ENDPOINT / [storage.s3] endpoint is not: recordings would stay on disk");
        }
        return Ok(None);
    };
    let region = pick("VOICERA_S3_REGION", file.region);
    let prefix = pick("VOICERA_S3_BUCKET_PREFIX", file.bucket_prefix);
    let access_key = pick("VOICERA_S3_ACCESS_KEY", file.access_key).unwrap_or_default();
    let secret_key = pick("VOICERA_S3_SECRET_KEY", file.secret_key).unwrap_or_default();
    let style = pick("VOICERA_S3_URL_STYLE", file.url_style);
    let config =
        S3Config::new(&endpoint, region.as_deref(), prefix.as_deref(), &access_key, &secret_key, style.as_deref())
            .map_err(|e| anyhow::anyhow!("[storage.s3] / VOICERA_S3_*: {e}"))?;
    Ok(Some(config))
}

/// `[storage] recording_retention_days` (`VOICERA_RECORDING_RETENTION_DAYS` wins): `None` (keep for ever) when
/// unset or 0.
pub(super) fn compile_retention(raw: &RawStorage, env: impl Fn(&str) -> Option<String>) -> Result<Option<u32>> {
    let days = match env("VOICERA_RECORDING_RETENTION_DAYS").filter(|v| !v.trim().is_empty()) {
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            anyhow::anyhow!(
                "VOICERA_RECORDING_RETENTION_DAYS {text:?} must be a whole number of days (0: keep for ever)"
            )
        })?,
        None => raw.recording_retention_days.unwrap_or(0),
    };
    Ok((days > 0).then_some(days))
}

/// `[storage] knowledge_cache_mib` (`VOICERA_KNOWLEDGE_CACHE_MIB` wins) in bytes: default 64 MiB, 0 keeps
/// none.
pub(super) fn compile_knowledge_cache(raw: &RawStorage, env: impl Fn(&str) -> Option<String>) -> Result<usize> {
    let mib = match env("VOICERA_KNOWLEDGE_CACHE_MIB").filter(|v| !v.trim().is_empty()) {
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!(
                "VOICERA_KNOWLEDGE_CACHE_MIB ([storage] knowledge_cache_mib): {text:?} is not a whole number of MiB"
            )
        })?,
        None => raw.knowledge_cache_mib.unwrap_or(DEFAULT_KNOWLEDGE_CACHE_MIB),
    };
    if mib > MAX_KNOWLEDGE_CACHE_MIB {
        bail!("[storage] knowledge_cache_mib: {mib} MiB is more than {MAX_KNOWLEDGE_CACHE_MIB} (1 TiB); the value is in MiB");
    }
    usize::try_from(mib << 20)
        .map_err(|_| anyhow::anyhow!("[storage] knowledge_cache_mib: {mib} MiB does not fit in memory"))
}

/// `[server] recording_format` (`VOICERA_RECORDING_FORMAT`): `wav` (default) or `opus`.
pub(super) fn compile_recording_format(
    key: Option<String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<RecordingFormat> {
    match env("VOICERA_RECORDING_FORMAT").filter(|v| !v.is_empty()).or(key) {
        None => Ok(RecordingFormat::Wav),
        Some(name) => name.parse().map_err(|e: String| anyhow::anyhow!("[server] {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    fn raw(toml_text: &str) -> RawStorage {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn unset_means_the_filesystem() {
        assert_eq!(compile_s3(RawStorage::default(), env(&[])).unwrap(), None);
        let err = compile_s3(RawStorage::default(), env(&[("VOICERA_S3_SECRET_KEY", "x")])).unwrap_err();
        assert!(err.to_string().contains("VOICERA_S3_ENDPOINT"), "{err}");
    }

    #[test]
    fn the_file_configures_s3_and_the_environment_wins() {
        let file = raw("[s3]\nendpoint = \"http://minio:9000\"\nbucket_prefix = \"prod-\"\naccess_key = \"file-ak\"\n\
             secret_key = \"file-sk\"\nregion = \"eu-west-1\"\n");
        let config = compile_s3(file, env(&[("VOICERA_S3_SECRET_KEY", "env-secret")])).unwrap().unwrap();
        assert_eq!(config.endpoint, "http://minio:9000");
        assert_eq!(config.bucket_prefix, "prod-");
        assert_eq!(config.region, "eu-west-1");
        assert_eq!((config.access_key.as_str(), config.secret_key.as_str()), ("file-ak", "env-secret"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("env-secret") && !shown.contains("file-ak"), "{shown}");

        let from_env = compile_s3(
            RawStorage::default(),
            env(&[
                ("VOICERA_S3_ENDPOINT", "https://s3.amazonaws.com"),
                ("VOICERA_S3_ACCESS_KEY", "ak"),
                ("VOICERA_S3_SECRET_KEY", "sk"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(from_env.url_style, voicera_blob::UrlStyle::VirtualHosted);
        let raw_debug = format!("{:?}", raw("[s3]\nsecret_key = \"hidden-value\"\n"));
        assert!(!raw_debug.contains("hidden-value"), "{raw_debug}");
    }

    #[test]
    fn missing_keys_and_bad_values_are_errors() {
        let missing = compile_s3(raw("[s3]\nendpoint = \"http://x:9000\"\n"), env(&[])).unwrap_err();
        assert!(missing.to_string().contains("access key"), "{missing}");
        assert!(
            compile_s3(raw("[s3]\nendpoint = \"x:9000\"\naccess_key = \"a\"\nsecret_key = \"b\"\n"), env(&[])).is_err()
        );
        assert!(toml::from_str::<RawStorage>("[s3]\nendpoint_url = \"x\"\n").is_err(), "unknown keys are errors");
    }

    #[test]
    fn retention_days() {
        assert_eq!(compile_retention(&RawStorage::default(), env(&[])).unwrap(), None);
        assert_eq!(compile_retention(&raw("recording_retention_days = 90\n"), env(&[])).unwrap(), Some(90));
        assert_eq!(compile_retention(&raw("recording_retention_days = 0\n"), env(&[])).unwrap(), None);
        let env_wins = env(&[("VOICERA_RECORDING_RETENTION_DAYS", "7")]);
        assert_eq!(compile_retention(&raw("recording_retention_days = 90\n"), env_wins).unwrap(), Some(7));
        let bad = compile_retention(&RawStorage::default(), env(&[("VOICERA_RECORDING_RETENTION_DAYS", "a week")]));
        assert!(bad.unwrap_err().to_string().contains("whole number of days"));
    }

    #[test]
    fn knowledge_cache_size() {
        assert_eq!(compile_knowledge_cache(&RawStorage::default(), env(&[])).unwrap(), 64 << 20);
        assert_eq!(compile_knowledge_cache(&raw("knowledge_cache_mib = 16\n"), env(&[])).unwrap(), 16 << 20);
        assert_eq!(compile_knowledge_cache(&raw("knowledge_cache_mib = 0\n"), env(&[])).unwrap(), 0, "off");
        let env_wins = env(&[("VOICERA_KNOWLEDGE_CACHE_MIB", " 8 ")]);
        assert_eq!(compile_knowledge_cache(&raw("knowledge_cache_mib = 16\n"), env_wins).unwrap(), 8 << 20);
        let bad = compile_knowledge_cache(&RawStorage::default(), env(&[("VOICERA_KNOWLEDGE_CACHE_MIB", "64MB")]));
        assert!(bad.unwrap_err().to_string().contains("VOICERA_KNOWLEDGE_CACHE_MIB"));
        let huge = compile_knowledge_cache(&raw("knowledge_cache_mib = 67108864\n"), env(&[]));
        assert!(huge.unwrap_err().to_string().contains("in MiB"));
    }

    #[test]
    fn recording_formats() {
        assert_eq!(compile_recording_format(None, env(&[])).unwrap(), RecordingFormat::Wav);
        assert_eq!(compile_recording_format(Some("opus".into()), env(&[])).unwrap(), RecordingFormat::Opus);
        let env_wins = env(&[("VOICERA_RECORDING_FORMAT", "wav")]);
        assert_eq!(compile_recording_format(Some("opus".into()), env_wins).unwrap(), RecordingFormat::Wav);
        assert!(compile_recording_format(Some("mp3".into()), env(&[])).is_err());
    }
}
